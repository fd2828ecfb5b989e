"""Small updates without a revision: checked by the form engine, applied to the answers,
kept with old and new value, who and when; the summary shows the current state."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from intake_app.app import Workspace
from intake_app.core.followup import (
    check_closure,
    check_contact,
    check_update,
    describe_event,
    update_choices,
)
from intake_app.core.forms import evaluate
from intake_app.demo.data import generate
from intake_app.errors import ConflictError, ValidationError
from intake_app.reports.service import ReportService
from intake_app.storage.records import RecordQuery
from tests.conftest import COUNSELLOR, SUPERVISOR, ProfileFixture
from tests.unit.reports import pdfcheck

TODAY = date.today()
INTAKE = TODAY - timedelta(days=40)


def case_with_plan(ws: Workspace, *, central_office: bool = True, version: str = "2026.2") -> str:
    """A finalised intake with a referral to the Jobcenter, a plan step, a qualification
    under recognition and a residence permit; the other answers are synthetic and valid,
    so that the intake is complete. ``central_office=False``: the person refused that the
    central office sees her personal data. ``version``: the form version (from 2026.3 the
    plan step is "in progress" since the intake)."""
    record = ws.records.create(form_id="intake", form_version=version)
    form = ws.form_for("intake", version)
    step: dict[str, Any] = {"step": "Zeugnisse übersetzen lassen", "responsible": "person"}
    if "status" in form:
        step.update(status="in_progress", status_date=INTAKE.isoformat())
    for seed in range(60):
        answers, complete = generate(
            form,
            organisation=ws.organisation,
            rng=random.Random(seed),
            today=INTAKE,
            complete=True,
            case_number=record.case_number,
        )
        if not complete or answers.get("residence_document") != "aufenthaltserlaubnis":
            continue
        if not (answers.get("referrals") and answers.get("qualifications")):
            continue
        # the Jobcenter referral passes what its consent purpose covers, and that is granted
        answers["consent"]["purposes"]["jobcenter_language_course"].update(granted=True)
        answers["consent"]["purposes"]["central_office"].update(granted=central_office)
        answers.update(
            intake_date=INTAKE.isoformat(),
            family_name="Updatetest",
            given_names="Rana",
            residence_valid_until=(TODAY + timedelta(days=300)).isoformat(),
            referrals=[
                {
                    "service": "jobcenter",
                    "date": INTAKE.isoformat(),
                    "purpose": "Vermittlung in Arbeit",
                    "data_passed": ["identity", "residence", "language"],
                    "consent_purpose": "jobcenter_language_course",
                    "outcome": "open",
                }
            ],
            plan_steps=[dict(step)],
            qualifications=[
                {
                    **answers["qualifications"][0],
                    "qualification_country": "SY",
                    "isced_level": "6",
                    "regulated": "yes",
                    "recognition_status": "advised",
                }
            ],
        )
        state = evaluate(form, answers, organisation=ws.organisation)
        if state.complete and json.dumps(answers).count('"open"') == 1:
            break
    else:
        pytest.fail("no complete synthetic intake with a residence permit and a qualification")
    ws.records.save(record.id, answers=answers)
    ws.records.finalise(record.id, answers=answers)
    return record.id


def form_and_answers(ws: Workspace, record_id: str) -> tuple[Any, dict[str, Any]]:
    record = ws.records.get(record_id)
    return ws.form_for(record.form_id, record.form_version), dict(record.answers)


def test_a_referral_outcome_changes_without_a_revision(profile: ProfileFixture) -> None:
    ws = profile.sign_in(COUNSELLOR)
    try:
        record_id = case_with_plan(ws)
        form, answers = form_and_answers(ws, record_id)
        labels = [label for _k, _i, label in update_choices(form, answers, "de")]
        assert "Vermittlung 1: Jobcenter" in labels
        update = check_update(
            form, answers, target="referral", index=0, values={"outcome": "started"}, on=TODAY
        )
        assert update.changes == {"outcome": ("open", "started")}
        ws.records.update_answers(record_id, update)
        record = ws.records.get(record_id)
        assert record.answers["referrals"][0]["outcome"] == "started"
        assert record.revision == 1 and record.status == "complete"
        assert ws.records.revisions(record_id)[0].answers.count('"open"') == 1  # kept as it was
        (event,) = ws.records.case_events(record_id)
        assert event.kind == "update" and json.loads(event.data)["changes"] == {
            "outcome": ["open", "started"]
        }
        line = describe_event("update", json.loads(event.data), "de", form)
        assert line == "Aktualisiert (Vermittlung 1): Ergebnis: Offen → Begonnen"
        with ws.db.read() as session:
            details = session.execute(
                text("SELECT details FROM audit_log WHERE action = 'record_updated'")
            ).scalar_one()
        assert "started" not in details and json.loads(details)["target"] == "referral"
    finally:
        ws.close()


def test_the_summary_shows_the_current_state(profile: ProfileFixture) -> None:
    ws = profile.sign_in(COUNSELLOR)
    try:
        record_id = case_with_plan(ws)
        form, answers = form_and_answers(ws, record_id)
        new_until = TODAY + timedelta(days=700)
        ws.records.update_answers(
            record_id,
            check_update(
                form,
                answers,
                target="residence",
                index=None,
                values={"residence_valid_until": new_until},
                on=TODAY,
            ),
        )
        listed = ws.records.list(RecordQuery(search="Updatetest"))
        assert [r.residence_valid_until for r in listed] == [new_until.isoformat()]
        pdf = ReportService(ws).summary(record_id)
        body = " ".join(pdfcheck.texts(pdf.data))
        assert new_until.strftime("%d.%m.%Y") in body
    finally:
        ws.close()


def test_what_the_form_refuses_is_refused(profile: ProfileFixture) -> None:
    ws = profile.sign_in(COUNSELLOR)
    try:
        record_id = case_with_plan(ws)
        form, answers = form_and_answers(ws, record_id)
        with pytest.raises(ValidationError, match="nicht ohne neue Revision"):
            check_update(
                form, answers, target="referral", index=0, values={"purpose": "x"}, on=TODAY
            )
        with pytest.raises(ValidationError):
            check_update(
                form, answers, target="referral", index=0, values={"outcome": "won"}, on=TODAY
            )
        with pytest.raises(ValidationError, match="gibt es in der Akte nicht"):
            check_update(
                form, answers, target="referral", index=3, values={"outcome": "open"}, on=TODAY
            )
        with pytest.raises(ValidationError, match="nichts geändert"):
            check_update(
                form, answers, target="referral", index=0, values={"outcome": "open"}, on=TODAY
            )
        # a notice before the application: the form's own rule and message
        with pytest.raises(ValidationError):
            check_update(
                form,
                answers,
                target="recognition",
                index=0,
                values={
                    "recognition_status": "decided",
                    "recognition_applied_on": TODAY,
                    "recognition_notice_date": TODAY - timedelta(days=10),
                },
                on=TODAY,
            )
        with pytest.raises(ValidationError, match="passt nicht"):
            check_update(  # the notice date belongs to a decided procedure only
                form,
                answers,
                target="recognition",
                index=0,
                values={"recognition_notice_date": TODAY},
                on=TODAY,
            )
        ok = check_update(
            form,
            answers,
            target="recognition",
            index=0,
            values={"recognition_status": "applied", "recognition_applied_on": TODAY},
            on=TODAY,
        )
        ws.records.update_answers(record_id, ok)
        assert ws.records.get(record_id).answers["qualifications"][0]["recognition_status"] == (
            "applied"
        )
    finally:
        ws.close()


def test_no_update_while_a_revision_is_open_or_after_closing(profile: ProfileFixture) -> None:
    ws = profile.sign_in(COUNSELLOR)
    try:
        record_id = case_with_plan(ws)
        form, answers = form_and_answers(ws, record_id)
        update = check_update(
            form, answers, target="plan_step", index=0, values={"deadline": TODAY}, on=TODAY
        )
        ws.records.start_revision(record_id, reason="Adresse geändert")
        with pytest.raises(ConflictError, match="neue Revision"):
            ws.records.update_answers(record_id, update)
        with pytest.raises(ConflictError, match="bevor Sie die Akte übergeben"):
            ws.records.request_handover(record_id, recipient="site_bonn")
        # a contact is no change to the answers: it may be added during a revision
        ws.records.add_contact(record_id, check_contact(on=TODAY, mode="phone"))
        ws.records.finalise(record_id, answers=answers)
        # a finalised record's answers change only in a new revision
        with pytest.raises(ConflictError, match="Für Änderungen öffnen Sie eine neue Revision"):
            ws.records.save(record_id, answers=answers)
        with pytest.raises(ConflictError, match="Für Änderungen öffnen Sie eine neue Revision"):
            ws.records.change_form_version(
                record_id, form_version="2026.3", answers=answers, retired={}
            )
    finally:
        ws.close()
    sup = profile.sign_in(SUPERVISOR)
    try:
        sup.records.close_case(record_id, check_closure(on=TODAY, reason="other"))
        with pytest.raises(ConflictError, match="Eröffnen Sie ihn zuerst wieder"):
            sup.records.update_answers(record_id, update)
        with pytest.raises(ConflictError, match="Ein beendeter Fall kann nicht übergeben"):
            sup.records.request_handover(record_id, recipient="site_bonn")
        with pytest.raises(ConflictError, match="um Kontakte einzutragen"):
            sup.records.add_contact(record_id, check_contact(on=TODAY, mode="phone"))
    finally:
        sup.close()
