"""The key vault: each user's password opens her own key pair; keys are sealed to it.

Version 2 (docs/security.md, "Device: keys and scopes"): every user has an HPKE key pair
(MLKEM1024-P384, HKDF-SHA384, AES-256-GCM, the suite of the batches). Her password,
stretched with Argon2id, wraps a small *bundle* with AES-256-GCM: her private key and any
further secrets of her own. Everything she may open is *sealed* with HPKE to her public
key and kept beside her entry: the profile key, and any named secret (for instance a
personal signing key). Sealing needs only the public key, so another user can grant her a
key without knowing her password, and a grant can be withdrawn by deleting it.

Entries written by version 1 (the password wraps the profile key directly) are still
read; they are upgraded to version 2 on the user's next sign-in, with the same
Argon2id result, so that sign-in costs no second stretching.

The database is encrypted (SQLCipher 4) with a random 256-bit key. That key is never
stored in the clear: for each user, the password is stretched with Argon2id (RFC 9106,
second recommended option: t=3, p=4, m=64 MiB, or stronger) into a key-encryption key,
which wraps the database key with AES-256-GCM. The Argon2id parameters and salt sit beside
each wrap. Changing a password re-wraps the key; the database is never re-encrypted.

A recovery key (32 random bytes, shown once as groups of base32 characters with a check
sum) wraps the same database key, so an administrator who forgot the password can still
open the profile.

The vault also keeps the log-in throttle (failures per user and the time of the next
allowed attempt) and the failed log-ins not yet written to the audit log: both are needed
before the database can be opened. User names are stored only as keyed hashes.

The file is JSON, written atomically (temporary file, fsync, rename) under a file lock so
that the program and the command line can share a profile.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from intake_app.atomic import atomic_write_bytes
from intake_app.errors import AuthError, ConflictError, ProfileError
from intake_app.i18n import _
from intake_app.kdf import RFC9106_MINIMUM, KdfParams
from intake_app.sync.keys import (
    ENCRYPTION_PRIVATE_BYTES,
    SUITE,
    EncryptionPrivateKey,
    EncryptionPublicKey,
)

log = logging.getLogger("intake.storage")

VAULT_FORMAT = "intake-vault"
VAULT_VERSION = 2
#: Profile layout 2: one record store per owner (docs/security.md, "Device: keys and
#: scopes"). Layout 1 is the single database every password opened.
LAYOUT = 2
KEY_BYTES = 32
RECOVERY_CHECK_BYTES = 2

#: Failures allowed before each further attempt has to wait.
FREE_ATTEMPTS = 5
#: First waiting time after FREE_ATTEMPTS failures; it doubles with every further failure.
BASE_DELAY_SECONDS = 5.0
MAX_DELAY_SECONDS = 15 * 60.0


def throttle_delay(failures: int) -> float:
    """Seconds to wait before the next attempt after ``failures`` failed log-ins in a row."""
    if failures < FREE_ATTEMPTS:
        return 0.0
    return min(BASE_DELAY_SECONDS * 2 ** (failures - FREE_ATTEMPTS), MAX_DELAY_SECONDS)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def _stored_bytes(value: object) -> bytes | None:
    """Bytes as the vault file or a bundle holds them (base64); None for anything else."""
    if not isinstance(value, str):
        return None
    try:
        return _unb64(value)
    except (ValueError, binascii.Error):
        return None


def _mac_matches(value: object, expected: Callable[[], bytes]) -> bool:
    """Whether the file's ``value`` is the MAC ``expected`` computes (only then computed)."""
    given = _stored_bytes(value)
    return given is not None and hmac.compare_digest(given, expected())


def bundle_bytes(keys: UserKeys, name: str) -> bytes | None:
    """Bytes her bundle (which only her password writes) holds under ``name``."""
    return _stored_bytes(keys.bundle.get(name))


def remembered_recovery(keys: UserKeys | None) -> bytes | None:
    """The recovery key's digest her bundle remembers (``recovery_seen``, written at her
    sign-in: storage/scope.py); None when it remembers none."""
    return bundle_bytes(keys, "recovery_seen") if keys is not None else None


def format_recovery_key(raw: bytes) -> str:
    """Show a recovery key as base32 in groups of five with a two-byte check sum."""
    check = hashlib.sha256(raw).digest()[:RECOVERY_CHECK_BYTES]
    text = base64.b32encode(raw + check).decode("ascii").rstrip("=")
    return "-".join(text[i : i + 5] for i in range(0, len(text), 5))


def parse_recovery_key(text: str) -> bytes:
    """Read a recovery key as typed (case, spaces and dashes do not matter).

    Raises:
        AuthError: the text is not a recovery key or has a typing error.
    """
    cleaned = "".join(ch for ch in text.upper() if ch.isalnum())
    cleaned = cleaned.replace("0", "O").replace("1", "I").replace("8", "B")
    padded = cleaned + "=" * (-len(cleaned) % 8)
    try:
        data = base64.b32decode(padded)
    except (binascii.Error, ValueError):
        raise AuthError(_("Das ist kein gültiger Wiederherstellungsschlüssel.")) from None
    raw, check = data[:KEY_BYTES], data[KEY_BYTES:]
    if len(raw) != KEY_BYTES or check != hashlib.sha256(raw).digest()[:RECOVERY_CHECK_BYTES]:
        raise AuthError(
            _("Der Wiederherstellungsschlüssel enthält einen Tippfehler. Bitte prüfen Sie ihn.")
        )
    return raw


def _kdf(password: str, salt: bytes, params: KdfParams) -> bytes:
    return Argon2id(
        salt=salt,
        length=KEY_BYTES,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_kib,
    ).derive(password.encode("utf-8"))


def _recovery_kek(raw: bytes, salt: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA384(), length=KEY_BYTES, salt=salt, info=b"intake recovery wrap v1"
    ).derive(raw)


@dataclass(frozen=True, slots=True)
class UserKeys:
    """A signed-in user's keys, opened from her vault entry (kept in memory only).

    Attributes:
        ref: her keyed name hash in the vault.
        profile_key: the key of the profile database.
        private: her HPKE private key.
        sealed: further named secrets sealed to her (``seal_for_user``), opened.
        bundle: further named values inside her password-wrapped bundle.
        kek: the key her password gave, kept for this sign-in so that she can write
            values into her bundle (:meth:`Vault.put_bundle_values`); None for recovery.
    """

    ref: str
    profile_key: bytes
    private: EncryptionPrivateKey | None
    sealed: dict[str, bytes]
    bundle: dict[str, Any]
    kek: bytes | None = field(default=None, repr=False)

    def secret(self, name: str) -> bytes | None:
        """A named secret sealed to her, or None."""
        return self.sealed.get(name)

    def site_private(self) -> EncryptionPrivateKey | None:
        """The site key, when it was granted to her (supervisors, recovery)."""
        raw = self.sealed.get("site")
        return EncryptionPrivateKey(raw[:ENCRYPTION_PRIVATE_BYTES]) if raw is not None else None

    def site_recovery_digest(self) -> bytes | None:
        """The SHA-256 of the recovery key's public key that came sealed with the site key
        (docs/security.md, "The site public key"); None for a seal from before."""
        raw = self.sealed.get("site")
        if raw is None or len(raw) != ENCRYPTION_PRIVATE_BYTES + 32:
            return None
        return raw[ENCRYPTION_PRIVATE_BYTES:]


@dataclass(frozen=True, slots=True)
class StoreInfo:
    """A record store as the vault lists it."""

    store_id: str
    owner_id: int
    rekey: bool


def _damaged() -> ProfileError:
    return ProfileError(
        _(
            "Ihr Eintrag im Schlüsseltresor (vault.json) wurde verändert oder ist beschädigt. "
            "Es wurde nichts geändert. Stellen Sie vault.json aus einer Sicherung wieder her "
            "oder lassen Sie Ihr Passwort von der Administration neu setzen."
        ),
        kind="corrupt",
    )


@dataclass(slots=True)
class PendingEvent:
    """A security event that happened while the database was closed (a failed log-in)."""

    ts: float
    action: str
    user_ref: str


class Vault:
    """The wrapped database key for every user, plus the log-in throttle.

    Args:
        path: the vault file inside the profile folder.
        clock: seconds since the epoch; tests pass a fake clock for the throttle.
    """

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        # Deferred: filelock loads asyncio; the log-in window needs no vault object, the
        # sign-in does (docs/architecture.md, "Start-up").
        from filelock import FileLock

        self.path = path
        self._lock = FileLock(str(path) + ".lock", timeout=30)
        self._clock = clock
        self._cache: tuple[tuple[int, int, int], dict[str, Any]] | None = None
        #: the site public key this session seals new stores to, set by a holder of the
        #: site key from the private key she opened (never from the file); see
        #: :meth:`trust_site_public`
        self._trusted_site: bytes | None = None
        #: the public half of the site key this session made (a rotation)
        self._rotated_site: bytes | None = None
        #: stores whose pinned site key differs from the file's (a counsellor sealed to
        #: the pinned one); read and reported by storage/scope.py
        self.site_key_mismatch: set[str] = set()

    # -- file handling -----------------------------------------------------------------

    def exists(self) -> bool:
        return self.path.is_file()

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except FileNotFoundError:
            raise ProfileError(
                _("Im Profilordner fehlt der Schlüsseltresor (vault.json)."), kind="missing"
            ) from None
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            log.error("vault unreadable: %s", type(exc).__name__)
            raise ProfileError(
                _("Der Schlüsseltresor ist beschädigt. Stellen Sie eine Sicherung wieder her."),
                kind="corrupt",
            ) from None
        if data.get("format") != VAULT_FORMAT:
            raise ProfileError(_("Die Datei vault.json ist kein Schlüsseltresor."), kind="corrupt")
        if int(data.get("version", 0)) > VAULT_VERSION:
            raise ProfileError(
                _(
                    "Das Profil stammt von einer neueren Programmversion. "
                    "Bitte aktualisieren Sie Intake."
                ),
                kind="newer",
            )
        return data

    def file_signature(self) -> tuple[int, int, int] | None:
        """The file's (time, size, inode): every write replaces it, so a change shows."""
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _snapshot(self) -> dict[str, Any]:
        """The vault for a query that only looks: parsed again only when the file changed
        (every write replaces the file, so its inode, size or time differ). Callers must
        not change what they get."""
        try:
            st = self.path.stat()
        except OSError:
            return self._read()  # raises the missing-vault message
        signature = (st.st_mtime_ns, st.st_size, st.st_ino)
        if self._cache is None or self._cache[0] != signature:
            self._cache = (signature, self._read())
        return self._cache[1]

    def _write(self, data: dict[str, Any]) -> None:
        payload = json.dumps(data, indent=2, sort_keys=True).encode("utf-8")
        atomic_write_bytes(self.path, payload)

    @contextmanager
    def _update(self) -> Iterator[dict[str, Any]]:
        with self._lock:
            data = self._read()
            yield data
            self._write(data)

    # -- creation ----------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: Path,
        *,
        db_key: bytes,
        username: str,
        password: str,
        params: KdfParams = RFC9106_MINIMUM,
        clock: Callable[[], float] = time.time,
    ) -> tuple[Vault, str]:
        """Create a vault for a new profile; return it and the formatted recovery key.

        The recovery key is returned exactly once and not kept anywhere in the clear.
        """
        if path.exists():
            raise ProfileError(_("Hier gibt es schon einen Schlüsseltresor."), kind="exists")
        vault = cls(path, clock=clock)
        recovery_raw = secrets.token_bytes(KEY_BYTES)
        data: dict[str, Any] = {
            "format": VAULT_FORMAT,
            "version": VAULT_VERSION,
            "vault_id": str(uuid.uuid4()),
            "lookup_salt": _b64(secrets.token_bytes(16)),
            "entries": {},
            "users": {},
            "throttle": {},
            "pending_events": [],
        }
        data["key_check"] = _b64(key_check(data, db_key))
        data["layout"] = LAYOUT
        site = EncryptionPrivateKey.generate()
        # no grant yet: the site key goes to a supervisor only by a signed grant
        # (docs/security.md, "Site key grants")
        data["site"] = {"public": _b64(site.public_key().raw), "grants": {}}
        data["stores"] = {}
        data["recovery"] = vault._new_recovery(data, recovery_raw, db_key, site)
        ref = vault._ref(data, username)
        vault._put_user(data, ref, password, db_key, params, provisional=False)
        with vault._lock:
            vault._write(data)
        return vault, format_recovery_key(recovery_raw)

    # -- wrapping ----------------------------------------------------------------------

    @staticmethod
    def _ref(data: dict[str, Any], username: str) -> str:
        salt = _unb64(data["lookup_salt"])
        return hmac.new(salt, username.strip().casefold().encode("utf-8"), "sha256").hexdigest()

    @staticmethod
    def _aad(data: dict[str, Any], ref: str) -> bytes:
        # Version 1's binding; kept for its entries and for the recovery wrap.
        return f"{VAULT_FORMAT}|1|{data['vault_id']}|{ref}".encode("ascii")

    @staticmethod
    def _bundle_aad(data: dict[str, Any], ref: str) -> bytes:
        return f"{VAULT_FORMAT}|bundle|{data['vault_id']}|{ref}".encode("ascii")

    @staticmethod
    def _seal_info(data: dict[str, Any], ref: str, name: str) -> bytes:
        return f"{VAULT_FORMAT}|sealed|{data['vault_id']}|{ref}|{name}".encode()

    def _seal(self, data: dict[str, Any], ref: str, name: str, secret: bytes) -> str:
        """Seal ``secret`` with HPKE to the public key of the user ``ref`` (or recovery)."""
        holder = data["recovery"] if ref == "recovery" else data["users"][ref]
        public = EncryptionPublicKey(_unb64(holder["public"]))
        return _b64(SUITE.encrypt(secret, public.to_hpke(), info=self._seal_info(data, ref, name)))

    def _new_recovery(
        self, data: dict[str, Any], raw: bytes, profile_key: bytes, site: EncryptionPrivateKey
    ) -> dict[str, Any]:
        """The recovery key's entry: its raw key wraps a key pair that opens everything."""
        private = EncryptionPrivateKey.generate()
        salt = secrets.token_bytes(16)
        nonce = secrets.token_bytes(12)
        wrapped = AESGCM(_recovery_kek(raw, salt)).encrypt(
            nonce, private.raw, self._aad(data, "recovery")
        )
        data["recovery"] = {
            "kdf": {"alg": "hkdf-sha384", "salt": _b64(salt)},
            "wrap": {"alg": "A256GCM", "nonce": _b64(nonce), "ciphertext": _b64(wrapped)},
            "public": _b64(private.public_key().raw),
            "sealed": {},
        }
        data["recovery"]["sealed"]["profile"] = self._seal(data, "recovery", "profile", profile_key)
        data["recovery"]["sealed"]["site"] = self._seal(
            data, "recovery", "site", self._site_payload(data, site.raw)
        )
        data["recovery"]["mac"] = _b64(self._recovery_mac(data, site))
        return data["recovery"]

    def _new_user_entry(
        self,
        data: dict[str, Any],
        ref: str,
        *,
        kek: bytes,
        kdf: dict[str, Any],
        private: EncryptionPrivateKey,
        provisional: bool,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A version-2 entry: the password (``kek``) wraps the bundle with the private key.

        ``extra``: further bundle values; by default ``stores_named``, which says that her
        entry names her own stores, so that one without ``own_stores`` is not taken for
        an entry from before (docs/security.md, "Her own stores")."""
        return {
            "kdf": kdf,
            "bundle": self._wrap_bundle(
                data, ref, kek, private, {"stores_named": True} if extra is None else extra
            ),
            "public": _b64(private.public_key().raw),
            "provisional": provisional,
            "sealed": {},
            # her own stores, named under her key (own_store_named); empty for a new key
            # pair, absent only in an entry from before (docs/security.md, "Her own stores")
            "own_stores": {},
            "updated": self._clock(),
        }

    def _wrap_password(
        self, data: dict[str, Any], ref: str, password: str, db_key: bytes, params: KdfParams
    ) -> dict[str, Any]:
        salt = secrets.token_bytes(16)
        kek = _kdf(password, salt, params)
        nonce = secrets.token_bytes(12)
        wrapped = AESGCM(kek).encrypt(nonce, db_key, self._aad(data, ref))
        now = self._clock()
        return {
            "kdf": {**params.to_json(), "salt": _b64(salt)},
            "wrap": {"alg": "A256GCM", "nonce": _b64(nonce), "ciphertext": _b64(wrapped)},
            "updated": now,
        }

    def _wrap_recovery(self, data: dict[str, Any], raw: bytes, db_key: bytes) -> dict[str, Any]:
        salt = secrets.token_bytes(16)
        nonce = secrets.token_bytes(12)
        wrapped = AESGCM(_recovery_kek(raw, salt)).encrypt(
            nonce, db_key, self._aad(data, "recovery")
        )
        return {
            "kdf": {"alg": "hkdf-sha384", "salt": _b64(salt)},
            "wrap": {"alg": "A256GCM", "nonce": _b64(nonce), "ciphertext": _b64(wrapped)},
        }

    @staticmethod
    def _unwrap(entry: dict[str, Any], kek: bytes, aad: bytes) -> bytes:
        wrap = entry["wrap"]
        return AESGCM(kek).decrypt(_unb64(wrap["nonce"]), _unb64(wrap["ciphertext"]), aad)

    # -- queries -----------------------------------------------------------------------

    def has_user(self, username: str) -> bool:
        data = self._snapshot()
        ref = self._ref(data, username)
        return ref in data["entries"] or ref in data.get("users", {})

    def kdf_params(self, username: str) -> KdfParams:
        data = self._snapshot()
        ref = self._ref(data, username)
        entry = data.get("users", {}).get(ref) or data["entries"][ref]
        return KdfParams.from_json(entry["kdf"])

    def user_ref(self, username: str) -> str:
        """The keyed hash that stands for ``username`` in this vault."""
        return self._ref(self._snapshot(), username)

    def seconds_until_allowed(self, username: str) -> float:
        """How long ``username`` has to wait before the next log-in attempt."""
        data = self._snapshot()
        state = data["throttle"].get(self._ref(data, username))
        if not state:
            return 0.0
        return max(0.0, float(state["not_before"]) - self._clock())

    # -- unlocking ---------------------------------------------------------------------

    def unlock(self, username: str, password: str) -> bytes:
        """Return the profile key for a correct user name and password.

        Raises:
            AuthError: wrong name or password (the same message for both), or the
                throttle asks the user to wait (``retry_after`` says how long).
            ProfileError: the user's entry in the vault was damaged or changed.
        """
        return self.unlock_user(username, password).profile_key

    def unlock_user(self, username: str, password: str) -> UserKeys:
        """Open a user's keys with her password (see :meth:`unlock` for the errors).

        An entry still in version 1's form is upgraded to a key pair on the way.
        """
        with self._lock:
            data = self._read()
            ref = self._ref(data, username)
            now = self._clock()
            state = data["throttle"].get(ref)
            if state and float(state["not_before"]) > now:
                wait = float(state["not_before"]) - now
                data["pending_events"].append(
                    {"ts": now, "action": "login_throttled", "user_ref": ref}
                )
                self._write(data)
                raise AuthError(
                    _("Zu viele Fehlversuche. Bitte warten Sie noch {s} Sekunden.").format(
                        s=int(wait + 0.999)
                    ),
                    retry_after=wait,
                )
            entry = data.get("users", {}).get(ref) or data["entries"].get(ref)
            keys: UserKeys | None = None
            upgraded = False
            if entry is not None:
                try:
                    params = KdfParams.from_json(entry["kdf"])
                    kek = _kdf(password, _unb64(entry["kdf"]["salt"]), params)
                except (KeyError, TypeError, ValueError, binascii.Error):
                    raise _damaged() from None
                if "bundle" in entry:
                    keys = self._open_entry(data, ref, entry, kek)
                else:
                    try:
                        key = self._unwrap(entry, kek, self._aad(data, ref))
                    except InvalidTag:
                        key = None
                    except (KeyError, TypeError, ValueError, binascii.Error):
                        raise _damaged() from None
                    if key is not None:
                        keys = self._upgrade_entry(data, ref, entry, kek, key)
                        upgraded = True
            else:
                # Spend the same time on an unknown name, so timing does not reveal users.
                _kdf(password, b"\0" * 16, RFC9106_MINIMUM)
            if keys is None:
                failures = int(state["failures"]) + 1 if state else 1
                data["throttle"][ref] = {
                    "failures": failures,
                    "last": now,
                    "not_before": now + throttle_delay(failures),
                }
                data["pending_events"].append(
                    {"ts": now, "action": "login_failed", "user_ref": ref}
                )
                self._write(data)
                message = _("Benutzername oder Passwort ist falsch.")
                delay = throttle_delay(failures)
                if delay:
                    message += " " + _("Nächster Versuch in {s} Sekunden.").format(s=int(delay))
                raise AuthError(message, retry_after=delay, kind="wrong")
            if state or upgraded:
                data["throttle"].pop(ref, None)
                self._write(data)
            return keys

    def _open_entry(
        self, data: dict[str, Any], ref: str, entry: dict[str, Any], kek: bytes
    ) -> UserKeys | None:
        """The keys of a version-2 entry; None for a wrong password."""
        try:
            plain = self._unwrap_bundle(data, ref, entry["bundle"], kek)
        except InvalidTag:
            return None
        except (KeyError, TypeError, ValueError, binascii.Error):
            raise _damaged() from None
        try:
            bundle = json.loads(plain)
            private = EncryptionPrivateKey(_unb64(bundle["private"]))
            if private.public_key().raw != _unb64(entry["public"]):
                raise ValueError("public key does not match")
            opened: dict[str, bytes] = {}
            for name, sealed in entry.get("sealed", {}).items():
                opened[name] = SUITE.decrypt(
                    _unb64(sealed), private.to_hpke(), info=self._seal_info(data, ref, name)
                )
            profile_key = opened.pop("profile")
        except Exception:  # any failure here means the entry was changed
            log.error("a vault entry opened with the right password but does not check")
            raise _damaged() from None
        extra = {k: v for k, v in bundle.items() if k != "private"}
        return UserKeys(
            ref=ref, profile_key=profile_key, private=private, sealed=opened, bundle=extra, kek=kek
        )

    def _upgrade_entry(
        self, data: dict[str, Any], ref: str, entry: dict[str, Any], kek: bytes, key: bytes
    ) -> UserKeys:
        """Turn a version-1 entry into a key pair and a sealed profile key (same kek).

        In layout 2, ``key`` is the old database key: it opens only the user's legacy
        grant (docs/security.md), whose keys are then sealed to her new key pair.
        """
        grant: dict[str, bytes] = {"profile": key}
        if int(data.get("layout", 1)) >= LAYOUT:
            legacy = data.get("legacy", {}).get(ref)
            if legacy is None:
                raise AuthError(
                    _(
                        "Ihr Konto wurde bei der Umstellung nicht übernommen. Bitte lassen "
                        "Sie Ihr Passwort von der Administration neu setzen."
                    )
                )
            try:
                plain = AESGCM(self._legacy_key(data, key, ref)).decrypt(
                    _unb64(legacy["nonce"]),
                    _unb64(legacy["ciphertext"]),
                    self._aad(data, "legacy:" + ref),
                )
                grant = {k: _unb64(v) for k, v in json.loads(plain).items()}
            except Exception:  # a legacy grant that does not open was changed
                raise _damaged() from None
        private = EncryptionPrivateKey.generate()
        data.setdefault("users", {})[ref] = self._new_user_entry(
            data, ref, kek=kek, kdf=entry["kdf"], private=private, provisional=False, extra={}
        )
        # the stores of her legacy grant are hers: named at her first sign-in that opens
        # them, which then writes stores_named into her bundle
        data["users"][ref].pop("own_stores")
        for name, secret in grant.items():
            data["users"][ref]["sealed"][name] = self._seal(data, ref, name, secret)
        data["entries"].pop(ref, None)
        data.get("legacy", {}).pop(ref, None)
        log.info("a vault entry was upgraded to a key pair")
        profile_key = grant.pop("profile")
        return UserKeys(
            ref=ref, profile_key=profile_key, private=private, sealed=grant, bundle={}, kek=kek
        )

    def check_password(self, username: str, password: str) -> bool:
        """True when ``password`` unlocks ``username`` (throttled like a log-in)."""
        try:
            self.unlock(username, password)
        except AuthError:
            return False
        return True

    def unlock_with_recovery(self, recovery_key: str) -> bytes:
        """Return the profile key for a correct recovery key (throttled like a user)."""
        return self.unlock_recovery(recovery_key).profile_key

    def unlock_recovery(self, recovery_key: str) -> UserKeys:
        """Open the recovery key's keys: the profile key and the site key (everything)."""
        raw = parse_recovery_key(recovery_key)
        with self._lock:
            data = self._read()
            now = self._clock()
            state = data["throttle"].get("recovery")
            if state and float(state["not_before"]) > now:
                wait = float(state["not_before"]) - now
                raise AuthError(
                    _("Zu viele Fehlversuche. Bitte warten Sie noch {s} Sekunden.").format(
                        s=int(wait + 0.999)
                    ),
                    retry_after=wait,
                )
            entry = data["recovery"]
            try:
                kek = _recovery_kek(raw, _unb64(entry["kdf"]["salt"]))
                opened = self._unwrap(entry, kek, self._aad(data, "recovery"))
            except InvalidTag:
                failures = int(state["failures"]) + 1 if state else 1
                data["throttle"]["recovery"] = {
                    "failures": failures,
                    "last": now,
                    "not_before": now + throttle_delay(failures),
                }
                data["pending_events"].append(
                    {"ts": now, "action": "login_failed", "user_ref": "recovery"}
                )
                self._write(data)
                raise AuthError(
                    _("Der Wiederherstellungsschlüssel passt nicht zu diesem Profil.")
                ) from None
            except (KeyError, TypeError, ValueError, binascii.Error):
                raise _damaged() from None
            data["throttle"].pop("recovery", None)
            self._write(data)
        if "public" not in entry:  # layout 1: the recovery key wraps the one key
            return UserKeys(ref="recovery", profile_key=opened, private=None, sealed={}, bundle={})
        try:
            private = EncryptionPrivateKey(opened)
            sealed = {
                name: SUITE.decrypt(
                    _unb64(value), private.to_hpke(), info=self._seal_info(data, "recovery", name)
                )
                for name, value in entry["sealed"].items()
            }
            profile_key = sealed.pop("profile")
        except Exception:  # any failure here means the entry was changed
            raise _damaged() from None
        return UserKeys(
            ref="recovery", profile_key=profile_key, private=private, sealed=sealed, bundle={}
        )

    # -- the site key and the record stores (layout 2) --------------------------------

    def layout(self) -> int:
        """1: one database for everything; 2: one record store per owner."""
        return int(self._snapshot().get("layout", 1))

    @staticmethod
    def _store_info(data: dict[str, Any], store_id: str) -> bytes:
        return f"{VAULT_FORMAT}|store|{data['vault_id']}|{store_id}".encode("ascii")

    def site_public(self) -> EncryptionPublicKey:
        return EncryptionPublicKey(_unb64(self._snapshot()["site"]["public"]))

    def stores(self) -> dict[str, StoreInfo]:
        """Every record store by id: its owner and whether it must get a new key."""
        return {
            sid: StoreInfo(sid, int(entry["owner"]), bool(entry.get("rekey")))
            for sid, entry in self._snapshot().get("stores", {}).items()
        }

    def add_store(
        self,
        store_id: str,
        *,
        owner_id: int,
        owner: str | None,
        key: bytes,
        rekey: bool = False,
        site_public: bytes | None = None,
    ) -> None:
        """Register a store: its key sealed to the site key and to its owner (if given).

        ``site_public``: the site public key pinned inside the new store
        (:meth:`site_public_for_new_store`), which the key is sealed to."""
        with self._update() as data:
            self._put_store(
                data,
                store_id,
                owner_id=owner_id,
                owner=owner,
                key=key,
                rekey=rekey,
                site_public=site_public,
            )

    def _put_store(
        self,
        data: dict[str, Any],
        store_id: str,
        *,
        owner_id: int,
        owner: str | None,
        key: bytes,
        rekey: bool = False,
        previous: bytes | None = None,
        site_public: bytes | None = None,
    ) -> bytes:
        before = data.setdefault("stores", {}).get(store_id)
        site_raw = self._site_public_to_seal(data, store_id, before, previous, site_public)
        site = EncryptionPublicKey(site_raw)
        data["stores"][store_id] = {
            "owner": owner_id,
            "site": _b64(SUITE.encrypt(key, site.to_hpke(), info=self._store_info(data, store_id))),
            "rekey": rekey,
            "site_pin": {
                "public": _b64(site_raw),
                "mac": _b64(self._site_pin_mac(data, store_id, site_raw, key)),
            },
        }
        # the owner is a fact made with the store's key (docs/security.md, "Store owners"):
        # written when the caller names the owner, or carried over when the old key
        # confirmed the same owner; never taken from the plain ``owner`` field alone
        carried = (
            before is not None
            and previous is not None
            and int(before.get("owner", -1)) == owner_id
            and self._owner_mac_ok(data, store_id, before, previous)
        )
        # the owner's vault key the confirmation names (docs/security.md, "Password reset"):
        # the one she has now when the caller names her, else the one confirmed before
        owner_key: str | None = None
        if owner is not None:
            owner_key = self._public_digest(data, self._ref(data, owner))
        elif carried and before is not None and isinstance(before.get("owner_key"), str):
            owner_key = before["owner_key"]
        if owner is not None or carried:
            if owner_key is not None:
                data["stores"][store_id]["owner_key"] = owner_key
            data["stores"][store_id]["owner_mac"] = _b64(
                self._owner_mac(data, store_id, owner_id, key, owner_key)
            )
        # her signature names the store's identity, which a re-key keeps (storage/owners.py)
        if before is not None and int(before.get("owner", -1)) == owner_id:
            if isinstance(before.get("owner_sig"), dict):
                data["stores"][store_id]["owner_sig"] = before["owner_sig"]
        name = f"store:{store_id}"
        for user in data.get("users", {}).values():
            user["sealed"].pop(name, None)
        if owner is not None:
            ref = self._ref(data, owner)
            if ref in data.get("users", {}):
                data["users"][ref]["sealed"][name] = self._seal(data, ref, name, key)
        return site_raw

    def set_store_key(
        self,
        store_id: str,
        *,
        key: bytes,
        owner: str | None,
        previous: bytes | None = None,
        site_public: bytes | None = None,
    ) -> bytes:
        """Seal a store's new key to the site and the owner; older seals go.

        Written *before* the file is re-keyed, with ``previous`` (the key the file still
        has): until :meth:`clear_previous` the old key stays sealed beside the new one, so
        a crash between this and the re-key loses nothing.
        """
        with self._update() as data:
            owner_id = int(data["stores"][store_id]["owner"])
            used = self._put_store(
                data,
                store_id,
                owner_id=owner_id,
                owner=owner,
                key=key,
                previous=previous or key,
                site_public=site_public,
            )
            if previous is not None:
                data["stores"][store_id]["rekey_vouch"] = _b64(
                    self._rekey_vouch_mac(data, store_id, previous, key)
                )
                site = EncryptionPublicKey(_unb64(data["stores"][store_id]["site_pin"]["public"]))
                data["stores"][store_id]["previous"] = _b64(
                    SUITE.encrypt(
                        previous, site.to_hpke(), info=self._store_info(data, store_id) + b"|prev"
                    )
                )
                if owner is not None:
                    ref = self._ref(data, owner)
                    name = f"store-previous:{store_id}"
                    if ref in data.get("users", {}):
                        data["users"][ref]["sealed"][name] = self._seal(data, ref, name, previous)
        return used

    # -- which site public key a store key is sealed to (docs/security.md, "The site
    # public key") ------------------------------------------------------------------------

    @staticmethod
    def _site_pin_mac(data: dict[str, Any], store_id: str, site_raw: bytes, key: bytes) -> bytes:
        """HMAC-SHA384 over (vault, store, site public key) under a key derived from the
        store key: only someone who can read the store names the site key it goes to."""
        mac_key = HKDF(
            algorithm=hashes.SHA384(),
            length=48,
            salt=None,
            info=f"{VAULT_FORMAT}|site-pin|{data['vault_id']}|{store_id}".encode("ascii"),
        ).derive(key)
        message = f"{VAULT_FORMAT}|site-pin|{data['vault_id']}|{store_id}|".encode("ascii")
        return hmac.new(mac_key, message + site_raw, hashlib.sha384).digest()

    def _pinned_site(
        self, data: dict[str, Any], store_id: str, entry: dict[str, Any], key: bytes
    ) -> bytes | None:
        """The site public key the store's pin names, when its MAC checks under ``key``."""
        pin = entry.get("site_pin")
        if not isinstance(pin, dict):
            return None
        try:
            raw = _unb64(pin["public"])
            given = _unb64(pin["mac"])
        except (KeyError, TypeError, ValueError, binascii.Error):
            return None
        if not hmac.compare_digest(given, self._site_pin_mac(data, store_id, raw, key)):
            return None
        return raw

    def _site_public_to_seal(
        self,
        data: dict[str, Any],
        store_id: str,
        before: dict[str, Any] | None,
        previous: bytes | None,
        inside: bytes | None = None,
    ) -> bytes:
        """The site public key a store key is sealed to.

        In this order: the key a rotation in this session made; the public half of the
        site key a holder opened and checked in this session; the key the store's pin
        names (MAC'd under the store's key, so only someone who could read the store wrote
        it), even when the file names another one (noted in :attr:`site_key_mismatch` and
        reported); the file's, for a store without a pin opened by someone without the
        site key (a new store of a counsellor, or one from before pins): the one place the
        file is trusted (docs/security.md, "The site public key").
        """
        file_raw = _unb64(data["site"]["public"])
        if self._rotated_site is not None:
            return self._rotated_site
        if self._trusted_site is not None:
            # a holder whose site key checked (storage/scope.py, _check_site_key)
            if inside is not None and inside != self._trusted_site:
                log.error("a store's own pin names another site key than the site's")
                self.site_key_mismatch.add(store_id)
            return self._trusted_site
        if inside is not None:
            # pinned inside the store file itself: nobody without its key removes that
            if inside != file_raw:
                log.error("the site public key in the vault differs from the store's own pin")
                self.site_key_mismatch.add(store_id)
            return inside
        if before is not None and previous is not None:
            pinned = self._pinned_site(data, store_id, before, previous)
            if pinned is not None:
                if pinned != file_raw:
                    log.error("the site public key in the vault differs from the store's pin")
                    self.site_key_mismatch.add(store_id)
                return pinned
        return file_raw

    def site_public_for_new_store(self, known: bytes | None = None) -> bytes:
        """The site public key a new store is sealed to (and pinned with): a holder's
        checked one, else ``known`` (what her named stores pin, or her bundle remembers),
        else the file's (her very first store: docs/security.md, "The site public key")."""
        return self.checked_site_public() or known or _unb64(self._snapshot()["site"]["public"])

    def checked_site_public(self) -> bytes | None:
        """The site public key this session checked (a holder's) or made (a rotation)."""
        return self._rotated_site or self._trusted_site

    def put_bundle_values(self, keys: UserKeys, values: dict[str, Any]) -> bool:
        """Write ``values`` into her password-wrapped bundle (nobody without her password
        can change them); False when her entry no longer opens with this sign-in's key
        (her password changed since), which is then left as it is."""
        if keys.kek is None or keys.private is None:
            return False
        with self._update() as data:
            entry = data.get("users", {}).get(keys.ref)
            if entry is None or "bundle" not in entry:
                return False
            try:
                self._unwrap_bundle(data, keys.ref, entry["bundle"], keys.kek)
            except (InvalidTag, KeyError, TypeError, ValueError, binascii.Error):
                return False
            keys.bundle.update(values)
            entry["bundle"] = self._wrap_bundle(
                data, keys.ref, keys.kek, keys.private, dict(keys.bundle)
            )
        return True

    def pinned_site_public(self, store_id: str, key: bytes) -> bytes | None:
        """The site public key the store's pin names, when it checks under ``key``."""
        data = self._snapshot()
        entry = data.get("stores", {}).get(store_id)
        return None if entry is None else self._pinned_site(data, store_id, entry, key)

    def site_opens_any(self, keys: UserKeys, *, exclude: set[str]) -> bool | None:
        """Whether the site key ``keys`` hold opens the site seal of any store not in
        ``exclude``; None when there is no such store. A real site key opens all of
        them (or, during a rotation, through the previous key); one sealed to her by
        someone who does not hold it opens none."""
        data = self._snapshot()
        others = [sid for sid in data.get("stores", {}) if sid not in exclude]
        if not others:
            return None
        sites = self._site_privates(data, keys)
        for sid in others:
            entry = data["stores"][sid]
            for site in sites:
                if "site_wrap" in entry and self._open_site_wrap(
                    data, sid, entry["site_wrap"], site
                ):
                    return True
                for field_, info in (
                    ("site", self._store_info(data, sid)),
                    ("previous", self._store_info(data, sid) + b"|prev"),
                ):
                    if field_ not in entry:
                        continue
                    try:
                        SUITE.decrypt(_unb64(entry[field_]), site.to_hpke(), info=info)
                    except Exception:  # sealed to another key
                        log.debug("a store seal is not for this site key")
                        continue
                    return True
        return False

    def known_site_publics(self, keys: UserKeys) -> set[bytes]:
        """The public halves of the site keys ``keys`` hold: the site key and, during a
        rotation, the previous one (sealed to it, so nobody without it can name one)."""
        return {k.public_key().raw for k in self._site_privates(self._snapshot(), keys)}

    @staticmethod
    def _site_mac(
        data: dict[str, Any], site: EncryptionPrivateKey, info: bytes, message: bytes
    ) -> bytes:
        """HMAC-SHA384 of ``message`` under a key derived (HKDF-SHA384, salt the vault id)
        from the site key: only a holder of the site key makes one."""
        mac_key = HKDF(
            algorithm=hashes.SHA384(),
            length=48,
            salt=data["vault_id"].encode("ascii"),
            info=info,
        ).derive(site.raw)
        return hmac.new(mac_key, message, hashlib.sha384).digest()

    @staticmethod
    def _held_mac(
        data: dict[str, Any], store_id: str, key: bytes, site: EncryptionPrivateKey
    ) -> bytes:
        """HMAC-SHA384 over (vault, store, SHA-256 of its key) under a key derived from the
        site key: a holder of the site key made or checked this key of the store."""
        message = f"{VAULT_FORMAT}|held|{data['vault_id']}|{store_id}|".encode("ascii")
        return Vault._site_mac(
            data, site, b"intake store held mac v1", message + hashlib.sha256(key).digest()
        )

    def held_confirmed(self, store_id: str, key: bytes, site: EncryptionPrivateKey) -> bool:
        """Whether a holder of the site key made or checked the store's current key; False
        for a store its owner made or re-keyed since (docs/security.md, "The site public
        key": such a key may have been sealed to a site key the file named wrongly)."""
        data = self._snapshot()
        entry = data.get("stores", {}).get(store_id)
        mac = entry.get("held") if entry is not None else None
        return _mac_matches(mac, lambda: self._held_mac(data, store_id, key, site))

    def confirm_held(self, site: EncryptionPrivateKey, store_keys: dict[str, bytes]) -> None:
        """Write :meth:`held_confirmed`'s MAC for ``store_keys`` where it does not check."""
        data = self._snapshot()
        stale = {
            sid: key
            for sid, key in store_keys.items()
            if sid in data.get("stores", {}) and not self.held_confirmed(sid, key, site)
        }
        if not stale:
            return
        with self._update() as data:
            for sid, key in stale.items():
                entry = data.get("stores", {}).get(sid)
                if entry is not None:
                    entry["held"] = _b64(self._held_mac(data, sid, key, site))

    def owner_signature(self, store_id: str) -> tuple[int, str, str] | None:
        """The store's owner id and her signature of it (key id, signature), if it has
        one (storage/owners.py)."""
        entry = self._snapshot().get("stores", {}).get(store_id)
        signed = entry.get("owner_sig") if entry is not None else None
        if not isinstance(signed, dict):
            return None
        kid, sig = signed.get("kid"), signed.get("sig")
        if not isinstance(kid, str) or not isinstance(sig, str):
            return None
        try:
            return int(entry["owner"]), kid, sig
        except (KeyError, TypeError, ValueError):
            return None

    def put_owner_signatures(self, owner_id: int, signatures: dict[str, tuple[str, str]]) -> None:
        """Write the owner signatures (store id -> key id, signature) of stores whose
        entry names ``owner_id`` (storage/owners.py)."""
        with self._update() as data:
            for sid, (kid, sig) in signatures.items():
                entry = data.get("stores", {}).get(sid)
                if entry is not None and int(entry.get("owner", -1)) == owner_id:
                    entry["owner_sig"] = {"kid": kid, "sig": sig}

    def pin_stores(self, store_keys: dict[str, bytes]) -> None:
        """Give stores opened by a holder of the site key a pin where they have none (a
        profile from before pins), naming the key this session trusts."""
        if self._trusted_site is None:
            return
        with self._update() as data:
            for sid, key in store_keys.items():
                entry = data.get("stores", {}).get(sid)
                if entry is None or "site_pin" in entry or "previous" in entry:
                    continue
                entry["site_pin"] = {
                    "public": _b64(self._trusted_site),
                    "mac": _b64(self._site_pin_mac(data, sid, self._trusted_site, key)),
                }

    def trust_site_public(self, site: EncryptionPrivateKey) -> bool:
        """A holder of the site key opened it: from now on this session seals to its public
        half, and the file names it again if it named another (returns True then: the
        caller reports it)."""
        raw = site.public_key().raw
        self._trusted_site = raw
        if self._snapshot()["site"]["public"] == _b64(raw):
            return False
        with self._update() as data:
            data["site"]["public"] = _b64(raw)
        return True

    @staticmethod
    def _recovery_digest_of(data: dict[str, Any]) -> bytes | None:
        """The SHA-256 of the recovery public key ``data`` names (None: it names none)."""
        public = data.get("recovery", {}).get("public")
        return hashlib.sha256(_unb64(public)).digest() if isinstance(public, str) else None

    @staticmethod
    def _names_recovery(data: dict[str, Any], digest: bytes) -> bool:
        """Whether the recovery public key ``data`` names is the one ``digest`` names."""
        found = Vault._recovery_digest_of(data)
        return found is not None and hmac.compare_digest(digest, found)

    @staticmethod
    def _site_payload(data: dict[str, Any], site_raw: bytes) -> bytes:
        """What a ``site`` seal holds: the site key and the SHA-256 of the recovery key's
        public key, so that a holder (who alone can make such a seal) vouches for it."""
        return site_raw + (Vault._recovery_digest_of(data) or b"")

    def recovery_digest_matches(self, digest: bytes) -> bool:
        """Whether the file's recovery public key is the one ``digest`` names."""
        return self._names_recovery(self._snapshot(), digest)

    def recovery_digest(self) -> bytes | None:
        """The SHA-256 of the recovery public key the file names (None: it names none)."""
        return self._recovery_digest_of(self._snapshot())

    def has_recovery_public(self) -> bool:
        return "public" in self._snapshot().get("recovery", {})

    @staticmethod
    def _recovery_mac(data: dict[str, Any], site: EncryptionPrivateKey) -> bytes:
        """HMAC-SHA384 over the recovery key's public key under a key derived from the
        site key: only a holder of the site key names the recovery key it goes to."""
        message = f"{VAULT_FORMAT}|recovery|{data['vault_id']}|".encode("ascii")
        public = _unb64(data["recovery"]["public"])
        return Vault._site_mac(data, site, b"intake recovery public mac v1", message + public)

    def _recovery_ok(self, data: dict[str, Any], site: EncryptionPrivateKey) -> bool | None:
        """Whether the recovery key's public key checks under ``site``; None when the vault
        has no MAC for it yet (a profile from before)."""
        recovery = data.get("recovery", {})
        if "public" not in recovery:
            return None
        mac = recovery.get("mac")
        if not isinstance(mac, str):
            return None
        return _mac_matches(mac, lambda: self._recovery_mac(data, site))

    def check_recovery_public(self, site: EncryptionPrivateKey) -> bool:
        """At a holder's sign-in: True when the recovery key's public key checks (a profile
        from before gets its MAC now, the first holder's sign-in after the update);
        False when it was changed outside the program."""
        ok = self._recovery_ok(self._snapshot(), site)
        if ok is None and "public" in self._snapshot().get("recovery", {}):
            with self._update() as data:
                data["recovery"]["mac"] = _b64(self._recovery_mac(data, site))
            return True
        return ok is not False

    @staticmethod
    def _public_digest(data: dict[str, Any], ref: str) -> str | None:
        entry = data.get("users", {}).get(ref)
        if entry is None or "public" not in entry:
            return None
        return hashlib.sha256(str(entry["public"]).encode("ascii")).hexdigest()

    @staticmethod
    def _owner_mac(
        data: dict[str, Any],
        store_id: str,
        owner_id: int,
        key: bytes,
        owner_key: str | None = None,
    ) -> bytes:
        """HMAC-SHA384 over (vault, store, owner[, her vault key's digest]) under a key
        derived from the store key: only someone who can read the store can name its owner
        and the key pair of hers it may be sealed to."""
        mac_key = HKDF(
            algorithm=hashes.SHA384(),
            length=48,
            salt=None,
            info=f"{VAULT_FORMAT}|owner-key|{data['vault_id']}|{store_id}".encode("ascii"),
        ).derive(key)
        message = f"{VAULT_FORMAT}|owner|{data['vault_id']}|{store_id}|{owner_id}"
        if owner_key is not None:
            message += f"|{owner_key}"
        return hmac.new(mac_key, message.encode("ascii"), hashlib.sha384).digest()

    def _owner_mac_ok(
        self, data: dict[str, Any], store_id: str, entry: dict[str, Any], key: bytes
    ) -> bool:
        owner_key = entry.get("owner_key")
        return _mac_matches(
            entry.get("owner_mac"),
            lambda: self._owner_mac(
                data,
                store_id,
                int(entry.get("owner", -1)),
                key,
                owner_key if isinstance(owner_key, str) else None,
            ),
        )

    def snapshot(self) -> dict[str, Any]:
        """The vault as read now (for several look-ups that need not read it again)."""
        return self._read()

    def owner_confirmed(
        self, store_id: str, key: bytes, *, data: dict[str, Any] | None = None
    ) -> bool | None:
        """Whether the store's owner was named by someone holding its key.

        True: confirmed; False: a confirmation is there but does not check (the owner was
        changed in the file); None: none yet (a store made before owners were confirmed).
        """
        data = data if data is not None else self._read()
        entry = data.get("stores", {}).get(store_id)
        if entry is None:
            return False
        if "owner_mac" not in entry:
            return None
        return self._owner_mac_ok(data, store_id, entry, key)

    def confirm_owner(self, store_id: str, key: bytes, *, owner: str | None = None) -> None:
        """Write the owner confirmation of an older store (its owner opened it herself);
        with ``owner`` (her name) it names her vault key as it is now."""
        with self._update() as data:
            entry = data.get("stores", {}).get(store_id)
            if entry is None or ("owner_mac" in entry and owner is None):
                return
            owner_key = self._public_digest(data, self._ref(data, owner)) if owner else None
            if owner_key is not None:
                entry["owner_key"] = owner_key
            entry["owner_mac"] = _b64(
                self._owner_mac(data, store_id, int(entry["owner"]), key, owner_key)
            )

    def owner_key_current(
        self, store_id: str, username: str, *, data: dict[str, Any] | None = None
    ) -> bool | None:
        """Whether the store's confirmation names ``username``'s vault key as it is now.

        None: the confirmation names no key (written before keys were named). False: it
        names another one: her key pair was replaced (a password reset), so the store is
        sealed to her again only when a supervisor confirms it (docs/security.md).
        """
        data = data if data is not None else self._read()
        entry = data.get("stores", {}).get(store_id)
        if entry is None or not isinstance(entry.get("owner_key"), str):
            return None
        return entry["owner_key"] == self._public_digest(data, self._ref(data, username))

    def site_seal_refs(self) -> set[str]:
        """The vault references of every entry with a ``site`` seal (the recovery key aside)."""
        data = self._read()
        return {ref for ref, e in data.get("users", {}).items() if "site" in e.get("sealed", {})}

    def refs_for(self, names: list[str]) -> dict[str, str]:
        """Vault reference -> user name for ``names``."""
        data = self._read()
        return {self._ref(data, name): name for name in names}

    @staticmethod
    def _rekey_vouch_mac(data: dict[str, Any], store_id: str, previous: bytes, key: bytes) -> bytes:
        """HMAC-SHA384 over (vault, store, SHA-256 of the new key) under a key derived from
        the key the file has now: only someone who can open the store names its next key."""
        mac_key = HKDF(
            algorithm=hashes.SHA384(),
            length=48,
            salt=None,
            info=f"{VAULT_FORMAT}|rekey-vouch|{data['vault_id']}|{store_id}".encode("ascii"),
        ).derive(previous)
        message = f"{VAULT_FORMAT}|rekey-vouch|{data['vault_id']}|{store_id}|".encode("ascii")
        return hmac.new(mac_key, message + hashlib.sha256(key).digest(), hashlib.sha384).digest()

    def rekey_vouched(
        self, store_id: str, previous: bytes, key: bytes, *, data: dict[str, Any] | None = None
    ) -> bool:
        """Whether an unfinished re-key from ``previous`` (the key that opens the file) to
        ``key`` was begun by someone who could open the store (:meth:`set_store_key`).

        Anyone can seal a key of her choosing to a user or the site key; finishing a
        re-key to such a key would hand the store to whoever chose it (docs/security.md,
        "Granting and revoking")."""
        data = data if data is not None else self._snapshot()
        entry = data.get("stores", {}).get(store_id)
        mac = entry.get("rekey_vouch") if entry is not None else None
        return _mac_matches(mac, lambda: self._rekey_vouch_mac(data, store_id, previous, key))

    def clear_previous(self, store_id: str) -> None:
        """The file was re-keyed: forget its previous key."""
        with self._update() as data:
            entry = data.get("stores", {}).get(store_id)
            if entry is not None:
                entry.pop("previous", None)
                entry.pop("rekey_vouch", None)
            for user in data.get("users", {}).values():
                user["sealed"].pop(f"store-previous:{store_id}", None)

    def store_key_candidates(
        self, keys: UserKeys, store_id: str, *, data: dict[str, Any] | None = None
    ) -> list[bytes]:
        """The store's key for ``keys``, then its previous key while a re-key is unfinished."""
        found = []
        for name in (f"store:{store_id}", f"store-previous:{store_id}"):
            if name in keys.sealed:
                found.append(keys.sealed[name])
        data = data if data is not None else self._snapshot()
        entry = data.get("stores", {}).get(store_id)
        if entry is not None:
            for site in self._site_privates(data, keys):
                for field_, info in (
                    ("site", self._store_info(data, store_id)),
                    ("previous", self._store_info(data, store_id) + b"|prev"),
                ):
                    if field_ not in entry:
                        continue
                    if field_ == "site" and "site_wrap" in entry:
                        wrapped = self._open_site_wrap(data, store_id, entry["site_wrap"], site)
                        if wrapped is not None:
                            found.append(wrapped)
                            continue
                    try:
                        found.append(
                            SUITE.decrypt(_unb64(entry[field_]), site.to_hpke(), info=info)
                        )
                    except Exception:  # sealed to the other site key of a rotation
                        log.debug("a store seal is for the other site key of a rotation")
        return list(dict.fromkeys(found))

    # A store key sealed to the site key costs one HPKE decryption (ML-KEM-1024 + P-384) to
    # open; a supervisor opens every store at sign-in. So a holder of the site key also
    # keeps each store key wrapped with AES-256-GCM under a key derived from the site's
    # private key (HKDF-SHA384): only holders of the site key can open or write such a
    # wrap, exactly as with the seal (docs/security.md, "The key hierarchy"). Any change
    # of a store's key rewrites its entry without the wrap; a new site key derives another
    # wrapping key, so an old wrap no longer opens and the seal is used again.

    @staticmethod
    def _site_wrap_key(data: dict[str, Any], site: EncryptionPrivateKey) -> bytes:
        return HKDF(
            algorithm=hashes.SHA384(),
            length=KEY_BYTES,
            salt=data["vault_id"].encode("ascii"),
            info=b"intake site store wrap v1",
        ).derive(site.raw)

    def _open_site_wrap(
        self, data: dict[str, Any], store_id: str, wrap: Any, site: EncryptionPrivateKey
    ) -> bytes | None:
        try:
            return AESGCM(self._site_wrap_key(data, site)).decrypt(
                _unb64(wrap["nonce"]),
                _unb64(wrap["ciphertext"]),
                self._store_info(data, store_id) + b"|wrap",
            )
        except (InvalidTag, KeyError, TypeError, ValueError, binascii.Error):
            return None  # wrapped under another site key (a rotation), or changed

    def missing_site_wraps(self, store_ids: list[str]) -> list[str]:
        """Which of ``store_ids`` have no wrap under the site key yet (and no re-key open)."""
        stores_ = self._snapshot().get("stores", {})
        return [
            sid
            for sid in store_ids
            if sid in stores_ and "site_wrap" not in stores_[sid] and "previous" not in stores_[sid]
        ]

    def remember_site_wraps(self, site: EncryptionPrivateKey, store_keys: dict[str, bytes]) -> None:
        """Keep ``store_keys`` (opened through the site key's seals) wrapped under the site
        key for the next sign-in."""
        with self._update() as data:
            if _b64(site.public_key().raw) != data["site"]["public"]:
                return  # a rotation began meanwhile
            wrap_key = self._site_wrap_key(data, site)
            for sid, key in store_keys.items():
                entry = data.get("stores", {}).get(sid)
                if entry is None or "site_wrap" in entry or "previous" in entry:
                    continue
                nonce = secrets.token_bytes(12)
                entry["site_wrap"] = {
                    "nonce": _b64(nonce),
                    "ciphertext": _b64(
                        AESGCM(wrap_key).encrypt(nonce, key, self._store_info(data, sid) + b"|wrap")
                    ),
                }

    def key_map(self, keys: UserKeys) -> dict[str, list[bytes]]:
        """:meth:`store_key_candidates` for every store, reading the vault once."""
        data = self._snapshot()
        return {
            sid: self.store_key_candidates(keys, sid, data=data) for sid in data.get("stores", {})
        }

    def seal_holders(self, names: dict[int, str]) -> set[tuple[str, int]]:
        """(store id, user id) for every store key sealed to one of ``names`` (by id)."""
        data = self._snapshot()
        held = set()
        for user_id, name in names.items():
            entry = data.get("users", {}).get(self._ref(data, name))
            if entry is None:
                continue
            for sealed in entry["sealed"]:
                if sealed.startswith("store:"):
                    held.add((sealed[len("store:") :], user_id))
        return held

    def provisional_names(self, names: list[str]) -> set[str]:
        """Which of ``names`` have a provisional key pair (or none yet)."""
        data = self._snapshot()
        users_ = data.get("users", {})
        return {
            name
            for name in names
            if users_.get(self._ref(data, name)) is None
            or users_[self._ref(data, name)].get("provisional")
        }

    def owner_holds(self, store_id: str, username: str) -> bool:
        """True when the store's key is sealed to ``username``."""
        data = self._snapshot()
        entry = data.get("users", {}).get(self._ref(data, username))
        return entry is not None and f"store:{store_id}" in entry["sealed"]

    def change_store_owner(self, store_id: str, *, owner_id: int) -> None:
        with self._update() as data:
            data["stores"][store_id]["owner"] = owner_id

    def mark_for_rekey(self, store_id: str) -> None:
        """The store's key may be known to someone who must not read what comes next.

        Its owner's seal is withdrawn; whoever opens it next (a supervisor) re-keys it
        before anything else is written.
        """
        with self._update() as data:
            entry = data.get("stores", {}).get(store_id)
            if entry is None:
                return
            entry["rekey"] = True
            name = f"store:{store_id}"
            for user in data.get("users", {}).values():
                user["sealed"].pop(name, None)

    # -- her own stores (docs/security.md, "Her own stores") ---------------------------

    def _own_store_mac(
        self, data: dict[str, Any], keys: UserKeys, store_id: str, identity: bytes
    ) -> bytes:
        assert keys.private is not None
        mac_key = HKDF(
            algorithm=hashes.SHA384(),
            length=KEY_BYTES,
            salt=None,
            info=f"{VAULT_FORMAT}|own-stores|{data['vault_id']}|{keys.ref}".encode("ascii"),
        ).derive(keys.private.raw)
        message = store_id.encode("ascii") + b"|" + identity
        return hmac.new(mac_key, message, hashlib.sha256).digest()

    def named_own_store_ids(self, keys: UserKeys) -> set[str]:
        """The ids of the stores her entry names as her own (whatever the file says of
        the stores themselves)."""
        entry = self._snapshot().get("users", {}).get(keys.ref, {})
        named = entry.get("own_stores")
        return set(named) if isinstance(named, dict) else set()

    def own_store_named(self, keys: UserKeys, store_id: str, identity: bytes | None) -> bool | None:
        """Whether her entry names the store as her own, by the identity inside it, under
        a MAC from her private key (which only her password opens); None for an entry
        from before stores were named (the first sign-in after the update names them)."""
        if keys.private is None:
            return False
        data = self._snapshot()
        entry = data.get("users", {}).get(keys.ref)
        if entry is None:
            return False
        named = entry.get("own_stores")
        if named is None and not keys.bundle.get("stores_named"):
            return None
        if not isinstance(named, dict):
            # taken out, or made no mapping, outside the program: her bundle (which only
            # her password opens) says her stores were named, so none counts as named
            log.warning("her entry's named stores were removed outside the program")
            return False
        if identity is None:
            return False
        return _mac_matches(
            named.get(store_id), lambda: self._own_store_mac(data, keys, store_id, identity)
        )

    def name_own_stores(self, keys: UserKeys, identities: dict[str, bytes]) -> None:
        """Name stores as hers in her entry (a store she made, or hers at the update)."""
        if keys.private is None or not identities:
            return
        with self._update() as data:
            entry = data.get("users", {}).get(keys.ref)
            if entry is None:
                return
            named = entry.get("own_stores")
            if not isinstance(named, dict):
                named = entry["own_stores"] = {}
            for sid, identity in identities.items():
                named[sid] = _b64(self._own_store_mac(data, keys, sid, identity))

    def current_store_keys(self, keys: UserKeys, store_id: str) -> list[bytes]:
        """The store's keys for ``keys`` as the file names them now: another program
        window may have re-keyed the store since her sign-in (a supervisor's, or a site key
        rotation). Her own seal is opened again with her private key, and
        :attr:`UserKeys.sealed` takes the new key, so that what she seals later names it."""
        data = self._snapshot()
        found: list[bytes] = []
        name = f"store:{store_id}"
        sealed = data.get("users", {}).get(keys.ref, {}).get("sealed", {}).get(name)
        if sealed is not None and keys.private is not None:
            try:
                opened = SUITE.decrypt(
                    _unb64(sealed),
                    keys.private.to_hpke(),
                    info=self._seal_info(data, keys.ref, name),
                )
            except Exception:  # a seal that does not open names nothing
                log.error("a store seal to the signed-in user does not open")
            else:
                keys.sealed[name] = opened
                found.append(opened)
        others = {k: v for k, v in keys.sealed.items() if not k.startswith("store")}
        without_own = replace(keys, sealed=others)
        found.extend(self.store_key_candidates(without_own, store_id, data=data))
        return list(dict.fromkeys(found))

    def open_store_key(self, keys: UserKeys, store_id: str) -> bytes | None:
        """The key of a store for ``keys``: sealed to her, or through the site key."""
        own = keys.sealed.get(f"store:{store_id}")
        if own is not None:
            return own
        site = keys.site_private()
        if site is None:
            return None
        data = self._snapshot()
        entry = data.get("stores", {}).get(store_id)
        if entry is None:
            return None
        try:
            return SUITE.decrypt(
                _unb64(entry["site"]), site.to_hpke(), info=self._store_info(data, store_id)
            )
        except Exception:  # a seal that does not open was changed
            log.error("a store key sealed to the site key does not open")
            raise _damaged() from None

    @staticmethod
    def _site_info(data: dict[str, Any]) -> bytes:
        return f"{VAULT_FORMAT}|site-previous|{data['vault_id']}".encode("ascii")

    def _site_privates(self, data: dict[str, Any], keys: UserKeys) -> list[EncryptionPrivateKey]:
        """The site key ``keys`` hold, and during a rotation the previous one."""
        site = keys.site_private()
        if site is None:
            return []
        return [site, *self._previous_sites(data, site)]

    def _previous_sites(
        self, data: dict[str, Any], site: EncryptionPrivateKey
    ) -> list[EncryptionPrivateKey]:
        """The earlier site keys of an unfinished rotation, sealed to ``site`` (one, or
        several when a rotation had to start afresh before the last one finished)."""
        previous = data.get("site", {}).get("previous")
        if previous is None or not self._previous_ok(data, site):
            return []
        try:
            raw = SUITE.decrypt(_unb64(previous), site.to_hpke(), info=self._site_info(data))
        except Exception:  # she holds the previous key itself (rotation unfinished)
            log.debug("the previous site key is not sealed to this one")
            return []
        size = ENCRYPTION_PRIVATE_BYTES
        if not raw or len(raw) % size:
            log.error("a previous site key of the wrong length")
            return []
        return [EncryptionPrivateKey(raw[i : i + size]) for i in range(0, len(raw), size)]

    @staticmethod
    def _previous_mac(data: dict[str, Any], site: EncryptionPrivateKey) -> bytes:
        """HMAC-SHA384 over the sealed previous site key under a key derived from the new
        one: anyone can seal something to the site's public key, only a holder of the
        site key made this rotation (docs/security.md, "The site public key")."""
        previous = _unb64(data["site"]["previous"])
        return Vault._site_mac(data, site, b"intake site previous mac v1", previous)

    def _previous_ok(self, data: dict[str, Any], site: EncryptionPrivateKey) -> bool:
        if "previous" not in data.get("site", {}):
            return False
        mac = data["site"].get("previous_mac")
        return _mac_matches(mac, lambda: self._previous_mac(data, site))

    def request_site_rotation(self) -> None:
        """A holder of the site key left (deactivated, reset): the next supervisor who
        signs in makes a new site key and re-keys every store (docs/security.md)."""
        with self._update() as data:
            data["site"]["rotate"] = True

    def site_rotation_pending(self) -> bool:
        return bool(self._snapshot().get("site", {}).get("rotate"))

    def rotate_site(
        self,
        keys: UserKeys,
        *,
        holders: set[str] | None = None,
        trusted: Callable[[str], bool] | None = None,
        fresh: bool = False,
    ) -> EncryptionPrivateKey:
        """Make a new site key, seal it to every holder and the recovery key; return it.

        ``holders``: the vault references that may hold it (active supervisors by their
        signed rows, docs/security.md "Who receives a key"); every other entry's ``site``
        seal is dropped, whatever the file says. None keeps every holder (a profile whose
        signed state does not exist yet).

        The old site key is sealed to the new one until :meth:`finish_site_rotation`, so
        stores not yet re-keyed stay readable. An unfinished rotation is continued, not
        started again, unless ``fresh``: someone who held the current site key left, and a
        "previous" key authenticated with it proves nothing (she could write it). A fresh
        rotation keeps every earlier key of an unfinished one sealed to the new key.
        """
        old = keys.site_private()
        if old is None:
            raise ValueError("only a holder of the site key rotates it")
        with self._update() as data:
            earlier = self._previous_sites(data, old)
            if earlier and not fresh:
                return old
            if "previous" in data["site"] and not earlier:
                # written by someone who does not hold the site key: not a rotation
                log.error("a previous site key without its MAC; a new rotation starts")
            new = EncryptionPrivateKey.generate()
            new_public = new.public_key()
            # the recovery key's public key as the rotating holder's seal names it (or, for
            # a seal from before, as its MAC under the old site key names it)
            digest = keys.site_recovery_digest()
            if digest is not None:
                recovery_ok = self._names_recovery(data, digest)
            else:
                recovery_ok = self._recovery_ok(data, old) is not False
                if recovery_ok:
                    digest = self._recovery_digest_of(data)
            payload = new.raw + digest if digest is not None else new.raw
            grants = data["site"].get("grants")
            handovers = data["site"].get("handovers")
            data["site"] = {
                "public": _b64(new_public.raw),
                "rotate": True,
                "previous": _b64(
                    SUITE.encrypt(
                        b"".join(key.raw for key in [old, *earlier]),
                        new_public.to_hpke(),
                        info=self._site_info(data),
                    )
                ),
            }
            data["site"]["previous_mac"] = _b64(self._previous_mac(data, new))
            if isinstance(handovers, dict):
                # the hand-overs taken in, authenticated under the new key when the list
                # checks under the old one; a list that does not stays as it is, and is
                # refused and reported at the next sync (docs/security.md)
                # (still marked as checked under the old key: the next holder checks it,
                # since whoever held the old key could write it)
                taken = handovers.get("taken")
                checked = handovers.get("checked")
                if (
                    isinstance(taken, dict)
                    and isinstance(checked, str)
                    and _mac_matches(
                        handovers.get("mac"),
                        lambda: self._handovers_mac(data, taken, checked, old),
                    )
                ):
                    handovers = {
                        "taken": taken,
                        "checked": checked,
                        "mac": _b64(self._handovers_mac(data, taken, checked, new)),
                    }
                data["site"]["handovers"] = handovers
            if isinstance(grants, dict):
                # the grants of the holders that stay, authenticated under the new key;
                # every other grant goes (docs/security.md, "Site key grants")
                data["site"]["grants"] = {
                    ref: self._with_grant_mac(data, ref, record, new)
                    for ref, record in grants.items()
                    if isinstance(record, dict) and (holders is None or ref in holders)
                }
            for ref, entry in data.get("users", {}).items():
                if "site" not in entry["sealed"]:
                    continue
                if holders is not None and ref not in holders:
                    del entry["sealed"]["site"]
                    continue
                if trusted is not None and not trusted(ref):
                    # her public key does not carry her signature: no new site key
                    log.error("the site key is not sealed to a vault key not signed")
                    del entry["sealed"]["site"]
                    continue
                entry["sealed"]["site"] = self._seal(data, ref, "site", payload)
            if "public" in data["recovery"]:
                if recovery_ok:
                    data["recovery"]["sealed"]["site"] = self._seal(
                        data, "recovery", "site", payload
                    )
                    data["recovery"]["mac"] = _b64(self._recovery_mac(data, new))
                else:
                    # its public key was changed outside the program: the new site key
                    # does not go to it (docs/security.md, "The site public key")
                    log.error("the recovery key's public key does not check; not sealed")
                    data["recovery"]["sealed"].pop("site", None)
            self._trusted_site = self._rotated_site = new_public.raw
        return new

    def finish_site_rotation(self) -> None:
        with self._update() as data:
            data["site"].pop("previous", None)
            data["site"].pop("previous_mac", None)
            data["site"]["rotate"] = False

    def grant_site_key(
        self,
        username: str,
        site_private: EncryptionPrivateKey,
        *,
        grant: dict[str, Any] | None = None,
        recovery_digest: bytes | None = None,
    ) -> None:
        """Seal the site key to a supervisor (she reads every record from her next sign-in).

        ``recovery_digest``: the recovery key's digest as the granting holder's own seal
        names it; it goes into the new seal (never the file's, which anyone can change
        while she works; docs/security.md, "The site public key").

        ``grant``: the signed grant record (``storage/site_grants.py``), kept beside the
        site key and authenticated with it; later rotations seal only to holders of a
        grant that checks. Refused while her key pair is provisional (someone else chose
        her password).
        """
        with self._update() as data:
            if _b64(site_private.public_key().raw) != data["site"]["public"]:
                raise ValueError("this is not the site key of this profile")
            ref = self._ref(data, username)
            entry = data.get("users", {}).get(ref)
            if entry is None or entry.get("provisional"):
                raise ConflictError(
                    _(
                        "„{name}“ muss sich erst einmal anmelden und ein eigenes Passwort "
                        "wählen; danach kann der Zugang freigegeben werden."
                    ).format(name=username)
                )
            if grant is not None:
                grants = data["site"].setdefault("grants", {})
                grants[ref] = self._with_grant_mac(data, ref, grant, site_private)
            payload = (
                site_private.raw + recovery_digest
                if recovery_digest is not None
                else self._site_payload(data, site_private.raw)
            )
            entry["sealed"]["site"] = self._seal(data, ref, "site", payload)

    # -- site key grants (docs/security.md, "Site key grants") -------------------------

    @staticmethod
    def _grant_mac(
        data: dict[str, Any], ref: str, record: dict[str, Any], site: EncryptionPrivateKey
    ) -> bytes:
        """HMAC-SHA384 over the grant under a key derived from the site key: only a holder
        of the site key (a supervisor who was granted it, the recovery key) makes one."""
        body = {k: v for k, v in record.items() if k != "mac"}
        message = json.dumps(
            {"vault": data["vault_id"], "ref": ref, "grant": body},
            sort_keys=True,
            separators=(",", ":"),
        ).encode("utf-8")
        return Vault._site_mac(data, site, b"intake site grant mac v1", message)

    def _with_grant_mac(
        self, data: dict[str, Any], ref: str, record: dict[str, Any], site: EncryptionPrivateKey
    ) -> dict[str, Any]:
        out = {k: v for k, v in record.items() if k != "mac"}
        out["mac"] = _b64(self._grant_mac(data, ref, out, site))
        return out

    def site_grants(self, site: EncryptionPrivateKey) -> dict[str, dict[str, Any]] | None:
        """The grant records whose authentication checks under ``site``, by vault reference.

        None when the vault has no grants at all (a profile from before grants existed).
        A record that was changed, or made without the site key, is left out.
        """
        data = self._snapshot()
        grants = data.get("site", {}).get("grants")
        if not isinstance(grants, dict):
            return None
        found = {}
        for ref, record in grants.items():
            if isinstance(record, dict) and _mac_matches(
                record.get("mac"), partial(self._grant_mac, data, ref, record, site)
            ):
                found[ref] = dict(record)
        return found

    def put_site_grants(
        self, site: EncryptionPrivateKey, records: dict[str, dict[str, Any]]
    ) -> None:
        """Write grant records (the first sign-in of a holder after grants came in)."""
        with self._update() as data:
            if _b64(site.public_key().raw) != data["site"]["public"]:
                raise ValueError("this is not the site key of this profile")
            grants = data["site"].setdefault("grants", {})
            for ref, record in records.items():
                grants[ref] = self._with_grant_mac(data, ref, record, site)

    def site_pending(self, site: EncryptionPrivateKey) -> set[str]:
        """The vault references of supervisors who held the site key before grants came
        in and have not taken it over yet (their first sign-in since), as the first holder
        who took hers over wrote them, authenticated under the site key. Empty when the
        list is missing or does not check: a reference written by anyone else counts for
        nothing."""
        data = self._snapshot()
        pending = data.get("site", {}).get("pending")
        if not isinstance(pending, dict):
            return set()
        refs = pending.get("refs")
        if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
            return set()
        body = {"refs": sorted(refs)}
        if not _mac_matches(
            pending.get("mac"), lambda: self._grant_mac(data, "pending", body, site)
        ):
            return set()
        return set(refs)

    # -- hand-overs taken in (docs/security.md, "Hand-over through the office") --------

    @staticmethod
    def _handovers_mac(
        data: dict[str, Any], taken: dict[str, str], checked: str, site: EncryptionPrivateKey
    ) -> bytes:
        message = json.dumps(
            {"vault": data["vault_id"], "taken": taken, "checked": checked},
            sort_keys=True,
            separators=(",", ":"),
        ).encode("utf-8")
        return Vault._site_mac(data, site, b"intake handovers taken mac v1", message)

    def site_handovers(self, site: EncryptionPrivateKey) -> tuple[dict[str, str], bool] | None:
        """(hand-over id -> the record it became, for every hand-over this device took in;
        whether the list was checked against the stores under this very site key), as
        holders of the site key wrote it (HMAC under the site key). None when there is no
        list (a profile from before it). A site key rotation carries the list over
        (:meth:`rotate_site`) unchecked: whoever held the old key could write it until
        then, so the next holder checks it (``Workspace.handovers_taken``).

        Raises:
            ValueError: the list does not check under ``site`` (changed outside the
                program).
        """
        data = self._snapshot()
        found = data.get("site", {}).get("handovers")
        if found is None:
            return None
        taken = found.get("taken") if isinstance(found, dict) else None
        checked = found.get("checked") if isinstance(found, dict) else None
        if (
            not isinstance(taken, dict)
            or not isinstance(checked, str)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in taken.items())
        ):
            raise ValueError("the list of hand-overs taken in is damaged")
        if not _mac_matches(
            found.get("mac"), lambda: self._handovers_mac(data, taken, checked, site)
        ):
            raise ValueError("the list of hand-overs taken in does not check")
        return dict(taken), checked == data["site"]["public"]

    def put_site_handovers(self, site: EncryptionPrivateKey, taken: dict[str, str]) -> None:
        """Write the list :meth:`site_handovers` reads (authenticated under ``site``, and
        checked under it)."""
        with self._update() as data:
            checked = _b64(site.public_key().raw)
            if checked != data["site"]["public"]:
                raise ValueError("this is not the site key of this profile")
            data["site"]["handovers"] = {
                "taken": dict(taken),
                "checked": checked,
                "mac": _b64(self._handovers_mac(data, dict(taken), checked, site)),
            }

    def put_site_pending(self, site: EncryptionPrivateKey, refs: set[str]) -> None:
        """Write (or, with an empty set, remove) the list :meth:`site_pending` reads."""
        with self._update() as data:
            if _b64(site.public_key().raw) != data["site"]["public"]:
                raise ValueError("this is not the site key of this profile")
            if not refs:
                data["site"].pop("pending", None)
                return
            data["site"]["pending"] = self._with_grant_mac(
                data, "pending", {"refs": sorted(refs)}, site
            )

    def public_digest(self, username: str) -> str | None:
        """SHA-256 of the user's vault public key as stored (what a grant binds)."""
        data = self._snapshot()
        return self._public_digest(data, self._ref(data, username))

    def public_digests(self) -> dict[str, str]:
        """:meth:`public_digest` for every entry, by vault reference."""
        data = self._snapshot()
        return {
            ref: hashlib.sha256(str(entry["public"]).encode("ascii")).hexdigest()
            for ref, entry in data.get("users", {}).items()
            if "public" in entry
        }

    @property
    def vault_id(self) -> str:
        return str(self._snapshot()["vault_id"])

    def site_key_holders(self, names: list[str]) -> set[str]:
        """Which of ``names`` have the site key sealed to them."""
        data = self._snapshot()
        users_ = data.get("users", {})
        return {
            name
            for name in names
            if "site" in users_.get(self._ref(data, name), {}).get("sealed", {})
        }

    # -- signed vault keys (docs/security.md, "Signed vault keys") ---------------------

    @staticmethod
    def _public_message(data: dict[str, Any], ref: str, public: str) -> bytes:
        return f"{VAULT_FORMAT}|public|{data['vault_id']}|{ref}|{public}".encode("ascii")

    def public_key_claim(self, username: str) -> tuple[bytes, str, str] | None:
        """(the message her signature must cover, the key id, the signature) for the public
        key now in ``username``'s entry; None when it carries no signature."""
        data = self._snapshot()
        ref = self._ref(data, username)
        entry = data.get("users", {}).get(ref)
        if entry is None:
            return None
        claim = entry.get("public_sig")
        if not isinstance(claim, dict) or claim.get("public") != entry.get("public"):
            return None
        return (
            self._public_message(data, ref, str(entry["public"])),
            str(claim.get("kid", "")),
            str(claim.get("sig", "")),
        )

    def sign_own_public(self, username: str, kid: str, sign: Callable[[bytes], str]) -> None:
        """Sign the user's own vault public key with her signing key (``sign`` signs a
        message); written only when the key or the signing key changed."""
        data = self._snapshot()
        ref = self._ref(data, username)
        entry = data.get("users", {}).get(ref)
        if entry is None:
            return
        claim = entry.get("public_sig")
        if isinstance(claim, dict) and claim.get("public") == entry["public"]:
            if claim.get("kid") == kid:
                return
        with self._update() as fresh:
            entry = fresh.get("users", {}).get(ref)
            if entry is None:
                return
            entry["public_sig"] = {
                "public": entry["public"],
                "kid": kid,
                "sig": sign(self._public_message(fresh, ref, str(entry["public"]))),
            }

    @staticmethod
    def _vouch_message(data: dict[str, Any], ref: str, public: str, for_kid: str) -> bytes:
        return Vault._public_message(data, ref, public) + f"|provisional|{for_kid}".encode("ascii")

    def vouch_provisional(
        self, username: str, kid: str, for_kid: str, sign: Callable[[bytes], str]
    ) -> None:
        """An administrator signs the provisional key pair she just made for ``username``
        (``kid``: her key; ``for_kid``: the signing key she just issued to the user, which
        a later reset replaces, so that a copy of this entry put back after a reset does
        not count: attacker run 22)."""
        with self._update() as data:
            ref = self._ref(data, username)
            entry = data.get("users", {}).get(ref)
            if entry is None:
                return
            public = str(entry["public"])
            entry["public_sig"] = {
                "public": public,
                "kid": kid,
                "for": for_kid,
                "sig": sign(self._vouch_message(data, ref, public, for_kid)),
            }

    def provisional_claim(self, username: str) -> tuple[bytes, str, str, str] | None:
        """(message, signer's key id, signature, the user's key id it names) of the
        administrator's signature over ``username``'s provisional key pair, as the entry
        is now; None when the entry carries none."""
        data = self._snapshot()
        ref = self._ref(data, username)
        entry = data.get("users", {}).get(ref)
        if entry is None or not entry.get("provisional"):
            return None
        claim = entry.get("public_sig")
        if not isinstance(claim, dict) or claim.get("public") != entry.get("public"):
            return None
        for_kid = str(claim.get("for", ""))
        if not for_kid:
            return None
        return (
            self._vouch_message(data, ref, str(entry["public"]), for_kid),
            str(claim.get("kid", "")),
            str(claim.get("sig", "")),
            for_kid,
        )

    def is_provisional(self, username: str) -> bool:
        """True while someone else chose the user's password (new user, reset)."""
        data = self._snapshot()
        entry = data.get("users", {}).get(self._ref(data, username))
        return bool(entry is None or entry.get("provisional"))

    # -- moving a layout-1 profile to layout 2 ------------------------------------------

    def move_to_layout_2(
        self,
        *,
        old_key: bytes,
        profile_key: bytes,
        site: EncryptionPrivateKey,
        stores: dict[str, tuple[int, bytes]],
        owners: dict[int, str],
    ) -> str:
        """Rewrite the vault for layout 2; return the new recovery key (shown once).

        ``stores`` maps store id to (owner id, key); ``owners`` maps user ids to names.
        Users whose entries are still in version 1's form get a *legacy grant*: the
        profile key and their own store keys, encrypted under a key derived from the old
        database key and their name hash. Only the old key opens it (as it opened
        everything before); their first sign-in turns it into seals to a key pair of
        their own and re-keys their stores (docs/security.md).
        """
        raw = secrets.token_bytes(KEY_BYTES)
        with self._update() as data:
            if int(data.get("layout", 1)) >= LAYOUT:
                raise ConflictError(_("Das Profil wurde bereits umgestellt."))
            data["layout"] = LAYOUT
            data["key_check"] = _b64(key_check(data, profile_key))
            data["site"] = {"public": _b64(site.public_key().raw), "grants": {}}
            data["stores"] = {}
            self._new_recovery(data, raw, profile_key, site)
            legacy_names: dict[str, dict[str, bytes]] = {}
            for ref in data["entries"]:
                legacy_names[ref] = {"profile": profile_key}
            for ref, entry in data.get("users", {}).items():
                entry["sealed"] = {
                    k: v for k, v in entry["sealed"].items() if not k.startswith("store:")
                }
                entry["sealed"]["profile"] = self._seal(data, ref, "profile", profile_key)
                entry["sealed"].pop("site", None)
            for store_id, (owner_id, key) in stores.items():
                owner = owners.get(owner_id)
                self._put_store(data, store_id, owner_id=owner_id, owner=owner, key=key)
                if owner is not None:
                    ref = self._ref(data, owner)
                    if ref in legacy_names:
                        legacy_names[ref][f"store:{store_id}"] = key
                        data["stores"][store_id]["rekey"] = True
            data["legacy"] = {
                ref: self._legacy_grant(data, old_key, ref, grant)
                for ref, grant in legacy_names.items()
            }
        return format_recovery_key(raw)

    @staticmethod
    def _legacy_key(data: dict[str, Any], old_key: bytes, ref: str) -> bytes:
        return HKDF(
            algorithm=hashes.SHA384(),
            length=KEY_BYTES,
            salt=data["vault_id"].encode("ascii"),
            info=f"intake legacy grant v1|{ref}".encode("ascii"),
        ).derive(old_key)

    def _legacy_grant(
        self, data: dict[str, Any], old_key: bytes, ref: str, grant: dict[str, bytes]
    ) -> dict[str, str]:
        nonce = secrets.token_bytes(12)
        plain = json.dumps({k: _b64(v) for k, v in grant.items()}).encode("ascii")
        return {
            "nonce": _b64(nonce),
            "ciphertext": _b64(
                AESGCM(self._legacy_key(data, old_key, ref)).encrypt(
                    nonce, plain, self._aad(data, "legacy:" + ref)
                )
            ),
        }

    # -- changes (the caller holds the database key, i.e. is logged in) ---------------

    def set_password(
        self,
        username: str,
        password: str,
        *,
        db_key: bytes,
        params: KdfParams = RFC9106_MINIMUM,
        keys: UserKeys | None = None,
        own: bool = False,
        recovery_seen: bytes | None = None,
    ) -> None:
        """Add or replace the entry for ``username`` (new user, password change or reset).

        ``own``: she chose this password herself (not provisional).

        ``recovery_seen``: for a new key pair (a new user, a reset), the recovery key's
        digest as the administrator who sets the password remembers it; the new bundle
        remembers it too, so that her first sign-in does not take the file's word for it
        (docs/security.md, "A holder who left").

        With ``keys`` (the user's own, opened at her sign-in) the password re-wraps her
        key pair and everything sealed to her stays hers. Without them (a new user, or a
        reset by an administrator) she gets a new key pair: whatever was sealed to the
        old one is withdrawn and has to be granted again.
        """
        with self._update() as data:
            ref = self._ref(data, username)
            self._verify_key(data, db_key)
            self._put_user(
                data,
                ref,
                password,
                db_key,
                params,
                keys=keys,
                provisional=not own,
                recovery_seen=recovery_seen,
            )
            data["throttle"].pop(ref, None)

    def _put_user(
        self,
        data: dict[str, Any],
        ref: str,
        password: str,
        profile_key: bytes,
        params: KdfParams,
        *,
        keys: UserKeys | None = None,
        provisional: bool = True,
        recovery_seen: bytes | None = None,
    ) -> None:
        salt = secrets.token_bytes(16)
        kek = _kdf(password, salt, params)
        kdf = {**params.to_json(), "salt": _b64(salt)}
        users_ = data.setdefault("users", {})
        old = users_.get(ref)
        if keys is not None and keys.ref == ref and old is not None and old.get("provisional"):
            # She now chooses her own password: a fresh key pair the administrator never
            # had; what she holds is sealed to it anew (docs/security.md).
            before = "own_stores" not in old and not keys.bundle.get("stores_named")
            remembered = (
                {"recovery_seen": keys.bundle["recovery_seen"]}
                if "recovery_seen" in keys.bundle
                else {}
            )
            entry = self._new_user_entry(
                data,
                ref,
                kek=kek,
                kdf=kdf,
                private=EncryptionPrivateKey.generate(),
                provisional=False,
                extra={"stores_named": not before, **remembered},
            )
            users_[ref] = entry
            if before:  # an entry from before: her stores are named next
                entry.pop("own_stores")
            for name, secret in keys.sealed.items():
                entry["sealed"][name] = self._seal(data, ref, name, secret)
        elif keys is not None and keys.ref == ref and old is not None:
            assert keys.private is not None  # unlocked keys hold the private key
            named = old.get("own_stores")
            before = named is None and not keys.bundle.get("stores_named")
            entry = self._new_user_entry(
                data,
                ref,
                kek=kek,
                kdf=kdf,
                private=keys.private,
                provisional=False,
                extra={**keys.bundle, "stores_named": not before},
            )
            entry["sealed"] = dict(old.get("sealed", {}))
            if isinstance(named, dict):  # the same key pair: what it named stays named
                entry["own_stores"] = dict(named)
            elif before:
                entry.pop("own_stores")
        else:
            entry = self._new_user_entry(
                data,
                ref,
                kek=kek,
                kdf=kdf,
                private=EncryptionPrivateKey.generate(),
                provisional=provisional,
                extra={
                    "stores_named": True,
                    **({"recovery_seen": _b64(recovery_seen)} if recovery_seen else {}),
                },
            )
        users_[ref] = entry
        entry["sealed"]["profile"] = self._seal(data, ref, "profile", profile_key)
        data["entries"].pop(ref, None)

    def _unwrap_bundle(
        self, data: dict[str, Any], ref: str, wrap: dict[str, Any], kek: bytes
    ) -> bytes:
        """The bundle's plaintext (InvalidTag: not this ``kek``)."""
        return AESGCM(kek).decrypt(
            _unb64(wrap["nonce"]), _unb64(wrap["ciphertext"]), self._bundle_aad(data, ref)
        )

    def _wrap_bundle(
        self,
        data: dict[str, Any],
        ref: str,
        kek: bytes,
        private: EncryptionPrivateKey,
        extra: dict[str, Any],
    ) -> dict[str, Any]:
        """The bundle (her private key and ``extra``) wrapped by the password's ``kek``."""
        bundle = {**extra, "private": _b64(private.raw)}
        nonce = secrets.token_bytes(12)
        return {
            "alg": "A256GCM",
            "nonce": _b64(nonce),
            "ciphertext": _b64(
                AESGCM(kek).encrypt(
                    nonce, json.dumps(bundle).encode("ascii"), self._bundle_aad(data, ref)
                )
            ),
        }

    def seal_for_user(self, username: str, name: str, secret: bytes) -> None:
        """Seal a named secret to a user's public key (she opens it at her next sign-in).

        No password is needed: this is how one user grants another a key. ``profile``
        is reserved for the profile key.
        """
        if name == "profile":
            raise ValueError("the profile key is sealed by set_password")
        with self._update() as data:
            ref = self._ref(data, username)
            if ref not in data.get("users", {}):
                raise KeyError("no key pair for this user yet")
            data["users"][ref]["sealed"][name] = self._seal(data, ref, name, secret)

    def withdraw_sealed(self, username: str, name: str) -> None:
        """Delete a named secret sealed to a user (she no longer receives it)."""
        if name == "profile":
            raise ValueError("remove the user instead")
        with self._update() as data:
            entry = data.get("users", {}).get(self._ref(data, username))
            if entry is not None:
                entry["sealed"].pop(name, None)

    def public_key(self, username: str) -> EncryptionPublicKey | None:
        """A user's public key (None while her entry is still in version 1's form)."""
        data = self._snapshot()
        entry = data.get("users", {}).get(self._ref(data, username))
        return EncryptionPublicKey(_unb64(entry["public"])) if entry else None

    def remove_user(self, username: str) -> None:
        """Delete the entry for ``username``: the password no longer opens the profile."""
        with self._update() as data:
            ref = self._ref(data, username)
            data["entries"].pop(ref, None)
            data.get("users", {}).pop(ref, None)
            data.get("legacy", {}).pop(ref, None)
            data["throttle"].pop(ref, None)

    def replace_recovery_key(
        self, *, db_key: bytes, site_private: EncryptionPrivateKey | None = None
    ) -> str:
        """Make a new recovery key (the old one stops working); return it formatted.

        In layout 2 the new recovery key must also hold the site key, so only someone
        who holds it (a sign-in with the recovery key) can replace it.
        """
        raw = secrets.token_bytes(KEY_BYTES)
        with self._update() as data:
            self._verify_key(data, db_key)
            if int(data.get("layout", 1)) >= LAYOUT:
                if site_private is None:
                    raise ValueError("the site key is needed to replace the recovery key")
                self._new_recovery(data, raw, db_key, site_private)
            else:
                data["recovery"] = self._wrap_recovery(data, raw, db_key)
        return format_recovery_key(raw)

    def _verify_key(self, data: dict[str, Any], db_key: bytes) -> None:
        """Refuse to wrap a key that is not this profile's key (a programming error)."""
        if len(db_key) != KEY_BYTES:
            raise ValueError("database key must be 32 bytes")
        if "key_check" in data:
            expected = _unb64(data["key_check"])
            if not hmac.compare_digest(expected, key_check(data, db_key)):
                raise ValueError("database key does not belong to this vault")
        else:
            data["key_check"] = _b64(key_check(data, db_key))

    # -- a new profile key (docs/security.md, "Granting and revoking") -----------------

    @staticmethod
    def _previous_aad(data: dict[str, Any]) -> bytes:
        return f"{VAULT_FORMAT}|profile-previous|{data['vault_id']}".encode("ascii")

    def request_profile_rekey(self) -> None:
        """Someone who held the profile key lost her entry (deactivation, reset): the
        profile database gets a new key; whoever signs in next does it if the one who
        asked could not finish."""
        with self._update() as data:
            if int(data.get("layout", 1)) >= LAYOUT:
                data["profile_rekey_due"] = True

    def profile_holders(self) -> set[str]:
        """The vault references of every user entry with a seal of the profile key."""
        data = self._snapshot()  # read at every sign-in: parsed again only when it changed
        return {
            ref
            for ref, entry in data.get("users", {}).items()
            if "profile" in entry.get("sealed", {})
        }

    def begin_profile_rekey(
        self,
        *,
        old_key: bytes,
        new_key: bytes,
        recovery_digest: bytes | None = None,
        only: set[str] | None = None,
        trust_recovery_file: bool = False,
    ) -> None:
        """Seal ``new_key`` as the profile key to every user and the recovery key, before
        the file changes; the old key is kept, encrypted under the new one, until
        :meth:`finish_profile_rekey` (a crash in between loses nothing).

        Legacy grants (users not signed in since the move to record stores) are
        withdrawn: they open with the old single key, which every former user knew; those
        users get a new password from the administration.

        ``only``: the vault references that get the new key (the users the signed state
        names as active); every other entry's seal of the profile key is dropped.

        ``recovery_digest``: the recovery key's digest as the user who re-keys remembers it
        (her bundle); a file that names another recovery public key gets no seal of the new
        key (anyone who writes the folder can put a key of her own there), and it is logged
        (docs/security.md, "A holder who left"). Without a digest the new key goes to the
        recovery key only with ``trust_recovery_file`` (a profile whose signed state does
        not exist yet); otherwise a re-key stays due, for a sign-in that remembers one.
        """
        if len(new_key) != KEY_BYTES:
            raise ValueError("database key must be 32 bytes")
        with self._update() as data:
            self._verify_key(data, old_key)
            data["key_check"] = _b64(key_check(data, new_key))
            for ref, entry in data.get("users", {}).items():
                if only is not None and ref not in only:
                    entry["sealed"].pop("profile", None)
                    continue
                entry["sealed"]["profile"] = self._seal(data, ref, "profile", new_key)
            public = data.get("recovery", {}).get("public")
            again = False
            if public is not None and (
                (recovery_digest is None and trust_recovery_file)
                or (recovery_digest is not None and self._names_recovery(data, recovery_digest))
            ):
                data["recovery"]["sealed"]["profile"] = self._seal(
                    data, "recovery", "profile", new_key
                )
            elif public is not None and recovery_digest is None:
                # she remembers no recovery key (a user from before who never signed in
                # since): the file's word is not taken (attacker run 20 put her own key
                # there); a sign-in that remembers one re-keys again and seals to it
                log.warning("no recovery key remembered: the new profile key waits for one")
                data["recovery"]["sealed"].pop("profile", None)
                again = True
            elif public is not None:
                log.error("the recovery key's public key is not the one remembered; not sealed")
                data["recovery"]["sealed"].pop("profile", None)
            data.pop("legacy", None)
            nonce = secrets.token_bytes(12)
            data["profile_previous"] = {
                "nonce": _b64(nonce),
                "ciphertext": _b64(
                    AESGCM(new_key).encrypt(nonce, old_key, self._previous_aad(data))
                ),
            }
            if again:
                data["profile_rekey_due"] = True
            else:
                data.pop("profile_rekey_due", None)

    def finish_profile_rekey(self) -> None:
        """The file has the new key: forget the old one."""
        with self._update() as data:
            data.pop("profile_previous", None)

    def profile_rekey_state(self, profile_key: bytes) -> tuple[bytes | None, bool]:
        """(the previous profile key while a re-key is unfinished, whether one is due)."""
        data = self._snapshot()
        previous = data.get("profile_previous")
        old: bytes | None = None
        if previous is not None:
            try:
                old = AESGCM(profile_key).decrypt(
                    _unb64(previous["nonce"]),
                    _unb64(previous["ciphertext"]),
                    self._previous_aad(data),
                )
            except (InvalidTag, KeyError, TypeError, ValueError, binascii.Error):
                raise _damaged() from None
        return old, bool(data.get("profile_rekey_due"))

    # -- events for the audit log -----------------------------------------------------

    def pending_events(self) -> list[PendingEvent]:
        """The events recorded while the database was closed, oldest first."""
        return [
            PendingEvent(float(e["ts"]), str(e["action"]), str(e["user_ref"]))
            for e in self._snapshot()["pending_events"]
        ]

    def drop_pending_events(self, count: int) -> None:
        """Forget the oldest ``count`` events once they are safely in the audit log."""
        if count <= 0:
            return  # nothing to forget: the file is not written
        with self._update() as data:
            data["pending_events"] = data["pending_events"][count:]

    def failures(self, username: str) -> int:
        """Failed log-ins in a row for ``username`` since the last success."""
        data = self._snapshot()
        state = data["throttle"].get(self._ref(data, username))
        return int(state["failures"]) if state else 0


def key_check(data: dict[str, Any], db_key: bytes) -> bytes:
    """A value that tells whether a key belongs to this vault, and nothing about the key."""
    return hmac.new(db_key, f"key-check|{data['vault_id']}".encode("ascii"), "sha256").digest()


def new_database_key() -> bytes:
    """A fresh random 256-bit database key."""
    return secrets.token_bytes(KEY_BYTES)


def ensure_not_world_readable(path: Path) -> None:
    """Restrict a profile file to its owner where the platform has POSIX permissions."""
    if os.name == "posix":
        try:
            os.chmod(path, 0o600)
        except OSError:  # pragma: no cover - foreign file systems
            log.warning("could not restrict permissions of a profile file")
