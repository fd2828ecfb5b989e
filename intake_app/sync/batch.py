"""The batch format: build, seal and sign on the device; parse, verify and open centrally.

A batch is one binary file (specified byte by byte in ``docs/batch-format.md``)::

    magic "INTAKEB\\0" | version u16 | header_len u32 | header (JSON)
    | recipient_count u8 | recipient* (kid 16 | sealed_len u16 | sealed)
    | nonce 12 | ciphertext_len u32 | ciphertext | signature 96

The payload (records and instructions as JSON, zlib-compressed) is encrypted once with a
random AES-256-GCM content key; the content key is sealed with HPKE to the office key and,
where configured, to a recovery key. The header bytes are the HPKE ``info`` and the AEAD
associated data, and the device's ECDSA P-384 signature covers every byte before it, so no
part can be swapped, cut or replayed under another id.

:func:`parse_batch` and :func:`verify_signature` need no secret (the receiver uses them);
:func:`open_batch` needs an office (or recovery) private key (the importer). Every reader
raises only :class:`~intake_app.sync.errors.BatchError` on bad input.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import struct
import uuid
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from intake_app.sync import keys
from intake_app.sync.authors import AuthorKey, validate_block
from intake_app.sync.errors import BatchError
from intake_app.sync.identity import DeviceIdentity, is_uuid
from intake_app.sync.keys import EncryptionPrivateKey
from intake_app.sync.payload import (
    INSTRUCTION_TYPES,
    INSTRUCTION_TYPES_V1,
    INSTRUCTION_TYPES_V2,
    INSTRUCTION_TYPES_V3,
    InstructionRef,
    RecordRef,
    instruction_refs,
    record_refs,
    validate_payload,
)
from intake_app.sync.signed import canonical_json, strict_json_loads

MAGIC = b"INTAKEB\x00"
FORMAT_VERSION = 4
#: Versions a reader accepts: 1 (devices before case events), 2 (before hand-overs), 3
#: (before batches named their sender) and 4 (docs/batch-format.md §11).
READABLE_VERSIONS = (1, 2, 3, 4)
#: The version a batch without a sender proof is written in (a profile whose users are not
#: signed yet, tests of older readers): version 4 always carries one.
UNSIGNED_VERSION = 3
HEADER_FORMAT = "intake-batch"
MAX_BATCH_BYTES = 8 * 1024 * 1024
MAX_HEADER_BYTES = 2 * 1024 * 1024
MAX_PAYLOAD_BYTES = 64 * 1024 * 1024
MAX_RECIPIENTS = 4
MAX_ITEMS = 100_000
CONTENT_KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
KID_BYTES = keys.KEY_ID_BYTES
SEALED_KEY_BYTES = 1665 + CONTENT_KEY_BYTES + TAG_BYTES
COMPRESSIONS = ("zlib", "none")
_PREFIX = struct.Struct(">8sHI")
_CREATED = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_HEADER_KEYS = {
    "format",
    "version",
    "batch_id",
    "device_id",
    "device_key_id",
    "office_key_id",
    "recovery_key_id",
    "created",
    "record_count",
    "instruction_count",
    "compression",
    "payload_length",
    "records",
    "instructions",
}
#: Optional header member: the newest audit entry of the device, ``{"seq": n, "hash": hex}``
#: (docs/batch-format.md §4; docs/security.md, "Device: integrity of roles and the audit log").
AUDIT_HEAD = "audit_head"
#: the highest audit entry number a header may name (§4)
AUDIT_SEQ_MAX = 2**63 - 1
#: the hash a device names for an audit entry it no longer has (§4)
AUDIT_GONE = "0" * 64
#: the most entries a batch names besides its head (``audit_head.named``, §4)
MAX_AUDIT_NAMED = 1000
_HEX64 = re.compile(r"[0-9a-f]{64}")
# Fixed bytes besides header and ciphertext: prefix, recipient count, nonce, length, signature.
_FIXED_OVERHEAD = _PREFIX.size + 1 + NONCE_BYTES + 4 + keys.SIGNATURE_BYTES
_RECIPIENT_BYTES = KID_BYTES + 2 + SEALED_KEY_BYTES


@dataclass(frozen=True, slots=True)
class BatchHeader:
    """The header of a batch, as read from (and bound to) its exact bytes."""

    batch_id: str
    device_id: str
    device_key_id: str
    office_key_id: str
    recovery_key_id: str | None
    created: str
    record_count: int
    instruction_count: int
    compression: str
    payload_length: int
    records: tuple[RecordRef, ...]
    instructions: tuple[InstructionRef, ...]
    audit_head: tuple[int, str] | None = None  # (seq, hash) of the newest audit entry
    #: (seq, hash) now, at the number the previous batch's head named (older devices)
    audit_prev: tuple[int, str] | None = None
    #: (seq, hash) now, at every number earlier batches of the device named as their head,
    #: as the entries' contents give it (None from devices that do not send it)
    audit_named: tuple[tuple[int, str], ...] | None = None
    version: int = FORMAT_VERSION


class Recipient(NamedTuple):
    """One sealed copy of the content key: the recipient's key id and the HPKE output."""

    kid: str
    sealed: bytes


@dataclass(frozen=True, slots=True)
class SealedBatch:
    """A parsed batch: structure checked, signature and content not yet."""

    header: BatchHeader
    header_bytes: bytes
    recipients: tuple[Recipient, ...]
    nonce: bytes
    ciphertext: bytes
    signature: bytes
    signed: bytes = field(repr=False)
    sha384: str
    size: int


@dataclass(frozen=True, slots=True)
class BuiltBatch:
    """A batch ready to send: its bytes and which records and instructions it carries."""

    batch_id: str
    data: bytes
    records: tuple[RecordRef, ...]
    instructions: tuple[InstructionRef, ...]
    created: str

    @property
    def sha384(self) -> str:
        return hashlib.sha384(self.data).hexdigest()

    @classmethod
    def from_bytes(cls, data: bytes) -> BuiltBatch:
        """Rebuild the description of a batch kept as bytes (an outbox resending it).

        Raises:
            BatchError: the bytes are not a well-formed batch.
        """
        header = parse_batch(data).header
        return cls(
            batch_id=header.batch_id,
            data=bytes(data),
            records=header.records,
            instructions=header.instructions,
            created=header.created,
        )


def utc_timestamp(moment: datetime | None = None) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` in UTC (the only time form used on the wire)."""
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# -- building ------------------------------------------------------------------------------


def build_batch(
    payload: Mapping[str, Any],
    *,
    identity: DeviceIdentity,
    batch_id: str | None = None,
    created: datetime | None = None,
    compression: str = "zlib",
    content_key: bytes | None = None,
    nonce: bytes | None = None,
    audit_head: tuple[Any, ...] | None = None,
    version: int | None = None,
    author: AuthorKey | None = None,
) -> BuiltBatch:
    """Seal and sign one batch for the office key (and the recovery key, if configured).

    Args:
        payload: ``{"records": [...], "instructions": [...]}`` as the device produces it.
        identity: the enrolled device (signing key, office keys).
        batch_id: a fresh UUID4 unless given (a resend uses the stored bytes, not this).
        created: the creation time for the header (now by default).
        compression: ``"zlib"`` (default) or ``"none"``.
        content_key, nonce: fixed values for test vectors only; random otherwise.
        audit_head: the device's newest audit entry ``(seq, hash)``, if any, followed
            either by a list of ``(seq, hash)``: the hash now at every number earlier
            batches named as their head, or (as older devices wrote) by ``prev_seq,
            prev_hash``: the entry now at the number the previous batch's head named
            (docs/batch-format.md §4).
        version: the format version written: 4 with an ``author``, 3 without (1 and 2
            only to test readers with what older devices send; such batches carry no
            hand-overs, version 1 no case events).
        author: the signed-in user's key and proof: the batch names her as its sender
            (docs/batch-format.md §5).

    Raises:
        BatchError: ``payload_invalid`` for a payload that does not follow the format.
    """
    validate_payload(payload)
    if version is None:
        version = FORMAT_VERSION if author is not None else UNSIGNED_VERSION
    if (version >= 4) != (author is not None):
        raise ValueError("version 4 and only version 4 names its sender")
    if version not in READABLE_VERSIONS or any(
        i["type"] not in instruction_types(version) for i in payload["instructions"]
    ):
        raise BatchError("payload_invalid")
    return _seal(
        payload,
        identity=identity,
        batch_id=batch_id,
        created=created,
        compression=compression,
        content_key=content_key,
        nonce=nonce,
        audit_head=audit_head,
        version=version,
        author=author,
    )


def _seal(
    payload: Mapping[str, Any],
    *,
    identity: DeviceIdentity,
    batch_id: str | None = None,
    created: datetime | None = None,
    compression: str = "zlib",
    content_key: bytes | None = None,
    nonce: bytes | None = None,
    audit_head: tuple[Any, ...] | None = None,
    version: int = UNSIGNED_VERSION,
    author: AuthorKey | None = None,
) -> BuiltBatch:
    """:func:`build_batch` for a payload already checked by :func:`validate_payload`."""
    if compression not in COMPRESSIONS:
        raise ValueError(f"unknown compression {compression!r}")
    batch_id = batch_id or str(uuid.uuid4())
    content: dict[str, Any] = {
        "records": payload["records"],
        "instructions": payload["instructions"],
    }
    if author is not None:
        content["author"] = author.block(
            device_id=identity.device_id,
            batch_id=batch_id,
            records=payload["records"],
            instructions=payload["instructions"],
        )
    plain = canonical_json(content)
    if len(plain) > MAX_PAYLOAD_BYTES:
        raise BatchError("too_large")
    body = zlib.compress(plain, 6) if compression == "zlib" else plain
    recovery = identity.recovery_public_key
    created_text = utc_timestamp(created)
    header: dict[str, Any] = {
        "format": HEADER_FORMAT,
        "version": version,
        "batch_id": batch_id,
        "device_id": identity.device_id,
        "device_key_id": identity.key_id,
        "office_key_id": identity.current_office_key_id,
        "recovery_key_id": recovery.key_id if recovery else None,
        "created": created_text,
        "record_count": len(payload["records"]),
        "instruction_count": len(payload["instructions"]),
        "compression": compression,
        "payload_length": len(plain),
        "records": [list(ref) for ref in record_refs(payload)],
        "instructions": [list(ref) for ref in instruction_refs(payload)],
    }
    if audit_head is not None:
        header[AUDIT_HEAD] = {"seq": int(audit_head[0]), "hash": str(audit_head[1])}
        if len(audit_head) == 4:
            header[AUDIT_HEAD].update(prev_seq=int(audit_head[2]), prev_hash=str(audit_head[3]))
        elif len(audit_head) == 3:
            named = [[int(seq), str(digest)] for seq, digest in audit_head[2]]
            if len(named) > MAX_AUDIT_NAMED:
                raise ValueError(f"at most {MAX_AUDIT_NAMED} audit entries named")
            header[AUDIT_HEAD]["named"] = named
    header_bytes = canonical_json(header)
    if len(header_bytes) > MAX_HEADER_BYTES:
        raise BatchError("too_large")
    content_key = content_key or AESGCM.generate_key(bit_length=256)
    nonce = nonce or secrets.token_bytes(NONCE_BYTES)
    if len(content_key) != CONTENT_KEY_BYTES or len(nonce) != NONCE_BYTES:
        raise ValueError("content key must be 32 bytes and nonce 12 bytes")
    ciphertext = AESGCM(content_key).encrypt(nonce, body, header_bytes)
    targets = [identity.office_key()] + ([recovery] if recovery else [])
    parts = [_PREFIX.pack(MAGIC, version, len(header_bytes)), header_bytes]
    parts.append(bytes([len(targets)]))
    for target in targets:
        sealed = keys.SUITE.encrypt(content_key, target.to_hpke(), info=header_bytes)
        parts += [bytes.fromhex(target.key_id), struct.pack(">H", len(sealed)), sealed]
    parts += [nonce, struct.pack(">I", len(ciphertext)), ciphertext]
    signed = b"".join(parts)
    data = signed + keys.sign(identity.signing_key(), signed)
    return BuiltBatch(
        batch_id=batch_id,
        data=data,
        records=record_refs(payload),
        instructions=instruction_refs(payload),
        created=created_text,
    )


def _item_cost(item: Mapping[str, Any], ref: Sequence[Any]) -> int:
    """Upper bound of the bytes one record or instruction adds to a batch."""
    return len(canonical_json(dict(item))) + 1 + len(canonical_json(list(ref))) + 1


def split_payload(
    payload: Mapping[str, Any],
    *,
    max_batch_bytes: int = MAX_BATCH_BYTES,
    recipients: int = 2,
    reserved: int = 0,
) -> list[dict[str, Any]]:
    """Cut a large outbox into payloads whose batches each stay under ``max_batch_bytes``.

    The bound is computed on uncompressed sizes (and zlib's worst case), so every part is
    guaranteed to fit whatever the compression achieves. Order is kept. ``reserved``
    bytes of each batch stay free (the sender's proof).

    Raises:
        BatchError: ``too_large`` when a single record alone does not fit.
    """
    validate_payload(payload)
    # Room for everything besides the items: fixed fields, recipients, header keys, slack.
    overhead = _FIXED_OVERHEAD + recipients * _RECIPIENT_BYTES + 1024 + reserved
    budget = int((max_batch_bytes - overhead - 64) / 1.001)
    parts: list[dict[str, Any]] = []
    current: dict[str, list[Any]] = {"records": [], "instructions": []}
    used = 0
    items: list[tuple[str, Any, tuple[Any, ...]]] = [
        ("records", r, ref) for r, ref in zip(payload["records"], record_refs(payload), strict=True)
    ]
    items += [
        ("instructions", i, ref)
        for i, ref in zip(payload["instructions"], instruction_refs(payload), strict=True)
    ]
    for kind, item, ref in items:
        cost = _item_cost(item, ref)
        if cost > budget:
            raise BatchError("too_large")
        count = len(current["records"]) + len(current["instructions"])
        if used + cost > budget or count >= MAX_ITEMS:
            parts.append(current)
            current = {"records": [], "instructions": []}
            used = 0
        current[kind].append(item)
        used += cost
    if current["records"] or current["instructions"]:
        parts.append(current)
    return parts


def build_batches(
    payload: Mapping[str, Any],
    *,
    identity: DeviceIdentity,
    max_batch_bytes: int = MAX_BATCH_BYTES,
    created: datetime | None = None,
    audit_head: tuple[Any, ...] | None = None,
    author: AuthorKey | None = None,
) -> list[BuiltBatch]:
    """Split an outbox payload by the size cap and build one batch per part (each named
    by ``author``, when given: version 4)."""
    recipients = 2 if identity.recovery_public_key else 1
    version = FORMAT_VERSION if author is not None else UNSIGNED_VERSION
    reserved = _author_bytes(author, identity.device_id) if author is not None else 0
    built = []
    # split_payload checked the whole outbox; its parts are slices of it
    parts = split_payload(
        payload, max_batch_bytes=max_batch_bytes, recipients=recipients, reserved=reserved
    )
    for part in parts:
        batch = _seal(
            part,
            identity=identity,
            created=created,
            audit_head=audit_head,
            version=version,
            author=author,
        )
        if len(batch.data) > max_batch_bytes:  # pragma: no cover - the bound above is safe
            raise BatchError("too_large")
        built.append(batch)
    return built


def _author_bytes(author: AuthorKey, device_id: str) -> int:
    """An upper bound of what the sender's proof adds to a batch (its signature's length
    varies by a few bytes; the batch id has a fixed length)."""
    block = author.block(
        device_id=device_id, batch_id=str(uuid.UUID(int=0)), records=[], instructions=[]
    )
    return len(canonical_json({"author": block})) + 64


# -- reading -------------------------------------------------------------------------------


def _require(condition: bool, reason: str) -> None:
    if not condition:
        raise BatchError(reason)


def _int(value: object, *, low: int, high: int) -> int:
    _require(type(value) is int and low <= value <= high, "header_invalid")  # type: ignore[operator]
    return value  # type: ignore[return-value]


def instruction_types(version: int) -> tuple[str, ...]:
    """The instruction types a batch of ``version`` may carry (docs/batch-format.md §11)."""
    if version >= 4:
        return INSTRUCTION_TYPES
    if version == 3:
        return INSTRUCTION_TYPES_V3
    return INSTRUCTION_TYPES_V2 if version == 2 else INSTRUCTION_TYPES_V1


def _parse_header(raw: bytes, binary_version: int) -> BatchHeader:
    try:
        data = strict_json_loads(raw)
    except ValueError:
        raise BatchError("header_invalid") from None
    _require(isinstance(data, dict), "header_invalid")
    _require(data.get("format") == HEADER_FORMAT, "header_invalid")
    version = data.get("version")
    _require(type(version) is int and version == binary_version, "unsupported_version")
    _require(set(data) - {AUDIT_HEAD} == _HEADER_KEYS, "header_invalid")
    types = instruction_types(version)
    audit_head = audit_prev = audit_named = None
    if AUDIT_HEAD in data:
        head = data[AUDIT_HEAD]
        _require(isinstance(head, dict), "header_invalid")
        _require(
            set(head)
            in (
                {"seq", "hash"},
                {"seq", "hash", "prev_seq", "prev_hash"},
                {"seq", "hash", "named"},
            ),
            "header_invalid",
        )
        audit_head = _audit_point(head["seq"], head["hash"])
        if "prev_seq" in head:
            audit_prev = _audit_point(head["prev_seq"], head["prev_hash"])
        if "named" in head:
            named = head["named"]
            _require(isinstance(named, list) and len(named) <= MAX_AUDIT_NAMED, "header_invalid")
            points = []
            for point in named:
                _require(isinstance(point, list) and len(point) == 2, "header_invalid")
                points.append(_audit_point(point[0], point[1]))
            _require(len({seq for seq, _ in points}) == len(points), "header_invalid")
            audit_named = tuple(points)
    for name in ("batch_id", "device_id"):
        _require(is_uuid(data[name]), "header_invalid")
    for name in ("device_key_id", "office_key_id"):
        _require(keys.is_key_id(data[name]), "header_invalid")
    recovery = data["recovery_key_id"]
    _require(recovery is None or keys.is_key_id(recovery), "header_invalid")
    created = data["created"]
    _require(isinstance(created, str) and bool(_CREATED.match(created)), "header_invalid")
    try:
        datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        raise BatchError("header_invalid") from None
    _require(data["compression"] in COMPRESSIONS, "header_invalid")
    record_count = _int(data["record_count"], low=0, high=MAX_ITEMS)
    instruction_count = _int(data["instruction_count"], low=0, high=MAX_ITEMS)
    payload_length = _int(data["payload_length"], low=2, high=MAX_PAYLOAD_BYTES)
    records_raw, instructions_raw = data["records"], data["instructions"]
    _require(isinstance(records_raw, list) and len(records_raw) == record_count, "header_invalid")
    _require(
        isinstance(instructions_raw, list) and len(instructions_raw) == instruction_count,
        "header_invalid",
    )
    records = []
    for entry in records_raw:
        _require(isinstance(entry, list) and len(entry) == 2, "header_invalid")
        _require(is_uuid(entry[0]), "header_invalid")
        records.append(RecordRef(entry[0], _int(entry[1], low=1, high=2**31 - 1)))
    _require(len(set(records)) == len(records), "header_invalid")
    instructions = []
    for entry in instructions_raw:
        _require(isinstance(entry, list) and len(entry) == 3, "header_invalid")
        _require(entry[0] in types and is_uuid(entry[1]), "header_invalid")
        purpose = entry[2]
        _require(isinstance(purpose, str) and len(purpose) <= 200, "header_invalid")
        _require((purpose == "") == (entry[0] == "erasure"), "header_invalid")
        _require(
            entry[0] not in ("case_event", "reassignment") or is_uuid(purpose), "header_invalid"
        )
        instructions.append(InstructionRef(entry[0], entry[1], purpose))
    _require(len(set(instructions)) == len(instructions), "header_invalid")
    return BatchHeader(
        batch_id=data["batch_id"],
        device_id=data["device_id"],
        device_key_id=data["device_key_id"],
        office_key_id=data["office_key_id"],
        recovery_key_id=recovery,
        created=created,
        record_count=record_count,
        instruction_count=instruction_count,
        compression=data["compression"],
        payload_length=payload_length,
        records=tuple(records),
        instructions=tuple(instructions),
        audit_head=audit_head,
        audit_prev=audit_prev,
        audit_named=audit_named,
        version=version,
    )


def _audit_point(seq: object, digest: object) -> tuple[int, str]:
    number = _int(seq, low=1, high=AUDIT_SEQ_MAX)
    _require(isinstance(digest, str) and bool(_HEX64.fullmatch(digest)), "header_invalid")
    return number, str(digest)


def parse_batch(data: bytes, *, max_size: int = MAX_BATCH_BYTES) -> SealedBatch:
    """Check the structure of a batch and read its header; needs no key.

    Raises:
        BatchError: ``too_large``, ``truncated``, ``unsigned`` (no signature at all),
            ``bad_magic``, ``unsupported_version``, ``header_invalid``,
            ``recipients_invalid`` or ``trailing_data``. Nothing else, whatever the bytes.
    """
    data = bytes(data)
    _require(len(data) <= max_size, "too_large")
    _require(len(data) >= _PREFIX.size, "truncated")
    magic, version, header_len = _PREFIX.unpack_from(data, 0)
    _require(magic == MAGIC, "bad_magic")
    _require(version in READABLE_VERSIONS, "unsupported_version")
    _require(0 < header_len <= MAX_HEADER_BYTES, "header_invalid")
    pos = _PREFIX.size
    _require(len(data) >= pos + header_len + 1, "truncated")
    header_bytes = data[pos : pos + header_len]
    pos += header_len
    header = _parse_header(header_bytes, version)
    count = data[pos]
    pos += 1
    expected = [header.office_key_id] + ([header.recovery_key_id] if header.recovery_key_id else [])
    _require(count == len(expected) and count <= MAX_RECIPIENTS, "recipients_invalid")
    recipients = []
    for wanted in expected:
        _require(len(data) >= pos + KID_BYTES + 2, "truncated")
        kid = data[pos : pos + KID_BYTES].hex()
        (sealed_len,) = struct.unpack_from(">H", data, pos + KID_BYTES)
        pos += KID_BYTES + 2
        _require(kid == wanted and sealed_len == SEALED_KEY_BYTES, "recipients_invalid")
        _require(len(data) >= pos + sealed_len, "truncated")
        recipients.append(Recipient(kid, data[pos : pos + sealed_len]))
        pos += sealed_len
    _require(len(data) >= pos + NONCE_BYTES + 4, "truncated")
    nonce = data[pos : pos + NONCE_BYTES]
    (ct_len,) = struct.unpack_from(">I", data, pos + NONCE_BYTES)
    pos += NONCE_BYTES + 4
    _require(ct_len >= TAG_BYTES, "truncated")
    if header.compression == "none":
        _require(ct_len == header.payload_length + TAG_BYTES, "header_invalid")
    _require(len(data) != pos + ct_len, "unsigned")
    _require(len(data) >= pos + ct_len + keys.SIGNATURE_BYTES, "truncated")
    ciphertext = data[pos : pos + ct_len]
    pos += ct_len
    signature = data[pos : pos + keys.SIGNATURE_BYTES]
    _require(len(data) == pos + keys.SIGNATURE_BYTES, "trailing_data")
    return SealedBatch(
        header=header,
        header_bytes=header_bytes,
        recipients=tuple(recipients),
        nonce=nonce,
        ciphertext=ciphertext,
        signature=signature,
        signed=data[:pos],
        sha384=hashlib.sha384(data).hexdigest(),
        size=len(data),
    )


def verify_signature(batch: SealedBatch, public_key: ec.EllipticCurvePublicKey) -> None:
    """Check the device signature over every byte before it with the device's key.

    Raises:
        BatchError: ``device_key_mismatch`` when the header names another device key,
            ``bad_signature`` when the signature does not verify.
    """
    if keys.signing_key_id(public_key) != batch.header.device_key_id:
        raise BatchError("device_key_mismatch")
    if not keys.verify(public_key, batch.signed, batch.signature):
        raise BatchError("bad_signature")


def open_batch(
    batch: SealedBatch, private_keys: Mapping[str, EncryptionPrivateKey]
) -> dict[str, Any]:
    """Decrypt and check the payload with one of the office's (or the recovery) keys.

    Args:
        batch: a parsed batch whose signature the caller has verified.
        private_keys: every decryption key held, by key id (current and rotated ones).

    Raises:
        BatchError: ``wrong_key`` (sealed to none of our keys), ``decrypt_failed``,
            ``payload_invalid`` or ``manifest_mismatch``.

    Returns:
        ``{"records", "instructions"}``, and for version 4 ``"author"`` (its shape checked,
        its signatures not: :func:`intake_app.sync.authors.verify_author`).
    """
    recipient = next((r for r in batch.recipients if r.kid in private_keys), None)
    if recipient is None:
        raise BatchError("wrong_key")
    try:
        content_key = keys.SUITE.decrypt(
            recipient.sealed, private_keys[recipient.kid].to_hpke(), info=batch.header_bytes
        )
    except Exception:  # InvalidTag, or ValueError for a malformed encapsulation
        raise BatchError("wrong_key") from None
    _require(len(content_key) == CONTENT_KEY_BYTES, "decrypt_failed")
    try:
        body = AESGCM(content_key).decrypt(batch.nonce, batch.ciphertext, batch.header_bytes)
    except Exception:
        raise BatchError("decrypt_failed") from None
    limit = batch.header.payload_length
    if batch.header.compression == "zlib":
        inflater = zlib.decompressobj()
        try:
            plain = inflater.decompress(body, limit + 1)
        except zlib.error:
            raise BatchError("payload_invalid") from None
        _require(inflater.eof and not inflater.unused_data, "payload_invalid")
    else:
        plain = body
    _require(len(plain) == limit, "payload_invalid")
    try:
        payload = strict_json_loads(plain)
    except ValueError:
        raise BatchError("payload_invalid") from None
    _require(isinstance(payload, dict), "payload_invalid")
    # Version 4 names its sender (checked by the importer against the device's pinned
    # root, docs/batch-format.md §5); older versions never carry one.
    author = payload.pop("author", None)
    _require((author is not None) == (batch.header.version >= 4), "payload_invalid")
    if author is not None:
        validate_block(author)
    validate_payload(payload)
    if (
        record_refs(payload) != batch.header.records
        or instruction_refs(payload) != batch.header.instructions
    ):
        raise BatchError("manifest_mismatch")
    if author is not None:
        payload["author"] = author
    return payload
