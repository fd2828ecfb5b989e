"""Drive the interview through its widgets the way a counsellor does (click, type, pick)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication

from intake_app.ui.interview.consent import ConsentInput
from intake_app.ui.interview.inputs import (
    AnswerInput,
    CefrInput,
    ComboChoiceInput,
    DateInput,
    IntegerInput,
    LongTextInput,
    MultiChoiceInput,
    RadioChoiceInput,
    TextInput,
    YesNoInput,
)
from intake_app.ui.interview.page import InterviewPage
from intake_app.ui.interview.pickers import ReferenceInput
from intake_app.ui.interview.section_view import QuestionRow


def type_text(qtbot: Any, widget: Any, text: str) -> None:
    """Type like a person: ASCII through key clicks, other scripts as input events."""
    widget.setFocus()
    if text.isascii():
        qtbot.keyClicks(widget, text)
    else:
        # qtbot.keyClicks only handles ASCII; set the text and send the edit signal
        widget.setText(text)
        widget.textEdited.emit(text)


def answer(qtbot: Any, page: InterviewPage, qid: str, value: Any, index_path: tuple = ()) -> None:
    """Give one answer through the widget of question ``qid`` (its section must be open)."""
    view = page.views[page.current_section()]
    row = view.rows.get((qid, index_path))
    assert row is not None, f"{qid}{index_path} is not on the open page"
    assert row.isVisible(), f"{qid}{index_path} is hidden"
    fill(qtbot, row, value)


def fill(qtbot: Any, row: QuestionRow, value: Any) -> None:
    widget: AnswerInput | None = row.input
    assert widget is not None
    if isinstance(widget, DateInput):
        widget.edit.clear()
        type_text(qtbot, widget.edit, value)
    elif isinstance(widget, (TextInput, IntegerInput)):
        widget.edit.clear()
        type_text(qtbot, widget.edit, str(value))
    elif isinstance(widget, LongTextInput):
        widget.edit.setFocus()
        widget.edit.setPlainText(str(value))
    elif isinstance(widget, (YesNoInput, CefrInput, RadioChoiceInput)):
        key = ("true" if value else "false") if isinstance(widget, YesNoInput) else str(value)
        click(qtbot, widget.buttons[key])
    elif isinstance(widget, ComboChoiceInput):
        index = widget.combo.findData(value)
        assert index >= 0, f"{value} is not offered"
        widget.combo.setCurrentIndex(index)
        widget.combo.activated.emit(index)
    elif isinstance(widget, MultiChoiceInput):
        for item in value:
            click(qtbot, widget.boxes[item])
    elif isinstance(widget, ReferenceInput):
        for code in value if isinstance(value, list) else [value]:
            widget.edit.setFocus()
            qtbot.keyClicks(widget.edit, code)
            QApplication.processEvents()
            texts = [entry.text for entry in widget._entries]
            match = next((t for t in texts if t.endswith(f"({code})")), None)
            assert match is not None, f"{code} not found by typing it; got {texts[:5]}"
            widget.completer.activated[str].emit(match)  # type: ignore[index]  # overloaded signal
    elif isinstance(widget, ConsentInput):
        fill_consent(qtbot, widget, value)
    else:  # pragma: no cover - a new input type needs a driver
        raise AssertionError(f"no driver for {type(widget).__name__}")


def fill_consent(qtbot: Any, widget: ConsentInput, value: dict[str, Any]) -> None:
    widget.date.edit.clear()
    type_text(qtbot, widget.date.edit, value["date"])
    widget.language.setCurrentIndex(widget.language.findData(value["language"]))
    click(qtbot, widget.interpreter.yes if value["interpreter"] else widget.interpreter.no)
    if value.get("given_by") == "guardian":
        click(qtbot, widget.given_by.no)
        type_text(qtbot, widget.guardian_name, value.get("guardian_name", ""))
    elif value.get("given_by") == "person":
        click(qtbot, widget.given_by.yes)
    for pid, granted in value["purposes"].items():
        decision = widget.purposes[pid]
        click(qtbot, decision.yes if granted else decision.no)
    click(qtbot, widget.art9.yes if value["art9"] else widget.art9.no)


def click(qtbot: Any, button: Any) -> None:
    """Click a radio button or check box on its indicator, where people click."""
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton, pos=QPoint(8, button.height() // 2))


def add_item(qtbot: Any, page: InterviewPage, group: str, index_path: tuple = ()) -> None:
    view = page.views[page.current_section()]
    qtbot.mouseClick(view.groups[(group, index_path)].add_button, Qt.MouseButton.LeftButton)
