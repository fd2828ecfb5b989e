"""Every window fits a 1366x768 laptop at 100 % and 150 % font, and keeps its geometry."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QRect, QSettings
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from intake_app.app import Workspace
from intake_app.ui import geometry
from intake_app.ui.about import AboutDialog
from intake_app.ui.autolock import UnlockDialog
from intake_app.ui.erase_dialog import EraseDialog
from intake_app.ui.login import ChangePasswordDialog, LoginWindow, RecoveryDialog
from intake_app.ui.mainwindow import MainWindow
from intake_app.ui.print_preview import PdfPreviewDialog
from intake_app.ui.settings_window import SettingsWindow
from intake_app.ui.setup_wizard import SetupWizard
from intake_app.ui.style import apply_style
from intake_app.ui.sync_window import SyncWindow
from intake_app.ui.users_dialog import AddUserDialog, UsersDialog
from tests.conftest import ADMIN, COUNSELLOR, SUPERVISOR, ProfileFixture

LAPTOP = QRect(0, 0, 1366, 768)
FRAME_W, FRAME_H = geometry.FRAME_ALLOWANCE


@pytest.fixture(params=[1.0, 1.5], ids=["100%", "150%"])
def font_scale(request, qapp: QApplication) -> Iterator[float]:  # type: ignore[no-untyped-def]
    original = QFont(qapp.font())
    bigger = QFont(original)
    bigger.setPointSizeF(original.pointSizeF() * request.param)
    qapp.setFont(bigger)
    apply_style(qapp)  # the style sheet's sizes follow the font
    yield request.param
    qapp.setFont(original)
    apply_style(qapp)


def _windows(profile: ProfileFixture, tmp_path) -> Iterator[tuple[str, Callable[[], QWidget]]]:  # type: ignore[no-untyped-def]
    workspaces: dict[str, Workspace] = {}

    def ws(name: str) -> Workspace:
        if name not in workspaces:
            workspaces[name] = profile.sign_in(name)
        return workspaces[name]

    from intake_app.storage.profile import Profile

    yield "login", lambda: LoginWindow(profile.profile)
    yield "setup", lambda: SetupWizard(Profile(tmp_path / "new"))
    yield "main counsellor", lambda: MainWindow(ws(COUNSELLOR), autolock_minutes=30)
    yield "main supervisor", lambda: MainWindow(ws(SUPERVISOR), autolock_minutes=30)
    yield "main admin", lambda: MainWindow(ws(ADMIN), autolock_minutes=30)
    yield "print preview", lambda: PdfPreviewDialog("Vorschau")
    yield "settings", lambda: SettingsWindow(ws(ADMIN))
    yield "sync", lambda: SyncWindow(ws(ADMIN))
    yield "users", lambda: UsersDialog(ws(ADMIN))
    yield "add user", lambda: AddUserDialog(ws(ADMIN))
    yield "about", lambda: AboutDialog(cipher_version="4", profile_path=str(tmp_path))
    yield "erase", lambda: EraseDialog()
    yield "unlock", lambda: UnlockDialog(ws(COUNSELLOR))
    yield "password", lambda: ChangePasswordDialog(ws(COUNSELLOR), forced=False)
    yield "recovery", lambda: RecoveryDialog(profile.profile)
    # after the intake: contact, update, closing, reopening, withdrawal, hand-over, access
    from tests.ui.test_dialog_rules import new_dialogs
    from tests.unit.followup.test_updates import case_with_plan

    yield from new_dialogs(ws(SUPERVISOR), case_with_plan(ws(SUPERVISOR)))
    for workspace in workspaces.values():
        workspace.close()


def test_every_window_fits_a_laptop_screen(
    qtbot: QtBot, profile: ProfileFixture, tmp_path: Path, font_scale: float
) -> None:
    too_big = []
    sizes = []
    for name, make in _windows(profile, tmp_path):
        window = make()
        qtbot.addWidget(window)
        window.resize(1280, 1000)  # larger than the laptop, as the program used to open
        window.show()
        QApplication.processEvents()
        geometry.fit(window, LAPTOP)
        QApplication.processEvents()
        minimum = window.minimumSizeHint().expandedTo(window.minimumSize())
        if (
            window.width() + FRAME_W > LAPTOP.width()
            or window.height() + FRAME_H > LAPTOP.height()
            or minimum.width() + FRAME_W > LAPTOP.width()
            or minimum.height() + FRAME_H > LAPTOP.height()
        ):
            too_big.append(
                f"{name}: {window.width()}x{window.height()} (min {minimum.width()}x"
                f"{minimum.height()})"
            )
        sizes.append(f"{name}: min {minimum.width()}x{minimum.height()}")
        window.close()
    print("\n".join(sizes))
    assert too_big == []


def test_a_dialog_opens_again_at_the_size_it_was_left(qtbot: QtBot) -> None:
    first = PdfPreviewDialog("Vorschau")
    qtbot.addWidget(first)
    first.show()
    first.resize(700, 500)
    first.move(40, 30)
    first.hide()
    stored = QSettings().value("windows/PdfPreviewDialog")
    assert isinstance(stored, str) and stored  # base64 text, never a pickled object
    second = PdfPreviewDialog("Vorschau")
    qtbot.addWidget(second)
    second.show()
    assert (second.width(), second.height()) == (700, 500)
