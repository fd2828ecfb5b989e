"""The record view with its timeline and the dialogs of a case after the intake, on a real
display, for the AT-SPI walk and for looking at them.

``python -m tests.ui.dialogs_app PROFILE_DIR USER PASSWORD [DIALOG]`` signs in, writes a
case with a plan, opens its record view (maximised) and shows every dialog, or only
DIALOG ("contact", "update", "close case", …, "none"); prints READY once they are on
screen and keeps running until it is ended.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialog

from intake_app.app import Workspace
from intake_app.storage.profile import Profile
from intake_app.ui.main import create_application
from intake_app.ui.mainwindow import MainWindow
from intake_app.ui.record_page import RecordPage
from tests.helpers.opening import open_record_now
from tests.ui.test_dialog_rules import new_dialogs
from tests.unit.followup.test_updates import case_with_plan


def main() -> int:
    root, username, password = sys.argv[1:4]
    only = sys.argv[4] if len(sys.argv) > 4 else ""
    app = create_application()
    ws = Workspace.sign_in(Profile(Path(root)), username=username, password=password)
    record_id = case_with_plan(ws)
    window = MainWindow(ws, autolock_minutes=60)
    window.showMaximized()
    page = open_record_now(window, record_id)
    assert isinstance(page, RecordPage)
    dialogs: list[QDialog] = []
    for name, make in new_dialogs(ws, record_id):
        if only and name != only:
            continue
        dialog = make()
        dialog.setParent(window, dialog.windowFlags())
        dialog.show()
        dialogs.append(dialog)
    QTest.qWait(800)
    if dialogs:
        dialogs[-1].activateWindow()
    QTest.qWait(300)
    print("READY", flush=True)
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
