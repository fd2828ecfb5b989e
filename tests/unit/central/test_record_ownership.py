"""A record id belongs to the device that first sent it: a rogue enrolled device changes,
erases or withdraws nothing of another device's records, on SQLite and PostgreSQL, through
a real receiver on 127.0.0.1 and the importer."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import sqlalchemy as sa

from intake_app.central import db
from intake_app.sync.batch import build_batch
from intake_app.sync.identity import DeviceIdentity
from intake_app.sync.receipt import ItemResult, Receipt, ReceiptStatus
from intake_app.sync.transport_http import SyncClient
from tests.e2e.conftest import FAST
from tests.unit.central.harness import Central, receiver_app, serve
from tests.unit.sync.factories import erasure, make_record, withdrawal


def _payload(*records: dict[str, Any], instructions: list[dict[str, Any]] | None = None) -> dict:
    return {"records": list(records), "instructions": instructions or []}


def _send(identity: DeviceIdentity, url: str, payload: dict[str, Any]) -> str:
    device = replace(identity, server_url=url)
    batch = build_batch(payload, identity=device)
    with SyncClient(device, settings=FAST) as client:
        assert client.send_batch(batch).status == ReceiptStatus.STORED
    return batch.batch_id


def _receipt(identity: DeviceIdentity, url: str, batch_id: str) -> Receipt:
    with SyncClient(replace(identity, server_url=url), settings=FAST) as client:
        found = [r for r in client.fetch_receipts() if r.batch_id == batch_id]
    assert len(found) == 1
    return found[0]


def _documents(central: Central, record_id: str) -> list[dict[str, Any]]:
    with central.engine.connect() as conn:
        rows = conn.execute(
            sa.select(db.records.c.document).where(db.records.c.record_id == record_id)
        ).all()
    return [json.loads(r.document) for r in rows]


def _count(central: Central, table: sa.Table) -> int:
    with central.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_a_rogue_device_changes_nothing_of_another_devices_records(central: Central) -> None:
    genuine = central.enrol("laptop-genuine")
    rogue = central.enrol("laptop-rogue")
    mine = make_record(family_name="Echt")
    other = make_record(family_name="Zweite")
    forged = {**mine, "answers": {**mine["answers"], "family_name": "Gefälscht"}}
    with serve(receiver_app(central)) as url:
        first = _send(genuine, url, _payload(mine, other))
        central.importer().run()
        attack = _send(
            rogue,
            url,
            _payload(
                forged,
                instructions=[erasure(other["id"]), withdrawal(mine["id"], revision=1)],
            ),
        )
        outcomes = central.importer().run()
        genuine_receipt = _receipt(genuine, url, first)
        rogue_receipt = _receipt(rogue, url, attack)
    assert [o.status for o in outcomes] == ["imported"]
    assert [doc["answers"]["family_name"] for doc in _documents(central, mine["id"])] == ["Echt"]
    assert len(_documents(central, other["id"])) == 1
    assert _count(central, db.erasures) == 0 and _count(central, db.consent_withdrawals) == 0
    assert genuine_receipt.delivered_records == frozenset(
        {(mine["id"], mine["revision"]), (other["id"], other["revision"])}
    )
    assert {result for _ref, result in rogue_receipt.records} == {ItemResult.CONFLICT}
    assert rogue_receipt.delivered_records == frozenset()
    assert {result for _ref, result in rogue_receipt.instructions} == {ItemResult.CONFLICT}
    with central.engine.connect() as conn:
        reasons = conn.execute(sa.select(db.quarantine.c.reason, db.quarantine.c.device_id)).all()
    assert [(r.reason, r.device_id) for r in reasons] == [("record_conflict", rogue.device_id)]


def test_an_erasure_for_an_unseen_id_waits_for_the_owner(central: Central) -> None:
    genuine = central.enrol("laptop-genuine")
    rogue = central.enrol("laptop-rogue")
    record = make_record(family_name="Später")
    with serve(receiver_app(central)) as url:
        # the rogue guesses the id first: its erasure and withdrawal only wait
        early = _send(
            rogue, url, _payload(instructions=[erasure(record["id"]), withdrawal(record["id"])])
        )
        central.importer().run()
        early_receipt = _receipt(rogue, url, early)
        assert _count(central, db.erasures) == 0
        late = _send(genuine, url, _payload(record))
        central.importer().run()
        late_receipt = _receipt(genuine, url, late)
    assert {result for _ref, result in early_receipt.instructions} == {
        ItemResult.CONFIRMED,
        ItemResult.RECORDED,
    }
    # the genuine record is stored as sent and reported as such, never as "erased"
    assert [r for _ref, r in late_receipt.records] == [ItemResult.ACCEPTED]
    assert [d["answers"]["family_name"] for d in _documents(central, record["id"])] == ["Später"]
    assert _count(central, db.erasures) == 0 and _count(central, db.consent_withdrawals) == 0
    assert _count(central, db.pending_instructions) == 0


def test_the_owners_early_erasure_is_carried_out_when_the_record_arrives(
    central: Central,
) -> None:
    owner = central.enrol("laptop-owner")
    record = make_record(family_name="Löschen")
    with serve(receiver_app(central)) as url:
        _send(owner, url, _payload(instructions=[erasure(record["id"])]))
        central.importer().run()
        assert _count(central, db.pending_instructions) == 1
        late = _send(owner, url, _payload(record))
        central.importer().run()
        receipt = _receipt(owner, url, late)
    assert [r for _ref, r in receipt.records] == [ItemResult.ERASED]
    assert _documents(central, record["id"]) == []
    assert _count(central, db.erasures) == 1 and _count(central, db.erased_statistics) == 1
    assert _count(central, db.pending_instructions) == 0


def test_a_revision_held_in_another_form_is_not_reported_delivered(central: Central) -> None:
    device = central.enrol()
    record = make_record(family_name="Erste Fassung")
    changed = {**record, "answers": {**record["answers"], "family_name": "Zweite Fassung"}}
    with serve(receiver_app(central)) as url:
        _send(device, url, _payload(record))
        central.importer().run()
        again = _send(device, url, _payload(changed))
        same = _send(device, url, _payload(record))
        central.importer().run()
        changed_receipt = _receipt(device, url, again)
        same_receipt = _receipt(device, url, same)
    assert [r for _ref, r in changed_receipt.records] == [ItemResult.CONFLICT]
    assert changed_receipt.delivered_records == frozenset()
    assert [r for _ref, r in same_receipt.records] == [ItemResult.DUPLICATE]
    names = [d["answers"]["family_name"] for d in _documents(central, record["id"])]
    assert names == ["Erste Fassung"]


def test_a_rogue_erasing_ids_read_from_a_genuine_batch_never_makes_it_delivered(
    central: Central,
) -> None:
    """The record ids of a batch are readable in its header: a rogue device that sends
    decoys under those ids and erases them first owns and erases only its decoys; the
    genuine batch is answered ``conflict`` (not ``erased``), so its device keeps its
    records and sends them again."""
    genuine = central.enrol("laptop-genuine")
    rogue = central.enrol("laptop-rogue")
    records = [make_record(family_name=f"Echt {n}") for n in range(3)]
    decoys = [{**r, "answers": {**r["answers"], "family_name": "Köder"}} for r in records]
    with serve(receiver_app(central)) as url:
        attack = _send(
            rogue,
            url,
            _payload(*decoys, instructions=[erasure(r["id"]) for r in records]),
        )
        central.importer().run()
        first = _send(genuine, url, _payload(*records))
        central.importer().run()
        genuine_receipt = _receipt(genuine, url, first)
        rogue_receipt = _receipt(rogue, url, attack)
    assert {result for _ref, result in rogue_receipt.instructions} == {ItemResult.CONFIRMED}
    assert [result for _ref, result in genuine_receipt.records] == [ItemResult.CONFLICT] * 3
    assert genuine_receipt.delivered_records == frozenset()
    with central.engine.connect() as conn:
        reasons = conn.execute(sa.select(db.quarantine.c.reason, db.quarantine.c.device_id)).all()
    assert ("record_conflict", genuine.device_id) in [(r.reason, r.device_id) for r in reasons]


def test_a_withdrawal_or_erasure_naming_an_id_another_device_erased_is_a_conflict(
    central: Central,
) -> None:
    owner = central.enrol("laptop-owner")
    rogue = central.enrol("laptop-rogue")
    record = make_record(family_name="Gelöscht")
    with serve(receiver_app(central)) as url:
        _send(owner, url, _payload(record, instructions=[erasure(record["id"])]))
        central.importer().run()
        later = _send(
            rogue, url, _payload(instructions=[erasure(record["id"]), withdrawal(record["id"])])
        )
        central.importer().run()
        receipt = _receipt(rogue, url, later)
    assert [result for _ref, result in receipt.instructions] == [ItemResult.CONFLICT] * 2
