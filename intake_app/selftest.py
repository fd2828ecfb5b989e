"""``intake-app --self-test``: prove that an installed or packaged program works end to end.

In a temporary folder: create a profile (the real SQLCipher database and migrations, with
light Argon2id parameters so the test is quick), sign in, add a counsellor, fill and
finalise a complete synthetic record, render its summary and consent sheet as PDF, seal a
batch for a throw-away office key and open it again, write and check a backup, and show the
main window offscreen. One German line per step; exit status 0, or 1 with the failing step
named. Nothing outside the temporary folder is touched, and the folder is deleted at the end.
"""

from __future__ import annotations

import io
import logging
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from intake_app.app import Workspace
from intake_app.demo.data import generate
from intake_app.device_sync.outbox import record_entry
from intake_app.i18n import _
from intake_app.logs import safe_traceback, scrub
from intake_app.reports.service import ReportService
from intake_app.storage import migrate
from intake_app.storage.backup import create_backup, verify_files
from intake_app.storage.models import OutboxItem
from intake_app.storage.profile import Profile
from intake_app.storage.vault import KdfParams
from intake_app.sync import keys
from intake_app.sync.batch import build_batch, open_batch, parse_batch, verify_signature
from intake_app.sync.identity import DeviceIdentity
from intake_app.sync.keys import EncryptionPrivateKey

log = logging.getLogger("intake.core")

ADMIN = "selbsttest-admin"
COUNSELLOR = "selbsttest-beratung"
PASSWORD = "Selbsttest-Passwort-2026"
#: The counsellor's own password: her record store is created only once she has chosen one
#: (docs/security.md), as at a real first sign-in.
OWN_PASSWORD = "Eigenes-Selbsttest-Kennwort-7"


class SelfTestFailure(Exception):
    """A check inside a step did not hold (the message says which)."""


@dataclass
class _State:
    """What the steps hand on to each other."""

    root: Path
    profile: Any = None
    workspaces: list[Any] = field(default_factory=list)
    admin: Any = None
    counsellor: Any = None
    record_id: str = ""


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise SelfTestFailure(message)


# -- the steps ---------------------------------------------------------------------------------


def _create_profile(state: _State) -> str:
    profile = Profile(state.root / "profile", kdf_params=KdfParams(1, 1, 8 * 1024))
    profile.create(admin_name=ADMIN, admin_password=PASSWORD, site_name="Selbsttest")
    header = profile.db_path.read_bytes()[:16]
    _check(header != b"SQLite format 3\x00", "the database file is not encrypted")
    state.profile = profile
    return _("Profil in {path}").format(path=profile.root)


def _sign_in(state: _State) -> str:
    ws = Workspace.sign_in(state.profile, username=ADMIN, password=PASSWORD)
    state.workspaces.append(ws)
    state.admin = ws
    revision = migrate.current_revision(ws.db)
    _check(revision == migrate.head_revision(), f"schema {revision} is not the newest")
    cipher = ws.db.cipher_version()
    _check(bool(cipher), "SQLCipher is not in use")
    return _("SQLCipher {cipher}, Schema {revision}").format(cipher=cipher, revision=revision)


def _add_counsellor(state: _State) -> str:
    state.admin.accounts.add_user(
        username=COUNSELLOR, role="counsellor", password=PASSWORD, display_name="Selbsttest"
    )
    first = Workspace.sign_in(state.profile, username=COUNSELLOR, password=PASSWORD)
    state.workspaces.append(first)
    _check(first.sign_in_result.must_change_password, "a new user must change the password")
    first.accounts.change_own_password(old_password=PASSWORD, new_password=OWN_PASSWORD)
    first.close()
    state.workspaces.remove(first)
    ws = Workspace.sign_in(state.profile, username=COUNSELLOR, password=OWN_PASSWORD)
    state.workspaces.append(ws)
    state.counsellor = ws
    _check(not ws.sign_in_result.must_change_password, "the own password is accepted")
    return _("Benutzer „{name}“").format(name=COUNSELLOR)


def _fill_record(state: _State) -> str:
    ws: Workspace = state.counsellor
    form = ws.current_form()
    for seed in range(20):
        row = ws.records.create(form_id=form.id, form_version=form.version)
        answers, complete = generate(
            form,
            organisation=ws.organisation,
            rng=random.Random(2026 + seed),  # noqa: S311 - synthetic data
            today=date.today(),
            complete=True,
            case_number=row.case_number,
            counsellor="Selbsttest",
        )
        ws.records.save(row.id, answers=answers)
        if complete:
            record = ws.records.finalise(row.id, answers=answers)
            state.record_id = record.id
            _check(record.status == "complete", "the record was not finalised")
            return _("Akte {case} mit {n} Antworten abgeschlossen").format(
                case=record.case_number, n=len(answers)
            )
    raise SelfTestFailure("no complete synthetic record could be generated")


def _render_pdf(state: _State) -> str:
    # Deferred: pypdf reads the printout back; the other steps do not need it.
    from pypdf import PdfReader

    service = ReportService(state.counsellor)
    summary = service.summary(state.record_id)
    _check(summary.data.startswith(b"%PDF-"), "the summary is not a PDF")
    sheet = service.consent_sheet(state.record_id)
    _check(sheet.data.startswith(b"%PDF-"), "the consent sheet is not a PDF")
    pages = len(PdfReader(io.BytesIO(summary.data)).pages)
    _check(pages >= 1, "the summary has no pages")
    return _("Zusammenfassung {pages} Seiten, Einwilligungsbogen {size} kB").format(
        pages=pages, size=len(sheet.data) // 1024
    )


def _seal_batch(state: _State) -> str:
    ws: Workspace = state.counsellor
    record = ws.records.get(state.record_id)
    with ws.db.read() as session:
        item = session.scalars(
            select(OutboxItem).where(OutboxItem.record_id == state.record_id)
        ).first()
        if item is None:
            raise SelfTestFailure("the finalised record is not in the outbox")
        entry = record_entry(session, item, forms=ws.forms, organisation=ws.organisation)
    _check(entry is not None, "the outbox entry could not be packed")
    payload: dict[str, Any] = {"records": [entry], "instructions": []}
    office = EncryptionPrivateKey.generate()
    device_key = keys.generate_signing_key()
    identity = DeviceIdentity(
        device_id="00000000-0000-4000-8000-000000000001",
        device_name="selbsttest",
        private_key_pem=keys.private_key_to_pem(device_key),
        office_encryption_keys={office.key_id: office.public_key()},
        office_signing_keys={},
        server_url="http://127.0.0.1:9",
        current_office_key_id=office.key_id,
    )
    built = build_batch(payload, identity=identity)
    family = str(record.answers.get("family_name") or "")
    _check(not family or family.encode("utf-8") not in built.data, "a name is readable")
    sealed = parse_batch(built.data)
    verify_signature(sealed, device_key.public_key())
    opened = open_batch(sealed, {office.key_id: office})
    _check(opened == payload, "the opened batch differs from what was sealed")
    return _("Stapel {size} Bytes, HPKE ML-KEM-1024+P-384, ECDSA P-384").format(
        size=len(built.data)
    )


def _backup(state: _State) -> str:
    info = create_backup(state.admin)
    verify_files(info)
    return _("Sicherung {name}, {kb} kB").format(name=info.name, kb=info.size // 1024)


def _main_window(state: _State) -> str:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    # Deferred: Qt loads only here, after QT_QPA_PLATFORM is set for a run without a screen.
    from intake_app.ui.main import create_application
    from intake_app.ui.mainwindow import MainWindow
    from intake_app.ui.qt_i18n import install_qt_translator

    app = create_application()
    _check(install_qt_translator(app, "de"), "Qt's German translation (qtbase_de) is missing")
    window = MainWindow(state.counsellor, autolock_minutes=10)
    try:
        window.resize(1366, 768)
        window.show()
        for _round in range(5):
            app.processEvents()
        image = window.grab()
        _check(not image.isNull() and image.width() > 0, "the window could not be drawn")
        platform = app.platformName()
    finally:
        window.lock.stop()
        window.shutdown_pages()
        window.hide()
        window.deleteLater()
        app.processEvents()
    return _("Plattform {platform}, {w}×{h}").format(
        platform=platform, w=image.width(), h=image.height()
    )


STEPS: tuple[tuple[str, Callable[[_State], str]], ...] = (
    ("Temporäres Profil anlegen", _create_profile),
    ("Anmelden, Datenbank öffnen und Migrationen prüfen", _sign_in),
    ("Beratung anlegen und anmelden", _add_counsellor),
    ("Akte vollständig ausfüllen und abschließen", _fill_record),
    ("PDF erzeugen (Zusammenfassung und Einwilligung)", _render_pdf),
    ("Übermittlungsstapel versiegeln und wieder öffnen", _seal_batch),
    ("Verschlüsselte Sicherung anlegen und prüfen", _backup),
    ("Hauptfenster ohne Bildschirm anzeigen", _main_window),
)


def run_self_test(ctx: Any) -> int:
    """Run every step; print one line each; return 0 when all passed, else 1."""
    out: Callable[[str], None] = getattr(ctx, "out", print)
    total = len(STEPS) + 1
    root = Path(tempfile.mkdtemp(prefix="intake-selftest-"))
    state = _State(root=root)
    started = time.monotonic()
    failed: str | None = None
    out(_("Intake-Selbsttest in {path}").format(path=root))
    try:
        for number, (title, step) in enumerate(STEPS, start=1):
            prefix = f"[{number}/{total}] {_(title)}: "
            begin = time.monotonic()
            try:
                detail = step(state)
            except Exception as exc:  # every failure is reported with its step
                failed = _(title)
                reason = scrub(f"{type(exc).__name__}: {exc}")
                out(prefix + _("FEHLER – {reason}").format(reason=reason))
                log.error("self-test step %d failed\n%s", number, safe_traceback(exc))
                break
            out(
                prefix
                + _("in Ordnung ({detail}; {s} s)").format(
                    detail=detail, s=_seconds(time.monotonic() - begin)
                )
            )
    finally:
        cleaned = _clean_up(state)
    if failed is None:
        result = _("in Ordnung") if cleaned else _("FEHLER – der Ordner blieb zurück")
        out(f"[{total}/{total}] " + _("Aufräumen") + f": {result}")
    if failed is None and cleaned:
        out(_("Selbsttest bestanden ({s} s).").format(s=_seconds(time.monotonic() - started)))
        return 0
    out(_("Selbsttest fehlgeschlagen bei: {step}").format(step=failed or _("Aufräumen")))
    return 1


def _seconds(value: float) -> str:
    return f"{value:.1f}".replace(".", ",")


def _clean_up(state: _State) -> bool:
    """Close every workspace and delete the temporary folder; True when it is gone."""
    for ws in reversed(state.workspaces):
        try:
            ws.close()
        except Exception:  # closing is best effort; the folder goes anyway
            log.warning("self-test: closing a workspace failed")
    shutil.rmtree(state.root, ignore_errors=True)
    return not state.root.exists()
