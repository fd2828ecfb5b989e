"""Publishing form versions: signed files under ``HOME/forms/<form id>/<version>.json``.

``intake-central forms publish FILE --form-id ID --form-version V`` signs the file with the
current office signing key; the receiver serves the signed files and a signed index
(``GET /v1/forms``), and devices verify both before using a form. A published version is
never replaced: a changed form gets a new version.
"""

from __future__ import annotations

import logging
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from intake_app.errors import ConflictError, UsageError
from intake_app.i18n import _
from intake_app.sync.errors import SignatureError
from intake_app.sync.keys import signing_key_id
from intake_app.sync.published_forms import (
    FormIndexEntry,
    PublishedForm,
    build_published_form,
    is_safe_name,
    verify_published_form,
)

from .home import Home
from .store import write_new_file

log = logging.getLogger("intake.central")


def form_path(home: Home, form_id: str, version: str) -> Path:
    """Where a published version lives (names are checked by the caller)."""
    return home.forms_dir / form_id / f"{version}.json"


def publish_form(
    home: Home,
    *,
    source: Path,
    form_id: str,
    version: str,
    signing_key: ec.EllipticCurvePrivateKey,
) -> PublishedForm:
    """Sign ``source`` as version ``version`` of ``form_id`` and store it.

    Raises:
        UsageError: unreadable file or names with characters other than letters, digits,
            ``. _ -``.
        ConflictError: that version was already published (with other content).
    """
    if not (is_safe_name(form_id) and is_safe_name(version)):
        raise UsageError(
            _("Formular-Kennung und Version dürfen nur Buchstaben, Ziffern, . _ - enthalten.")
        )
    try:
        content = Path(source).read_bytes()
    except OSError:
        raise UsageError(_("Die Datei {path} ist nicht lesbar.").format(path=source)) from None
    filename = Path(source).name
    if not is_safe_name(filename):
        filename = f"{form_id}-{version}.form"
    try:
        data = build_published_form(
            form_id=form_id,
            version=version,
            filename=filename,
            content=content,
            signing_key=signing_key,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    target = form_path(home, form_id, version)
    if target.exists():
        raise ConflictError(
            _("Version {version} von {form} ist schon veröffentlicht.").format(
                version=version, form=form_id
            )
        )
    write_new_file(target, data)
    log.info("form published: %s %s", form_id, version)
    public = signing_key.public_key()
    return verify_published_form(data, trusted={signing_key_id(public): public})


def published_forms(
    home: Home, *, trusted: dict[str, ec.EllipticCurvePublicKey]
) -> list[PublishedForm]:
    """Every published version whose signature still verifies, by id and version."""
    found: list[PublishedForm] = []
    if not home.forms_dir.is_dir():
        return found
    for path in sorted(home.forms_dir.glob("*/*.json")):
        try:
            found.append(verify_published_form(path.read_bytes(), trusted=trusted))
        except (OSError, SignatureError):
            log.error("a published form file does not verify: %s", path.name)
    return found


def index_entries(
    home: Home, *, trusted: dict[str, ec.EllipticCurvePublicKey]
) -> list[FormIndexEntry]:
    """The entries of the signed index the receiver serves."""
    return [
        FormIndexEntry(
            form_id=form.form_id,
            version=form.version,
            sha384=form.sha384,
            published_at=form.published_at,
        )
        for form in published_forms(home, trusted=trusted)
    ]
