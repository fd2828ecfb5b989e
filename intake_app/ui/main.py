"""Start the desktop program: QApplication, translations, style, exception hook, windows."""

from __future__ import annotations

# Qt first, with its check of every later import made cheap (ui/qt_imports.py).
import intake_app.ui.qt_imports  # noqa: F401  # isort: skip

import logging
import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import QApplication

from intake_app import __version__
from intake_app.assets import resource
from intake_app.demo import ensure_demo_profile
from intake_app.i18n import current_language
from intake_app.storage.profile import Profile
from intake_app.ui.controller import AppController
from intake_app.ui.errors import install_excepthook
from intake_app.ui.qt_i18n import install_qt_translator
from intake_app.ui.rules import install as install_rules
from intake_app.ui.style import apply_style

log = logging.getLogger("intake.ui")

DESKTOP_FILE_NAME = "intake"


def create_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication with the program's names, style and Qt translations."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
            Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
        )
        app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("Intake")
    # Qt appends it to every window title (" — Intake" on Linux, " - Intake" on Windows),
    # so no title names the program itself.
    app.setApplicationDisplayName("Intake")
    app.setApplicationVersion(__version__)
    app.setOrganizationName("Intake")
    # the Linux desktop entry packaging/linux/intake.desktop (window icon, task bar)
    app.setDesktopFileName(DESKTOP_FILE_NAME)
    icon = resource("icons", "intake.svg")
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))
    apply_style(app)
    install_rules(app)
    install_qt_translator(app, current_language())
    return app


def run_gui(*, data_dir: Path, demo: bool = False) -> int:
    """Run the desktop program on the profile in ``data_dir`` until it is closed."""
    app = create_application()
    if demo:
        ensure_demo_profile(data_dir)
    controller = AppController(Profile(data_dir))

    def backup_label() -> str:
        # Deferred: only the crash dialog asks, and the backups need SQLAlchemy.
        from intake_app.storage.backup import latest_backup

        latest = latest_backup(controller.profile)
        return latest.label() if latest else ""

    install_excepthook(restore=controller.restore_from_backup, backup_label=backup_label)
    controller.start()
    app.aboutToQuit.connect(controller.shutdown)
    log.info("desktop program started")
    return app.exec()
