"""The contact dialog (keyboard first, every field named) and the record page's timeline."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import QAbstractSpinBox, QComboBox, QDialog, QWidget
from pytestqt.qtbot import QtBot

from intake_app.core.followup import check_contact
from intake_app.demo.data import add_synthetic_intakes
from intake_app.i18n import set_language
from intake_app.storage.records import RecordQuery
from intake_app.ui.followup_dialogs import (
    CloseCaseDialog,
    ContactDialog,
    ReopenDialog,
    UpdateDialog,
)
from intake_app.ui.mainwindow import MainWindow
from intake_app.ui.record_page import RecordPage
from tests.conftest import COUNSELLOR, SUPERVISOR, ProfileFixture
from tests.helpers.opening import open_record_now


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
        and type(w).__name__
        in {"QDateEdit", "DateField", "QComboBox", "QCheckBox", "QListWidget", "QLineEdit"}
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


def test_a_contact_s_dates_are_typed(qtbot: QtBot) -> None:
    """Both dates of a contact are typed as TT.MM.JJJJ (also 1.12.2026 or 01122026); a
    text that is no date is explained in the dialog, and nothing is saved."""
    today = date.today()
    on = today - timedelta(days=2)
    later = today + timedelta(days=14)
    dialog = ContactDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.activateWindow()
    dialog.date.setFocus()
    dialog.date.selectAll()
    qtbot.keyClicks(dialog.date, f"{on.day}.{on.month}.{on.year}")
    dialog.has_next.setChecked(True)
    dialog.next_date.setFocus()
    dialog.next_date.selectAll()
    qtbot.keyClicks(dialog.next_date, "31.02.")  # not a date
    dialog.buttons.buttons()[0].click()
    assert dialog.result() != QDialog.DialogCode.Accepted
    assert "kein Datum" in dialog.error.text() and "TT.MM.JJJJ" in dialog.error.text()
    dialog.next_date.selectAll()
    qtbot.keyClicks(dialog.next_date, later.strftime("%d%m%Y"))
    dialog.buttons.buttons()[0].click()
    assert dialog.result() == QDialog.DialogCode.Accepted
    contact = dialog.contact()
    assert contact.on == on
    assert contact.next_appointment == later


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
    open_record_now(window, record_id)
    page = window.record_page
    assert isinstance(page, RecordPage)
    assert page.contact_button.isVisible()
    assert page.history.accessibleName() == "Verlauf"
    before = page.history.count()
    assert before >= 1 and "Revision 1 abgeschlossen" in page.history.item(0).text()
    height = page.history.height()  # as tall as its entries: the answers get the rest
    assert height < 120

    def fill(dialog: ContactDialog) -> int:
        dialog.mode.setCurrentIndex(dialog.mode.findData("video"))
        dialog.note.setText("Termin beim Jobcenter vorbereitet")
        dialog._check()
        return int(dialog.result())

    monkeypatch.setattr(ContactDialog, "exec", fill)
    page.contact_button.click()
    assert page.history.count() == before + 1
    assert page.history.height() > height  # one entry more, one line taller
    lines = [page.history.item(i).text() for i in range(page.history.count())]
    assert any("Kontakt (Video)" in line and "Jobcenter vorbereitet" in line for line in lines)


def test_the_timeline_speaks_english(qtbot: QtBot, counsellor_window: MainWindow) -> None:
    window = counsellor_window
    record_id = window.ws.records.list(RecordQuery(status="complete"), limit=1)[0].id
    window.ws.records.add_contact(record_id, check_contact(on=date.today(), mode="phone"))
    set_language("en")
    try:
        open_record_now(window, record_id)
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


def _run_dialog(monkeypatch: pytest.MonkeyPatch, cls: type, fill: Any) -> None:
    """Replace ``cls.exec`` by filling the dialog's fields and pressing its OK button."""

    def run(dialog: QDialog) -> int:
        fill(dialog)
        dialog.buttons.buttons()[0].click()  # type: ignore[attr-defined]
        assert dialog.result() == QDialog.DialogCode.Accepted, dialog.error.text()  # type: ignore[attr-defined]
        return int(dialog.result())

    monkeypatch.setattr(cls, "exec", run)


def test_a_case_from_intake_to_reopening(
    qtbot: QtBot, profile: ProfileFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Intake, three contacts, the referral accepted, employment, closed, reopened: each
    step through its dialog on the record page, the timeline telling the whole story."""
    from tests.unit.followup.test_updates import INTAKE, case_with_plan

    ws = profile.sign_in(COUNSELLOR)
    record_id = case_with_plan(ws)
    window = MainWindow(ws, autolock_minutes=30)
    qtbot.addWidget(window)
    window.show()
    try:
        for n, (days, mode) in enumerate(((3, "in_person"), (10, "phone"), (20, "video"))):
            day = INTAKE + timedelta(days=days)

            def contact(
                dialog: ContactDialog, day: date = day, mode: str = mode, n: int = n
            ) -> None:
                dialog.date.setDate(QDate(day.year, day.month, day.day))
                dialog.mode.setCurrentIndex(dialog.mode.findData(mode))
                dialog.topics.item(n).setCheckState(Qt.CheckState.Checked)
                dialog.note.setText(f"Kontakt {n + 1}")

            _run_dialog(monkeypatch, ContactDialog, contact)
            open_record_now(window, record_id)
            page = window.record_page
            assert isinstance(page, RecordPage)
            page.contact_button.click()

        def accepted(dialog: UpdateDialog) -> None:
            dialog.select("referral", 0)
            day = INTAKE + timedelta(days=25)
            dialog.date.setDate(QDate(day.year, day.month, day.day))
            box = dialog.inputs["outcome"]
            assert isinstance(box, QComboBox)
            box.setCurrentIndex(box.findData("started"))

        _run_dialog(monkeypatch, UpdateDialog, accepted)
        open_record_now(window, record_id)
        page = window.record_page
        assert isinstance(page, RecordPage)
        assert not page.close_case_button.isVisible()  # a counsellor does not close
        page.update_button.click()
    finally:
        window.shutdown_pages()
        ws.close()
    sup = profile.sign_in(SUPERVISOR)
    window = MainWindow(sup, autolock_minutes=30)
    qtbot.addWidget(window)
    window.show()
    try:
        closed_on = INTAKE + timedelta(days=30)

        def employment(dialog: CloseCaseDialog) -> None:
            dialog.reason.setCurrentIndex(dialog.reason.findData("employment"))
            assert dialog.kldb.isEnabled()
            dialog.date.setDate(QDate(closed_on.year, closed_on.month, closed_on.day))
            dialog.kldb.setText("81302")
            dialog.hours.setValue(30)
            dialog.contract.setCurrentIndex(dialog.contract.findData("permanent"))
            dialog.note.setText("Stelle im Krankenhaus")

        _run_dialog(monkeypatch, CloseCaseDialog, employment)
        open_record_now(window, record_id)
        page = window.record_page
        assert isinstance(page, RecordPage)
        page.close_case_button.click()
        assert sup.records.get(record_id).status == "closed"

        def reopen(dialog: ReopenDialog) -> None:
            dialog.reason.setText("Probezeit nicht bestanden")

        _run_dialog(monkeypatch, ReopenDialog, reopen)
        open_record_now(window, record_id)
        page = window.record_page
        assert isinstance(page, RecordPage)
        assert page.reopen_button.isVisible() and not page.close_case_button.isVisible()
        page.reopen_button.click()
        open_record_now(window, record_id)
        page = window.record_page
        assert isinstance(page, RecordPage)
        everything = list(reversed(page.history_lines()))  # oldest first
        # (the test's intake was finalised today, after the back-dated events)
        assert sum("Revision 1 abgeschlossen" in line for line in everything) == 1
        lines = [line for line in everything if "Revision" not in line]
        story = [line.split(" · ")[1] for line in lines]
        assert [s.split(" – ")[0] for s in story[0:3]] == [
            "Kontakt (Persönlich)",
            "Kontakt (Telefon)",
            "Kontakt (Video)",
        ]
        assert story[3] == "Aktualisiert (Vermittlung 1): Ergebnis: Offen → Begonnen"
        assert story[4].startswith("Fall beendet: Beschäftigung – KldB 81302")
        assert story[5] == "Fall wieder eröffnet: Probezeit nicht bestanden"
        assert lines[4].endswith(" · leitung") and lines[0].endswith(" · berater")
        assert sup.records.get(record_id).status == "complete"
    finally:
        window.shutdown_pages()
        sup.close()


def test_a_plan_step_status_through_the_dialog_onto_the_timeline(
    qtbot: QtBot, profile: ProfileFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Form version 2026.3: the dialog offers a plan step's status and its date, each
    named; the record page's timeline shows the update. A record of 2026.2 is offered
    only the fields its version has."""
    from tests.unit.followup.test_updates import TODAY, case_with_plan, form_and_answers

    ws = profile.sign_in(COUNSELLOR)
    old_id = case_with_plan(ws)
    record_id = case_with_plan(ws, version="2026.3")
    window = MainWindow(ws, autolock_minutes=30)
    qtbot.addWidget(window)
    window.show()
    try:
        form, answers = form_and_answers(ws, old_id)
        dialog = UpdateDialog(form, answers)
        qtbot.addWidget(dialog)
        dialog.select("plan_step", 0)
        assert list(dialog.inputs) == ["deadline", "responsible"]

        def done(dialog: UpdateDialog) -> None:
            dialog.select("plan_step", 0)
            assert list(dialog.inputs) == ["status", "status_date", "deadline", "responsible"]
            assert dialog.inputs["status"].accessibleName() == "Stand"
            assert dialog.inputs["status_date"].accessibleName() == "Stand seit"
            box = dialog.inputs["status"]
            assert isinstance(box, QComboBox)
            assert box.currentData() == "in_progress"
            box.setCurrentIndex(box.findData("done"))

        _run_dialog(monkeypatch, UpdateDialog, done)
        open_record_now(window, record_id)
        page = window.record_page
        assert isinstance(page, RecordPage)
        page.update_button.click()
        step = ws.records.get(record_id).answers["plan_steps"][0]
        # (the program dates it today: a run across midnight has moved on from TODAY)
        assert step["status"] == "done"
        assert step["status_date"] in (TODAY.isoformat(), date.today().isoformat())
        open_record_now(window, record_id)
        page = window.record_page
        assert isinstance(page, RecordPage)
        text = "\n".join(page.history_lines())
        assert "Aktualisiert (Nächster Schritt 1): Stand: In Arbeit → Erledigt" in text
        assert f"Stand seit: {(TODAY - timedelta(days=40)).strftime('%d.%m.%Y')} → " in text
    finally:
        window.shutdown_pages()
        ws.close()
