"""A real Intake process that types into an interview until it is killed.

    python -m tests.helpers.typist PROFILE USER PASSWORD RECORD_ID TEXT [INTERVAL_MS]

It opens the record in the interview (offscreen), focuses the family-name field and types
TEXT one key event at a time. After each key it prints ``typed <n> <monotonic seconds>``
so the parent knows what had been typed when it sent SIGKILL.
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main() -> int:
    profile_dir, user, password, record_id, text = sys.argv[1:6]
    interval = int(sys.argv[6]) if len(sys.argv) > 6 else 40
    from pathlib import Path

    from PySide6.QtCore import QTimer
    from PySide6.QtTest import QTest

    from intake_app.app import Workspace
    from intake_app.storage.profile import Profile
    from intake_app.ui.interview.inputs import TextInput
    from intake_app.ui.interview.page import InterviewPage
    from intake_app.ui.main import create_application
    from intake_app.ui.mainwindow import MainWindow
    from tests.helpers.opening import open_record_now

    app = create_application()
    ws = Workspace.sign_in(Profile(Path(profile_dir)), username=user, password=password)
    window = MainWindow(ws, autolock_minutes=60)
    window.show()
    open_record_now(window, record_id)
    page = window.record_page
    assert isinstance(page, InterviewPage)
    page.show_section("person")
    answer_input = page.views["person"].rows[("family_name", ())].input
    assert isinstance(answer_input, TextInput)
    edit = answer_input.edit
    edit.setFocus()
    position = {"n": 0}

    def type_one() -> None:
        n = position["n"]
        if n >= len(text):
            print("done", flush=True)
            return
        QTest.keyClicks(edit, text[n])  # one character
        position["n"] = n + 1
        print(f"typed {n + 1} {time.monotonic():.4f}", flush=True)

    timer = QTimer()
    timer.setInterval(interval)
    timer.timeout.connect(type_one)
    timer.start()
    print("ready", flush=True)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
