"""Case events (contacts, updates, closures, reopenings) travel to a real office on
127.0.0.1: stored once by their id, never doubled, erased with the record, exported."""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from intake_app.central import db as central_db
from intake_app.core.followup import check_closure, check_contact, check_update
from intake_app.storage.lifecycle import ErasureReason
from intake_app.storage.models import OutboxItem, SyncBatch
from tests.conftest import COUNSELLOR, SUPERVISOR, ProfileFixture
from tests.e2e.conftest import FAST, Office
from tests.e2e.test_device_sync import enrol_device
from tests.unit.followup.test_updates import INTAKE, case_with_plan

pytestmark = pytest.mark.e2e


def central_events(office: Office) -> list[tuple[str, str, str, dict]]:
    rows = office.rows(
        sa.select(
            central_db.case_events.c.record_id,
            central_db.case_events.c.kind,
            central_db.case_events.c.occurred_on,
            central_db.case_events.c.data,
        ).order_by(central_db.case_events.c.occurred_on)
    )
    return [(r[0], r[1], r[2], json.loads(r[3])) for r in rows]


def test_case_events_reach_the_office_once_without_free_text(
    profile: ProfileFixture, office: Office, tmp_path: Path
) -> None:
    enrol_device(profile, office, tmp_path)
    ws = profile.sign_in(COUNSELLOR)
    try:
        record_id = case_with_plan(ws, central_office=False)
        ws.records.add_contact(
            record_id,
            check_contact(
                on=INTAKE + timedelta(days=3),
                mode="phone",
                topics=["job_search"],
                note="Geheimnotiz Wxqlorb",
            ),
        )
        record = ws.records.get(record_id)
        form = ws.form_for(record.form_id, record.form_version)
        ws.records.update_answers(
            record_id,
            check_update(
                form,
                dict(record.answers),
                target="referral",
                index=0,
                values={"outcome": "started"},
                on=INTAKE + timedelta(days=9),
            ),
        )
        (built,) = ws.sync.prepare("http")  # kept to send the same bytes again below
        sent = ws.sync.send(settings=FAST)
        assert sent.records_delivered == 1 and sent.instructions_delivered == 2
    finally:
        ws.close()
    office.cli("import")
    events = central_events(office)
    assert [(e[0], e[1]) for e in events] == [(record_id, "contact"), (record_id, "update")]
    assert events[0][3] == {
        "mode": "phone",
        "interpreter": False,
        "topics": ["job_search"],
        "next_appointment": None,
    }
    assert events[1][3]["changes"] == {"outcome": ["open", "started"]}
    assert "Wxqlorb" not in json.dumps(events)
    # the same batch again (a lost receipt): the same answer, nothing doubled
    ws = profile.sign_in(COUNSELLOR)
    try:
        with ws.db.write() as session:
            for batch in session.scalars(select(SyncBatch)).all():
                batch.state = "sent"
                batch.receipt = None
                batch.data = built.data
                session.add(batch)
            for item in session.scalars(select(OutboxItem)).all():
                item.state = "batched"
                session.add(item)
        assert ws.sync.send(settings=FAST).batches_sent == 1
    finally:
        ws.close()
    office.cli("import")
    assert len(central_events(office)) == 2
    # closing by the supervisor travels too; the export carries every event
    sup = profile.sign_in(SUPERVISOR)
    try:
        sup.records.close_case(
            record_id,
            check_closure(
                on=INTAKE + timedelta(days=30),
                reason="employment",
                kldb="81302",
                hours=30,
                contract="permanent",
                note="Notiz bleibt hier",
            ),
        )
        assert sup.sync.send(settings=FAST).instructions_delivered == 1
    finally:
        sup.close()
    office.cli("import")
    closure = central_events(office)[-1]
    assert closure[1] == "closure" and closure[3] == {
        "reason": "employment",
        "kldb": "81302",
        "hours": 30,
        "contract": "permanent",
    }
    out = tmp_path / "events.csv"
    office.cli("export", "--events", "--out", str(out))
    with out.open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["kind"] for r in rows] == ["contact", "update", "closure"]
    # the record gave no consent to the central office: kind and date only
    assert {r["details"] for r in rows} == {"withheld"}
    assert rows[2]["occurred_on"] == (INTAKE + timedelta(days=30)).isoformat()
    # an erasure takes the events with it
    sup = profile.sign_in(SUPERVISOR)
    try:
        sup.lifecycle.erase(record_id, reason=ErasureReason.REQUEST)
        sup.sync.send(settings=FAST)
    finally:
        sup.close()
    office.cli("import")
    assert central_events(office) == []


def test_a_plan_step_status_of_form_2026_3_reaches_the_office(
    profile: ProfileFixture, office: Office, tmp_path: Path
) -> None:
    """The office takes the record of version 2026.3 and the update of a plan step's
    status and date as it takes any update; its events export names both."""
    enrol_device(profile, office, tmp_path)
    ws = profile.sign_in(COUNSELLOR)
    try:
        record_id = case_with_plan(ws, version="2026.3")
        record = ws.records.get(record_id)
        form = ws.form_for(record.form_id, record.form_version)
        on = INTAKE + timedelta(days=12)
        ws.records.update_answers(
            record_id,
            check_update(
                form,
                dict(record.answers),
                target="plan_step",
                index=0,
                values={"status": "done"},
                on=on,
            ),
        )
        sent = ws.sync.send(settings=FAST)
        assert sent.records_delivered == 1 and sent.instructions_delivered == 1
    finally:
        ws.close()
    office.cli("import")
    (event,) = central_events(office)
    assert event[:3] == (record_id, "update", on.isoformat())
    assert event[3] == {
        "target": "plan_step",
        "index": 0,
        "changes": {
            "status": ["in_progress", "done"],
            "status_date": [INTAKE.isoformat(), on.isoformat()],
        },
    }
    versions = office.rows(sa.select(central_db.records.c.form_version))
    assert [row[0] for row in versions] == ["2026.3"]
    out = tmp_path / "events.csv"
    office.cli("export", "--events", "--out", str(out))
    with out.open(encoding="utf-8-sig") as handle:
        (row,) = list(csv.DictReader(handle))
    assert json.loads(row["details"])["changes"]["status"] == ["in_progress", "done"]
    # the statistics count the case (plan steps are no figure of their own)
    stats = tmp_path / "statistics.csv"
    office.cli("export", "--statistics", "--min-count", "1", "--out", str(stats))
    with stats.open(encoding="utf-8-sig") as handle:
        counted = [r for r in csv.DictReader(handle) if r["dimension"] == "cases_opened"]
    assert sum(int(r["count"]) for r in counted) == 1


def test_an_update_carries_only_what_its_record_may_send(
    profile: ProfileFixture, office: Office, tmp_path: Path
) -> None:
    """Without the central office's purpose a record sends only the statistics minimum,
    and so do its updates: a new residence end date and a plan step's deadline stay on
    the device (the office learns that an update happened, to what), a referral's
    outcome, which the minimum holds, travels."""
    enrol_device(profile, office, tmp_path)
    ws = profile.sign_in(COUNSELLOR)
    new_until = (INTAKE + timedelta(days=700)).isoformat()
    try:
        record_id = case_with_plan(ws, central_office=False)
        for target, values in (
            ("residence", {"residence_valid_until": date.fromisoformat(new_until)}),
            ("plan_step", {"deadline": INTAKE + timedelta(days=40)}),
            ("referral", {"outcome": "started"}),
        ):
            record = ws.records.get(record_id)
            form = ws.form_for(record.form_id, record.form_version)
            ws.records.update_answers(
                record_id,
                check_update(
                    form,
                    dict(record.answers),
                    target=target,
                    index=None if target == "residence" else 0,
                    values=values,
                    on=INTAKE + timedelta(days=9),
                ),
            )
        assert ws.sync.send(settings=FAST).instructions_delivered == 3
    finally:
        ws.close()
    office.cli("import")
    events = central_events(office)
    assert [e[3]["target"] for e in events] == ["residence", "plan_step", "referral"]
    assert [e[3]["changes"] for e in events] == [{}, {}, {"outcome": ["open", "started"]}]
    assert new_until not in json.dumps(events)
