"""The device identity and the office's public key set.

A :class:`DeviceIdentity` is everything a device needs to sync: its id and name, its
ECDSA P-384 private key, the office's public keys (encryption keys to seal to, signing keys
to check receipts and forms with), the server URL and an optional recovery key. The device
side stores :meth:`DeviceIdentity.to_json` inside its encrypted profile database; it holds a
private key and never goes anywhere else.

An :class:`OfficeKeySet` is the public half of the office's keys as published in enrolment
files and in the signed key-set document (``GET /v1/keys``) after a key rotation.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from intake_app.sync import keys
from intake_app.sync.errors import SignatureError
from intake_app.sync.keys import EncryptionPublicKey

IDENTITY_FORMAT = "intake-device-identity"
IDENTITY_VERSION = 1
KEY_SET_TYPE = "office-keys"


def is_uuid(value: object) -> bool:
    """True for a UUID in canonical lower-case form (what ids look like on the wire)."""
    if not isinstance(value, str) or len(value) != 36:
        return False
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class OfficeKeySet:
    """The office's public keys: what devices seal to and whose signatures they trust."""

    encryption_keys: Mapping[str, EncryptionPublicKey]
    current_encryption_key_id: str
    signing_keys: Mapping[str, ec.EllipticCurvePublicKey]
    recovery_key: EncryptionPublicKey | None = None

    def to_content(self) -> dict[str, Any]:
        """The JSON form used inside enrolment files and key-set documents."""
        return {
            "encryption_keys": [k.to_json() for k in self.encryption_keys.values()],
            "current_encryption_key": self.current_encryption_key_id,
            "signing_keys": [keys.signing_public_to_json(k) for k in self.signing_keys.values()],
            "recovery_key": self.recovery_key.to_json() if self.recovery_key else None,
        }

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
        except (KeyError, TypeError, ValueError):
            raise SignatureError("malformed") from None
        encryption_keys = {k.key_id: k for k in enc}
        if current not in encryption_keys or not sig:
            raise SignatureError("malformed")
        return cls(
            encryption_keys=encryption_keys,
            current_encryption_key_id=current,
            signing_keys={keys.signing_key_id(k): k for k in sig},
            recovery_key=recovery,
        )


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
    """

    device_id: str
    device_name: str
    private_key_pem: bytes = field(repr=False)
    office_encryption_keys: Mapping[str, EncryptionPublicKey]
    office_signing_keys: Mapping[str, ec.EllipticCurvePublicKey]
    server_url: str
    current_office_key_id: str
    recovery_public_key: EncryptionPublicKey | None = None

    def signing_key(self) -> ec.EllipticCurvePrivateKey:
        """The device's private signing key."""
        return keys.private_key_from_pem(self.private_key_pem)

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.signing_key().public_key()

    @property
    def key_id(self) -> str:
        """The key id of the device's signing key (named in every batch header)."""
        return keys.signing_key_id(self.public_key())

    def office_key(self) -> EncryptionPublicKey:
        """The office encryption key that new batches are sealed to."""
        return self.office_encryption_keys[self.current_office_key_id]

    def key_set(self) -> OfficeKeySet:
        return OfficeKeySet(
            encryption_keys=dict(self.office_encryption_keys),
            current_encryption_key_id=self.current_office_key_id,
            signing_keys=dict(self.office_signing_keys),
            recovery_key=self.recovery_public_key,
        )

    def with_key_set(self, key_set: OfficeKeySet) -> DeviceIdentity:
        """A copy that trusts ``key_set`` (after the office rotated keys).

        Signing keys the device already trusted stay trusted, so receipts signed before a
        rotation still verify.
        """
        signing = dict(self.office_signing_keys)
        signing.update(key_set.signing_keys)
        encryption = dict(key_set.encryption_keys)
        return replace(
            self,
            office_encryption_keys=encryption,
            office_signing_keys=signing,
            current_office_key_id=key_set.current_encryption_key_id,
            recovery_public_key=key_set.recovery_key,
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
        }
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> DeviceIdentity:
        """Read :meth:`to_json` output; ValueError when the text is not an identity."""
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("format") != IDENTITY_FORMAT:
            raise ValueError("not a device identity")
        if data.get("version") != IDENTITY_VERSION:
            raise ValueError("unsupported device identity version")
        try:
            key_set = OfficeKeySet.from_content(data)
        except SignatureError as exc:
            raise ValueError("damaged office keys in the device identity") from exc
        pem = str(data["private_key_pem"]).encode("ascii")
        keys.private_key_from_pem(pem)
        if not is_uuid(data["device_id"]):
            raise ValueError("device id is not a UUID")
        return cls(
            device_id=data["device_id"],
            device_name=str(data["device_name"]),
            private_key_pem=pem,
            office_encryption_keys=dict(key_set.encryption_keys),
            office_signing_keys=dict(key_set.signing_keys),
            server_url=str(data["server_url"]),
            current_office_key_id=key_set.current_encryption_key_id,
            recovery_public_key=key_set.recovery_key,
        )
