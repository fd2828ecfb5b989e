"""Hand-over documents: a case sealed by the office for the device that takes it over.

The office's importer (which holds the decryption keys) opens the sending device's batch,
checks consent, and seals the record with its case events to the receiving device's own
HPKE key, then signs the whole with its importer key (docs/batch-format.md §8,
"Hand-over"; docs/security.md, "Hand-over through the office"). The receiving device
verifies the signature against the importer keys of its root-signed key set, checks that
the document names itself and its key, and opens the content with its private key. No new
cryptography: the suite is the batches' HPKE (MLKEM1024-P384, HKDF-SHA384, AES-256-GCM,
single-shot ``SealBase``) and the envelope is :mod:`intake_app.sync.signed`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from intake_app.sync import keys
from intake_app.sync.batch import utc_timestamp
from intake_app.sync.errors import SignatureError
from intake_app.sync.identity import is_uuid
from intake_app.sync.keys import EncryptionPrivateKey, EncryptionPublicKey
from intake_app.sync.signed import canonical_json, read_document, sign_document, strict_json_loads

HANDOVER_TYPE = "handover"
HANDOVER_FORMAT = "intake-handover"
HANDOVER_VERSION = 1
_CONTENT_KEYS = {
    "format",
    "version",
    "handover_id",
    "device_id",
    "from_device_id",
    "key_id",
    "sealed",
    "issued_at",
}
#: What the sealed plaintext holds (docs/batch-format.md §8).
_SEALED_KEYS = {"handover_id", "record", "events", "recipient", "purpose", "requested_at"}


def _info(handover_id: str, device_id: str, key_id: str) -> bytes:
    """The HPKE ``info``: binds the sealed bytes to this hand-over, device and key."""
    return f"intake-handover/1\n{handover_id}\n{device_id}\n{key_id}".encode("ascii")


@dataclass(frozen=True, slots=True)
class Handover:
    """An opened hand-over: the record as the office holds it and its case events."""

    handover_id: str
    from_device_id: str
    record: dict[str, Any]
    events: list[dict[str, Any]]
    recipient: str
    purpose: str
    requested_at: str


def seal_handover(
    *,
    handover_id: str,
    device_id: str,
    from_device_id: str,
    device_key: EncryptionPublicKey,
    content: Mapping[str, Any],
    signing_key: ec.EllipticCurvePrivateKey,
    issued_at: datetime | None = None,
) -> bytes:
    """Seal ``content`` to ``device_key`` and sign it with the importer's key.

    ``content`` holds ``handover_id``, ``record``, ``events``, ``recipient``, ``purpose``
    and ``requested_at``.
    """
    if set(content) != _SEALED_KEYS or content["handover_id"] != handover_id:
        raise ValueError("hand-over content does not follow the format")
    sealed = keys.SUITE.encrypt(
        canonical_json(dict(content)),
        device_key.to_hpke(),
        info=_info(handover_id, device_id, device_key.key_id),
    )
    return sign_document(
        HANDOVER_TYPE,
        {
            "format": HANDOVER_FORMAT,
            "version": HANDOVER_VERSION,
            "handover_id": handover_id,
            "device_id": device_id,
            "from_device_id": from_device_id,
            "key_id": device_key.key_id,
            "sealed": keys.b64(sealed),
            "issued_at": utc_timestamp(issued_at),
        },
        private_key=signing_key,
    )


def open_handover(
    data: bytes,
    *,
    device_id: str,
    private_key: EncryptionPrivateKey,
    trusted: Mapping[str, ec.EllipticCurvePublicKey],
) -> Handover:
    """Verify and open a hand-over addressed to this device.

    ``trusted`` are the importer's keys of the device's key set (only the importer, which
    holds the decryption keys, seals hand-overs; a receiver's key is refused).

    Raises:
        SignatureError: ``unknown_key``, ``bad_signature``, ``malformed``,
            ``wrong_device`` (another device's hand-over, or sealed to another key) or
            ``decrypt_failed``.
    """
    content = read_document(data, doc_type=HANDOVER_TYPE).verify(trusted)
    if (
        set(content) != _CONTENT_KEYS
        or content["format"] != HANDOVER_FORMAT
        or content["version"] != HANDOVER_VERSION
        or not all(is_uuid(content[k]) for k in ("handover_id", "device_id", "from_device_id"))
    ):
        raise SignatureError("malformed")
    if content["device_id"] != device_id or content["key_id"] != private_key.key_id:
        raise SignatureError("wrong_device")
    try:
        sealed = keys.unb64(content["sealed"])
        plain = keys.SUITE.decrypt(
            sealed,
            private_key.to_hpke(),
            info=_info(content["handover_id"], device_id, content["key_id"]),
        )
    except Exception:  # cryptography raises several types for a damaged or foreign seal
        raise SignatureError("decrypt_failed") from None
    try:
        inner = strict_json_loads(plain)
    except ValueError:
        raise SignatureError("malformed") from None
    if (
        not isinstance(inner, dict)
        or set(inner) != _SEALED_KEYS
        or inner["handover_id"] != content["handover_id"]
        or not isinstance(inner["record"], dict)
        or not isinstance(inner["events"], list)
        or not all(isinstance(e, dict) for e in inner["events"])
        or not all(isinstance(inner[k], str) for k in ("recipient", "purpose", "requested_at"))
    ):
        raise SignatureError("malformed")
    return Handover(
        handover_id=content["handover_id"],
        from_device_id=content["from_device_id"],
        record=inner["record"],
        events=inner["events"],
        recipient=inner["recipient"],
        purpose=inner["purpose"],
        requested_at=inner["requested_at"],
    )
