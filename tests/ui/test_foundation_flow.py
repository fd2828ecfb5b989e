"""Set-up wizard -> log-in -> main window -> auto-lock -> unlock, through the real widgets."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlcipher3
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QLabel, QLineEdit, QWizard
from pytestqt.qtbot import QtBot

from intake_app.storage.profile import Profile
from intake_app.ui.autolock import LockCover, UnlockDialog
from intake_app.ui.controller import AppController
from intake_app.ui.login import LoginWindow
from intake_app.ui.mainwindow import MainWindow
from intake_app.ui.ops import wait_for_all
from intake_app.ui.setup_wizard import SetupWizard
from tests.conftest import COUNSELLOR, COUNSELLOR_PASSWORD, ProfileFixture
from tests.helpers.opening import open_record_now

PASSWORD = "Erstes-Admin-Pw-2026"


def test_setup_wizard_creates_profile_and_shows_key_once(qtbot: QtBot, tmp_path: Path) -> None:
    profile = Profile(tmp_path / "p")
    controller = AppController(profile)
    controller.start()
    wizard = controller.window
    assert isinstance(wizard, SetupWizard)
    qtbot.addWidget(wizard)
    wizard.next()
    admin = wizard.admin
    admin.display_name.setText("Petra Özdemir")
    admin.site.setText("Köln-Mülheim")
    qtbot.keyClicks(admin.password, PASSWORD)
    qtbot.keyClicks(admin.repeat, "something-else-1")
    wizard.next()  # mismatch: stays, shows the problem, creates nothing
    assert wizard.currentPage() is admin
    assert "stimmen nicht" in admin.error.text()
    assert not profile.exists()
    admin.repeat.setText(PASSWORD)
    wizard.next()
    assert profile.exists()
    key_text = wizard.recovery.key_label.text()
    assert key_text.count("-") == 10
    finish = wizard.button(QWizard.WizardButton.FinishButton)
    assert not finish.isEnabled()  # must confirm that the key was written down
    wizard.recovery.confirm.setChecked(True)
    assert finish.isEnabled()
    with qtbot.waitSignal(wizard.profile_created) as signal:
        finish.click()
    assert signal.args == ["admin"]
    assert wizard.recovery.key_label.text() == ""
    # the recovery key works and is nowhere in the profile
    assert profile.vault().unlock_with_recovery(key_text)
    for path in profile.root.rglob("*"):
        if path.is_file():
            assert key_text.encode() not in path.read_bytes()
    assert isinstance(controller.window, LoginWindow)
    assert controller.window.username.text() == "admin"
    controller.window.close()


def _sign_in(qtbot, controller: AppController, user: str, password: str) -> MainWindow:  # type: ignore[no-untyped-def]
    login = controller.window
    assert isinstance(login, LoginWindow)
    login.username.setText(user)
    qtbot.keyClicks(login.password, password)
    qtbot.keyClick(login.password, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: isinstance(controller.window, MainWindow), timeout=20_000)
    window = controller.window
    assert isinstance(window, MainWindow)
    return window


def test_login_wrong_then_right_then_autolock_and_unlock(
    qtbot: QtBot, profile: ProfileFixture
) -> None:
    controller = AppController(profile.profile)
    controller.start()
    login = controller.window
    assert isinstance(login, LoginWindow)
    login.username.setText(COUNSELLOR)
    qtbot.keyClicks(login.password, "falsches-passwort")
    qtbot.mouseClick(login.sign_in_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "falsch" in login.error.text(), timeout=20_000)
    assert login.password.text() == ""

    window = _sign_in(qtbot, controller, COUNSELLOR, COUNSELLOR_PASSWORD)
    assert "Beratung" in window.user_label.text()
    assert "nicht registriert" in window.sync_label.text()
    assert window.actions_["new_intake"].isVisible()
    assert not window.actions_["users"].isVisible()  # counsellors do not manage users
    wait_for_all(30_000)  # the day's backup after sign-in is written (and audited) first

    # input in progress: a field with unsaved text somewhere in the window
    scratch = QLineEdit(window)
    scratch.setText("Notiz in Arbeit")
    window.lock.watcher.set_minutes(0.001)  # 60 ms of inactivity
    qtbot.waitUntil(lambda: window.lock.is_locked, timeout=5_000)
    covers = window.findChildren(LockCover)
    assert covers and covers[0].isVisible()
    assert covers[0].geometry() == window.rect()
    dialog = window.lock.dialog
    assert isinstance(dialog, UnlockDialog)
    assert dialog.isModal()
    assert "Gesperrt wegen Inaktivität." in _dialog_text(dialog)
    qtbot.keyClicks(dialog.password, "falsch-falsch-1")
    qtbot.keyClick(dialog.password, Qt.Key.Key_Return)
    assert window.lock.is_locked and "Das Passwort ist falsch." in dialog.error.text()
    assert "Benutzername" not in dialog.error.text()  # no name is asked for here
    window.lock.watcher.set_minutes(10)
    qtbot.keyClicks(dialog.password, COUNSELLOR_PASSWORD)
    qtbot.keyClick(dialog.password, Qt.Key.Key_Return)
    assert not window.lock.is_locked
    qtbot.waitUntil(lambda: not any(c.isVisible() for c in window.findChildren(LockCover)))
    assert scratch.text() == "Notiz in Arbeit"

    with window.ws.db.read() as session:
        from intake_app.storage import audit

        actions = [e.action for e in audit.iter_entries(session)]
    assert actions[-3:] == ["lock", "login_failed", "unlock"]
    controller.shutdown()
    window.close()


def test_a_log_out_that_cannot_be_audited_still_leaves_no_records_on_screen(
    qtbot: QtBot, profile: ProfileFixture
) -> None:
    """Code planted in the profile database while she works refuses every audited step,
    the log-out's entry too. The log-out goes through all the same: the log-in window,
    not the case list, is what the next person at the shared PC sees."""
    controller = AppController(profile.profile)
    controller.start()
    window = _sign_in(qtbot, controller, COUNSELLOR, COUNSELLOR_PASSWORD)
    wait_for_all(30_000)
    key = profile.profile.vault().unlock(COUNSELLOR, COUNSELLOR_PASSWORD)
    conn = sqlcipher3.connect(str(profile.profile.db_path))
    try:
        conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
        conn.execute("CREATE TRIGGER zz_planted AFTER INSERT ON audit_log BEGIN SELECT 1; END")
        conn.commit()
    finally:
        conn.close()
    window.lock.lock()
    dialog = window.lock.dialog
    assert isinstance(dialog, UnlockDialog)
    dialog.logout_button.click()
    qtbot.waitUntil(lambda: isinstance(controller.window, LoginWindow), timeout=10_000)
    assert not window.isVisible()
    login = controller.window
    assert isinstance(login, LoginWindow)
    login.close()


def _dialog_text(dialog: UnlockDialog) -> str:
    return " ".join(label.text() for label in dialog.findChildren(QLabel))


def test_a_lock_she_chose_does_not_say_inactivity(qtbot: QtBot, profile: ProfileFixture) -> None:
    ws = profile.sign_in(COUNSELLOR)
    window = MainWindow(ws, autolock_minutes=10)
    qtbot.addWidget(window)
    window.show()
    (lock,) = [a for a in window.findChildren(QAction) if a.shortcut() == QKeySequence("Ctrl+L")]
    lock.trigger()  # "Sperren" in the menu, Ctrl+L
    qtbot.waitUntil(lambda: window.lock.is_locked)
    dialog = window.lock.dialog
    assert isinstance(dialog, UnlockDialog)
    text = _dialog_text(dialog)
    assert "Gesperrt. Ihre Eingaben sind erhalten." in text
    assert "Inaktivität" not in text
    qtbot.keyClicks(dialog.password, COUNSELLOR_PASSWORD)
    qtbot.keyClick(dialog.password, Qt.Key.Key_Return)
    assert not window.lock.is_locked
    window.close()
    ws.close()


def test_escape_does_not_unlock(qtbot: QtBot, profile: ProfileFixture) -> None:
    ws = profile.sign_in(COUNSELLOR)
    window = MainWindow(ws, autolock_minutes=10)
    qtbot.addWidget(window)
    window.show()
    window.lock.lock()
    dialog = window.lock.dialog
    assert dialog is not None
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert window.lock.is_locked
    with qtbot.waitSignal(window.lock.logout_requested):
        dialog.logout_button.click()
    window.close()
    ws.close()


def test_admin_sees_user_management_not_records(qtbot: QtBot, profile: ProfileFixture) -> None:
    ws = profile.sign_in()
    window = MainWindow(ws, autolock_minutes=10)
    qtbot.addWidget(window)
    assert window.actions_["users"].isVisible()
    assert not window.actions_["new_intake"].isVisible()
    assert not window.empty.new_button.isVisible()
    window.close()
    ws.close()


def test_first_login_forces_password_change(qtbot, profile: ProfileFixture, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from intake_app.ui import login as login_module

    ws = profile.sign_in()
    ws.accounts.add_user(username="neu1", role="counsellor", password="Anfang-Pw-2026")
    ws.close()
    shown: list[bool] = []

    def fake_exec(dialog: login_module.ChangePasswordDialog) -> int:
        shown.append(dialog._forced)
        dialog.new.setText("Meins-Ganz-Neu-1")
        dialog.repeat.setText("Meins-Ganz-Neu-1")
        dialog._on_accept()
        return dialog.result()

    monkeypatch.setattr(login_module.ChangePasswordDialog, "exec", fake_exec)
    controller = AppController(profile.profile)
    controller.start()
    _sign_in(qtbot, controller, "neu1", "Anfang-Pw-2026")
    assert shown == [True]
    controller.shutdown()
    assert controller.window is not None
    controller.window.close()
    profile.sign_in("neu1", "Meins-Ganz-Neu-1").close()


@pytest.mark.parametrize("language", ["de", "en"])
def test_windows_have_accessible_names_on_inputs(
    qtbot: QtBot, profile: ProfileFixture, language: str
) -> None:
    login = LoginWindow(profile.profile)
    qtbot.addWidget(login)
    for field in login.findChildren(QLineEdit):
        assert field.accessibleName(), field.objectName()
    assert QApplication.instance() is not None


def test_log_out_from_the_lock_with_unsaved_answers_keeps_the_session_locked(
    qtbot: QtBot, profile: ProfileFixture
) -> None:
    """The unlock dialog's "switch user" with an interview whose answers cannot be saved
    (here: a supervisor erased the record meanwhile) asks first; "No" keeps the windows
    covered and asks for the password again, "Yes" logs out."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QMessageBox

    from intake_app.storage.lifecycle import ErasureReason
    from intake_app.ui.interview.page import InterviewPage
    from tests.conftest import SUPERVISOR

    def answer_next_box(button: QMessageBox.StandardButton) -> None:
        def click() -> None:
            box = QApplication.activeModalWidget()
            if not isinstance(box, QMessageBox):
                QTimer.singleShot(20, click)
                return
            box.button(button).click()

        QTimer.singleShot(20, click)

    controller = AppController(profile.profile)
    controller.start()
    window = _sign_in(qtbot, controller, COUNSELLOR, COUNSELLOR_PASSWORD)
    record_id = window.ws.new_intake()
    open_record_now(window, record_id)
    page = window.record_page
    assert isinstance(page, InterviewPage)
    supervisor = profile.sign_in(SUPERVISOR)
    try:
        supervisor.lifecycle.erase(record_id, reason=ErasureReason.DUPLICATE)
    finally:
        supervisor.close()
    page.autosaver.dirty = True  # an answer typed after the erasure
    assert page.autosaver.flush() is False

    window.lock.lock()
    dialog = window.lock.dialog
    assert isinstance(dialog, UnlockDialog)
    answer_next_box(QMessageBox.StandardButton.No)
    dialog.logout_button.click()
    assert controller.window is window and not window.ws.is_closed
    assert window.lock.is_locked and isinstance(window.lock.dialog, UnlockDialog)
    assert any(c.isVisible() for c in window.findChildren(LockCover))
    assert window.record_page is page

    answer_next_box(QMessageBox.StandardButton.Yes)
    window.lock.dialog.logout_button.click()
    qtbot.waitUntil(lambda: isinstance(controller.window, LoginWindow), timeout=10_000)
    controller.window.close()
