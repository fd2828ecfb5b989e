"""One presenter for errors, and the exception hook for everything unexpected.

Errors the program raises on purpose (:class:`~intake_app.errors.IntakeError`) carry a
message for people and are shown as they are, with advice per kind. Anything else is a
bug: it is logged with a scrubbed traceback (never personal data) and the user gets a
plain German message that says what to do and where the log is (see
:mod:`intake_app.ui.crash_dialog`). A damaged profile offers to restore the last backup
through the handler the application passes to :func:`install_excepthook`.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QApplication, QWidget

from intake_app.errors import IntakeError, KnownError
from intake_app.logs import enable_fault_log, safe_traceback

if TYPE_CHECKING:
    from intake_app.ui.crash_dialog import CrashDialog, RestoreHandler

log = logging.getLogger("intake.ui")

_restore_handler: RestoreHandler | None = None
_latest_backup_label: Callable[[], str] | None = None
_showing = False


def message_for(exc: BaseException) -> tuple[str, str]:
    """Title and text for an exception, in the current language."""
    from intake_app.ui.crash_dialog import describe_error  # Deferred: only on an error

    message = describe_error(exc)
    return message.title, message.text


def _log(exc: BaseException) -> None:
    if isinstance(exc, KnownError):
        log.warning("known condition: %s (%s)", type(exc).__name__, exc.kind)
    elif not isinstance(exc, IntakeError):
        log.error("unexpected error\n%s", safe_traceback(exc))


def create_dialog(parent: QWidget | None, exc: BaseException) -> CrashDialog:
    """The dialog :func:`show_error` would show for ``exc`` (not yet shown)."""
    # Deferred: the dialog loads on the first error, not at start-up (docs/architecture.md,
    # "Start-up").
    from intake_app.ui.crash_dialog import CrashDialog, describe_error, technical_details

    message = describe_error(exc)
    restore = message.offer_restore and _restore_handler is not None
    label = ""
    if restore and _latest_backup_label is not None:
        try:
            label = str(_latest_backup_label())
        except Exception:  # the label is a nicety; never fail the error dialog for it
            label = ""
    return CrashDialog(
        message,
        details=technical_details(exc) if message.kind != "user" else "",
        restore_available=restore,
        backup_label=label,
        parent=parent,
    )


def show_error(parent: QWidget | None, exc: BaseException) -> None:
    """Show ``exc`` to the user and log it; a bug is logged with its scrubbed traceback."""
    global _showing
    _log(exc)
    if _showing:  # an error while the dialog is open: the log has it, one dialog is enough
        return
    _showing = True
    try:
        dialog = create_dialog(parent, exc)
        dialog.exec()
    finally:
        _showing = False
    if dialog.restore_chosen and _restore_handler is not None:
        _restore_handler(parent)


def _excepthook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, exc, tb)
        return
    exc.__traceback__ = tb
    if QApplication.instance() is None:
        _log(exc)
        sys.__excepthook__(kind, exc, tb)
        return
    try:
        show_error(QApplication.activeWindow(), exc)
    except Exception:  # the dialog itself failed: fall back to the log
        log.exception("could not show the error dialog")


def _thread_excepthook(args: threading.ExceptHookArgs) -> None:
    """Errors in plain threads cannot open a dialog: they go to the log."""
    if args.exc_value is not None and not isinstance(args.exc_value, IntakeError):
        log.error("unexpected error in a thread\n%s", safe_traceback(args.exc_value))


def install_excepthook(
    *,
    restore: RestoreHandler | None = None,
    backup_label: Callable[[], str] | None = None,
    fault_log: bool = True,
) -> None:
    """Route uncaught exceptions (also from Qt slots) to :func:`show_error`.

    Args:
        restore: called with the parent window when the user chooses to restore the last
            backup after a damaged profile (the caller signs out and shows the restore
            dialog); without it the dialog only explains what the administration can do.
        backup_label: a callable returning when the latest backup was made (shown in the
            dialog), e.g. ``lambda: latest_backup(profile).label()``.
        fault_log: also write the Python stack to ``crash.log`` on a hard crash.
    """
    global _restore_handler, _latest_backup_label
    _restore_handler = restore
    _latest_backup_label = backup_label
    sys.excepthook = _excepthook
    threading.excepthook = _thread_excepthook
    if fault_log:
        enable_fault_log()


def restore_handler() -> RestoreHandler | None:
    """The handler installed by :func:`install_excepthook` (the settings window uses it)."""
    return _restore_handler
