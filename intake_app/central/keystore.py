"""The office's key files, each wrapped under its own passphrase (own salt):

* ``root-key.json`` (:class:`RootKey`): the offline root key (ECDSA P-384). It signs key
  sets, published forms, enrolment files and the receiver's receipt-key certificate; it is
  unlocked only to set up, enrol, rotate and publish, and can live on removable media.
* ``keys.json`` (:class:`KeyStore`): the importer's keys: the HPKE decryption keys and the
  importer's receipt key. It also lists the public halves of the receiver receipt keys,
  the recovery key and the serial of the last key set.
* ``receiver-key.json`` (:class:`ReceiverKey`): the receiver's only secret, its online
  receipt key, with the root's certificate for it. It opens nothing.

See docs/security.md, "Central office: keys, receiver and importer".

The passphrase is stretched with Argon2id (RFC 9106 second recommended option, as in the
device vault) into a key-encryption key; each private key is wrapped with AES-256-GCM
under it, with the key's kind and id as associated data. ``cryptography``'s
``BestAvailableEncryption`` is not used because it does not say which KDF and cipher it
picks (BSI TR-02102-1 wants both named).

Every key has an id (:func:`intake_app.sync.keys.key_id`) and a status: ``current`` (used
for new batches or new signatures) or ``retained`` (kept after a rotation so that batches
sealed to it can still be opened and receipts signed with it still verify). Recovery keys
are listed by their public half only; the private half lives offline in its own file,
wrapped under a second passphrase.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from filelock import FileLock

from intake_app.atomic import atomic_write_bytes
from intake_app.errors import AuthError, ConflictError, ProfileError
from intake_app.i18n import _
from intake_app.kdf import RFC9106_MINIMUM, KdfParams
from intake_app.sync import keys
from intake_app.sync.errors import SignatureError
from intake_app.sync.identity import OfficeKeySet, build_key_set_document
from intake_app.sync.keys import EncryptionPrivateKey, EncryptionPublicKey, b64, unb64
from intake_app.sync.signed import read_document, sign_document

KEYS_FORMAT = "intake-central-keys"
RECOVERY_FORMAT = "intake-recovery-key"
ROOT_FORMAT = "intake-root-key"
RECEIVER_FORMAT = "intake-receiver-key"
CERTIFICATE_TYPE = "receipt-key-certificate"
KEYS_VERSION = 1
_CHECK = b"intake-central-keys check"


def derive_kek(passphrase: str, salt: bytes, params: KdfParams) -> bytes:
    """Argon2id(passphrase) -> 256-bit key-encryption key."""
    return Argon2id(
        salt=salt,
        length=32,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_kib,
    ).derive(passphrase.encode("utf-8"))


def wrap(kek: bytes, plaintext: bytes, aad: bytes) -> dict[str, str]:
    nonce = secrets.token_bytes(12)
    return {
        "alg": "A256GCM",
        "nonce": b64(nonce),
        "ciphertext": b64(AESGCM(kek).encrypt(nonce, plaintext, aad)),
    }


def unwrap(kek: bytes, wrapped: dict[str, str], aad: bytes) -> bytes:
    return AESGCM(kek).decrypt(unb64(wrapped["nonce"]), unb64(wrapped["ciphertext"]), aad)


def _aad(kind: str, kid: str) -> bytes:
    return f"{KEYS_FORMAT}|{KEYS_VERSION}|{kind}|{kid}".encode("ascii")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class OfficeKeys:
    """The unlocked office keys (only ``import``, ``serve`` and signing commands need them)."""

    encryption: dict[str, EncryptionPrivateKey]
    current_encryption_kid: str
    signing: dict[str, ec.EllipticCurvePrivateKey]
    current_signing_kid: str
    recovery: EncryptionPublicKey | None

    @property
    def signing_key(self) -> ec.EllipticCurvePrivateKey:
        """The signing key for new receipts, enrolment files and forms."""
        return self.signing[self.current_signing_kid]


class KeyStore:
    """``HOME/keys.json``: create, read public parts, unlock, rotate."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = FileLock(str(self.path) + ".lock", timeout=30)

    def exists(self) -> bool:
        return self.path.is_file()

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except FileNotFoundError:
            raise ProfileError(_("Im Zentralen-Ordner fehlt keys.json."), kind="missing") from None
        except (OSError, ValueError):
            raise ProfileError(_("keys.json ist beschädigt."), kind="corrupt") from None
        if not isinstance(data, dict) or data.get("format") != KEYS_FORMAT:
            raise ProfileError(_("keys.json ist beschädigt."), kind="corrupt")
        if data.get("version") != KEYS_VERSION:
            raise ProfileError(
                _("keys.json stammt von einer anderen Programmversion."), kind="newer"
            )
        return data

    def _write(self, data: dict[str, Any]) -> None:
        atomic_write_bytes(self.path, json.dumps(data, indent=1).encode("utf-8"))

    def _kek(self, data: dict[str, Any], passphrase: str) -> bytes:
        params = KdfParams.from_json(data["kdf"])
        kek = derive_kek(passphrase, unb64(data["kdf"]["salt"]), params)
        try:
            unwrap(kek, data["check"], _aad("check", "-"))
        except InvalidTag:
            raise AuthError(_("Die Passphrase der Zentrale ist falsch.")) from None
        return kek

    # -- creation and rotation ------------------------------------------------------------

    @classmethod
    def create(
        cls, path: Path, *, passphrase: str, params: KdfParams = RFC9106_MINIMUM
    ) -> tuple[KeyStore, OfficeKeys]:
        """Make the first encryption and signing key pair; refuses to overwrite."""
        store = cls(path)
        if store.exists():
            raise ConflictError(_("Hier gibt es schon Schlüssel der Zentrale."))
        salt = secrets.token_bytes(16)
        kek = derive_kek(passphrase, salt, params)
        data: dict[str, Any] = {
            "format": KEYS_FORMAT,
            "version": KEYS_VERSION,
            "kdf": {**params.to_json(), "salt": b64(salt)},
            "check": wrap(kek, _CHECK, _aad("check", "-")),
            "encryption_keys": [],
            "signing_keys": [],
            "recovery_keys": [],
            "receiver_keys": [],
            "key_set_serial": 0,
        }
        store._add_encryption(data, kek)
        store._add_signing(data, kek)
        with store._lock:
            store._write(data)
        return store, store._unlock_data(data, kek)

    def _add_encryption(self, data: dict[str, Any], kek: bytes) -> str:
        private = EncryptionPrivateKey.generate()
        kid = private.key_id
        for entry in data["encryption_keys"]:
            entry["status"] = "retained"
        data["encryption_keys"].append(
            {
                "kid": kid,
                "status": "current",
                "created": _now(),
                "public": b64(private.public_key().raw),
                "private": wrap(kek, private.raw, _aad("encryption", kid)),
            }
        )
        return kid

    def _add_signing(self, data: dict[str, Any], kek: bytes) -> str:
        private = keys.generate_signing_key()
        kid = keys.signing_key_id(private.public_key())
        for entry in data["signing_keys"]:
            entry["status"] = "retained"
        data["signing_keys"].append(
            {
                "kid": kid,
                "status": "current",
                "created": _now(),
                "public_pem": keys.public_key_to_pem(private.public_key()),
                "private": wrap(kek, keys.signing_private_to_bytes(private), _aad("signing", kid)),
            }
        )
        return kid

    def rotate(self, *, passphrase: str, encryption: bool, signing: bool) -> list[str]:
        """Make new current keys; the old ones stay (retained). Returns the new key ids."""
        with self._lock:
            data = self._read()
            kek = self._kek(data, passphrase)
            new = []
            if encryption:
                new.append(self._add_encryption(data, kek))
            if signing:
                new.append(self._add_signing(data, kek))
            self._write(data)
        return new

    def add_recovery_key(self, public: EncryptionPublicKey) -> None:
        """Seal future batches also to ``public`` (replaces an earlier recovery key)."""
        with self._lock:
            data = self._read()
            for entry in data["recovery_keys"]:
                entry["status"] = "retained"
            data["recovery_keys"].append(
                {
                    "kid": public.key_id,
                    "status": "current",
                    "created": _now(),
                    "public": b64(public.raw),
                }
            )
            self._write(data)

    def add_receiver_key(self, public: ec.EllipticCurvePublicKey) -> str:
        """List a receiver's receipt key (public half) for the next key set."""
        kid = keys.signing_key_id(public)
        with self._lock:
            data = self._read()
            data.setdefault("receiver_keys", []).append(
                {
                    "kid": kid,
                    "status": "current",
                    "created": _now(),
                    "public_pem": keys.public_key_to_pem(public),
                }
            )
            self._write(data)
        return kid

    def revoke_receipt_key(self, kid: str) -> None:
        """Leave a receipt key (receiver or importer) out of every later key set.

        Raises:
            ConflictError: no such key, or the importer's only current receipt key.
        """
        with self._lock:
            data = self._read()
            for entry in [*data.get("receiver_keys", []), *data["signing_keys"]]:
                if entry["kid"] == kid:
                    if entry in data["signing_keys"] and entry["status"] == "current":
                        raise ConflictError(
                            _(
                                "Der aktuelle Quittungsschlüssel des Imports kann nicht "
                                "gesperrt werden; erneuern Sie ihn zuerst mit »keys rotate "
                                "--signing«."
                            )
                        )
                    entry["status"] = "revoked"
                    self._write(data)
                    return
        raise ConflictError(_("Einen Schlüssel {kid} gibt es nicht.").format(kid=kid))

    def next_key_set(self, *, server_url: str | None = None) -> OfficeKeySet:
        """The public key set with the next serial number (counted in keys.json)."""
        with self._lock:
            data = self._read()
            data["key_set_serial"] = int(data.get("key_set_serial", 0)) + 1
            self._write(data)
        key_set = self.public_key_set()
        return OfficeKeySet(
            encryption_keys=key_set.encryption_keys,
            current_encryption_key_id=key_set.current_encryption_key_id,
            signing_keys=key_set.signing_keys,
            recovery_key=key_set.recovery_key,
            serial=key_set.serial,
            issued=_now(),
            server_url=server_url,
            importer_keys=key_set.importer_keys,
        )

    # -- reading ---------------------------------------------------------------------------

    def unlock(self, passphrase: str) -> OfficeKeys:
        """All private keys, unwrapped.

        Raises:
            AuthError: wrong passphrase.
        """
        data = self._read()
        return self._unlock_data(data, self._kek(data, passphrase))

    def _unlock_data(self, data: dict[str, Any], kek: bytes) -> OfficeKeys:
        encryption = {}
        current_enc = ""
        for entry in data["encryption_keys"]:
            if "private" not in entry:
                raise ProfileError(
                    _(
                        "Diese Schlüsseldatei gehört zu einem Empfangsserver und enthält keine "
                        "Entschlüsselungsschlüssel. Importieren Sie auf dem Rechner der Zentrale."
                    ),
                    kind="receiver_keys",
                )
            raw = unwrap(kek, entry["private"], _aad("encryption", entry["kid"]))
            encryption[entry["kid"]] = EncryptionPrivateKey(raw)
            if entry["status"] == "current":
                current_enc = entry["kid"]
        signing = {}
        current_sig = ""
        for entry in data["signing_keys"]:
            raw = unwrap(kek, entry["private"], _aad("signing", entry["kid"]))
            signing[entry["kid"]] = keys.signing_private_from_bytes(raw)
            if entry["status"] == "current":
                current_sig = entry["kid"]
        return OfficeKeys(
            encryption=encryption,
            current_encryption_kid=current_enc,
            signing=signing,
            current_signing_kid=current_sig,
            recovery=self._current_recovery(data),
        )

    @staticmethod
    def _current_recovery(data: dict[str, Any]) -> EncryptionPublicKey | None:
        for entry in data["recovery_keys"]:
            if entry["status"] == "current":
                return EncryptionPublicKey(unb64(entry["public"]))
        return None

    def public_key_set(self) -> OfficeKeySet:
        """The public half, as devices get it (no passphrase needed)."""
        data = self._read()
        encryption = {
            e["kid"]: EncryptionPublicKey(unb64(e["public"])) for e in data["encryption_keys"]
        }
        current = next(e["kid"] for e in data["encryption_keys"] if e["status"] == "current")
        signing = {
            e["kid"]: keys.public_key_from_pem(e["public_pem"])
            for e in [*data["signing_keys"], *data.get("receiver_keys", [])]
            if e["status"] != "revoked"
        }
        importer = frozenset(e["kid"] for e in data["signing_keys"] if e["status"] != "revoked")
        return OfficeKeySet(
            encryption_keys=encryption,
            current_encryption_key_id=current,
            signing_keys=signing,
            importer_keys=importer,
            recovery_key=self._current_recovery(data),
            serial=int(data.get("key_set_serial", 0)),
        )

    def describe(self) -> list[dict[str, str]]:
        """One line per key for ``keys list``: kind, id, status, created."""
        data = self._read()
        rows = []
        for kind, name in (
            ("encryption", "encryption_keys"),
            ("signing", "signing_keys"),
            ("receiver", "receiver_keys"),
            ("recovery", "recovery_keys"),
        ):
            for entry in data.get(name, []):
                rows.append(
                    {
                        "kind": kind,
                        "kid": entry["kid"],
                        "status": entry["status"],
                        "created": entry["created"],
                    }
                )
        return rows


# -- recovery key files (held offline) -----------------------------------------------------


def write_recovery_key(
    path: Path, *, passphrase: str, params: KdfParams = RFC9106_MINIMUM
) -> EncryptionPublicKey:
    """Create a recovery key pair; write the private half to ``path`` wrapped under
    ``passphrase`` and return the public half (to be added to the key store)."""
    if Path(path).exists():
        raise ConflictError(_("Die Datei {path} gibt es schon.").format(path=path))
    private = EncryptionPrivateKey.generate()
    salt = secrets.token_bytes(16)
    kek = derive_kek(passphrase, salt, params)
    public = private.public_key()
    data = {
        "format": RECOVERY_FORMAT,
        "version": KEYS_VERSION,
        "kid": public.key_id,
        "public": b64(public.raw),
        "kdf": {**params.to_json(), "salt": b64(salt)},
        "private": wrap(kek, private.raw, _aad("recovery", public.key_id)),
    }
    atomic_write_bytes(Path(path), json.dumps(data, indent=1).encode("utf-8"))
    return public


def read_recovery_key(path: Path, *, passphrase: str) -> EncryptionPrivateKey:
    """Unwrap an offline recovery key file.

    Raises:
        ProfileError: not a recovery key file. AuthError: wrong passphrase.
    """
    try:
        data = json.loads(Path(path).read_text("utf-8"))
        if data.get("format") != RECOVERY_FORMAT:
            raise ValueError("not a recovery key file")
        params = KdfParams.from_json(data["kdf"])
        salt = unb64(data["kdf"]["salt"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise ProfileError(
            _("{path} ist keine Wiederherstellungsschlüssel-Datei.").format(path=path),
            kind="corrupt",
        ) from None
    kek = derive_kek(passphrase, salt, params)
    try:
        raw = unwrap(kek, data["private"], _aad("recovery", data["kid"]))
    except InvalidTag:
        raise AuthError(_("Die Passphrase des Wiederherstellungsschlüssels ist falsch.")) from None
    return EncryptionPrivateKey(raw)


# -- the root key and the receiver's key ----------------------------------------------------


def _read_json_file(path: Path, fmt: str, what: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except FileNotFoundError:
        raise ProfileError(
            _("Die Datei {path} fehlt ({what}).").format(path=path, what=what), kind="missing"
        ) from None
    except (OSError, ValueError):
        raise ProfileError(
            _("Die Datei {path} ist beschädigt ({what}).").format(path=path, what=what),
            kind="corrupt",
        ) from None
    if not isinstance(data, dict) or data.get("format") != fmt:
        raise ProfileError(
            _("Die Datei {path} ist keine Datei der Art »{what}«.").format(path=path, what=what),
            kind="corrupt",
        )
    return data


def _write_new_key_file(path: Path, data: dict[str, Any]) -> None:
    target = Path(path)
    if target.exists():
        raise ConflictError(_("Die Datei {path} gibt es schon.").format(path=target))
    atomic_write_bytes(target, json.dumps(data, indent=1).encode("utf-8"))


def _wrap_signing_key(
    fmt: str, private: ec.EllipticCurvePrivateKey, passphrase: str, params: KdfParams
) -> dict[str, Any]:
    salt = secrets.token_bytes(16)
    kek = derive_kek(passphrase, salt, params)
    public = private.public_key()
    kid = keys.signing_key_id(public)
    return {
        "format": fmt,
        "version": KEYS_VERSION,
        "kid": kid,
        "created": _now(),
        "public_pem": keys.public_key_to_pem(public),
        "kdf": {**params.to_json(), "salt": b64(salt)},
        "private": wrap(kek, keys.signing_private_to_bytes(private), _aad(fmt, kid)),
    }


def _unwrap_signing_key(
    data: dict[str, Any], passphrase: str, fmt: str, wrong: str
) -> ec.EllipticCurvePrivateKey:
    try:
        params = KdfParams.from_json(data["kdf"])
        salt = unb64(data["kdf"]["salt"])
        kid = str(data["kid"])
    except (KeyError, TypeError, ValueError):
        raise ProfileError(
            _("Eine Schlüsseldatei der Zentrale ist beschädigt."), kind="corrupt"
        ) from None
    kek = derive_kek(passphrase, salt, params)
    try:
        raw = unwrap(kek, data["private"], _aad(fmt, kid))
    except InvalidTag:
        raise AuthError(wrong) from None
    return keys.signing_private_from_bytes(raw)


class RootKey:
    """``root-key.json``: the offline root key under its own passphrase."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def exists(self) -> bool:
        return self.path.is_file()

    @classmethod
    def create(
        cls, path: Path, *, passphrase: str, params: KdfParams = RFC9106_MINIMUM
    ) -> tuple[RootKey, ec.EllipticCurvePrivateKey]:
        private = keys.generate_signing_key()
        _write_new_key_file(path, _wrap_signing_key(ROOT_FORMAT, private, passphrase, params))
        return cls(path), private

    def public_key(self) -> ec.EllipticCurvePublicKey:
        data = _read_json_file(self.path, ROOT_FORMAT, _("Wurzelschlüssel"))
        return keys.public_key_from_pem(data["public_pem"])

    @property
    def kid(self) -> str:
        return keys.signing_key_id(self.public_key())

    def unlock(self, passphrase: str) -> ec.EllipticCurvePrivateKey:
        """The root's private key.

        Raises:
            AuthError: wrong passphrase.
        """
        data = _read_json_file(self.path, ROOT_FORMAT, _("Wurzelschlüssel"))
        return _unwrap_signing_key(
            data, passphrase, ROOT_FORMAT, _("Die Passphrase des Wurzelschlüssels ist falsch.")
        )


def build_certificate(
    public: ec.EllipticCurvePublicKey, *, role: str, root_key: ec.EllipticCurvePrivateKey
) -> bytes:
    """The root's certificate for a receipt key (kept in the receiver's key file)."""
    content = {
        "format": "intake-receipt-key-certificate",
        "version": 1,
        "role": role,
        "key": keys.signing_public_to_json(public),
        "issued": _now(),
    }
    return sign_document(CERTIFICATE_TYPE, content, private_key=root_key)


class ReceiverKey:
    """``receiver-key.json``: the receiver's receipt key under the receiver's passphrase."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def create(
        cls,
        path: Path,
        *,
        passphrase: str,
        root_key: ec.EllipticCurvePrivateKey,
        params: KdfParams = RFC9106_MINIMUM,
    ) -> tuple[ReceiverKey, ec.EllipticCurvePrivateKey]:
        private = keys.generate_signing_key()
        data = _wrap_signing_key(RECEIVER_FORMAT, private, passphrase, params)
        data["certificate"] = build_certificate(
            private.public_key(), role="receiver", root_key=root_key
        ).decode("utf-8")
        _write_new_key_file(path, data)
        return cls(path), private

    def unlock(self, passphrase: str) -> ec.EllipticCurvePrivateKey:
        """The receipt key, after checking the root's certificate for it.

        Raises:
            AuthError: wrong passphrase. ProfileError: no file, or no valid certificate.
        """
        data = _read_json_file(self.path, RECEIVER_FORMAT, _("Schlüssel des Empfangsservers"))
        private = _unwrap_signing_key(
            data,
            passphrase,
            RECEIVER_FORMAT,
            _("Die Passphrase des Empfangsservers ist falsch."),
        )
        try:
            document = read_document(
                str(data.get("certificate", "")).encode("utf-8"), doc_type=CERTIFICATE_TYPE
            )
            content = document.content()
            certified = keys.signing_public_from_json(content["key"])
        except (SignatureError, KeyError, ValueError, TypeError):
            certified = None
        if certified is None or keys.signing_key_id(certified) != keys.signing_key_id(
            private.public_key()
        ):
            raise ProfileError(
                _("Der Schlüssel des Empfangsservers hat kein gültiges Zertifikat."),
                kind="corrupt",
            )
        return private


def publish_key_set(
    store: KeyStore,
    *,
    root_key: ec.EllipticCurvePrivateKey,
    out: Path,
    server_url: str | None = None,
) -> OfficeKeySet:
    """Sign the next key set with the root and write it to ``out`` (``keyset.json``)."""
    key_set = store.next_key_set(server_url=server_url)
    atomic_write_bytes(Path(out), build_key_set_document(key_set, root_key=root_key))
    return key_set
