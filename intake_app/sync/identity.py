"""The device identity and the office's public key set.

A :class:`DeviceIdentity` is everything a device needs to sync: its id and name, its
ECDSA P-384 private key, the office's public keys (encryption keys to seal to, signing keys
to check receipts and forms with), the server URL and an optional recovery key. The device
side stores :meth:`DeviceIdentity.to_json` inside its encrypted profile database; it holds a
private key and never goes anywhere else.

An :class:`OfficeKeySet` is the public half of the office's keys as published in enrolment
files and in the key-set document (``GET /v1/keys``). Both are signed by the office's
offline root key, which the device pins at enrolment (docs/security.md, "Central office:
keys, receiver and importer"): the receiver holds only a receipt key and can neither
publish a key set nor add a recipient. Every key set carries a serial number; a device
refuses a key set older than the one it holds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import ec

from intake_app.sync import keys
from intake_app.sync.errors import SignatureError
from intake_app.sync.keys import EncryptionPrivateKey, EncryptionPublicKey
from intake_app.sync.signed import read_document, sign_document

IDENTITY_FORMAT = "intake-device-identity"
IDENTITY_VERSION = 2
#: Identities written before the root key existed (read, never written).
IDENTITY_VERSIONS = (1, 2)
KEY_SET_TYPE = "office-keys"
KEY_SET_FORMAT = "intake-office-keys"
KEY_SET_VERSION = 2


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def is_uuid(value: object) -> bool:
    """True for a UUID in canonical lower-case form (what ids look like on the wire)."""
    return isinstance(value, str) and _CANONICAL_UUID.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class OfficeKeySet:
    """The office's public keys: what devices seal to and whose signatures they trust."""

    encryption_keys: Mapping[str, EncryptionPublicKey]
    current_encryption_key_id: str
    #: The receipt keys (receiver and importer): they sign receipts, registration
    #: confirmations and the form index, never a key set, a form or an enrolment file.
    signing_keys: Mapping[str, ec.EllipticCurvePublicKey]
    recovery_key: EncryptionPublicKey | None = None
    #: Counts up with every key set the root signs; 0 for key sets from before the root.
    serial: int = 0
    issued: str = ""
    #: A new server address, when the root moves the devices to another receiver.
    server_url: str | None = None
    #: The ids of the importer's receipt keys among ``signing_keys``: only these may sign
    #: ``imported`` / ``rejected`` receipts; the others (receivers) only ``stored``
    #: (docs/security.md, "What devices trust").
    importer_keys: frozenset[str] = frozenset()

    def to_content(self) -> dict[str, Any]:
        """The JSON form used inside enrolment files and key-set documents."""
        content: dict[str, Any] = {
            "encryption_keys": [k.to_json() for k in self.encryption_keys.values()],
            "current_encryption_key": self.current_encryption_key_id,
            "signing_keys": [keys.signing_public_to_json(k) for k in self.signing_keys.values()],
            "recovery_key": self.recovery_key.to_json() if self.recovery_key else None,
            "serial": self.serial,
            "issued": self.issued,
            "importer_keys": sorted(self.importer_keys),
        }
        if self.server_url:
            content["server_url"] = self.server_url
        return content

    @classmethod
    def from_content(cls, content: Mapping[str, Any]) -> OfficeKeySet:
        """Read the JSON form; raises :class:`SignatureError` (``malformed``) when wrong."""
        try:
            enc = [EncryptionPublicKey.from_json(k) for k in content["encryption_keys"]]
            sig = [keys.signing_public_from_json(k) for k in content["signing_keys"]]
            recovery_json = content.get("recovery_key")
            recovery = (
                EncryptionPublicKey.from_json(recovery_json) if recovery_json is not None else None
            )
            current = content["current_encryption_key"]
            serial = content.get("serial", 0)
            issued = content.get("issued", "")
            server_url = content.get("server_url")
            importer_keys = content.get("importer_keys", [])
        except (KeyError, TypeError, ValueError):
            raise SignatureError("malformed") from None
        encryption_keys = {k.key_id: k for k in enc}
        if current not in encryption_keys or not sig:
            raise SignatureError("malformed")
        if type(serial) is not int or serial < 0 or not isinstance(issued, str):
            raise SignatureError("malformed")
        if server_url is not None and not isinstance(server_url, str):
            raise SignatureError("malformed")
        signing_keys = {keys.signing_key_id(k): k for k in sig}
        if not isinstance(importer_keys, list) or not all(
            isinstance(kid, str) and kid in signing_keys for kid in importer_keys
        ):
            raise SignatureError("malformed")
        return cls(
            encryption_keys=encryption_keys,
            current_encryption_key_id=current,
            signing_keys=signing_keys,
            importer_keys=frozenset(importer_keys),
            recovery_key=recovery,
            serial=serial,
            issued=issued,
            server_url=server_url,
        )


def build_key_set_document(key_set: OfficeKeySet, *, root_key: ec.EllipticCurvePrivateKey) -> bytes:
    """The office side: the key set signed by the root key (``GET /v1/keys``)."""
    content = {"format": KEY_SET_FORMAT, "version": KEY_SET_VERSION, **key_set.to_content()}
    return sign_document(KEY_SET_TYPE, content, private_key=root_key)


def verify_key_set_document(
    data: bytes, *, root: ec.EllipticCurvePublicKey, min_serial: int = 0
) -> OfficeKeySet:
    """The device side: check a key set against the pinned root key.

    Raises:
        SignatureError: ``unknown_key`` (not signed by the root, e.g. by a receipt key),
            ``bad_signature``, ``malformed`` or ``older`` (serial below ``min_serial``).
    """
    root_kid = keys.signing_key_id(root)
    content = read_document(data, doc_type=KEY_SET_TYPE).verify({root_kid: root})
    if content.get("format") != KEY_SET_FORMAT or content.get("version") != KEY_SET_VERSION:
        raise SignatureError("malformed")
    key_set = OfficeKeySet.from_content(content)
    if key_set.serial < 1:
        raise SignatureError("malformed")
    if key_set.serial < min_serial:
        raise SignatureError("older")
    return key_set


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    """Who this device is to the office, and which office keys it trusts.

    Attributes:
        device_id: the UUID the office assigned at enrolment.
        device_name: the administrator's name for the device (no personal data).
        private_key_pem: the device's ECDSA P-384 private key (PKCS#8 PEM).
        office_encryption_keys: office HPKE public keys by key id.
        office_signing_keys: office ECDSA public keys by key id (receipts, forms).
        server_url: base URL of the central receiver.
        current_office_key_id: the encryption key new batches are sealed to.
        recovery_public_key: a second recipient for every batch, if configured.
        root_public_key: the office root key pinned at enrolment (None for identities
            from before the root key: they accept no new key set and need re-enrolment).
        key_set_serial: the serial of the key set the device holds.
    """

    device_id: str
    device_name: str
    private_key_pem: bytes = field(repr=False)
    office_encryption_keys: Mapping[str, EncryptionPublicKey]
    office_signing_keys: Mapping[str, ec.EllipticCurvePublicKey]
    server_url: str
    current_office_key_id: str
    recovery_public_key: EncryptionPublicKey | None = None
    root_public_key: ec.EllipticCurvePublicKey | None = None
    key_set_serial: int = 0
    #: Which of ``office_signing_keys`` are the importer's (final receipts).
    office_importer_keys: frozenset[str] = frozenset()
    #: The device's HPKE private key (112 bytes) that the office seals hand-overs to, in
    #: plain: only in identities from before it was sealed to the site key (a supervisor's
    #: next sync seals it and drops this; docs/security.md, "Hand-over through the office").
    encryption_key: bytes | None = field(default=None, repr=False)
    #: The public half of the hand-over key pair (what the office seals to).
    encryption_public: bytes | None = None
    #: The hand-over private key sealed (HPKE) to the site key: only supervisors (and the
    #: recovery key) open it, and with it the hand-overs (``open_encryption_key``).
    encryption_sealed: bytes | None = field(default=None, repr=False)
    #: The administrator's signature of the device id, the pinned root and the key set at
    #: enrolment (``kid``, ``sig``, ``key_set``: device_sync/pin.py); None before it.
    pin: Mapping[str, Any] | None = None
    #: The root-signed key-set document the office keys were last taken from (None while
    #: they are the ones of the enrolment); the device checks it again before it seals.
    key_set_document: bytes | None = None
    #: The enrolment file (signed by the office root): the root's word for the keys the
    #: device was enrolled with.
    enrolment_document: bytes | None = field(default=None, repr=False)
    #: The registration request, built once at enrolment by the administrator who enrols
    #: the device (it names the profile root); the enrolment token is not kept, so no
    #: user of the device can build another (docs/security.md, "Batches signed by their
    #: sender"). None for a device enrolled before that, which keeps its token.
    registration: bytes | None = field(default=None, repr=False)

    @property
    def office_fingerprint(self) -> str:
        """The root key id (what the administrator confirmed at enrolment)."""
        if self.root_public_key is None:
            return ""
        return keys.signing_key_id(self.root_public_key)

    def root_keys(self) -> dict[str, ec.EllipticCurvePublicKey]:
        """The pinned root as a trusted-key mapping (empty before the root key existed)."""
        if self.root_public_key is None:
            return {}
        return {self.office_fingerprint: self.root_public_key}

    def signing_key(self) -> ec.EllipticCurvePrivateKey:
        """The device's private signing key."""
        return keys.private_key_from_pem(self.private_key_pem)

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.signing_key().public_key()

    @property
    def key_id(self) -> str:
        """The key id of the device's signing key (named in every batch header)."""
        return keys.signing_key_id(self.public_key())

    def encryption_private_key(self) -> EncryptionPrivateKey | None:
        """The hand-over private key kept in plain (an identity from before it was sealed
        to the site key), if any; see :meth:`open_encryption_key`."""
        return EncryptionPrivateKey(self.encryption_key) if self.encryption_key else None

    def encryption_public_key(self) -> EncryptionPublicKey | None:
        """The public half of the device's hand-over key pair, if it has one."""
        if self.encryption_public is not None:
            return EncryptionPublicKey(self.encryption_public)
        private = self.encryption_private_key()
        return private.public_key() if private is not None else None

    def _sealed_info(self) -> bytes:
        return f"intake-device-handover-key/1|{self.device_id}".encode("ascii")

    def open_encryption_key(self, site: EncryptionPrivateKey | None) -> EncryptionPrivateKey | None:
        """The hand-over private key: opened with the site key, or kept in plain by an
        identity from before; None without the site key (or when it does not open)."""
        if self.encryption_sealed is None:
            return self.encryption_private_key()  # an identity from before, or none
        if site is None:
            return None  # a plain key beside a sealed one is nobody's to use
        try:
            raw = keys.SUITE.decrypt(
                self.encryption_sealed, site.to_hpke(), info=self._sealed_info()
            )
            private = EncryptionPrivateKey(raw)
        except (InvalidTag, ValueError):  # not sealed to this site key, or damaged
            return None
        public = self.encryption_public_key()
        return private if public is not None and private.key_id == public.key_id else None

    def with_encryption_key(self) -> DeviceIdentity:
        """A copy with a fresh HPKE key pair for hand-overs in plain (kept if it has one
        already): identities from before hand-overs were sealed to the site key."""
        if self.encryption_key is not None or self.encryption_sealed is not None:
            return self
        return replace(self, encryption_key=EncryptionPrivateKey.generate().raw)

    def with_sealed_encryption_key(self, site: EncryptionPublicKey) -> DeviceIdentity:
        """A copy whose hand-over private key is sealed to the site key ``site``: the one it
        has (kept in plain before, or opened by the caller and given back here), else a
        fresh one; nothing of it stays in plain."""
        private = self.encryption_private_key() or EncryptionPrivateKey.generate()
        return self.sealed_with(private, site)

    def sealed_with(
        self, private: EncryptionPrivateKey, site: EncryptionPublicKey
    ) -> DeviceIdentity:
        """A copy with ``private`` as the hand-over key, sealed to ``site`` only."""
        sealed = keys.SUITE.encrypt(private.raw, site.to_hpke(), info=self._sealed_info())
        return replace(
            self,
            encryption_key=None,
            encryption_public=private.public_key().raw,
            encryption_sealed=sealed,
        )

    def office_key(self) -> EncryptionPublicKey:
        """The office encryption key that new batches are sealed to."""
        return self.office_encryption_keys[self.current_office_key_id]

    def key_set(self) -> OfficeKeySet:
        return OfficeKeySet(
            encryption_keys=dict(self.office_encryption_keys),
            current_encryption_key_id=self.current_office_key_id,
            signing_keys=dict(self.office_signing_keys),
            recovery_key=self.recovery_public_key,
            serial=self.key_set_serial,
            importer_keys=self.office_importer_keys,
        )

    def with_key_set(self, key_set: OfficeKeySet, document: bytes | None = None) -> DeviceIdentity:
        """A copy that trusts ``key_set``, which the caller verified against the root in
        ``document`` (kept, so that the device can check it again before it seals).

        The receipt keys are replaced, not added to: a receipt key the root no longer
        lists (a revoked receiver) is trusted no more. A server address in the key set
        (signed by the root) becomes the device's.
        """
        return replace(
            self,
            key_set_document=document,
            office_encryption_keys=dict(key_set.encryption_keys),
            office_signing_keys=dict(key_set.signing_keys),
            current_office_key_id=key_set.current_encryption_key_id,
            recovery_public_key=key_set.recovery_key,
            key_set_serial=key_set.serial,
            office_importer_keys=key_set.importer_keys,
            server_url=key_set.server_url.rstrip("/") if key_set.server_url else self.server_url,
        )

    def to_json(self) -> str:
        """Serialise for the encrypted profile database (holds the private key!)."""
        data = {
            "format": IDENTITY_FORMAT,
            "version": IDENTITY_VERSION,
            "device_id": self.device_id,
            "device_name": self.device_name,
            "private_key_pem": self.private_key_pem.decode("ascii"),
            "server_url": self.server_url,
            **self.key_set().to_content(),
            "root_key": (
                keys.signing_public_to_json(self.root_public_key)
                if self.root_public_key is not None
                else None
            ),
        }
        if self.encryption_key is not None:
            data["encryption_key"] = keys.b64(self.encryption_key)
        if self.encryption_public is not None:
            data["encryption_public"] = keys.b64(self.encryption_public)
        if self.encryption_sealed is not None:
            data["encryption_sealed"] = keys.b64(self.encryption_sealed)
        if self.pin is not None:
            data["pin"] = dict(self.pin)
        if self.key_set_document is not None:
            data["key_set_document"] = keys.b64(self.key_set_document)
        if self.enrolment_document is not None:
            data["enrolment_document"] = keys.b64(self.enrolment_document)
        if self.registration is not None:
            data["registration"] = keys.b64(self.registration)
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> DeviceIdentity:
        """Read :meth:`to_json` output; ValueError when the text is not an identity
        (whatever it holds: a field missing or of another type is no identity either)."""
        try:
            return cls._read(text)
        except (KeyError, TypeError, AttributeError, UnicodeError) as exc:
            raise ValueError("damaged device identity") from exc

    @classmethod
    def _read(cls, text: str | bytes) -> DeviceIdentity:
        """:meth:`from_json`'s reading."""
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("format") != IDENTITY_FORMAT:
            raise ValueError("not a device identity")
        if data.get("version") not in IDENTITY_VERSIONS:
            raise ValueError("unsupported device identity version")
        try:
            content = dict(data)
            content.pop("server_url", None)  # the device's own address, not a key-set move
            key_set = OfficeKeySet.from_content(content)
            root_json = data.get("root_key")
            root = keys.signing_public_from_json(root_json) if root_json is not None else None
        except (SignatureError, ValueError, TypeError) as exc:
            raise ValueError("damaged office keys in the device identity") from exc
        pem = str(data["private_key_pem"]).encode("ascii")
        keys.private_key_from_pem(pem)
        if not is_uuid(data["device_id"]):
            raise ValueError("device id is not a UUID")
        own = data.get("encryption_key")
        encryption_key = EncryptionPrivateKey(keys.unb64(own)).raw if own is not None else None
        pin = data.get("pin")
        document = data.get("key_set_document")
        public, sealed = data.get("encryption_public"), data.get("encryption_sealed")
        enrolment = data.get("enrolment_document")
        registration = data.get("registration")
        return cls(
            enrolment_document=keys.unb64(enrolment) if isinstance(enrolment, str) else None,
            registration=keys.unb64(registration) if isinstance(registration, str) else None,
            encryption_public=keys.unb64(public) if isinstance(public, str) else None,
            encryption_sealed=keys.unb64(sealed) if isinstance(sealed, str) else None,
            pin=dict(pin) if isinstance(pin, dict) else None,
            key_set_document=keys.unb64(document) if isinstance(document, str) else None,
            device_id=data["device_id"],
            device_name=str(data["device_name"]),
            private_key_pem=pem,
            office_encryption_keys=dict(key_set.encryption_keys),
            office_signing_keys=dict(key_set.signing_keys),
            server_url=str(data["server_url"]),
            current_office_key_id=key_set.current_encryption_key_id,
            recovery_public_key=key_set.recovery_key,
            root_public_key=root,
            key_set_serial=key_set.serial,
            office_importer_keys=key_set.importer_keys,
            encryption_key=encryption_key,
        )
