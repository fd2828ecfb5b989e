"""Key material of the sync format: HPKE recipient keys, ECDSA P-384 signing keys, key ids.

Two kinds of keys, both on BSI TR-02102-1's list:

* **Encryption (recipient) keys** for HPKE (RFC 9180) with the suite
  KEM ``MLKEM1024-P384`` (0x0051, the ML-KEM-1024 + ECDH P-384 hybrid of
  draft-ietf-hpke-pq), KDF ``HKDF-SHA384`` (0x0002), AEAD ``AES-256-GCM`` (0x0002).
  A public key is 1,665 bytes: the ML-KEM-1024 encapsulation key (1,568 bytes) followed
  by the uncompressed P-384 point (97 bytes). A private key is 112 bytes: the ML-KEM
  seed (64 bytes, ``d || z``) followed by the P-384 scalar (48 bytes, big-endian).
* **Signing keys**: ECDSA over P-384 with SHA-384. Signatures are 96 bytes, ``r || s``
  each 48 bytes big-endian (IEEE P1363 form), so they have a fixed size in the batch.

Every public key has a **key id**: the first 16 bytes of
``SHA-384("intake-key-id/1" || 0x0A || alg || 0x0A || public bytes)`` as 32 lower-case hex
digits, so keys can be rotated and named in headers and receipts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, hpke, serialization
from cryptography.hazmat.primitives.asymmetric import ec, mlkem
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

ENCRYPTION_ALG = "hpke-mlkem1024p384-hkdfsha384-aes256gcm"
SIGNING_ALG = "ecdsa-p384-sha384"

SUITE = hpke.Suite(hpke.KEM.MLKEM1024_P384, hpke.KDF.HKDF_SHA384, hpke.AEAD.AES_256_GCM)

MLKEM_PUBLIC_BYTES = 1568
MLKEM_SEED_BYTES = 64
P384_POINT_BYTES = 97
P384_SCALAR_BYTES = 48
ENCRYPTION_PUBLIC_BYTES = MLKEM_PUBLIC_BYTES + P384_POINT_BYTES
ENCRYPTION_PRIVATE_BYTES = MLKEM_SEED_BYTES + P384_SCALAR_BYTES
SIGNATURE_BYTES = 2 * P384_SCALAR_BYTES
KEY_ID_BYTES = 16


def b64(data: bytes) -> str:
    """Standard base64 with padding, as text."""
    return base64.b64encode(data).decode("ascii")


def unb64(text: object) -> bytes:
    """Decode strict base64 text (ValueError for anything else)."""
    if not isinstance(text, str):
        raise ValueError("expected base64 text")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError("invalid base64") from exc


def key_id(alg: str, public_bytes: bytes) -> str:
    """The id of a public key: 16 bytes of a domain-separated SHA-384, as hex."""
    digest = hashlib.sha384(b"intake-key-id/1\n" + alg.encode("ascii") + b"\n" + public_bytes)
    return digest.digest()[:KEY_ID_BYTES].hex()


def format_fingerprint(kid: str) -> str:
    """Show a key id in groups of four for reading aloud over the phone."""
    return " ".join(kid[i : i + 4] for i in range(0, len(kid), 4)).upper()


def is_key_id(value: object) -> bool:
    """True for a well-formed key id (32 lower-case hex digits)."""
    return (
        isinstance(value, str)
        and len(value) == 2 * KEY_ID_BYTES
        and all(ch in "0123456789abcdef" for ch in value)
    )


# -- encryption keys (HPKE recipients) ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class EncryptionPublicKey:
    """An HPKE MLKEM1024-P384 public key, kept as its 1,665 raw bytes."""

    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != ENCRYPTION_PUBLIC_BYTES:
            raise ValueError("an MLKEM1024-P384 public key has 1665 bytes")
        # Parse once so that a damaged key fails here and not in the middle of a sync.
        try:
            self.to_hpke()
        except Exception as exc:  # cryptography raises several types for a bad point
            raise ValueError("not a valid MLKEM1024-P384 public key") from exc

    @property
    def key_id(self) -> str:
        return key_id(ENCRYPTION_ALG, self.raw)

    def to_hpke(self) -> hpke.MLKEM1024P384PublicKey:
        """The key as cryptography's HPKE public key object."""
        pq = mlkem.MLKEM1024PublicKey.from_public_bytes(self.raw[:MLKEM_PUBLIC_BYTES])
        classic = ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP384R1(), self.raw[MLKEM_PUBLIC_BYTES:]
        )
        return hpke.MLKEM1024P384PublicKey(pq, classic)

    def to_json(self) -> dict[str, Any]:
        return {"kid": self.key_id, "alg": ENCRYPTION_ALG, "key": b64(self.raw)}

    @classmethod
    def from_json(cls, data: object) -> EncryptionPublicKey:
        """Read ``{"kid", "alg", "key"}``; the kid must match the key (ValueError if not)."""
        if not isinstance(data, dict) or data.get("alg") != ENCRYPTION_ALG:
            raise ValueError("not an encryption public key")
        key = cls(unb64(data.get("key")))
        if data.get("kid") != key.key_id:
            raise ValueError("key id does not match the key")
        return key


@dataclass(frozen=True, slots=True)
class EncryptionPrivateKey:
    """An HPKE MLKEM1024-P384 private key: ML-KEM seed (64 bytes) + P-384 scalar (48)."""

    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != ENCRYPTION_PRIVATE_BYTES:
            raise ValueError("an MLKEM1024-P384 private key has 112 bytes")

    @classmethod
    def generate(cls) -> EncryptionPrivateKey:
        pq = mlkem.MLKEM1024PrivateKey.generate()
        classic = ec.generate_private_key(ec.SECP384R1())
        scalar = classic.private_numbers().private_value.to_bytes(P384_SCALAR_BYTES, "big")
        return cls(pq.private_bytes_raw() + scalar)

    def _parts(self) -> tuple[mlkem.MLKEM1024PrivateKey, ec.EllipticCurvePrivateKey]:
        pq = mlkem.MLKEM1024PrivateKey.from_seed_bytes(self.raw[:MLKEM_SEED_BYTES])
        scalar = int.from_bytes(self.raw[MLKEM_SEED_BYTES:], "big")
        return pq, ec.derive_private_key(scalar, ec.SECP384R1())

    def to_hpke(self) -> hpke.MLKEM1024P384PrivateKey:
        pq, classic = self._parts()
        return hpke.MLKEM1024P384PrivateKey(pq, classic)

    def public_key(self) -> EncryptionPublicKey:
        pq, classic = self._parts()
        point = classic.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return EncryptionPublicKey(pq.public_key().public_bytes_raw() + point)

    @property
    def key_id(self) -> str:
        return self.public_key().key_id


# -- signing keys (ECDSA P-384) -----------------------------------------------------------


def generate_signing_key() -> ec.EllipticCurvePrivateKey:
    """A fresh ECDSA P-384 private key."""
    return ec.generate_private_key(ec.SECP384R1())


def signing_public_bytes(public: ec.EllipticCurvePublicKey) -> bytes:
    """The uncompressed P-384 point (97 bytes) that key ids are computed over."""
    return public.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def signing_key_id(public: ec.EllipticCurvePublicKey) -> str:
    """The key id of an ECDSA P-384 public key."""
    return key_id(SIGNING_ALG, signing_public_bytes(public))


def public_key_to_pem(public: ec.EllipticCurvePublicKey) -> str:
    """SubjectPublicKeyInfo PEM text."""
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def public_key_from_pem(pem: str | bytes) -> ec.EllipticCurvePublicKey:
    """Load a PEM public key and insist on P-384 (ValueError otherwise)."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except Exception as exc:  # cryptography raises several types for junk input
        raise ValueError("not a PEM public key") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP384R1):
        raise ValueError("not an ECDSA P-384 public key")
    return key


def private_key_to_pem(private: ec.EllipticCurvePrivateKey) -> bytes:
    """PKCS#8 PEM without a password: only ever stored inside an encrypted container."""
    return private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def private_key_from_pem(pem: bytes) -> ec.EllipticCurvePrivateKey:
    """Load a PKCS#8 PEM private key and insist on P-384 (ValueError otherwise)."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except Exception as exc:
        raise ValueError("not a PEM private key") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP384R1):
        raise ValueError("not an ECDSA P-384 private key")
    return key


def signing_private_to_bytes(private: ec.EllipticCurvePrivateKey) -> bytes:
    """The 48-byte big-endian scalar (what the office key file wraps)."""
    return private.private_numbers().private_value.to_bytes(P384_SCALAR_BYTES, "big")


def signing_private_from_bytes(raw: bytes) -> ec.EllipticCurvePrivateKey:
    if len(raw) != P384_SCALAR_BYTES:
        raise ValueError("a P-384 scalar has 48 bytes")
    return ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP384R1())


def signing_public_to_json(public: ec.EllipticCurvePublicKey) -> dict[str, Any]:
    return {"kid": signing_key_id(public), "alg": SIGNING_ALG, "pem": public_key_to_pem(public)}


def signing_public_from_json(data: object) -> ec.EllipticCurvePublicKey:
    """Read ``{"kid", "alg", "pem"}``; the kid must match the key (ValueError if not)."""
    if not isinstance(data, dict) or data.get("alg") != SIGNING_ALG:
        raise ValueError("not a signing public key")
    pem = data.get("pem")
    if not isinstance(pem, str):
        raise ValueError("missing PEM")
    key = public_key_from_pem(pem)
    if data.get("kid") != signing_key_id(key):
        raise ValueError("key id does not match the key")
    return key


def sign(private: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """ECDSA P-384 / SHA-384 signature over ``data`` as 96 bytes ``r || s``."""
    der = private.sign(data, ec.ECDSA(hashes.SHA384()))
    r, s = decode_dss_signature(der)
    return r.to_bytes(P384_SCALAR_BYTES, "big") + s.to_bytes(P384_SCALAR_BYTES, "big")


def verify(public: ec.EllipticCurvePublicKey, data: bytes, signature: bytes) -> bool:
    """True when ``signature`` (96 bytes ``r || s``) is valid for ``data``."""
    if len(signature) != SIGNATURE_BYTES:
        return False
    r = int.from_bytes(signature[:P384_SCALAR_BYTES], "big")
    s = int.from_bytes(signature[P384_SCALAR_BYTES:], "big")
    if r == 0 or s == 0:
        return False
    try:
        public.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA384()))
    except (InvalidSignature, ValueError):
        return False
    return True
