"""Save every change within a second, without a save button.

A change (re)starts a short timer; a second timer bounds the delay from the first unsaved
change, so continuous typing still saves at least once a second. A failed save (a full
disk, a locked database) keeps the answers in memory, says so, and retries.

Signals: ``saved(object)`` with the time (None when the save changed no answer and so
set no save time); ``failed(object)`` with the exception.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from PySide6.QtCore import QObject, QTimer, Signal

from intake_app.errors import IntakeError

log = logging.getLogger("intake.ui")

DEBOUNCE_MS = 300
MAX_DELAY_MS = 900
RETRY_MS = 5000


class Autosaver(QObject):
    """Debounced, bounded-delay saving. Signals: ``saved(object)``, ``failed(object)``."""

    saved = Signal(object)
    failed = Signal(object)

    def __init__(self, save: Callable[[], datetime | None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._save = save
        self.dirty = False
        self.failing = False
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self.flush)
        self._deadline = QTimer(self)
        self._deadline.setSingleShot(True)
        self._deadline.setInterval(MAX_DELAY_MS)
        self._deadline.timeout.connect(self.flush)
        self._retry = QTimer(self)
        self._retry.setSingleShot(True)
        self._retry.setInterval(RETRY_MS)
        self._retry.timeout.connect(self.flush)

    def schedule(self) -> None:
        """Note a change; it is saved within MAX_DELAY_MS."""
        self.dirty = True
        self._debounce.start()
        if not self._deadline.isActive():
            self._deadline.start()

    def flush(self) -> bool:
        """Save now if anything is unsaved; True when everything is saved."""
        self._debounce.stop()
        self._deadline.stop()
        if not self.dirty:
            return True
        try:
            when = self._save()
        except IntakeError as exc:
            self.failing = True
            log.warning("autosave failed: %s", type(exc).__name__)
            self._retry.start()
            self.failed.emit(exc)
            return False
        self.dirty = False
        self.failing = False
        self._retry.stop()
        self.saved.emit(when)
        return True

    def stop(self) -> None:
        for timer in (self._debounce, self._deadline, self._retry):
            timer.stop()
