"""Who sent a batch: the signing user, proven from the profile's root to her own key.

A device's key proves which device a batch comes from; every user of that device can use
it. From format version 4 a batch also names the **user** who built it and carries her
proof (docs/batch-format.md §5, "author"; docs/security.md, "Batches signed by their
sender"):

- ``chain``: the profile's root public key, the signed rows of the administrators whose
  keys certify others, their key certificates, and the sender's own signed row and key
  certificate: exactly what the device checks at sign-in (storage/integrity.py);
- ``signature``: the sender's own key over the device id, the batch id and a digest of the
  records and instructions.

The office pins a device's root at the first signed batch (and again after each
enrolment) and then knows, from keys alone, which user and role speaks: a counsellor
holding the device key cannot send, in the device's name, a revision or an erasure of a
colleague's case, because she holds no colleague's key and no administrator's.

This module holds the signature primitives the device's signed state uses too
(``storage.user_keys`` re-exports them): one canonical form on both sides.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from intake_app.sync.errors import BatchError
from intake_app.sync.keys import b64, unb64

ALG = "ecdsa-p384-sha384"
USER_ROW_DOMAIN = "intake-user-row/1"
USER_KEY_DOMAIN = "intake-user-key/1"
#: what a sender's signature over a batch's content is made in
AUTHOR_DOMAIN = "intake-batch-author/1"
ADMIN, SUPERVISOR, COUNSELLOR = "admin", "supervisor", "counsellor"
ROLES = (ADMIN, SUPERVISOR, COUNSELLOR)
#: a chain longer than this is refused unread (a profile has a handful of administrators)
MAX_CHAIN = 64
_ROW_FIELDS = ("id", "username", "username_key", "display_name", "role", "active", "key_id")


def public_bytes(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> bytes:
    """The uncompressed point of a key (97 bytes)."""
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    return public.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def public_text(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> str:
    """The public key as base64 text (for the database)."""
    return b64(public_bytes(key))


def load_public(text: str) -> ec.EllipticCurvePublicKey:
    """Read a public key written by :func:`public_text` (ValueError when it is none)."""
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP384R1(), unb64(text))


def key_id(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey | str) -> str:
    """A key's id: 16 bytes of a domain-separated SHA-384 of its public point, as hex."""
    point = unb64(key) if isinstance(key, str) else public_bytes(key)
    digest = hashlib.sha384(b"intake-user-key-id/1\n" + ALG.encode("ascii") + b"\n" + point)
    return digest.digest()[:16].hex()


def canonical(value: Any) -> bytes:
    """Compact JSON with sorted keys (what signatures cover)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def sign(key: ec.EllipticCurvePrivateKey, domain: str, message: bytes) -> str:
    """Sign ``message`` in the context ``domain`` (so one signature never fits another use)."""
    data = domain.encode("ascii") + b"\n" + message
    return b64(key.sign(data, ec.ECDSA(hashes.SHA384())))


def verify(public: ec.EllipticCurvePublicKey | str, domain: str, message: bytes, sig: str) -> bool:
    """True when ``sig`` is ``public``'s signature of ``message`` in ``domain``."""
    try:
        key = load_public(public) if isinstance(public, str) else public
        key.verify(unb64(sig), domain.encode("ascii") + b"\n" + message, ec.ECDSA(hashes.SHA384()))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def row_message(row: Mapping[str, Any]) -> bytes:
    """What a user row's signature covers."""
    return canonical(
        {
            "id": row["id"],
            "username": row["username"],
            "username_key": row["username_key"],
            "display_name": row["display_name"],
            "role": row["role"],
            "active": bool(row["active"]),
            "key_id": row["key_id"],
        }
    )


def key_message(kid: str, user_id: int, public: str) -> bytes:
    """What a key certificate covers."""
    return canonical({"kid": kid, "user_id": user_id, "public_key": public})


def author_message(
    device_id: str,
    batch_id: str,
    records: Sequence[Mapping[str, Any]],
    instructions: Sequence[Mapping[str, Any]],
) -> bytes:
    """What a sender signs: the device, the batch, and a digest of everything it carries."""
    content = canonical({"records": list(records), "instructions": list(instructions)})
    return canonical(
        {
            "device_id": device_id,
            "batch_id": batch_id,
            "content_sha384": hashlib.sha384(content).hexdigest(),
        }
    )


RECORD_ID_DOMAIN = b"intake-record-id/1"
#: the UUID version of a record id bound to its creator (RFC 9562 version 8, "custom")
BOUND_ID_VERSION = 8


def _record_tag(user_id: int, head: bytes) -> bytes:
    digest = hashlib.sha384(RECORD_ID_DOMAIN + b"\n" + str(user_id).encode("ascii") + b"\n" + head)
    tag = bytearray(digest.digest()[:8])
    tag[0] = (tag[0] & 0x3F) | 0x80  # the RFC 9562 variant bits
    return bytes(tag)


def bound_record_id(user_id: int) -> str:
    """A new record id bound to the user who creates the record: a UUID version 8 whose
    first half is random and whose second half is a SHA-384 tag over her user id and that
    half (docs/batch-format.md §5). The office takes a case it has not seen yet from a
    counsellor only under an id bound to her, so nobody can claim a colleague's case id
    first (finding it would take about 2^62 hash computations)."""
    head = bytearray(secrets.token_bytes(8))
    head[6] = (head[6] & 0x0F) | (BOUND_ID_VERSION << 4)
    return str(uuid.UUID(bytes=bytes(head) + _record_tag(user_id, bytes(head))))


def record_id_bound(record_id: str, user_id: int) -> bool:
    """Whether ``record_id`` was made by :func:`bound_record_id` for ``user_id``."""
    try:
        raw = uuid.UUID(record_id).bytes
    except (ValueError, TypeError, AttributeError):
        return False
    return hmac.compare_digest(raw[8:], _record_tag(user_id, raw[:8]))


@dataclass(frozen=True, slots=True)
class Author:
    """The verified sender of a batch, and the profile root her proof starts from."""

    user_id: int
    username: str
    role: str
    root_kid: str
    root_public: str


class AuthorError(Exception):
    """A batch's sender proof does not hold (``reason`` names how)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class AuthorKey:
    """The signed-in user's key and her proof (built on the device, once per sync)."""

    user_id: int
    kid: str
    key: ec.EllipticCurvePrivateKey
    chain: Mapping[str, Any]

    def block(
        self,
        *,
        device_id: str,
        batch_id: str,
        records: Sequence[Mapping[str, Any]],
        instructions: Sequence[Mapping[str, Any]],
    ) -> dict[str, Any]:
        """The payload's ``author`` member for one batch."""
        message = author_message(device_id, batch_id, records, instructions)
        return {
            "user_id": self.user_id,
            "kid": self.kid,
            "chain": dict(self.chain),
            "signature": sign(self.key, AUTHOR_DOMAIN, message),
        }


def _text(value: object, limit: int = 400) -> bool:
    return isinstance(value, str) and len(value) <= limit


def validate_block(block: object) -> None:
    """Check the shape of an ``author`` member (``BatchError("payload_invalid")``)."""

    def check(condition: bool) -> None:
        if not condition:
            raise BatchError("payload_invalid")

    check(isinstance(block, dict) and set(block) == {"user_id", "kid", "chain", "signature"})
    assert isinstance(block, dict)
    check(type(block["user_id"]) is int and _text(block["kid"]) and _text(block["signature"]))
    chain = block["chain"]
    check(isinstance(chain, dict) and set(chain) == {"root", "users", "keys"})
    root = chain["root"]
    check(isinstance(root, dict) and set(root) == {"kid", "public_key"})
    check(_text(root["kid"]) and _text(root["public_key"]))
    users, keys_ = chain["users"], chain["keys"]
    check(isinstance(users, list) and isinstance(keys_, list))
    check(0 < len(users) <= MAX_CHAIN and 0 < len(keys_) <= MAX_CHAIN)
    for row in users:
        check(isinstance(row, dict) and set(row) == {*_ROW_FIELDS, "signed_by", "signature"})
        check(type(row["id"]) is int and type(row["active"]) is bool)
        check(all(_text(row[name]) for name in ("username", "role", "signed_by", "signature")))
        check(all(row[n] is None or _text(row[n]) for n in ("username_key", "display_name")))
        check(row["key_id"] is None or _text(row["key_id"]))
    for key in keys_:
        check(
            isinstance(key, dict)
            and set(key) == {"kid", "user_id", "public_key", "certified_by", "signature"}
        )
        check(type(key["user_id"]) is int)
        check(all(_text(key[n]) for n in ("kid", "public_key", "certified_by", "signature")))


def verify_author(
    block: Mapping[str, Any],
    *,
    device_id: str,
    batch_id: str,
    records: Sequence[Mapping[str, Any]],
    instructions: Sequence[Mapping[str, Any]],
    pinned_root: tuple[str, str] | None,
) -> Author:
    """Check a sender proof as the device checks its users at sign-in.

    Starting from the root (which must be ``pinned_root`` where the office pinned one), an
    administrator's key counts once her signed row (role administrator, active) and her
    key certificate check; the sender's row must be signed by a key that counts and say
    active, her key must be the one her row names and be certified by a key that counts,
    and her signature must cover this device, this batch and exactly this content.

    Raises:
        AuthorError: ``author_root_changed`` (another root than the pinned one) or
            ``author_unverified`` (anything else that does not check).
    """
    chain = block["chain"]
    root_kid, root_public = chain["root"]["kid"], chain["root"]["public_key"]
    try:
        if key_id(root_public) != root_kid:
            raise AuthorError("author_unverified")
    except ValueError:
        raise AuthorError("author_unverified") from None
    if pinned_root is not None and (root_kid, root_public) != tuple(pinned_root):
        raise AuthorError("author_root_changed")
    certificates = {k["kid"]: k for k in chain["keys"]}

    def certified(kid: object, user_id: int, signers: Mapping[str, str]) -> str | None:
        cert = certificates.get(kid) if isinstance(kid, str) else None
        if cert is None or cert["user_id"] != user_id or cert["certified_by"] not in signers:
            return None
        try:
            if key_id(cert["public_key"]) != cert["kid"]:
                return None
        except ValueError:
            return None
        message = key_message(cert["kid"], user_id, cert["public_key"])
        ok = verify(signers[cert["certified_by"]], USER_KEY_DOMAIN, message, cert["signature"])
        return cert["public_key"] if ok else None

    def signed(row: Mapping[str, Any], signers: Mapping[str, str]) -> bool:
        public = signers.get(row["signed_by"])
        return public is not None and verify(
            public, USER_ROW_DOMAIN, row_message(row), row["signature"]
        )

    signers: dict[str, str] = {root_kid: root_public}
    admins = [r for r in chain["users"] if r["role"] == ADMIN and r["active"]]
    progress = True
    while progress:  # an administrator's key counts once her row and certificate check
        progress = False
        for row in list(admins):
            if row["key_id"] in signers or not signed(row, signers):
                continue
            public = certified(row["key_id"], row["id"], signers)
            if public is not None:
                signers[row["key_id"]] = public
                admins.remove(row)
                progress = True
    own = [r for r in chain["users"] if r["id"] == block["user_id"]]
    if len(own) != 1:
        raise AuthorError("author_unverified")
    row = own[0]
    if row["role"] not in ROLES or not row["active"] or row["key_id"] != block["kid"]:
        raise AuthorError("author_unverified")
    if not signed(row, signers):
        raise AuthorError("author_unverified")
    public = signers.get(block["kid"]) or certified(block["kid"], row["id"], signers)
    if public is None:
        raise AuthorError("author_unverified")
    message = author_message(device_id, batch_id, records, instructions)
    if not verify(public, AUTHOR_DOMAIN, message, block["signature"]):
        raise AuthorError("author_unverified")
    return Author(
        user_id=row["id"],
        username=row["username"],
        role=row["role"],
        root_kid=root_kid,
        root_public=root_public,
    )
