"""The log-in window, the recovery dialog and the password dialogs.

Signals (of :class:`LoginWindow`): ``signed_in(object)`` with the new
:class:`~intake_app.app.Workspace`; ``language_changed(str)``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QPaintEvent, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from intake_app.demo.users import DEMO_USERS, is_demo_profile
from intake_app.errors import AuthError, IntakeError, KnownError, ValidationError
from intake_app.i18n import LANGUAGE_NAMES, LANGUAGES, _, current_language
from intake_app.storage.profile import Profile
from intake_app.ui.a11y import LiveLabel
from intake_app.ui.errors import show_error
from intake_app.ui.ops import CancelToken, run_op
from intake_app.ui.preload import Preloader, load_storage
from intake_app.ui.widgets import PasswordField, add_row, card, heading, ok_cancel_buttons

if TYPE_CHECKING:
    from intake_app.app import Workspace


def sign_in(
    profile: Profile,
    *,
    username: str,
    password: str,
    loader: Preloader | None = None,
) -> Workspace:
    """Sign in as :meth:`Workspace.sign_in` does, with the program loading beside Argon2id.

    Argon2id needs only the vault and releases the GIL while it runs, so the ``loader``
    thread (imports of the storage stack, and of the main window when the controller
    asks), started when the log-in window was shown or else here, runs meanwhile; the
    sign-in waits for it and fails with its failure (docs/architecture.md, "Start-up").
    """
    loader = loader or Preloader(load_storage)
    loader.start()
    vault = profile.vault()
    try:
        keys = vault.unlock_user(username, password)
    finally:
        loader.wait()
    loader.join()
    # Deferred: loaded by the loader thread, beside the typing and Argon2id.
    from intake_app.app import Workspace

    return Workspace.open_unlocked(profile, vault=vault, keys=keys, username=username)


class LoginWindow(QMainWindow):
    """Sign in to the profile. Signals: ``signed_in(object)``, ``language_changed(str)``.

    A main window (not a bare widget): screen readers hear it as a window ("frame"), as
    every other top-level window of the program (docs/accessibility.md)."""

    signed_in = Signal(object)
    language_changed = Signal(str)
    restore_requested = Signal()

    def __init__(
        self,
        profile: Profile,
        *,
        username: str = "",
        loader: Preloader | None = None,
    ) -> None:
        super().__init__()
        self._profile = profile
        #: loads the program behind the window; started once the window is shown
        self.loader = loader or Preloader(load_storage)
        self._wait_left = 0
        self._busy = False
        self.setWindowTitle(_("Anmeldung"))  # Qt adds " — Intake" (ui/main.py)

        self.username = QLineEdit(username)
        self.password = PasswordField(_("Passwort"))
        self.error = LiveLabel(assertive=True)  # read as its text, announced (ui/a11y.py)
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.note = LiveLabel()  # what happened at log-out (jobs waited for or cancelled)
        self.note.setObjectName("muted")
        self.note.setWordWrap(True)
        self.note.hide()
        self.sign_in_button = QPushButton(_("&Anmelden"))
        self.sign_in_button.setObjectName("primary")
        self.sign_in_button.setDefault(True)
        self.sign_in_button.setAccessibleName(_("Anmelden"))
        self.forgot = QPushButton(_("Passwort vergessen?"))
        self.forgot.setFlat(True)
        self.forgot.setAccessibleName(_("Passwort vergessen"))
        self.language = QComboBox()
        for code in LANGUAGES:
            self.language.addItem(LANGUAGE_NAMES[code], code)
        self.language.setCurrentIndex(LANGUAGES.index(current_language()))
        self.language.setAccessibleName(_("Sprache"))

        form_host = QWidget()
        form = QFormLayout(form_host)
        form.setContentsMargins(0, 0, 0, 0)
        add_row(form, _("&Benutzername:"), self.username)
        add_row(form, _("&Passwort:"), self.password)

        buttons = QHBoxLayout()
        buttons.addWidget(self.forgot)
        buttons.addStretch(1)
        buttons.addWidget(self.sign_in_button)
        button_host = QWidget()
        button_host.setLayout(buttons)

        site = QLabel(_("Verschlüsseltes Profil: {path}").format(path=profile.root))
        site.setObjectName("muted")
        site.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        panel = card(
            heading(_("Intake")),
            heading(_("Erstgespräche in der Integrationsberatung"), kind="subtitle"),
            self.note,
            form_host,
            self.error,
            button_host,
            width=520,
        )

        language_row = QHBoxLayout()
        language_row.addStretch(1)
        language_label = QLabel(_("&Sprache:"))
        language_label.setBuddy(self.language)
        language_row.addWidget(language_label)
        language_row.addWidget(self.language)

        host = QWidget()
        self.setCentralWidget(host)
        outer = QVBoxLayout(host)
        outer.addStretch(1)
        centre = QHBoxLayout()
        centre.addStretch(1)
        centre.addWidget(panel)
        centre.addStretch(1)
        outer.addLayout(centre)
        if is_demo_profile(profile.root):
            outer.addSpacing(12)
            outer.addLayout(self._demo_hint())
        outer.addSpacing(12)
        outer.addWidget(site, 0, Qt.AlignmentFlag.AlignHCenter)
        outer.addStretch(1)
        outer.addLayout(language_row)

        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self._on_tick)
        self.sign_in_button.clicked.connect(self._on_sign_in)
        self.password.returnPressed.connect(self._on_sign_in)
        self.username.returnPressed.connect(self.password.setFocus)
        self.forgot.clicked.connect(self._on_forgot)
        self.language.activated.connect(self._on_language)
        self.setTabOrder(self.username, self.password)
        self.setTabOrder(self.password, self.sign_in_button)
        (self.password if username else self.username).setFocus()

    def _demo_hint(self) -> QHBoxLayout:
        lines = [_("Demo-Profil mit erfundenen Personen. Anmeldung:")]
        for name, _role, display, password in DEMO_USERS:
            lines.append(f"{name} / {password}  ({display})")
        hint = QLabel("\n".join(lines))
        hint.setObjectName("hint")
        hint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(hint)
        row.addStretch(1)
        return row

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self.loader.started:
            # in case the window is not painted soon (covered, on another desktop)
            QTimer.singleShot(200, self.loader.start)

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if not self.loader.started:
            # Once the window is painted, not before: the loader holds the GIL for most
            # of its time, and the first paint runs Python (the event filter of
            # ui/rules.py) for every widget (docs/architecture.md, "Start-up").
            QTimer.singleShot(0, self.loader.start)

    # -- slots -------------------------------------------------------------------------

    def _on_sign_in(self) -> None:
        if self._busy or self._wait_left > 0:
            return
        name = self.username.text().strip()
        password = self.password.text()
        if not name or not password:
            self.error.setText(_("Bitte Benutzername und Passwort eingeben."))
            return
        self._set_busy(True)
        self.error.clear()

        def work(_token: CancelToken) -> Workspace:
            return sign_in(self._profile, username=name, password=password, loader=self.loader)

        run_op(
            self,
            work,
            on_success=self._on_signed_in,
            on_failure=self._on_failed,
            label=_("Anmelden"),
            cancellable=False,
        )

    def _on_signed_in(self, workspace: Workspace) -> None:
        self._set_busy(False)
        self.password.clear()
        if workspace.sign_in_result.new_recovery_key:
            show_new_recovery_key(self, workspace.sign_in_result.new_recovery_key)
        self.signed_in.emit(workspace)

    def _on_failed(self, exc: BaseException) -> None:
        self._set_busy(False)
        self.password.clear()
        if isinstance(exc, AuthError):
            self.error.setText(str(exc))
            if exc.retry_after > 0:
                self._wait_left = math.ceil(exc.retry_after)
                self._timer.start()
                self._on_tick()
            self.password.setFocus()
        elif isinstance(exc, KnownError) and exc.kind in ("corrupt", "missing"):
            # a damaged profile: say so, and offer the last backup
            self.error.setText(str(exc))
            answer = QMessageBox.question(
                self,
                _("Profil beschädigt"),
                _("{problem}\n\nJetzt eine Sicherung wiederherstellen?").format(problem=exc),
            )
            if answer == QMessageBox.StandardButton.Yes:
                self.restore_requested.emit()
        elif isinstance(exc, IntakeError):
            self.error.setText(str(exc))
        else:
            show_error(self, exc)

    def _on_tick(self) -> None:
        if self._wait_left <= 0:
            self._timer.stop()
            self.sign_in_button.setEnabled(True)
            self.sign_in_button.setText(_("&Anmelden"))
            return
        self.sign_in_button.setEnabled(False)
        self.sign_in_button.setText(_("Warten: {s} s").format(s=self._wait_left))
        self._wait_left -= 1

    def show_note(self, text: str) -> None:
        """A line above the form (read and announced): what happened at log-out."""
        self.note.setText(text)
        self.note.setVisible(bool(text))

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.sign_in_button.setEnabled(not busy)
        self.sign_in_button.setText(_("Anmelden …") if busy else _("&Anmelden"))
        if busy:
            self.setCursor(Qt.CursorShape.WaitCursor)
        else:
            self.unsetCursor()

    def _on_forgot(self) -> None:
        dialog = RecoveryDialog(self._profile, self)
        if dialog.exec() == QDialog.DialogCode.Accepted and dialog.workspace is not None:
            self.signed_in.emit(dialog.workspace)

    def _on_language(self, index: int) -> None:
        code = self.language.itemData(index)
        if code != current_language():
            self.language_changed.emit(code)


def show_new_recovery_key(parent: QWidget, key: str) -> None:
    """Show, once, the recovery key made when the profile moved to record stores."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(_("Neuer Wiederherstellungsschlüssel"))
    box.setText(
        _(
            "Intake hat die Verschlüsselung umgestellt: jede Beraterin und jeder Berater hat "
            "jetzt einen eigenen Aktenspeicher. Der bisherige Wiederherstellungsschlüssel gilt "
            "nicht mehr. Bitte schreiben Sie den neuen jetzt auf und verwahren Sie ihn sicher; "
            "er wird nur dieses eine Mal angezeigt."
        )
    )
    box.setInformativeText(key)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.exec()


class RecoveryDialog(QDialog):
    """Open the profile with the recovery key and set a new administrator password."""

    def __init__(self, profile: Profile, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._profile = profile
        self.workspace: Workspace | None = None
        self.setWindowTitle(_("Passwort vergessen"))
        explain = QLabel(
            _(
                "Benutzer der Beratung und Leitung bekommen ein neues Passwort von der "
                "Administration. Die Administration selbst setzt ein neues Passwort mit dem "
                "Wiederherstellungsschlüssel, der bei der Einrichtung angezeigt wurde."
            )
        )
        explain.setWordWrap(True)
        self.admin = QLineEdit("admin")
        self.key = QPlainTextEdit()
        self.key.setTabChangesFocus(True)
        self.key.setFixedHeight(64)
        self.key.setPlaceholderText("XXXXX-XXXXX-XXXXX-…")
        self.new = PasswordField(_("Neues Passwort"))
        self.repeat = PasswordField(_("Neues Passwort wiederholen"))
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        form = QFormLayout()
        add_row(form, _("&Administration:"), self.admin)
        add_row(form, _("&Wiederherstellungsschlüssel:"), self.key)
        add_row(form, _("&Neues Passwort:"), self.new)
        add_row(form, _("Neues Passwort wie&derholen:"), self.repeat)
        buttons = ok_cancel_buttons(self, _("Passwort setzen"), on_accept=self._on_accept)
        layout = QVBoxLayout(self)
        layout.addWidget(explain)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.resize(560, 360)

    def _on_accept(self) -> None:
        if self.new.text() != self.repeat.text():
            self.error.setText(_("Die beiden Passwörter stimmen nicht überein."))
            return
        # Deferred: the recovery opens the database (SQLAlchemy, docs/architecture.md,
        # "Start-up").
        from intake_app.app import Workspace

        try:
            self.workspace = Workspace.recover(
                self._profile,
                recovery_key=self.key.toPlainText(),
                username=self.admin.text().strip(),
                new_password=self.new.text(),
            )
        except IntakeError as exc:
            self.error.setText(str(exc))
            return
        self.key.clear()
        if self.workspace.sign_in_result.new_recovery_key:
            show_new_recovery_key(self, self.workspace.sign_in_result.new_recovery_key)
        self.accept()


class ChangePasswordDialog(QDialog):
    """Change one's own password; ``forced`` for the first log-in (no old password asked)."""

    def __init__(self, workspace: Workspace, *, forced: bool, parent: QWidget | None = None):
        super().__init__(parent)
        self._ws = workspace
        self._forced = forced
        self.setWindowTitle(_("Passwort ändern"))
        self.old = PasswordField(_("Bisheriges Passwort"))
        self.new = PasswordField(_("Neues Passwort"))
        self.repeat = PasswordField(_("Neues Passwort wiederholen"))
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        form = QFormLayout()
        if forced:
            note = QLabel(
                _("Bitte ersetzen Sie das Anfangspasswort durch ein eigenes, das nur Sie kennen.")
            )
            note.setWordWrap(True)
            form.addRow(note)
        else:
            add_row(form, _("&Bisheriges Passwort:"), self.old)
        add_row(form, _("&Neues Passwort:"), self.new)
        add_row(form, _("Neues Passwort &wiederholen:"), self.repeat)
        rules = QLabel(_("Mindestens 10 Zeichen."))
        rules.setObjectName("muted")
        form.addRow("", rules)
        buttons = ok_cancel_buttons(
            self,
            _("Passwort ändern"),
            on_accept=self._on_accept,
            cancel_text=_("Abmelden") if forced else "",
        )
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.resize(480, 260)

    def _on_accept(self) -> None:
        try:
            if self.new.text() != self.repeat.text():
                raise ValidationError(_("Die beiden Passwörter stimmen nicht überein."))
            if self._forced:
                self._ws.accounts.set_own_password(self.new.text())
            else:
                self._ws.accounts.change_own_password(
                    old_password=self.old.text(), new_password=self.new.text()
                )
        except IntakeError as exc:
            self.error.setText(str(exc))
            return
        self.accept()
