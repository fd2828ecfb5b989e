"""Builders for sync tests: office keys, device identities, realistic payloads.

Shared by the sync, central and end-to-end tests. Names and answers are synthetic.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from intake_app.sync import keys
from intake_app.sync.identity import DeviceIdentity, OfficeKeySet
from intake_app.sync.keys import EncryptionPrivateKey

SITES = ("Köln-Mülheim", "Düsseldorf-Mitte", "Bielefeld", "Dortmund-Nord")
DOCUMENTS = ("duldung_60a", "aufenthaltsgestattung_55", "aufenthaltserlaubnis", "fiktion_81")
GOALS = ("employment", "vocational_training", "study", "self_employment")
SERVICES = ("jobcenter", "iq_counselling", "mbe", "language_course")


@dataclass
class Office:
    """An office key set with private halves, for tests that play both sides."""

    encryption: dict[str, EncryptionPrivateKey]
    current: str
    signing: ec.EllipticCurvePrivateKey
    recovery: EncryptionPrivateKey | None = None
    extra_signing: dict[str, ec.EllipticCurvePrivateKey] = field(default_factory=dict)
    root: ec.EllipticCurvePrivateKey = field(default_factory=keys.generate_signing_key)
    serial: int = 1

    @property
    def root_kid(self) -> str:
        return keys.signing_key_id(self.root.public_key())

    @property
    def signing_kid(self) -> str:
        return keys.signing_key_id(self.signing.public_key())

    def key_set(self) -> OfficeKeySet:
        return OfficeKeySet(
            encryption_keys={kid: k.public_key() for kid, k in self.encryption.items()},
            current_encryption_key_id=self.current,
            signing_keys={self.signing_kid: self.signing.public_key()},
            recovery_key=self.recovery.public_key() if self.recovery else None,
            serial=self.serial,
            issued="2026-01-01T00:00:00Z",
            importer_keys=frozenset({self.signing_kid}),
        )

    def trusted(self) -> dict[str, ec.EllipticCurvePublicKey]:
        return {self.signing_kid: self.signing.public_key()}


def make_office(*, recovery: bool = False) -> Office:
    key = EncryptionPrivateKey.generate()
    return Office(
        encryption={key.key_id: key},
        current=key.key_id,
        signing=keys.generate_signing_key(),
        recovery=EncryptionPrivateKey.generate() if recovery else None,
    )


def make_identity(
    office: Office,
    *,
    device_id: str | None = None,
    name: str = "laptop-01",
    server_url: str = "http://127.0.0.1:9",
    private: ec.EllipticCurvePrivateKey | None = None,
) -> DeviceIdentity:
    key_set = office.key_set()
    return DeviceIdentity(
        device_id=device_id or str(uuid.uuid4()),
        device_name=name,
        private_key_pem=keys.private_key_to_pem(private or keys.generate_signing_key()),
        office_encryption_keys=dict(key_set.encryption_keys),
        office_signing_keys=dict(key_set.signing_keys),
        server_url=server_url,
        current_office_key_id=key_set.current_encryption_key_id,
        recovery_public_key=key_set.recovery_key,
        root_public_key=office.root.public_key(),
        key_set_serial=key_set.serial,
        office_importer_keys=key_set.importer_keys,
    )


def make_record(
    *,
    record_id: str | None = None,
    revision: int = 1,
    rng: random.Random | None = None,
    central_consent: bool = True,
    family_name: str = "Testperson",
    padding: int = 0,
) -> dict[str, Any]:
    """A finalised record shaped as the device produces it."""
    rng = rng or random.Random(revision)
    day = rng.randint(1, 28)
    return {
        "id": record_id or str(uuid.uuid4()),
        "revision": revision,
        "form_id": "intake",
        "form_version": "2026.1",
        "status": "complete",
        "site": rng.choice(SITES),
        "counsellor": "a.schmidt",
        "created_at": f"2026-11-{day:02d}T09:12:00Z",
        "finalised_at": f"2026-11-{day:02d}T10:01:00Z",
        "answers": {
            "family_name": family_name,
            "given_names": "Amal",
            "birth_date": "1990-04-01",
            "residence_document": rng.choice(DOCUMENTS),
            "goal_type": rng.choice(GOALS),
            "intake_date": f"2026-11-{day:02d}",
            "referrals": [{"service": rng.choice(SERVICES), "date": f"2026-11-{day:02d}"}],
            "notes": "x" * padding,
        },
        "consent": {
            "purposes": {
                "central_office": {
                    "granted": central_consent,
                    "date": "2026-11-20",
                    "withdrawn_on": None,
                },
                "jobcenter_transfer": {
                    "granted": True,
                    "date": "2026-11-20",
                    "withdrawn_on": None,
                },
            },
            "art9": False,
            "language": "ar",
            "interpreter": True,
            "date": "2026-11-20",
        },
    }


def make_payload(
    count: int = 3, *, seed: int = 1, instructions: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    rng = random.Random(seed)
    return {
        "records": [make_record(rng=rng, revision=rng.randint(1, 3)) for _ in range(count)],
        "instructions": instructions or [],
    }


def erasure(record_id: str) -> dict[str, Any]:
    return {
        "type": "erasure",
        "record_id": record_id,
        "requested_at": "2026-11-25T10:00:00Z",
        "reason": "Art. 17 DSGVO",
    }


def withdrawal(
    record_id: str, *, revision: int = 1, purpose: str = "central_office"
) -> dict[str, Any]:
    return {
        "type": "consent_withdrawal",
        "record_id": record_id,
        "revision": revision,
        "purpose": purpose,
        "withdrawn_on": "2026-11-23",
    }
