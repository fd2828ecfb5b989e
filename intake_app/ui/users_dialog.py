"""User management for administrators: add, reset password, deactivate, reactivate."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from intake_app.app import Workspace
from intake_app.core.formats import format_timestamp
from intake_app.core.permissions import Role
from intake_app.errors import IntakeError, ValidationError
from intake_app.i18n import _, current_language
from intake_app.storage.accounts import UserInfo
from intake_app.storage.site_grants import reset_note, supervisor_created_note
from intake_app.storage.vault_trust import withheld_message
from intake_app.ui.errors import show_error
from intake_app.ui.widgets import PasswordField, add_row, ok_cancel_buttons


class NewPasswordDialog(QDialog):
    """Ask for a new initial password twice (reset or reactivation)."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.password = PasswordField(_("Anfangspasswort"))
        self.repeat = PasswordField(_("Anfangspasswort wiederholen"))
        self.error = QLabel()
        self.error.setObjectName("error")
        note = QLabel(_("Die Person muss es bei der nächsten Anmeldung ändern."))
        note.setObjectName("muted")
        form = QFormLayout()
        add_row(form, _("&Anfangspasswort:"), self.password)
        add_row(form, _("&Wiederholen:"), self.repeat)
        buttons = ok_cancel_buttons(self, _("Passwort setzen"), on_accept=self._on_accept)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        # wide enough for the title with a long user name and a long passphrase
        self.setMinimumWidth(max(440, self.fontMetrics().horizontalAdvance(title) + 160))

    def _on_accept(self) -> None:
        if self.password.text() != self.repeat.text():
            self.error.setText(_("Die beiden Passwörter stimmen nicht überein."))
            return
        self.accept()


class AddUserDialog(QDialog):
    """Create a counsellor, supervisor or administrator."""

    def __init__(self, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ws = workspace
        self.setWindowTitle(_("Benutzer anlegen"))
        self.username = QLineEdit()
        self.display_name = QLineEdit()
        self.role = QComboBox()
        for role in (Role.COUNSELLOR, Role.SUPERVISOR, Role.ADMIN):
            self.role.addItem(role.label, role.value)
        self.password = PasswordField(_("Anfangspasswort"))
        self.repeat = PasswordField(_("Anfangspasswort wiederholen"))
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        form = QFormLayout()
        add_row(form, _("&Benutzername:"), self.username)
        add_row(form, _("&Anzeigename:"), self.display_name)
        add_row(form, _("&Rolle:"), self.role)
        add_row(form, _("Anfangs&passwort:"), self.password)
        add_row(form, _("&Wiederholen:"), self.repeat)
        buttons = ok_cancel_buttons(self, _("Anlegen"), on_accept=self._on_accept)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.resize(460, 300)

    def _on_accept(self) -> None:
        try:
            if self.password.text() != self.repeat.text():
                raise ValidationError(_("Die beiden Passwörter stimmen nicht überein."))
            self._ws.accounts.add_user(
                username=self.username.text(),
                role=self.role.currentData(),
                password=self.password.text(),
                display_name=self.display_name.text(),
            )
        except IntakeError as exc:
            self.error.setText(str(exc))
            return
        if self.role.currentData() == Role.SUPERVISOR.value:
            # docs/security.md, "Site key grants": creating the account gives no site key
            QMessageBox.information(
                self, _("Leitung angelegt"), supervisor_created_note(self.username.text())
            )
        self.accept()


class UsersDialog(QDialog):
    """The list of users with the administrator's actions."""

    COLUMNS = ("username", "display_name", "role", "status", "last_login")

    def __init__(self, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ws = workspace
        self._users: list[UserInfo] = []
        self.setWindowTitle(_("Benutzer verwalten"))
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(
            [_("Benutzername"), _("Anzeigename"), _("Rolle"), _("Status"), _("Letzte Anmeldung")]
        )
        self.table.setAccessibleName(_("Benutzerliste"))
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        # the status says more than one word ("aktiv, Anfangspasswort noch nicht geändert")
        header.setSectionResizeMode(
            self.COLUMNS.index("status"), QHeaderView.ResizeMode.ResizeToContents
        )
        self.table.horizontalHeader().setAccessibleName(_("Spalten der Benutzerliste"))
        self.add_button = QPushButton(_("Benutzer &anlegen …"))
        self.reset_button = QPushButton(_("Passwort &zurücksetzen …"))
        self.deactivate_button = QPushButton(_("&Deaktivieren"))
        self.reactivate_button = QPushButton(_("&Reaktivieren …"))
        close = QPushButton(_("Schließen"))
        buttons = QHBoxLayout()
        for button in (
            self.add_button,
            self.reset_button,
            self.deactivate_button,
            self.reactivate_button,
        ):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        self.add_button.clicked.connect(self._on_add)
        self.reset_button.clicked.connect(self._on_reset)
        self.deactivate_button.clicked.connect(self._on_deactivate)
        self.reactivate_button.clicked.connect(self._on_reactivate)
        close.clicked.connect(self.accept)
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.resize(920, 420)
        self.refresh()

    def refresh(self) -> None:
        self._users = self._ws.accounts.list_users()
        self.table.setRowCount(len(self._users))
        lang = current_language()
        for row, user in enumerate(self._users):
            # the same form as the case list's times
            last = format_timestamp(user.last_login_at, lang) if user.last_login_at else "–"
            if not user.active:
                state = _("deaktiviert")
            elif user.must_change_password:
                state = _("aktiv, Anfangspasswort noch nicht geändert")
            else:
                state = _("aktiv")
            values = (user.username, user.display_name, user.role.label, state, last)
            for column, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setToolTip(value)
                if not user.active:
                    item.setForeground(Qt.GlobalColor.gray)
                self.table.setItem(row, column, item)
        self._on_selection()

    def selected(self) -> UserInfo | None:
        rows = self.table.selectionModel().selectedRows()
        return self._users[rows[0].row()] if rows else None

    def _on_selection(self) -> None:
        user = self.selected()
        self.reset_button.setEnabled(bool(user and user.active))
        self.deactivate_button.setEnabled(
            bool(user and user.active and user.id != self._ws.actor.user_id)
        )
        self.reactivate_button.setEnabled(bool(user and not user.active))

    def _on_add(self) -> None:
        if AddUserDialog(self._ws, self).exec() == QDialog.DialogCode.Accepted:
            self.refresh()

    def _ask_password(self, title: str) -> str | None:
        dialog = NewPasswordDialog(title, self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.password.text()

    def _on_reset(self) -> None:
        user = self.selected()
        if user is None:
            return
        password = self._ask_password(
            _("Passwort für {name} zurücksetzen").format(name=user.username)
        )
        if password is None:
            return
        try:
            self._ws.accounts.reset_password(username=user.username, password=password)
        except IntakeError as exc:
            show_error(self, exc)
        else:
            if user.id != self._ws.actor.user_id and user.role is not Role.ADMIN:
                QMessageBox.information(
                    self, _("Passwort zurückgesetzt"), reset_note(user.username)
                )
            self._tell_withheld()
        self.refresh()

    def _tell_withheld(self) -> None:
        """Accounts the profile re-key just left out (docs/security.md, "Signed vault keys")."""
        if self._ws.accounts.withheld:
            QMessageBox.information(
                self, _("Neuer Schlüssel"), withheld_message(self._ws.accounts.withheld)
            )

    def _on_deactivate(self) -> None:
        user = self.selected()
        if user is None:
            return
        answer = QMessageBox.question(
            self,
            _("Benutzer deaktivieren"),
            _(
                "„{name}“ deaktivieren? Das Passwort öffnet das Profil danach nicht mehr; "
                "die Akten der Person bleiben erhalten."
            ).format(name=user.username),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,  # Enter does not deactivate by accident
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            self._ws.accounts.deactivate(username=user.username)
        except IntakeError as exc:
            show_error(self, exc)
        else:
            self._tell_withheld()
        self.refresh()

    def _on_reactivate(self) -> None:
        user = self.selected()
        if user is None:
            return
        password = self._ask_password(_("{name} reaktivieren").format(name=user.username))
        if password is None:
            return
        try:
            self._ws.accounts.reactivate(username=user.username, password=password)
        except IntakeError as exc:
            show_error(self, exc)
        self.refresh()
