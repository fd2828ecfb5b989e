"""The office's key hierarchy seen from a device, against real receivers on 127.0.0.1.

A taken-over receiver holds only its receipt key: whatever key set or form it hands out,
a device checks it against the root key pinned at enrolment (docs/security.md, "Central
office: keys, receiver and importer").
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from intake_app.central import db
from intake_app.central.forms import publish_form
from intake_app.central.receiver import create_app
from intake_app.errors import SyncError, SyncErrorKind
from intake_app.sync import keys
from intake_app.sync.batch import build_batch, parse_batch
from intake_app.sync.identity import (
    DeviceIdentity,
    OfficeKeySet,
    build_key_set_document,
    verify_key_set_document,
)
from intake_app.sync.keys import EncryptionPrivateKey
from intake_app.sync.payload import InstructionRef
from intake_app.sync.receipt import ItemResult, ReceiptStatus, build_receipt
from intake_app.sync.transport_folder import RECEIPT_SUFFIX, read_receipts
from intake_app.sync.transport_http import SyncClient
from tests.e2e.conftest import FAST
from tests.unit.central.harness import Central, serve
from tests.unit.sync.factories import make_payload


def _attacker_key_set(central: Central) -> OfficeKeySet:
    """The genuine key set with the attacker's key as recovery recipient, a higher serial."""
    genuine = central.published_key_set()
    attacker = EncryptionPrivateKey.generate()
    return replace(genuine, recovery_key=attacker.public_key(), serial=genuine.serial + 10)


def _rogue_app(central: Central, document: bytes) -> object:
    receiver = central.receiver()
    return create_app(dataclasses.replace(receiver, key_set_document=document))


def test_key_set_signed_by_the_receipt_key_is_refused(central: Central) -> None:
    identity = central.enrol()
    forged = build_key_set_document(_attacker_key_set(central), root_key=central.receipt_key)
    with serve(_rogue_app(central, forged)) as url:
        with SyncClient(replace(identity, server_url=url), settings=FAST) as client:
            with pytest.raises(SyncError) as info:
                client.fetch_office_keys()
    assert info.value.kind is SyncErrorKind.AUTH
    # and the batches the device seals stay for the office alone
    batch = parse_batch(build_batch(make_payload(1), identity=identity).data)
    assert identity.recovery_public_key is None
    assert batch.header.office_key_id == central.published_key_set().current_encryption_key_id
    assert batch.header.recovery_key_id is None


def test_key_set_signed_by_another_root_is_refused(central: Central) -> None:
    identity = central.enrol()
    forged = build_key_set_document(
        _attacker_key_set(central), root_key=keys.generate_signing_key()
    )
    with pytest.raises(Exception) as info:
        verify_key_set_document(forged, root=central.root_key.public_key())
    assert getattr(info.value, "reason", "") == "unknown_key"
    with serve(_rogue_app(central, forged)) as url:
        with SyncClient(replace(identity, server_url=url), settings=FAST) as client:
            with pytest.raises(SyncError):
                client.fetch_office_keys()


def test_an_older_key_set_is_refused(central: Central) -> None:
    identity = central.enrol()
    old_document = central.home.key_set_path.read_bytes()
    central.publish()
    with serve(create_app(central.receiver())) as url:
        with SyncClient(replace(identity, server_url=url), settings=FAST) as client:
            newer = client.fetch_office_keys()
    assert newer.key_set_serial == identity.key_set_serial + 1
    with serve(_rogue_app(central, old_document)) as url:
        with SyncClient(replace(newer, server_url=url), settings=FAST) as client:
            with pytest.raises(SyncError) as info:
                client.fetch_office_keys()
    assert info.value.kind is SyncErrorKind.AUTH and "älteren" in str(info.value)
    # the same key set again is fine (nothing changes)
    with serve(create_app(central.receiver())) as url:
        with SyncClient(replace(newer, server_url=url), settings=FAST) as client:
            assert client.fetch_office_keys().key_set_serial == newer.key_set_serial


def test_a_form_signed_by_the_receipt_key_is_refused(central: Central, tmp_path: Path) -> None:
    identity = central.enrol()
    source = tmp_path / "intake.yaml"
    source.write_text("id: intake\nversion: 2026.9\n", encoding="utf-8")
    publish_form(
        central.home,
        source=source,
        form_id="intake",
        version="2026.9",
        signing_key=central.receipt_key,
    )
    # the genuine receiver lists only forms the root signed
    with serve(create_app(central.receiver())) as url:
        with SyncClient(replace(identity, server_url=url), settings=FAST) as client:
            assert client.fetch_forms() == []
    # a taken-over receiver lists it in an index signed with its receipt key
    receipt_public = central.receipt_key.public_key()
    rogue = dataclasses.replace(
        central.receiver(), root_public={keys.signing_key_id(receipt_public): receipt_public}
    )
    with serve(create_app(rogue)) as url:
        with SyncClient(replace(identity, server_url=url), settings=FAST) as client:
            with pytest.raises(SyncError) as info:
                client.fetch_forms()
    assert info.value.kind is SyncErrorKind.AUTH
    publish_form(
        central.home,
        source=source,
        form_id="intake",
        version="2026.10",
        signing_key=central.root_key,
    )
    with serve(create_app(central.receiver())) as url:
        with SyncClient(replace(identity, server_url=url), settings=FAST) as client:
            assert [f.version for f in client.fetch_forms()] == ["2026.10"]


def test_a_revoked_receiver_key_is_trusted_no_more(central: Central) -> None:
    identity = central.enrol()
    receiver_kid = keys.signing_key_id(central.receipt_key.public_key())
    assert receiver_kid in identity.office_signing_keys
    central.store.revoke_receipt_key(receiver_kid)
    central.publish()
    document = central.home.key_set_path.read_bytes()
    updated_set = verify_key_set_document(document, root=central.root_key.public_key())
    updated = identity.with_key_set(updated_set)
    assert receiver_kid not in updated.office_signing_keys
    # a receiver whose key was revoked does not start
    with pytest.raises(Exception) as info:
        central.receiver()
    assert getattr(info.value, "kind", "") == "receiver_keys"


def test_a_root_signed_key_set_can_move_the_server(central: Central) -> None:
    identity: DeviceIdentity = central.enrol()
    central.publish(server_url="https://neu.example.org")
    with serve(create_app(central.receiver())) as url:
        with SyncClient(replace(identity, server_url=url), settings=FAST) as client:
            moved = client.fetch_office_keys()
    assert moved.server_url == "https://neu.example.org"
    assert DeviceIdentity.from_json(moved.to_json()).server_url == "https://neu.example.org"


def test_final_receipts_signed_by_the_receiver_key_are_refused(
    central: Central, tmp_path: Path
) -> None:
    """A taken-over receiver signs with its own receipt key: an ``imported`` receipt it
    forges (served as the import answer, or left on a stick) and a ``stored`` receipt that
    claims an erasure was confirmed are refused by the device, which keeps its records;
    the importer's genuine receipt is taken."""
    identity = central.enrol()
    receiver = central.receiver()
    batch = build_batch(make_payload(3), identity=identity)
    forged_imported = build_receipt(
        status=ReceiptStatus.IMPORTED,
        batch_id=batch.batch_id,
        device_id=identity.device_id,
        batch_sha384=batch.sha384,
        records=[(ref, ItemResult.ACCEPTED) for ref in parse_batch(batch.data).header.records],
        instructions=[],
        signing_key=receiver.signing_key,
    )
    forged_stored = build_receipt(
        status=ReceiptStatus.STORED,
        batch_id=batch.batch_id,
        device_id=identity.device_id,
        batch_sha384=batch.sha384,
        records=[],
        instructions=[(InstructionRef("erasure", str(uuid.uuid4()), ""), ItemResult.CONFIRMED)],
        signing_key=receiver.signing_key,
    )
    with serve(create_app(receiver)) as url:
        device = replace(identity, server_url=url)
        with SyncClient(device, settings=FAST) as client:
            assert client.send_batch(batch).status == ReceiptStatus.STORED
            # the receiver's database role may write the import answer of a stored batch
            with central.engine.begin() as conn:
                conn.execute(
                    db.batches.update()
                    .where(db.batches.c.batch_id == batch.batch_id)
                    .values(status="imported", import_receipt=forged_imported.decode())
                )
            assert client.fetch_receipts() == []
            with central.engine.begin() as conn:
                conn.execute(
                    db.batches.update()
                    .where(db.batches.c.batch_id == batch.batch_id)
                    .values(status="stored", import_receipt=None)
                )
            central.importer().run()
            genuine = client.fetch_receipts()
    assert [(r.batch_id, r.status) for r in genuine] == [(batch.batch_id, ReceiptStatus.IMPORTED)]
    assert genuine[0].office_key_id in identity.office_importer_keys
    stick = tmp_path / "stick"
    stick.mkdir()
    for name, receipt in (("a", forged_imported), ("b", forged_stored)):
        (stick / f"intake-{name}{RECEIPT_SUFFIX}").write_bytes(receipt)
    found = read_receipts(stick, identity=identity)
    assert found.receipts == []
    assert sorted(reason for _path, reason in found.invalid) == ["malformed", "not_importer"]
