"""The importer on SQLite and PostgreSQL: upsert by (id, revision), replay, quarantine,
erasure, consent withdrawal, rotated and recovery keys, revoked devices."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from intake_app.central import db
from intake_app.central.keystore import KeyStore
from intake_app.central.registry import revoke_device
from intake_app.central.store import BatchStore
from intake_app.sync import keys
from intake_app.sync.batch import BuiltBatch, build_batch
from intake_app.sync.identity import DeviceIdentity
from intake_app.sync.keys import EncryptionPrivateKey
from intake_app.sync.receipt import ItemResult, ReceiptStatus, verify_receipt
from intake_app.sync.transport_folder import read_receipts, receipt_file_name, write_batches
from tests.unit.central.harness import PASSPHRASE, Central
from tests.unit.sync.factories import erasure, make_payload, make_record, withdrawal


def receive(central: Central, *batches: BuiltBatch) -> list[bytes]:
    """Hand batches to the real receiver logic (what POST /v1/batches does)."""
    receiver = central.receiver()
    return [receiver.accept_batch(b.data) for b in batches]


def heads(central: Central) -> dict[str, int]:
    with central.engine.connect() as conn:
        return {r.record_id: r.revision for r in conn.execute(sa.select(db.record_heads)).all()}


def revisions(central: Central, record_id: str) -> list[int]:
    with central.engine.connect() as conn:
        rows = conn.execute(
            sa.select(db.records.c.revision)
            .where(db.records.c.record_id == record_id)
            .order_by(db.records.c.revision)
        ).all()
    return [r.revision for r in rows]


def payload_of(
    *records: dict[str, Any], instructions: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {"records": list(records), "instructions": instructions or []}


def test_stored_batches_are_imported_once(central: Central) -> None:
    identity = central.enrol()
    batch = build_batch(make_payload(5), identity=identity)
    receive(central, batch)
    outcomes = central.importer().run()
    assert [o.status for o in outcomes] == ["imported"]
    assert outcomes[0].counts == {"accepted": 5}
    receipt = verify_receipt(
        outcomes[0].receipt or b"", trusted=identity.office_signing_keys, batch_sha384=batch.sha384
    )
    assert receipt.status == ReceiptStatus.IMPORTED
    assert receipt.delivered_records == frozenset(batch.records)
    assert central.count(db.records) == 5
    assert central.importer().run() == []
    assert central.count(db.records) == 5


def test_resend_through_the_folder_is_a_duplicate(central: Central, tmp_path: Path) -> None:
    identity = central.enrol()
    batch = build_batch(make_payload(3), identity=identity)
    receive(central, batch)
    first = central.importer().run()[0]
    stick = tmp_path / "stick"
    stick.mkdir()
    write_batches(stick, [batch])
    again = central.importer().run(folder=stick)
    assert [o.status for o in again] == ["duplicate"]
    assert (stick / receipt_file_name(batch.batch_id)).read_bytes() == first.receipt
    assert central.count(db.records) == 3


def test_old_revision_arriving_late_never_rolls_back(central: Central) -> None:
    identity = central.enrol()
    record_id = str(uuid.uuid4())
    new = build_batch(payload_of(make_record(record_id=record_id, revision=3)), identity=identity)
    old = build_batch(payload_of(make_record(record_id=record_id, revision=2)), identity=identity)
    receive(central, new)
    central.importer().run()
    receive(central, old)
    outcome = central.importer().run()[0]
    assert outcome.counts == {"accepted": 1}
    assert revisions(central, record_id) == [2, 3]
    assert heads(central)[record_id] == 3


def test_same_revision_twice_is_a_duplicate(central: Central) -> None:
    identity = central.enrol()
    record = make_record(revision=1)
    receive(central, build_batch(payload_of(record), identity=identity))
    receive(central, build_batch(payload_of(record, make_record()), identity=identity))
    outcomes = central.importer().run()
    assert outcomes[1].counts == {"accepted": 1, "duplicate": 1}
    assert central.count(db.records) == 2


def test_reused_batch_id_with_other_content_goes_to_quarantine(
    central: Central, tmp_path: Path
) -> None:
    identity = central.enrol()
    original = build_batch(make_payload(2), identity=identity)
    receive(central, original)
    central.importer().run()
    replay = build_batch(make_payload(2, seed=7), identity=identity, batch_id=original.batch_id)
    follower = build_batch(make_payload(1, seed=8), identity=identity)
    stick = tmp_path / "stick"
    stick.mkdir()
    (stick / "intake-a.ibatch").write_bytes(replay.data)
    (stick / "intake-b.ibatch").write_bytes(follower.data)
    outcomes = central.importer().run(folder=stick)
    assert [(o.status, o.reason) for o in outcomes] == [
        ("quarantined", "replayed_batch_id"),
        ("imported", None),
    ]
    assert central.count(db.records) == 3
    assert central.count(db.quarantine) == 1
    # The genuine batch keeps its answer: no receipt is written for the replay.
    assert not (stick / receipt_file_name(original.batch_id)).exists()


def test_tampered_and_truncated_batches_never_block_the_next(
    central: Central, tmp_path: Path
) -> None:
    identity = central.enrol()
    good = [build_batch(make_payload(1, seed=s), identity=identity) for s in (1, 2)]
    tampered = bytearray(build_batch(make_payload(1, seed=3), identity=identity).data)
    tampered[len(tampered) // 2] ^= 0x10
    stick = tmp_path / "stick"
    stick.mkdir()
    (stick / "intake-1.ibatch").write_bytes(bytes(tampered))
    (stick / "intake-2.ibatch").write_bytes(good[0].data)
    (stick / "intake-3.ibatch").write_bytes(good[1].data[:500])
    (stick / "intake-4.ibatch").write_bytes(good[1].data)
    outcomes = central.importer().run(folder=stick)
    assert [(o.status, o.reason) for o in outcomes] == [
        ("quarantined", "bad_signature"),
        ("imported", None),
        ("quarantined", "truncated"),
        ("imported", None),
    ]
    notes = sorted(central.home.quarantine_dir.glob("*.json"))
    assert sorted(json.loads(n.read_text())["reason"] for n in notes) == [
        "bad_signature",
        "truncated",
    ]
    # A second run does not quarantine the same files twice.
    central.importer().run(folder=stick)
    assert central.count(db.quarantine) == 2
    # The tampered copy gets a signed rejection so the device sends its records again.
    found = read_receipts(stick, identity=identity)
    assert sorted(r.status for r in found.receipts) == ["imported", "imported", "rejected"]


def test_stored_batch_changed_at_rest_is_moved_to_quarantine(central: Central) -> None:
    identity = central.enrol()
    batch, follower = (build_batch(make_payload(1, seed=s), identity=identity) for s in (1, 2))
    receive(central, batch, follower)
    store = BatchStore(central.home, central.engine)
    # Where the batch is kept depends on the database: a file (SQLite) or a row (PostgreSQL).
    assert store.in_database == (central.engine.dialect.name == "postgresql")
    path = central.home.batches_dir / identity.device_id / f"{batch.batch_id}.ibatch"
    assert path.exists() != store.in_database
    data = bytearray(store.read(identity.device_id, batch.batch_id))
    data[-200] ^= 0x01
    if store.in_database:
        with central.engine.begin() as conn:
            conn.execute(
                db.batch_blobs.update()
                .where(db.batch_blobs.c.batch_id == batch.batch_id)
                .values(data=bytes(data))
            )
    else:
        path.write_bytes(bytes(data))
    outcomes = central.importer().run()
    assert [(o.status, o.reason) for o in outcomes] == [
        ("quarantined", "changed_at_rest"),
        ("imported", None),
    ]
    assert not store.exists(identity.device_id, batch.batch_id)
    with central.engine.connect() as conn:
        row = conn.execute(
            sa.select(db.batches).where(db.batches.c.batch_id == batch.batch_id)
        ).one()
    assert (row.status, row.reason) == ("quarantined", "changed_at_rest")
    # The device learns through its import receipts that it must send these records again.
    rejected = verify_receipt(
        row.import_receipt.encode(), trusted=identity.office_signing_keys, batch_sha384=batch.sha384
    )
    assert rejected.status == ReceiptStatus.REJECTED
    assert central.importer().run() == []


def test_batch_for_a_foreign_office_key_is_quarantined(central: Central, tmp_path: Path) -> None:
    identity = central.enrol()
    foreign = EncryptionPrivateKey.generate().public_key()
    misdirected = replace(
        identity,
        office_encryption_keys={foreign.key_id: foreign},
        current_office_key_id=foreign.key_id,
    )
    stick = tmp_path / "stick"
    stick.mkdir()
    write_batches(stick, [build_batch(make_payload(1), identity=misdirected)])
    outcomes = central.importer().run(folder=stick)
    assert [(o.status, o.reason) for o in outcomes] == [("quarantined", "wrong_key")]
    assert central.count(db.records) == 0


def test_batch_for_a_rotated_key_is_still_imported(central: Central) -> None:
    identity = central.enrol()
    before = build_batch(make_payload(2), identity=identity)
    receive(central, before)
    KeyStore(central.home.keys_path).rotate(passphrase=PASSPHRASE, encryption=True, signing=True)
    outcomes = central.importer().run()
    assert [o.status for o in outcomes] == ["imported"]
    assert central.count(db.records) == 2


def test_recovery_key_alone_opens_batches(central: Central, tmp_path: Path) -> None:
    from intake_app.central.keystore import read_recovery_key, write_recovery_key

    public = write_recovery_key(tmp_path / "recovery.json", passphrase="offline safe passphrase")
    KeyStore(central.home.keys_path).add_recovery_key(public)
    central.publish()
    identity = central.enrol()
    assert identity.recovery_public_key == public
    batch = build_batch(make_payload(2), identity=identity)
    receive(central, batch)
    recovery = read_recovery_key(tmp_path / "recovery.json", passphrase="offline safe passphrase")
    keys_ = central.store.unlock(PASSPHRASE)
    from intake_app.central.importer import Importer

    importer = Importer(
        central.home,
        engine=central.engine,
        decryption_keys={recovery.key_id: recovery},
        signing_key=keys_.signing_key,
    )
    assert [o.status for o in importer.run()] == ["imported"]


def test_revoked_device(central: Central, tmp_path: Path) -> None:
    identity = central.enrol("laptop-stolen")
    before = build_batch(make_payload(1, seed=1), identity=identity)
    receive(central, before)
    revoke_device(central.engine, "laptop-stolen")
    after = build_batch(make_payload(1, seed=2), identity=identity)
    stick = tmp_path / "stick"
    stick.mkdir()
    write_batches(stick, [after])
    outcomes = central.importer().run(folder=stick)
    # Received before the revocation: imported. Arrived afterwards: quarantined.
    assert [(o.status, o.reason) for o in outcomes] == [
        ("imported", None),
        ("quarantined", "revoked_device"),
    ]


def test_unknown_and_unregistered_devices(central: Central, tmp_path: Path) -> None:
    stranger = central.enrol(register=False)
    unknown = replace(central.enrol(), device_id=str(uuid.uuid4()))
    stick = tmp_path / "stick"
    stick.mkdir()
    write_batches(
        stick,
        [
            build_batch(make_payload(1), identity=stranger),
            build_batch(make_payload(1), identity=unknown),
        ],
    )
    reasons = sorted(o.reason or "" for o in central.importer().run(folder=stick))
    assert reasons == ["not_registered", "unknown_device"]


def test_erasure_removes_every_revision_and_keeps_statistics(central: Central) -> None:
    identity = central.enrol()
    record_id = str(uuid.uuid4())
    revs = [make_record(record_id=record_id, revision=r) for r in (1, 2)]
    receive(central, build_batch(payload_of(*revs), identity=identity))
    central.importer().run()
    assert revisions(central, record_id) == [1, 2]
    request = build_batch(payload_of(instructions=[erasure(record_id)]), identity=identity)
    receive(central, request)
    outcome = central.importer().run()[0]
    receipt = verify_receipt(outcome.receipt or b"", trusted=identity.office_signing_keys)
    assert receipt.confirmed_erasures == {record_id}
    assert revisions(central, record_id) == []
    assert record_id not in heads(central)
    assert central.count(db.erased_statistics) == 1
    # A late copy of the record never brings the person back.
    late = build_batch(payload_of(make_record(record_id=record_id, revision=3)), identity=identity)
    receive(central, late)
    outcome = central.importer().run()[0]
    assert outcome.counts == {"erased": 1}
    assert revisions(central, record_id) == []


def test_withdrawal_is_recorded(central: Central) -> None:
    identity = central.enrol()
    record = make_record(revision=2)
    batch = build_batch(
        payload_of(record, instructions=[withdrawal(record["id"], revision=2)]), identity=identity
    )
    receive(central, batch)
    outcome = central.importer().run()[0]
    assert outcome.counts == {"accepted": 1, "recorded": 1}
    with central.engine.connect() as conn:
        row = conn.execute(sa.select(db.consent_withdrawals)).one()
    assert (row.record_id, row.purpose, row.revision) == (record["id"], "central_office", 2)


def test_a_device_cannot_touch_another_devices_records(central: Central) -> None:
    owner, other = central.enrol(), central.enrol()
    record = make_record(revision=1)
    receive(central, build_batch(payload_of(record), identity=owner))
    central.importer().run()
    hijack = make_record(record_id=record["id"], revision=9)
    receive(
        central,
        build_batch(payload_of(hijack, instructions=[erasure(record["id"])]), identity=other),
    )
    outcome = central.importer().run()[0]
    assert outcome.counts == {"conflict": 2}
    assert revisions(central, record["id"]) == [1]


def test_batch_stored_but_not_registered_in_the_database_is_found(central: Central) -> None:
    identity = central.enrol()
    batch = build_batch(make_payload(2), identity=identity)
    BatchStore(central.home).store(
        device_id=identity.device_id, batch_id=batch.batch_id, data=batch.data
    )
    outcomes = central.importer().run()
    assert [o.status for o in outcomes] == ["imported"]
    assert central.count(db.records) == 2


def test_import_receipt_names_each_result(central: Central) -> None:
    identity: DeviceIdentity = central.enrol()
    batch = build_batch(make_payload(2), identity=identity)
    receive(central, batch)
    outcome = central.importer().run()[0]
    receipt = verify_receipt(
        outcome.receipt or b"",
        trusted={
            keys.signing_key_id(
                central.keys.signing_key.public_key()
            ): central.keys.signing_key.public_key()
        },
    )
    assert {result for _ref, result in receipt.records} == {ItemResult.ACCEPTED}


def test_a_batch_the_database_refuses_is_quarantined_and_the_next_gets_in(
    central: Central,
) -> None:
    """The central database refusing a value (here: a real trigger or check constraint)
    quarantines that one batch with a rejected receipt; the batches after it are imported
    on the same run, and the next run does not stumble over it again."""
    identity = central.enrol()
    refused_record = make_record()
    refused_record["form_id"] = "refuse-me"
    refused = build_batch(payload_of(refused_record), identity=identity)
    follower = build_batch(make_payload(2, seed=3), identity=identity)
    receive(central, refused, follower)
    with central.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON records WHEN NEW.form_id = 'refuse-me' "
                "BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        else:
            conn.exec_driver_sql(
                "ALTER TABLE records ADD CONSTRAINT refuse CHECK (form_id <> 'refuse-me')"
            )
    outcomes = central.importer().run()
    assert [(o.status, o.reason) for o in outcomes] == [
        ("quarantined", "load_failed"),
        ("imported", None),
    ]
    receipt = verify_receipt(
        outcomes[0].receipt or b"",
        trusted=identity.office_signing_keys,
        batch_sha384=refused.sha384,
    )
    assert receipt.status == ReceiptStatus.REJECTED and receipt.reason == "load_failed"
    assert central.count(db.records) == 2
    assert central.count(db.quarantine) == 1
    assert central.importer().run() == []


def test_temporary_files_of_a_killed_writer_are_swept_once_old(central: Central) -> None:
    """A write killed between creating its temporary file and renaming it leaves a hidden
    ``.tmp`` file; the importer removes it once it is an hour old (a receiver may be writing
    a fresh one at that moment) and never touches the batches."""
    import os
    import time

    identity = central.enrol()
    batch = build_batch(make_payload(1), identity=identity)
    receive(central, batch)
    folder = central.home.batches_dir / identity.device_id
    folder.mkdir(exist_ok=True)  # on PostgreSQL the batch itself is in the database
    old, fresh = folder / ".x.ibatch.old.tmp", folder / ".y.ibatch.new.tmp"
    for path in (old, fresh):
        path.write_bytes(b"partial")
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    assert [o.status for o in central.importer().run()] == ["imported"]
    assert not old.exists() and fresh.exists()
    assert BatchStore(central.home, central.engine).exists(identity.device_id, batch.batch_id)


def test_a_huge_file_on_a_stick_is_not_read(sqlite_central: Central, tmp_path: Path) -> None:
    import tracemalloc

    stick = tmp_path / "stick"
    stick.mkdir()
    huge = stick / f"{uuid.uuid4()}.ibatch"
    with huge.open("wb") as handle:
        handle.truncate(64 * 1024 * 1024)  # sparse: takes no disk, 64 MiB when read
    tracemalloc.start()
    try:
        outcomes = sqlite_central.importer().run(folder=stick)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [(o.status, o.reason) for o in outcomes] == [("quarantined", "too_large")]
    assert peak < 16 * 1024 * 1024
    assert huge.exists()  # left where it was, for the office to look at
