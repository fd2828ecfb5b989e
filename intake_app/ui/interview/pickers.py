"""Searchable pickers for large reference lists: countries, languages, occupations (KldB).

Typing searches the list by name in German or English, by code, accent-insensitively
("turk" finds "Türkei"); the best matches show in a popup that is used with the arrow
keys and Enter. With ``multiple`` (e.g. nationalities), chosen entries are listed with a
remove button each.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QStringListModel, Qt
from PySide6.QtWidgets import (
    QCompleter,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from intake_app.core.forms.model import Question
from intake_app.core.forms.reference import ReferenceList, reference_list
from intake_app.ui.interview.inputs import AnswerInput, enter_moves_on

RESULTS = 40


class _Entry:
    __slots__ = ("code", "text")

    def __init__(self, code: str, text: str) -> None:
        self.code = code
        self.text = text


class ReferenceInput(AnswerInput):
    """Pick one code (or several with ``multiple``) from a reference list."""

    def __init__(self, question: Question, lang: str) -> None:
        super().__init__(question, lang)
        self.multiple = question.multiple
        self._list: ReferenceList | None = (
            reference_list(question.reference) if question.reference else None
        )
        self._codes: list[str] = []
        self._entries: list[_Entry] = []
        self.edit = QLineEdit()
        self.edit.setMinimumWidth(380)
        self.edit.setPlaceholderText(self._t("Tippen zum Suchen …"))
        self.edit.setClearButtonEnabled(not self.multiple)
        self._model = QStringListModel(self)
        self.completer = QCompleter(self._model, self)
        self.completer.setCompletionMode(QCompleter.CompletionMode.UnfilteredPopupCompletion)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setMaxVisibleItems(12)
        self.completer.setWidget(self.edit)
        self.completer.activated[str].connect(self._on_chosen_text)  # type: ignore[index]
        self.edit.textEdited.connect(self._on_typed)
        self.edit.editingFinished.connect(self._on_editing_finished)
        if not self.multiple:
            self.edit.installEventFilter(enter_moves_on())
        self.chips = QVBoxLayout()
        self.chips.setContentsMargins(0, 0, 0, 0)
        self.chips.setSpacing(2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.chips)
        row = QHBoxLayout()
        row.addWidget(self.edit)
        row.addStretch(1)
        layout.addLayout(row)

    # -- labels ------------------------------------------------------------------------

    def label_for(self, code: str) -> str:
        """How a chosen code reads: "Deutschland (DEU)", "Pflegefachkraft (81302)"."""
        extra = self.question.choice(code)
        if extra is not None:
            return extra.label(self.lang)
        if self._list is None:
            return code
        item = self._list.get(code)
        if item is None:
            return code
        return f"{item.label(self.lang)} ({code})"

    def _search(self, text: str) -> list[_Entry]:
        folded = text.strip().casefold()
        entries = [
            _Entry(choice.value, choice.label(self.lang))
            for choice in self.question.choices
            if not folded or folded in choice.label(self.lang).casefold()
        ]
        if self._list is not None:
            entries.extend(
                _Entry(item.code, f"{item.label(self.lang)} ({item.code})")
                for item in self._list.search(text, lang=self.lang, limit=RESULTS)
            )
        return entries[:RESULTS]

    # -- slots -------------------------------------------------------------------------

    def _on_typed(self, text: str) -> None:
        self._entries = self._search(text)
        texts = [entry.text for entry in self._entries]
        self._model.setStringList(texts)
        if text.strip():
            self._fit_popup(texts)
            self.completer.complete()
        elif not self.multiple and self._codes:
            self._codes = []
            self._emit(None)

    def _fit_popup(self, texts: list[str]) -> None:
        """Suggestions as wide as the longest (up to 900 px), cut in the middle if need
        be: occupations differ at the end of their names ("– fachlich ausgerichtete
        Tätigkeiten (29222)"), which a cut at the end hid."""
        popup = self.completer.popup()
        if popup is None:
            return
        popup.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        metrics = popup.fontMetrics()
        widest = max((metrics.horizontalAdvance(text) for text in texts), default=0)
        popup.setMinimumWidth(max(self.edit.width(), min(widest + 48, 900)))

    def _on_chosen_text(self, text: str) -> None:
        entry = next((e for e in self._entries if e.text == text), None)
        if entry is None:
            return
        self.choose(entry.code)

    def choose(self, code: str) -> None:
        """Select ``code`` (as if picked from the popup)."""
        if self.multiple:
            if code not in self._codes:
                self._codes.append(code)
                self._render_chips()
                self._emit(list(self._codes))
            self.edit.clear()
        else:
            self._codes = [code]
            self.edit.setText(self.label_for(code))
            self._emit(code)

    def _popup_open(self) -> bool:
        popup = self.completer.popup()
        return popup is not None and popup.isVisible()

    def _on_editing_finished(self) -> None:
        if self._popup_open():
            return
        if self.multiple:
            return
        # free text that was not picked: show the stored choice again
        shown = self.label_for(self._codes[0]) if self._codes else ""
        if self.edit.text() != shown:
            if not self.edit.text().strip() and self._codes:
                self._codes = []
                self._emit(None)
            else:
                self.edit.setText(shown)

    def _remove(self, code: str) -> None:
        if code in self._codes:
            self._codes.remove(code)
            self._render_chips()
            self._emit(list(self._codes) or None)

    def _render_chips(self) -> None:
        while self.chips.count():
            item = self.chips.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        for code in self._codes:
            chip = QWidget()
            row = QHBoxLayout(chip)
            row.setContentsMargins(0, 0, 0, 0)
            label = QLabel(self.label_for(code))
            remove = QToolButton()
            remove.setText("✕")
            remove.setToolTip(self._t("Entfernen"))
            remove.setAccessibleName(self._t("{item} entfernen").format(item=self.label_for(code)))
            remove.clicked.connect(lambda _=False, c=code: self._remove(c))
            row.addWidget(label)
            row.addWidget(remove)
            row.addStretch(1)
            self.chips.addWidget(chip)

    # -- interface ---------------------------------------------------------------------

    def _show(self, value: Any) -> None:
        if self.multiple:
            codes = [str(v) for v in value] if isinstance(value, list) else []
            if codes != self._codes:
                self._codes = codes
                self._render_chips()
        else:
            self._codes = [str(value)] if value else []
            shown = self.label_for(self._codes[0]) if self._codes else ""
            if not self.edit.hasFocus() or not self._popup_open():
                self.edit.setText(shown)

    def focus_target(self) -> QWidget:
        return self.edit

    def set_read_only(self, read_only: bool) -> None:
        self.edit.setReadOnly(read_only)

    def retranslate(self, lang: str) -> None:
        super().retranslate(lang)
        self.edit.setPlaceholderText(self._t("Tippen zum Suchen …"))
        self._show(
            list(self._codes) if self.multiple else (self._codes[0] if self._codes else None)
        )
        if self.multiple:
            self._render_chips()
