"""The contact dialog (keyboard first, every field named) and the record page's timeline."""

from __future__ import annotations

from datetime import date

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractSpinBox, QComboBox, QDialog, QWidget
from pytestqt.qtbot import QtBot

from intake_app.core.followup import check_contact
from intake_app.demo.data import add_synthetic_intakes
from intake_app.i18n import set_language
from intake_app.storage.records import RecordQuery
from intake_app.ui.followup_dialogs import ContactDialog, UpdateDialog
from intake_app.ui.mainwindow import MainWindow
from intake_app.ui.record_page import RecordPage
from tests.conftest import COUNSELLOR, ProfileFixture


@pytest.fixture
def counsellor_window(qtbot, profile: ProfileFixture):  # type: ignore[no-untyped-def]
    ws = profile.sign_in(COUNSELLOR)
    add_synthetic_intakes(ws, count=3, seed=5, complete_share=1.0)
    window = MainWindow(ws, autolock_minutes=30)
    qtbot.addWidget(window)
    window.resize(1366, 768)
    window.show()
    yield window
    window.shutdown_pages()
    ws.close()


def _inputs(dialog: QDialog) -> list[QWidget]:
    return [
        w
        for w in dialog.findChildren(QWidget)
        if w.focusPolicy() != Qt.FocusPolicy.NoFocus
        and w.isVisibleTo(dialog)
        and type(w).__name__ in {"QDateEdit", "QComboBox", "QCheckBox", "QListWidget", "QLineEdit"}
        and not isinstance(w.parent(), QAbstractSpinBox)  # a date field's own line edit
    ]


def test_every_field_of_the_contact_dialog_has_a_name(qtbot: QtBot) -> None:
    dialog = ContactDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    fields = _inputs(dialog)
    assert len(fields) >= 7
    unnamed = [type(w).__name__ for w in fields if not w.accessibleName()]
    assert unnamed == []


def test_a_contact_is_entered_with_the_keyboard_alone(qtbot: QtBot) -> None:
    dialog = ContactDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.activateWindow()
    dialog.date.setFocus()
    qtbot.keyClick(dialog, Qt.Key.Key_Tab)  # to the form
    assert dialog.focusWidget() is dialog.mode
    qtbot.keyClick(dialog.mode, Qt.Key.Key_Down)  # in person -> phone
    qtbot.keyClick(dialog, Qt.Key.Key_Tab)
    qtbot.keyClick(dialog.interpreter, Qt.Key.Key_Space)
    qtbot.keyClick(dialog, Qt.Key.Key_Tab)
    assert dialog.focusWidget() is dialog.topics
    qtbot.keyClick(dialog.topics, Qt.Key.Key_Space)  # first topic ticked
    qtbot.keyClick(dialog.topics, Qt.Key.Key_Down)
    qtbot.keyClick(dialog.topics, Qt.Key.Key_Down)
    qtbot.keyClick(dialog.topics, Qt.Key.Key_Space)  # third topic ticked
    qtbot.keyClick(dialog, Qt.Key.Key_Tab)
    assert dialog.focusWidget() is dialog.note
    qtbot.keyClicks(dialog.note, "Bewerbungen besprochen")
    qtbot.keyClick(dialog.note, Qt.Key.Key_Return)
    assert dialog.result() == QDialog.DialogCode.Accepted
    contact = dialog.contact()
    assert contact.mode.value == "phone"
    assert contact.interpreter
    assert contact.topics == ("job_search", "recognition")
    assert contact.note == "Bewerbungen besprochen"


def test_a_bad_entry_is_explained_in_the_dialog(qtbot: QtBot) -> None:
    dialog = ContactDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.has_next.setChecked(True)
    dialog.next_date.setDate(dialog.date.date().addDays(-3))
    dialog.buttons.buttons()[0].click()
    assert dialog.result() != QDialog.DialogCode.Accepted
    assert "vor dem Kontakt" in dialog.error.text()
    assert dialog.error.accessibleName() == dialog.error.text()


def test_the_record_page_shows_contacts_in_its_timeline(
    qtbot: QtBot, counsellor_window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = counsellor_window
    record_id = window.ws.records.list(RecordQuery(status="complete"), limit=1)[0].id
    window.open_record(record_id)
    page = window.record_page
    assert isinstance(page, RecordPage)
    assert page.contact_button.isVisible()
    assert page.history.accessibleName() == "Verlauf"
    before = page.history.count()
    assert before >= 1 and "Revision 1 abgeschlossen" in page.history.item(0).text()

    def fill(dialog: ContactDialog) -> int:
        dialog.mode.setCurrentIndex(dialog.mode.findData("video"))
        dialog.note.setText("Termin beim Jobcenter vorbereitet")
        dialog._check()
        return int(dialog.result())

    monkeypatch.setattr(ContactDialog, "exec", fill)
    page.contact_button.click()
    assert page.history.count() == before + 1
    lines = [page.history.item(i).text() for i in range(page.history.count())]
    assert any("Kontakt (Video)" in line and "Jobcenter vorbereitet" in line for line in lines)


def test_the_timeline_speaks_english(qtbot: QtBot, counsellor_window: MainWindow) -> None:
    window = counsellor_window
    record_id = window.ws.records.list(RecordQuery(status="complete"), limit=1)[0].id
    window.ws.records.add_contact(record_id, check_contact(on=date.today(), mode="phone"))
    set_language("en")
    try:
        window.open_record(record_id)
        page = window.record_page
        assert isinstance(page, RecordPage)
        text = " ".join(page.history_lines())
        assert "Contact (phone)" in text.replace("Phone", "phone")
    finally:
        set_language("de")


def test_the_update_dialog_changes_a_referral_outcome(
    qtbot: QtBot, profile: ProfileFixture
) -> None:
    from tests.unit.followup.test_updates import case_with_plan, form_and_answers

    ws = profile.sign_in(COUNSELLOR)
    try:
        record_id = case_with_plan(ws)
        form, answers = form_and_answers(ws, record_id)
        dialog = UpdateDialog(form, answers)
        qtbot.addWidget(dialog)
        dialog.show()
        assert dialog.what.currentText() == "Vermittlung 1: Jobcenter"
        outcome = dialog.inputs["outcome"]
        assert outcome.accessibleName() == "Ergebnis"
        unnamed = [type(w).__name__ for w in _inputs(dialog) if not w.accessibleName()]
        assert unnamed == []
        assert isinstance(outcome, QComboBox)
        outcome.setCurrentIndex(outcome.findData("completed"))
        dialog.buttons.buttons()[0].click()
        assert dialog.result() == QDialog.DialogCode.Accepted
        ws.records.update_answers(record_id, dialog.checked_update())
        assert ws.records.get(record_id).answers["referrals"][0]["outcome"] == "completed"
        # the residence entry offers the document's questions, each named
        dialog = UpdateDialog(form, ws.records.get(record_id).answers)
        qtbot.addWidget(dialog)
        dialog.select("residence", None)
        assert "residence_valid_until" in dialog.inputs
        assert all(w.accessibleName() for w in dialog.inputs.values())
    finally:
        ws.close()
