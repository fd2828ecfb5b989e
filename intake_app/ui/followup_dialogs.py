"""Small dialogs for a case after the intake (core/followup.py): a follow-up contact, an
update without a revision.

Keyboard first: the date has the focus, Tab goes through form, interpreter, topics (Space
ticks one), note and next appointment, Enter saves. Every field has a label with an
Alt+letter and an accessible name (docs/accessibility.md).
"""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from intake_app.core.followup import (
    HOURS_MAX,
    NOTE_MAX,
    UPDATE_TARGETS,
    Closure,
    ClosureReason,
    Contact,
    ContactMode,
    ContractType,
    Update,
    check_closure,
    check_contact,
    check_reopening,
    check_update,
    contact_topics,
    update_choices,
)
from intake_app.core.forms.model import Form, QuestionType
from intake_app.errors import ValidationError
from intake_app.i18n import _, current_language
from intake_app.ui.widgets import DateField, add_row, error_label, ok_cancel_buttons, room_for_title


def date_edit(*, latest: QDate | None = None, optional: bool = False) -> DateField:
    """A date field typed as TT.MM.JJJJ or picked from a calendar, today preset (empty
    when ``optional``)."""
    edit = DateField(optional=optional)
    if latest is not None:
        edit.setMaximumDate(latest)
    return edit


def to_date(edit: DateField) -> date:
    """The date of ``edit``; ValidationError (in words) when its text is no date."""
    problem = edit.problem()
    if problem:
        edit.setFocus()
        raise ValidationError(problem)
    value = edit.date()
    return date(value.year(), value.month(), value.day())


class ContactDialog(QDialog):
    """Enter one follow-up contact; :meth:`contact` is the checked result."""

    def __init__(self, parent: QWidget | None = None, *, today: date | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(_("Kontakt eintragen"))
        room_for_title(self)
        self._today = today or date.today()
        self.date = date_edit(latest=QDate.currentDate())
        self.mode = QComboBox()
        for mode in ContactMode:
            self.mode.addItem(mode.label, mode.value)
        self.interpreter = QCheckBox(_("Mit Sprachmittlung"))
        self.interpreter.setAccessibleName(_("Mit Sprachmittlung"))
        self.topics = QListWidget()
        lang = current_language()
        for topic in contact_topics():
            item = QListWidgetItem(topic.label(lang))
            item.setData(Qt.ItemDataRole.UserRole, topic.value)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.topics.addItem(item)
        self.topics.setCurrentRow(0)
        self.topics.setMinimumHeight(150)
        self.topics.itemActivated.connect(self._toggle)
        self.note = QLineEdit()
        self.note.setMaxLength(NOTE_MAX)
        self.has_next = QCheckBox(_("Termin vereinbart"))
        self.has_next.setAccessibleName(_("Nächster Termin vereinbart"))
        self.next_date = date_edit()
        self.next_date.setEnabled(False)
        self.has_next.toggled.connect(self.next_date.setEnabled)
        next_row = QWidget()
        row = QHBoxLayout(next_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.has_next)
        row.addWidget(self.next_date, 1)
        form = QFormLayout()
        add_row(form, _("&Datum:"), self.date)
        add_row(form, _("&Form:"), self.mode, accessible=_("Kontaktform"))
        form.addRow("", self.interpreter)
        add_row(form, _("&Themen:"), self.topics)
        self.topics.setAccessibleDescription(_("Leertaste kreuzt ein Thema an oder ab."))
        add_row(form, _("&Notiz (kurz):"), self.note, accessible=_("Notiz"))
        add_row(form, _("Nächster Te&rmin:"), next_row, accessible=_("Nächster Termin"))
        self.next_date.setAccessibleName(_("Datum des nächsten Termins"))
        self.error = error_label()
        self.buttons = ok_cancel_buttons(self, _("Kontakt speichern"), on_accept=self._check)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self._result: Contact | None = None
        self.date.setFocus()

    def _toggle(self, item: QListWidgetItem) -> None:
        checked = item.checkState() == Qt.CheckState.Checked
        item.setCheckState(Qt.CheckState.Unchecked if checked else Qt.CheckState.Checked)

    def chosen_topics(self) -> list[str]:
        return [
            str(self.topics.item(i).data(Qt.ItemDataRole.UserRole))
            for i in range(self.topics.count())
            if self.topics.item(i).checkState() == Qt.CheckState.Checked
        ]

    def _check(self) -> None:
        try:
            self._result = check_contact(
                on=to_date(self.date),
                mode=str(self.mode.currentData()),
                interpreter=self.interpreter.isChecked(),
                topics=self.chosen_topics(),
                note=self.note.text(),
                next_appointment=to_date(self.next_date) if self.has_next.isChecked() else None,
                today=self._today,
            )
        except ValidationError as exc:
            self.error.setText(str(exc))
            return
        self.accept()

    def contact(self) -> Contact:
        assert self._result is not None, "only after the dialog was accepted"
        return self._result


class UpdateDialog(QDialog):
    """Change a referral's outcome, a plan step, a recognition procedure or the residence
    document without a new revision (core/followup.py, ``check_update``).

    ``targets``: (target key, item index or None, label) of what can be changed;
    ``current``: for each of them, the current answers of the item.
    """

    def __init__(
        self,
        form: Form,
        answers: dict[str, Any],
        parent: QWidget | None = None,
        *,
        today: date | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(_("Angaben aktualisieren"))
        room_for_title(self)
        self._form = form
        self._answers = answers
        self._today = today or date.today()
        self._lang = current_language()
        self.what = QComboBox()
        self._choices = update_choices(form, answers, self._lang)
        for n, (_key, _index, label) in enumerate(self._choices):
            self.what.addItem(label, n)
        self.date = date_edit(latest=QDate.currentDate())
        self.fields_box = QWidget()
        self.fields_form = QFormLayout(self.fields_box)
        self.fields_form.setContentsMargins(0, 0, 0, 0)
        self.inputs: dict[str, QWidget] = {}
        form_layout = QFormLayout()
        add_row(form_layout, _("&Was:"), self.what, accessible=_("Was wird aktualisiert"))
        add_row(form_layout, _("&Stand vom:"), self.date, accessible=_("Datum der Änderung"))
        self.error = error_label()
        self.buttons = ok_cancel_buttons(self, _("Änderung speichern"), on_accept=self._check)
        layout = QVBoxLayout(self)
        layout.addLayout(form_layout)
        layout.addWidget(self.fields_box)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.what.currentIndexChanged.connect(self._build_fields)
        self._build_fields()
        self._result: Update | None = None
        self.what.setFocus()

    def chosen(self) -> tuple[str | None, int | None]:
        """The target and item index chosen in "Was"."""
        n = self.what.currentData()
        if not isinstance(n, int) or not 0 <= n < len(self._choices):
            return None, None
        key, index, _label = self._choices[n]
        return key, index

    def select(self, target: str, index: int | None) -> None:
        for n, (key, item, _label) in enumerate(self._choices):
            if key == target and item == index:
                self.what.setCurrentIndex(n)

    def _item(self) -> dict[str, Any]:
        key, index = self.chosen()
        spec = UPDATE_TARGETS.get(key or "")
        if spec is None:
            return {}
        if spec.group is None:
            return self._answers
        items = self._answers.get(spec.group) or []
        return items[index] if index is not None and index < len(items) else {}

    def _build_fields(self) -> None:
        while self.fields_form.rowCount():
            self.fields_form.removeRow(0)
        self.inputs = {}
        key, _index = self.chosen()
        spec = UPDATE_TARGETS.get(key or "")
        if spec is None:
            return
        current = self._item()
        # only the fields the record's form version has (a plan step's status and its
        # date came with 2026.3; a record of 2026.2 offers deadline and responsible)
        for name in spec.fields_of(self._form):
            question = self._form.question(name)
            value = current.get(name)
            field: QWidget
            if question.type == QuestionType.DATE:
                edit = date_edit(optional=True)
                edit.setMinimumDate(QDate(1900, 1, 1))
                edit.setPlaceholderText(_("TT.MM.JJJJ (leer: kein Datum)"))
                if value:
                    day = date.fromisoformat(str(value))
                    edit.setDate(QDate(day.year, day.month, day.day))
                field = edit
            elif question.choices:
                box = QComboBox()
                box.addItem(_("(keine Angabe)"), None)
                for choice in question.choices:
                    box.addItem(choice.label(self._lang), choice.value)
                found = box.findData(value)
                box.setCurrentIndex(max(found, 0))
                field = box
            else:
                line = QLineEdit("" if value is None else str(value))
                field = line
            label = question.label(self._lang)
            add_row(self.fields_form, f"{label}:", field, accessible=label)
            self.inputs[name] = field
        # fields made after the dialog was built would come after its buttons in the
        # Tab order: what, date, the fields in order, then the buttons (docs/accessibility.md)
        chain = [self.what, self.date, *self.inputs.values(), *self.buttons.buttons()]
        for before, after in itertools.pairwise(chain):
            QWidget.setTabOrder(before, after)

    def values(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name, field in self.inputs.items():
            if isinstance(field, DateField):
                result[name] = None if field.is_empty() else to_date(field)
            elif isinstance(field, QComboBox):
                result[name] = field.currentData()
            elif isinstance(field, QLineEdit):
                result[name] = field.text().strip() or None
        current = self._item()
        # only what the user changed: an untouched empty field stays absent
        return {
            name: value
            for name, value in result.items()
            if (value.isoformat() if isinstance(value, date) else value) != current.get(name)
        }

    def _check(self) -> None:
        key, index = self.chosen()
        try:
            self._result = check_update(
                self._form,
                self._answers,
                target=str(key),
                index=index,
                values=self.values(),
                on=to_date(self.date),
                lang=self._lang,
                today=self._today,
            )
        except ValidationError as exc:
            self.error.setText(str(exc))
            return
        self.accept()

    def checked_update(self) -> Update:
        assert self._result is not None, "only after the dialog was accepted"
        return self._result


class CloseCaseDialog(QDialog):
    """End a case: reason, date, for a job or training place the occupation (KldB), hours
    and contract, and a closing note; :meth:`closure` is the checked result."""

    def __init__(self, parent: QWidget | None = None, *, today: date | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(_("Fall beenden"))
        room_for_title(self)
        self._today = today or date.today()
        self.reason = QComboBox()
        for reason in ClosureReason:
            self.reason.addItem(reason.label, reason.value)
        self.date = date_edit(latest=QDate.currentDate())
        self.kldb = QLineEdit()
        self.kldb.setMaxLength(5)
        self.kldb.setPlaceholderText(_("z. B. 81302"))
        self.hours = QSpinBox()
        self.hours.setRange(0, HOURS_MAX)
        self.hours.setSpecialValueText(_("(keine Angabe)"))
        self.contract = QComboBox()
        self.contract.addItem(_("(keine Angabe)"), None)
        for kind in ContractType:
            self.contract.addItem(kind.label, kind.value)
        self.note = QLineEdit()
        self.note.setMaxLength(NOTE_MAX)
        explain = QLabel(
            _(
                "Ab dem Datum des Fallendes läuft die Aufbewahrungsfrist; danach wird die Akte "
                "auf diesem Gerät gelöscht, sobald sie übermittelt ist. Ein beendeter Fall "
                "kann mit Begründung wieder eröffnet werden."
            )
        )
        explain.setWordWrap(True)
        form = QFormLayout()
        add_row(form, _("&Grund:"), self.reason, accessible=_("Grund für das Fallende"))
        add_row(form, _("&Datum:"), self.date, accessible=_("Datum des Fallendes"))
        add_row(form, _("&Beruf (KldB-Code):"), self.kldb, accessible=_("Beruf als KldB-Code"))
        add_row(form, _("&Wochenstunden:"), self.hours, accessible=_("Wochenstunden"))
        add_row(form, _("&Vertragsart:"), self.contract, accessible=_("Vertragsart"))
        add_row(form, _("&Notiz (kurz):"), self.note, accessible=_("Notiz zum Fallende"))
        self.error = error_label()
        self.buttons = ok_cancel_buttons(self, _("Fall beenden"), on_accept=self._check)
        layout = QVBoxLayout(self)
        layout.addWidget(explain)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.reason.currentIndexChanged.connect(self._details_enabled)
        self._details_enabled()
        self._result: Closure | None = None
        self.reason.setFocus()

    def _details_enabled(self) -> None:
        reason = ClosureReason(self.reason.currentData())
        on = reason in (
            ClosureReason.EMPLOYMENT,
            ClosureReason.TRAINING,
            ClosureReason.SELF_EMPLOYMENT,
        )
        for widget in (self.kldb, self.hours, self.contract):
            widget.setEnabled(on)

    def _check(self) -> None:
        details = self.kldb.isEnabled()
        try:
            self._result = check_closure(
                on=to_date(self.date),
                reason=str(self.reason.currentData()),
                kldb=self.kldb.text() if details else None,
                hours=self.hours.value() or None if details else None,
                contract=self.contract.currentData() if details else None,
                note=self.note.text(),
                today=self._today,
            )
        except ValidationError as exc:
            self.error.setText(str(exc))
            return
        self.accept()

    def closure(self) -> Closure:
        assert self._result is not None, "only after the dialog was accepted"
        return self._result


class ReopenDialog(QDialog):
    """Reopen a closed case: the date and a reason."""

    def __init__(self, parent: QWidget | None = None, *, today: date | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(_("Fall wieder eröffnen"))
        room_for_title(self)
        self._today = today or date.today()
        self.date = date_edit(latest=QDate.currentDate())
        self.reason = QLineEdit()
        self.reason.setMaxLength(NOTE_MAX)
        form = QFormLayout()
        add_row(form, _("&Datum:"), self.date, accessible=_("Datum der Wiedereröffnung"))
        add_row(form, _("&Grund:"), self.reason, accessible=_("Grund der Wiedereröffnung"))
        self.error = error_label()
        self.buttons = ok_cancel_buttons(self, _("Wieder eröffnen"), on_accept=self._check)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self._result: tuple[date, str] | None = None
        self.reason.setFocus()

    def _check(self) -> None:
        try:
            self._result = check_reopening(
                on=to_date(self.date), reason=self.reason.text(), today=self._today
            )
        except ValidationError as exc:
            self.error.setText(str(exc))
            return
        self.accept()

    def reopening(self) -> tuple[date, str]:
        assert self._result is not None, "only after the dialog was accepted"
        return self._result
