"""The organisation and consent configuration: show, load, edit, check and save the file.

The organisation file (controller, data protection officer, supervisory authority,
consent purposes and recipients, legal texts in every client language) is non-personal
configuration in ``<profile>/organisation.yaml``; without it the shipped template
``resources/config/organisation-default.yaml`` is used. The file counts only with an
administrator's signature beside it (:mod:`intake_app.storage.organisation_seal`): saving
here signs it with her key; a file changed outside the program is shown as not in force.
:class:`OrganisationFile` holds the logic without Qt; :class:`OrganisationPage` is its page
in the settings window. Signals (page): ``changed()``.
"""

from __future__ import annotations

import hashlib
import html
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase, QTextCursor
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from intake_app.assets import resource
from intake_app.core.forms import FormLoadError, OrganisationConfig, load_organisation
from intake_app.core.forms.errors import FormIssue
from intake_app.errors import PermissionDenied, ValidationError
from intake_app.i18n import _
from intake_app.storage.organisation_seal import UPDATE, Seal
from intake_app.ui.widgets import heading

if TYPE_CHECKING:
    from intake_app.app import Workspace

FILE_NAME = "organisation.yaml"
DEFAULT_PARTS = ("config", "organisation-default.yaml")
MAX_BYTES = 2 * 1024 * 1024


class _TextSource:
    """An in-memory file for the organisation loader (the text being edited)."""

    name = FILE_NAME

    def __init__(self, text: str) -> None:
        self._data = text.encode("utf-8")

    def read_bytes(self) -> bytes:
        return self._data

    def is_file(self) -> bool:
        return True

    def __str__(self) -> str:
        return FILE_NAME


class OrganisationFile:
    """The organisation file of one profile folder (no Qt).

    Args:
        root: the profile folder.
        workspace: the administrator's workspace: it tells whether the file's signature
            counts, and signs what is saved (without one nothing can be saved).
    """

    def __init__(self, root: Path, workspace: Workspace | None = None) -> None:
        self.path = Path(root) / FILE_NAME
        self._ws = workspace

    def seal(self) -> Seal | None:
        """The file as found with its signature (None without a workspace)."""
        return self._ws.organisation_seal() if self._ws is not None else None

    @property
    def is_custom(self) -> bool:
        """True when the profile's own file is in use (else the shipped template is)."""
        if not self.path.is_file():
            return False
        seal = self.seal()
        return seal is None or seal.counts

    @property
    def refused(self) -> bool:
        """True when the profile has a file whose signature does not count."""
        seal = self.seal()
        return seal is not None and seal.refused

    def read_text(self) -> str:
        """The text in use: the profile's signed file, else the shipped template."""
        seal = self.seal()
        if seal is not None:
            return seal.data.decode("utf-8-sig", "replace") if seal.counts else default_text()
        if self.is_custom:
            return self.path.read_text("utf-8-sig")
        return default_text()

    @staticmethod
    def check(text: str) -> OrganisationConfig:
        """Validate ``text`` as an organisation file.

        Raises:
            FormLoadError: every problem with its line number.
        """
        if len(text.encode("utf-8")) > MAX_BYTES:
            raise FormLoadError(
                [FormIssue(FILE_NAME, 0, None, _("Die Datei ist zu groß (höchstens 2 MB)."))]
            )
        return load_organisation(_TextSource(text))  # type: ignore[arg-type]

    def save(self, text: str) -> OrganisationConfig:
        """Check ``text`` and write it atomically as the profile's organisation file,
        signed with the administrator's key.

        Raises:
            FormLoadError: the text is not a valid organisation file.
            PermissionDenied: no administrator's key is at hand.
        """
        config = self.check(text)
        if self._ws is None:
            raise PermissionDenied(
                _(
                    "Die Organisationsdatei wird nur mit der Unterschrift einer "
                    "Administratorin oder eines Administrators gespeichert."
                )
            )
        self._ws.save_organisation(text.encode("utf-8"))
        return config


def default_text() -> str:
    """The shipped template's text."""
    return resource(*DEFAULT_PARTS).read_text("utf-8")


def text_digest(text: str) -> str:
    """A short fingerprint of a configuration text (for the audit log)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def change_warnings(old: OrganisationConfig | None, new: OrganisationConfig) -> list[str]:
    """What an administrator should confirm before saving ``new`` over ``old``."""
    if old is None:
        return []
    warnings = []
    removed = [pid for pid in old.purpose_ids if pid not in new.purpose_ids]
    if removed:
        warnings.append(
            _(
                "Die Einwilligungszwecke {ids} fehlen in der neuen Fassung. Bereits erfasste "
                "Einwilligungen beziehen sich auf sie; entfernen Sie Zwecke nur, wenn Ihre "
                "Datenschutzbeauftragte zugestimmt hat."
            ).format(ids=", ".join(removed))
        )
    texts_changed = old.texts != new.texts or [
        (p.id, p.label_text, p.description_text, p.recipients) for p in old.purposes
    ] != [(p.id, p.label_text, p.description_text, p.recipients) for p in new.purposes]
    if texts_changed and old.text_version == new.text_version:
        warnings.append(
            _(
                "Die Texte haben sich geändert, die Textfassung (text_version „{version}“) "
                "aber nicht. Erhöhen Sie text_version, damit bei jeder Einwilligung "
                "nachvollziehbar bleibt, welcher Text galt."
            ).format(version=new.text_version)
        )
    return warnings


def summary_html(config: OrganisationConfig) -> str:
    """A short overview of a configuration (names, purposes, languages) as HTML."""

    def esc(text: str) -> str:
        return html.escape(text or "–")

    purposes = "".join(
        f"<li>{esc(p.label('de'))} <span style='color:#52606d'>({esc(p.id)})</span></li>"
        for p in config.purposes
    )
    rows = [
        (_("Träger"), esc(config.name("de"))),
        (
            _("Verantwortlich"),
            f"{esc(config.controller.name)}<br>{esc(config.controller.contact())}",
        ),
        (_("Datenschutzbeauftragte"), esc(config.data_protection_officer.name)),
        (_("Aufsichtsbehörde"), esc(config.supervisory_authority.name)),
        (_("Sprachen"), esc(", ".join(config.languages))),
        (_("Textfassung"), esc(config.text_version)),
    ]
    table = "".join(
        f"<tr><td style='padding-right:12px'><b>{label}</b></td><td>{value}</td></tr>"
        for label, value in rows
    )
    heading = _("Einwilligungszwecke ({n})").format(n=len(config.purposes))
    return f"<table>{table}</table><p><b>{heading}</b></p><ul>{purposes}</ul>"


class OrganisationPage(QWidget):
    """Edit and check the organisation file. Signals: ``changed()``."""

    changed = Signal()

    def __init__(self, file: OrganisationFile, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.file = file
        self._loaded_text = file.read_text()
        self.current: OrganisationConfig | None = None
        try:
            self.current = file.check(self._loaded_text)
        except ValidationError:
            self.current = None

        intro = QLabel(
            _(
                "Hier steht, wer für die Daten verantwortlich ist, welche Einwilligungen eine "
                "Person geben kann und an wen Daten gehen, mit den Texten in allen "
                "Klientensprachen. Lassen Sie Änderungen von Ihrer Datenschutzbeauftragten "
                "freigeben."
            )
        )
        intro.setWordWrap(True)
        self.source = QLabel()
        self.source.setObjectName("muted")
        self.source.setWordWrap(True)
        self.source.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary = QLabel()
        self.summary.setObjectName("hint")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setAccessibleName(_("Überblick über die Organisationsdatei"))

        editor_label = QLabel(_("&Inhalt der Datei (YAML):"))
        self.editor = QPlainTextEdit()
        fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        fixed.setPointSizeF(self.font().pointSizeF())  # follow the font size of the program
        self.editor.setFont(fixed)
        self.editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.editor.setTabChangesFocus(True)
        self.editor.setMinimumHeight(160)
        self.editor.setAccessibleName(_("Inhalt der Organisationsdatei"))
        self.editor.setAccessibleDescription(
            _("YAML-Text; Probleme werden mit Zeilennummer darunter aufgeführt")
        )
        editor_label.setBuddy(self.editor)
        self.position = QLabel()
        self.position.setObjectName("muted")

        self.problems = QListWidget()
        self.problems.setAccessibleName(_("Probleme in der Organisationsdatei"))
        self.problems.setVisible(False)
        self.problems.setMaximumHeight(160)
        self.problems.setWordWrap(True)
        self.problems.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setAccessibleName(_("Ergebnis der Prüfung"))

        self.load_button = QPushButton(_("Datei &laden …"))
        self.load_button.setAccessibleDescription(
            _("Eine Organisationsdatei auswählen; sie wird erst beim Speichern übernommen")
        )
        self.check_button = QPushButton(_("&Prüfen"))
        self.default_button = QPushButton(_("Mitgelieferte &Vorlage einsetzen"))
        self.default_button.setAccessibleDescription(
            _("Setzt die Vorlage Musterstadt in den Editor; gespeichert wird erst mit Speichern")
        )

        overview = QWidget()
        overview_layout = QVBoxLayout(overview)
        overview_layout.addWidget(intro)
        overview_layout.addWidget(self.source)
        overview_layout.addWidget(self.summary)
        overview_buttons = QHBoxLayout()
        overview_buttons.addWidget(self.load_button)
        overview_buttons.addWidget(self.default_button)
        overview_buttons.addStretch(1)
        overview_layout.addLayout(overview_buttons)
        overview_layout.addStretch(1)
        overview_area = QScrollArea()
        overview_area.setWidgetResizable(True)
        overview_area.setFrameShape(QScrollArea.Shape.NoFrame)
        overview_area.setWidget(overview)

        editor_page = QWidget()
        editor_layout = QVBoxLayout(editor_page)
        editor_top = QHBoxLayout()
        editor_top.addWidget(editor_label, 1)
        editor_top.addWidget(self.check_button)
        editor_layout.addLayout(editor_top)
        editor_layout.addWidget(self.editor, 1)
        editor_layout.addWidget(self.position)
        editor_layout.addWidget(self.problems)

        self.tabs = QTabWidget()
        self.tabs.setAccessibleName(_("Organisationsdatei"))
        self.tabs.addTab(overview_area, _("Überblick"))
        self.tabs.addTab(editor_page, _("Datei bearbeiten"))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(heading(_("Träger und Einwilligung")))
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.status)

        self.editor.setPlainText(self._loaded_text)
        self._show_source()
        self._show_summary(self.current)
        self.editor.textChanged.connect(self._on_text_changed)
        self.editor.cursorPositionChanged.connect(self._on_cursor)
        self.problems.itemActivated.connect(self._on_problem)
        self.problems.itemClicked.connect(self._on_problem)
        self.load_button.clicked.connect(self._on_load)
        self.check_button.clicked.connect(self.check)
        self.default_button.clicked.connect(self._on_default)
        self._on_cursor()

    # -- state ---------------------------------------------------------------------------

    @property
    def text(self) -> str:
        return self.editor.toPlainText()

    @property
    def dirty(self) -> bool:
        """True when the text differs from the file in use."""
        return self.text != self._loaded_text

    def check(self) -> OrganisationConfig | None:
        """Validate the text; show the problems with line numbers or the overview."""
        self.problems.clear()
        try:
            config = self.file.check(self.text)
        except FormLoadError as exc:
            for issue in exc.issues:
                where = _("Zeile {line}").format(line=issue.line) if issue.line else _("Datei")
                item = QListWidgetItem(f"{where}: {issue.message}")
                item.setData(Qt.ItemDataRole.UserRole, issue.line)
                self.problems.addItem(item)
            self.problems.setVisible(True)
            self.tabs.setCurrentIndex(1)
            self.status.setObjectName("error")
            self.status.setText(
                _(
                    "Die Datei hat {n} Problem(e) und kann so nicht gespeichert werden. Ein "
                    "Klick auf ein Problem springt zur Zeile."
                ).format(n=len(exc.issues))
            )
            self._repolish(self.status)
            return None
        self.problems.setVisible(False)
        self.status.setObjectName("")
        self.status.setText(
            _("Die Datei ist gültig: {n} Einwilligungszwecke, Sprachen {langs}.").format(
                n=len(config.purposes), langs=", ".join(config.languages)
            )
        )
        self._repolish(self.status)
        self._show_summary(config)
        return config

    def mark_saved(self, config: OrganisationConfig) -> None:
        """After saving: the saved text is now the one in use."""
        self._loaded_text = self.text
        self.current = config
        self._show_source()
        self._show_summary(config)

    # -- helpers -------------------------------------------------------------------------

    def _show_source(self) -> None:
        seal = self.file.seal()
        if self.file.is_custom:
            text = _("In Gebrauch: die Datei dieses Profils ({path}).").format(path=self.file.path)
            if seal is not None and seal.how == UPDATE:
                text += " " + _(
                    "Sie wurde bei der ersten Anmeldung der Administration nach dem Update so "
                    "unterschrieben, wie sie vorlag."
                )
            self.source.setText(text)
        elif seal is not None and seal.refused:
            self.source.setText(
                _(
                    "In Gebrauch: die mitgelieferte Vorlage (Musterstadt). Die Datei dieses "
                    "Profils ({path}) trägt keine gültige Unterschrift der Administration: Sie "
                    "wurde außerhalb des Programms geändert und gilt nicht. Um sie freizugeben, "
                    "laden Sie sie mit „Datei laden …“, prüfen den Inhalt und speichern."
                ).format(path=self.file.path)
            )
        else:
            self.source.setText(
                _(
                    "In Gebrauch: die mitgelieferte Vorlage (Musterstadt). Bitte passen Sie "
                    "Namen, Anschriften und Empfänger an und speichern Sie."
                )
            )

    def _show_summary(self, config: OrganisationConfig | None) -> None:
        if config is None:
            self.summary.setText(_("Die Datei in Gebrauch ist nicht gültig."))
        else:
            self.summary.setText(summary_html(config))

    @staticmethod
    def _repolish(widget: QWidget) -> None:
        widget.style().unpolish(widget)
        widget.style().polish(widget)

    def go_to_line(self, line: int) -> None:
        """Put the cursor at the start of ``line`` (1-based) and select that line."""
        self.tabs.setCurrentIndex(1)
        block = self.editor.document().findBlockByNumber(max(line - 1, 0))
        cursor = QTextCursor(block)
        cursor.movePosition(QTextCursor.MoveOperation.EndOfBlock, QTextCursor.MoveMode.KeepAnchor)
        self.editor.setTextCursor(cursor)
        self.editor.setFocus()

    # -- slots ---------------------------------------------------------------------------

    def _on_text_changed(self) -> None:
        self.changed.emit()

    def _on_cursor(self) -> None:
        cursor = self.editor.textCursor()
        self.position.setText(
            _("Zeile {line}, Spalte {column}").format(
                line=cursor.blockNumber() + 1, column=cursor.positionInBlock() + 1
            )
        )

    def _on_problem(self, item: QListWidgetItem) -> None:
        line = int(item.data(Qt.ItemDataRole.UserRole) or 0)
        if line:
            self.go_to_line(line)

    def _on_load(self) -> None:
        name, _filter = QFileDialog.getOpenFileName(
            self,
            _("Organisationsdatei laden"),
            str(Path.home()),
            _("YAML-Dateien (*.yaml *.yml);;Alle Dateien (*)"),
        )
        if name:
            self.load_file(Path(name))

    def load_file(self, path: Path) -> None:
        """Put the text of ``path`` into the editor and check it (saved only on "Speichern")."""
        try:
            data = path.read_bytes()
            if len(data) > MAX_BYTES:
                raise ValueError
            text = data.decode("utf-8-sig")
        except (OSError, ValueError):
            self.status.setObjectName("error")
            self.status.setText(
                _(
                    "Die Datei {path} lässt sich nicht lesen. Sie muss eine UTF-8-Textdatei "
                    "unter 2 MB sein."
                ).format(path=path)
            )
            self._repolish(self.status)
            return
        self.editor.setPlainText(text)
        self.check()

    def _on_default(self) -> None:
        self.editor.setPlainText(default_text())
        self.check()
