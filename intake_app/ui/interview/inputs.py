"""One input widget per question type, all with the same small interface.

Each input emits ``edited(object)`` with the value to store (None: unanswered) when the
user changes it, and takes a stored value with :meth:`AnswerInput.set_value` without
emitting. Every input has an accessible name (the question's label) and description
(its help text); Enter in a one-line field moves to the next field.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from PySide6.QtCore import QDate, QEvent, QObject, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QIntValidator, QKeyEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QCalendarWidget,
    QCheckBox,
    QComboBox,
    QCompleter,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QRadioButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
    QWidgetAction,
)

from intake_app.assets import resource
from intake_app.core.forms.model import Choice, Question
from intake_app.i18n import translator
from intake_app.ui.widgets import parse_date

MANY_CHOICES = 6
CEFR = ("none", "A1", "A2", "B1", "B2", "C1", "C2")


class _EnterMovesOn(QObject):
    """Enter or Return in a one-line field moves the focus to the next field."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
            and not event.modifiers() & Qt.KeyboardModifier.ControlModifier
            and isinstance(watched, QWidget)
        ):
            watched.focusNextChild()
            return True
        return False


_ENTER: _EnterMovesOn | None = None


def enter_moves_on() -> _EnterMovesOn:
    """The one filter for Enter, made on first use by the thread that builds the fields
    (the GUI thread). Made at import, it belonged to whichever thread imported this
    module first (the login window preloads the main window in the background worker),
    and Qt refused it on every field: "Cannot filter events for objects in a different
    thread", and Enter did not move on."""
    global _ENTER
    if _ENTER is None:
        _ENTER = _EnterMovesOn()
    return _ENTER


class AnswerInput(QWidget):
    """Base of all inputs. Signals: ``edited(object)``."""

    edited = Signal(object)

    def __init__(self, question: Question, lang: str) -> None:
        super().__init__()
        self.question = question
        self.lang = lang
        self._quiet = False

    def set_value(self, value: Any) -> None:
        """Show a stored value without emitting ``edited``."""
        self._quiet = True
        try:
            self._show(value)
        finally:
            self._quiet = False

    def _show(self, value: Any) -> None:
        raise NotImplementedError

    def _emit(self, value: Any) -> None:
        if not self._quiet:
            self.edited.emit(value)

    def focus_target(self) -> QWidget:
        """The widget that takes the focus when the question is selected."""
        return self

    def set_choices(self, choices: list[Choice]) -> None:
        """Restrict the offered choices (choice filters); other inputs ignore it."""

    def set_accessible(self, name: str, description: str) -> None:
        target = self.focus_target()
        target.setAccessibleName(name)
        target.setAccessibleDescription(description)

    def set_read_only(self, read_only: bool) -> None:
        self.setEnabled(not read_only)

    def retranslate(self, lang: str) -> None:
        """Show option labels in ``lang``."""
        self.lang = lang

    def _t(self, text: str) -> str:
        return translator(self.lang)(text)


class TextInput(AnswerInput):
    def __init__(self, question: Question, lang: str) -> None:
        super().__init__(question, lang)
        self.edit = QLineEdit()
        if question.max_length:
            self.edit.setMaxLength(question.max_length)
        self.edit.installEventFilter(enter_moves_on())
        self.edit.textEdited.connect(lambda text: self._emit(text if text.strip() else None))
        self._row = QHBoxLayout(self)
        self._row.setContentsMargins(0, 0, 0, 0)
        self._row.addWidget(self.edit)

    def _narrow(self, width: int) -> None:
        """A field for a short value: ``width`` wide, at the start of the row under its
        label (a layout centres a widget narrower than its slot)."""
        self.edit.setMaximumWidth(width)
        self._row.addStretch(1)

    def _show(self, value: Any) -> None:
        text = "" if value is None else str(value)
        if self.edit.text() != text:
            self.edit.setText(text)

    def focus_target(self) -> QWidget:
        return self.edit

    def set_read_only(self, read_only: bool) -> None:
        self.edit.setReadOnly(read_only)


#: the check of a text question that stores a year and month as JJJJ-MM (forms 2026.2 on)
_YEAR_MONTH_CHECK = "[0-9]{2}-(0[1-9]|1[0-2])"
_MONTH_YEAR = re.compile(r"(?P<m>\d{1,2})[./](?P<y>\d{4})")


def is_year_month(question: Question) -> bool:
    """Whether ``question`` is a text question that stores a year and month (JJJJ-MM)."""
    return any(_YEAR_MONTH_CHECK in c.expression.source for c in question.constraints)


class YearMonthInput(TextInput):
    """A month and year typed as MM.JJJJ like every other date (05.2019, also 5.2019 or
    5/2019), or as JJJJ-MM; stored as JJJJ-MM, which the form's checks and calculations
    read. Anything else is stored as typed, so the form says what is wrong."""

    def __init__(self, question: Question, lang: str) -> None:
        super().__init__(question, lang)
        self.edit.setMaxLength(max(question.max_length or 0, 7))
        self._narrow(160)
        self.edit.setPlaceholderText(self._t("MM.JJJJ"))
        self.edit.textEdited.disconnect()
        self.edit.textEdited.connect(self._on_text)

    @staticmethod
    def stored(text: str) -> str | None:
        """The value to store for ``text``: JJJJ-MM for a month typed as MM.JJJJ."""
        text = text.strip()
        if not text:
            return None
        match = _MONTH_YEAR.fullmatch(text)
        if match and 1 <= int(match["m"]) <= 12:
            return f"{match['y']}-{int(match['m']):02d}"
        return text

    def _on_text(self, text: str) -> None:
        self._emit(self.stored(text))

    def _show(self, value: Any) -> None:
        if value is None:
            if self.stored(self.edit.text()) is not None:
                self.edit.clear()
            return
        if self.stored(self.edit.text()) == value:
            return  # what is typed already means this value
        match = re.fullmatch(r"(\d{4})-(\d{2})", str(value))
        self.edit.setText(f"{match[2]}.{match[1]}" if match else str(value))

    def retranslate(self, lang: str) -> None:
        super().retranslate(lang)
        self.edit.setPlaceholderText(self._t("MM.JJJJ"))


class LongTextInput(AnswerInput):
    def __init__(self, question: Question, lang: str) -> None:
        super().__init__(question, lang)
        self.edit = QPlainTextEdit()
        self.edit.setTabChangesFocus(True)
        self.edit.setMinimumHeight(72)
        self.edit.setMaximumHeight(140)
        self.edit.textChanged.connect(self._on_changed)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit)

    def _on_changed(self) -> None:
        text = self.edit.toPlainText()
        self._emit(text if text.strip() else None)

    def _show(self, value: Any) -> None:
        text = "" if value is None else str(value)
        if self.edit.toPlainText() != text:
            self.edit.setPlainText(text)

    def focus_target(self) -> QWidget:
        return self.edit

    def set_read_only(self, read_only: bool) -> None:
        self.edit.setReadOnly(read_only)


class IntegerInput(TextInput):
    def __init__(self, question: Question, lang: str) -> None:
        super().__init__(question, lang)
        self.edit.setValidator(QIntValidator(-1_000_000_000, 1_000_000_000, self))
        self._narrow(160)
        self.edit.textEdited.disconnect()
        self.edit.textEdited.connect(self._on_text)

    def _on_text(self, text: str) -> None:
        text = text.strip()
        if not text:
            self._emit(None)
        elif re.fullmatch(r"-?\d+", text):
            self._emit(int(text))


class DecimalInput(TextInput):
    def __init__(self, question: Question, lang: str) -> None:
        super().__init__(question, lang)
        self._narrow(160)
        self.edit.setPlaceholderText("0,0" if lang == "de" else "0.0")
        self.edit.textEdited.disconnect()
        self.edit.textEdited.connect(self._on_text)

    def _on_text(self, text: str) -> None:
        text = text.strip().replace(" ", "")
        if not text:
            self._emit(None)
            return
        try:
            self._emit(str(Decimal(text.replace(",", "."))))
        except InvalidOperation:
            self._emit(text)  # the form engine says what is wrong

    def _show(self, value: Any) -> None:
        text = "" if value is None else str(value)
        if self.lang == "de":
            text = text.replace(".", ",")
        current = self.edit.text().replace(",", ".").strip()
        if current != str(value if value is not None else ""):
            self.edit.setText(text)


class DateInput(AnswerInput):
    """A date typed as TT.MM.JJJJ, or picked from a calendar (button or Alt+Down)."""

    def __init__(self, question: Question, lang: str) -> None:
        super().__init__(question, lang)
        self.edit = QLineEdit()
        self.edit.setPlaceholderText("TT.MM.JJJJ" if lang == "de" else "DD.MM.YYYY")
        self.edit.setMaximumWidth(160)
        self.edit.installEventFilter(enter_moves_on())
        self.edit.installEventFilter(self)
        self.button = QToolButton()
        self.button.setIcon(QIcon(str(resource("icons", "calendar.svg"))))
        side = self.fontMetrics().height()
        self.button.setIconSize(QSize(side, side))
        self.button.setToolTip(self._t("Kalender öffnen (Alt+Pfeil nach unten)"))
        self.button.setAccessibleName(self._t("Kalender öffnen"))
        self.button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.problem = QLabel()
        self.problem.setObjectName("error")
        self.problem.hide()
        self.calendar = QCalendarWidget()
        self.calendar.setGridVisible(True)
        self.calendar.setFirstDayOfWeek(Qt.DayOfWeek.Monday)
        menu = QMenu(self)
        holder = QWidgetAction(menu)
        holder.setDefaultWidget(self.calendar)
        menu.addAction(holder)
        self._menu = menu
        self.button.clicked.connect(self.open_calendar)
        self.calendar.activated.connect(self._on_picked)
        self.calendar.clicked.connect(self._on_picked)
        self.edit.textEdited.connect(self._on_text)
        self.edit.editingFinished.connect(self._tidy)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.edit)
        row.addWidget(self.button)
        row.addWidget(self.problem)
        row.addStretch(1)
        self.setLayout(row)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            watched is self.edit
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() == Qt.Key.Key_Down
            and event.modifiers() & Qt.KeyboardModifier.AltModifier
        ):
            self.open_calendar()
            return True
        return False

    def open_calendar(self) -> None:
        day = parse_date(self.edit.text())
        if day is not None:
            self.calendar.setSelectedDate(QDate(day.year, day.month, day.day))
        self._menu.popup(self.edit.mapToGlobal(self.edit.rect().bottomLeft()))
        self.calendar.setFocus()

    def _on_picked(self, qdate: QDate) -> None:
        self._menu.hide()
        day = date(qdate.year(), qdate.month(), qdate.day())
        self.edit.setText(self._format(day))
        self.problem.hide()
        self._emit(day.isoformat())
        self.edit.setFocus()

    def _format(self, day: date) -> str:
        return day.strftime("%d.%m.%Y")

    def _tidy(self) -> None:
        """A date typed another way (15031990, 15.3.90) is shown as TT.MM.JJJJ once the
        field is left; the stored answer is the same."""
        day = parse_date(self.edit.text())
        if day is not None and self.edit.text() != self._format(day):
            self.edit.setText(self._format(day))

    def _on_text(self, text: str) -> None:
        if not text.strip():
            self.problem.hide()
            self._emit(None)
            return
        day = parse_date(text)
        if day is None:
            # keep the text on screen; store nothing until it is a date
            self.problem.setText(self._t("Bitte als TT.MM.JJJJ eingeben."))
            self.problem.setVisible(len(text.strip()) >= 8)
            return
        self.problem.hide()
        self._emit(day.isoformat())

    def _show(self, value: Any) -> None:
        if not value:
            if parse_date(self.edit.text()) is not None or not self.edit.text():
                self.edit.clear()
            return
        try:
            text = self._format(date.fromisoformat(str(value)))
        except ValueError:
            text = str(value)
        if self.edit.text() != text and parse_date(self.edit.text()) != parse_date(text):
            self.edit.setText(text)

    def focus_target(self) -> QWidget:
        return self.edit

    def set_read_only(self, read_only: bool) -> None:
        self.edit.setReadOnly(read_only)
        self.button.setEnabled(not read_only)

    def retranslate(self, lang: str) -> None:
        super().retranslate(lang)
        self.edit.setPlaceholderText("TT.MM.JJJJ" if lang == "de" else "DD.MM.YYYY")
        self.button.setToolTip(self._t("Kalender öffnen (Alt+Pfeil nach unten)"))
        self.button.setAccessibleName(self._t("Kalender öffnen"))


class _ButtonsInput(AnswerInput):
    """Radio buttons with a way back to "no answer": a small clear button for the mouse
    (no Tab stop, so Space never clears an answer by surprise) and the Delete key on the
    chosen button for the keyboard."""

    def __init__(
        self, question: Question, lang: str, options: list[tuple[str, str]], *, columns: int = 0
    ) -> None:
        super().__init__(question, lang)
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.buttons: dict[str, QRadioButton] = {}
        self.clear_button = QToolButton()
        self.clear_button.setText("✕")
        self.clear_button.setToolTip(self._t("Antwort entfernen (Entf)"))
        self.clear_button.setAccessibleName(self._t("Antwort entfernen"))
        self.clear_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.clear_button.clicked.connect(self._on_clear)
        self._grid = QGridLayout()
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._columns = columns or len(options)
        self._build(options)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addLayout(self._grid)
        outer.addWidget(self.clear_button, 0, Qt.AlignmentFlag.AlignTop)
        outer.addStretch(1)
        self.group.idClicked.connect(self._on_clicked)
        self.clear_button.hide()

    def _build(self, options: list[tuple[str, str]]) -> None:
        for index, (value, label) in enumerate(options):
            button = QRadioButton(label)
            button.setProperty("value", value)
            self.group.addButton(button, index)
            button.installEventFilter(self)
            self.buttons[value] = button
            self._grid.addWidget(button, index // self._columns, index % self._columns)

    def _value_of(self, button_id: int) -> Any:
        return self.group.button(button_id).property("value")

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace)
            and self.group.checkedButton() is not None
            and watched.isEnabled()  # type: ignore[attr-defined]
        ):
            self._on_clear()
            return True
        return False

    def _on_clicked(self, button_id: int) -> None:
        self.clear_button.show()
        self._emit(self._value_of(button_id))

    def _on_clear(self) -> None:
        self._uncheck()
        self._emit(None)

    def _uncheck(self) -> None:
        self.group.setExclusive(False)
        for button in self.buttons.values():
            button.setChecked(False)
        self.group.setExclusive(True)
        self.clear_button.hide()

    def _show(self, value: Any) -> None:
        key = self._key(value)
        if key is None or key not in self.buttons:
            self._uncheck()
            return
        self.buttons[key].setChecked(True)
        self.clear_button.show()

    def _key(self, value: Any) -> str | None:
        return None if value is None else str(value)

    def focus_target(self) -> QWidget:
        checked = self.group.checkedButton()
        return checked or next(iter(self.buttons.values()), self)

    def set_accessible(self, name: str, description: str) -> None:
        for button in self.buttons.values():
            button.setAccessibleName(f"{name}: {button.text()}")
            button.setAccessibleDescription(description)


class YesNoInput(_ButtonsInput):
    def __init__(self, question: Question, lang: str) -> None:
        tr = translator(lang)
        super().__init__(question, lang, [("true", tr("Ja")), ("false", tr("Nein"))])

    def _value_of(self, button_id: int) -> Any:
        return super()._value_of(button_id) == "true"

    def _key(self, value: Any) -> str | None:
        if value is None:
            return None
        return "true" if value else "false"

    def retranslate(self, lang: str) -> None:
        super().retranslate(lang)
        self.buttons["true"].setText(self._t("Ja"))
        self.buttons["false"].setText(self._t("Nein"))


class CefrInput(_ButtonsInput):
    def __init__(self, question: Question, lang: str) -> None:
        tr = translator(lang)
        options = [(level, tr("keine") if level == "none" else level) for level in CEFR]
        super().__init__(question, lang, options)

    def retranslate(self, lang: str) -> None:
        super().retranslate(lang)
        self.buttons["none"].setText(self._t("keine"))


class RadioChoiceInput(_ButtonsInput):
    def __init__(self, question: Question, lang: str) -> None:
        options = [(c.value, c.label(lang)) for c in question.choices]
        super().__init__(question, lang, options, columns=1 if len(options) > 3 else 0)

    def set_choices(self, choices: list[Choice]) -> None:
        allowed = {c.value for c in choices}
        for value, button in self.buttons.items():
            button.setVisible(value in allowed or button.isChecked())

    def retranslate(self, lang: str) -> None:
        super().retranslate(lang)
        for choice in self.question.choices:
            self.buttons[choice.value].setText(choice.label(lang))


class ComboChoiceInput(AnswerInput):
    """A long single choice: a drop-down list that filters as you type."""

    def __init__(self, question: Question, lang: str) -> None:
        super().__init__(question, lang)
        self.combo = QComboBox()
        self.combo.setEditable(True)
        self.combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        completer = self.combo.completer()
        assert completer is not None  # an editable combo box has one
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.combo.setMinimumWidth(360)
        self._choices: list[Choice] = list(question.choices)
        self._value: str | None = None
        self._fill()
        self.combo.activated.connect(self._on_activated)
        self._line().editingFinished.connect(self._on_editing_finished)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.combo)
        layout.addStretch(1)

    def _fill(self) -> None:
        self.combo.blockSignals(True)
        self.combo.clear()
        self.combo.addItem("", None)
        for choice in self._choices:
            self.combo.addItem(choice.label(self.lang), choice.value)
        if (
            self._value is not None
            and self.question.choice(self._value)
            and not any(c.value == self._value for c in self._choices)
        ):
            # keep a value the filter no longer allows visible, so nothing vanishes silently
            kept = self.question.choice(self._value)
            assert kept is not None
            self.combo.addItem(kept.label(self.lang), kept.value)
        index = self.combo.findData(self._value)
        self.combo.setCurrentIndex(max(index, 0))
        self.combo.blockSignals(False)

    def _on_activated(self, index: int) -> None:
        value = self.combo.itemData(index)
        if value != self._value:
            self._value = value
            self._emit(value)

    def _on_editing_finished(self) -> None:
        text = self.combo.currentText().strip()
        if not text:
            if self._value is not None:
                self._value = None
                self._emit(None)
            return
        index = self.combo.findText(text, Qt.MatchFlag.MatchFixedString)
        if index >= 0:
            self._on_activated(index)
        else:
            self._fill()  # typed text that is no choice: show the stored value again

    def _show(self, value: Any) -> None:
        self._value = None if value is None else str(value)
        self._fill()

    def set_choices(self, choices: list[Choice]) -> None:
        if [c.value for c in choices] != [c.value for c in self._choices]:
            self._choices = list(choices)
            self._fill()

    def _line(self) -> QLineEdit:
        line = self.combo.lineEdit()
        assert line is not None  # the combo box is editable
        return line

    def focus_target(self) -> QWidget:
        return self.combo

    def set_accessible(self, name: str, description: str) -> None:
        super().set_accessible(name, description)
        self._line().setAccessibleName(name)
        self._line().setAccessibleDescription(description)

    def retranslate(self, lang: str) -> None:
        super().retranslate(lang)
        self._fill()


class MultiChoiceInput(AnswerInput):
    def __init__(self, question: Question, lang: str) -> None:
        super().__init__(question, lang)
        self.boxes: dict[str, QCheckBox] = {}
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        columns = 2 if len(question.choices) > 4 else 1
        for index, choice in enumerate(question.choices):
            box = QCheckBox(choice.label(lang))
            box.toggled.connect(self._on_toggled)
            self.boxes[choice.value] = box
            grid.addWidget(box, index // columns, index % columns)

    def _on_toggled(self) -> None:
        values = [value for value, box in self.boxes.items() if box.isChecked()]
        self._emit(values or None)

    def _show(self, value: Any) -> None:
        chosen = set(value or [])
        for key, box in self.boxes.items():
            box.setChecked(key in chosen)

    def set_choices(self, choices: list[Choice]) -> None:
        allowed = {c.value for c in choices}
        for value, box in self.boxes.items():
            box.setVisible(value in allowed or box.isChecked())

    def focus_target(self) -> QWidget:
        return next(iter(self.boxes.values()), self)

    def set_accessible(self, name: str, description: str) -> None:
        for box in self.boxes.values():
            box.setAccessibleName(f"{name}: {box.text()}")
            box.setAccessibleDescription(description)

    def retranslate(self, lang: str) -> None:
        super().retranslate(lang)
        for choice in self.question.choices:
            self.boxes[choice.value].setText(choice.label(lang))


class NoteInput(AnswerInput):
    """A read-only note: the question's label is the text."""

    def __init__(self, question: Question, lang: str) -> None:
        super().__init__(question, lang)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)

    def _show(self, value: Any) -> None:
        return
