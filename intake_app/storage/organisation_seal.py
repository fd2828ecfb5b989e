"""The organisation file counts only when an administrator signed it.

docs/security.md, "The organisation file". ``<profile>/organisation.yaml`` decides what a
person can consent to and which data categories each purpose releases (what goes to the
central office, to whom cases are handed over). Anyone who can write the profile folder
can write that file, so the program uses it only with a signature beside it,
``organisation.yaml.sig``, made by a key that counts as a signer of the profile (the root,
or an active administrator's certified key: :func:`integrity.check_state`). The signature
covers the file's exact bytes (SHA-384) and the profile's root id, so a file cannot be
changed, nor carried over from another profile.

A file whose signature does not check is not used: the shipped template applies, and the
sign-in reports it (safe mode, ``integrity_violation``). A file from before the update has
no signature: the first administrator sign-in after the update signs it as it finds it
(``integrity_signed``, subject ``setting``/``organisation.yaml``); that entry closes the
update window for good, with or without a file.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.orm import Session

from intake_app.atomic import atomic_write_bytes
from intake_app.core.audit import AuditAction
from intake_app.core.forms import OrganisationConfig, load_organisation
from intake_app.core.permissions import Actor, Role
from intake_app.errors import PermissionDenied
from intake_app.i18n import _
from intake_app.storage import audit, integrity, user_keys
from intake_app.storage.database import Database
from intake_app.storage.integrity import StateReport
from intake_app.storage.user_keys import SigningKeys

log = logging.getLogger("intake.storage")

FILE_NAME = "organisation.yaml"
SIGNATURE_FILE = FILE_NAME + ".sig"
#: The signature's domain (docs/security.md, "Keys": one kind never stands in for another).
DOMAIN = "intake-organisation/1"
SIGNATURE_FORMAT = "intake-organisation-signature/1"
#: The audit subject of the organisation file (the settings window's entries use it too).
SUBJECT = ("setting", FILE_NAME)
MAX_BYTES = 2 * 1024 * 1024
MAX_SIGNATURE_BYTES = 16 * 1024

#: How a signature came about (signed with it; shown on the settings page).
SAVED = "saved"
UPDATE = "update"


class Status(enum.StrEnum):
    ABSENT = "absent"  # no file: the shipped template
    SIGNED = "signed"  # the file and a signature that checks
    UNSIGNED = "unsigned"  # a file without a signature file
    CHANGED = "changed"  # a signature file that does not check for this file


@dataclass(frozen=True, slots=True)
class Seal:
    """The profile's organisation file as found, and whether its signature counts."""

    status: Status
    data: bytes = b""
    kid: str = ""
    signed_at: str = ""
    how: str = ""

    @property
    def counts(self) -> bool:
        """True when the profile's own file is in force."""
        return self.status is Status.SIGNED

    @property
    def refused(self) -> bool:
        """True when a file is there but not used (the template applies)."""
        return self.status in (Status.UNSIGNED, Status.CHANGED)

    @property
    def digest(self) -> str:
        return hashlib.sha384(self.data).hexdigest() if self.data else ""


class _Bytes:
    """The verified bytes, for the organisation loader (never read from the disk again)."""

    name = FILE_NAME

    def __init__(self, data: bytes, label: str) -> None:
        self._data = data
        self._label = label

    def read_bytes(self) -> bytes:
        return self._data

    def is_file(self) -> bool:
        return True

    def __str__(self) -> str:
        return self._label


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def payload(data: bytes, *, root_kid: str, signed_at: str, how: str) -> bytes:
    """What a signature covers: the file's SHA-384, the profile's root, when and how."""
    return user_keys.canonical(
        {
            "format": SIGNATURE_FORMAT,
            "file": FILE_NAME,
            "profile": root_kid,
            "sha384": hashlib.sha384(data).hexdigest(),
            "signed_at": signed_at,
            "how": how,
        }
    )


def _read_capped(path: Path, limit: int) -> bytes | None:
    """The file's bytes (None when absent); more than ``limit`` bytes read as too many."""
    try:
        with path.open("rb") as handle:
            return handle.read(limit + 1)
    except FileNotFoundError:
        return None


def read(root: Path, report: StateReport) -> Seal:
    """The organisation file of the profile at ``root``, checked against the signers of
    ``report`` (:func:`integrity.check_state`)."""
    data = _read_capped(Path(root) / FILE_NAME, MAX_BYTES)
    if data is None:
        return Seal(Status.ABSENT)
    raw = _read_capped(Path(root) / SIGNATURE_FILE, MAX_SIGNATURE_BYTES)
    if raw is None:
        return Seal(Status.UNSIGNED, data)
    changed = Seal(Status.CHANGED, data)
    if len(data) > MAX_BYTES or len(raw) > MAX_SIGNATURE_BYTES:
        return changed
    try:
        sig = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return changed
    if not isinstance(sig, dict) or sig.get("format") != SIGNATURE_FORMAT:
        return changed
    fields = [sig.get(name) for name in ("kid", "signed_at", "how", "signature")]
    if not all(isinstance(v, str) for v in fields):
        return changed
    kid, signed_at, how, signature = (str(v) for v in fields)
    public = report.signers.get(kid) if report.root_kid else None
    message = payload(data, root_kid=report.root_kid, signed_at=signed_at, how=how)
    if public is None or not user_keys.verify(public, DOMAIN, message, signature):
        return changed
    return Seal(Status.SIGNED, data, kid=kid, signed_at=signed_at, how=how)


def current(root: Path, db: Database, report: StateReport) -> Seal:
    """:func:`read` with the signers of ``report``, or of the signed state as it is now
    when ``report`` was made before the state was signed (the bootstrap sign-in)."""
    if not (Path(root) / FILE_NAME).is_file():
        return Seal(Status.ABSENT)
    if not report.bootstrapped:
        with db.read() as session:
            report = integrity.check_state(session)
    return read(root, report)


def load(seal: Seal, root: Path) -> OrganisationConfig:
    """The configuration in force: the signed file, else the shipped template."""
    if not seal.counts:
        if seal.refused:
            log.error("the organisation file has no valid signature; the template applies")
        return load_organisation(None)
    config = load_organisation(_Bytes(seal.data, str(Path(root) / FILE_NAME)))  # type: ignore[arg-type]
    return dataclasses.replace(config, source=str(Path(root) / FILE_NAME))


# -- signing ----------------------------------------------------------------------------


def _signing_key(keys: SigningKeys, report: StateReport) -> tuple[str, ec.EllipticCurvePrivateKey]:
    """The key to sign with (:func:`integrity.profile_signer`).

    Raises:
        PermissionDenied: neither counts as a signer of this profile.
    """
    signer = integrity.profile_signer(keys, report)
    if signer is None:
        raise PermissionDenied(
            _(
                "Ihr Schlüssel zählt (noch) nicht als Unterschrift der Administration dieses "
                "Profils. Die Organisationsdatei wurde nicht gespeichert."
            )
        )
    return signer


def _write_signature(
    root: Path, data: bytes, *, kid: str, key: ec.EllipticCurvePrivateKey, root_kid: str, how: str
) -> str:
    """Write ``organisation.yaml.sig`` for ``data``; return the time it names."""
    signed_at = _now()
    message = payload(data, root_kid=root_kid, signed_at=signed_at, how=how)
    body = {
        "format": SIGNATURE_FORMAT,
        "kid": kid,
        "signed_at": signed_at,
        "how": how,
        "signature": user_keys.sign(key, DOMAIN, message),
    }
    atomic_write_bytes(
        Path(root) / SIGNATURE_FILE,
        json.dumps(body, indent=2, sort_keys=True).encode("utf-8"),
        mode=0o644,
    )
    return signed_at


def _window_open(session: Session, *, thorough: bool = False) -> bool:
    """True until the update's signing of the organisation file is in the audit log
    (``thorough``: :func:`audit.has_entry`)."""
    return not audit.has_entry(
        session, action=AuditAction.INTEGRITY_SIGNED, subject=SUBJECT, thorough=thorough
    )


def save(db: Database, root: Path, data: bytes, *, keys: SigningKeys | None, actor: str) -> None:
    """Write ``data`` as the profile's organisation file, signed with the administrator's
    key (the caller checks the permission and the content, and audits the change).

    Raises:
        PermissionDenied: she has no key that counts as a signer of this profile.
    """
    if keys is None:
        raise PermissionDenied(
            _(
                "Zum Speichern der Organisationsdatei braucht es Ihren Schlüssel; melden "
                "Sie sich bitte mit Ihrem Passwort an."
            )
        )
    with db.write() as session:
        report = integrity.check_state(session)
        kid, key = _signing_key(keys, report)
        atomic_write_bytes(Path(root) / FILE_NAME, data, mode=0o644)
        _write_signature(root, data, kid=kid, key=key, root_kid=report.root_kid, how=SAVED)
        if _window_open(session):
            _close_window(session, actor, data=data, kid=kid, how=SAVED)


def _close_window(session: Session, actor: str, *, data: bytes | None, kid: str, how: str) -> None:
    audit.append(
        session,
        actor=actor,
        action=AuditAction.INTEGRITY_SIGNED,
        subject_type=SUBJECT[0],
        subject_id=SUBJECT[1],
        details={
            "organisation": hashlib.sha384(data).hexdigest() if data is not None else None,
            "signer": kid,
            "how": how,
        },
    )


# -- at sign-in -------------------------------------------------------------------------


def at_sign_in(
    db: Database,
    root: Path,
    *,
    actor: Actor,
    keys: SigningKeys | None,
    report: StateReport,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Check the organisation file at sign-in; return what to show: findings (safe mode)
    and notices (the update window, which is no finding).

    A file whose signature does not check is reported (``integrity_violation``). In the
    update window the first administrator sign-in signs an unsigned file as it finds it;
    until then everyone else is told that the template applies.
    """
    admin = actor.role is Role.ADMIN and keys is not None and db.audit_signer is not None
    present = (Path(root) / FILE_NAME).is_file()
    if not present and not admin:
        return (), ()
    with db.write() as session:
        if not report.bootstrapped:
            report = integrity.check_state(session)
        seal = read(root, report)
        if seal.counts and not admin:
            return (), ()
        window = _window_open(session)
        if not window and not seal.refused:
            return (), ()
        signer = None
        if admin and not report.findings:
            assert keys is not None
            try:
                signer = _signing_key(keys, report)
            except PermissionDenied:
                signer = None
        if window and seal.status is Status.UNSIGNED:
            window = _window_open(session, thorough=True)
        if window and seal.status is Status.UNSIGNED:
            if signer is None:
                return (), (_update_pending(),)
            kid, key = signer
            _write_signature(
                root, seal.data, kid=kid, key=key, root_kid=report.root_kid, how=UPDATE
            )
            _close_window(session, actor.username, data=seal.data, kid=kid, how=UPDATE)
            log.warning("the organisation file from before the update was signed as found")
            return (), (_signed_as_found(),)
        if window and signer is not None:
            _close_window(
                session,
                actor.username,
                data=seal.data if seal.status is not Status.ABSENT else None,
                kid=signer[0],
                how=UPDATE,
            )
        if not seal.refused:
            return (), ()
        log.error("the organisation file was changed outside the program (%s)", seal.status)
        if db.audit_signer is not None:
            audit.append(
                session,
                actor=actor.username,
                action=AuditAction.INTEGRITY_VIOLATION,
                subject_type="file",
                subject_id=FILE_NAME,
                details={
                    "findings": [
                        {
                            "kind": "organisation_changed",
                            "status": seal.status.value,
                            "sha384": seal.digest,
                        }
                    ]
                },
            )
        return (changed_message(),), ()


def changed_message() -> str:
    return _(
        "Die Organisationsdatei (organisation.yaml) wurde außerhalb des Programms geändert: "
        "Sie trägt keine gültige Unterschrift der Administration. Sie wird nicht verwendet; "
        "es gilt die mitgelieferte Vorlage, und an die Zentrale geht nur, was diese "
        "vorsieht. Eine Administratorin oder ein Administrator prüft die Datei unter "
        "Einstellungen › Träger und Einwilligung und speichert sie, wenn sie stimmt."
    )


def _update_pending() -> str:
    return _(
        "Die Organisationsdatei (organisation.yaml) stammt aus der Zeit vor dem Update und "
        "ist noch nicht unterschrieben. Bis sich eine Administratorin oder ein "
        "Administrator einmal anmeldet, gilt die mitgelieferte Vorlage, und an die Zentrale "
        "geht nur, was diese vorsieht. Bitte sagen Sie der Administration Bescheid: Eine "
        "Anmeldung genügt, sonst ist nichts zu tun."
    )


def _signed_as_found() -> str:
    return _(
        "Die Organisationsdatei (organisation.yaml) stammt aus der Zeit vor dem Update und "
        "trug noch keine Unterschrift. Intake hat sie bei Ihrer Anmeldung so unterschrieben, "
        "wie sie vorlag, und das im Audit-Protokoll vermerkt; sonst ist nichts zu tun. "
        "Wenn niemand von Ihnen sie so gespeichert hat, prüfen Sie sie unter Einstellungen "
        "› Träger und Einwilligung."
    )
