"""A new key for the profile database when someone who held it leaves.

docs/security.md, "Granting and revoking": every user's keys open the profile database
(users, settings, the audit log). When a user is deactivated or her password is reset by
the administration, the profile database gets a new random key at once, sealed to every
remaining user and the recovery key: her old password, her old copy of the vault or an
old backup open at most what the file held before.

The order makes a crash harmless: the new key is sealed (the old one kept, encrypted
under the new) before the file is re-encrypted, and the old one is dropped after. The
next sign-in finishes an interrupted re-key (:func:`settle`), or does one that was asked
for but not begun (after the file is open).
"""

from __future__ import annotations

import logging
from pathlib import Path

from intake_app.storage.database import Database, key_opens, rekey_file
from intake_app.storage.vault import Vault, new_database_key

log = logging.getLogger("intake.storage")


def rekey_open(
    db: Database,
    vault: Vault,
    key: bytes,
    *,
    recovery_digest: bytes | None = None,
    only: set[str] | None = None,
    trust_recovery_file: bool = False,
) -> bytes:
    """Give the open profile database a new key; return it (``recovery_digest``, ``only``,
    ``trust_recovery_file``: see :meth:`Vault.begin_profile_rekey`)."""
    new_key = new_database_key()
    vault.begin_profile_rekey(
        old_key=key,
        new_key=new_key,
        recovery_digest=recovery_digest,
        only=only,
        trust_recovery_file=trust_recovery_file,
    )
    db.change_key(new_key)
    vault.finish_profile_rekey()
    log.info("the profile database was re-keyed")
    return new_key


def settle(path: Path, vault: Vault, key: bytes) -> None:
    """Before the profile database opens: finish an interrupted re-key (``key``, the one
    the vault gives now, opens the file afterwards). A re-key that was asked for but not
    begun is done once the file is open and the signed state says who receives the new
    key (``app._profile_seals_checked``, docs/security.md, "Signed vault keys")."""
    previous, _due = vault.profile_rekey_state(key)
    if previous is not None:
        if not key_opens(path, key) and key_opens(path, previous):
            rekey_file(path, previous, key)  # the crash came before the file changed
        vault.finish_profile_rekey()
        log.info("an interrupted re-key of the profile database was finished")
