"""Wait for what the main window reads through the background helper (a record being
opened, the overview being counted), as a person waits for the page to appear."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6.QtTest import QTest
from PySide6.QtWidgets import QWidget

if TYPE_CHECKING:
    from intake_app.ui.mainwindow import MainWindow
    from intake_app.ui.ops import Operation


def wait_done(operation: Operation | None, timeout_s: float = 60.0) -> None:
    """Let the event loop run until ``operation`` has finished (its result is shown)."""
    deadline = time.monotonic() + timeout_s
    while operation is not None and not operation.done:
        if time.monotonic() > deadline:
            raise AssertionError(f"{operation.label} did not finish in {timeout_s} s")
        QTest.qWait(10)


def open_record_now(window: MainWindow, record_id: str) -> QWidget | None:
    """Open a record in ``window`` and wait until its page is shown."""
    wait_done(window.open_record(record_id))
    return window.record_page


def overview_now(window: MainWindow) -> None:
    """Show the overview and wait until its numbers are counted."""
    window.show_overview()
    assert window.overview is not None
    wait_done(window.overview.loading)
