"""Checks that only a real X display shows, run in a child process on ``xcb``.

``python -m tests.ui.xcb_checks CHECK PROFILE_DIR`` prints ``OK`` when the check holds,
else what went wrong. On ``xcb`` a text field claims the X11 editing keys (Ctrl+U deletes
the line), which the offscreen platform does not have, so these checks need the display.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QComboBox, QWidget

from intake_app.app import Workspace
from intake_app.storage.profile import Profile
from intake_app.ui.followup_dialogs import CloseCaseDialog
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


def _wheel_with_xdotool(widget: QWidget, button: str, times: int) -> None:
    """Turn the real mouse wheel (X button 4 up, 5 down) over ``widget``."""
    centre = widget.mapToGlobal(widget.rect().center())
    subprocess.run(
        ["xdotool", "mousemove", "--sync", str(centre.x()), str(centre.y())],
        check=True,
        timeout=30,
    )
    QTest.qWait(200)
    for _ in range(times):
        subprocess.run(["xdotool", "click", button], check=True, timeout=30)
        QTest.qWait(120)


def wheel_over_focused_fields(_profile_dir: Path, _username: str, _password: str) -> str:
    """The real mouse wheel over a focused drop-down and number field of a dialog (the
    contact date once moved from 06.12. to 04.12. this way) changes nothing."""
    dialog = CloseCaseDialog()
    dialog.reason.setCurrentIndex(dialog.reason.findData("employment"))
    dialog.show()
    dialog.activateWindow()
    if not QTest.qWaitForWindowActive(dialog, 10_000):
        return "the dialog never became active"
    problems = []
    for field in (dialog.reason, dialog.contract, dialog.hours):
        field.setFocus(Qt.FocusReason.MouseFocusReason)
        QTest.qWait(100)
        if not field.hasFocus():
            problems.append(f"{field.accessibleName()} did not take the focus")
            continue
        before = field.currentIndex() if isinstance(field, QComboBox) else field.value()
        _wheel_with_xdotool(field, "5", 3)
        _wheel_with_xdotool(field, "4", 2)
        after = field.currentIndex() if isinstance(field, QComboBox) else field.value()
        if after != before:
            problems.append(f"{field.accessibleName()}: {before} became {after}")
    dialog.close()
    return "OK" if not problems else "; ".join(problems)


CHECKS = {
    "shortcut_from_search": shortcut_from_search,
    "wheel_over_focused_fields": wheel_over_focused_fields,
}


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
