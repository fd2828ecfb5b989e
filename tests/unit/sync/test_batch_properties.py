"""Property tests: the readers raise only their own errors, whatever the bytes.

Every single-byte change of a valid batch is caught: by the signature, and also by the
seal and the AEAD alone when a reader skipped the signature check.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from intake_app.sync.batch import (
    MAGIC,
    BuiltBatch,
    build_batch,
    open_batch,
    parse_batch,
    verify_signature,
)
from intake_app.sync.errors import BatchError, ReceiptError, SignatureError
from intake_app.sync.identity import DeviceIdentity
from intake_app.sync.receipt import ItemResult, ReceiptStatus, build_receipt, verify_receipt
from intake_app.sync.signed import read_document
from tests.unit.sync.factories import Office, make_identity, make_office, make_payload, withdrawal

SETTINGS = settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def office() -> Office:
    return make_office()


@pytest.fixture(scope="module")
def identity(office: Office) -> DeviceIdentity:
    return make_identity(office)


@pytest.fixture(scope="module")
def built(identity: DeviceIdentity) -> BuiltBatch:
    payload = make_payload(1)
    payload["instructions"].append(withdrawal(payload["records"][0]["id"]))
    return build_batch(payload, identity=identity)


def _full_check(data: bytes, identity: DeviceIdentity, office: Office) -> dict[str, Any]:
    sealed = parse_batch(data)
    verify_signature(sealed, identity.public_key())
    return open_batch(sealed, office.encryption)


@SETTINGS
@given(st.binary(max_size=4096))
@example(b"")
@example(MAGIC)
@example(MAGIC + b"\x00\x01\x00\x00\x00\x02{}")
@example(MAGIC + b"\x00\x01\xff\xff\xff\xff")
def test_parser_raises_only_batch_error_on_arbitrary_bytes(data: bytes) -> None:
    with pytest.raises(BatchError):
        parse_batch(data)


@SETTINGS
@given(header=st.binary(max_size=600), rest=st.binary(max_size=2000))
def test_parser_raises_only_batch_error_behind_a_valid_prefix(header: bytes, rest: bytes) -> None:
    data = struct.pack(">8sHI", MAGIC, 1, len(header)) + header + rest
    with pytest.raises(BatchError):
        parse_batch(data)


@SETTINGS
@given(
    value=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=40),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner, max_size=6)
        ),
        max_leaves=30,
    )
)
def test_parser_raises_only_batch_error_on_json_headers(value: Any) -> None:
    import json

    header = json.dumps(value).encode()
    data = struct.pack(">8sHI", MAGIC, 1, len(header)) + header + b"\x01" + b"\x00" * 200
    with pytest.raises(BatchError):
        parse_batch(data)


@pytest.mark.slow
def test_every_single_byte_flip_is_caught(
    built: BuiltBatch, identity: DeviceIdentity, office: Office
) -> None:
    data = built.data
    signed_length = len(parse_batch(data).signed)
    for position in range(len(data)):
        flipped = bytearray(data)
        flipped[position] ^= 0x01 if position % 2 else 0x80
        with pytest.raises(BatchError):
            _full_check(bytes(flipped), identity, office)
        if position < signed_length:
            # A reader that skipped the signature still cannot be fooled.
            with pytest.raises(BatchError):
                open_batch(parse_batch(bytes(flipped)), office.encryption)


@SETTINGS
@given(position=st.integers(min_value=0), mask=st.integers(min_value=1, max_value=255))
def test_random_byte_changes_are_caught(
    built: BuiltBatch, identity: DeviceIdentity, office: Office, position: int, mask: int
) -> None:
    flipped = bytearray(built.data)
    flipped[position % len(flipped)] ^= mask
    with pytest.raises(BatchError):
        _full_check(bytes(flipped), identity, office)


@SETTINGS
@given(start=st.integers(min_value=0), length=st.integers(min_value=1, max_value=64))
def test_removed_or_duplicated_ranges_are_caught(
    built: BuiltBatch, identity: DeviceIdentity, office: Office, start: int, length: int
) -> None:
    data = built.data
    start %= len(data)
    removed = data[:start] + data[start + length :]
    doubled = data[: start + length] + data[start : start + length] + data[start + length :]
    for candidate in (removed, doubled):
        with pytest.raises(BatchError):
            _full_check(candidate, identity, office)


# -- receipts and signed documents ---------------------------------------------------------


@SETTINGS
@given(st.binary(max_size=2048))
@example(b'{"format": "intake-signed"}')
@example(b"[" * 5000)
def test_receipt_reader_raises_only_receipt_error(data: bytes) -> None:
    with pytest.raises(ReceiptError):
        verify_receipt(data, trusted={})


@SETTINGS
@given(st.binary(max_size=2048))
def test_document_reader_raises_only_signature_error(data: bytes) -> None:
    with pytest.raises(SignatureError):
        read_document(data, doc_type="receipt")


def test_receipt_byte_flips_never_verify_with_other_content(
    built: BuiltBatch, identity: DeviceIdentity, office: Office
) -> None:
    receipt = build_receipt(
        status=ReceiptStatus.STORED,
        batch_id=built.batch_id,
        device_id=identity.device_id,
        batch_sha384=built.sha384,
        records=[(ref, ItemResult.RECEIVED) for ref in built.records],
        instructions=[(ref, ItemResult.RECEIVED) for ref in built.instructions],
        signing_key=office.signing,
    )
    original = verify_receipt(receipt, trusted=office.trusted())
    for position in range(len(receipt)):
        flipped = bytearray(receipt)
        flipped[position] ^= 0x01
        try:
            again = verify_receipt(bytes(flipped), trusted=office.trusted())
        except ReceiptError:
            continue
        # Only a change in insignificant JSON layout can survive, never one in content.
        assert (again.status, again.records, again.batch_sha384) == (
            original.status,
            original.records,
            original.batch_sha384,
        )
