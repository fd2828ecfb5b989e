"""What the office takes from whom (central/loader.py, docs/security.md "Batches signed by
their sender"): the loader is given the verified sender and applies per item what her
signed role may speak for. An office on SQLite; the proof itself is checked in
tests/unit/sync/test_authors.py and end to end in tests/e2e/test_batch_authors.py."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from intake_app.central import db
from intake_app.central.loader import apply_payload
from intake_app.sync.authors import Author, bound_record_id
from intake_app.sync.receipt import ItemResult
from tests.unit.central.harness import Central
from tests.unit.sync.factories import erasure, make_record, withdrawal

DEVICE = "6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f"


USERS = {"anna": 3, "berta": 4, "chefin": 5, "admin": 1}


def _as(username: str, role: str) -> Author:
    return Author(
        user_id=USERS[username], username=username, role=role, root_kid="r", root_public="p"
    )


def _load(central: Central, author: Author | None, records: list, instructions: list) -> Any:
    with central.engine.begin() as conn:
        return apply_payload(
            conn,
            {"records": records, "instructions": instructions},
            batch_id=str(uuid.uuid4()),
            device_id=DEVICE,
            now=datetime.now(UTC),
            author=author,
        )


def _record(counsellor: str, **kwargs: Any) -> dict[str, Any]:
    """A record as its counsellor's device makes it: its id bound to her."""
    kwargs.setdefault("record_id", bound_record_id(USERS[counsellor]))
    return {**make_record(**kwargs), "counsellor": counsellor}


def _results(pairs: list) -> list[ItemResult]:
    return [result for _ref, result in pairs]


def test_a_counsellor_speaks_only_for_her_own_cases(sqlite_central: Central) -> None:
    anna, berta = _as("anna", "counsellor"), _as("berta", "counsellor")
    annas = _record("anna")
    assert _results(_load(sqlite_central, anna, [annas], [])[0]) == [ItemResult.ACCEPTED]
    # berta: a revision of anna's case (naming anna, or naming herself), a new case
    # naming anna, a withdrawal and an erasure of anna's case
    records = [
        _record("anna", record_id=annas["id"], revision=2),
        _record("berta", record_id=annas["id"], revision=3),
        _record("anna"),
    ]
    results, instructions = _load(
        sqlite_central, berta, records, [withdrawal(annas["id"]), erasure(annas["id"])]
    )
    assert _results(results) == [ItemResult.NOT_ENTITLED] * 3
    assert _results(instructions) == [ItemResult.NOT_ENTITLED] * 2
    assert sqlite_central.count(db.records) == 1 and sqlite_central.count(db.erasures) == 0
    # anna herself may send the revision; she erases nothing (her role does not); a
    # supervisor may
    assert _results(_load(sqlite_central, anna, [records[0]], [])[0]) == [ItemResult.ACCEPTED]
    assert _results(_load(sqlite_central, anna, [], [erasure(annas["id"])])[1]) == [
        ItemResult.NOT_ENTITLED
    ]
    supervisor = _as("chefin", "supervisor")
    assert _results(_load(sqlite_central, supervisor, [], [erasure(annas["id"])])[1]) == [
        ItemResult.CONFIRMED
    ]


def test_a_new_case_is_taken_from_a_counsellor_only_under_an_id_bound_to_her(
    sqlite_central: Central,
) -> None:
    """Attacker run 21 sent a colleague's case id, read from the shared audit log, before
    the colleague's first sync, and so owned the case at the office."""
    anna, berta = _as("anna", "counsellor"), _as("berta", "counsellor")
    annas_id = bound_record_id(USERS["anna"])
    claimed = _record("berta", record_id=annas_id, revision=2**31 - 1)
    unbound = _record("berta", record_id=str(uuid.uuid4()))
    assert (
        _results(_load(sqlite_central, berta, [claimed, unbound], [])[0])
        == [ItemResult.NOT_ENTITLED] * 2
    )
    genuine = _record("anna", record_id=annas_id)
    assert _results(_load(sqlite_central, anna, [genuine], [])[0]) == [ItemResult.ACCEPTED]
    # a case made before ids were bound goes through a supervisor's sync
    supervisor = _as("chefin", "supervisor")
    assert _results(_load(sqlite_central, supervisor, [unbound], [])[0]) == [ItemResult.ACCEPTED]


def test_a_waiting_instruction_counts_only_if_the_case_turns_out_hers(
    sqlite_central: Central,
) -> None:
    berta = _as("berta", "counsellor")
    later_annas, later_bertas = _record("anna"), _record("berta")
    _, waiting = _load(
        sqlite_central,
        berta,
        [],
        [withdrawal(later_annas["id"]), withdrawal(later_bertas["id"])],
    )
    assert _results(waiting) == [ItemResult.RECORDED] * 2
    with sqlite_central.engine.connect() as conn:
        authors = conn.execute(sa.select(db.pending_instructions.c.author)).scalars().all()
    assert len(authors) == 2 and all('"berta"' in str(a) for a in authors)
    # the records arrive from their owners' syncs
    _load(sqlite_central, _as("anna", "counsellor"), [later_annas], [])
    _load(sqlite_central, berta, [later_bertas], [])
    with sqlite_central.engine.connect() as conn:
        withdrawn = set(conn.execute(sa.select(db.consent_withdrawals.c.record_id)).scalars())
    assert withdrawn == {later_bertas["id"]}


def test_an_unsigned_waiting_instruction_is_dropped_when_the_record_comes_signed(
    sqlite_central: Central,
) -> None:
    """Attacker run 21: an erasure sent without a sender before the device's first signed
    batch waited, and the colleague's genuine signed sync then erased her own case."""
    case = _record("anna")
    assert _results(_load(sqlite_central, None, [], [erasure(case["id"])])[1]) == [
        ItemResult.CONFIRMED
    ]
    _load(sqlite_central, _as("anna", "counsellor"), [case], [])
    assert sqlite_central.count(db.records) == 1 and sqlite_central.count(db.erasures) == 0


def test_an_administrator_erases_and_sends_no_records(sqlite_central: Central) -> None:
    admin = _as("admin", "admin")
    case = _record("anna")
    _load(sqlite_central, _as("anna", "counsellor"), [case], [])
    results, instructions = _load(
        sqlite_central,
        admin,
        [_record("anna", record_id=case["id"], revision=2)],
        [withdrawal(case["id"]), erasure(case["id"])],
    )
    # the revision was not taken; the erasure in the same batch then answers for it
    assert _results(results) == [ItemResult.ERASED]
    assert _results(instructions) == [ItemResult.NOT_ENTITLED, ItemResult.CONFIRMED]
    assert sqlite_central.count(db.records) == 0 and sqlite_central.count(db.erasures) == 1


def test_a_newer_revision_naming_someone_else_does_not_change_whose_case_it_is(
    sqlite_central: Central,
) -> None:
    """Attacker run 22 had a supervisor's sync carry a revision naming herself of a
    colleague's case; only a supervisor's reassignment moves a case."""
    anna, berta = _as("anna", "counsellor"), _as("berta", "counsellor")
    supervisor = _as("chefin", "supervisor")
    case = _record("anna")
    _load(sqlite_central, anna, [case], [])
    claimed = _record("berta", record_id=case["id"], revision=7)
    assert _results(_load(sqlite_central, supervisor, [claimed], [])[0]) == [ItemResult.ACCEPTED]
    assert _results(_load(sqlite_central, berta, [], [withdrawal(case["id"], revision=7)])[1]) == [
        ItemResult.NOT_ENTITLED
    ]
    moved = {
        "type": "reassignment",
        "record_id": case["id"],
        "reassignment_id": str(uuid.uuid4()),
        "counsellor": "berta",
        "moved_at": "2026-12-07T10:00:00Z",
    }
    assert _results(_load(sqlite_central, berta, [], [moved])[1]) == [ItemResult.NOT_ENTITLED]
    assert _results(_load(sqlite_central, supervisor, [], [moved])[1]) == [ItemResult.RECORDED]
    assert _results(_load(sqlite_central, berta, [], [withdrawal(case["id"], revision=7)])[1]) == [
        ItemResult.RECORDED
    ]
    assert _results(_load(sqlite_central, anna, [], [withdrawal(case["id"], revision=7)])[1]) == [
        ItemResult.NOT_ENTITLED
    ]
