"""Signed receipts: the office's word on what became of a batch.

A receipt is a signed document (see :mod:`intake_app.sync.signed`, type ``"receipt"``)
signed with an office ECDSA P-384 key. Three statuses:

* ``stored``: the receiver verified the device signature and stored the sealed batch
  durably. It names every record revision and instruction of the batch (from the signed
  header) as ``received``. This is what marks records as delivered over HTTP.
* ``imported``: the importer decrypted the batch and loaded it. Records are ``accepted``
  (new), ``duplicate`` (already there), ``erased`` (the person's data was erased centrally)
  or ``conflict`` (the record id belongs to another device); erasures are ``confirmed``,
  withdrawals ``recorded``, hand-overs ``sealed`` or ``refused``.
* ``rejected``: the batch went to quarantine (``reason`` says why). Nothing in it counts
  as delivered; the device sends its records again in a new batch.

The device checks the signature against the office signing keys from its enrolment, and
that the receipt answers this device, this batch id and these exact bytes (SHA-384).
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from intake_app.sync.batch import utc_timestamp
from intake_app.sync.errors import ReceiptError, SignatureError
from intake_app.sync.identity import is_uuid
from intake_app.sync.payload import INSTRUCTION_TYPES, MAX_REVISION, InstructionRef, RecordRef
from intake_app.sync.signed import read_document, sign_document

RECEIPT_TYPE = "receipt"
RECEIPT_FORMAT = "intake-receipt"
RECEIPT_VERSION = 1


class ReceiptStatus(enum.StrEnum):
    """What the office did with the batch."""

    STORED = "stored"
    IMPORTED = "imported"
    REJECTED = "rejected"


class ItemResult(enum.StrEnum):
    """What happened to one record revision or instruction."""

    RECEIVED = "received"
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    ERASED = "erased"
    CONFLICT = "conflict"
    CONFIRMED = "confirmed"
    RECORDED = "recorded"
    #: a hand-over the office sealed for the receiving device (docs/batch-format.md §5)
    SEALED = "sealed"
    #: a hand-over the office refused (consent missing or withdrawn, no such recipient)
    REFUSED = "refused"
    #: the batch's sender may not speak for this case (docs/batch-format.md §8): a
    #: counsellor's batch naming a colleague's case; a supervisor's sync sends it
    NOT_ENTITLED = "not_entitled"


#: Results after which the device may treat a record revision as delivered.
DELIVERED_RESULTS = frozenset(
    {ItemResult.RECEIVED, ItemResult.ACCEPTED, ItemResult.DUPLICATE, ItemResult.ERASED}
)
_RECORD_RESULTS = DELIVERED_RESULTS | {ItemResult.CONFLICT, ItemResult.NOT_ENTITLED}
_INSTRUCTION_RESULTS = frozenset(
    {
        ItemResult.RECEIVED,
        ItemResult.CONFIRMED,
        ItemResult.RECORDED,
        ItemResult.ERASED,
        ItemResult.CONFLICT,
        ItemResult.SEALED,
        ItemResult.REFUSED,
        ItemResult.NOT_ENTITLED,
    }
)
_CONTENT_KEYS = {
    "format",
    "version",
    "status",
    "batch_id",
    "device_id",
    "batch_sha384",
    "records",
    "instructions",
    "reason",
    "issued_at",
}


@dataclass(frozen=True, slots=True)
class Receipt:
    """A verified receipt."""

    status: ReceiptStatus
    batch_id: str
    device_id: str
    batch_sha384: str
    records: tuple[tuple[RecordRef, ItemResult], ...]
    instructions: tuple[tuple[InstructionRef, ItemResult], ...]
    reason: str | None
    issued_at: str
    office_key_id: str
    raw: bytes = field(repr=False)

    @property
    def delivered_records(self) -> frozenset[RecordRef]:
        """Record revisions the office holds; the device may mark these delivered."""
        if self.status == ReceiptStatus.REJECTED:
            return frozenset()
        return frozenset(ref for ref, result in self.records if result in DELIVERED_RESULTS)

    @property
    def delivered_instructions(self) -> frozenset[InstructionRef]:
        """Instructions the office holds (stored, carried out, or moot after an erasure)."""
        if self.status == ReceiptStatus.REJECTED:
            return frozenset()
        return frozenset(
            ref
            for ref, result in self.instructions
            if result not in (ItemResult.CONFLICT, ItemResult.NOT_ENTITLED)
        )

    @property
    def confirmed_erasures(self) -> frozenset[str]:
        """Record ids whose central erasure the importer confirms."""
        return frozenset(
            ref.record_id
            for ref, result in self.instructions
            if ref.type == "erasure" and result == ItemResult.CONFIRMED
        )


def build_receipt(
    *,
    status: ReceiptStatus,
    batch_id: str,
    device_id: str,
    batch_sha384: str,
    records: Iterable[tuple[RecordRef, ItemResult]],
    instructions: Iterable[tuple[InstructionRef, ItemResult]],
    signing_key: ec.EllipticCurvePrivateKey,
    reason: str | None = None,
    issued_at: datetime | None = None,
) -> bytes:
    """Sign a receipt with an office signing key; returns the envelope bytes."""
    content: dict[str, Any] = {
        "format": RECEIPT_FORMAT,
        "version": RECEIPT_VERSION,
        "status": str(status),
        "batch_id": batch_id,
        "device_id": device_id,
        "batch_sha384": batch_sha384,
        "records": [[ref.record_id, ref.revision, str(result)] for ref, result in records],
        "instructions": [
            [ref.type, ref.record_id, ref.purpose, str(result)] for ref, result in instructions
        ],
        "reason": reason,
        "issued_at": utc_timestamp(issued_at),
    }
    return sign_document(RECEIPT_TYPE, content, private_key=signing_key)


def _fail(reason: str = "malformed") -> ReceiptError:
    return ReceiptError(reason)


def _parse_content(content: Mapping[str, Any]) -> dict[str, Any]:
    if set(content) != _CONTENT_KEYS or content.get("format") != RECEIPT_FORMAT:
        raise _fail()
    if content.get("version") != RECEIPT_VERSION:
        raise _fail("unsupported_version")
    try:
        status = ReceiptStatus(content["status"])
    except ValueError:
        raise _fail() from None
    if not (is_uuid(content["batch_id"]) and is_uuid(content["device_id"])):
        raise _fail()
    sha = content["batch_sha384"]
    if not (isinstance(sha, str) and len(sha) == 96):
        raise _fail()
    records = []
    for entry in content["records"] if isinstance(content["records"], list) else [None]:
        if not (isinstance(entry, list) and len(entry) == 3 and is_uuid(entry[0])):
            raise _fail()
        if not (type(entry[1]) is int and 1 <= entry[1] <= MAX_REVISION):
            raise _fail()
        if entry[2] not in _RECORD_RESULTS:
            raise _fail()
        records.append((RecordRef(entry[0], entry[1]), ItemResult(entry[2])))
    instructions = []
    for entry in content["instructions"] if isinstance(content["instructions"], list) else [None]:
        if not (isinstance(entry, list) and len(entry) == 4 and is_uuid(entry[1])):
            raise _fail()
        if entry[0] not in INSTRUCTION_TYPES or not isinstance(entry[2], str):
            raise _fail()
        if entry[3] not in _INSTRUCTION_RESULTS:
            raise _fail()
        instructions.append((InstructionRef(entry[0], entry[1], entry[2]), ItemResult(entry[3])))
    if status == ReceiptStatus.STORED and any(
        result != ItemResult.RECEIVED for _ref, result in (*records, *instructions)
    ):
        # A receiver's word is "received", nothing more: no "erased", no "confirmed".
        raise _fail()
    reason = content["reason"]
    if reason is not None and not isinstance(reason, str):
        raise _fail()
    if not isinstance(content["issued_at"], str):
        raise _fail()
    return {
        "status": status,
        "batch_id": content["batch_id"],
        "device_id": content["device_id"],
        "batch_sha384": sha,
        "records": tuple(records),
        "instructions": tuple(instructions),
        "reason": reason,
        "issued_at": content["issued_at"],
    }


def verify_receipt(
    data: bytes,
    *,
    trusted: Mapping[str, ec.EllipticCurvePublicKey],
    device_id: str | None = None,
    batch_id: str | None = None,
    batch_sha384: str | None = None,
    importer_keys: Collection[str] | None = None,
) -> Receipt:
    """Check a receipt's signature and, where given, that it answers this device and batch.

    Args:
        data: the receipt as received (HTTP body or receipt file).
        trusted: the office signing keys the device trusts, by key id.
        device_id, batch_id, batch_sha384: what the receipt must name.
        importer_keys: the key ids that may sign a final (``imported`` / ``rejected``)
            receipt; a receiver's key signs only ``stored`` (docs/security.md, "What
            devices trust"). Devices always pass it; ``None`` (office tools) trusts any.

    Raises:
        ReceiptError: ``malformed``, ``unknown_key``, ``bad_signature``, ``wrong_device``,
            ``wrong_batch``, ``wrong_digest`` or ``not_importer`` (a final receipt signed
            by a key that is not the importer's); nothing else, whatever the bytes.
    """
    try:
        document = read_document(data, doc_type=RECEIPT_TYPE)
        content = document.verify(trusted)
    except ReceiptError:
        raise
    except SignatureError as exc:
        raise ReceiptError(exc.reason) from None
    fields = _parse_content(content)
    if (
        importer_keys is not None
        and fields["status"] != ReceiptStatus.STORED
        and document.kid not in importer_keys
    ):
        raise _fail("not_importer")
    if device_id is not None and fields["device_id"] != device_id:
        raise _fail("wrong_device")
    if batch_id is not None and fields["batch_id"] != batch_id:
        raise _fail("wrong_batch")
    if batch_sha384 is not None and fields["batch_sha384"] != batch_sha384:
        raise _fail("wrong_digest")
    return Receipt(**fields, office_key_id=document.kid, raw=bytes(data))
