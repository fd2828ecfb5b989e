"""The sync window says what it did in words a counsellor reads without arithmetic."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from intake_app.core.records import SyncState
from intake_app.ui.main import create_application
from intake_app.ui.mainwindow import MainWindow
from intake_app.ui.record_page import RecordPage
from intake_app.ui.sync_window import SyncWindow
from tests.conftest import COUNSELLOR, ProfileFixture
from tests.e2e.conftest import Office
from tests.e2e.test_device_sync import enrol_device, finalised
from tests.helpers.opening import open_record_now

pytestmark = pytest.mark.e2e


def _send(qtbot: QtBot, dialog: SyncWindow) -> str:  # type: ignore[no-untyped-def]
    qtbot.mouseClick(dialog.send_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.operation is None, timeout=30_000)
    return dialog.error_label.text()


def test_sync_reports_delivered_records_and_nothing_to_send(
    qtbot: QtBot, profile: ProfileFixture, office: Office, tmp_path: Path
) -> None:
    create_application()
    enrol_device(profile, office, tmp_path)
    ws = profile.sign_in(COUNSELLOR)
    try:
        finalised(ws, 1, seed=5)
        window = MainWindow(ws, autolock_minutes=30)
        qtbot.addWidget(window)
        dialog = SyncWindow(ws, window)
        qtbot.addWidget(dialog)
        dialog.show()
        first = _send(qtbot, dialog)
        assert "1 Akte zugestellt." in first
        assert "(n)" not in first
        again = _send(qtbot, dialog)
        assert "0 " not in again
        assert "Es lag nichts zur Übermittlung vor." in again
        dialog.close()
        window.close()
    finally:
        ws.close()


def test_an_open_record_shows_its_new_state_after_a_sync(
    qtbot: QtBot, profile: ProfileFixture, office: Office, tmp_path: Path
) -> None:
    create_application()
    enrol_device(profile, office, tmp_path)
    ws = profile.sign_in(COUNSELLOR)
    try:
        (record_id,) = finalised(ws, 1, seed=6)
        window = MainWindow(ws, autolock_minutes=30)
        qtbot.addWidget(window)
        window.show()
        open_record_now(window, record_id)
        page = window.record_page
        assert isinstance(page, RecordPage)
        before = page.meta.text()
        assert SyncState.PENDING.label in before
        dialog = window.sync_window()  # as the menu opens it
        qtbot.addWidget(dialog)
        dialog.show()
        _send(qtbot, dialog)
        dialog.close()
        stored = ws.records.get(record_id).sync_state
        assert stored != SyncState.PENDING.value
        assert SyncState(stored).label in page.meta.text()
        window.close()
    finally:
        ws.close()


def test_usb_stick_and_receipts_run_in_the_background(
    qtbot: QtBot,
    profile: ProfileFixture,
    office: Office,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import threading

    from PySide6.QtWidgets import QMessageBox

    from intake_app.device_sync.device import DeviceSync

    create_application()
    enrol_device(profile, office, tmp_path)
    stick = tmp_path / "stick"
    stick.mkdir()
    threads: dict[str, threading.Thread] = {}
    for name in ("write_to_folder", "import_receipts"):
        original = getattr(DeviceSync, name)

        def spy(self, *args, _name=name, _original=original, **kwargs):  # type: ignore[no-untyped-def]
            threads[_name] = threading.current_thread()
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(DeviceSync, name, spy)
    shown: list[str] = []
    monkeypatch.setattr(
        QMessageBox, "information", staticmethod(lambda _p, _t, text: shown.append(text))
    )
    ws = profile.sign_in(COUNSELLOR)
    try:
        finalised(ws, 2, seed=7)
        window = MainWindow(ws, autolock_minutes=30)
        qtbot.addWidget(window)
        dialog = window.sync_window()
        qtbot.addWidget(dialog)
        dialog._choose_folder = lambda _title: stick  # type: ignore[method-assign,assignment]
        dialog.show()
        qtbot.mouseClick(dialog.folder_button, Qt.MouseButton.LeftButton)
        assert not dialog.receipts_button.isEnabled()  # one job at a time
        qtbot.waitUntil(lambda: dialog.operation is None and bool(shown), timeout=30_000)
        assert threads["write_to_folder"] is not threading.main_thread()
        assert shown[0].startswith("1 Datei in ")
        office.cli("import", "--from-dir", str(stick))
        qtbot.mouseClick(dialog.receipts_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: dialog.operation is None and len(shown) == 2, timeout=30_000)
        assert threads["import_receipts"] is not threading.main_thread()
        assert shown[1].startswith("2 Akten als übermittelt bestätigt.")
        assert "(n)" not in shown[1]
        dialog.close()
        window.close()
    finally:
        ws.close()
