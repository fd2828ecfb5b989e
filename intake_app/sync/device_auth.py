"""A signed request header that proves which enrolled device asks (for fetching receipts).

Batches carry their own signature; the few requests without a body that still concern one
device (``GET /v1/receipts``) send ``Intake-Device-Auth: <device id>.<unix time>.<sig>``
where ``sig`` is base64url of the 96-byte ECDSA P-384 signature over
``"intake-device-auth/1" 0x0A method 0x0A path 0x0A device id 0x0A unix time``.
The office accepts it within five minutes of its own clock.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric import ec

from intake_app.sync import keys
from intake_app.sync.identity import DeviceIdentity, is_uuid

HEADER = "Intake-Device-Auth"
MAX_SKEW_SECONDS = 300


def _message(method: str, path: str, device_id: str, stamp: int) -> bytes:
    return f"intake-device-auth/1\n{method.upper()}\n{path}\n{device_id}\n{stamp}".encode()


def make_header(
    identity: DeviceIdentity, *, method: str, path: str, now: float | None = None
) -> str:
    """The header value for one request by this device."""
    stamp = int(now if now is not None else time.time())
    signature = keys.sign(identity.signing_key(), _message(method, path, identity.device_id, stamp))
    encoded = base64.urlsafe_b64encode(signature).decode("ascii").rstrip("=")
    return f"{identity.device_id}.{stamp}.{encoded}"


def check_header(
    value: str | None,
    *,
    method: str,
    path: str,
    public_key_for: Callable[[str], ec.EllipticCurvePublicKey | None],
    now: float | None = None,
) -> str | None:
    """Return the device id when ``value`` is a fresh, valid signature; else None.

    ``public_key_for`` looks up the registered key of an enrolled, not revoked device.
    """
    if not value or len(value) > 400:
        return None
    parts = value.split(".")
    if len(parts) != 3 or not is_uuid(parts[0]) or not parts[1].isdigit():
        return None
    device_id, stamp = parts[0], int(parts[1])
    current = now if now is not None else time.time()
    if abs(current - stamp) > MAX_SKEW_SECONDS:
        return None
    try:
        signature = base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))
    except (binascii.Error, ValueError):
        return None
    public = public_key_for(device_id)
    if public is None:
        return None
    if not keys.verify(public, _message(method, path, device_id, stamp), signature):
        return None
    return device_id
