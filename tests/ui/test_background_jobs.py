"""Blocking work goes through the one background helper (ui/ops.py): one job at a time,
off the GUI thread, with progress; log-out waits for running jobs or cancels them and
says so. Driven through the real widgets."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialog, QFileDialog, QMessageBox, QPushButton
from pytestqt.qtbot import QtBot

from intake_app.app import Workspace
from intake_app.demo.data import add_synthetic_intakes
from intake_app.storage.lifecycle import Lifecycle
from intake_app.storage.records import RecordQuery
from intake_app.ui import ops
from intake_app.ui.controller import AppController
from intake_app.ui.erase_dialog import EraseDialog
from intake_app.ui.login import LoginWindow
from intake_app.ui.mainwindow import MainWindow
from intake_app.ui.ops import CancelToken, WaitDialog, run_op
from intake_app.ui.record_page import RecordPage
from tests.conftest import COUNSELLOR, COUNSELLOR_PASSWORD, SUPERVISOR, ProfileFixture
from tests.helpers.opening import open_record_now


@pytest.fixture
def supervisor_window(qtbot: QtBot, profile: ProfileFixture) -> Iterator[MainWindow]:
    ws = profile.sign_in(SUPERVISOR)
    add_synthetic_intakes(ws, count=6, seed=4)
    window = MainWindow(ws, autolock_minutes=30)
    qtbot.addWidget(window)
    window.resize(1366, 768)
    window.show()
    yield window
    window.shutdown_pages()
    ws.close()


def _spy(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> list[threading.Thread]:
    """Record the thread a real method runs in (the method itself runs unchanged)."""
    threads: list[threading.Thread] = []
    original = getattr(owner, name)

    def spy(*args: object, **kwargs: object) -> object:
        threads.append(threading.current_thread())
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, spy)
    return threads


def _record_page(window: MainWindow) -> RecordPage:
    record_id = window.ws.records.list(RecordQuery(status="complete"), limit=1)[0].id
    open_record_now(window, record_id)
    page = window.record_page
    assert isinstance(page, RecordPage)
    return page


def _button(page: RecordPage, text: str) -> QPushButton:
    (button,) = [b for b in page.findChildren(QPushButton) if b.text().replace("&", "") == text]
    return button


def test_jobs_run_one_at_a_time(qtbot: QtBot) -> None:
    gate = threading.Event()
    first_started = threading.Event()
    second_started = threading.Event()
    order: list[str] = []

    def first(_token: CancelToken) -> None:
        first_started.set()
        gate.wait(30)
        order.append("first")

    def second(_token: CancelToken) -> None:
        second_started.set()
        order.append("second")

    one = run_op(None, first, label="eins")
    two = run_op(None, second, label="zwei")
    assert first_started.wait(10)
    assert {job.label for job in ops.running()} == {"eins", "zwei"}
    assert not second_started.wait(0.5)  # the database work of two jobs never overlaps
    gate.set()
    qtbot.waitUntil(lambda: one.done and two.done, timeout=10_000)
    assert order == ["first", "second"]
    assert ops.running() == []


def test_erasure_runs_in_the_background_and_locks_the_page(
    qtbot: QtBot, supervisor_window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = supervisor_window
    page = _record_page(window)
    record_id = page.record_id
    threads = _spy(monkeypatch, Lifecycle, "erase")

    def confirm(dialog: EraseDialog) -> int:
        dialog.confirm.setChecked(True)
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(EraseDialog, "exec", confirm)
    qtbot.mouseClick(_button(page, "Löschen …"), Qt.MouseButton.LeftButton)
    assert not window.stack.isEnabled()  # nothing on the page can be used meanwhile
    qtbot.waitUntil(lambda: window.record_page is None, timeout=20_000)
    assert window.stack.isEnabled()
    assert threads and threads[0] is not threading.main_thread()
    assert record_id not in {s.id for s in window.ws.records.list(RecordQuery(), limit=100)}
    assert "Akte gelöscht" in window.statusBar().currentMessage()


def test_retention_purge_runs_in_the_background_and_counts_in_words(
    qtbot: QtBot, supervisor_window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = supervisor_window
    threads = _spy(monkeypatch, Lifecycle, "purge_due")
    shown: list[str] = []
    monkeypatch.setattr(
        QMessageBox, "information", staticmethod(lambda _p, _t, text: shown.append(text))
    )
    window.actions_["retention"].trigger()
    qtbot.waitUntil(lambda: bool(shown), timeout=20_000)
    assert threads and threads[0] is not threading.main_thread()
    assert "(n)" not in shown[0]
    assert shown[0].startswith(("0 Akten gelöscht.", "1 Akte gelöscht.")) or " Akten " in shown[0]


def test_access_export_runs_in_the_background(
    qtbot: QtBot,
    supervisor_window: MainWindow,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    import intake_app.reports.access as access

    window = supervisor_window
    page = _record_page(window)
    threads = _spy(monkeypatch, access, "export_person")
    folder = tmp_path / "auskunft"
    folder.mkdir()
    monkeypatch.setattr(
        QFileDialog, "getExistingDirectory", staticmethod(lambda *_a, **_k: str(folder))
    )
    shown: list[str] = []
    monkeypatch.setattr(
        QMessageBox, "information", staticmethod(lambda _p, _t, text: shown.append(text))
    )
    qtbot.mouseClick(_button(page, "Auskunft exportieren …"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(shown), timeout=30_000)
    assert threads and threads[0] is not threading.main_thread()
    written = sorted(p.name for p in folder.rglob("*") if p.is_file())
    assert any(name.endswith(".pdf") for name in written), written
    assert all(name in shown[0] for name in written)


def _signed_in(qtbot: QtBot, profile: ProfileFixture) -> tuple[AppController, MainWindow]:
    controller = AppController(profile.profile)
    controller.start()
    login = controller.window
    assert isinstance(login, LoginWindow)
    login.username.setText(COUNSELLOR)
    qtbot.keyClicks(login.password, COUNSELLOR_PASSWORD)
    qtbot.keyClick(login.password, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: isinstance(controller.window, MainWindow), timeout=20_000)
    window = controller.window
    assert isinstance(window, MainWindow)
    ops.wait_for_all(30_000)  # the day's backup after sign-in
    qtbot.wait(50)
    return controller, window


def _when_waiting(act: object) -> None:
    """Once log-out shows its wait dialog, do ``act(dialog)`` (log-out waits in its own
    event loop, so the test acts from a timer)."""

    def poll() -> None:
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, WaitDialog) and widget.isVisible():
                act(widget)  # type: ignore[operator]
                return
        QTimer.singleShot(20, poll)

    QTimer.singleShot(20, poll)


def test_logout_cancels_a_running_job_and_says_so(qtbot: QtBot, profile: ProfileFixture) -> None:
    controller, window = _signed_in(qtbot, profile)
    stopped = threading.Event()

    def long_job(token: CancelToken) -> None:
        while not token.event.wait(0.05):
            pass
        stopped.set()
        token.raise_if_cancelled()

    job = run_op(window, long_job, label="Auf USB-Stick schreiben")
    seen: list[str] = []

    def cancel(dialog: WaitDialog) -> None:
        seen.append(dialog.text.text())
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)

    _when_waiting(cancel)
    window.actions_["logout"].trigger()
    assert job.done and stopped.is_set()
    assert seen and "Auf USB-Stick schreiben" in seen[0]
    login = controller.window
    assert isinstance(login, LoginWindow)
    assert login.note.isVisible()
    assert login.note.text() == "Abgemeldet. Abgebrochen: Auf USB-Stick schreiben."
    assert controller.workspace is None
    login.close()


def test_logout_waits_for_a_job_that_cannot_stop(qtbot: QtBot, profile: ProfileFixture) -> None:
    controller, window = _signed_in(qtbot, profile)
    gate = threading.Event()
    ws: Workspace = window.ws
    finished_with_open_workspace: list[bool] = []

    def erasure_like(_token: CancelToken) -> None:
        gate.wait(30)
        finished_with_open_workspace.append(ws.records.list(RecordQuery(), limit=1) is not None)

    run_op(window, erasure_like, label="Akte löschen", cancellable=False)
    seen: list[bool] = []

    def release(dialog: WaitDialog) -> None:
        seen.append(dialog.cancel_button.isVisible())  # nothing to cancel: no button
        gate.set()

    _when_waiting(release)
    window.actions_["logout"].trigger()
    assert finished_with_open_workspace == [True]  # the job ended before the workspace closed
    assert seen == [False]
    login = controller.window
    assert isinstance(login, LoginWindow)
    assert login.note.text() == "Abgemeldet. Abgewartet: Akte löschen."
    login.close()


def test_logout_without_jobs_says_nothing_more(qtbot: QtBot, profile: ProfileFixture) -> None:
    controller, window = _signed_in(qtbot, profile)
    window.actions_["logout"].trigger()
    login = controller.window
    assert isinstance(login, LoginWindow)
    assert not login.note.isVisible()
    login.close()


def test_audit_verification_runs_in_the_background(
    qtbot: QtBot, supervisor_window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = supervisor_window
    threads = _spy(monkeypatch, Workspace, "verify_audit")
    shown: list[str] = []
    monkeypatch.setattr(
        QMessageBox, "information", staticmethod(lambda _p, _t, text: shown.append(text))
    )
    window.actions_["audit_verify"].trigger()
    assert [job.label for job in ops.running()] == ["Audit-Protokoll prüfen"]
    qtbot.waitUntil(lambda: bool(shown), timeout=30_000)
    assert threads and threads[0] is not threading.main_thread()
    assert shown[0].startswith("Das Audit-Protokoll ist intakt")


def test_overview_is_counted_in_the_background(
    qtbot: QtBot, supervisor_window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = supervisor_window
    threads = _spy(monkeypatch, Lifecycle, "overview")
    window.actions_["overview"].trigger()
    page = window.overview
    assert page is not None and window.stack.currentWidget() is page
    qtbot.waitUntil(lambda: page.overview is not None, timeout=30_000)
    counted = len(threads)
    assert counted and threading.main_thread() not in threads
    assert page.overview is not None and sum(page.overview.by_status.values()) == 6
    assert page.print_button.isEnabled() and page.refresh_button.isEnabled()
    assert page.generated.text().startswith("Stand: ")
    # "Aktualisieren" counts again, in the background too
    qtbot.mouseClick(page.refresh_button, Qt.MouseButton.LeftButton)
    assert not page.refresh_button.isEnabled()
    assert page.generated.accessibleName() == "Die Übersicht wird berechnet …"
    qtbot.waitUntil(page.refresh_button.isEnabled, timeout=30_000)
    assert len(threads) > counted and threading.main_thread() not in threads


def test_the_record_is_read_in_the_background(
    qtbot: QtBot, supervisor_window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = supervisor_window
    records = window.ws.records
    threads = _spy(monkeypatch, records, "open")
    record_id = records.list(RecordQuery(status="complete"), limit=1)[0].id
    assert window.cases is not None
    window.cases.open_requested.emit(record_id)  # as a double click on the row does
    assert window.record_page is None  # the page appears when the record has been read
    assert [job.label for job in ops.running()] == ["Akte öffnen"]
    qtbot.waitUntil(lambda: isinstance(window.record_page, RecordPage), timeout=30_000)
    assert threads and threads[0] is not threading.main_thread()
    page = window.record_page
    assert isinstance(page, RecordPage) and page.record_id == record_id
    assert page.history_lines()  # the timeline came with the read


def test_logout_cancels_opening_a_record_and_no_page_appears(
    qtbot: QtBot, profile: ProfileFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    controller, window = _signed_in(qtbot, profile)
    add_synthetic_intakes(window.ws, count=2, seed=3, complete_share=1.0)
    record_id = window.ws.records.list(RecordQuery(status="complete"), limit=1)[0].id
    gate = threading.Event()
    records = window.ws.records
    original = records.open

    def slow_open(rid: str) -> object:
        gate.wait(30)  # a long read (a large record on a slow disk)
        return original(rid)

    monkeypatch.setattr(records, "open", slow_open)
    operation = window.open_record(record_id)
    assert operation is not None
    # feedback while it reads: the status bar at once, the progress dialog after 200 ms
    assert window.statusBar().currentMessage() == "Die Akte wird geöffnet …"
    qtbot.waitUntil(
        lambda: operation.progress_dialog is not None and operation.progress_dialog.isVisible(),
        timeout=5_000,
    )
    progress = operation.progress_dialog
    assert progress is not None and progress.labelText() == "Die Akte wird gelesen …"
    pages: list[object] = []
    window.record_page_created.connect(pages.append)

    def cancel(dialog: WaitDialog) -> None:
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
        gate.set()

    _when_waiting(cancel)
    window.actions_["logout"].trigger()
    assert operation.done
    assert pages == []  # the cancelled read opened no page
    login = controller.window
    assert isinstance(login, LoginWindow)
    assert login.note.text() == "Abgemeldet. Abgebrochen: Akte öffnen."
    login.close()
