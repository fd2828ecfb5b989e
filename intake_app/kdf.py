"""Argon2id parameters for every key file wrapped under a password or passphrase.

The device vault (``storage/vault.py``) and the office key files (``central/keystore.py``)
both stretch a secret with Argon2id; the parameters and their JSON form live here so that
neither side imports the other (docs/architecture.md, layers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from intake_app.errors import ProfileError
from intake_app.i18n import _


@dataclass(frozen=True, slots=True)
class KdfParams:
    """Argon2id parameters; the defaults are RFC 9106's second recommended option."""

    iterations: int = 3
    lanes: int = 4
    memory_kib: int = 64 * 1024

    def to_json(self) -> dict[str, Any]:
        return {
            "alg": "argon2id",
            "iterations": self.iterations,
            "lanes": self.lanes,
            "memory_kib": self.memory_kib,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KdfParams:
        if data.get("alg") != "argon2id":
            raise ProfileError(_("Der Schlüsseltresor verwendet ein unbekanntes Verfahren."))
        return cls(
            iterations=int(data["iterations"]),
            lanes=int(data["lanes"]),
            memory_kib=int(data["memory_kib"]),
        )


RFC9106_MINIMUM = KdfParams()
