"""Auto-lock after inactivity: every window is covered until the password is given again.

Nothing is closed or destroyed while locked, so input in progress (an open interview, a
half-filled dialog) is exactly as it was after unlocking. The covers are child widgets
of each visible window; the password is asked for in an application-modal dialog above
them, which also works while another modal dialog is open.

Signals: :class:`InactivityWatcher` ``idle()``; :class:`LockController` ``locked()``,
``unlocked()``, ``logout_requested()``.
"""

from __future__ import annotations

import logging
import math

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from intake_app.app import Workspace
from intake_app.errors import AuthError
from intake_app.i18n import _
from intake_app.ui.widgets import PasswordField

log = logging.getLogger("intake.ui")

_ACTIVITY = {
    QEvent.Type.KeyPress,
    QEvent.Type.MouseButtonPress,
    QEvent.Type.MouseMove,
    QEvent.Type.Wheel,
    QEvent.Type.TouchBegin,
    QEvent.Type.InputMethod,
}


class InactivityWatcher(QObject):
    """Emits ``idle`` after ``minutes`` without keyboard, mouse or touch input."""

    idle = Signal()

    def __init__(self, minutes: float, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.idle)
        self.set_minutes(minutes)
        app = QApplication.instance()
        assert app is not None
        app.installEventFilter(self)

    def set_minutes(self, minutes: float) -> None:
        self._timer.setInterval(max(1, int(minutes * 60_000)))
        self._timer.start()

    def interval_ms(self) -> int:
        return self._timer.interval()

    def restart(self) -> None:
        self._timer.start()

    def pause(self) -> None:
        self._timer.stop()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in _ACTIVITY and self._timer.isActive():
            self._timer.start()
        return False

    def stop(self) -> None:
        self._timer.stop()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)


class LockCover(QWidget):
    """An opaque panel over a window's whole area while the session is locked."""

    def __init__(self, host: QWidget) -> None:
        super().__init__(host)
        self.setObjectName("lockCover")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setAutoFillBackground(True)
        label = QLabel(_("Gesperrt"))
        label.setObjectName("title")
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(label)
        layout.addStretch(1)
        host.installEventFilter(self)
        self.setGeometry(host.rect())
        self.raise_()
        self.show()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        host = self.parentWidget()
        if host is not None and watched is host and event.type() == QEvent.Type.Resize:
            self.setGeometry(host.rect())
            self.raise_()
        return False


class UnlockDialog(QDialog):
    """Asks for the signed-in user's password. Signals: ``unlocked()``, ``logout()``."""

    unlocked = Signal()
    logout = Signal()

    def __init__(
        self, workspace: Workspace, parent: QWidget | None = None, *, idle: bool = True
    ) -> None:
        super().__init__(parent)
        self._ws = workspace
        self._wait = 0
        self.setWindowTitle(_("Gesperrt"))  # Qt adds " — Intake" (ui/main.py)
        self.setWindowModality(Qt.WindowModality.ApplicationModal)
        self.setWindowFlag(Qt.WindowType.WindowCloseButtonHint, False)
        who = workspace.actor.display_name or workspace.actor.username
        # why it is locked: after a time without input, or because she locked it herself
        message = (
            _(
                "Gesperrt wegen Inaktivität. Ihre Eingaben sind erhalten.\n"
                "Bitte geben Sie das Passwort von {name} ein."
            )
            if idle
            else _(
                "Gesperrt. Ihre Eingaben sind erhalten.\n"
                "Bitte geben Sie das Passwort von {name} ein."
            )
        )
        text = QLabel(message.format(name=who))
        text.setWordWrap(True)
        self.password = PasswordField(_("Passwort"))
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.unlock_button = QPushButton(_("&Entsperren"))
        self.unlock_button.setObjectName("primary")
        self.unlock_button.setDefault(True)
        self.logout_button = QPushButton(_("Benutzer &wechseln"))
        self.logout_button.setAccessibleDescription(
            _("Meldet ab; gespeicherte Eingaben bleiben erhalten.")
        )
        row = QHBoxLayout()
        row.addWidget(self.logout_button)
        row.addStretch(1)
        row.addWidget(self.unlock_button)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(self.password)
        layout.addWidget(self.error)
        layout.addLayout(row)
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self._on_tick)
        # Enter in the field presses the default button; no second returnPressed handler,
        # which would send a second (empty) attempt.
        self.unlock_button.clicked.connect(self._on_unlock)
        self.logout_button.clicked.connect(self._on_logout)
        text.setMinimumWidth(text.fontMetrics().averageCharWidth() * 48)
        self.adjustSize()

    def reject(self) -> None:
        """Escape does not unlock."""

    def _on_unlock(self) -> None:
        if self._wait > 0:
            return
        try:
            self._ws.unlock(self.password.text())
        except AuthError as exc:
            self.password.clear()
            self.error.setText(str(exc))
            if exc.retry_after > 0:
                self._wait = math.ceil(exc.retry_after)
                self._timer.start()
                self._on_tick()
            return
        self.password.clear()
        self.error.clear()
        self.done(QDialog.DialogCode.Accepted)
        self.unlocked.emit()

    def _on_tick(self) -> None:
        if self._wait <= 0:
            self._timer.stop()
            self.unlock_button.setEnabled(True)
            self.unlock_button.setText(_("&Entsperren"))
            return
        self.unlock_button.setEnabled(False)
        self.unlock_button.setText(_("Warten: {s} s").format(s=self._wait))
        self._wait -= 1

    def _on_logout(self) -> None:
        self.done(QDialog.DialogCode.Rejected)
        self.logout.emit()


class LockController(QObject):
    """Locks and unlocks the whole program for one workspace.

    Signals: ``locked()``, ``unlocked()``, ``logout_requested()``.
    """

    locked = Signal()
    unlocked = Signal()
    logout_requested = Signal()

    def __init__(self, workspace: Workspace, main_window: QWidget, *, minutes: float) -> None:
        super().__init__(main_window)
        self._ws = workspace
        self._main = main_window
        self._covers: list[LockCover] = []
        self.dialog: UnlockDialog | None = None
        self._idle = False
        self.watcher = InactivityWatcher(minutes, self)
        self.watcher.idle.connect(lambda: self.lock(idle=True))

    @property
    def is_locked(self) -> bool:
        return self.dialog is not None

    def lock(self, *, idle: bool = False) -> None:
        """Cover every visible window and ask for the password (``idle``: because there
        was no input for the set time, which the dialog says; else the user locked it)."""
        if self.is_locked:
            return
        self._idle = idle
        self.watcher.pause()
        self._ws.lock()
        for window in QApplication.topLevelWidgets():
            if window.isVisible() and not isinstance(window, UnlockDialog):
                self._covers.append(LockCover(window))
        self._ask_password()
        log.info("session locked")
        self.locked.emit()

    def _ask_password(self) -> None:
        self.dialog = UnlockDialog(self._ws, self._main, idle=self._idle)
        self.dialog.unlocked.connect(self._on_unlocked)
        self.dialog.logout.connect(self._on_logout)
        self.dialog.open()
        self.dialog.password.setFocus()

    def _remove_covers(self) -> None:
        for cover in self._covers:
            cover.hide()
            cover.deleteLater()
        self._covers.clear()

    def _on_unlocked(self) -> None:
        self._remove_covers()
        if self.dialog is not None:
            self.dialog.deleteLater()
        self.dialog = None
        self.watcher.restart()
        log.info("session unlocked")
        self.unlocked.emit()

    def _on_logout(self) -> None:
        if self.dialog is not None:
            self.dialog.deleteLater()
        self.dialog = None
        self.logout_requested.emit()
        if self._ws.is_closed:
            self._remove_covers()
            return
        # The log-out did not go through (the user chose to keep an interview whose answers
        # could not be saved yet): the windows stay covered and the password is asked again.
        log.info("log-out from the lock cancelled; still locked")
        self._ask_password()

    def stop(self) -> None:
        self.watcher.stop()
