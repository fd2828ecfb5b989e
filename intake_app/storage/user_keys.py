"""Each user's own signing key (ECDSA P-384) and how it is wrapped.

A user's key pair signs her audit entries; an administrator's also signs the user rows
she makes (docs/security.md, "Device: integrity of roles and the audit log"). The
private key never lies in the clear: it is wrapped with AES-256-GCM under a key derived
(HKDF-SHA384) from the user's own secret, which only her password unwraps (see
:meth:`intake_app.storage.vault.Vault.unlock_user`). The wrapped bundle also names the
profile's root key id, so a profile whose whole signed state was replaced is noticed at
the next sign-in of any user (she did not bind that root).

This module knows nothing about the database. :func:`secret_of` turns the keys the vault
opened with her password into the secret her bundle is wrapped with; :func:`open_bundle`
turns that into her signing key. An administrator who issues a user a key (new user,
password reset) cannot wrap it so: she seals a *grant* to the user's public vault key
(:func:`grant_bytes`), and the user moves it into her own bundle at her next sign-in.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from intake_app.storage.vault import parse_recovery_key
from intake_app.sync.authors import ALG as ALG
from intake_app.sync.authors import USER_KEY_DOMAIN as USER_KEY_DOMAIN
from intake_app.sync.authors import USER_ROW_DOMAIN as USER_ROW_DOMAIN
from intake_app.sync.authors import canonical as canonical
from intake_app.sync.authors import key_id as key_id
from intake_app.sync.authors import load_public as load_public
from intake_app.sync.authors import public_bytes as public_bytes
from intake_app.sync.authors import public_text as public_text
from intake_app.sync.authors import sign as sign
from intake_app.sync.authors import verify as verify
from intake_app.sync.keys import b64 as _b64
from intake_app.sync.keys import unb64 as _unb64

#: the name of a signing-key grant sealed to a user in the vault
GRANT_NAME = "signing_key"
GRANT_FORMAT = "intake-signing-grant/1"
BUNDLE_FORMAT = "intake-user-key/1"
_WRAP_INFO = b"intake user signing key wrap v1"


class KeyBundleError(Exception):
    """A wrapped key bundle does not open with this secret (changed, or someone else's)."""


def generate_key() -> ec.EllipticCurvePrivateKey:
    """A fresh P-384 private key."""
    return ec.generate_private_key(ec.SECP384R1())


def _private_der(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load_private(der: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_der_private_key(der, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp384r1":
        raise KeyBundleError("not a P-384 key")
    return key


@dataclass(frozen=True, slots=True)
class SigningKeys:
    """A user's unwrapped keys: her signing key and the root she bound (and, for an
    administrator, the root's private key)."""

    signing_key: ec.EllipticCurvePrivateKey
    kid: str
    root_kid: str
    root_key: ec.EllipticCurvePrivateKey | None = None


def _wrap_key(secret: bytes, salt: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA384(), length=32, salt=salt, info=_WRAP_INFO).derive(secret)


def _aad(user_id: int) -> bytes:
    return f"{BUNDLE_FORMAT}|user:{user_id}".encode("ascii")


def seal_bundle(secret: bytes, *, user_id: int, keys: SigningKeys) -> str:
    """Wrap ``keys`` for the user with ``secret`` (her unwrapped key material)."""
    body = {
        "format": BUNDLE_FORMAT,
        "key": _b64(_private_der(keys.signing_key)),
        "root_kid": keys.root_kid,
        "root": _b64(_private_der(keys.root_key)) if keys.root_key is not None else None,
    }
    salt = secrets.token_bytes(16)
    nonce = secrets.token_bytes(12)
    ct = AESGCM(_wrap_key(secret, salt)).encrypt(nonce, canonical(body), _aad(user_id))
    return json.dumps(
        {"alg": "hkdf-sha384+A256GCM", "salt": _b64(salt), "nonce": _b64(nonce), "ct": _b64(ct)},
        sort_keys=True,
    )


def open_bundle(secret: bytes, blob: str, *, user_id: int) -> SigningKeys:
    """Her signing key (and bound root) from her unwrapped key material.

    Raises:
        KeyBundleError: the bundle does not open with ``secret`` or is damaged.
    """
    try:
        outer = json.loads(blob)
        key = _wrap_key(secret, _unb64(outer["salt"]))
        plain = AESGCM(key).decrypt(_unb64(outer["nonce"]), _unb64(outer["ct"]), _aad(user_id))
        body = json.loads(plain)
        if body.get("format") != BUNDLE_FORMAT:
            raise KeyBundleError("unknown bundle format")
        signing = _load_private(_unb64(body["key"]))
        root = _load_private(_unb64(body["root"])) if body.get("root") else None
        root_kid = str(body["root_kid"])
    except (InvalidTag, ValueError, KeyError, TypeError) as exc:
        raise KeyBundleError("bundle does not open") from exc
    return SigningKeys(signing_key=signing, kid=key_id(signing), root_kid=root_kid, root_key=root)


def seal_root_for_recovery(recovery_secret: bytes, root: ec.EllipticCurvePrivateKey) -> str:
    """Wrap the root key under the recovery key (the disaster path re-signs with it)."""
    salt = secrets.token_bytes(16)
    nonce = secrets.token_bytes(12)
    ct = AESGCM(_wrap_key(recovery_secret, salt)).encrypt(
        nonce, _private_der(root), b"intake-root-key/1|recovery"
    )
    return json.dumps({"salt": _b64(salt), "nonce": _b64(nonce), "ct": _b64(ct)}, sort_keys=True)


def open_root_for_recovery(recovery_secret: bytes, blob: str) -> ec.EllipticCurvePrivateKey:
    """The root key from its recovery wrap (KeyBundleError when it does not open)."""
    try:
        outer = json.loads(blob)
        key = _wrap_key(recovery_secret, _unb64(outer["salt"]))
        der = AESGCM(key).decrypt(
            _unb64(outer["nonce"]), _unb64(outer["ct"]), b"intake-root-key/1|recovery"
        )
    except (InvalidTag, ValueError, KeyError, TypeError) as exc:
        raise KeyBundleError("root wrap does not open") from exc
    return _load_private(der)


AUDIT_DOMAIN = "intake-audit-entry/1"
#: a user's vault (HPKE) public key, signed by her own signing key (docs/security.md)
VAULT_KEY_DOMAIN = "intake-vault-key/1"


def audit_message(seq: int, digest: str) -> bytes:
    """What an audit entry's signature covers: its sequence number and chain hash."""
    return f"{seq}|{digest}".encode("ascii")


@dataclass(frozen=True, slots=True)
class Signer:
    """The key that signs audit entries in a signed-in session."""

    kid: str
    key: ec.EllipticCurvePrivateKey

    def sign_entry(self, seq: int, digest: str) -> str:
        return sign(self.key, AUDIT_DOMAIN, audit_message(seq, digest))


def secret_of(vault_keys: Any) -> bytes:
    """The secret a user's bundle is wrapped with: her vault private key, which only her
    password (or nobody) opens (``storage.vault.UserKeys``)."""
    return bytes(vault_keys.private.raw)


def grant_bytes(key: ec.EllipticCurvePrivateKey, root: ec.EllipticCurvePrivateKey | None) -> bytes:
    """A signing key (and, for an administrator, the root key) to seal to a user."""
    return canonical(
        {
            "format": GRANT_FORMAT,
            "key": _b64(_private_der(key)),
            "root": _b64(_private_der(root)) if root is not None else None,
        }
    )


def read_grant(data: bytes) -> tuple[ec.EllipticCurvePrivateKey, ec.EllipticCurvePrivateKey | None]:
    """The keys in a grant (KeyBundleError when it is none). Whoever can write the vault can
    seal a grant: the caller checks the key against the signed state before using it."""
    try:
        body = json.loads(data)
        if body.get("format") != GRANT_FORMAT:
            raise KeyBundleError("not a grant")
        key = _load_private(_unb64(body["key"]))
        root = _load_private(_unb64(body["root"])) if body.get("root") else None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise KeyBundleError("grant unreadable") from exc
    return key, root


def recovery_secret(recovery_key: str) -> bytes:
    """A secret only the recovery key yields (it unwraps the profile's root key)."""
    return HKDF(
        algorithm=hashes.SHA384(), length=32, salt=None, info=b"intake recovery secret v1"
    ).derive(parse_recovery_key(recovery_key))
