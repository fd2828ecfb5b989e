"""What a screen reader reads from the widgets (through Qt's accessibility interface, the
same that the AT-SPI bridge hands to Orca): changing text read as itself, computed values
named by their caption."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from intake_app.ui.interview.page import InterviewPage
from intake_app.ui.login import LoginWindow
from intake_app.ui.mainwindow import MainWindow
from tests.conftest import COUNSELLOR, ProfileFixture


def _name(widget: QWidget) -> str:
    interface = QAccessible.queryAccessibleInterface(widget)
    assert interface is not None
    return interface.text(QAccessible.Text.Name)


def test_log_in_error_is_read_as_its_text(qtbot: QtBot, profile: ProfileFixture) -> None:
    login = LoginWindow(profile.profile)
    qtbot.addWidget(login)
    login.show()
    login.username.setText(COUNSELLOR)
    qtbot.keyClicks(login.password, "falsches-passwort")
    qtbot.mouseClick(login.sign_in_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(login.error.text()), timeout=20_000)
    assert _name(login.error) == login.error.text()
    assert "Fehlermeldung" not in _name(login.error)


def test_save_state_and_computed_values_are_read(qtbot: QtBot, profile: ProfileFixture) -> None:
    ws = profile.sign_in(COUNSELLOR)
    try:
        window = MainWindow(ws, autolock_minutes=30)
        qtbot.addWidget(window)
        window.show()
        window.actions_["new_intake"].trigger()
        page = window.record_page
        assert isinstance(page, InterviewPage)
        page.autosaver.flush()
        qtbot.waitUntil(lambda: page.save_label.text().startswith("Gespeichert"))
        assert _name(page.save_label) == page.save_label.text()  # "Gespeichert 07:57:12"
        assert _name(window.sync_label) == window.sync_label.text()
        page.show_section("person")
        age = page.views["person"].rows[("age_years", ())]
        assert age.input is None  # a computed value
        assert _name(age.computed).startswith("Alter")
        assert _name(age.computed) != "–"
        window.shutdown_pages()
    finally:
        ws.close()
