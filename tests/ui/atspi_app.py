"""The program's windows for the AT-SPI test: log-in with an error, the case list, an
interview section. ``python -m tests.ui.atspi_app PROFILE_DIR`` prints READY once they are
on screen and keeps running until it is ended."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtTest import QTest

from intake_app.app import Workspace
from intake_app.demo.data import add_synthetic_intakes
from intake_app.storage.profile import Profile
from intake_app.ui.interview.page import InterviewPage
from intake_app.ui.login import LoginWindow
from intake_app.ui.main import create_application
from intake_app.ui.mainwindow import MainWindow


def main() -> int:
    root, username, password, wrong = sys.argv[1:5]
    app = create_application()
    profile = Profile(Path(root))
    login = LoginWindow(profile, username=username)
    login.setWindowTitle("Anmeldung")
    login.show()
    login.password.setText(wrong)
    login.sign_in_button.click()
    for _ in range(400):
        if login.error.text():
            break
        QTest.qWait(50)
    ws = Workspace.sign_in(profile, username=username, password=password)
    add_synthetic_intakes(ws, count=3, seed=2)
    cases = MainWindow(ws, autolock_minutes=60)
    cases.setWindowTitle("Aktenliste")
    cases.show()
    interview = MainWindow(ws, autolock_minutes=60)
    interview.setWindowTitle("Gespräch")
    interview.show()
    interview.actions_["new_intake"].trigger()
    page = interview.record_page
    assert isinstance(page, InterviewPage)
    page.show_section("person")
    QTest.qWait(500)
    print("READY", login.error.text(), flush=True)
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
