"""First-run set-up: create the profile and its administrator, show the recovery key once.

Signals (of :class:`SetupWizard`): ``profile_created(str username)`` when the profile
exists and the administrator confirmed the recovery key was written down.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from intake_app.core.permissions import check_password_policy, check_username
from intake_app.errors import IntakeError, ValidationError
from intake_app.i18n import _, current_language
from intake_app.storage.profile import Profile
from intake_app.ui.widgets import PasswordField, add_row, centred_column

PAGE_WIDTH = 640


class _WelcomePage(QWizardPage):
    def __init__(self, profile: Profile) -> None:
        super().__init__()
        self.setTitle(_("Willkommen bei Intake"))
        self.setSubTitle(_("Einrichtung dieses Geräts"))
        text = QLabel(
            _(
                "Intake speichert Erstgespräche verschlüsselt auf diesem Gerät. Zuerst legen "
                "Sie das Konto der Administration an. Danach zeigt Intake einmalig einen "
                "Wiederherstellungsschlüssel, mit dem die Daten auch bei vergessenem Passwort "
                "geöffnet werden können."
            )
        )
        text.setWordWrap(True)
        where = QLabel(_("Profilordner: {path}").format(path=profile.root))
        where.setObjectName("muted")
        where.setWordWrap(True)
        where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        column = QWidget()
        inner = QVBoxLayout(column)
        inner.setContentsMargins(0, 0, 0, 0)
        inner.addWidget(text)
        inner.addSpacing(12)
        inner.addWidget(where)
        layout = QVBoxLayout(self)
        layout.addWidget(centred_column(column, width=PAGE_WIDTH))
        layout.addStretch(1)


class _AdminPage(QWizardPage):
    """Collects the administrator's account; creating the profile commits the wizard."""

    def __init__(self, profile: Profile) -> None:
        super().__init__()
        self._profile = profile
        self.recovery_key = ""
        self.setTitle(_("Konto der Administration"))
        self.setSubTitle(
            _("Die Administration legt Benutzer an und verwaltet das Gerät. Sie sieht keine Akten.")
        )
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, _("Profil anlegen"))
        self.username = QLineEdit("admin")
        self.display_name = QLineEdit()
        self.site = QLineEdit()
        self.site.setPlaceholderText(_("z. B. Kommunales Integrationszentrum Köln, Mülheim"))
        self.password = PasswordField(_("Passwort"))
        self.repeat = PasswordField(_("Passwort wiederholen"))
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.setAccessibleName(_("Fehlermeldung"))
        rules = QLabel(_("Mindestens 10 Zeichen. Ein Satz aus mehreren Wörtern ist gut zu merken."))
        rules.setObjectName("muted")
        rules.setWordWrap(True)
        column = QWidget()
        form = QFormLayout(column)
        form.setContentsMargins(0, 0, 0, 0)
        outer = QVBoxLayout(self)
        outer.addWidget(centred_column(column, width=PAGE_WIDTH))
        outer.addStretch(1)
        add_row(form, _("&Benutzername:"), self.username)
        add_row(form, _("&Anzeigename:"), self.display_name)
        add_row(form, _("&Standort:"), self.site)
        add_row(form, _("&Passwort:"), self.password)
        add_row(form, _("Passwort &wiederholen:"), self.repeat)
        form.addRow("", rules)
        form.addRow("", self.error)
        for field in (self.username, self.password, self.repeat):
            field.textChanged.connect(self.completeChanged)

    def isComplete(self) -> bool:
        return bool(self.username.text().strip() and self.password.text() and self.repeat.text())

    def validatePage(self) -> bool:
        try:
            name = check_username(self.username.text())
            if self.password.text() != self.repeat.text():
                raise ValidationError(_("Die beiden Passwörter stimmen nicht überein."))
            check_password_policy(self.password.text(), username=name)
            QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
            try:
                self.recovery_key = self._profile.create(
                    admin_name=name,
                    admin_password=self.password.text(),
                    display_name=self.display_name.text(),
                    site_name=self.site.text().strip(),
                    language=current_language(),
                )
            finally:
                QGuiApplication.restoreOverrideCursor()
        except IntakeError as exc:
            self.error.setText(str(exc))
            return False
        self.error.clear()
        self.password.clear()
        self.repeat.clear()
        return True


class _RecoveryPage(QWizardPage):
    def __init__(self, admin_page: _AdminPage) -> None:
        super().__init__()
        self._admin_page = admin_page
        self.setTitle(_("Wiederherstellungsschlüssel"))
        self.setSubTitle(_("Wird nur jetzt angezeigt. Bitte notieren oder ausdrucken."))
        self.key_label = QLabel()
        self.key_label.setObjectName("recoveryKey")
        self.key_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.key_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.key_label.setWordWrap(True)
        self.key_label.setAccessibleName(_("Wiederherstellungsschlüssel"))
        explain = QLabel(
            _(
                "Mit diesem Schlüssel kann die Administration ein neues Passwort setzen, wenn "
                "das alte vergessen wurde. Wer den Schlüssel hat, kann alle Daten öffnen: "
                "Bewahren Sie ihn verschlossen auf, getrennt vom Gerät, und nicht als Datei "
                "auf diesem Rechner."
            )
        )
        explain.setWordWrap(True)
        self.confirm = QCheckBox(_("Ich habe den Schlüssel notiert und sicher verwahrt."))
        self.confirm.setAccessibleName(self.confirm.text())
        self.confirm.toggled.connect(self.completeChanged)
        column = QWidget()
        inner = QVBoxLayout(column)
        inner.setContentsMargins(0, 0, 0, 0)
        inner.addWidget(self.key_label)
        inner.addSpacing(8)
        inner.addWidget(explain)
        inner.addSpacing(16)
        inner.addWidget(self.confirm)
        layout = QVBoxLayout(self)
        layout.addWidget(centred_column(column, width=PAGE_WIDTH))
        layout.addStretch(1)

    def initializePage(self) -> None:
        self.key_label.setText(self._admin_page.recovery_key)

    def isComplete(self) -> bool:
        return self.confirm.isChecked()


class SetupWizard(QWizard):
    """The first-run wizard. Signals: ``profile_created(str)`` with the admin's name."""

    profile_created = Signal(str)

    def __init__(self, profile: Profile, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(_("Intake einrichten"))
        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, True)
        self.setOption(QWizard.WizardOption.NoCancelButtonOnLastPage, True)
        self.setButtonText(QWizard.WizardButton.NextButton, _("&Weiter"))
        self.setButtonText(QWizard.WizardButton.BackButton, _("&Zurück"))
        self.setButtonText(QWizard.WizardButton.CancelButton, _("Abbrechen"))
        self.setButtonText(QWizard.WizardButton.FinishButton, _("&Fertig"))
        self.welcome = _WelcomePage(profile)
        self.admin = _AdminPage(profile)
        self.recovery = _RecoveryPage(self.admin)
        for page in (self.welcome, self.admin, self.recovery):
            self.addPage(page)
        self.resize(720, 560)

    def accept(self) -> None:
        username = self.admin.username.text().strip()
        self.recovery.key_label.clear()  # do not keep the key on screen or in memory longer
        self.admin.recovery_key = ""
        super().accept()
        self.profile_created.emit(username)
