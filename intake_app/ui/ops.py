"""Run database and network work off the GUI thread (in the manner of Anki's CollectionOp).

``run_op(parent, work, on_success=..., on_failure=...)``: ``work(token)`` runs in a pool
thread and never touches a widget; ``on_success(result)`` / ``on_failure(exc)`` run back
on the GUI thread. ``token`` reports progress and tells the work when the user pressed
cancel. Callers are one line; the operation object is kept alive until it finishes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from intake_app.errors import IntakeError
from intake_app.i18n import _
from intake_app.ui.errors import show_error

log = logging.getLogger("intake.ui")


class Cancelled(IntakeError):
    """The user cancelled a background operation."""

    def __init__(self) -> None:
        super().__init__(_("Abgebrochen."))


class CancelToken:
    """Passed to background work: progress reports and the cancel flag."""

    def __init__(self, signals: _Signals) -> None:
        self._signals = signals
        self._event = threading.Event()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self) -> None:
        self._event.set()

    def raise_if_cancelled(self) -> None:
        """Stop the work at a safe point when the user cancelled."""
        if self._event.is_set():
            raise Cancelled

    def progress(self, done: int, total: int, text: str = "") -> None:
        """Report progress (thread-safe; delivered on the GUI thread)."""
        self._signals.progressed.emit(done, total, text)

    @property
    def event(self) -> threading.Event:
        """The underlying event, for code that waits or polls (sync transports)."""
        return self._event


class _Signals(QObject):
    succeeded = Signal(object)
    failed = Signal(object)
    progressed = Signal(int, int, str)


class _Runnable(QRunnable):
    def __init__(self, work: Callable[[CancelToken], Any], token: CancelToken, signals: _Signals):
        super().__init__()
        self.setAutoDelete(True)
        self._work = work
        self._token = token
        self._signals = signals

    def run(self) -> None:
        try:
            result = self._work(self._token)
        except BaseException as exc:  # delivered to the GUI thread, never swallowed
            self._signals.failed.emit(exc)
        else:
            self._signals.succeeded.emit(result)


_running: set[Operation] = set()


class Operation(QObject):
    """One background operation. Signals: ``progressed(done, total, text)``, ``finished()``."""

    progressed = Signal(int, int, str)
    finished = Signal()

    def __init__(
        self,
        parent: QObject | None,
        work: Callable[[CancelToken], Any],
        *,
        on_success: Callable[[Any], None] | None = None,
        on_failure: Callable[[BaseException], None] | None = None,
    ) -> None:
        super().__init__(parent)
        self._signals = _Signals()
        self.token = CancelToken(self._signals)
        self._work = work
        self._on_success = on_success
        self._on_failure = on_failure
        self.done = False
        self._signals.succeeded.connect(self._on_succeeded)
        self._signals.failed.connect(self._on_failed)
        self._signals.progressed.connect(self.progressed)

    def start(self, pool: QThreadPool | None = None) -> Operation:
        _running.add(self)
        (pool or QThreadPool.globalInstance()).start(
            _Runnable(self._work, self.token, self._signals)
        )
        return self

    def cancel(self) -> None:
        self.token.cancel()

    def _finish(self) -> None:
        self.done = True
        _running.discard(self)
        self.finished.emit()

    def _on_succeeded(self, result: object) -> None:
        try:
            if self._on_success is not None:
                self._on_success(result)
        finally:
            self._finish()

    def _on_failed(self, exc: BaseException) -> None:
        try:
            if self._on_failure is not None:
                self._on_failure(exc)
            elif not isinstance(exc, Cancelled):
                show_error(None, exc)
        finally:
            self._finish()


def run_op(
    parent: QObject | None,
    work: Callable[[CancelToken], Any],
    *,
    on_success: Callable[[Any], None] | None = None,
    on_failure: Callable[[BaseException], None] | None = None,
) -> Operation:
    """Start ``work`` in the background and return the running operation."""
    return Operation(parent, work, on_success=on_success, on_failure=on_failure).start()


def wait_for_all(timeout_ms: int = 30_000) -> bool:
    """Block until every background operation finished (used when closing the program)."""
    return QThreadPool.globalInstance().waitForDone(timeout_ms)
