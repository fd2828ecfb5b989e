"""Which public keys in the vault may receive a key (docs/security.md, "Signed vault keys").

Sealing needs only a public key, and ``vault.json`` is a plain file: someone who can write
the profile folder could put a public key of her own into a colleague's entry and wait
for a supervisor to seal that colleague's store key (or the site key) to it. So every user
signs her own vault public key with her signing key at sign-in, and a key is sealed to
another user only when that signature checks against the key her signed user row names,
certified by an administrator (``storage/integrity.py``). Until the profile's signed state
exists (an older profile before its first administrator sign-in) keys are taken as they
are.
"""

from __future__ import annotations

import logging

from sqlmodel import select

from intake_app.storage import integrity, user_keys, users
from intake_app.storage.database import Database
from intake_app.storage.integrity import StateReport
from intake_app.storage.models import UserKey
from intake_app.storage.vault import Vault

log = logging.getLogger("intake.storage")


class VaultTrust:
    """Answers "may a key be sealed to this user's vault public key?" (cached per name).

    ``report``: the signed state as checked at this sign-in; None checks it afresh when
    first needed (after keys changed during the session, e.g. on the recovery path).
    """

    def __init__(
        self, profile_db: Database, vault: Vault, report: StateReport | None = None
    ) -> None:
        self._db = profile_db
        self._vault = vault
        self._given = report
        self._known: dict[str, bool] = {}
        self._refs: dict[str, str] | None = None

    @property
    def _report(self) -> StateReport:
        if self._given is None:
            with self._db.read() as session:
                self._given = integrity.check_state(session)
        return self._given

    def trusted(self, username: str) -> bool:
        if not self._report.bootstrapped:
            return True
        if username not in self._known:
            self._known[username] = self._check(username)
            if not self._known[username]:
                log.error("a vault public key does not carry its owner's signature")
        return self._known[username]

    def trusted_ref(self, ref: str) -> bool:
        """:meth:`trusted` for a name hash of the vault."""
        if self._refs is None:
            with self._db.read() as session:
                names = [u.username for u in users.list_all(session)]
            self._refs = {self._vault.user_ref(name): name for name in names}
        name = self._refs.get(ref)
        return name is not None and self.trusted(name)

    def _check(self, username: str) -> bool:
        claim = self._vault.public_key_claim(username)
        if claim is None:
            return False
        message, kid, signature = claim
        with self._db.read() as session:
            user = users.get_by_name(session, username=username)
            key = session.exec(select(UserKey).where(UserKey.kid == kid)).first()
        if user is None or user.id is None or key is None:
            return False
        values = self._report.signed.get(user.id)
        if values is None or not values.active or user.key_id != kid or key.user_id != user.id:
            return False
        if kid not in self._report.signers and not integrity.key_certified(
            key, self._report.signers
        ):
            return False
        return user_keys.verify(key.public_key, user_keys.VAULT_KEY_DOMAIN, message, signature)
