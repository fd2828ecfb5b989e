"""The real intake form filled through the interview UI: skip logic, validation, autosave,
resume after restart, finalise, a new revision, language switch, keyboard use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from intake_app.app import Workspace
from intake_app.core.records import RecordStatus
from intake_app.errors import NotFound
from intake_app.storage import audit
from intake_app.storage.models import OutboxItem, RecordRevision
from intake_app.ui.interview.inputs import DateInput, TextInput
from intake_app.ui.interview.page import REVIEW, InterviewPage
from intake_app.ui.interview.pickers import ReferenceInput
from intake_app.ui.mainwindow import MainWindow
from intake_app.ui.record_page import RecordPage
from tests.conftest import COUNSELLOR, ProfileFixture
from tests.helpers.opening import open_record_now
from tests.ui.interview_driver import add_item, answer

TODAY = date.today()
BIRTH = TODAY.replace(year=TODAY.year - 34) - timedelta(days=40)
UNTIL = TODAY + timedelta(days=30)


@pytest.fixture
def window(
    qtbot: QtBot, profile: ProfileFixture, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MainWindow]:
    monkeypatch.setattr(
        QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes)
    )
    ws = profile.sign_in(COUNSELLOR)
    win = MainWindow(ws, autolock_minutes=30)
    qtbot.addWidget(win)
    win.resize(1366, 768)
    win.show()
    yield win
    win.shutdown_pages()
    ws.close()


def _new(window: MainWindow) -> InterviewPage:
    window.actions_["new_intake"].trigger()
    page = window.record_page
    assert isinstance(page, InterviewPage)
    return page


def _stored(ws: Workspace, record_id: str) -> dict:
    return ws.records.get(record_id).answers


def fill_required(qtbot: QtBot, page: InterviewPage) -> None:
    """A recognised refugee from Syria with a foreign nursing degree, as typed in the UI."""
    page.show_section("case")
    answer(qtbot, page, "access_route", "jobcenter")
    answer(qtbot, page, "counselling_form", "in_person")
    answer(qtbot, page, "interpreter_used", True)
    answer(qtbot, page, "interpreter_language", "apc")

    page.show_section("consent_section")
    purposes = {pid: True for pid in page.ws.organisation.purpose_ids}
    answer(
        qtbot,
        page,
        "consent",
        {
            "date": TODAY.strftime("%d.%m.%Y"),
            "language": "ar",
            "interpreter": True,
            "purposes": purposes,
            "art9": False,
        },
    )

    page.show_section("person")
    answer(qtbot, page, "family_name", "الحسن")
    answer(qtbot, page, "given_names", "ليلى")
    answer(qtbot, page, "family_name_latin", "Al-Hassan")
    answer(qtbot, page, "given_names_latin", "Layla")
    answer(qtbot, page, "birth_date", BIRTH.strftime("%d.%m.%Y"))
    answer(qtbot, page, "gender", "female")
    answer(qtbot, page, "nationalities", ["SY"])
    add_item(qtbot, page, "languages")
    answer(qtbot, page, "language", "ara", (0,))
    answer(qtbot, page, "mother_tongue", True, (0,))
    # the level is asked only for languages that are not a mother tongue
    assert not page.views["person"].rows[("level", (0,))].isVisible()
    answer(qtbot, page, "municipality", "Köln")
    answer(qtbot, page, "has_children", False)
    answer(qtbot, page, "benefit_system", "sgb2")

    page.show_section("residence")
    answer(qtbot, page, "residence_document", "aufenthaltserlaubnis")
    answer(qtbot, page, "legal_basis", "25_2_refugee")
    answer(qtbot, page, "residence_valid_until", UNTIL.strftime("%d.%m.%Y"))
    answer(qtbot, page, "work_permission", "erwerbstaetigkeit_gestattet")
    answer(qtbot, page, "residence_obligation", False)
    answer(qtbot, page, "passport_status", "refugee_travel_document")

    page.show_section("language")
    for skill, level in (
        ("listening", "B1"),
        ("reading", "A2"),
        ("speaking", "B1"),
        ("writing", "A2"),
    ):
        answer(qtbot, page, f"german_{skill}", level)
    answer(qtbot, page, "has_german_certificate", False)
    answer(qtbot, page, "integration_course_basis", "entitlement")
    answer(qtbot, page, "integration_course", "general")
    answer(qtbot, page, "integration_course_status", "running")
    answer(qtbot, page, "job_language_course", "none")
    answer(qtbot, page, "latin_literate", True)

    page.show_section("work")
    answer(qtbot, page, "employment_status", "unemployed")
    answer(qtbot, page, "has_work_experience", False)

    page.show_section("goals")
    answer(qtbot, page, "goal_type", "employment")
    answer(qtbot, page, "target_occupation", "81302")

    page.show_section("circumstances")
    for qid in (
        "childcare_issue",
        "care_relatives",
        "housing_issue",
        "debts",
        "transport_issue",
        "legal_risk",
        "documents_missing",
    ):
        answer(qtbot, page, qid, False)


def test_happy_path_finalise(qtbot: QtBot, window: MainWindow) -> None:
    page = _new(window)
    record_id = page.record_id
    fill_required(qtbot, page)
    # computed values show live
    page.show_section("person")
    age_row = page.views["person"].rows[("age_years", ())]
    assert age_row.computed.text() == "34"
    page.show_section("language")
    assert page.views["language"].rows[("german_overall", ())].computed.text() == "A2"
    page.show_section(REVIEW)
    assert [m.path for m in page.session.state.missing_required] == []
    assert page.session.state.errors == {}
    assert 'href="jump:person' in page.review.toHtml()  # the headings lead to the sections
    assert page.finalise_button.isEnabled()
    qtbot.mouseClick(page.finalise_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: isinstance(window.record_page, RecordPage), timeout=30_000)
    # the finished record's view: the same headings, but nothing to follow
    finished = window.record_page
    assert isinstance(finished, RecordPage)
    shown = finished.review.toHtml()
    assert "B. Person" in shown and "href=" not in shown
    ws = window.ws
    row = ws.records.get(record_id)
    assert row.status == RecordStatus.COMPLETE.value
    assert row.sync_state == "pending"
    stored = _stored(ws, record_id)
    assert stored["family_name"] == "الحسن"
    assert stored["nationalities"] == ["SY"]
    assert stored["languages"] == [{"language": "ara", "mother_tongue": True}]
    assert stored["residence_valid_until"] == UNTIL.isoformat()
    with ws.db.read() as session:
        items = session.scalars(select(OutboxItem).where(OutboxItem.record_id == record_id)).all()
        assert [(i.kind, i.revision) for i in items] == [("record", 1)]
        actions = [
            e.action
            for e in audit.entries_for_subject(session, subject_type="record", subject_id=record_id)
        ]
    assert "record_created" in actions and "record_finalised" in actions


def test_skip_logic_and_choice_filter(qtbot: QtBot, window: MainWindow) -> None:
    page = _new(window)
    page.show_section("residence")
    view = page.views["residence"]
    legal = view.rows[("legal_basis", ())]
    stage = view.rows[("asylum_stage", ())]
    assert not legal.isVisible() and not stage.isVisible()
    answer(qtbot, page, "residence_document", "duldung")
    assert stage.isVisible() and not legal.isVisible()
    answer(qtbot, page, "residence_document", "blaue_karte")
    assert legal.isVisible() and not stage.isVisible()
    offered = {c.value for c in page.session.state.choices_for("legal_basis")}
    assert "18g" in offered and "25_2_refugee" not in offered
    # a conditional question shows once its condition holds
    page.show_section("case")
    other = page.views["case"].rows[("access_route_other", ())]
    assert not other.isVisible()
    answer(qtbot, page, "access_route", "other_service")
    assert other.isVisible()


def test_validation_messages_next_to_the_question(qtbot: QtBot, window: MainWindow) -> None:
    page = _new(window)
    page.show_section("person")
    view = page.views["person"]
    future = (TODAY + timedelta(days=10)).strftime("%d.%m.%Y")
    answer(qtbot, page, "birth_date", future)
    row = view.rows[("birth_date", ())]
    assert row.error.isVisible() and row.error.text()
    assert "birth_date" in page.session.state.errors
    answer(qtbot, page, "birth_date", "31.02.1990")  # not a date: local message, not stored
    assert isinstance(row.input, DateInput)
    assert "TT.MM.JJJJ" in row.input.problem.text()
    answer(qtbot, page, "birth_date", BIRTH.strftime("%d.%m.%Y"))
    assert not row.error.isVisible()
    page.show_section(REVIEW)
    assert not page.finalise_button.isEnabled()
    html = page.review.toHtml()
    assert "fehlt noch" in html


def test_autosave_and_resume_after_restart(qtbot, profile: ProfileFixture, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    ws = profile.sign_in(COUNSELLOR)
    first = MainWindow(ws, autolock_minutes=30)
    qtbot.addWidget(first)
    first.show()
    page = _new(first)
    record_id = page.record_id
    page.show_section("person")
    answer(qtbot, page, "family_name", "Müller")
    answer(qtbot, page, "given_names", "Jana")
    page.show_section("residence")
    answer(qtbot, page, "residence_document", "duldung")
    # saved within a second without any save button
    qtbot.waitUntil(
        lambda: _stored(ws, record_id).get("residence_document") == "duldung", timeout=1500
    )
    assert "Gespeichert" in page.save_label.text()
    first.close()  # the program ends
    ws.close()

    ws2 = profile.sign_in(COUNSELLOR)
    second = MainWindow(ws2, autolock_minutes=30)
    qtbot.addWidget(second)
    second.show()
    open_record_now(second, record_id)
    resumed = second.record_page
    assert isinstance(resumed, InterviewPage)
    assert resumed.current_section() == "residence"
    assert resumed.session.get("family_name") == "Müller"
    assert resumed.views["residence"].rows[("asylum_stage", ())].isVisible()
    second.close()
    ws2.close()


def test_a_new_intake_left_without_an_answer_is_discarded(qtbot: QtBot, window: MainWindow) -> None:
    """ "Neue Aufnahme" by mistake, then back to the list: no empty record stays behind,
    the status bar says so; with one answer typed, the record stays."""
    page = _new(window)
    empty_id, case_number = page.record_id, _stored(window.ws, page.record_id)["case_number"]
    page.show_section("person")  # looked around, typed nothing
    window.show_list()
    assert case_number in window.statusBar().currentMessage()
    assert "verworfen" in window.statusBar().currentMessage()
    assert window.cases is not None
    shown = {window.cases.model.summary(r).id for r in range(window.cases.model.rowCount())}
    assert empty_id not in shown
    with pytest.raises(NotFound):
        window.ws.records.get(empty_id)

    page = _new(window)
    kept_id = page.record_id
    page.show_section("person")
    answer(qtbot, page, "family_name", "Shehu")
    window.show_list()
    assert _stored(window.ws, kept_id)["family_name"] == "Shehu"
    shown = {window.cases.model.summary(r).id for r in range(window.cases.model.rowCount())}
    assert kept_id in shown


def test_escape_closes_a_list_of_suggestions_not_the_interview(
    qtbot: QtBot, window: MainWindow
) -> None:
    """Escape over the suggestions of a country field closes the suggestions; the
    interview stays open with what was typed. The next Escape leaves the interview."""
    page = _new(window)
    page.show_section("person")
    answer(qtbot, page, "family_name", "Haddad")
    widget = page.views["person"].rows[("nationalities", ())].input
    assert isinstance(widget, ReferenceInput)
    widget.edit.setFocus()
    qtbot.keyClicks(widget.edit, "Syr")
    popup = widget.completer.popup()
    assert popup is not None
    qtbot.waitUntil(popup.isVisible)
    qtbot.keyClick(widget.edit, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not popup.isVisible())
    assert window.record_page is page
    assert widget.edit.text() == "Syr"
    qtbot.keyClick(widget.edit, Qt.Key.Key_Escape)
    assert window.record_page is None
    assert _stored(window.ws, page.record_id)["family_name"] == "Haddad"


def test_the_review_link_to_a_missing_list_of_jobs_goes_to_its_add_button(
    qtbot: QtBot, window: MainWindow
) -> None:
    page = _new(window)
    page.show_section("work")
    answer(qtbot, page, "has_work_experience", True)
    page.show_section(REVIEW)
    (missing,) = [
        m for m in page.session.state.missing_required if m.question_id == "work_experience"
    ]
    assert f'href="jump:work/{missing.path}"' in page.review.toHtml()
    page._on_jump("work", missing.path)  # what clicking the link does
    group = page.views["work"].groups[("work_experience", ())]
    assert QApplication.focusWidget() is group.add_button


def test_opening_and_moving_through_a_draft_saves_nothing(qtbot: QtBot, window: MainWindow) -> None:
    """Opening a draft, moving through its sections, the review (Ctrl+R) and its links
    change neither the answers' save time ("Letzte Änderung") nor any revision data; the
    next real change of an answer is saved."""
    page = _new(window)
    record_id = page.record_id
    page.show_section("person")
    answer(qtbot, page, "family_name", "Shehu")
    answer(qtbot, page, "given_names", "Klodian")
    assert page.autosaver.flush()
    window.show_list()
    ws = window.ws
    before = ws.records.get(record_id)
    revisions = [(r.revision, r.finalised_at, r.answers) for r in ws.records.revisions(record_id)]
    QApplication.processEvents()

    open_record_now(window, record_id)
    opened = window.record_page
    assert isinstance(opened, InterviewPage)
    shown = opened.save_label.text()  # the time of the last save, never an empty label
    assert shown.startswith("Gespeichert")
    opened.focus_current()
    for _step in range(3):
        opened.step(1)
    qtbot.keyClick(opened, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert opened.current_section() == REVIEW
    opened._on_jump("person", "family_name")  # a review link
    qtbot.wait(1200)  # longer than the autosave's longest delay
    assert opened.autosaver.flush()
    assert opened.save_label.text() == shown
    after = ws.records.get(record_id)
    assert after.updated_at == before.updated_at
    assert after.answers == before.answers
    assert after.revision == before.revision
    assert [
        (r.revision, r.finalised_at, r.answers) for r in ws.records.revisions(record_id)
    ] == revisions
    # where the counsellor was is still remembered for resuming
    assert after.position.get("section") == "person"
    # a real change is saved with a new time
    answer(qtbot, opened, "given_names", "Klodian Arben")
    qtbot.waitUntil(
        lambda: opened.save_label.text() not in (shown, "Ungespeicherte Änderung …"),
        timeout=1500,
    )
    assert opened.save_label.text().startswith("Gespeichert")
    assert ws.records.get(record_id).updated_at > before.updated_at


def test_a_child_s_birth_month_is_typed_as_month_and_year(qtbot: QtBot, window: MainWindow) -> None:
    """ "05.2019" was refused ("JJJJ-MM"): the birth month is typed as MM.JJJJ like every
    other date (JJJJ-MM still works), stored as JJJJ-MM, with the hint to match."""
    page = _new(window)
    page.show_section("person")
    answer(qtbot, page, "has_children", True)
    view = page.views["person"]
    if ("child_birth_month", (0,)) not in view.rows:
        add_item(qtbot, page, "children")
    row = view.rows[("child_birth_month", (0,))]
    assert "MM.JJJJ" in row.input.edit.placeholderText()  # type: ignore[union-attr]
    label = page.session.form.question("child_birth_month").label("de")
    assert "MM.JJJJ" in label and "JJJJ-MM" not in label

    def typed(text: str) -> object:
        answer(qtbot, page, "child_birth_month", text, (0,))
        return page.session.get("child_birth_month", (0,))

    for text, stored in (("05.2019", "2019-05"), ("5.2019", "2019-05"), ("2020-11", "2020-11")):
        assert typed(text) == stored, text
        assert page.session.errors("child_birth_month", (0,)) == [], text
        assert row.input.edit.text() == text  # type: ignore[union-attr]  # as typed
    assert typed("13.2019") == "13.2019"  # no month: the form says what is wrong
    assert page.session.errors("child_birth_month", (0,)) == [
        "Bitte Monat und Jahr als MM.JJJJ eingeben, z. B. 05.2019."
    ]
    # a stored month is shown as MM.JJJJ
    row.input.set_value("2018-03")  # type: ignore[union-attr]
    assert row.input.edit.text() == "03.2018"  # type: ignore[union-attr]


def test_consent_given_by_a_legal_guardian(qtbot: QtBot, window: MainWindow) -> None:
    page = _new(window)
    record_id = page.record_id
    page.show_section("consent_section")
    purposes = {pid: True for pid in page.ws.organisation.purpose_ids}
    consent = {
        "date": TODAY.strftime("%d.%m.%Y"),
        "language": "fa",
        "interpreter": False,
        "given_by": "guardian",
        "guardian_name": "Karimi Ahmad",
        "purposes": purposes,
        "art9": False,
    }
    answer(qtbot, page, "consent", consent)
    qtbot.waitUntil(
        lambda: (
            _stored(window.ws, record_id).get("consent", {}).get("guardian_name") == "Karimi Ahmad"
        ),
        timeout=1500,
    )
    stored = _stored(window.ws, record_id)["consent"]
    assert stored["given_by"] == "guardian"
    answer(qtbot, page, "consent", dict(consent, given_by="person"))
    qtbot.waitUntil(
        lambda: _stored(window.ws, record_id)["consent"].get("given_by") == "person",
        timeout=1500,
    )
    assert "guardian_name" not in _stored(window.ws, record_id)["consent"]


def test_new_revision_with_reason(qtbot, window: MainWindow, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    page = _new(window)
    record_id = page.record_id
    fill_required(qtbot, page)
    page.show_section(REVIEW)
    page.finalise()
    qtbot.waitUntil(lambda: isinstance(window.record_page, RecordPage), timeout=30_000)
    record_page = window.record_page
    assert isinstance(record_page, RecordPage)
    monkeypatch.setattr(
        "intake_app.ui.record_page.ask_revision_reason",
        lambda parent: "Aufenthaltstitel verlängert",
    )
    qtbot.mouseClick(record_page.revise_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: isinstance(window.record_page, InterviewPage), timeout=30_000)
    page2 = window.record_page
    assert isinstance(page2, InterviewPage) and page2.revision == 2
    page2.show_section("residence")
    later = TODAY + timedelta(days=700)
    answer(qtbot, page2, "residence_valid_until", later.strftime("%d.%m.%Y"))
    page2.show_section(REVIEW)
    page2.finalise()
    ws = window.ws
    with ws.db.read() as session:
        revisions = session.scalars(
            select(RecordRevision)
            .where(RecordRevision.record_id == record_id)
            .order_by(RecordRevision.revision)
        ).all()
        assert [r.revision for r in revisions] == [1, 2]
        assert json.loads(revisions[0].answers)["residence_valid_until"] == UNTIL.isoformat()
        assert json.loads(revisions[1].answers)["residence_valid_until"] == later.isoformat()
        assert revisions[1].reason == "Aufenthaltstitel verlängert"
        entries = audit.entries_for_subject(session, subject_type="record", subject_id=record_id)
    revised = [e for e in entries if e.action == "record_revised"]
    # the reason stays with the revision; the append-only audit log keeps no free text
    assert revised and revised[0].details == {"revision": 2}


def test_finalised_record_cannot_be_saved(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    from intake_app.errors import ConflictError

    page = _new(window)
    fill_required(qtbot, page)
    page.finalise()
    with pytest.raises(ConflictError):
        window.ws.records.save(page.record_id, answers={"family_name": "x"})


def test_language_switch_and_keyboard(qtbot: QtBot, window: MainWindow) -> None:
    page = _new(window)
    page.show_section("person")
    row = page.views["person"].rows[("family_name", ())]
    assert "Familienname" in row.label.text()
    qtbot.keyClick(
        page, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    assert page.session.lang == "en"
    assert "Family name" in row.label.text()
    assert "English" not in row.label.text()
    page.toggle_language()
    assert "Familienname" in row.label.text()
    # Ctrl+PgDown: next section; Enter in a one-line field moves to the next field
    qtbot.keyClick(page, Qt.Key.Key_PageDown, Qt.KeyboardModifier.ControlModifier)
    assert page.current_section() == "residence"
    qtbot.keyClick(page, Qt.Key.Key_PageUp, Qt.KeyboardModifier.ControlModifier)
    assert page.current_section() == "person"
    assert isinstance(row.input, TextInput)
    row.input.edit.setFocus()
    qtbot.keyClick(row.input.edit, Qt.Key.Key_Return)
    assert QApplication.focusWidget() is not row.input.edit


def test_every_input_has_an_accessible_name(qtbot: QtBot, window: MainWindow) -> None:
    page = _new(window)
    missing = []
    for section in page.session.sections():
        page.show_section(section.id)
        view = page.views[section.id]
        for widget in view.findChildren(QWidget):
            if widget.focusPolicy() & Qt.FocusPolicy.TabFocus and widget.isVisibleTo(view):
                if not widget.accessibleName() and type(widget).__name__ not in (
                    "QScrollBar",
                    "SectionView",
                    "QWidget",
                    "QScrollArea",
                    "QFrame",
                    "QCalendarWidget",
                    "QTableView",
                    "QToolButton",
                ):
                    missing.append(f"{section.id}: {type(widget).__name__}")
    assert missing == []


def test_a_draft_under_an_older_form_version_opens_under_the_newest(
    window: MainWindow, qtbot: QtBot
) -> None:
    from tests.unit.forms.formkit import ukrainian_24_children

    ws = window.ws
    row = ws.records.create(form_id="intake", form_version="2026.1")
    ws.records.save(row.id, answers=ukrainian_24_children())
    open_record_now(window, row.id)
    page = window.record_page
    assert isinstance(page, InterviewPage)
    assert page.session.form.version == "2026.3"
    assert page.session.answers["children"][0]["child_birth_month"] == "2015-09"
    assert "2026.3" in window.statusBar().currentMessage()
    assert ws.records.get(row.id).retired_answers["2026.1:children[0].child_birth_date"] == (
        "2015-09-01"
    )


_PRELOADED = """
from PySide6.QtCore import QRunnable, QThreadPool
from PySide6.QtWidgets import QApplication
app = QApplication([])


class Load(QRunnable):
    def run(self):  # a background worker is the first to import the interview
        import intake_app.ui.interview.page  # noqa: F401


pool = QThreadPool()
pool.start(Load())
pool.waitForDone()
from intake_app.core.forms import load_shipped_forms
from intake_app.ui.interview.inputs import DateInput, TextInput
form = load_shipped_forms().get("intake", "2026.3")
fields = [
    TextInput(form.question("family_name"), "de"),
    DateInput(form.question("birth_date"), "de"),
]
print("built", len(fields))
"""


def test_fields_take_their_enter_filter_after_a_background_preload() -> None:
    """When a background worker is the first to import the interview (the main window was
    once preloaded that way at sign-in), its fields still take the shared Enter filter
    (85 warnings "Cannot filter events for objects in a different thread" at run time,
    and Enter did not move on)."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, "-c", _PRELOADED],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "built 2" in done.stdout
    assert "different thread" not in done.stderr
