"""The settings window for administrators, built from the declarations in ``core.settings``.

One page per settings group (in the order of declaration), each setting with the widget
its type calls for, its description as label, its help text, its limits, and German
validation messages; plus the organisation and consent configuration
(:mod:`intake_app.ui.settings_organisation`) and the backups
(:mod:`intake_app.ui.settings_backup`). Nothing is stored until "Speichern", and then
only when every page is valid; profile settings go through ``ws.settings.put`` (checked
and audited there), the language is a device setting.

After ``exec()`` the caller reads ``language_to_apply`` (switch the interface language)
and ``changed_keys``; a restore request is handed to ``on_restore`` once the window has
closed. Signals: ``saved(list)`` with the keys that changed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from intake_app.app import Workspace
from intake_app.core import settings as declared
from intake_app.core.audit import AuditAction
from intake_app.core.forms import OrganisationConfig
from intake_app.core.permissions import Permission
from intake_app.errors import IntakeError, ValidationError
from intake_app.i18n import _
from intake_app.ui.errors import restore_handler, show_error
from intake_app.ui.settings_backup import BackupPage
from intake_app.ui.settings_fields import SettingField
from intake_app.ui.settings_organisation import (
    OrganisationFile,
    OrganisationPage,
    change_warnings,
    text_digest,
)
from intake_app.ui.style import BORDER, PRIMARY, PRIMARY_DARK, SURFACE
from intake_app.ui.widgets import heading

log = logging.getLogger("intake.ui")

#: Settings that the running session read at sign-in; they apply from the next one.
NEXT_SIGN_IN = ("site.name", "security.autolock_minutes")
NAV_STYLE = (
    f"QListWidget#settingsNav {{ background: {SURFACE}; border: 1px solid {BORDER}; "
    "border-radius: 6px; outline: 0; }"
    "QListWidget#settingsNav::item { padding: 0 10px; border-bottom: 1px solid #edf0f3; }"
    f"QListWidget#settingsNav::item:selected {{ background: {PRIMARY}; color: white; }}"
    f"QListWidget#settingsNav::item:focus {{ border: 2px solid {PRIMARY_DARK}; }}"
)
ORGANISATION_PAGE = "organisation-file"


class _NotSaved(Exception):
    """Saving stopped before anything was written (the reason is shown)."""


def _scrolled(inner: QWidget) -> QScrollArea:
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    area.setWidget(inner)
    return area


class SettingsWindow(QDialog):
    """Every setting an administrator may change, grouped as declared.

    Args:
        workspace: the signed-in administrator's workspace.
        on_restore: called with the parent window after the user asked to restore a
            backup (default: the handler given to ``install_excepthook``).

    Signals: ``saved(list)`` with the keys changed by "Speichern".
    """

    saved = Signal(list)

    def __init__(
        self,
        workspace: Workspace,
        *,
        parent: QWidget | None = None,
        on_restore: Callable[[QWidget | None], None] | None = None,
    ) -> None:
        super().__init__(parent)
        workspace.actor.require(Permission.MANAGE_SETTINGS)
        self.ws = workspace
        self._on_restore = on_restore if on_restore is not None else restore_handler()
        self._parent = parent
        self.language_to_apply: str | None = None
        self.changed_keys: list[str] = []
        self.restore_requested = False
        self.setWindowTitle(_("Einstellungen"))
        self.setAccessibleName(_("Einstellungen"))
        self.setMinimumSize(640, 440)

        values = workspace.settings.all()
        self.fields: dict[str, SettingField] = {}
        self.nav = QListWidget()
        self.nav.setObjectName("settingsNav")
        self.nav.setAccessibleName(_("Bereiche der Einstellungen"))
        self.nav.setStyleSheet(NAV_STYLE)
        self.pages = QStackedWidget()
        self._page_of: dict[str, int] = {}

        groups: dict[str, list[declared.SettingSpec]] = {}
        for spec in declared.SETTINGS:
            groups.setdefault(spec.group, []).append(spec)
        for group, specs in groups.items():
            column = QWidget()
            layout = QVBoxLayout(column)
            layout.addWidget(heading(_(group)))
            for spec in specs:
                value = (
                    workspace.profile.device_setting(spec.key)
                    if spec.scope is declared.Scope.DEVICE
                    else values[spec.key]
                )
                field = SettingField(spec, value)
                field.changed.connect(self._on_changed)
                self.fields[spec.key] = field
                layout.addWidget(field.widget)
                self._page_of[spec.key] = self.pages.count()
            if group == declared.SPECS["backup.keep_days"].group:
                self.backup_page = BackupPage(workspace, can_restore=self._on_restore is not None)
                self.backup_page.restore_requested.connect(self._on_restore_requested)
                layout.addWidget(self.backup_page)
            layout.addStretch(1)
            self._add_page(_(group), _scrolled(column))
            if group == declared.SPECS["site.name"].group:
                self._add_organisation_page()

        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setAccessibleName(_("Rückmeldung"))
        self.save_button = QPushButton(_("&Speichern"))
        self.save_button.setObjectName("primary")
        self.save_button.setDefault(True)
        self.save_button.setEnabled(workspace.settings.unconfirmed)
        if workspace.settings.unconfirmed:
            self._set_status(
                _(
                    "Die gespeicherten Profileinstellungen tragen keine gültige Unterschrift "
                    "der Administration, oder eine ältere Fassung wurde zurückgespielt; "
                    "angezeigt werden die Voreinstellungen. Prüfen Sie sie und speichern Sie, "
                    "damit sie wieder unterschrieben gelten."
                ),
                error=True,
            )
        self.close_button = QPushButton(_("S&chließen"))
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.close_button)
        buttons.addWidget(self.save_button)

        body = QHBoxLayout()
        body.addWidget(self.nav)
        body.addWidget(self.pages, 1)
        outer = QVBoxLayout(self)
        outer.addLayout(body, 1)
        outer.addLayout(buttons)

        self.nav.currentRowChanged.connect(self.pages.setCurrentIndex)
        self.save_button.clicked.connect(self.save)
        self.close_button.clicked.connect(self.reject)
        self.nav.setCurrentRow(0)
        self.setTabOrder(self.nav, self.pages)
        self.resize(960, 680)

    def _add_page(self, title: str, page: QWidget) -> None:
        item = QListWidgetItem(title)
        metrics = self.nav.fontMetrics()
        item.setSizeHint(QSize(metrics.horizontalAdvance(title) + 32, metrics.height() + 18))
        self.nav.addItem(item)
        self.pages.addWidget(page)
        widest = max(self.nav.sizeHintForColumn(0), metrics.horizontalAdvance("M") * 12)
        self.nav.setFixedWidth(widest + 8)

    def _add_organisation_page(self) -> None:
        self.organisation = OrganisationPage(OrganisationFile(self.ws.profile.root, self.ws))
        self.organisation.changed.connect(self._on_changed)
        self._page_of[ORGANISATION_PAGE] = self.pages.count()
        self._add_page(_("Träger und Einwilligung"), self.organisation)

    # -- state ---------------------------------------------------------------------------

    @property
    def dirty(self) -> bool:
        """True when anything differs from what is stored."""
        return (
            any(field.dirty for field in self.fields.values())
            or self.organisation.dirty
            or self.ws.settings.unconfirmed
        )

    def _on_changed(self) -> None:
        self.save_button.setEnabled(self.dirty)
        self.status.setText("")
        self.status.setAccessibleDescription("")

    def show_page_of(self, key: str) -> None:
        """Bring the page holding ``key`` (or the organisation page) to the front."""
        self.nav.setCurrentRow(self._page_of[key])

    # -- saving --------------------------------------------------------------------------

    def _validated(self) -> dict[str, Any] | None:
        """Every changed value, checked; None (with the messages shown) if any is wrong."""
        values: dict[str, Any] = {}
        first_error: str | None = None
        for key, field in self.fields.items():
            try:
                value = field.validate()
            except ValidationError:
                first_error = first_error or key
                continue
            if value != field.initial:
                values[key] = value
        if first_error is not None:
            self.show_page_of(first_error)
            self.fields[first_error].input.setFocus()
            self._set_status(_("Bitte prüfen Sie die rot markierten Angaben."), error=True)
            return None
        return values

    def _confirm_organisation(self) -> tuple[str, OrganisationConfig] | None:
        """The organisation text to save with its configuration (None: unchanged).

        Raises:
            _NotSaved: the text is invalid, or the administrator did not confirm a warning.
        """
        if not self.organisation.dirty:
            return None
        config = self.organisation.check()
        if config is None:
            self.show_page_of(ORGANISATION_PAGE)
            self._set_status(
                _("Die Organisationsdatei hat Fehler; es wurde nichts gespeichert."), error=True
            )
            raise _NotSaved
        warnings = change_warnings(self.organisation.current, config)
        if warnings:
            answer = QMessageBox.question(
                self,
                _("Organisationsdatei speichern?"),
                "\n\n".join([*warnings, _("Trotzdem speichern?")]),
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
            if answer != QMessageBox.StandardButton.Yes:
                self.show_page_of(ORGANISATION_PAGE)
                self._set_status(_("Nichts gespeichert."), error=False)
                raise _NotSaved
        return self.organisation.text, config

    def save(self) -> bool:
        """Check every page, then store what changed; True when saved."""
        values = self._validated()
        if values is None:
            return False
        try:
            organisation = self._confirm_organisation()
        except _NotSaved:
            return False
        changed: list[str] = []
        try:
            for key, value in values.items():
                field = self.fields[key]
                if field.spec.scope is declared.Scope.DEVICE:
                    self.ws.actor.require(Permission.MANAGE_SETTINGS)
                    self.ws.profile.set_device_setting(key, value)
                    if key == "ui.language":
                        self.language_to_apply = str(value)
                else:
                    self.ws.settings.put(key, value)
                field.initial = value
                changed.append(key)
            if organisation is not None:
                self._save_organisation(organisation[0])
                changed.append(ORGANISATION_PAGE)
            confirmed = self.ws.settings.unconfirmed
            if confirmed:
                # what is shown (the defaults) is what the administrator signs now
                self.ws.settings.confirm()
        except IntakeError as exc:
            show_error(self, exc)
            return False
        finally:
            self.changed_keys.extend(changed)
            self._on_changed()
        self._set_status(
            self._saved_text(changed) if changed or not confirmed else _("Gespeichert."),
            error=False,
        )
        self.saved.emit(changed)
        log.info("settings saved: %s", ", ".join(changed) or "-")
        return True

    def _save_organisation(self, text: str) -> None:
        self.ws.actor.require(Permission.MANAGE_SETTINGS)
        saved = self.organisation.file.save(text)
        self.ws.audit(
            AuditAction.SETTINGS_CHANGED,
            subject_type="setting",
            subject_id="organisation.yaml",
            details={"text_version": saved.text_version, "sha256": text_digest(text)},
        )
        reload = getattr(self.ws, "reload_organisation", None)
        if callable(reload):
            reload()
        else:
            self.ws.__dict__.pop("organisation", None)  # the cached property reads it anew
        self.organisation.mark_saved(saved)

    @staticmethod
    def _saved_text(changed: list[str]) -> str:
        if not changed:
            return _("Es gab nichts zu speichern.")
        text = _("Gespeichert.")
        if any(key in NEXT_SIGN_IN for key in changed):
            text += " " + _(
                "Standortname und automatische Sperre gelten ab der nächsten Anmeldung."
            )
        if "ui.language" in changed:
            text += " " + _("Die Sprache wechselt, wenn Sie dieses Fenster schließen.")
        return text

    def _set_status(self, text: str, *, error: bool) -> None:
        self.status.setObjectName("error" if error else "")
        self.status.setText(text)
        self.status.setAccessibleDescription(text)  # read out with the name "Rückmeldung"
        self.status.style().unpolish(self.status)
        self.status.style().polish(self.status)

    # -- closing and restore -------------------------------------------------------------

    def reject(self) -> None:
        """ "Schließen", Escape and the window's close box: ask before dropping changes."""
        if self.dirty and not self.restore_requested:
            answer = QMessageBox.question(
                self,
                _("Änderungen verwerfen?"),
                _("Sie haben Änderungen, die noch nicht gespeichert sind. Verwerfen?"),
                QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Cancel,
            )
            if answer != QMessageBox.StandardButton.Discard:
                return
        super().reject()

    def _on_restore_requested(self) -> None:
        if self._on_restore is None:
            return
        self.restore_requested = True
        handler = self._on_restore
        parent = self._parent
        self.accept()
        QTimer.singleShot(0, lambda: handler(parent))


def open_settings(
    workspace: Workspace,
    parent: QWidget | None = None,
    *,
    on_language: Callable[[str], None] | None = None,
) -> list[str]:
    """Show the settings window; apply a language change afterwards; return changed keys."""
    window = SettingsWindow(workspace, parent=parent)
    window.setWindowModality(Qt.WindowModality.ApplicationModal)
    window.exec()
    if window.language_to_apply and on_language is not None:
        on_language(window.language_to_apply)
    return window.changed_keys
