"""Small dialogs for a case after the intake (core/followup.py): a follow-up contact.

Keyboard first: the date has the focus, Tab goes through form, interpreter, topics (Space
ticks one), note and next appointment, Enter saves. Every field has a label with an
Alt+letter and an accessible name (docs/accessibility.md).
"""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from intake_app.core.followup import NOTE_MAX, Contact, ContactMode, check_contact, contact_topics
from intake_app.errors import ValidationError
from intake_app.i18n import _, current_language
from intake_app.ui.a11y import LiveLabel
from intake_app.ui.widgets import add_row, ok_cancel_buttons


def error_label() -> LiveLabel:
    """Where a dialog says what is wrong (read as its text and announced)."""
    label = LiveLabel(assertive=True)
    label.setObjectName("error")
    label.setWordWrap(True)
    return label


def date_edit(*, latest: QDate | None = None) -> QDateEdit:
    """A German date field (dd.MM.yyyy) with a calendar, today preset."""
    edit = QDateEdit(QDate.currentDate())
    edit.setCalendarPopup(True)
    edit.setDisplayFormat("dd.MM.yyyy")
    if latest is not None:
        edit.setMaximumDate(latest)
    return edit


def to_date(edit: QDateEdit) -> date:
    value = edit.date()
    return date(value.year(), value.month(), value.day())


class ContactDialog(QDialog):
    """Enter one follow-up contact; :meth:`contact` is the checked result."""

    def __init__(self, parent: QWidget | None = None, *, today: date | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(_("Kontakt eintragen"))
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
        add_row(form, _("Nächster &Termin:"), next_row, accessible=_("Nächster Termin"))
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
