"""Which window is shown when: set-up, log-in, main window; log-out; language switch.

The controller owns the one :class:`~intake_app.app.Workspace` of a signed-in user and
passes it into the main window (no global registry).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox, QWidget

from intake_app.errors import IntakeError
from intake_app.i18n import _, set_language
from intake_app.storage.profile import Profile
from intake_app.ui.geometry import centre
from intake_app.ui.login import ChangePasswordDialog, LoginWindow
from intake_app.ui.ops import finish_running, wait_for_all
from intake_app.ui.preload import Preloader, load_storage
from intake_app.ui.qt_i18n import install_qt_translator

if TYPE_CHECKING:
    from intake_app.app import Workspace
    from intake_app.ui.mainwindow import MainWindow

log = logging.getLogger("intake.ui")


def _load_main_window() -> None:
    """What the sign-in needs (ui/preload.py), and the main window's modules."""
    load_storage()
    # Deferred: the main window loads in the log-in window's background load (ui/preload.py;
    # docs/architecture.md, "Start-up").
    import intake_app.ui.mainwindow  # noqa: F401


class AppController(QObject):
    """Drives the program's top-level windows for one profile."""

    def __init__(self, profile: Profile) -> None:
        super().__init__()
        self.profile = profile
        self.window: QWidget | None = None
        self.workspace: Workspace | None = None
        self._main: MainWindow | None = None
        self._last_user = ""
        #: the one background load of the main window (started by the log-in window)
        self.loader = Preloader(_load_main_window)

    @property
    def main_window(self) -> MainWindow | None:
        """The main window when it is the one shown (its module loads at sign-in)."""
        main = self._main
        return main if main is not None and self.window is main else None

    def start(self) -> None:
        if self.profile.exists():
            self.show_login()
        else:
            self.show_setup()

    def _replace(self, window: QWidget) -> None:
        old = self.window
        self.window = window
        if not getattr(window, "geometry_restored", False):
            window.resize(1280, 800)
            centre(window, near=old)  # on the screen of the window it replaces
        window.show()
        if old is not None:
            old.hide()
            old.deleteLater()

    def show_setup(self) -> None:
        # Deferred: the set-up wizard is shown once per profile, never on a normal start.
        from intake_app.ui.setup_wizard import SetupWizard

        wizard = SetupWizard(self.profile)
        wizard.profile_created.connect(self._on_profile_created)
        wizard.rejected.connect(QApplication.quit)
        self._replace(wizard)

    def _on_profile_created(self, username: str) -> None:
        self._last_user = username
        self.show_login()

    def show_login(self) -> None:
        login = LoginWindow(self.profile, username=self._last_user, loader=self.loader)
        login.signed_in.connect(self._on_signed_in)
        login.restore_requested.connect(lambda: self.restore_from_backup(login))
        login.language_changed.connect(self._on_language_changed)
        self._replace(login)

    def _on_signed_in(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self._last_user = workspace.actor.username
        if workspace.sign_in_result.safe_mode:
            # docs/security.md, "Device: integrity of roles and the audit log": say what
            # was changed; nothing is repaired or deleted behind the user's back.
            QMessageBox.warning(
                self.window,
                _("Sicherer Modus"),
                _(
                    "Intake hat Änderungen an seinen Dateien gefunden, die außerhalb des "
                    "Programms gemacht wurden, und arbeitet im sicheren Modus: geänderte "
                    "Angaben gelten nicht, nichts wurde gelöscht, der Vorfall steht im "
                    "Audit-Protokoll."
                )
                + "\n\n"
                + "\n".join(workspace.sign_in_result.integrity_messages)
                + "\n\n"
                + _("Bitte informieren Sie die Administration."),
            )
        if workspace.sign_in_result.notices:
            QMessageBox.information(
                self.window, _("Hinweis"), "\n\n".join(workspace.sign_in_result.notices)
            )
        if workspace.sign_in_result.must_change_password:
            dialog = ChangePasswordDialog(workspace, forced=True, parent=self.window)
            if dialog.exec() != QDialog.DialogCode.Accepted:
                self.logout()
                return
        self.show_main()

        if self.window is not None:
            # Deferred: the backup jobs and their dialogs load after the sign-in
            # (docs/architecture.md, "Start-up").
            from intake_app.ui.settings_backup import start_daily_backup

            start_daily_backup(self.window, workspace)
            # Deferred like the backup jobs (docs/architecture.md, "Start-up"): waiting
            # confirmations of reset passwords, or how to get the site key
            # (docs/security.md, "Password reset", "Site key grants").
            from intake_app.ui.key_dialogs import after_sign_in
            from intake_app.ui.mainwindow import MainWindow

            if isinstance(self.window, MainWindow):
                after_sign_in(self.window)

    def restore_from_backup(self, parent: QWidget | None = None) -> None:
        """Close everything, offer the last backups, then show the log-in again."""
        # Deferred: the restore dialog and the backups load when a restore is asked for.
        from intake_app.ui.settings_backup import offer_restore

        finish_running(parent or self.window, _("Wiederherstellung"))
        main = self.main_window
        if main is not None:
            if not main.shutdown_pages():
                return  # the user stays with the unsaved interview
            main.lock.stop()
        if self.workspace is not None:
            try:
                self.workspace.close()
            except IntakeError:
                log.warning("closing before a restore failed")
            self.workspace = None
        offer_restore(parent or self.window, self.profile, username=self._last_user)
        self.show_login()

    def show_main(self) -> None:
        # Deferred: loaded by self.loader (_load_main_window) before the sign-in ends.
        from intake_app.ui.mainwindow import MainWindow

        assert self.workspace is not None
        main = MainWindow(self.workspace)
        self._main = main
        main.logout_requested.connect(self.logout)
        main.language_changed.connect(self._on_language_changed)
        main.destroyed.connect(lambda: None)
        self._replace(main)

    def logout(self) -> None:
        """Sign out: running background jobs are waited for or cancelled first (a
        dialog names them), then the interview is saved and the workspace closed; the
        log-in window says what happened to the jobs."""
        note = finish_running(self.window, _("Abmelden"))
        main = self.main_window
        if main is not None:
            if not main.shutdown_pages():
                return  # the user stays with the unsaved interview
            main.save_geometry()
            main.lock.stop()
        if self.workspace is not None:
            self.workspace.close()
            self.workspace = None
        self.show_login()
        if note and isinstance(self.window, LoginWindow):
            self.window.show_note(_("Abgemeldet. {what}").format(what=note))

    def _on_language_changed(self, code: str) -> None:
        # The main window is built anew in the other language: save the open interview
        # first (or let the user keep it when its answers cannot be saved).
        main = self.main_window
        if main is not None and not main.shutdown_pages():
            return
        self.profile.set_device_setting(
            "ui.language", code
        ) if self.profile.meta_path.exists() else None
        set_language(code)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            install_qt_translator(app, code)
        if self.workspace is not None and main is not None:
            self.show_main()
        else:
            self.show_login()

    def shutdown(self) -> None:
        """Close the workspace when the program ends."""
        finish_running(self.window, _("Beenden"))
        wait_for_all()
        main = self.main_window
        if main is not None:
            main.shutdown_pages()
            main.save_geometry()
        if self.workspace is not None:
            self.workspace.close()
            self.workspace = None
