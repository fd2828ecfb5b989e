"""One presenter for errors, and the exception hook for everything unexpected.

Errors the program raises on purpose (:class:`~intake_app.errors.IntakeError`) carry a
message for people and are shown as they are. Anything else is a bug: it is logged with
its traceback (never with personal data) and the user gets a plain German message that
says what to do and where the log is.
"""

from __future__ import annotations

import logging
import sys
import traceback
from types import TracebackType

from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from intake_app.errors import AuthError, IntakeError, KnownError, PermissionDenied
from intake_app.i18n import _
from intake_app.logs import current_log_file

log = logging.getLogger("intake.ui")


def message_for(exc: BaseException) -> tuple[str, str]:
    """Title and text for an exception, in the current language."""
    if isinstance(exc, KnownError):
        return _("Hinweis"), str(exc)
    if isinstance(exc, AuthError):
        return _("Anmeldung"), str(exc)
    if isinstance(exc, PermissionDenied):
        return _("Keine Berechtigung"), str(exc)
    if isinstance(exc, IntakeError):
        return _("Hinweis"), str(exc)
    if isinstance(exc, MemoryError):
        return _("Zu wenig Arbeitsspeicher"), _(
            "Der Arbeitsspeicher reicht nicht aus. Schließen Sie andere Programme und "
            "versuchen Sie es erneut. Ihre Eingaben sind gespeichert."
        )
    log_file = current_log_file()
    where = str(log_file) if log_file else _("(kein Protokoll eingerichtet)")
    return _("Unerwarteter Fehler"), _(
        "Im Programm ist ein unerwarteter Fehler aufgetreten ({kind}). Ihre bisherigen "
        "Eingaben sind gespeichert. Bitte starten Sie Intake neu, wenn es nicht weitergeht, "
        "und geben Sie der IT die Protokolldatei: {log}"
    ).format(kind=type(exc).__name__, log=where)


def show_error(parent: QWidget | None, exc: BaseException) -> None:
    """Show ``exc`` to the user; log it with its traceback when it is a bug."""
    if not isinstance(exc, IntakeError):
        log.error(
            "unexpected error: %s",
            "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        )
    title, text = message_for(exc)
    box = QMessageBox(parent)
    box.setIcon(
        QMessageBox.Icon.Warning if isinstance(exc, IntakeError) else QMessageBox.Icon.Critical
    )
    box.setWindowTitle(title)
    box.setText(text)
    box.setAccessibleName(title)
    box.exec()


def _excepthook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, exc, tb)
        return
    exc.__traceback__ = tb
    if QApplication.instance() is None:
        log.error("unexpected error: %s", "".join(traceback.format_exception(kind, exc, tb)))
        sys.__excepthook__(kind, exc, tb)
        return
    try:
        show_error(QApplication.activeWindow(), exc)
    except Exception:  # the dialog itself failed: fall back to the log
        log.exception("could not show the error dialog")


def install_excepthook() -> None:
    """Route uncaught exceptions (also from Qt slots) to :func:`show_error`."""
    sys.excepthook = _excepthook
