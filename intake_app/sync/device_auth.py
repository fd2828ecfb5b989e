"""A signed request header that proves which enrolled device asks, and for which body.

Uploads (``POST /v1/batches``) and receipt fetches (``GET /v1/receipts``) carry
``Intake-Device-Auth: 2.<device id>.<unix time>.<nonce>.<body length>.<body sha384>.<sig>``
where ``nonce`` is 16 random bytes and ``body sha384`` the SHA-384 of the exact request
body (of no bytes for a GET), both base64url, and ``sig`` is base64url of the 96-byte ECDSA
P-384 signature over ``"intake-device-auth/2" 0x0A method 0x0A path 0x0A device id 0x0A
unix time 0x0A nonce 0x0A body length 0x0A body sha384``. The office accepts it within five
minutes of its own clock, once per nonce, and only with the body it names: it checks the
length before it reads the body and the digest while it reads (docs/security.md,
"Central office", signed requests).

Version 1 (``<device id>.<unix time>.<sig>`` over method, path, device id and time, no
body) was bound to nothing but the second: within its five minutes a captured header
could be sent with any other body. The receiver honours it only until a date the office
sets (the transition for devices that were offline during the update); see
:func:`check_header`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec

from intake_app.sync import keys
from intake_app.sync.identity import DeviceIdentity, is_uuid

HEADER = "Intake-Device-Auth"
MAX_SKEW_SECONDS = 300
MAX_HEADER_CHARS = 512
EMPTY_SHA384 = hashlib.sha384(b"").digest()


@dataclass(frozen=True, slots=True)
class CheckedHeader:
    """A header whose signature verified: who signed, and which body it names.

    ``version`` 1 names no body (``length`` and ``sha384`` are None) and no nonce.
    """

    device_id: str
    version: int
    stamp: int
    nonce: str | None = None
    length: int | None = None
    sha384: bytes | None = None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def _message_v1(method: str, path: str, device_id: str, stamp: int) -> bytes:
    return f"intake-device-auth/1\n{method.upper()}\n{path}\n{device_id}\n{stamp}".encode()


def _message_v2(
    method: str, path: str, device_id: str, stamp: int, nonce: str, length: int, sha384: str
) -> bytes:
    return (
        f"intake-device-auth/2\n{method.upper()}\n{path}\n{device_id}\n{stamp}\n"
        f"{nonce}\n{length}\n{sha384}"
    ).encode()


def make_header(
    identity: DeviceIdentity,
    *,
    method: str,
    path: str,
    body: bytes = b"",
    now: float | None = None,
    nonce: bytes | None = None,
) -> str:
    """The header value for one request by this device with exactly ``body``.

    Every request needs a header of its own (fresh nonce); a retry signs again.
    """
    stamp = int(now if now is not None else time.time())
    nonce_text = _b64(nonce if nonce is not None else os.urandom(16))
    digest = _b64(hashlib.sha384(body).digest())
    message = _message_v2(method, path, identity.device_id, stamp, nonce_text, len(body), digest)
    signature = keys.sign(identity.signing_key(), message)
    return f"2.{identity.device_id}.{stamp}.{nonce_text}.{len(body)}.{digest}.{_b64(signature)}"


def make_header_v1(
    identity: DeviceIdentity, *, method: str, path: str, now: float | None = None
) -> str:
    """The header of devices before the update (kept to test the transition)."""
    stamp = int(now if now is not None else time.time())
    signature = keys.sign(
        identity.signing_key(), _message_v1(method, path, identity.device_id, stamp)
    )
    return f"{identity.device_id}.{stamp}.{_b64(signature)}"


def check_header(
    value: str | None,
    *,
    method: str,
    path: str,
    public_key_for: Callable[[str], ec.EllipticCurvePublicKey | None],
    now: float | None = None,
    accept_v1: bool = False,
) -> CheckedHeader | None:
    """The signer and the body it names when ``value`` is a fresh, valid signature;
    else None. Whether a nonce was used before is for the caller to check.

    ``public_key_for`` looks up the registered key of an enrolled, not revoked device.
    ``accept_v1``: honour the old header that names no body (the transition).
    """
    if not value or len(value) > MAX_HEADER_CHARS:
        return None
    parts = value.split(".")
    current = now if now is not None else time.time()
    if len(parts) == 7 and parts[0] == "2":
        _, device_id, stamp_text, nonce, length_text, digest, sig_text = parts
        if not (
            is_uuid(device_id)
            and stamp_text.isdigit()
            and length_text.isdigit()
            and len(length_text) <= 12
            and 16 <= len(nonce) <= 64
        ):
            return None
        sha384 = _unb64(digest)
        if sha384 is None or len(sha384) != 48 or _b64(sha384) != digest:
            return None
        stamp, length = int(stamp_text), int(length_text)
        message = _message_v2(method, path, device_id, stamp, nonce, length, digest)
        checked = CheckedHeader(device_id, 2, stamp, nonce, length, sha384)
    elif len(parts) == 3 and accept_v1:
        device_id, stamp_text, sig_text = parts
        if not (is_uuid(device_id) and stamp_text.isdigit()):
            return None
        stamp = int(stamp_text)
        message = _message_v1(method, path, device_id, stamp)
        checked = CheckedHeader(device_id, 1, stamp)
    else:
        return None
    if abs(current - stamp) > MAX_SKEW_SECONDS:
        return None
    signature = _unb64(sig_text)
    if signature is None:
        return None
    public = public_key_for(device_id)
    if public is None:
        return None
    if not keys.verify(public, message, signature):
        return None
    return checked
