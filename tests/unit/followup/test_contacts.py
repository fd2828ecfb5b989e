"""Follow-up contacts: checked input, stored in the counsellor's encrypted store, shown as
a timeline, carried along when a case moves, removed with the record."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from intake_app.app import Workspace
from intake_app.core.followup import check_closure, check_contact, contact_topics, describe_event
from intake_app.demo.data import add_synthetic_intakes
from intake_app.errors import ConflictError, NotFound, PermissionDenied, ValidationError
from intake_app.storage import users
from intake_app.storage.database import Database
from intake_app.storage.lifecycle import ErasureReason
from intake_app.storage.records import RecordQuery
from intake_app.storage.stores import (
    client_objects,
    create_store,
    ensure_client_tables,
    new_store_key,
)
from tests.conftest import COUNSELLOR, SUPERVISOR, ProfileFixture

TODAY = date.today()


def finalised_case(ws: Workspace, *, seed: int = 7) -> str:
    add_synthetic_intakes(ws, count=1, seed=seed, complete_share=1.0)
    return ws.records.list(RecordQuery(status="complete"), limit=1)[0].id


def intake_day(ws: Workspace, record_id: str) -> date:
    return date.fromisoformat(ws.records.get(record_id).answers["intake_date"])


def test_topics_come_from_the_form_files() -> None:
    values = [t.value for t in contact_topics()]
    assert "job_search" in values and "recognition" in values
    assert len(values) == len(set(values))
    assert all(t.label("de") and t.label("en") != t.label("de") for t in contact_topics())


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"on": TODAY + timedelta(days=30)}, "Zukunft"),  # also past midnight
        ({"mode": "fax"}, "Kontaktform"),
        ({"topics": ["astrology"]}, "Thema"),
        ({"note": "x" * 501}, "zu lang"),
        ({"next_appointment": TODAY - timedelta(days=1)}, "vor dem Kontakt"),
    ],
)
def test_bad_contacts_are_refused_in_plain_german(kwargs: dict, words: str) -> None:
    values = {"on": TODAY, "mode": "phone", **kwargs}
    with pytest.raises(ValidationError, match=words):
        check_contact(**values)


def test_a_contact_is_checked_and_normalised() -> None:
    contact = check_contact(
        on=TODAY,
        mode="video",
        interpreter=True,
        topics=["job_search", "job_search", "residence"],
        note="  Bewerbung besprochen  ",
        next_appointment=TODAY + timedelta(days=14),
    )
    assert contact.topics == ("job_search", "residence")
    assert contact.note == "Bewerbung besprochen"
    line = describe_event("contact", contact.to_json(), "de")
    assert "Video, mit Sprachmittlung" in line and "Arbeitssuche" in line


def test_contacts_are_stored_in_her_store_and_listed_in_order(profile: ProfileFixture) -> None:
    ws = profile.sign_in(COUNSELLOR)
    try:
        record_id = finalised_case(ws)
        start = intake_day(ws, record_id)
        later = min(start + timedelta(days=20), TODAY)
        ws.records.add_contact(
            record_id, check_contact(on=later, mode="phone", note="Zweiter Kontakt Qzorbel")
        )
        ws.records.add_contact(
            record_id,
            check_contact(on=start, mode="in_person", topics=["recognition"], interpreter=True),
        )
        events = ws.records.case_events(record_id)
        assert [e.occurred_on for e in events] == sorted([start.isoformat(), later.isoformat()])
        assert json.loads(events[0].data)["topics"] == ["recognition"]
        with pytest.raises(ValidationError, match="vor dem Erstgespräch"):
            ws.records.add_contact(
                record_id, check_contact(on=start - timedelta(days=1), mode="phone")
            )
        with ws.db.read() as session:
            audited = session.execute(
                text("SELECT count(*) FROM audit_log WHERE action = 'contact_recorded'")
            ).scalar_one()
        assert audited == 2
        store = ws.scope.stores[ws.scope.own or ""]
        with ws.scope.profile_db.read() as session:  # the profile's copy stays empty
            assert session.execute(text("SELECT count(*) FROM case_events")).scalar_one() == 0
        store_path = store.path
    finally:
        ws.close()
    # the note is in the store, encrypted: not in the file's bytes
    for path in (store_path, store_path.with_name(store_path.name + "-wal")):
        if path.exists():
            assert b"Qzorbel" not in path.read_bytes()


def test_no_contact_before_finalising_or_after_closing(profile: ProfileFixture) -> None:
    ws = profile.sign_in(COUNSELLOR)
    try:
        draft = ws.new_intake()
        with pytest.raises(ConflictError, match="noch nicht abgeschlossen"):
            ws.records.add_contact(draft, check_contact(on=TODAY, mode="phone"))
        record_id = finalised_case(ws)
    finally:
        ws.close()
    sup = profile.sign_in(SUPERVISOR)
    try:
        sup.records.close_case(record_id, check_closure(on=TODAY, reason="other"))
        with pytest.raises(ConflictError, match="beendet"):
            sup.records.add_contact(record_id, check_contact(on=TODAY, mode="phone"))
    finally:
        sup.close()


def test_another_counsellor_adds_no_contact(profile: ProfileFixture) -> None:
    ws = profile.sign_in(SUPERVISOR)
    try:
        own = finalised_case(ws, seed=11)
    finally:
        ws.close()
    ws = profile.sign_in(COUNSELLOR)
    try:
        with pytest.raises((PermissionDenied, NotFound)):
            ws.records.add_contact(own, check_contact(on=TODAY, mode="phone"))
    finally:
        ws.close()


def test_contacts_move_with_the_case_and_go_with_an_erasure(profile: ProfileFixture) -> None:
    ws = profile.sign_in(COUNSELLOR)
    try:
        record_id = finalised_case(ws)
        ws.records.add_contact(record_id, check_contact(on=TODAY, mode="email", note="vorher"))
    finally:
        ws.close()
    sup = profile.sign_in(SUPERVISOR)
    try:
        with sup.db.read() as session:
            me = users.get_by_name(session, username=SUPERVISOR)
        assert me is not None and me.id is not None
        sup.move_case(record_id, to_owner=me.id)
        events = sup.records.case_events(record_id)
        assert [json.loads(e.data)["note"] for e in events] == ["vorher"]
        source = [db for sid, db in sup.scope.stores.items() if sid != sup.scope.own]
        for db in source:
            with db.read() as session:
                left = session.execute(
                    text("SELECT count(*) FROM case_events WHERE record_id = :r"),
                    {"r": record_id},
                ).scalar_one()
            assert left == 0
        export = sup.lifecycle.person_export(record_id)
        assert [e["kind"] for e in export["case_events"]] == ["contact"]
        sup.lifecycle.erase(record_id, reason=ErasureReason.REQUEST)
        own_db = sup.scope.stores[sup.scope.own or ""]
        with own_db.read() as session:
            assert session.execute(text("SELECT count(*) FROM case_events")).scalar_one() == 0
    finally:
        sup.close()


def test_a_store_of_an_older_version_gets_the_new_table(
    profile: ProfileFixture, tmp_path: Path
) -> None:
    ws = profile.sign_in(COUNSELLOR)
    try:
        objects = client_objects()
    finally:
        ws.close()
    old = [(name, sql) for name, sql in objects if "case_events" not in name]
    assert len(old) < len(objects)
    key = new_store_key()
    path = tmp_path / "old.db"
    create_store(path, key, [sql for _n, sql in old])
    db = Database(path, key)
    try:
        assert ensure_client_tables(db, objects) == [n for n, _s in objects if "case_events" in n]
        assert ensure_client_tables(db, objects) == []
        with db.read() as session:
            assert session.execute(text("SELECT count(*) FROM case_events")).scalar_one() == 0
    finally:
        db.close()
