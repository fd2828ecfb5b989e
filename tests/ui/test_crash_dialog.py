"""Crash handling: plain German per known condition, a log without personal data, the hook."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from intake_app import logs
from intake_app.atomic import disk_full_error
from intake_app.errors import (
    AuthError,
    KnownError,
    PermissionDenied,
    ProfileError,
    ValidationError,
)
from intake_app.storage.database import translate_db_error
from intake_app.ui import errors as errors_module
from intake_app.ui.crash_dialog import CrashDialog, describe_error, technical_details
from intake_app.ui.errors import install_excepthook, message_for, show_error

CANARY = "Kanarien-Haddad-Qxw"


@pytest.fixture
def log_dir(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "logs"
    logs.setup_logging(folder)
    yield folder
    logs.reset_logging()


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> list[CrashDialog]:
    """Every dialog show_error opens; exec returns at once instead of blocking."""
    dialogs: list[CrashDialog] = []

    def fake_exec(self: CrashDialog) -> int:
        dialogs.append(self)
        return 1

    monkeypatch.setattr(CrashDialog, "exec", fake_exec)
    return dialogs


@pytest.fixture
def hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    """install_excepthook changes process-wide hooks: put them back after the test."""
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    monkeypatch.setattr(errors_module, "_restore_handler", None)
    monkeypatch.setattr(errors_module, "_latest_backup_label", None)


def _raise_with_data() -> None:
    int(f"{CANARY} 1987-04-01")


def _bug() -> ValueError:
    try:
        _raise_with_data()
    except ValueError as exc:
        return exc
    raise AssertionError("no error raised")


# -- messages -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "title", "advice"),
    [
        (disk_full_error(), "Datenträger voll", "Speicherplatz"),
        (translate_db_error(Exception("database is locked")), "Datenbank belegt", "noch einmal"),
        (
            translate_db_error(Exception("file is not a database")),
            "Profil beschädigt",
            "letzte Sicherung",
        ),
        (
            translate_db_error(Exception("attempt to write a readonly database")),
            "Keine Schreibrechte",
            "Schreibrechte",
        ),
        (ProfileError("Neuere Version.", kind="newer"), "Neuere Programmversion nötig", "aktuelle"),
        (AuthError("Benutzername oder Passwort ist falsch."), "Anmeldung", "Feststelltaste"),
        (PermissionDenied("Nicht erlaubt."), "Keine Berechtigung", "Leitung"),
    ],
)
def test_known_conditions_have_their_own_plain_message(
    exc: BaseException, title: str, advice: str
) -> None:
    message = describe_error(exc)
    assert message.title == title
    assert str(exc) in message.what
    assert advice in message.todo
    assert message.offer_restore == (getattr(exc, "kind", "") == "corrupt")


def test_a_bug_says_it_is_not_the_users_fault_and_where_the_log_is() -> None:
    message = describe_error(_bug())
    assert message.kind == "bug" and message.title == "Unerwarteter Fehler"
    assert "ValueError" in message.what and "nicht an Ihnen" in message.what
    assert "Protokoll öffnen" in message.todo
    assert CANARY not in message.text
    assert message_for(_bug()) == (message.title, message.text)


def test_technical_details_name_the_place_but_never_the_data() -> None:
    details = technical_details(_bug())
    assert "_raise_with_data" in details and "ValueError" in details
    assert "Intake " in details and "Qt " in details
    assert CANARY not in details and "1987" not in details


def test_scrub_removes_sql_parameters_quotes_mail_and_numbers() -> None:
    text = (
        "(sqlite3.IntegrityError) NOT NULL constraint failed: records.family_name "
        "[SQL: UPDATE records SET family_name=? WHERE id='x'] "
        f"[parameters: ('{CANARY}', 'amal@example.org')] value 'Haddad' 4711"
    )
    cleaned = logs.scrub(text)
    assert "records.family_name" in cleaned and "NOT NULL" in cleaned
    for secret in (CANARY, "amal@example.org", "Haddad", "4711"):
        assert secret not in cleaned


# -- the dialog -----------------------------------------------------------------------------


def test_show_error_logs_the_bug_without_personal_data(
    qtbot: QtBot, log_dir: Path, shown: list[CrashDialog]
) -> None:
    show_error(None, _bug())
    assert len(shown) == 1
    dialog = shown[0]
    qtbot.addWidget(dialog)
    assert dialog.windowTitle() == "Unerwarteter Fehler"
    assert dialog.log_button.isVisibleTo(dialog) and dialog.copy_button.isVisibleTo(dialog)
    assert not dialog.restore_button.isVisibleTo(dialog)
    for handler in logging.getLogger("intake").handlers:
        handler.flush()
    text = (log_dir / "intake.log").read_text("utf-8")
    assert "unexpected error" in text and "_raise_with_data" in text
    assert CANARY not in text and "1987" not in text


def test_copy_details_puts_the_technical_text_on_the_clipboard(
    qtbot: QtBot, shown: list[CrashDialog]
) -> None:
    show_error(None, _bug())
    dialog = shown[0]
    qtbot.addWidget(dialog)
    dialog.copy_button.click()
    copied = QGuiApplication.clipboard().text()
    assert "ValueError" in copied and CANARY not in copied
    assert "kopiert" in dialog.status.text()
    dialog.toggle_button.click()
    assert dialog.details_view.isVisibleTo(dialog)
    assert "verbergen" in dialog.toggle_button.text()


def test_user_errors_show_no_log_buttons(qtbot: QtBot, shown: list[CrashDialog]) -> None:
    show_error(None, ValidationError("Bitte ein Datum eingeben."))
    dialog = shown[0]
    qtbot.addWidget(dialog)
    assert dialog.what.text() == "Bitte ein Datum eingeben."
    assert not dialog.copy_button.isVisibleTo(dialog)
    assert not dialog.log_button.isVisibleTo(dialog)


def test_the_dialog_is_accessible_and_starts_on_close(qtbot: QtBot) -> None:
    dialog = CrashDialog(describe_error(disk_full_error()), details="x")
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.accessibleName() == "Datenträger voll"
    assert "Speicherplatz" in dialog.accessibleDescription()
    assert dialog.focusWidget() is dialog.close_button
    assert dialog.what.accessibleName() == "Was ist passiert?"
    assert dialog.todo.accessibleName() == "Was können Sie tun?"


def test_corrupt_profile_offers_the_last_backup(
    qtbot: QtBot, hooks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[QWidget | None] = []
    install_excepthook(
        restore=calls.append, backup_label=lambda: "15.03.2026, 11:15 Uhr", fault_log=False
    )

    def choose_restore(self: CrashDialog) -> int:
        assert self.restore_button.isVisibleTo(self)
        self.restore_button.click()
        return 1

    monkeypatch.setattr(CrashDialog, "exec", choose_restore)
    parent = QWidget()
    qtbot.addWidget(parent)
    corrupt = translate_db_error(Exception("database disk image is malformed"))
    assert isinstance(corrupt, KnownError)
    show_error(parent, corrupt)
    assert calls == [parent]
    dialog = errors_module.create_dialog(None, corrupt)
    qtbot.addWidget(dialog)
    labels = [w.text() for w in dialog.findChildren(type(dialog.what))]
    assert any("15.03.2026" in text for text in labels)


def test_without_a_restore_handler_the_dialog_only_explains(
    qtbot: QtBot, hooks: None, shown: list[CrashDialog]
) -> None:
    show_error(None, ProfileError("Beschädigt.", kind="corrupt"))
    dialog = shown[0]
    qtbot.addWidget(dialog)
    assert not dialog.restore_button.isVisibleTo(dialog)
    assert "Administration" in dialog.todo.text()


def test_the_hook_shows_one_dialog_even_when_errors_pile_up(
    qtbot: QtBot, hooks: None, log_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_excepthook(fault_log=False)
    opened: list[CrashDialog] = []

    def exec_and_fail_again(self: CrashDialog) -> int:
        opened.append(self)
        qtbot.addWidget(self)
        sys.excepthook(RuntimeError, RuntimeError("again"), None)  # while the dialog is open
        return 1

    monkeypatch.setattr(CrashDialog, "exec", exec_and_fail_again)
    exc = _bug()
    sys.excepthook(type(exc), exc, exc.__traceback__)
    assert len(opened) == 1
    for handler in logging.getLogger("intake").handlers:
        handler.flush()
    text = (log_dir / "intake.log").read_text("utf-8")
    assert text.count("unexpected error") == 2


def test_errors_in_threads_go_to_the_log(hooks: None, log_dir: Path, qapp: QApplication) -> None:
    install_excepthook(fault_log=False)
    worker = threading.Thread(target=_raise_with_data)
    worker.start()
    worker.join()
    for handler in logging.getLogger("intake").handlers:
        handler.flush()
    text = (log_dir / "intake.log").read_text("utf-8")
    assert "unexpected error in a thread" in text and CANARY not in text


# -- the log folder ---------------------------------------------------------------------------


def test_the_log_rotates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "MAX_BYTES", 2_000)
    folder = tmp_path / "rot"
    logs.setup_logging(folder)
    try:
        logger = logging.getLogger("intake.ui")
        for index in range(400):
            logger.info("line %d of a long enough message to fill the file", index)
    finally:
        logs.reset_logging()
    files = sorted(p.name for p in folder.iterdir())
    assert "intake.log.1" in files
    assert len(files) <= logs.BACKUP_COUNT + 1
    assert all(p.stat().st_size <= 2_200 for p in folder.iterdir())


def test_the_default_log_folder_is_the_platform_one(tmp_path: Path) -> None:
    import platformdirs

    folder = logs.resolve_log_dir(None, explicit_profile=False)
    assert folder == Path(platformdirs.user_log_dir("Intake", appauthor=False))


def test_a_hard_crash_leaves_the_python_stack_in_crash_log(tmp_path: Path) -> None:
    code = (
        "import faulthandler, sys\n"
        "from pathlib import Path\n"
        "from intake_app.logs import enable_fault_log\n"
        f"enable_fault_log(Path({str(tmp_path)!r}))\n"
        "def deep_in_qt():\n"
        "    faulthandler._sigsegv()\n"
        "deep_in_qt()\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert result.returncode != 0
    text = (tmp_path / "crash.log").read_text("utf-8")
    assert "Fatal Python error" in text and "deep_in_qt" in text
