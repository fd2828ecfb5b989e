"""Run database, file and network work off the GUI thread (in the manner of Anki's
CollectionOp); the one background helper of the program (docs/architecture.md,
"Background work").

``run_op(parent, work, on_success=..., on_failure=..., label=..., progress=...)``:
``work(token)`` runs in the worker thread and never touches a widget;
``on_success(result)`` / ``on_failure(exc)`` run back on the GUI thread. ``token``
reports progress and tells the work when the user pressed cancel. With ``progress`` (a
widget) a progress dialog appears when the work takes longer than 200 ms.

There is one worker thread: background jobs run one after another, so database work
never runs twice at the same time. :func:`finish_running` lets log-out wait for the jobs
that are running (or cancel them) and says which they were.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEventLoop, QObject, QRunnable, Qt, QThreadPool, QTimer, Signal
from PySide6.QtWidgets import QLabel, QProgressDialog, QPushButton, QVBoxLayout, QWidget

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
_worker: QThreadPool | None = None

#: how long work may take before a progress dialog appears (docs/architecture.md)
PROGRESS_AFTER_MS = 200


def worker_pool() -> QThreadPool:
    """The one worker thread every background job runs in (jobs run one at a time)."""
    global _worker
    if _worker is None:
        _worker = QThreadPool()
        _worker.setObjectName("intake-worker")
        _worker.setMaxThreadCount(1)
        _worker.setExpiryTimeout(-1)
    return _worker


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
        label: str = "",
        cancellable: bool = True,
    ) -> None:
        super().__init__(parent)
        #: what the job does, in words (shown when log-out has to wait for it)
        self.label = label or _("Hintergrundarbeit")
        #: whether the work stops when cancelled (else cancelling only waits for it)
        self.cancellable = cancellable
        self.progress_dialog: QProgressDialog | None = None
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
        (pool or worker_pool()).start(_Runnable(self._work, self.token, self._signals))
        return self

    def cancel(self) -> None:
        self.token.cancel()

    def show_progress(self, parent: QWidget, text: str) -> QProgressDialog:
        """A window-modal progress dialog over ``parent`` that appears only when the work
        takes longer than :data:`PROGRESS_AFTER_MS`; its cancel button cancels the work."""
        dialog = QProgressDialog(text, _("Abbrechen"), 0, 0, parent)
        dialog.setWindowTitle(self.label)
        # wide enough for its title and a longer label ("Abgelaufene Akten werden …")
        dialog.setMinimumWidth(dialog.fontMetrics().averageCharWidth() * 48)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(PROGRESS_AFTER_MS)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        if not self.cancellable:
            dialog.setCancelButton(None)  # type: ignore[arg-type]
        dialog.canceled.connect(self.cancel)

        def on_progress(done: int, total: int, label: str) -> None:
            if total:
                dialog.setMaximum(total)
                dialog.setValue(done)
            if label:
                dialog.setLabelText(label)

        self.progressed.connect(on_progress)
        self.progress_dialog = dialog
        return dialog

    def _finish(self) -> None:
        self.done = True
        _running.discard(self)
        self.finished.emit()

    def _close_progress(self) -> None:
        if self.progress_dialog is not None:
            self.progress_dialog.canceled.disconnect(self.cancel)
            self.progress_dialog.close()
            self.progress_dialog.deleteLater()
            self.progress_dialog = None

    def _on_succeeded(self, result: object) -> None:
        self._close_progress()
        try:
            if self._on_success is not None:
                self._on_success(result)
        finally:
            self._finish()

    def _on_failed(self, exc: BaseException) -> None:
        self._close_progress()
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
    label: str = "",
    progress: QWidget | None = None,
    progress_text: str = "",
    cancellable: bool = True,
) -> Operation:
    """Start ``work`` in the worker thread and return the queued operation.

    ``label`` names the job (log-out says it waits for it); with ``progress`` a progress
    dialog with ``progress_text`` appears over that widget after 200 ms; a job that is not
    ``cancellable`` (it stops at no safe point) shows no cancel button.
    """
    operation = Operation(
        parent,
        work,
        on_success=on_success,
        on_failure=on_failure,
        label=label,
        cancellable=cancellable,
    )
    if progress is not None:
        operation.show_progress(progress, progress_text or label)
    return operation.start()


def running() -> list[Operation]:
    """The background jobs queued or running, oldest first."""
    return sorted(_running, key=id) if len(_running) > 1 else list(_running)


def wait_for_all(timeout_ms: int = 30_000) -> bool:
    """Block until every background operation finished (used by tests and at the very
    end of the program, after :func:`finish_running`)."""
    done = worker_pool().waitForDone(timeout_ms)
    return QThreadPool.globalInstance().waitForDone(timeout_ms) and done


class WaitDialog(QWidget):
    """Says which jobs log-out waits for; "Abbrechen" cancels those that can stop."""

    def __init__(self, parent: QWidget | None, jobs: list[Operation], action: str) -> None:
        super().__init__(parent, Qt.WindowType.Dialog)
        self.setWindowModality(Qt.WindowModality.ApplicationModal)
        self.setWindowTitle(action)
        names = "\n".join(f"• {job.label}" for job in jobs)
        self.text = QLabel(
            _("Es läuft noch:\n{jobs}\n\nIntake wartet, bis diese Arbeit beendet ist.").format(
                jobs=names
            )
        )
        self.text.setWordWrap(True)
        self.text.setAccessibleName(self.text.text())
        self.cancel_button = QPushButton(_("Abbrechen und fortfahren"))
        self.cancel_button.setVisible(any(job.cancellable for job in jobs))
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(self.cancel_button)


def finish_running(parent: QWidget | None, action: str) -> str:
    """Before ``action`` (log-out, restore, end of the program): wait for the running
    background jobs while a dialog names them and offers to cancel them; returns what
    happened in words ("" when nothing was running), for the next screen to say."""
    jobs = [job for job in running() if not job.done]
    if not jobs:
        return ""
    dialog = WaitDialog(parent, jobs, action)
    cancelled: list[Operation] = []
    loop = QEventLoop()

    def cancel() -> None:
        for job in jobs:
            if job.cancellable and not job.done:
                job.cancel()
                cancelled.append(job)
        dialog.cancel_button.setEnabled(False)
        dialog.text.setText(_("Wird abgebrochen …"))

    def check() -> None:
        if all(job.done for job in jobs):
            loop.quit()

    dialog.cancel_button.clicked.connect(cancel)
    for job in jobs:
        job.finished.connect(check)
    timer = QTimer()
    timer.setInterval(100)  # a job finished between the list and the connection
    timer.timeout.connect(check)
    timer.start()
    dialog.show()
    check()
    if not all(job.done for job in jobs):
        loop.exec()
    timer.stop()
    dialog.close()
    dialog.deleteLater()
    names = ", ".join(job.label for job in jobs)
    if cancelled:
        return _("Abgebrochen: {jobs}.").format(jobs=", ".join(j.label for j in cancelled))
    return _("Abgewartet: {jobs}.").format(jobs=names)
