"""Folder transport: batch files written atomically, receipts read back and checked."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from intake_app.errors import SyncError, SyncErrorKind
from intake_app.sync.batch import BuiltBatch, build_batch
from intake_app.sync.identity import DeviceIdentity
from intake_app.sync.receipt import ItemResult, ReceiptStatus, build_receipt
from intake_app.sync.transport_folder import (
    batch_file_name,
    batch_id_from_name,
    list_batch_files,
    read_receipts,
    receipt_file_name,
    remove_answered_batches,
    write_batches,
    write_receipt_file,
)
from tests.unit.sync.factories import Office, make_identity, make_office, make_payload


@pytest.fixture(scope="module")
def office() -> Office:
    return make_office()


@pytest.fixture(scope="module")
def identity(office: Office) -> DeviceIdentity:
    return make_identity(office)


def _receipt(office: Office, identity: DeviceIdentity, batch: BuiltBatch, **kw: object) -> bytes:
    values: dict[str, object] = {
        "status": ReceiptStatus.IMPORTED,
        "batch_id": batch.batch_id,
        "device_id": identity.device_id,
        "batch_sha384": batch.sha384,
        "records": [(ref, ItemResult.ACCEPTED) for ref in batch.records],
        "instructions": [],
        "signing_key": office.signing,
    }
    values.update(kw)
    return build_receipt(**values)  # type: ignore[arg-type]


def test_batch_files_have_clear_names_and_no_leftovers(
    tmp_path: Path, identity: DeviceIdentity
) -> None:
    batches = [build_batch(make_payload(2, seed=s), identity=identity) for s in (1, 2)]
    paths = write_batches(tmp_path, batches)
    assert [p.name for p in paths] == [batch_file_name(b) for b in batches]
    assert all(p.read_bytes() == b.data for p, b in zip(paths, batches, strict=True))
    assert batch_id_from_name(paths[0].name) == batches[0].batch_id
    assert paths[0].name.startswith("intake-2026") or paths[0].name.startswith("intake-20")
    assert sorted(os.listdir(tmp_path)) == sorted(p.name for p in paths)
    assert list_batch_files(tmp_path) == sorted(paths)
    # Writing the same outbox again changes nothing.
    assert write_batches(tmp_path, batches) == paths


def test_missing_folder_is_a_storage_error(tmp_path: Path, identity: DeviceIdentity) -> None:
    batch = build_batch(make_payload(1), identity=identity)
    with pytest.raises(SyncError) as info:
        write_batches(tmp_path / "stick-not-mounted", [batch])
    assert info.value.kind == SyncErrorKind.STORAGE


def test_receipts_are_verified_and_answer_only_their_batch(
    tmp_path: Path, office: Office, identity: DeviceIdentity
) -> None:
    answered, unanswered, tampered = (
        build_batch(make_payload(1, seed=s), identity=identity) for s in (1, 2, 3)
    )
    write_batches(tmp_path, [answered, unanswered, tampered])
    write_receipt_file(
        tmp_path, batch_id=answered.batch_id, receipt=_receipt(office, identity, answered)
    )
    forged = _receipt(make_office(), identity, tampered)
    write_receipt_file(tmp_path, batch_id=tampered.batch_id, receipt=forged)
    other_device = make_identity(office)
    other_batch = build_batch(make_payload(1), identity=other_device)
    write_receipt_file(
        tmp_path, batch_id=other_batch.batch_id, receipt=_receipt(office, other_device, other_batch)
    )

    found = read_receipts(
        tmp_path,
        identity=identity,
        expected={b.batch_id: b.sha384 for b in (answered, unanswered, tampered)},
    )
    assert [r.batch_id for r in found.receipts] == [answered.batch_id]
    assert [(p.name, reason) for p, reason in found.invalid] == [
        (receipt_file_name(tampered.batch_id), "unknown_key")
    ]
    removed = remove_answered_batches(tmp_path, found.receipts)
    assert [p.name for p in removed] == [batch_file_name(answered)]
    left = sorted(p.name for p in tmp_path.iterdir())
    assert batch_file_name(unanswered) in left and batch_file_name(tampered) in left
    assert receipt_file_name(answered.batch_id) not in left
    assert receipt_file_name(other_batch.batch_id) in left  # another device's answer stays


def test_receipt_for_other_bytes_does_not_delete_the_batch(
    tmp_path: Path, office: Office, identity: DeviceIdentity
) -> None:
    batch = build_batch(make_payload(1), identity=identity)
    write_batches(tmp_path, [batch])
    wrong = _receipt(office, identity, batch, batch_sha384="0" * 96)
    write_receipt_file(tmp_path, batch_id=batch.batch_id, receipt=wrong)
    found = read_receipts(tmp_path, identity=identity, expected={batch.batch_id: batch.sha384})
    assert found.receipts == [] and found.invalid[0][1] == "wrong_digest"
    unchecked = read_receipts(tmp_path, identity=identity)
    assert remove_answered_batches(tmp_path, unchecked.receipts) == []
    assert (tmp_path / batch_file_name(batch)).read_bytes() == batch.data


def test_rejected_receipt_releases_the_batch_file(
    tmp_path: Path, office: Office, identity: DeviceIdentity
) -> None:
    batch = build_batch(make_payload(1), identity=identity)
    write_batches(tmp_path, [batch])
    rejected = _receipt(
        office,
        identity,
        batch,
        status=ReceiptStatus.REJECTED,
        records=[],
        reason="bad_signature",
        batch_sha384="1" * 96,
    )
    write_receipt_file(tmp_path, batch_id=batch.batch_id, receipt=rejected)
    found = read_receipts(tmp_path, identity=identity, expected={batch.batch_id: batch.sha384})
    assert found.receipts[0].status == ReceiptStatus.REJECTED
    assert found.receipts[0].delivered_records == frozenset()
    assert remove_answered_batches(tmp_path, found.receipts) == [tmp_path / batch_file_name(batch)]


def test_garbage_receipt_files_are_reported_not_raised(
    tmp_path: Path, identity: DeviceIdentity
) -> None:
    (tmp_path / "intake-x.receipt.json").write_bytes(b"\x00\x01garbage")
    found = read_receipts(tmp_path, identity=identity)
    assert found.receipts == [] and found.invalid[0][1] == "malformed"
