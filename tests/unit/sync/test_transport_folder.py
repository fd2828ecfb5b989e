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
    MAX_HANDOVER_BYTES,
    MAX_RECEIPT_BYTES,
    batch_file_name,
    batch_id_from_name,
    handover_file_name,
    list_batch_files,
    read_handover_files,
    read_receipts,
    receipt_file_name,
    remove_answered_batches,
    write_batches,
    write_handover_files,
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


def test_oversized_and_unreadable_files_are_reported_by_name(
    tmp_path: Path, identity: DeviceIdentity
) -> None:
    # sparse files: larger than the limit on disk, without the bytes
    with (tmp_path / "intake-big.receipt.json").open("wb") as handle:
        handle.truncate(MAX_RECEIPT_BYTES + 1)
    with (tmp_path / handover_file_name("big")).open("wb") as handle:
        handle.truncate(MAX_HANDOVER_BYTES + 1)
    # a folder where a file is expected cannot be read
    (tmp_path / "intake-dir.receipt.json").mkdir()
    (tmp_path / handover_file_name("dir")).mkdir()
    (tmp_path / "intake-x.receipt.json").write_bytes(b"garbage")
    write_handover_files(tmp_path, [("ok", b"sealed")])

    found = read_receipts(tmp_path, identity=identity)
    assert found.receipts == []
    assert [(p.name, reason) for p, reason in found.invalid] == [
        ("intake-big.receipt.json", "too_large"),
        ("intake-dir.receipt.json", "unreadable"),
        ("intake-x.receipt.json", "malformed"),
    ]
    files = read_handover_files(tmp_path)
    assert [(p.name, data) for p, data in files.documents] == [
        (handover_file_name("ok"), b"sealed")
    ]
    assert [(p.name, reason) for p, reason in files.invalid] == [
        (handover_file_name("big"), "too_large"),
        (handover_file_name("dir"), "unreadable"),
    ]


def test_handover_files_are_written_once_and_need_the_folder(tmp_path: Path) -> None:
    paths = write_handover_files(tmp_path, [("a", b"first"), ("b", b"second")])
    assert [p.name for p in paths] == [handover_file_name("a"), handover_file_name("b")]
    before = paths[0].stat().st_mtime_ns
    assert write_handover_files(tmp_path, [("a", b"first")]) == [paths[0]]
    assert paths[0].stat().st_mtime_ns == before and paths[0].read_bytes() == b"first"
    with pytest.raises(SyncError) as info:
        write_handover_files(tmp_path / "stick-not-mounted", [("a", b"first")])
    assert info.value.kind == SyncErrorKind.STORAGE
