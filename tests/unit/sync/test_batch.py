"""The batch format: build, parse, verify, open; binding, tampering, keys, size cap."""

from __future__ import annotations

import json
import secrets
import struct
import uuid
import zlib
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from intake_app.sync import batch as batch_module
from intake_app.sync import keys
from intake_app.sync.batch import (
    AUDIT_GONE,
    FORMAT_VERSION,
    MAGIC,
    MAX_AUDIT_NAMED,
    build_batch,
    build_batches,
    open_batch,
    parse_batch,
    split_payload,
    verify_signature,
)
from intake_app.sync.errors import BatchError
from intake_app.sync.identity import DeviceIdentity
from intake_app.sync.keys import EncryptionPrivateKey
from intake_app.sync.signed import canonical_json
from tests.unit.sync.factories import (
    Office,
    erasure,
    make_identity,
    make_office,
    make_payload,
    make_record,
    withdrawal,
)


@pytest.fixture(scope="module")
def office() -> Office:
    return make_office()


@pytest.fixture(scope="module")
def identity(office: Office) -> DeviceIdentity:
    return make_identity(office)


def _open(data: bytes, identity: DeviceIdentity, office: Office) -> dict[str, Any]:
    sealed = parse_batch(data)
    verify_signature(sealed, identity.public_key())
    return open_batch(sealed, office.encryption)


def _version_of(header: Any) -> int:
    """The binary version to go with ``header``: its own when it names a plausible one."""
    version = header.get("version") if isinstance(header, dict) else None
    return version if type(version) is int and 0 <= version < 2**16 else FORMAT_VERSION


def seal_custom(
    identity: DeviceIdentity,
    header: dict[str, Any],
    body: bytes,
    *,
    recipient: keys.EncryptionPublicKey | None = None,
) -> bytes:
    """Assemble a batch with any header and body, signed by the device (a buggy device)."""
    header_bytes = canonical_json(header)
    content_key = AESGCM.generate_key(bit_length=256)
    nonce = secrets.token_bytes(12)
    ciphertext = AESGCM(content_key).encrypt(nonce, body, header_bytes)
    target = recipient or identity.office_key()
    sealed = keys.SUITE.encrypt(content_key, target.to_hpke(), info=header_bytes)
    signed = b"".join(
        [
            struct.pack(">8sHI", MAGIC, _version_of(header), len(header_bytes)),
            header_bytes,
            b"\x01",
            bytes.fromhex(target.key_id),
            struct.pack(">H", len(sealed)),
            sealed,
            nonce,
            struct.pack(">I", len(ciphertext)),
            ciphertext,
        ]
    )
    return signed + keys.sign(identity.signing_key(), signed)


def _header_for(identity: DeviceIdentity, payload: dict[str, Any], plain: bytes) -> dict[str, Any]:
    return {
        "format": "intake-batch",
        "version": 1,
        "batch_id": str(uuid.uuid4()),
        "device_id": identity.device_id,
        "device_key_id": identity.key_id,
        "office_key_id": identity.current_office_key_id,
        "recovery_key_id": None,
        "created": "2026-11-20T10:00:00Z",
        "record_count": len(payload["records"]),
        "instruction_count": len(payload["instructions"]),
        "compression": "zlib",
        "payload_length": len(plain),
        "records": [[r["id"], r["revision"]] for r in payload["records"]],
        "instructions": [],
    }


# -- round trip ----------------------------------------------------------------------------


def test_round_trip_returns_the_payload(identity: DeviceIdentity, office: Office) -> None:
    payload = make_payload(
        5, instructions=[erasure(str(uuid.uuid4())), withdrawal(str(uuid.uuid4()))]
    )
    built = build_batch(payload, identity=identity)
    assert _open(built.data, identity, office) == payload
    header = parse_batch(built.data).header
    assert header.batch_id == built.batch_id
    assert header.device_id == identity.device_id
    assert header.device_key_id == identity.key_id
    assert header.office_key_id == office.current
    assert header.record_count == 5 and header.instruction_count == 2
    assert list(header.records) == [(r["id"], r["revision"]) for r in payload["records"]]
    assert header.instructions[1].purpose == "central_office"
    assert built.records == header.records


def test_uncompressed_payload_round_trips(identity: DeviceIdentity, office: Office) -> None:
    payload = make_payload(2)
    built = build_batch(payload, identity=identity, compression="none")
    assert parse_batch(built.data).header.compression == "none"
    assert _open(built.data, identity, office) == payload


def test_names_and_answers_are_not_readable_in_the_batch(identity: DeviceIdentity) -> None:
    record = make_record(family_name="Kanarienvogel-Zyxw")
    built = build_batch(
        {"records": [record], "instructions": []}, identity=identity, compression="none"
    )
    assert b"Kanarienvogel" not in built.data
    assert b"duldung" not in built.data and b"Amal" not in built.data


def test_each_build_uses_a_fresh_batch_id_and_content_key(identity: DeviceIdentity) -> None:
    payload = make_payload(1)
    first, second = (build_batch(payload, identity=identity) for _ in range(2))
    assert first.batch_id != second.batch_id
    assert parse_batch(first.data).nonce != parse_batch(second.data).nonce


# -- keys ----------------------------------------------------------------------------------


def test_recovery_key_opens_the_batch_alone() -> None:
    office = make_office(recovery=True)
    identity = make_identity(office)
    payload = make_payload(2)
    built = build_batch(payload, identity=identity)
    sealed = parse_batch(built.data)
    assert office.recovery is not None
    assert [r.kid for r in sealed.recipients] == [office.current, office.recovery.key_id]
    assert sealed.header.recovery_key_id == office.recovery.key_id
    assert open_batch(sealed, {office.recovery.key_id: office.recovery}) == payload


def test_foreign_key_is_wrong_key(identity: DeviceIdentity) -> None:
    built = build_batch(make_payload(1), identity=identity)
    foreign = EncryptionPrivateKey.generate()
    with pytest.raises(BatchError) as info:
        open_batch(parse_batch(built.data), {foreign.key_id: foreign})
    assert info.value.reason == "wrong_key"


def test_batch_sealed_to_a_foreign_key_under_our_key_id_is_refused(
    identity: DeviceIdentity, office: Office
) -> None:
    payload = make_payload(1)
    plain = canonical_json(payload)
    header = _header_for(identity, payload, plain)
    foreign = EncryptionPrivateKey.generate().public_key()
    data = seal_custom(identity, header, zlib.compress(plain), recipient=foreign)
    # The recipient section names the foreign key id, which the header does not name.
    with pytest.raises(BatchError) as info:
        parse_batch(data)
    assert info.value.reason == "recipients_invalid"


def test_rotated_key_still_opens_old_batches(office: Office) -> None:
    old_identity = make_identity(office)
    built = build_batch(make_payload(2), identity=old_identity)
    new_key = EncryptionPrivateKey.generate()
    held = {**office.encryption, new_key.key_id: new_key}
    assert open_batch(parse_batch(built.data), held)["records"]
    with pytest.raises(BatchError) as info:
        open_batch(parse_batch(built.data), {new_key.key_id: new_key})
    assert info.value.reason == "wrong_key"


# -- signature and binding -----------------------------------------------------------------


def test_batch_signed_by_another_device_claiming_this_id_is_refused(
    identity: DeviceIdentity, office: Office
) -> None:
    impostor = make_identity(office, device_id=identity.device_id)
    built = build_batch(make_payload(1), identity=impostor)
    sealed = parse_batch(built.data)
    assert sealed.header.device_id == identity.device_id
    with pytest.raises(BatchError) as info:
        verify_signature(sealed, identity.public_key())
    assert info.value.reason == "device_key_mismatch"


def test_flipped_signature_bit_is_bad_signature(identity: DeviceIdentity) -> None:
    data = bytearray(build_batch(make_payload(1), identity=identity).data)
    data[-1] ^= 0x01
    with pytest.raises(BatchError) as info:
        verify_signature(parse_batch(bytes(data)), identity.public_key())
    assert info.value.reason == "bad_signature"


def test_header_is_bound_into_seal_and_aead(identity: DeviceIdentity, office: Office) -> None:
    """Swap in another header and re-sign with the device key: the seal no longer opens."""
    first = parse_batch(build_batch(make_payload(2, seed=1), identity=identity).data)
    second = parse_batch(build_batch(make_payload(2, seed=2), identity=identity).data)
    spliced_signed = b"".join(
        [
            struct.pack(">8sHI", MAGIC, second.header.version, len(second.header_bytes)),
            second.header_bytes,
            first.signed[14 + len(first.header_bytes) :],
        ]
    )
    spliced = spliced_signed + keys.sign(identity.signing_key(), spliced_signed)
    sealed = parse_batch(spliced)
    verify_signature(sealed, identity.public_key())
    with pytest.raises(BatchError) as info:
        open_batch(sealed, office.encryption)
    assert info.value.reason in ("wrong_key", "decrypt_failed")


def test_payload_that_disagrees_with_the_manifest_is_refused(
    identity: DeviceIdentity, office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = make_payload(2)
    other = make_payload(2, seed=9)
    monkeypatch.setattr(
        batch_module,
        "record_refs",
        lambda _p: tuple(batch_module.RecordRef(r["id"], r["revision"]) for r in other["records"]),
    )
    built = build_batch(payload, identity=identity)
    monkeypatch.undo()
    with pytest.raises(BatchError) as info:
        _open(built.data, identity, office)
    assert info.value.reason == "manifest_mismatch"


def test_decompressed_size_must_match_the_header(identity: DeviceIdentity, office: Office) -> None:
    payload = make_payload(2)
    plain = canonical_json(payload)
    header = _header_for(identity, payload, plain)
    header["payload_length"] = len(plain) - 10  # a compression bomb claims less than it is
    data = seal_custom(identity, header, zlib.compress(plain))
    with pytest.raises(BatchError) as info:
        _open(data, identity, office)
    assert info.value.reason == "payload_invalid"


def test_payload_that_is_not_the_format_is_refused(
    identity: DeviceIdentity, office: Office
) -> None:
    payload = {"records": [{"id": "not-a-uuid", "revision": 1}], "instructions": []}
    plain = json.dumps(payload).encode()
    header = _header_for(identity, {"records": [], "instructions": []}, plain)
    data = seal_custom(identity, header, zlib.compress(plain))
    with pytest.raises(BatchError) as info:
        _open(data, identity, office)
    assert info.value.reason == "payload_invalid"


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("answer", r"\ud800"),  # a lone surrogate: JSON allows it, UTF-8 storage does not
        ("site", r"Köln\u0000Mitte"),  # NUL in a column PostgreSQL keeps as text
        ("counsellor", r"a.schmidt\u001b[31m"),  # an escape sequence in a log-visible name
    ],
)
def test_values_the_central_database_cannot_hold_are_refused_when_opened(
    identity: DeviceIdentity, office: Office, where: str, value: str
) -> None:
    payload = make_payload(1)
    plain_json = json.dumps(payload, ensure_ascii=True)
    record = payload["records"][0]
    if where == "answer":
        marker = json.dumps(record["answers"], ensure_ascii=True)[:-1]
        plain_json = plain_json.replace(marker, marker + ', "x": "' + value + '"', 1)
    else:
        old = json.dumps(record[where], ensure_ascii=True)
        plain_json = plain_json.replace(old, '"' + value + '"', 1)
    plain = plain_json.encode()
    assert value.encode() in plain
    header = _header_for(identity, payload, plain)
    data = seal_custom(identity, header, zlib.compress(plain))
    with pytest.raises(BatchError) as info:
        _open(data, identity, office)
    assert info.value.reason == "payload_invalid"


# -- structure -----------------------------------------------------------------------------


def test_every_truncation_is_a_batch_error(identity: DeviceIdentity) -> None:
    data = build_batch(make_payload(1), identity=identity).data
    reasons = set()
    for length in range(len(data)):
        with pytest.raises(BatchError) as info:
            parse_batch(data[:length])
        reasons.add(info.value.reason)
    assert {"truncated", "unsigned"} <= reasons


def test_trailing_bytes_are_refused(identity: DeviceIdentity) -> None:
    data = build_batch(make_payload(1), identity=identity).data
    with pytest.raises(BatchError) as info:
        parse_batch(data + b"\x00")
    assert info.value.reason == "trailing_data"


def test_unknown_version_and_magic(identity: DeviceIdentity) -> None:
    data = bytearray(build_batch(make_payload(1), identity=identity).data)
    newer = bytes(data[:8]) + b"\x00\x04" + bytes(data[10:])
    with pytest.raises(BatchError) as info:
        parse_batch(newer)
    assert info.value.reason == "unsupported_version"
    older_prefix = bytes(data[:8]) + b"\x00\x02" + bytes(data[10:])  # header still says 3
    with pytest.raises(BatchError) as info:
        parse_batch(older_prefix)
    assert info.value.reason == "unsupported_version"
    with pytest.raises(BatchError) as info:
        parse_batch(b"PK\x03\x04" + bytes(data[4:]))
    assert info.value.reason == "bad_magic"


def test_a_version_1_batch_is_still_read_and_carries_no_case_events(
    identity: DeviceIdentity, office: Office
) -> None:
    payload = make_payload(2)
    old = build_batch(payload, identity=identity, version=1)
    assert old.data[8:10] == b"\x00\x01"
    assert _open(old.data, identity, office)["records"] == payload["records"]
    event = {
        "type": "case_event",
        "record_id": payload["records"][0]["id"],
        "event_id": "5a1e7c2b-9d3f-4e6a-8b0c-1f2e3d4c5b6a",
        "kind": "contact",
        "occurred_on": "2026-11-27",
        "data": {"mode": "phone"},
    }
    with_event = {"records": payload["records"], "instructions": [event]}
    with pytest.raises(BatchError) as info:
        build_batch(with_event, identity=identity, version=1)
    assert info.value.reason == "payload_invalid"
    opened = _open(build_batch(with_event, identity=identity).data, identity, office)
    assert opened["instructions"] == [event]
    # a version 1 header that names a case event is refused before anything is opened
    header = json.loads(parse_batch(build_batch(with_event, identity=identity).data).header_bytes)
    header["version"] = 1
    forged = seal_custom(identity, header, b"{}")
    with pytest.raises(BatchError) as info:
        parse_batch(forged)
    assert info.value.reason == "header_invalid"


def test_a_version_2_batch_carries_no_hand_over_or_device_key(
    identity: DeviceIdentity, office: Office
) -> None:
    payload = make_payload(1)
    record_id = payload["records"][0]["id"]
    handover = {
        "type": "handover",
        "record_id": record_id,
        "handover_id": "7c2d4e6f-8a0b-4c1d-9e2f-3a4b5c6d7e8f",
        "recipient": "site_bonn",
        "purpose": "handover_sites",
        "requested_at": "2026-12-01T10:00:00Z",
    }
    key = EncryptionPrivateKey.generate().public_key().to_json()
    device_key = {"type": "device_key", "record_id": identity.device_id, "key": key}
    with_handover = {"records": payload["records"], "instructions": [handover, device_key]}
    assert _open(build_batch(payload, identity=identity, version=2).data, identity, office)
    with pytest.raises(BatchError) as info:
        build_batch(with_handover, identity=identity, version=2)
    assert info.value.reason == "payload_invalid"
    built = build_batch(with_handover, identity=identity)
    assert built.data[8:10] == b"\x00\x03"
    assert _open(built.data, identity, office)["instructions"] == [handover, device_key]
    header = json.loads(parse_batch(built.data).header_bytes)
    assert header["instructions"][1] == ["device_key", identity.device_id, key["kid"]]
    header["version"] = 2
    with pytest.raises(BatchError) as info:
        parse_batch(seal_custom(identity, header, b"{}"))
    assert info.value.reason == "header_invalid"
    # a key that is not an HPKE key, or an id that is not a field id, is refused
    for broken in (
        dict(device_key, key=dict(key, key=key["key"][:-8] + "AAAAAAA=")),
        dict(handover, recipient="Site Bonn"),
    ):
        with pytest.raises(BatchError):
            build_batch({"records": [], "instructions": [broken]}, identity=identity)


def test_size_limit(identity: DeviceIdentity) -> None:
    data = build_batch(make_payload(3), identity=identity).data
    with pytest.raises(BatchError) as info:
        parse_batch(data, max_size=len(data) - 1)
    assert info.value.reason == "too_large"
    assert parse_batch(data, max_size=len(data)).size == len(data)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: p["records"][0].pop("id"),
        lambda p: p["records"][0].__setitem__("revision", True),
        lambda p: p["records"][0].__setitem__("revision", 0),
        lambda p: p["records"][0].__setitem__("answers", []),
        lambda p: p["records"].append(dict(p["records"][0])),
        lambda p: p["instructions"].append({"type": "delete_all", "record_id": str(uuid.uuid4())}),
        lambda p: p.__setitem__("extra", 1),
    ],
)
def test_invalid_payloads_are_not_built(identity: DeviceIdentity, mutate: Any) -> None:
    payload = make_payload(2)
    mutate(payload)
    with pytest.raises(BatchError) as info:
        build_batch(payload, identity=identity)
    assert info.value.reason == "payload_invalid"


# -- splitting by size cap -----------------------------------------------------------------


def test_large_outbox_is_split_under_the_cap(identity: DeviceIdentity, office: Office) -> None:
    records = [make_record(padding=3000) for _ in range(60)]
    payload = {"records": records, "instructions": [erasure(str(uuid.uuid4()))]}
    cap = 64 * 1024
    built = build_batches(payload, identity=identity, max_batch_bytes=cap)
    assert len(built) > 2
    assert all(len(b.data) <= cap for b in built)
    opened = [_open(b.data, identity, office) for b in built]
    assert [r for o in opened for r in o["records"]] == records
    assert [i for o in opened for i in o["instructions"]] == payload["instructions"]
    assert len({b.batch_id for b in built}) == len(built)


def test_incompressible_records_still_fit(identity: DeviceIdentity) -> None:
    records = [make_record() for _ in range(40)]
    for record in records:
        record["answers"]["notes"] = secrets.token_hex(1500)
    cap = 48 * 1024
    built = build_batches(
        {"records": records, "instructions": []}, identity=identity, max_batch_bytes=cap
    )
    assert all(len(b.data) <= cap for b in built)
    assert sum(len(b.records) for b in built) == 40


def test_a_record_bigger_than_the_cap_is_refused(identity: DeviceIdentity) -> None:
    payload = {"records": [make_record(padding=100_000)], "instructions": []}
    with pytest.raises(BatchError) as info:
        split_payload(payload, max_batch_bytes=32 * 1024)
    assert info.value.reason == "too_large"


def test_empty_outbox_builds_no_batch(identity: DeviceIdentity) -> None:
    assert build_batches({"records": [], "instructions": []}, identity=identity) == []


# -- the audit head (optional header member) ----------------------------------------------


def test_the_audit_head_travels_in_the_header(identity: DeviceIdentity, office: Office) -> None:
    payload = make_payload(1)
    built = build_batch(payload, identity=identity, audit_head=(41, "ab" * 32, 37, "cd" * 32))
    header = parse_batch(built.data).header
    assert header.audit_head == (41, "ab" * 32)
    assert header.audit_prev == (37, "cd" * 32)
    assert _open(built.data, identity, office) == payload
    plain = build_batch(payload, identity=identity)
    assert parse_batch(plain.data).header.audit_head is None  # older devices send none


def test_the_heads_a_batch_names_travel_in_the_header(
    identity: DeviceIdentity, office: Office
) -> None:
    payload = make_payload(1)
    named = [(12, "cd" * 32), (30, AUDIT_GONE)]
    built = build_batch(payload, identity=identity, audit_head=(41, "ab" * 32, named))
    header = parse_batch(built.data).header
    assert header.audit_head == (41, "ab" * 32)
    assert header.audit_named == tuple(named) and header.audit_prev is None
    none_named = build_batch(payload, identity=identity, audit_head=(41, "ab" * 32, []))
    assert parse_batch(none_named.data).header.audit_named == ()
    older = build_batch(payload, identity=identity, audit_head=(41, "ab" * 32))
    assert parse_batch(older.data).header.audit_named is None
    with pytest.raises(ValueError):
        build_batch(
            payload,
            identity=identity,
            audit_head=(41, "ab" * 32, [(n, "ab" * 32) for n in range(1, MAX_AUDIT_NAMED + 2)]),
        )


@pytest.mark.parametrize(
    "head",
    [
        {"seq": 0, "hash": "ab" * 32},
        {"seq": "7", "hash": "ab" * 32},
        {"seq": 7, "hash": "AB" * 32},
        {"seq": 7, "hash": "ab" * 32 + "\n"},
        {"seq": 7},
        {"seq": 7, "hash": "ab" * 32, "prev_seq": 3},
        {"seq": 7, "hash": "ab" * 32, "who": "x"},
        [7, "ab" * 32],
        {"seq": 7, "hash": "ab" * 32, "named": {"3": "ab" * 32}},
        {"seq": 7, "hash": "ab" * 32, "named": [[3, "ab" * 32, 1]]},
        {"seq": 7, "hash": "ab" * 32, "named": [[0, "ab" * 32]]},
        {"seq": 7, "hash": "ab" * 32, "named": [[3, "AB" * 32]]},
        {"seq": 7, "hash": "ab" * 32, "named": [[3, "ab" * 32], [3, "cd" * 32]]},
        {"seq": 7, "hash": "ab" * 32, "named": [[n, "ab" * 32] for n in range(1, 1002)]},
        {"seq": 7, "hash": "ab" * 32, "named": [], "prev_seq": 3, "prev_hash": "ab" * 32},
    ],
)
def test_a_malformed_audit_head_is_header_invalid(identity: DeviceIdentity, head: object) -> None:
    payload = make_payload(1)
    plain = canonical_json(payload)
    header = _header_for(identity, payload, plain) | {"audit_head": head}
    data = seal_custom(identity, header, zlib.compress(plain))
    with pytest.raises(BatchError) as caught:
        parse_batch(data)
    assert caught.value.reason == "header_invalid"
