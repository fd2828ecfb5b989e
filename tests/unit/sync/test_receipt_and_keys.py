"""Keys and key ids, signed documents, receipts, the device identity."""

from __future__ import annotations

import json
import uuid

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from intake_app.sync import keys
from intake_app.sync.batch import BuiltBatch, build_batch
from intake_app.sync.errors import ReceiptError, SignatureError
from intake_app.sync.identity import DeviceIdentity, OfficeKeySet
from intake_app.sync.keys import EncryptionPrivateKey, EncryptionPublicKey
from intake_app.sync.payload import RecordRef
from intake_app.sync.receipt import ItemResult, ReceiptStatus, build_receipt, verify_receipt
from intake_app.sync.signed import read_document, sign_document, verify_document
from tests.unit.sync.factories import Office, make_identity, make_office, make_payload


@pytest.fixture(scope="module")
def office() -> Office:
    return make_office(recovery=True)


@pytest.fixture(scope="module")
def identity(office: Office) -> DeviceIdentity:
    return make_identity(office)


@pytest.fixture(scope="module")
def built(identity: DeviceIdentity) -> BuiltBatch:
    return build_batch(make_payload(3), identity=identity)


# -- keys ----------------------------------------------------------------------------------


def test_encryption_keys_round_trip_through_their_bytes() -> None:
    private = EncryptionPrivateKey.generate()
    again = EncryptionPrivateKey(private.raw)
    assert len(private.raw) == 112
    assert again.public_key() == private.public_key()
    public_json = private.public_key().to_json()
    assert EncryptionPublicKey.from_json(public_json) == private.public_key()
    assert len(private.public_key().raw) == 1665
    assert keys.is_key_id(private.key_id)


def test_key_id_must_match_the_key() -> None:
    data = EncryptionPrivateKey.generate().public_key().to_json()
    data["kid"] = EncryptionPrivateKey.generate().key_id
    with pytest.raises(ValueError, match="key id"):
        EncryptionPublicKey.from_json(data)


def test_damaged_public_key_is_refused() -> None:
    raw = bytearray(EncryptionPrivateKey.generate().public_key().raw)
    raw[-50] ^= 0xFF  # the P-384 point is no longer on the curve
    with pytest.raises(ValueError):
        EncryptionPublicKey(bytes(raw))


def test_key_ids_differ_by_kind_and_key() -> None:
    private = keys.generate_signing_key()
    point = keys.signing_public_bytes(private.public_key())
    assert keys.key_id(keys.SIGNING_ALG, point) != keys.key_id(keys.ENCRYPTION_ALG, point)
    assert keys.signing_key_id(private.public_key()) != keys.signing_key_id(
        keys.generate_signing_key().public_key()
    )


def test_only_p384_signing_keys_are_accepted() -> None:
    p256 = ec.generate_private_key(ec.SECP256R1())
    pem = p256.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(ValueError, match="P-384"):
        keys.public_key_from_pem(pem)
    with pytest.raises(ValueError):
        keys.public_key_from_pem(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")


def test_signatures_are_fixed_size_and_checked() -> None:
    private = keys.generate_signing_key()
    signature = keys.sign(private, b"data")
    assert len(signature) == 96
    assert keys.verify(private.public_key(), b"data", signature)
    assert not keys.verify(private.public_key(), b"date", signature)
    assert not keys.verify(private.public_key(), b"data", signature[:-1])
    assert not keys.verify(private.public_key(), b"data", bytes(96))


# -- signed documents ----------------------------------------------------------------------


def test_document_type_is_part_of_the_signature(office: Office) -> None:
    data = sign_document("enrolment", {"a": 1}, private_key=office.signing)
    assert verify_document(data, doc_type="enrolment", trusted=office.trusted()) == {"a": 1}
    envelope = json.loads(data)
    envelope["type"] = "receipt"
    with pytest.raises(SignatureError) as info:
        verify_document(json.dumps(envelope).encode(), doc_type="receipt", trusted=office.trusted())
    assert info.value.reason == "bad_signature"
    with pytest.raises(SignatureError) as info:
        read_document(data, doc_type="receipt")
    assert info.value.reason == "wrong_type"


def test_unknown_signing_key_is_refused(office: Office) -> None:
    stranger = keys.generate_signing_key()
    data = sign_document("receipt", {"a": 1}, private_key=stranger)
    with pytest.raises(SignatureError) as info:
        verify_document(data, doc_type="receipt", trusted=office.trusted())
    assert info.value.reason == "unknown_key"


def test_duplicate_json_keys_are_refused(office: Office) -> None:
    data = sign_document("x", {"a": 1}, private_key=office.signing)
    text = data.decode().replace(
        '"format": "intake-signed",', '"format": "intake-signed", "format": "intake-signed",', 1
    )
    with pytest.raises(SignatureError) as info:
        read_document(text.encode(), doc_type="x")
    assert info.value.reason == "malformed"


# -- receipts ------------------------------------------------------------------------------


def _receipt(
    office: Office, identity: DeviceIdentity, built: BuiltBatch, **kwargs: object
) -> bytes:
    values: dict[str, object] = {
        "status": ReceiptStatus.STORED,
        "batch_id": built.batch_id,
        "device_id": identity.device_id,
        "batch_sha384": built.sha384,
        "records": [(ref, ItemResult.RECEIVED) for ref in built.records],
        "instructions": [],
        "signing_key": office.signing,
    }
    values.update(kwargs)
    return build_receipt(**values)  # type: ignore[arg-type]


def test_receipt_names_the_delivered_records(
    office: Office, identity: DeviceIdentity, built: BuiltBatch
) -> None:
    receipt = verify_receipt(
        _receipt(office, identity, built),
        trusted=identity.office_signing_keys,
        device_id=identity.device_id,
        batch_id=built.batch_id,
        batch_sha384=built.sha384,
    )
    assert receipt.delivered_records == frozenset(built.records)
    assert receipt.office_key_id == office.signing_kid
    assert receipt.status == ReceiptStatus.STORED


@pytest.mark.parametrize(
    ("check", "reason"),
    [
        ({"device_id": str(uuid.uuid4())}, "wrong_device"),
        ({"batch_id": str(uuid.uuid4())}, "wrong_batch"),
        ({"batch_sha384": "0" * 96}, "wrong_digest"),
    ],
)
def test_receipt_must_answer_this_batch(
    office: Office, identity: DeviceIdentity, built: BuiltBatch, check: dict[str, str], reason: str
) -> None:
    with pytest.raises(ReceiptError) as info:
        verify_receipt(_receipt(office, identity, built), trusted=office.trusted(), **check)
    assert info.value.reason == reason


def test_receipt_from_a_stranger_is_refused(identity: DeviceIdentity, built: BuiltBatch) -> None:
    forger = make_office()
    with pytest.raises(ReceiptError) as info:
        verify_receipt(_receipt(forger, identity, built), trusted=identity.office_signing_keys)
    assert info.value.reason == "unknown_key"


def test_rejected_receipt_delivers_nothing(
    office: Office, identity: DeviceIdentity, built: BuiltBatch
) -> None:
    data = _receipt(office, identity, built, status=ReceiptStatus.REJECTED, reason="wrong_key")
    receipt = verify_receipt(data, trusted=office.trusted())
    assert receipt.delivered_records == frozenset()
    assert receipt.reason == "wrong_key"


def test_import_receipt_results(
    office: Office, identity: DeviceIdentity, built: BuiltBatch
) -> None:
    from intake_app.sync.payload import InstructionRef

    conflict = RecordRef(str(uuid.uuid4()), 1)
    erased = InstructionRef("erasure", str(uuid.uuid4()), "")
    data = _receipt(
        office,
        identity,
        built,
        status=ReceiptStatus.IMPORTED,
        records=[(built.records[0], ItemResult.ACCEPTED), (conflict, ItemResult.CONFLICT)],
        instructions=[(erased, ItemResult.CONFIRMED)],
    )
    receipt = verify_receipt(data, trusted=office.trusted())
    assert receipt.delivered_records == {built.records[0]}
    assert receipt.confirmed_erasures == {erased.record_id}


# -- identity ------------------------------------------------------------------------------


def test_identity_round_trips_through_json(identity: DeviceIdentity, office: Office) -> None:
    again = DeviceIdentity.from_json(identity.to_json())
    assert again.key_id == identity.key_id
    assert again.office_key() == identity.office_key()
    assert again.recovery_public_key == identity.recovery_public_key
    assert set(again.office_signing_keys) == {office.signing_kid}
    assert "PRIVATE KEY" not in repr(again)


def test_identity_takes_the_receipt_keys_of_a_new_key_set(identity: DeviceIdentity) -> None:
    rotated = make_office()
    updated = identity.with_key_set(
        OfficeKeySet(
            encryption_keys={k: v.public_key() for k, v in rotated.encryption.items()},
            current_encryption_key_id=rotated.current,
            signing_keys={rotated.signing_kid: rotated.signing.public_key()},
            serial=2,
        )
    )
    assert updated.current_office_key_id == rotated.current
    # a receipt key the root no longer lists (a revoked receiver) is trusted no more
    assert set(updated.office_signing_keys) == {rotated.signing_kid}
    assert updated.key_set_serial == 2
    assert updated.device_id == identity.device_id
    assert updated.root_public_key is identity.root_public_key
    again = DeviceIdentity.from_json(updated.to_json())
    assert again.key_set_serial == 2
    assert again.office_fingerprint == identity.office_fingerprint


def test_damaged_identity_is_refused(identity: DeviceIdentity) -> None:
    data = json.loads(identity.to_json())
    data["device_id"] = "x"
    with pytest.raises(ValueError):
        DeviceIdentity.from_json(json.dumps(data))
    with pytest.raises(ValueError):
        DeviceIdentity.from_json(json.dumps({"format": "something-else"}))
