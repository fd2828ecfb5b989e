"""The consent block inside the interview.

The organisation configuration supplies purposes, recipients and legal texts; each
purpose is decided on its own ("erteilt" / "nicht erteilt"), the special categories
(Art. 9) separately. The German text stands beside the text in the language the person
reads (Arabic, Ukrainian, Russian, Turkish, Dari/Farsi, English), right-to-left where
that language is written so.
"""

from __future__ import annotations

import copy
import re
from datetime import date
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from intake_app.core.forms.model import Question, QuestionType
from intake_app.ui.interview.inputs import AnswerInput, DateInput, parse_date

LANGUAGE_NAMES = {
    "de": "Deutsch",
    "en": "English (Englisch)",
    "ar": "العربية (Arabisch)",
    "uk": "Українська (Ukrainisch)",
    "ru": "Русский (Russisch)",
    "tr": "Türkçe (Türkisch)",
    "fa": "دری / فارسی (Dari/Farsi)",
}
RTL = {"ar", "fa"}


def set_direction(label: QLabel, rtl: bool) -> None:
    """Right-to-left text starts at the right edge, every line of it (``AlignAbsolute``:
    Qt mirrors a plain ``AlignRight`` to the left in a right-to-left layout)."""
    if rtl:
        label.setLayoutDirection(Qt.LayoutDirection.RightToLeft)
        label.setAlignment(
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignAbsolute | Qt.AlignmentFlag.AlignTop
        )
    else:
        label.setLayoutDirection(Qt.LayoutDirection.LeftToRight)
        label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)


def _text_label(text: str, *, rtl: bool = False, muted: bool = False) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    set_direction(label, rtl)
    if muted:
        label.setObjectName("muted")
    return label


class _Decision(QWidget):
    """Two radio buttons: granted / not granted (no default: it must be decided)."""

    def __init__(self, granted: str, refused: str, name: str) -> None:
        super().__init__()
        self.group = QButtonGroup(self)
        self.yes = QRadioButton(granted)
        self.no = QRadioButton(refused)
        for button in (self.yes, self.no):
            button.setAccessibleName(f"{name}: {button.text()}")
            self.group.addButton(button)
        row = QVBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.yes)
        row.addWidget(self.no)

    def value(self) -> bool | None:
        if self.yes.isChecked():
            return True
        if self.no.isChecked():
            return False
        return None

    def set(self, granted: bool | None) -> None:
        self.group.setExclusive(False)
        self.yes.setChecked(granted is True)
        self.no.setChecked(granted is False)
        self.group.setExclusive(True)


class ConsentInput(AnswerInput):
    """The consent block (date, language, interpreter, purposes, Art. 9)."""

    def __init__(self, question: Question, lang: str, organisation: Any) -> None:
        super().__init__(question, lang)
        self.org = organisation
        self._value: dict[str, Any] = {}
        self._read_only = False
        self.date = DateInput(question, lang)
        self.date.set_accessible(self._t("Datum der Einwilligung"), "")
        self.language = QComboBox()
        self.language.setAccessibleName(self._t("Sprache der verwendeten Fassung"))
        self.language.addItem("", None)
        for code in organisation.languages:
            self.language.addItem(LANGUAGE_NAMES.get(code, code), code)
        self.interpreter = _Decision(
            self._t("Ja, gedolmetscht"), self._t("Nein"), self._t("Dolmetschung")
        )
        # who consents: the person, or for a person under 15 the legal guardian
        # (docs/forms.md, section 5); the sheet prints the guardian's note and line
        self.given_by = _Decision(
            self._t("die Person selbst"),
            self._t("gesetzliche Vertretung (Sorgeberechtigte, bei unter 15 Jahren)"),
            self._t("Einwilligung erteilt durch"),
        )
        self.guardian_name = QLineEdit()
        self.guardian_name.setMaxLength(200)
        self.guardian_name.setPlaceholderText(self._t("Name der oder des Sorgeberechtigten"))
        self.guardian_name.setAccessibleName(self._t("Name der oder des Sorgeberechtigten"))
        self.guardian_name.setEnabled(False)
        top = QGridLayout()
        top.addWidget(QLabel(self._t("Datum:")), 0, 0)
        top.addWidget(self.date, 0, 1)
        top.addWidget(QLabel(self._t("Fassung in:")), 1, 0)
        top.addWidget(self.language, 1, 1)
        top.addWidget(QLabel(self._t("Dolmetschung:")), 2, 0)
        top.addWidget(self.interpreter, 2, 1)
        top.addWidget(QLabel(self._t("Erteilt durch:")), 3, 0)
        top.addWidget(self.given_by, 3, 1)
        top.addWidget(QLabel(self._t("Sorgeberechtigte Person:")), 4, 0)
        top.addWidget(self.guardian_name, 4, 1)
        top.setColumnStretch(2, 1)

        self.texts = QGridLayout()
        self.texts.setColumnStretch(0, 1)
        self.texts.setColumnStretch(1, 1)
        self.purposes: dict[str, _Decision] = {}
        self._client_labels: list[tuple[QLabel, str, str]] = []
        row = 0
        for key in ("consent_intro", "refusal_no_effect", "withdrawal"):
            row = self._add_text(row, key)
        for purpose in organisation.purposes:
            decision = _Decision(
                self._t("Einwilligung erteilt"), self._t("nicht erteilt"), purpose.label("de")
            )
            self.purposes[purpose.id] = decision
            decision.yes.toggled.connect(self._on_changed)
            decision.no.toggled.connect(self._on_changed)
            row = self._add_purpose(row, purpose, decision)
        self.art9 = _Decision(
            self._t("Einwilligung erteilt"),
            self._t("nicht erteilt"),
            self._t("Besondere Kategorien (Art. 9 DSGVO)"),
        )
        self.art9.yes.toggled.connect(self._on_changed)
        self.art9.no.toggled.connect(self._on_changed)
        row = self._add_text(row, "art9_consent", decision=self.art9)
        # the Art. 9 text promises: printed only when the person asks for it
        self.art9_print = QCheckBox(
            self._t("Die Person verlangt, dass die Gesundheitsangabe auf Ausdrucken erscheint")
        )
        self.art9_print.setAccessibleName(self.art9_print.text())
        self.art9_print.setEnabled(False)
        self.art9_print.toggled.connect(self._on_changed)
        self.texts.addWidget(self.art9_print, row, 0, 1, 2)
        row += 1

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addLayout(self.texts)
        self.date.edited.connect(self._on_changed)
        self.language.currentIndexChanged.connect(self._on_language)
        self.interpreter.yes.toggled.connect(self._on_changed)
        self.interpreter.no.toggled.connect(self._on_changed)
        self.given_by.yes.toggled.connect(self._on_changed)
        self.given_by.no.toggled.connect(self._on_changed)
        self.guardian_name.textEdited.connect(self._on_changed)

    # -- layout ------------------------------------------------------------------------

    def client_language(self) -> str:
        code = self.language.currentData()
        return code if code and code != "de" else "en"

    def _add_text(self, row: int, key: str, *, decision: _Decision | None = None) -> int:
        german = _text_label(self.org.text(key, "de"))
        client_code = self.client_language()
        client = _text_label(self.org.text(key, client_code), rtl=client_code in RTL, muted=True)
        self._client_labels.append((client, "text", key))
        self.texts.addWidget(german, row, 0)
        self.texts.addWidget(client, row, 1)
        row += 1
        if decision is not None:
            self.texts.addWidget(decision, row, 0, 1, 2)
            row += 1
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setObjectName("muted")
        self.texts.addWidget(line, row, 0, 1, 2)
        return row + 1

    def _add_purpose(self, row: int, purpose: Any, decision: _Decision) -> int:
        recipients = ", ".join(r.name for r in purpose.recipients)
        german = _text_label(
            f"<b>{purpose.label('de')}</b><br>{purpose.description('de')}"
            + (f"<br><i>{recipients}</i>" if recipients else "")
        )
        german.setTextFormat(Qt.TextFormat.RichText)
        client_code = self.client_language()
        client = _text_label(
            f"<b>{purpose.label(client_code)}</b><br>{purpose.description(client_code)}",
            rtl=client_code in RTL,
            muted=True,
        )
        client.setTextFormat(Qt.TextFormat.RichText)
        self._client_labels.append((client, "purpose", purpose.id))
        self.texts.addWidget(german, row, 0)
        self.texts.addWidget(client, row, 1)
        self.texts.addWidget(decision, row + 1, 0, 1, 2)
        return row + 2

    def _refresh_client_texts(self) -> None:
        code = self.client_language()
        rtl = code in RTL
        for label, kind, key in self._client_labels:
            if kind == "text":
                label.setText(self.org.text(key, code))
            else:
                purpose = self.org.purpose(key)
                label.setText(f"<b>{purpose.label(code)}</b><br>{purpose.description(code)}")
            set_direction(label, rtl)

    # -- value -------------------------------------------------------------------------

    def _on_language(self) -> None:
        self._refresh_client_texts()
        self._on_changed()

    def _collect(self) -> dict[str, Any] | None:
        value = copy.deepcopy(self._value)
        day = parse_date(self.date.edit.text())
        if day is not None:
            value["date"] = day.isoformat()
        else:
            value.pop("date", None)
        language = self.language.currentData()
        if language:
            value["language"] = language
        else:
            value.pop("language", None)
        interpreter = self.interpreter.value()
        if interpreter is None:
            value.pop("interpreter", None)
        else:
            value["interpreter"] = interpreter
        by_person = self.given_by.value()
        if by_person is None:
            value.pop("given_by", None)
        else:
            value["given_by"] = "person" if by_person else "guardian"
        guardian = self.guardian_name.text().strip()
        if by_person is False and guardian:
            value["guardian_name"] = guardian
        else:
            value.pop("guardian_name", None)
        self.guardian_name.setEnabled(by_person is False and not self._read_only)
        purposes = dict(value.get("purposes") or {})
        for pid, decision in self.purposes.items():
            granted = decision.value()
            if granted is None:
                purposes.pop(pid, None)
            else:
                old = purposes.get(pid) or {}
                purposes[pid] = {"granted": granted, "withdrawn_on": old.get("withdrawn_on")}
        if purposes:
            value["purposes"] = purposes
        else:
            value.pop("purposes", None)
        art9 = self.art9.value()
        if art9 is None:
            value.pop("art9", None)
        else:
            old = value.get("art9") if isinstance(value.get("art9"), dict) else {}
            value["art9"] = {"granted": art9, "withdrawn_on": (old or {}).get("withdrawn_on")}
            if art9 and self.art9_print.isChecked():
                value["art9"]["print_requested_on"] = (old or {}).get(
                    "print_requested_on"
                ) or date.today().isoformat()
        self.art9_print.setEnabled(art9 is True)
        value["organisation"] = self.org.id
        value["text_version"] = self.org.text_version
        meaningful = {k for k in value if k not in ("organisation", "text_version")}
        return value if meaningful else None

    def _on_changed(self, *_args: object) -> None:
        if self._quiet:
            return
        collected = self._collect()
        self._value = collected or {}
        self._emit(collected)

    def _show(self, value: Any) -> None:
        self._value = copy.deepcopy(value) if isinstance(value, dict) else {}
        day = self._value.get("date")
        self.date.set_value(day)
        index = self.language.findData(self._value.get("language"))
        self.language.setCurrentIndex(max(index, 0))
        self._refresh_client_texts()
        interpreter = self._value.get("interpreter")
        self.interpreter.set(interpreter if isinstance(interpreter, bool) else None)
        given_by = self._value.get("given_by")
        self.given_by.set(
            True if given_by == "person" else False if given_by == "guardian" else None
        )
        guardian = self._value.get("guardian_name")
        self.guardian_name.setText(guardian if isinstance(guardian, str) else "")
        self.guardian_name.setEnabled(given_by == "guardian" and not self._read_only)
        purposes = self._value.get("purposes") or {}
        for pid, decision in self.purposes.items():
            state = purposes.get(pid)
            decision.set(state.get("granted") if isinstance(state, dict) else None)
            withdrawn = state.get("withdrawn_on") if isinstance(state, dict) else None
            decision.setToolTip(
                self._t("Widerrufen am {date}").format(date=withdrawn) if withdrawn else ""
            )
        art9 = self._value.get("art9")
        self.art9.set(art9.get("granted") if isinstance(art9, dict) else None)
        self.art9_print.setChecked(isinstance(art9, dict) and bool(art9.get("print_requested_on")))
        self.art9_print.setEnabled(isinstance(art9, dict) and art9.get("granted") is True)

    def fill_today(self) -> None:
        """Set today's date when none is given yet (a convenience on first show)."""
        if not self._value.get("date"):
            self.date.edit.setText(date.today().strftime("%d.%m.%Y"))

    def focus_target(self) -> QWidget:
        return self.date.edit

    def set_accessible(self, name: str, description: str) -> None:
        self.language.setAccessibleDescription(description)

    def set_read_only(self, read_only: bool) -> None:
        self._read_only = read_only
        for widget in self.findChildren(QWidget):
            if isinstance(widget, (QRadioButton, QComboBox, QCheckBox)):
                widget.setEnabled(not read_only)
        self.guardian_name.setEnabled(not read_only and self._value.get("given_by") == "guardian")
        self.date.set_read_only(read_only)


_PURPOSE_CHECK = re.compile(r"\bconsented\(\s*\w+\s*,\s*\.\s*\)")


def asks_for_purpose(question: Question) -> bool:
    """True for a text question that names a consent purpose (its rule is
    ``consented(consent, .)``): it is asked with the purposes' names, not their ids."""
    return question.type is QuestionType.TEXT and any(
        _PURPOSE_CHECK.search(rule.expression.source) for rule in question.constraints
    )


class PurposeInput(AnswerInput):
    """Choose a consent purpose of the organisation by its name; stores the purpose id."""

    def __init__(self, question: Question, lang: str, organisation: Any) -> None:
        super().__init__(question, lang)
        self.org = organisation
        self.combo = QComboBox()
        self.combo.setMinimumWidth(360)
        self._value: str | None = None
        self._granted: frozenset[str] | None = None
        self._fill()
        self.combo.activated.connect(self._on_activated)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.combo)
        layout.addStretch(1)

    def _fill(self) -> None:
        self.combo.blockSignals(True)
        self.combo.clear()
        self.combo.addItem("", None)
        purposes = list(self.org.purposes) if self.org is not None else []
        for purpose in purposes:
            granted = self._granted is None or purpose.id in self._granted
            label = purpose.label(self.lang)
            if not granted:
                label = self._t("{purpose} – keine Einwilligung").format(purpose=label)
            self.combo.addItem(label, purpose.id)
            index = self.combo.count() - 1
            self.combo.setItemData(
                index, purpose.description(self.lang), Qt.ItemDataRole.ToolTipRole
            )
            item = self.combo.model().item(index)  # type: ignore[attr-defined]
            if item is not None and not granted and purpose.id != self._value:
                item.setEnabled(False)  # a purpose without consent cannot cover a transfer
        if self._value is not None and self.combo.findData(self._value) < 0:
            # a purpose the organisation no longer lists: shown, never silently replaced
            self.combo.addItem(
                self._t("{id} (nicht mehr vorgesehen)").format(id=self._value), self._value
            )
        self.combo.setCurrentIndex(max(self.combo.findData(self._value), 0))
        self.combo.blockSignals(False)

    def set_granted(self, granted: frozenset[str] | None) -> None:
        """The purposes consented on the referral's date (None: not known); the others
        are shown as without consent and cannot be chosen."""
        if granted != self._granted:
            self._granted = granted
            self._fill()

    def _on_activated(self, index: int) -> None:
        value = self.combo.itemData(index)
        if value != self._value:
            self._value = value
            self._emit(value)

    def _show(self, value: Any) -> None:
        self._value = None if value in (None, "") else str(value)
        self._fill()

    def focus_target(self) -> QWidget:
        return self.combo

    def set_read_only(self, read_only: bool) -> None:
        self.combo.setEnabled(not read_only)

    def retranslate(self, lang: str) -> None:
        super().retranslate(lang)
        self._fill()
