"""Closing a case (reason, date, outcome, note) and reopening it; the retention period
counts from the closing date and stops when the case is reopened."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import select

from intake_app.app import Workspace
from intake_app.core.followup import check_closure, check_reopening, describe_event
from intake_app.errors import ConflictError, PermissionDenied, ValidationError
from intake_app.storage.models import OutboxItem
from intake_app.storage.records import RecordQuery
from intake_app.storage.site_records import SiteRecords
from tests.conftest import COUNSELLOR, SUPERVISOR, ProfileFixture
from tests.unit.followup.test_updates import INTAKE, TODAY, case_with_plan
from tests.unit.lifecycle.test_lifecycle import _pretend_delivered


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"reason": "moved_away", "kldb": "81302"}, "gehören nur zu"),
        ({"reason": "employment", "kldb": "8130"}, "fünf Ziffern"),
        ({"reason": "employment", "kldb": "99999"}, "gibt es in der Berufsliste nicht"),
        ({"reason": "employment", "hours": 90}, "zwischen 1 und 60"),
        ({"reason": "employment", "contract": "lifetime"}, "Vertragsart"),
        ({"reason": "retired"}, "Unbekannter Grund"),
        ({"reason": "other", "on": TODAY + timedelta(days=30)}, "Zukunft"),  # also past midnight
    ],
)
def test_bad_closings_are_refused(kwargs: dict, words: str) -> None:
    values = {"on": TODAY, **kwargs}
    with pytest.raises(ValidationError, match=words):
        check_closure(**values)


def test_an_employment_closing_names_the_job() -> None:
    closure = check_closure(
        on=TODAY, reason="employment", kldb="81302", hours=30, contract="permanent", note="ok"
    )
    line = describe_event("closure", closure.to_json(), "de")
    assert line.startswith("Fall beendet: Beschäftigung – KldB 81302 Berufe in der Gesundheits")
    assert "30 Wochenstunden" in line and "Unbefristet" in line
    with pytest.raises(ValidationError, match="Grund"):
        check_reopening(on=TODAY, reason=" ")


def _closed_at(ws: Workspace, record_id: str) -> datetime | None:
    return ws.records.get(record_id).closed_at


def test_closing_starts_retention_and_reopening_stops_it(profile: ProfileFixture) -> None:
    counsellor = profile.sign_in(COUNSELLOR)
    try:
        record_id = case_with_plan(counsellor)
        with pytest.raises(PermissionDenied):  # closing is the supervisor's (core/permissions)
            counsellor.records.close_case(record_id, check_closure(on=TODAY, reason="other"))
        _pretend_delivered(counsellor, record_id)  # in her store
    finally:
        counsellor.close()
    sup = profile.sign_in(SUPERVISOR)
    try:
        with pytest.raises(ValidationError, match="vor dem Erstgespräch"):
            sup.records.close_case(
                record_id, check_closure(on=INTAKE - timedelta(days=1), reason="other")
            )
        closed_on = INTAKE + timedelta(days=5)
        sup.records.close_case(
            record_id,
            check_closure(on=closed_on, reason="training", kldb="81302", contract="apprenticeship"),
        )
        assert _closed_at(sup, record_id) == datetime.combine(closed_on, time.min, UTC)
        with pytest.raises(ConflictError):
            sup.records.close_case(record_id, check_closure(on=TODAY, reason="other"))
        # the closing itself waits in the outbox: pretend the office confirmed it too
        assert isinstance(sup.records, SiteRecords)
        store = sup.scope.stores[sup.records.store_of(record_id)]
        with store.write() as session:
            for item in session.scalars(select(OutboxItem)).all():
                if item.kind == "case_event":
                    item.state = "delivered"
                    item.batch_id = session.scalars(select(OutboxItem.batch_id)).first()
                    session.add(item)
        days = sup.settings.get("retention.days_after_close")
        assert isinstance(days, int)
        due_day = closed_on + timedelta(days=days + 1)
        assert record_id not in sup.lifecycle.due_for_purge(today=due_day - timedelta(days=2))[0]
        assert record_id in sup.lifecycle.due_for_purge(today=due_day)[0]
        with pytest.raises(ValidationError, match="vor dem Fallende"):
            sup.records.reopen_case(
                record_id, on=closed_on - timedelta(days=1), reason="Neue Arbeitssuche"
            )
        sup.records.reopen_case(record_id, on=TODAY, reason="Ausbildung abgebrochen")
        record = sup.records.get(record_id)
        assert record.status == "complete" and record.closed_at is None
        assert record_id not in sup.lifecycle.due_for_purge(today=due_day + timedelta(days=900))[0]
        kinds = [(e.kind, json.loads(e.data)) for e in sup.records.case_events(record_id)]
        assert [k for k, _d in kinds] == ["closure", "reopening"]
        assert kinds[0][1]["reason"] == "training" and kinds[1][1]["reason"] == (
            "Ausbildung abgebrochen"
        )
        with pytest.raises(ConflictError):
            sup.records.reopen_case(record_id, on=TODAY, reason="nochmal")
        listed = sup.records.list(RecordQuery(status="complete"))
        assert record_id in {r.id for r in listed}
    finally:
        sup.close()
