"""Forging hostile batches: byte regions, flips, truncations, re-signed and re-sealed copies.

Everything here follows ``docs/batch-format.md`` (section 3, byte layout) and works on
the bytes of genuine batches, the way an attacker with a copy of a batch (and perhaps a
key of another device) would.
"""

from __future__ import annotations

import json
import random
import struct
from collections.abc import Iterator
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from intake_app.sync import keys
from intake_app.sync.batch import parse_batch
from intake_app.sync.signed import canonical_json

PREFIX = 14  # magic 8, version 2, header_len 4


def regions(data: bytes) -> dict[str, tuple[int, int]]:
    """Byte position classes of a batch: name -> (start, end), end exclusive."""
    sealed = parse_batch(data)
    header_end = PREFIX + len(sealed.header_bytes)
    out: dict[str, tuple[int, int]] = {
        "magic": (0, 8),
        "version": (8, 10),
        "header_len": (10, 14),
        "header": (PREFIX, header_end),
        "recipient_count": (header_end, header_end + 1),
    }
    pos = header_end + 1
    for index, recipient in enumerate(sealed.recipients, start=1):
        out[f"recipient{index}_kid"] = (pos, pos + 16)
        out[f"recipient{index}_sealed_len"] = (pos + 16, pos + 18)
        out[f"recipient{index}_sealed_key"] = (pos + 18, pos + 18 + len(recipient.sealed))
        pos += 18 + len(recipient.sealed)
    ct = len(sealed.ciphertext)
    out["nonce"] = (pos, pos + 12)
    out["ciphertext_len"] = (pos + 12, pos + 16)
    out["ciphertext"] = (pos + 16, pos + 16 + ct - 16)
    out["gcm_tag"] = (pos + 16 + ct - 16, pos + 16 + ct)
    out["signature_r"] = (len(data) - 96, len(data) - 48)
    out["signature_s"] = (len(data) - 48, len(data))
    assert pos + 16 + ct + 96 == len(data)
    return out


def flip(data: bytes, position: int, mask: int) -> bytes:
    """``data`` with the byte at ``position`` XORed with ``mask`` (non-zero)."""
    assert 0 < mask < 256
    out = bytearray(data)
    out[position] ^= mask
    return bytes(out)


def flips(
    data: bytes, *, every_byte: bool, per_class: int, rng: random.Random
) -> Iterator[tuple[str, int, bytes]]:
    """(class, position, flipped bytes): every position, or ``per_class`` of each class.

    The first and last byte of each class are always among the sampled ones; the mask
    alternates between a single bit and a random byte.
    """
    for name, (start, end) in regions(data).items():
        if every_byte:
            positions = list(range(start, end))
        else:
            inner = list(range(start + 1, end - 1))
            sample = rng.sample(inner, min(len(inner), max(per_class - 2, 0)))
            positions = sorted({start, end - 1, *sample})
        for position in positions:
            mask = 1 << (position % 8) if position % 2 else rng.randrange(1, 256)
            yield name, position, flip(data, position, mask)


def signed_part(data: bytes) -> bytes:
    """Everything the signature covers (the batch without its last 96 bytes)."""
    return data[: -keys.SIGNATURE_BYTES]


def resign(data: bytes, key: ec.EllipticCurvePrivateKey) -> bytes:
    """The same batch signed with another key."""
    body = signed_part(data)
    return body + keys.sign(key, body)


def rebuild(
    data: bytes,
    *,
    header: dict[str, Any] | None = None,
    recipient_kids: list[str] | None = None,
    key: ec.EllipticCurvePrivateKey,
) -> bytes:
    """Re-assemble a batch with header fields changed and/or recipient key ids replaced.

    Recipients (the sealed content keys), nonce and ciphertext are kept as they are; the
    result is signed with ``key`` (e.g. another device's key, or the device's own key in
    the hands of a thief).
    """
    sealed = parse_batch(data)
    fields = json.loads(sealed.header_bytes)
    fields.update(header or {})
    header_bytes = canonical_json(fields)
    parts = [
        struct.pack(">8sHI", b"INTAKEB\x00", sealed.header.version, len(header_bytes)),
        header_bytes,
    ]
    parts.append(bytes([len(sealed.recipients)]))
    kids = recipient_kids or [r.kid for r in sealed.recipients]
    for kid, recipient in zip(kids, sealed.recipients, strict=True):
        parts += [bytes.fromhex(kid), struct.pack(">H", len(recipient.sealed)), recipient.sealed]
    parts += [sealed.nonce, struct.pack(">I", len(sealed.ciphertext)), sealed.ciphertext]
    body = b"".join(parts)
    return body + keys.sign(key, body)


def truncations(data: bytes, *, count: int | None, rng: random.Random) -> list[int]:
    """Lengths to cut ``data`` to: every length below its size, or ``count`` random ones
    (always including 0, a cut inside the prefix, just before and inside the signature)."""
    if count is None:
        return list(range(len(data)))
    fixed = {0, 7, PREFIX, len(data) - 97, len(data) - 96, len(data) - 1}
    lengths = set(rng.sample(range(len(data)), count)) | fixed
    return sorted(lengths)
