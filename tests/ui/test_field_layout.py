"""Short fields sit under their label, dates read as TT.MM.JJJJ once left, and a required
repeat group carries the required marker (found by a new counsellor on a real display)."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from intake_app.core.forms import load_shipped_forms
from intake_app.ui.interview.inputs import DateInput, IntegerInput
from intake_app.ui.interview.pickers import ReferenceInput
from intake_app.ui.interview.section_view import RepeatGroup


def test_a_number_field_starts_under_its_label(qtbot: QtBot) -> None:
    form = load_shipped_forms().get("intake", "2026.3")
    holder = QWidget()
    field = IntegerInput(form.question("school_years"), "de")
    field.setParent(holder)
    field.resize(700, 40)
    holder.resize(700, 40)
    qtbot.addWidget(holder)
    holder.show()
    qtbot.waitExposed(holder)
    assert field.edit.width() <= 160
    assert field.edit.geometry().left() == 0, "not centred in the row"


def test_a_date_typed_as_digits_is_shown_with_dots_once_left(qtbot: QtBot) -> None:
    form = load_shipped_forms().get("intake", "2026.3")
    field = DateInput(form.question("birth_date"), "de")
    qtbot.addWidget(field)
    stored: list[object] = []
    field.edited.connect(lambda value: stored.append(value))
    field.edit.setText("15031990")
    field._on_text("15031990")
    field.edit.editingFinished.emit()
    assert field.edit.text() == "15.03.1990"
    assert stored[-1] == "1990-03-15"


def test_a_required_repeat_group_carries_the_required_marker(qtbot: QtBot) -> None:
    form = load_shipped_forms().get("intake", "2026.3")
    languages = form.question("languages")
    assert languages.required

    class _View:
        lang = "de"

    group = RepeatGroup(_View(), languages, ())  # type: ignore[arg-type]
    qtbot.addWidget(group)
    assert 'title="required">*' in group.title.text()


def test_occupation_suggestions_are_wide_enough_to_tell_apart(qtbot: QtBot) -> None:
    """The occupations differ at the end of their long names; the list of suggestions
    was as narrow as the field and cut them there."""
    form = load_shipped_forms().get("intake", "2026.3")
    question = form.question("target_occupation")
    assert question.reference == "occupation"
    field = ReferenceInput(question, "de")
    qtbot.addWidget(field)
    field.show()
    field.edit.setText("Bäcker")
    field._on_typed("Bäcker")
    popup = field.completer.popup()
    assert popup is not None
    texts = field._model.stringList()
    assert texts, "the job title finds its occupations"
    widest = max(popup.fontMetrics().horizontalAdvance(t) for t in texts)
    assert popup.minimumWidth() >= min(widest + 48, 900) > field.edit.width()
