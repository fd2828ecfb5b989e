"""What a supervisor hands on with her keys: a case to another counsellor, the site key to
another supervisor, a reset colleague's earlier records back to her (docs/security.md,
"Granting and revoking", "Site key grants", "Password reset").

The dialogs only ask and confirm; the work is the workspace's (``Workspace.move_case``,
``Workspace.grant_site_key``), the same the command line uses. Both actions are shown only
to someone whose keys can do them: moving needs every store of the site open, granting
needs the site key (an administrator holds neither).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from intake_app.app import Workspace
from intake_app.core.permissions import Permission, Role
from intake_app.core.records import display_name, index_fields
from intake_app.errors import IntakeError
from intake_app.i18n import _
from intake_app.storage.site_grants import no_site_key_note
from intake_app.storage.site_records import SiteRecords
from intake_app.ui.errors import show_error
from intake_app.ui.widgets import add_row, error_label, ok_cancel_buttons, room_for_title

if TYPE_CHECKING:
    from intake_app.ui.mainwindow import MainWindow
    from intake_app.ui.record_page import RecordPage


def can_move_cases(ws: Workspace) -> bool:
    """True when this workspace may and can move cases (a supervisor with the site key)."""
    return ws.actor.can(Permission.EDIT_SITE_RECORDS) and isinstance(ws.records, SiteRecords)


def can_grant_site_key(ws: Workspace) -> bool:
    """True for a supervisor who holds the site key."""
    return ws.actor.role is Role.SUPERVISOR and ws.holds_site_key()


class MoveCaseDialog(QDialog):
    """Choose the counsellor a case goes to, confirm, move (audited)."""

    def __init__(self, ws: Workspace, record_id: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ws = ws
        self.record_id = record_id
        self.moved_to: int | None = None
        self.setWindowTitle(_("Akte übergeben"))
        room_for_title(self)
        row = ws.records.get(record_id)
        names = ws.accounts.user_names()
        self.owner = QLabel(names.get(row.owner_id, "?"))
        self.target = QComboBox()
        self.target.setAccessibleName(_("Neue Beraterin oder neuer Berater"))
        for user_id, name in ws.move_targets(record_id):
            self.target.addItem(name, user_id)
        self.confirm = QCheckBox(
            _("Ich übergebe die Akte „{name}“ ({case}).").format(
                name=display_name(index_fields(row.answers)), case=row.case_number
            )
        )
        explain = QLabel(
            _(
                "Die Akte wandert in den Aktenspeicher der gewählten Person: Sie sieht sie "
                "danach, die bisherige Person nicht mehr. Die Übergabe wird im "
                "Audit-Protokoll vermerkt."
            )
        )
        explain.setWordWrap(True)
        self.error = error_label()
        form = QFormLayout()
        add_row(form, _("Bisher:"), self.owner)
        add_row(form, _("&Übergeben an:"), self.target)
        self.buttons = ok_cancel_buttons(self, _("Übergeben"), on_accept=self._on_accept)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        layout = QVBoxLayout(self)
        layout.addWidget(explain)
        layout.addLayout(form)
        layout.addWidget(self.confirm)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        if self.target.count() == 0:
            self.error.setText(
                _(
                    "Es gibt keine andere aktive Person mit eigenem Aktenspeicher. Neue "
                    "Beraterinnen und Berater müssen sich zuerst einmal anmelden."
                )
            )
        self.confirm.toggled.connect(self._update)
        self._update()

    def _update(self) -> None:
        self.ok_button.setEnabled(self.confirm.isChecked() and self.target.count() > 0)

    def _on_accept(self) -> None:
        to_owner = self.target.currentData()
        if to_owner is None or not self.confirm.isChecked():
            return
        try:
            self._ws.move_case(self.record_id, to_owner=int(to_owner))
        except IntakeError as exc:
            self.error.setText(str(exc))
            return
        self.moved_to = int(to_owner)
        self.accept()


class GrantSiteKeyDialog(QDialog):
    """Give another supervisor the site key: from then on she reads every record."""

    def __init__(self, ws: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ws = ws
        self.granted: str | None = None
        self.setWindowTitle(_("Zugang zu allen Akten freigeben"))
        room_for_title(self)
        self.person = QComboBox()
        self.person.setAccessibleName(_("Leitung, die den Zugang erhält"))
        for username, name in ws.site_key_candidates():
            self.person.addItem(f"{name} ({username})" if name != username else name, username)
        explain = QLabel(
            _(
                "Eine neue Leitung sieht zunächst nur ihre eigenen Akten. Mit der Freigabe "
                "erhält sie den Schlüssel des Standorts und liest ab ihrer nächsten "
                "Anmeldung alle Akten. Die Freigabe wird im Audit-Protokoll vermerkt. Nur "
                "Leitungen, die ihr eigenes Passwort gewählt haben, stehen hier."
            )
        )
        explain.setWordWrap(True)
        self.error = error_label()
        form = QFormLayout()
        add_row(form, _("&Leitung:"), self.person)
        self.buttons = ok_cancel_buttons(self, _("Zugang freigeben"), on_accept=self._on_accept)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setEnabled(self.person.count() > 0)
        if self.person.count() == 0:
            self.error.setText(_("Es gibt keine Leitung, der der Zugang noch fehlt."))
        layout = QVBoxLayout(self)
        layout.addWidget(explain)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

    def _on_accept(self) -> None:
        username = self.person.currentData()
        if username is None:
            return
        try:
            self._ws.grant_site_key(str(username))
        except IntakeError as exc:
            self.error.setText(str(exc))
            return
        self.granted = str(username)
        self.accept()


class ConfirmOwnersDialog(QDialog):
    """A supervisor confirms, per person, that she spoke to someone whose password the
    administration reset: only then are that person's earlier records sealed to her new
    key pair (docs/security.md, "Password reset")."""

    def __init__(self, ws: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ws = ws
        self.confirmed: list[str] = []
        self.setWindowTitle(_("Zurückgesetzte Passwörter bestätigen"))
        explain = QLabel(
            _(
                "Die Administration hat das Passwort der folgenden Personen zurückgesetzt. "
                "Ihre bisherigen Akten bleiben verschlossen, bis eine Leitung bestätigt, "
                "dass die Person das neue Passwort selbst gewählt hat. Bestätigen Sie nur, "
                "wenn Sie mit der Person selbst gesprochen haben (persönlich oder am "
                "Telefon) und sie sich seit dem Zurücksetzen selbst angemeldet hat. Wenn "
                "nicht: Lassen Sie das Häkchen weg und informieren Sie die "
                "Datenschutzbeauftragte."
            )
        )
        explain.setWordWrap(True)
        self.boxes: list[tuple[str, QCheckBox]] = []
        layout = QVBoxLayout(self)
        layout.addWidget(explain)
        for username, name in ws.owners_awaiting_confirmation():
            shown = f"{name} ({username})" if name != username else name
            box = QCheckBox(
                _("Ich habe mit {name} gesprochen; das neue Passwort ist ihr eigenes.").format(
                    name=shown
                )
            )
            box.setAccessibleName(_("Bestätigung für {name}").format(name=shown))
            box.toggled.connect(self._update)
            self.boxes.append((username, box))
            layout.addWidget(box)
        self.error = error_label()
        if not self.boxes:
            self.error.setText(_("Es wartet keine Bestätigung."))
        self.buttons = ok_cancel_buttons(self, _("Akten freigeben"), on_accept=self._on_accept)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        cancel = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        if cancel is not None:
            cancel.setText(_("Später"))
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(520)
        self._update()

    def _update(self) -> None:
        self.ok_button.setEnabled(any(box.isChecked() for _name, box in self.boxes))

    def _on_accept(self) -> None:
        for username, box in self.boxes:
            if not box.isChecked() or username in self.confirmed:
                continue
            try:
                self._ws.confirm_owner(username)
            except IntakeError as exc:
                self.error.setText(str(exc))
                return
            self.confirmed.append(username)
        self.accept()


def can_confirm_owners(ws: Workspace) -> bool:
    """True for a supervisor with the site key for whom a confirmation waits."""
    return can_grant_site_key(ws) and bool(ws.owners_awaiting_confirmation())


def confirm_owners(window: MainWindow) -> bool:
    """Ask the supervisor to confirm reset passwords; True when at least one was."""
    dialog = ConfirmOwnersDialog(window.ws, window)
    if dialog.exec() != QDialog.DialogCode.Accepted or not dialog.confirmed:
        return False
    window.statusBar().showMessage(
        _("Die bisherigen Akten von {names} sind wieder freigegeben.").format(
            names=", ".join(f"„{n}“" for n in dialog.confirmed)
        ),
        8000,
    )
    window.actions_["confirm_owners"].setVisible(can_confirm_owners(window.ws))
    return True


def after_sign_in(window: MainWindow) -> None:
    """At a supervisor's sign-in: ask for waiting confirmations; tell a supervisor who
    has no site key yet how she gets it."""
    ws = window.ws
    if ws.actor.role is not Role.SUPERVISOR:
        return
    if not ws.holds_site_key():
        window.statusBar().showMessage(no_site_key_note(), 0)
        return
    if ws.owners_awaiting_confirmation():
        confirm_owners(window)


def move_case(window: MainWindow, record_id: str | None = None) -> bool:
    """Ask for the counsellor and move the case (the open record, else the one selected
    in the case list); True when it moved."""
    if record_id is None:
        page = window.record_page
        record_id = getattr(page, "record_id", None)
    if record_id is None and window.cases is not None:
        selected = window.cases.selected_ids()
        if len(selected) == 1:
            record_id = selected[0]
    if record_id is None:
        QMessageBox.information(
            window, _("Akte übergeben"), _("Bitte wählen Sie zuerst genau eine Akte aus.")
        )
        return False
    try:
        dialog = MoveCaseDialog(window.ws, record_id, window)
    except IntakeError as exc:
        show_error(window, exc)
        return False
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return False
    window.statusBar().showMessage(_("Die Akte wurde übergeben."), 8000)
    window.show_list()
    return True


def grant_site_key(window: MainWindow) -> bool:
    """Ask which supervisor gets the site key and grant it; True when granted."""
    dialog = GrantSiteKeyDialog(window.ws, window)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return False
    window.statusBar().showMessage(
        _("Der Zugang zu allen Akten wurde für „{name}“ freigegeben.").format(name=dialog.granted),
        8000,
    )
    return True


def install_key_actions(window: MainWindow) -> None:
    """The actions "Akte übergeben …" and "Zugang zu allen Akten freigeben …" in the
    administration menu, shown only to those whose keys can do them."""
    ws = window.ws
    window.actions_.add(
        "move_case",
        _("Akte ü&bergeben …"),
        visible=can_move_cases(ws),
        slot=lambda: move_case(window),
    )
    window.actions_.add(
        "grant_site_key",
        _("Zugang zu allen Akten &freigeben …"),
        visible=can_grant_site_key(ws),
        slot=lambda: grant_site_key(window),
    )
    window.actions_.add(
        "confirm_owners",
        _("Zurückgesetzte Passwörter &bestätigen …"),
        visible=can_confirm_owners(ws),
        slot=lambda: confirm_owners(window),
    )
    window.actions_.place("move_case", "admin", after="audit_verify")
    window.actions_.place("grant_site_key", "admin", after="move_case")
    window.actions_.place("confirm_owners", "admin", after="grant_site_key")


def add_move_button(window: MainWindow, page: RecordPage) -> None:
    """The record view's "Akte übergeben …" button (supervisors with every store open)."""
    if not can_move_cases(window.ws):
        return
    button = QPushButton(_("Akte ü&bergeben …"))
    button.setToolTip(_("Die Akte einer anderen Beraterin oder einem anderen Berater geben"))
    button.clicked.connect(lambda: move_case(window, page.record_id))
    page.add_action(button)
