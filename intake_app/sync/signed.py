"""Signed JSON documents: receipts, enrolment files, registrations, published forms, key sets.

A signed document is a small JSON object (an envelope) that carries the signed content as
base64, so a verifier checks exactly the bytes that were signed and no JSON
canonicalisation is needed::

    {"format": "intake-signed", "version": 1, "type": "receipt",
     "kid": "<signing key id>", "alg": "ecdsa-p384-sha384",
     "payload": "<base64 of the UTF-8 JSON content>",
     "signature": "<base64 of the 96-byte r || s>"}

The signature is ECDSA P-384 / SHA-384 over
``"intake-signed/1" 0x0A type 0x0A payload-bytes``; the type in the signed input keeps a
receipt from being passed off as a form or an enrolment file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from intake_app.sync import keys
from intake_app.sync.errors import SignatureError

ENVELOPE_FORMAT = "intake-signed"
ENVELOPE_VERSION = 1
MAX_DOCUMENT_BYTES = 32 * 1024 * 1024
_ENVELOPE_KEYS = {"format", "version", "type", "kid", "alg", "payload", "signature"}


def _reject_constant(value: str) -> Any:
    raise ValueError(f"JSON constant {value} is not allowed")


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {key!r}")
            seen.add(key)
    return result


# A "\\udXXX" escape in the text: the only way JSON can carry a lone surrogate.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def strict_json_loads(data: bytes | str) -> Any:
    """Parse JSON strictly: UTF-8, no duplicate keys, no NaN/Infinity, no lone surrogates
    (``"\\ud800"`` decodes to a string that UTF-8 storage cannot hold).

    Raises:
        ValueError: for anything that is not such JSON (also for absurd nesting).
    """
    try:
        text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
        value = json.loads(text, object_pairs_hook=_unique_object, parse_constant=_reject_constant)
    except RecursionError as exc:
        raise ValueError("JSON nested too deeply") from exc
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
        raise ValueError("lone surrogate in a JSON string")
    return value


def _has_lone_surrogate(value: object) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def canonical_json(value: Any) -> bytes:
    """Compact, key-sorted UTF-8 JSON: the form in which this program writes content."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def signed_input(doc_type: str, payload: bytes) -> bytes:
    """The exact bytes an envelope signature covers."""
    return b"intake-signed/1\n" + doc_type.encode("ascii") + b"\n" + payload


@dataclass(frozen=True, slots=True)
class SignedDocument:
    """An envelope read from bytes but not yet verified."""

    doc_type: str
    kid: str
    payload: bytes
    signature: bytes

    def verify(self, trusted: Mapping[str, ec.EllipticCurvePublicKey]) -> dict[str, Any]:
        """Check the signature against the trusted key named by ``kid``; return the content.

        Raises:
            SignatureError: ``unknown_key``, ``bad_signature`` or ``malformed``.
        """
        public = trusted.get(self.kid)
        if public is None:
            raise SignatureError("unknown_key")
        if not keys.verify(public, signed_input(self.doc_type, self.payload), self.signature):
            raise SignatureError("bad_signature")
        return self.content()

    def content(self) -> dict[str, Any]:
        """The payload parsed as a JSON object (no signature check: call :meth:`verify`)."""
        try:
            value = strict_json_loads(self.payload)
        except ValueError:
            raise SignatureError("malformed") from None
        if not isinstance(value, dict):
            raise SignatureError("malformed")
        return value


def sign_document(
    doc_type: str,
    content: Mapping[str, Any],
    *,
    private_key: ec.EllipticCurvePrivateKey,
) -> bytes:
    """Sign ``content`` (a JSON object) as a document of ``doc_type``; return the envelope."""
    payload = canonical_json(dict(content))
    signature = keys.sign(private_key, signed_input(doc_type, payload))
    envelope = {
        "format": ENVELOPE_FORMAT,
        "version": ENVELOPE_VERSION,
        "type": doc_type,
        "kid": keys.signing_key_id(private_key.public_key()),
        "alg": keys.SIGNING_ALG,
        "payload": keys.b64(payload),
        "signature": keys.b64(signature),
    }
    return envelope_bytes(envelope)


def envelope_bytes(envelope: Mapping[str, Any]) -> bytes:
    """An envelope as a file holds it (what :func:`sign_document` returns)."""
    return json.dumps(envelope, indent=1).encode("utf-8") + b"\n"


def read_document(data: bytes, *, doc_type: str) -> SignedDocument:
    """Read an envelope of the expected type without verifying it.

    Raises:
        SignatureError: ``too_large``, ``malformed``, ``wrong_type`` or
            ``unsupported_version``; never anything else, whatever the bytes.
    """
    if len(data) > MAX_DOCUMENT_BYTES:
        raise SignatureError("too_large")
    try:
        envelope = strict_json_loads(data)
    except ValueError:
        raise SignatureError("malformed") from None
    if not isinstance(envelope, dict) or envelope.get("format") != ENVELOPE_FORMAT:
        raise SignatureError("malformed")
    if envelope.get("version") != ENVELOPE_VERSION or type(envelope.get("version")) is not int:
        raise SignatureError("unsupported_version")
    if set(envelope) != _ENVELOPE_KEYS:
        raise SignatureError("malformed")
    if envelope["type"] != doc_type:
        raise SignatureError("wrong_type")
    if envelope["alg"] != keys.SIGNING_ALG or not keys.is_key_id(envelope["kid"]):
        raise SignatureError("malformed")
    try:
        payload = keys.unb64(envelope["payload"])
        signature = keys.unb64(envelope["signature"])
    except ValueError:
        raise SignatureError("malformed") from None
    if len(signature) != keys.SIGNATURE_BYTES:
        raise SignatureError("malformed")
    return SignedDocument(doc_type, envelope["kid"], payload, signature)


def verify_document(
    data: bytes,
    *,
    doc_type: str,
    trusted: Mapping[str, ec.EllipticCurvePublicKey],
) -> dict[str, Any]:
    """Read and verify an envelope in one step; return its content."""
    return read_document(data, doc_type=doc_type).verify(trusted)
