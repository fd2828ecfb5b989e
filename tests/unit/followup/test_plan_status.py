"""A plan step's status and its date as an update without a revision (form version
2026.3), in a real SQLCipher profile; a record of 2026.2 offers only what its version
has, and reaches the status once a new revision moves it to 2026.3."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from intake_app.core.followup import UPDATE_TARGETS, check_update, describe_event, update_choices
from intake_app.errors import ValidationError
from intake_app.i18n import set_language
from intake_app.reports.service import ReportService
from intake_app.storage.models import OutboxItem
from tests.conftest import COUNSELLOR, ProfileFixture
from tests.unit.followup.test_updates import TODAY, case_with_plan, form_and_answers
from tests.unit.reports import pdfcheck


def test_a_plan_step_is_done_without_a_revision(profile: ProfileFixture) -> None:
    ws = profile.sign_in(COUNSELLOR)
    try:
        record_id = case_with_plan(ws, version="2026.3")
        form, answers = form_and_answers(ws, record_id)
        assert form.version == "2026.3"
        labels = [label for _k, _i, label in update_choices(form, answers, "de")]
        assert "Nächster Schritt 1: Zeugnisse übersetzen lassen" in labels
        on = TODAY - timedelta(days=2)
        # the status without a date of its own is dated by the update
        update = check_update(
            form, answers, target="plan_step", index=0, values={"status": "done"}, on=on
        )
        assert update.changes == {
            "status": ("in_progress", "done"),
            "status_date": (answers["plan_steps"][0]["status_date"], on.isoformat()),
        }
        ws.records.update_answers(record_id, update)
        (event,) = ws.records.case_events(record_id)
        data = json.loads(event.data)
        line = describe_event("update", data, "de", form)
        assert line.startswith("Aktualisiert (Nächster Schritt 1): Stand: In Arbeit → Erledigt")
        assert f"Stand seit: {(TODAY - timedelta(days=40)).strftime('%d.%m.%Y')} → " in line
        with ws.db.read() as session:
            sent = [
                json.loads(item.payload)
                for item in session.scalars(select(OutboxItem)).all()
                if item.kind == "case_event"
            ]
        assert [item["data"] for item in sent] == [
            {
                "target": "plan_step",
                "index": 0,
                "changes": {
                    "status": ["in_progress", "done"],
                    "status_date": [(TODAY - timedelta(days=40)).isoformat(), on.isoformat()],
                },
            }
        ]
    finally:
        ws.close()
    again = profile.sign_in(COUNSELLOR)  # read back from the encrypted database
    try:
        record = again.records.get(record_id)
        assert record.revision == 1 and record.status == "complete"
        step = record.answers["plan_steps"][0]
        assert (step["status"], step["status_date"]) == ("done", on.isoformat())
        assert '"in_progress"' in again.records.revisions(record_id)[0].answers  # kept as it was
        body = " ".join(pdfcheck.texts(ReportService(again).summary(record_id).data))
        assert "Erledigt" in body and on.strftime("%d.%m.%Y") in body
    finally:
        again.close()


def test_a_status_date_in_the_future_is_refused(profile: ProfileFixture) -> None:
    ws = profile.sign_in(COUNSELLOR)
    try:
        record_id = case_with_plan(ws, version="2026.3")
        form, answers = form_and_answers(ws, record_id)
        future = {"status": "done", "status_date": TODAY + timedelta(days=3)}
        with pytest.raises(ValidationError, match="in der Zukunft"):
            check_update(form, answers, target="plan_step", index=0, values=future, on=TODAY)
        try:
            set_language("en")
            with pytest.raises(ValidationError, match="in the future"):
                check_update(
                    form, answers, target="plan_step", index=0, values=future, on=TODAY, lang="en"
                )
        finally:
            set_language("de")
        with pytest.raises(ValidationError):  # not a choice of the form
            check_update(
                form, answers, target="plan_step", index=0, values={"status": "won"}, on=TODAY
            )
        assert ws.records.case_events(record_id) == []
    finally:
        ws.close()


def test_a_2026_2_record_offers_only_its_own_fields(profile: ProfileFixture) -> None:
    ws = profile.sign_in(COUNSELLOR)
    try:
        record_id = case_with_plan(ws)
        form, answers = form_and_answers(ws, record_id)
        assert form.version == "2026.2"
        assert UPDATE_TARGETS["plan_step"].fields_of(form) == ("deadline", "responsible")
        with pytest.raises(ValidationError, match=r"Formularversion 2026\.2"):
            check_update(
                form, answers, target="plan_step", index=0, values={"status": "done"}, on=TODAY
            )
        ok = check_update(
            form, answers, target="plan_step", index=0, values={"deadline": TODAY}, on=TODAY
        )
        assert ok.changes == {"deadline": (None, TODAY.isoformat())}
        ws.records.update_answers(record_id, ok)
        # a new revision moves the record to 2026.3 with nothing lost; then the status
        ws.records.start_revision(record_id, reason="Plan besprochen")
        assert "Formularversion 2026.3" in ws.upgrade_draft(record_id)[0]
        record = ws.records.get(record_id)
        assert record.form_version == "2026.3" and record.retired_answers == {}
        assert record.answers == {**answers, "plan_steps": [ok.answers["plan_steps"][0]]}
        ws.records.finalise(record_id, answers=record.answers)
        form, answers = form_and_answers(ws, record_id)
        update = check_update(
            form, answers, target="plan_step", index=0, values={"status": "dropped"}, on=TODAY
        )
        assert update.changes == {
            "status": (None, "dropped"),
            "status_date": (None, TODAY.isoformat()),
        }
        ws.records.update_answers(record_id, update)
        assert ws.records.get(record_id).answers["plan_steps"][0]["status"] == "dropped"
    finally:
        ws.close()
