"""Backups in the settings window, and the restore dialog (also offered after a damaged start).

:class:`BackupPage` lists the backups, makes one now and asks for a restore; the restore
itself runs with the profile closed, through :func:`offer_restore`, which shows
:class:`RestoreDialog`: choose a backup, confirm with an administrator's password, and
read what a restore means (the present state is kept; the passwords and the recovery key
of backup time apply again). Signals (page): ``restore_requested()``.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from intake_app.app import Workspace
from intake_app.errors import IntakeError
from intake_app.i18n import _
from intake_app.storage.backup import (
    BackupInfo,
    BackupReason,
    RestoreResult,
    backup_if_due,
    create_backup,
    latest_backup,
    list_backups,
    restore_backup,
    unlock_for_restore,
)
from intake_app.storage.profile import Profile
from intake_app.ui.crash_dialog import fit_height
from intake_app.ui.errors import show_error
from intake_app.ui.ops import CancelToken, run_op
from intake_app.ui.widgets import PasswordField, add_row, ok_cancel_buttons


def restore_explanation() -> str:
    """What a restore does, in the words shown before one is started."""
    return _(
        "Der Stand der gewählten Sicherung ersetzt den jetzigen Stand dieses Geräts. Der "
        "jetzige Stand wird vorher als eigene Sicherung „Stand vor einer Wiederherstellung“ "
        "aufbewahrt; es geht nichts verloren.\n\n"
        "Danach gelten die Passwörter und der Wiederherstellungsschlüssel, die zum Zeitpunkt "
        "der Sicherung galten. Was seitdem erfasst wurde, ist erst wieder zu sehen, wenn der "
        "aufbewahrte Stand zurückgeholt wird. Bereits übermittelte Aufnahmen werden unter "
        "Umständen noch einmal gesendet; die Zentrale erkennt doppelte."
    )


def _size(info: BackupInfo) -> str:
    return _("{mb} MB").format(mb=f"{info.size / (1024 * 1024):.1f}".replace(".", ","))


class BackupPage(QWidget):
    """The list of backups with "Jetzt sichern", "Ordner öffnen" and "Wiederherstellen …".

    Signals: ``restore_requested()`` (the window closes and the restore dialog follows).
    """

    restore_requested = Signal()

    def __init__(
        self, workspace: Workspace, *, can_restore: bool, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._ws = workspace
        intro = QLabel(
            _(
                "Sicherungen liegen verschlüsselt im Profilordner und schützen vor einer "
                "beschädigten Datenbank oder einem versehentlichen Fehler. Gegen den Verlust "
                "des Geräts schützen sie nicht; dafür übermitteln Sie abgeschlossene "
                "Aufnahmen regelmäßig an die Zentrale."
            )
        )
        intro.setWordWrap(True)
        self.latest = QLabel()
        self.latest.setWordWrap(True)
        self.latest.setAccessibleName(_("Letzte Sicherung"))
        self.list = QListWidget()
        self.list.setAccessibleName(_("Vorhandene Sicherungen"))
        self.list.setMinimumHeight(140)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setAccessibleName(_("Rückmeldung zur Sicherung"))

        self.backup_button = QPushButton(_("&Jetzt sichern"))
        self.folder_button = QPushButton(_("&Ordner öffnen"))
        self.folder_button.setAccessibleDescription(_("Öffnet den Ordner mit den Sicherungen"))
        self.restore_button = QPushButton(_("&Wiederherstellen …"))
        self.restore_button.setAccessibleDescription(
            _("Meldet ab und stellt eine Sicherung wieder her; der jetzige Stand bleibt erhalten")
        )
        self.restore_button.setEnabled(can_restore)
        self.restore_note = QLabel(
            _(
                "Zum Wiederherstellen melden Sie sich ab; dann fragt Intake nach der Sicherung "
                "und dem Passwort einer Administratorin oder eines Administrators."
            )
            if can_restore
            else _(
                "Wiederherstellen ist in diesem Fenster nicht verfügbar. Nutzen Sie den Befehl "
                "„intake-app backup restore latest“."
            )
        )
        self.restore_note.setObjectName("muted")
        self.restore_note.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.backup_button)
        buttons.addWidget(self.folder_button)
        buttons.addStretch(1)
        buttons.addWidget(self.restore_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(intro)
        layout.addWidget(self.latest)
        layout.addWidget(self.list)
        layout.addLayout(buttons)
        layout.addWidget(self.restore_note)
        layout.addWidget(self.status)
        self.backup_button.clicked.connect(self._on_backup)
        self.folder_button.clicked.connect(self._on_folder)
        self.restore_button.clicked.connect(self._on_restore)
        self.refresh()

    def refresh(self) -> None:
        """Read the backup folder again."""
        self.list.clear()
        backups = list_backups(self._ws.profile)
        for info in backups:
            item = QListWidgetItem(f"{info.label()} · {_size(info)}")
            item.setData(Qt.ItemDataRole.UserRole, info.name)
            self.list.addItem(item)
        latest = latest_backup(self._ws.profile)
        self.latest.setText(
            _("Letzte Sicherung: {label}").format(label=latest.label())
            if latest
            else _("Es gibt noch keine Sicherung. Die erste entsteht bei der nächsten Anmeldung.")
        )
        self.restore_button.setEnabled(self.restore_button.isEnabled() and bool(backups))

    # -- slots ---------------------------------------------------------------------------

    def _on_backup(self) -> None:
        self.backup_button.setEnabled(False)
        self.status.setText(_("Sicherung läuft …"))
        ws = self._ws

        def work(_token: CancelToken) -> BackupInfo:
            return create_backup(ws, reason=BackupReason.MANUAL)

        run_op(
            self,
            work,
            on_success=self._on_backup_done,
            on_failure=self._on_backup_failed,
            label=_("Sicherung"),
            cancellable=False,
        )

    def _on_backup_done(self, info: BackupInfo) -> None:
        self.backup_button.setEnabled(True)
        self.status.setText(_("Gesichert: {label}.").format(label=info.label()))
        self.refresh()

    def _on_backup_failed(self, exc: BaseException) -> None:
        self.backup_button.setEnabled(True)
        self.status.setText(_("Die Sicherung ist nicht gelungen."))
        show_error(self, exc)

    def _on_folder(self) -> None:
        folder = self._ws.profile.backups_dir
        folder.mkdir(parents=True, exist_ok=True)
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
            self.status.setText(_("Die Sicherungen liegen im Ordner: {path}").format(path=folder))

    def _on_restore(self) -> None:
        answer = QMessageBox.question(
            self,
            _("Sicherung wiederherstellen"),
            _(
                "Für die Wiederherstellung werden Sie abgemeldet. Alle Eingaben sind bereits "
                "gespeichert.\n\n{explain}\n\nJetzt abmelden und fortfahren?"
            ).format(explain=restore_explanation()),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.restore_requested.emit()


class RestoreDialog(QDialog):
    """Choose a backup and restore it with an administrator's password.

    ``result_`` holds the :class:`RestoreResult` after a successful restore.
    """

    def __init__(
        self,
        profile: Profile,
        *,
        username: str = "",
        reason: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._profile = profile
        self.result_: RestoreResult | None = None
        self.setWindowTitle(_("Sicherung wiederherstellen"))
        self.setAccessibleName(_("Sicherung wiederherstellen"))
        lead = QLabel(reason)
        lead.setWordWrap(True)
        lead.setVisible(bool(reason))
        lead.setObjectName("error")
        explain = QLabel(restore_explanation())
        explain.setWordWrap(True)
        self.backups = QComboBox()
        self._infos = list_backups(profile)
        latest = latest_backup(profile)
        for info in self._infos:
            self.backups.addItem(f"{info.label()} · {_size(info)}", info.name)
        if latest is not None:
            self.backups.setCurrentIndex(max(self.backups.findData(latest.name), 0))
        self.username = QLineEdit(username)
        self.password = PasswordField(_("Passwort"))
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.setAccessibleName(_("Fehlermeldung"))
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        add_row(form, _("&Sicherung:"), self.backups)
        add_row(form, _("&Administration:"), self.username, accessible=_("Benutzername"))
        add_row(form, _("&Passwort:"), self.password)
        self.buttons = ok_cancel_buttons(self, _("Wiederherstellen"), on_accept=self._on_accept)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setObjectName("primary")
        self.ok_button.setEnabled(bool(self._infos))
        if not self._infos:
            self.error.setText(_("Es gibt keine Sicherung. Bitte wenden Sie sich an die IT."))
        layout = QVBoxLayout(self)
        layout.setSizeConstraint(QLayout.SizeConstraint.SetMinimumSize)
        layout.addWidget(lead)
        layout.addWidget(explain)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        em = self.fontMetrics().horizontalAdvance("M")
        self.setMinimumWidth(min(em * 40, 1000))
        (self.password if username else self.username).setFocus()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        fit_height(self)

    def selected(self) -> BackupInfo | None:
        """The backup chosen in the list."""
        name = self.backups.currentData()
        return next((info for info in self._infos if info.name == name), None)

    def _on_accept(self) -> None:
        info = self.selected()
        name = self.username.text().strip()
        password = self.password.text()
        if info is None:
            return
        if not name or not password:
            self.error.setText(_("Bitte Benutzername und Passwort eingeben."))
            return
        self.error.setText(_("Wiederherstellung läuft …"))
        self.ok_button.setEnabled(False)
        profile = self._profile

        def work(_token: CancelToken) -> RestoreResult:
            key = unlock_for_restore(profile, info, username=name, password=password)
            return restore_backup(profile, info, key=key, username=name)

        run_op(
            self,
            work,
            on_success=self._on_done,
            on_failure=self._on_failed,
            label=_("Wiederherstellung"),
            cancellable=False,
        )

    def _on_done(self, result: RestoreResult) -> None:
        self.password.clear()
        self.result_ = result
        self.accept()

    def _on_failed(self, exc: BaseException) -> None:
        self.ok_button.setEnabled(True)
        self.password.clear()
        if isinstance(exc, IntakeError):
            self.error.setText(str(exc))
        else:
            self.error.setText("")
            show_error(self, exc)


def restored_message(result: RestoreResult) -> str:
    """What to tell the user after a restore."""
    return _(
        "Die Sicherung vom {label} ist wiederhergestellt.\n\nDer vorherige Stand ist als "
        "Sicherung „{safety}“ aufbewahrt. Melden Sie sich jetzt mit dem Passwort an, das zum "
        "Zeitpunkt der Sicherung galt."
    ).format(label=result.restored.label(), safety=result.safety_copy.name)


def offer_restore(
    parent: QWidget | None, profile: Profile, *, username: str = "", reason: str = ""
) -> RestoreResult | None:
    """Show the restore dialog (the profile must be closed); report and return the result."""
    dialog = RestoreDialog(profile, username=username, reason=reason, parent=parent)
    dialog.exec()
    result = dialog.result_
    if result is not None:
        QMessageBox.information(parent, _("Sicherung wiederhergestellt"), restored_message(result))
    return result


def start_daily_backup(parent: QWidget, workspace: Workspace) -> None:
    """Make the day's backup in the background after sign-in (nothing when one exists).

    A failure (a full disk, say) is shown as an error dialog: the counsellor can go on
    working, and knows that today's data has no backup yet.
    """

    def work(_token: CancelToken) -> BackupInfo | None:
        return backup_if_due(workspace)

    run_op(
        parent,
        work,
        on_failure=lambda exc: show_error(parent, exc),
        label=_("Tägliche Sicherung"),
        cancellable=False,
    )
