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
from dataclasses import dataclass

from sqlalchemy import select

from intake_app.core.permissions import Role
from intake_app.i18n import _
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
    def report(self) -> StateReport:
        if self._given is None:
            with self._db.read() as session:
                self._given = integrity.check_state(session)
        return self._given

    def trusted(self, username: str) -> bool:
        if not self.report.bootstrapped:
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
            key = session.scalars(select(UserKey).where(UserKey.kid == kid)).first()
        if user is None or user.id is None or key is None:
            return False
        values = self.report.signed.get(user.id)
        if values is None or not values.active or user.key_id != kid or key.user_id != user.id:
            return False
        if kid not in self.report.signers and not integrity.key_certified(key, self.report.signers):
            return False
        return user_keys.verify(key.public_key, user_keys.VAULT_KEY_DOMAIN, message, signature)

    def may_hold_profile(self, username: str) -> bool:
        """May a new profile key be sealed to ``username``'s vault public key? Her own
        signature (:meth:`trusted`), or, while her entry is provisional (an administrator
        set the password and made the pair), the signature of an active administrator by
        her signed row over the pair and the signing key her signed row names now (a
        reset issues a new one: docs/security.md, "Signed vault keys")."""
        if self.trusted(username):
            return True
        claim = self._vault.provisional_claim(username)
        if claim is None:
            return False
        message, kid, signature, for_kid = claim
        with self._db.read() as session:
            user = users.get_by_name(session, username=username)
            speaking = integrity.speaking_keys(session)
        if user is None or user.key_id != for_kid:
            return False  # made before her key was issued again (a reset since)
        for key, values in speaking.values():
            if key.kid == kid and values.role == Role.ADMIN.value:
                return user_keys.verify(
                    key.public_key, user_keys.VAULT_KEY_DOMAIN, message, signature
                )
        return False


@dataclass(frozen=True, slots=True)
class ProfileRecipients:
    """Who receives a new profile key (docs/security.md, "Signed vault keys")."""

    #: vault references that may receive it; None: every entry (no signed state yet)
    refs: set[str] | None
    #: active users by signed row left out: their entry's public key carries no signature
    #: that checks (planted, or not signed in since signed vault keys); they need a new
    #: password from the administration
    withheld: list[str]
    #: vault references of every active user by signed row
    active: set[str]


def active_refs(profile_db: Database, vault: Vault, report: StateReport) -> dict[str, str]:
    """Vault reference -> name of every user whose signed row says active."""
    with profile_db.read() as session:
        names = [
            u.username
            for u in users.list_all(session)
            if u.id is not None and u.id in report.signed and report.signed[u.id].active
        ]
    return vault.refs_for(names)


def profile_recipients(
    profile_db: Database, vault: Vault, report: StateReport | None = None
) -> ProfileRecipients:
    """The entries a new profile key is sealed to: active users by their signed rows whose
    vault public key carries a signature that checks. Not every entry, nor every active
    user's: someone who writes the folder could put a former colleague's public key into
    an active colleague's entry, and the next re-key would seal the new key to her
    (attacker run 19)."""
    trust = VaultTrust(profile_db, vault, report)
    state = trust.report
    refs = active_refs(profile_db, vault, state)
    active = set(refs)
    if not state.bootstrapped:
        return ProfileRecipients(None, [], active)
    allowed: set[str] = set()
    withheld: list[str] = []
    for ref, name in refs.items():
        if not vault.has_user(name):
            continue  # no entry: nothing to seal to
        if trust.may_hold_profile(name):
            allowed.add(ref)
        else:
            withheld.append(name)
    if withheld:
        log.error(
            "%d active users' vault keys carry no signature: no new profile key", len(withheld)
        )
    return ProfileRecipients(allowed, sorted(withheld), active)


def withheld_message(names: list[str]) -> str:
    """What a user who re-keyed the profile database is told about those left out."""
    return _(
        "Die Profildatenbank hat einen neuen Schlüssel. Diese Konten haben ihn nicht "
        "erhalten, weil ihr Schlüssel in der Schlüsseldatei (vault.json) keine gültige "
        "Unterschrift trägt: {names}. Die Administration vergibt ihnen ein neues Passwort; "
        "danach melden sie sich wieder an."
    ).format(names=", ".join(names))
