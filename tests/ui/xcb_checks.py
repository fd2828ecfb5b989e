"""Checks that only a real X display shows, run in a child process on ``xcb``.

``python -m tests.ui.xcb_checks CHECK PROFILE_DIR`` prints ``OK`` when the check holds,
else what went wrong. On ``xcb`` a text field claims the X11 editing keys (Ctrl+U deletes
the line), which the offscreen platform does not have, so these checks need the display.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from intake_app.app import Workspace
from intake_app.storage.profile import Profile
from intake_app.ui.main import create_application
from intake_app.ui.mainwindow import MainWindow
from intake_app.ui.overview import OverviewPage


def shortcut_from_search(profile_dir: Path, username: str, password: str) -> str:
    """Ctrl+U (overview) while the search box of the case list has the focus."""
    ws = Workspace.sign_in(Profile(profile_dir), username=username, password=password)
    window = MainWindow(ws, autolock_minutes=30)
    window.show()
    window.activateWindow()
    if not QTest.qWaitForWindowActive(window, 10_000):
        return "the main window never became active"
    assert window.cases is not None
    window.stack.setCurrentWidget(window.cases)
    window.cases.search.setFocus()
    QTest.keyClicks(window.cases.search, "Me")
    QTest.keyClick(window.cases.search, Qt.Key.Key_U, Qt.KeyboardModifier.ControlModifier)
    QTest.qWait(1500)  # the search started by typing finishes meanwhile
    shown = window.stack.currentWidget()
    result = (
        "OK"
        if isinstance(shown, OverviewPage)
        else f"still on {type(shown).__name__} (active: {window.isActiveWindow()}, "
        f"focus: {QApplication.focusWidget()})"
    )
    if result == "OK":
        window.show_list()
        window.cases.search.setText("Meyer")
        window.cases.search.setFocus()
        QTest.keyClick(window.cases.search, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
        if window.cases.search.selectedText() != "Meyer":
            result = "Ctrl+A no longer selects the search text"
    window.shutdown_pages()
    window.close()
    ws.close()
    return result


CHECKS = {"shortcut_from_search": shortcut_from_search}


def main() -> int:
    check, profile_dir, username, password = sys.argv[1:5]
    app = create_application()
    platform = app.platformName()
    if platform != "xcb":
        print(f"platform is {platform}, not xcb")
        return 2
    print(CHECKS[check](Path(profile_dir), username, password))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
