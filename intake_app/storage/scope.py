"""What a signed-in user's keys open: the profile database and the record stores.

docs/security.md, "Device: keys and scopes". A counsellor opens her own store(s); a
supervisor who holds the site key opens every store of the site; an administrator opens
only the profile database. The scope is computed from the keys, not from the role: a
supervisor without the site key sees only her own store.

Signing in also does the pending key work a signed-in user is able to do:

- a user without a store of her own (counsellor, supervisor) gets a new, empty one (if
  her password was chosen by an administrator, the store gets a new key when she
  chooses her own, see :func:`rekey_own_stores`);
- a store marked for a new key (after a password reset, a deactivation, or the move from
  layout 1) is re-keyed by whoever opens it first: its owner, or a supervisor;
- a store whose owner has no seal for it (after a reset, once she chose her password) is
  sealed to her again by a supervisor.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import sqlcipher3
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError

from intake_app.core.audit import AuditAction
from intake_app.core.permissions import Actor, Role
from intake_app.errors import ProfileError
from intake_app.i18n import _
from intake_app.storage import audit, schema_guard, users
from intake_app.storage.database import Database, key_opens
from intake_app.storage.integrity import StateReport
from intake_app.storage.models import DeviceRow
from intake_app.storage.owners import sign_own
from intake_app.storage.schema_snapshot import PROFILE, STORE
from intake_app.storage.site_grants import (
    VIA_MIGRATED,
    grants_were_made,
    make_grant,
    valid_grants,
)
from intake_app.storage.stores import (
    client_objects,
    client_schema,
    create_store,
    ensure_client_tables,
    new_store_id,
    new_store_key,
    open_store,
    read_store_pin,
    rekey_store,
    store_cache_kib,
    store_files,
    store_identity,
    store_path,
    write_store_pin,
)
from intake_app.storage.user_keys import SigningKeys
from intake_app.storage.vault import UserKeys, Vault, bundle_bytes, remembered_recovery
from intake_app.storage.vault_trust import VaultTrust
from intake_app.sync.identity import DeviceIdentity
from intake_app.sync.keys import EncryptionPrivateKey, b64, unb64

log = logging.getLogger("intake.storage")

#: How far the audit log may grow past what a holder's bundle remembers before it is
#: written again (storage/scope.py, ``_SiteMemory``): the next sign-in reads only that far.
AUDIT_STEP = 500


@dataclass
class Scope:
    """The open databases of one signed-in user.

    Attributes:
        profile_db: the profile database alone (users, settings, audit, device).
        stores: every record store her keys open, by store id (each with the profile
            database attached).
        own: her own store that new records go to (None for administrators).
    """

    profile_db: Database
    stores: dict[str, Database] = field(default_factory=dict)
    own: str | None = None
    #: what in the vault file the signed state does not allow (German, translated)
    findings: list[str] = field(default_factory=list)
    #: stores (id -> owner id) sealed to their owner again only when a supervisor
    #: confirms it: the owner's key pair was replaced by a password reset
    awaiting: dict[str, int] = field(default_factory=dict)
    #: stores of the site listed in the vault but not opened here (missing, unreadable):
    #: a supervisor's sync then vouches for nothing of a colleague's store, since "held
    #: by no other store" cannot be told (docs/security.md, "Batches signed by their
    #: sender")
    left_out: int = 0

    @property
    def home(self) -> Database:
        """The database most services use: her own store, else the profile database."""
        if self.own is not None and self.own in self.stores:
            return self.stores[self.own]
        return self.profile_db

    def share_signer(self, signer: object = None) -> None:
        """Every store signs audit entries with the user's key, as the profile database does
        (audit entries written in a store's session go to the attached profile database)."""
        signer = signer if signer is not None else self.profile_db.audit_signer
        self.profile_db.audit_signer = signer
        for db in self.stores.values():
            db.audit_signer = signer

    def close(self) -> None:
        for db in self.stores.values():
            db.close()
        self.profile_db.close()


def _recipients(
    profile_db: Database, vault: Vault, report: StateReport | None
) -> tuple[dict[int, str], set[str]]:
    """Who may receive a key (docs/security.md, "Who receives a key").

    Returns (user id -> name of every user a store may be sealed to, names of those who
    may hold the site key). Both come from the signed user rows: the role and active flag
    their signatures cover, never the plain columns; a user whose row or key does not
    check receives nothing. A profile whose signed state does not exist yet (before its
    first administrator sign-in) falls back to the columns.
    """
    with profile_db.read() as session:
        rows = [u for u in users.list_all(session) if u.id is not None]
    signed_state = report is not None and report.bootstrapped
    chosen: dict[int, tuple[str, str]] = {}
    for u in rows:
        assert u.id is not None
        if signed_state:
            assert report is not None
            signed = report.signed.get(u.id)
            if signed is None or report.findings_for(u.id):
                continue
            role, active = signed.role, signed.active
        else:
            role, active = u.role, bool(u.active)
        if active:
            chosen[u.id] = (u.username, role)
    provisional = vault.provisional_names([name for name, _role in chosen.values()])
    owners = {uid: name for uid, (name, _role) in chosen.items() if name not in provisional}
    site = {
        name
        for uid, (name, role) in chosen.items()
        if uid in owners and role == Role.SUPERVISOR.value
    }
    return owners, site


def open_scope(
    *,
    root: Path,
    profile_db: Database,
    vault: Vault,
    keys: UserKeys,
    actor: Actor,
    trust: VaultTrust | None = None,
    report: StateReport | None = None,
    signer: SigningKeys | None = None,
) -> Scope:
    """Open every store ``keys`` reach, doing the pending key work first.

    ``report``: the signed state checked at sign-in; every key handed on goes only to
    whom it names (docs/security.md, "Who receives a key"). ``trust`` says whose vault
    public key may receive a store or the site key (docs/security.md, "Signed vault
    keys"); without it, every public key is taken as it is. ``signer``: her own signing
    keys (a supervisor signs the grants of the holders an older profile has).
    """
    scope = Scope(profile_db=profile_db)
    try:
        _fill(
            scope,
            root=root,
            vault=vault,
            keys=keys,
            actor=actor,
            trust=trust,
            report=report,
            signer=signer,
        )
    except BaseException:
        for db in scope.stores.values():
            db.engine.dispose()
        raise
    return scope


def _fill(
    scope: Scope,
    *,
    root: Path,
    vault: Vault,
    keys: UserKeys,
    actor: Actor,
    trust: VaultTrust | None,
    report: StateReport | None,
    signer: SigningKeys | None = None,
) -> None:
    profile_db = scope.profile_db

    def sealable(name: str | None) -> str | None:
        """``name`` when a store key may be sealed to her vault key, else None."""
        if name is None or name == actor.username or trust is None or trust.trusted(name):
            return name
        return None

    infos = vault.stores()
    site = keys.site_private()
    if site is not None:
        site = _check_site_key(scope, profile_db, actor, vault, keys, site, root=root)
    # only a holder of the site key hands keys on to others
    owners, site_names = _recipients(profile_db, vault, report) if site is not None else ({}, set())
    allowed: set[str] | None = None
    intruders: set[str] = set()
    if site is not None and report is not None and report.bootstrapped:
        # only supervisors by their signed rows who hold a signed grant (docs/security.md,
        # "Site key grants")
        granted = _granted(
            scope,
            vault=vault,
            site=site,
            report=report,
            actor=actor,
            signer=signer,
            site_names=site_names,
        )
        allowed = set(vault.refs_for(sorted(site_names))) & granted
        # a seal of a holder from before grants who has not signed in since is left
        # alone (she takes hers over herself, see _granted); any other seal without a
        # grant was planted: a new site key
        waiting = vault.site_pending(site) & set(vault.refs_for(sorted(site_names)))
        intruders = vault.site_seal_refs() - allowed - waiting
        if (
            actor.role is not Role.SUPERVISOR
            or actor.username not in site_names
            or vault.user_ref(actor.username) not in allowed
        ):
            # the site key reached someone whose signed row does not allow it: she gets
            # no more than her own store, and it is reported
            _report(scope, profile_db, actor, "site_key_not_allowed", actor.username)
            site = None
            keys.sealed.pop("site", None)
    # what her bundle (only her password writes it) remembers of the site key from her
    # last sign-in: a former holder still has the site key and can rewrite whatever the
    # vault authenticates with it (docs/security.md, "A holder who left")
    memory = _site_memory(keys) if site is not None else None
    fresh = False
    audit_head = 0
    known_recovery = remembered_recovery(keys) or (memory.recovery if memory else None)
    if site is not None:
        # a supervisor left since her last sign-in (the signed audit entry of her
        # deactivation or reset, which also names the recovery key then): a new site key
        # now, even if the file's rotation request was taken out or a "previous" key put in
        left, audit_head = _holder_left(profile_db, after=memory.audit_seq if memory else 0)
        if left is not None:
            fresh = True
            known_recovery = known_recovery or left or None
        if known_recovery is not None and keys.site_recovery_digest() != known_recovery:
            # her seal names another recovery key than the one she saw: it was sealed to
            # her anew outside the program; the site key goes only to the one she knows
            _report(scope, profile_db, actor, "recovery_public_changed", "recovery")
            keys.sealed["site"] = site.raw + known_recovery
        if (
            memory is not None
            and allowed is not None
            and memory.public == site.public_key().raw
            and memory.holders - allowed
        ):
            # someone who held this very site key at her last sign-in holds it no longer
            # by the signed state: a new site key now, whatever the file says of a rotation
            fresh = True
    recovery_digest = keys.site_recovery_digest()
    rotating = site is not None and (vault.site_rotation_pending() or bool(intruders) or fresh)
    if rotating:
        if intruders:
            # a site seal in the vault for someone the signed state does not name: never
            # honoured; a new site key goes only to whom it names
            _report(scope, profile_db, actor, "site_key_holder_unsigned", f"{len(intruders)}")
        # a holder of the site key left (or one was planted): a new site key, sealed only
        # to active supervisors by their signed rows whose vault key carries their
        # signature, and every store re-keyed to it
        previous_site = site
        keys.sealed["site"] = vault.rotate_site(
            keys,
            holders=allowed,
            trusted=trust.trusted_ref if trust is not None else None,
            fresh=fresh,
        ).raw
        if recovery_digest is not None:
            keys.sealed["site"] += recovery_digest
        site = keys.site_private()
        if site is not None and previous_site is not None:
            _reseal_handover_key(profile_db, previous_site, site)
    complete = True
    if site is None:
        owners = {}
    known: dict[str, bytes] = {}
    key_map = vault.key_map(keys)  # the vault is read once, not once per store
    holders = vault.seal_holders(owners)
    me_provisional = vault.is_provisional(actor.username)
    bad_owner: set[str] = set()
    made_here: set[str] = set()  # stores whose key a holder made in this sign-in
    snapshot = vault.snapshot()  # each store's entry changes only in its own step below
    for sid, info in infos.items():
        path = store_path(root, sid)
        candidates = key_map.get(sid, [])
        if not candidates:
            if site is not None:
                # a holder of the site key opens every store: this one's key was sealed to
                # another site key (docs/security.md, "The site public key")
                log.error("a store is not sealed to the site key")
                scope.findings.append(_unreadable_store())
                scope.left_out += 1
            continue
        if not path.is_file():
            log.error("a store listed in the vault is missing")
            complete = False
            scope.left_out += 1
            continue
        if len(candidates) == 1:  # the usual case: opening the store below checks it
            key: bytes | None = candidates[0]
        else:
            key = next((k for k in candidates if key_opens(path, k)), None)
        if key is None:
            log.error("no key of this user opens a store sealed to her")
            complete = False
            scope.left_out += 1
            continue
        # the owner a key may be sealed to: named by someone who held the store's key
        # (docs/security.md, "Store owners"), and active by her signed row
        confirmed = vault.owner_confirmed(sid, key, data=snapshot)
        own_seal = candidates[0] == keys.sealed.get(f"store:{sid}")
        if (
            confirmed is not False
            and own_seal
            and info.owner_id == actor.user_id
            and not me_provisional
            and not vault.owner_key_current(sid, actor.username, data=snapshot)
        ):
            # an older store opened by its owner herself: confirmed, naming her key
            vault.confirm_owner(sid, key, owner=actor.username)
            confirmed = True
        elif confirmed is False:
            _report(scope, profile_db, actor, "store_owner_changed", sid[:16])
        owner_name = owners.get(info.owner_id) if confirmed else None
        if owner_name is not None and info.owner_id != actor.user_id:
            # sealed to her only while the confirmation names the key pair she has now
            # (or she holds it already); a reset gave her a new one: a supervisor confirms
            # first (docs/security.md, "Password reset")
            current = vault.owner_key_current(sid, owner_name, data=snapshot)
            if current is False or (current is None and (sid, info.owner_id) not in holders):
                scope.awaiting[sid] = info.owner_id
                owner_name = None
        if info.owner_id == actor.user_id and not me_provisional and confirmed is not False:
            owner_name = actor.username
        if confirmed is False:
            bad_owner.add(sid)
        unfinished = key != candidates[0] and (site is not None or info.owner_id == actor.user_id)
        if unfinished and not vault.rekey_vouched(sid, key, candidates[0], data=snapshot):
            # a key someone sealed without being able to open the store (anyone can seal
            # to a public key): the file keeps the key that opens it (docs/security.md,
            # "Granting and revoking")
            _report(scope, profile_db, actor, "store_key_unvouched", sid[:16])
            unfinished = False
        if unfinished:  # a re-key was interrupted: finish it with the key already sealed
            rekey_store(path, key, candidates[0])
            vault.clear_previous(sid)
            key = candidates[0]
        elif (info.rekey or rotating) and (site is not None or info.owner_id == actor.user_id):
            key = rekey(root, vault, sid, key, owner=sealable(owner_name))
            _audit(profile_db, actor, AuditAction.STORE_REKEYED, sid, info.owner_id)
            made_here.add(sid)
        elif (
            site is not None
            and info.owner_id != actor.user_id
            and owner_name is not None
            and sealable(owner_name) is not None
            and not vault.held_confirmed(sid, key, site)
        ):
            # a key its owner made (a new store, or her own re-key): she sealed it to the
            # site key the file named then, which may not have been the site's; a holder
            # gives it a new key once (docs/security.md, "The site public key")
            key = rekey(root, vault, sid, key, owner=sealable(owner_name))
            _audit(profile_db, actor, AuditAction.STORE_REKEYED, sid, info.owner_id)
            made_here.add(sid)
        elif (
            site is not None
            and owner_name is not None
            and (sid, info.owner_id) not in holders
            and sealable(owner_name) is not None
        ):
            vault.set_store_key(sid, key=key, owner=owner_name)
        known[sid] = key
    if site is not None:
        # a store file the vault does not list (its entry taken out of vault.json) is left
        # out as well: "held by no other store" cannot be told (attacker run 24)
        scope.left_out += len(store_files(root) - set(infos))
        vault.pin_stores(known)
        # vouched for only where she made the key herself: a key she merely found (a store
        # planted with a key of someone else's choosing) is never vouched for
        vault.confirm_held(site, {sid: known[sid] for sid in made_here if sid in known})
    if vault.site_key_mismatch:
        # a store's pin names another site key than the file: sealed to the pinned one
        _report(scope, profile_db, actor, "site_public_changed", "site")
        vault.site_key_mismatch.clear()
    if site is not None and not rotating:
        missing = vault.missing_site_wraps(list(known))
        if missing:  # the next sign-in opens them without HPKE (storage/vault.py)
            vault.remember_site_wraps(site, {sid: known[sid] for sid in missing})
    if rotating and complete:
        vault.finish_site_rotation()
        _audit(profile_db, actor, AuditAction.STORE_REKEYED, "site-key-rotated", actor.user_id)
    own = [
        sid
        for sid, info in infos.items()
        if info.owner_id == actor.user_id and sid in known and sid not in bad_owner
    ]
    names_own = keys.private is not None and keys.ref != "recovery" and not me_provisional
    if own and names_own:
        own, identities = _named_own(vault, keys, root, own, known)
        if signer is not None and identities:
            # she signs which stores are hers, so that nobody relabels one as hers
            # (storage/owners.py; docs/security.md, "Store owners")
            sign_own(vault, signer, owner_id=actor.user_id, identities=identities)
        if site is not None and own:
            # a holder vouches for the keys of her own named stores (she made them; their
            # pins name the site key she holds, see _check_site_key): a case may be moved
            # there (Workspace._store_for_owner)
            vault.confirm_held(site, {sid: known[sid] for sid in own})
    # the site public key she can vouch for: a holder's checked one, else the one her own
    # named stores pin inside them, else what her bundle remembers from an earlier sign-in
    # (docs/security.md, "The site public key")
    remembered = bundle_bytes(keys, "site_public") if names_own else None
    vouched = vault.checked_site_public() or (_named_pin(vault, own, known) if names_own else None)
    vouched = vouched or remembered
    # no store for a key pair someone else chose: what is moved to her waits until she
    # chose her own password (docs/security.md, "Who receives a key")
    if names_own and vault.named_own_store_ids(keys) - set(infos):
        # a store her entry names as hers is gone from the file: what is in it is not
        # shown, and she is told (docs/security.md, "Her own stores")
        _report(scope, profile_db, actor, "own_store_missing", "stores")
    if actor.role in (Role.COUNSELLOR, Role.SUPERVISOR) and not own and not me_provisional:
        sid = new_store_id()
        key = new_store_key()
        site_public = vault.site_public_for_new_store(vouched)
        if site_public != vault.site_public().raw:
            # the file names another site key than the one she vouches for: her new store
            # is not sealed to it
            _report(scope, profile_db, actor, "site_public_changed", "site")
        vouched = site_public
        create_store(store_path(root, sid), key, client_schema(), site_public=site_public)
        vault.add_store(
            sid, owner_id=actor.user_id, owner=actor.username, key=key, site_public=site_public
        )
        if site is not None:  # a holder made this key herself
            vault.confirm_held(site, {sid: key})
        keys.sealed[f"store:{sid}"] = key  # sealed to her now; kept for a password change
        known[sid] = key
        own = [sid]
        if names_own:
            identity = store_identity(store_path(root, sid), key, create=True)
            assert identity is not None
            vault.name_own_stores(keys, {sid: identity})
            if signer is not None:
                sign_own(vault, signer, owner_id=actor.user_id, identities={sid: identity})
    remember: dict[str, object] = {}
    if names_own and vouched is not None and vouched != remembered:
        remember["site_public"] = b64(vouched)
    if names_own:
        remember.update(_recovery_to_remember(vault, keys, known_recovery))
    if names_own and site is not None:
        seen = _SiteMemory(
            site.public_key().raw,
            frozenset(allowed if allowed is not None else ()),
            keys.site_recovery_digest() or (memory.recovery if memory is not None else None),
            audit_head,
        )
        # written when what she saw changed, or the log grew by more than AUDIT_STEP
        # entries since (each sign-in adds some: a rewrite of her bundle every time would
        # cost a vault write for nothing)
        if (
            memory is None
            or (seen.public, seen.holders, seen.recovery)
            != (memory.public, memory.holders, memory.recovery)
            or seen.audit_seq - memory.audit_seq > AUDIT_STEP
        ):
            remember["site_seen"] = seen.to_json()
    if (
        names_own
        and actor.role in (Role.COUNSELLOR, Role.SUPERVISOR)
        and not keys.bundle.get("stores_named")
    ):
        # an entry from before named her stores now: from here on, an entry without
        # names is one whose names were taken out (docs/security.md, "Her own stores")
        remember["stores_named"] = True
    if remember:
        vault.put_bundle_values(keys, remember)
    objects = client_objects()
    for sid, key in known.items():
        try:
            store_db = open_store(
                store_path(root, sid),
                key,
                profile_db.path,
                keys.profile_key,
                verify=sid in own or len(known) <= 2,
                cache_kib=store_cache_kib(len(known)),
            )
        except ProfileError:
            log.error("a store does not open with the key sealed for it; it is left out")
            scope.findings.append(_unreadable_store())
            scope.left_out += 1
            continue
        try:  # a store written by an older version gets the record tables added since
            _guard_store_schema(scope, profile_db, store_db, actor, sid)
            ensure_client_tables(store_db, objects)
        except DatabaseError:
            store_db.engine.dispose()
            log.error("a store does not open with the key sealed for it; it is left out")
            scope.findings.append(_unreadable_store())
            scope.left_out += 1
            continue
        # a store another window re-keys meanwhile is opened again with its new key
        store_db.key_source = _StoreKeys(vault, keys, sid)
        scope.stores[sid] = store_db
    scope.own = own[-1] if own else None


class _StoreKeys:
    """A store's keys as the vault names them now (``Database.key_source``)."""

    def __init__(self, vault: Vault, keys: UserKeys, store_id: str) -> None:
        self._vault, self._keys, self._store_id = vault, keys, store_id
        self._seen = vault.file_signature()

    def changed(self) -> bool:
        now = self._vault.file_signature()
        if now == self._seen:
            return False
        self._seen = now
        return True

    def keys(self) -> list[bytes]:
        return self._vault.current_store_keys(self._keys, self._store_id)


@dataclass(frozen=True)
class _SiteMemory:
    """What a holder's bundle remembers of the site key from her last sign-in."""

    public: bytes
    holders: frozenset[str]
    recovery: bytes | None
    audit_seq: int = 0  # the audit log's newest entry then

    def to_json(self) -> dict[str, object]:
        return {
            "public": b64(self.public),
            "holders": sorted(self.holders),
            "recovery": b64(self.recovery) if self.recovery is not None else None,
            "audit_seq": self.audit_seq,
        }


def _site_memory(keys: UserKeys) -> _SiteMemory | None:
    value = keys.bundle.get("site_seen")
    if not isinstance(value, dict):
        return None
    try:
        holders = value["holders"]
        recovery = value.get("recovery")
        audit_seq = value.get("audit_seq", 0)
        if not isinstance(audit_seq, int):
            return None
        if not isinstance(holders, list) or not all(isinstance(h, str) for h in holders):
            return None
        return _SiteMemory(
            unb64(value["public"]),
            frozenset(holders),
            unb64(recovery) if isinstance(recovery, str) else None,
            audit_seq,
        )
    except (KeyError, ValueError):
        return None


def _holder_left(profile_db: Database, *, after: int) -> tuple[bytes | None, int]:
    """Whether an audit entry after number ``after`` says a supervisor left
    (storage/accounts.py, ``_site_left``): the recovery key's digest the newest such entry
    names (empty bytes when it names none), else None; and the newest number.

    Any such entry counts, whichever site key it names: the file she could write before
    she left may have named another one then. A holder who signs in for the first time
    after the update therefore makes one new site key if a supervisor ever left.

    Only users of the profile write its database, and a supervisor who left has no key
    to its current one; a counsellor who writes such an entry only causes one more new
    site key."""
    with profile_db.read() as session:
        rows = session.execute(
            text(
                "SELECT details FROM audit_log WHERE seq > :after "
                "AND action IN ('user_deactivated', 'password_reset')"
            ),
            {"after": after},
        ).all()
        head = session.execute(text("SELECT coalesce(max(seq), 0) FROM audit_log")).scalar_one()
    found: bytes | None = None
    for (details,) in rows:
        try:
            values = json.loads(details) if isinstance(details, str) else {}
            if "site" not in values:
                continue  # not a supervisor
            found = bytes.fromhex(str(values.get("recovery", "")))
        except (ValueError, AttributeError):
            continue
    return found, int(head)


def _recovery_to_remember(
    vault: Vault, keys: UserKeys, known: bytes | None = None
) -> dict[str, str]:
    """``recovery_seen`` for her bundle when it remembers no recovery key yet: ``known``,
    else her seal's, else the file's as it is at her first sign-in after the update
    (docs/security.md, "A holder who left"); nothing when it remembers one."""
    if remembered_recovery(keys) is not None:
        return {}
    first = known or keys.site_recovery_digest() or vault.recovery_digest()
    return {"recovery_seen": b64(first)} if first is not None else {}


def remember_recovery(vault: Vault, keys: UserKeys) -> None:
    """An administrator's sign-in (no stores): her bundle remembers the recovery key, so
    that a profile re-key she does later seals the new key only to that one
    (``Vault.begin_profile_rekey``)."""
    values = _recovery_to_remember(vault, keys)
    if values:
        vault.put_bundle_values(keys, values)


def _named_pin(vault: Vault, own: list[str], known: dict[str, bytes]) -> bytes | None:
    """The site public key her named own stores are pinned to, when they agree on one:
    the pin carries a MAC under the store's key, and nobody without her key names a store
    as hers, so whoever planted a store cannot make its pin count here."""
    pins = {vault.pinned_site_public(sid, known[sid]) for sid in own if sid in known}
    pins.discard(None)
    return pins.pop() if len(pins) == 1 else None


def _named_own(
    vault: Vault, keys: UserKeys, root: Path, own: list[str], known: dict[str, bytes]
) -> tuple[list[str], dict[str, bytes]]:
    """Of the stores with her owner id, those her entry names as her own (docs/security.md,
    "Her own stores"): new records go only there, with the identity of each that opened. A
    store someone else made and sealed to her (she could not tell it from her own) is read,
    never written to with new records. An entry from before names her stores now, once."""
    named: list[str] = []
    identities: dict[str, bytes] = {}
    first: dict[str, bytes] = {}
    for sid in own:
        path = store_path(root, sid)
        try:
            identity = store_identity(path, known[sid])
        except sqlcipher3.DatabaseError:  # does not open: opening it below reports it
            named.append(sid)
            continue
        verdict = vault.own_store_named(keys, sid, identity)
        if verdict is None:
            found = identity or store_identity(path, known[sid], create=True)
            assert found is not None
            first[sid] = identities[sid] = found
            named.append(sid)
        elif verdict:
            if identity is not None:
                identities[sid] = identity
            named.append(sid)
        else:
            log.warning("a store with her owner id is not named as hers; new records go elsewhere")
    vault.name_own_stores(keys, first)
    return named, identities


def _check_site_key(
    scope: Scope,
    profile_db: Database,
    actor: Actor,
    vault: Vault,
    keys: UserKeys,
    site: EncryptionPrivateKey,
    *,
    root: Path,
) -> EncryptionPrivateKey | None:
    """The site key she opened, checked against what only holders of store keys write
    (docs/security.md, "The site public key"); None when it is not this site's.

    - Her own stores' pins (MAC'd under their keys) must name it, or the previous site
      key during a rotation, and it must open the site seal of at least one other store
      where there are any: a site key sealed to her by someone else (anyone can seal to
      a public key) is not taken, and it is reported.
    - From then on this session seals to its public half; a file that names another
      site public key is corrected, and it is reported.
    - The recovery key's public key must carry its MAC under the site key (a profile
      from before gets it now); one changed outside the program is reported and gets no
      new site key (``Vault.rotate_site``).
    """
    known = vault.known_site_publics(keys)
    own = {name[len("store:") :] for name in keys.sealed if name.startswith("store:")}
    pins = [vault.pinned_site_public(sid, keys.sealed[f"store:{sid}"]) for sid in own]
    for sid in own:
        path = store_path(root, sid)
        if path.is_file():
            try:
                pins.append(read_store_pin(path, keys.sealed[f"store:{sid}"]))
            except Exception:  # a store that does not open is reported where it is opened
                log.debug("a store's own pin could not be read")
    pinned_elsewhere = any(pinned is not None and pinned not in known for pinned in pins)
    if pinned_elsewhere or vault.site_opens_any(keys, exclude=own) is False:
        _report(scope, profile_db, actor, "site_key_not_site", actor.username)
        keys.sealed.pop("site", None)
        return None
    if vault.trust_site_public(site):
        _report(scope, profile_db, actor, "site_public_changed", "site")
    digest = keys.site_recovery_digest()
    if digest is not None:
        if not vault.recovery_digest_matches(digest):
            _report(scope, profile_db, actor, "recovery_public_changed", "recovery")
    elif vault.has_recovery_public():
        # a seal from before the seals named the recovery key: its MAC decides (written
        # now where missing), and a new site key follows, sealed with the digest, so that
        # an old copy of such a seal opens nothing current
        if vault.check_recovery_public(site):
            vault.request_site_rotation()
        else:
            _report(scope, profile_db, actor, "recovery_public_changed", "recovery")
    return site


def _granted(
    scope: Scope,
    *,
    vault: Vault,
    site: EncryptionPrivateKey,
    report: StateReport,
    actor: Actor,
    signer: SigningKeys | None,
    site_names: set[str],
) -> set[str]:
    """The vault references whose site key grant checks (docs/security.md, "Site key
    grants").

    A profile from before grants came in has none. The first supervisor (by her signed
    row) whose own seal of this profile's site key opens signs a grant for herself alone
    (``migrated``), and lists the other supervisors by their signed rows whose entries
    carry a site seal as *pending*, authenticated under the site key. A pending
    supervisor whose own seal opens takes hers over the same way at her first sign-in.
    Nobody is ever granted on the file's word: a ``site`` entry in ``vault.json`` can be
    written by whoever writes the file, and only its owner can tell whether it opens;
    she proves it by opening it, so taking over a grant gives nobody anything new.

    A vault without grants on a profile whose audit log shows grants is reported (they
    were removed outside the program) and handled as above; the audit log decides
    nothing here, since whoever writes the profile database can change it.
    """
    profile_db = scope.profile_db
    with profile_db.read() as session:
        valid = valid_grants(session, vault, site, report)
        removed = valid is None and grants_were_made(session)
    if removed:
        _report(scope, profile_db, actor, "site_grants_removed", "grants")
    own_ref = vault.user_ref(actor.username)
    if valid is not None and own_ref in valid:
        return set(valid)
    first = valid is None
    if (
        signer is None
        or actor.role is not Role.SUPERVISOR
        or actor.username not in site_names
        or site.public_key().raw != vault.site_public().raw
        or (not first and own_ref not in vault.site_pending(site))
    ):
        return set(valid or {})
    pending = vault.site_pending(site)
    if first:
        signed_refs = set(vault.refs_for(sorted(site_names)))
        pending = vault.site_seal_refs() & signed_refs
    pending.discard(own_ref)
    with profile_db.write() as session:
        me = users.get_by_name(session, username=actor.username)
        if me is None or me.id is None:
            return set(valid or {})
        record = make_grant(vault, grantee=me, signing_key=signer.signing_key, via=VIA_MIGRATED)
        vault.put_site_grants(site, {own_ref: record})
        vault.put_site_pending(site, pending)
        audit.append(
            session,
            actor=actor.username,
            action=AuditAction.SITE_GRANTS_SIGNED,
            subject_type="vault",
            subject_id="site",
            details={"via": VIA_MIGRATED, "users": [me.id]},
        )
    with profile_db.read() as session:
        valid = valid_grants(session, vault, site, report)
    return set(valid or {})


def rekey(root: Path, vault: Vault, sid: str, old_key: bytes, *, owner: str | None) -> bytes:
    """Give a store a new random key; return it.

    The new key is sealed (with the old one kept beside it) before the file changes, and
    the old one is forgotten after: a crash in between loses nothing.
    """
    path = store_path(root, sid)
    # the site public key pinned inside the store decides where its new key is sealed
    # (docs/security.md, "The site public key"); a store from before pins gets one now
    pinned = read_store_pin(path, old_key)
    new_key = new_store_key()
    used = vault.set_store_key(sid, key=new_key, owner=owner, previous=old_key, site_public=pinned)
    rekey_store(path, old_key, new_key)
    if pinned != used:
        write_store_pin(path, new_key, used)
    vault.clear_previous(sid)
    return new_key


def _reseal_handover_key(
    profile_db: Database, old: EncryptionPrivateKey, new: EncryptionPrivateKey
) -> None:
    """A new site key: the device's hand-over key is sealed to it instead of the old one
    (docs/security.md, "Hand-over through the office"); nothing to do when the device has
    none or it does not open with the old key."""
    with profile_db.write() as session:
        row = session.scalars(select(DeviceRow)).first()
        if row is None:
            return
        identity = DeviceIdentity.from_json(row.identity)
        private = identity.open_encryption_key(old)
        if private is None:
            return
        row.identity = identity.sealed_with(private, new.public_key()).to_json()
        session.add(row)


def _report(scope: Scope, db: Database, actor: Actor, kind: str, subject: str) -> None:
    """A key the vault file offers that the signed state does not allow: never honoured,
    written to the audit log and shown at sign-in (the profile opens in safe mode)."""
    log.error("the vault file was changed outside the program (%s)", kind)
    _finding(scope, db, actor, _KEY_FINDINGS[kind](), ("vault", subject), {"kind": kind})


def _finding(
    scope: Scope,
    db: Database,
    actor: Actor,
    message: str,
    subject: tuple[str, str],
    finding: dict[str, object],
) -> None:
    """Show ``message`` at sign-in (safe mode) and audit the finding."""
    scope.findings.append(message)
    with db.write() as session:
        audit.append(
            session,
            actor=actor.username,
            action=AuditAction.INTEGRITY_VIOLATION,
            subject_type=subject[0],
            subject_id=subject[1],
            details={"findings": [finding]},
        )


_KEY_FINDINGS = {
    "site_key_not_site": lambda: _(
        "Der Standortschlüssel, der Ihnen in der Schlüsseldatei (vault.json) gegeben "
        "wurde, ist nicht der dieses Standorts; er wurde außerhalb des Programms "
        "eingesetzt und wird nicht verwendet. Sie sehen nur Ihre eigenen Akten."
    ),
    "site_public_changed": lambda: _(
        "Der öffentliche Standortschlüssel in der Schlüsseldatei (vault.json) wurde "
        "außerhalb des Programms geändert. Aktenschlüssel werden nur dem echten "
        "Standortschlüssel gegeben; die Datei wurde berichtigt, soweit möglich."
    ),
    "recovery_public_changed": lambda: _(
        "Der öffentliche Schlüssel des Wiederherstellungsschlüssels in der Schlüsseldatei "
        "(vault.json) wurde außerhalb des Programms geändert. Ein neuer Standortschlüssel "
        "wird ihm nicht gegeben, bis die Datei wieder den echten nennt. Bitte informieren "
        "Sie die IT und den Datenschutz."
    ),
    "site_key_not_allowed": lambda: _(
        "Der Standortschlüssel wurde außerhalb des Programms einem Konto gegeben, dem er "
        "laut den unterschriebenen Benutzerdaten nicht zusteht. Er wird nicht verwendet."
    ),
    "site_key_holder_unsigned": lambda: _(
        "In der Schlüsseldatei (vault.json) steht der Standortschlüssel bei einem Konto, "
        "dem er laut den unterschriebenen Benutzerdaten nicht zusteht. Er wurde dort "
        "entfernt und durch einen neuen ersetzt."
    ),
    "site_grants_removed": lambda: _(
        "Die unterschriebenen Freigaben des Standortschlüssels fehlen in der "
        "Schlüsseldatei (vault.json); sie wurden außerhalb des Programms entfernt. Eine "
        "Leitung, die den Standortschlüssel schon hatte, erhält ihre Freigabe bei ihrer "
        "Anmeldung zurück; alle anderen brauchen eine neue Freigabe durch eine Leitung."
    ),
    "store_key_unvouched": lambda: _(
        "Für einen Aktenspeicher steht in der Schlüsseldatei (vault.json) ein neuer "
        "Schlüssel, den niemand eingetragen hat, der den Speicher öffnen kann; er wurde "
        "außerhalb des Programms eingesetzt. Der Speicher behält seinen Schlüssel. Bitte "
        "informieren Sie die IT und den Datenschutz."
    ),
    "own_store_missing": lambda: _(
        "Ein eigener Aktenspeicher fehlt in der Schlüsseldatei (vault.json); er wurde "
        "außerhalb des Programms entfernt. Die Akten darin werden nicht angezeigt, "
        "gelöscht wurde nichts. Neue Aufnahmen gehen in einen neuen Speicher. Bitte "
        "informieren Sie die Administration und den Datenschutz."
    ),
    "store_owner_changed": lambda: _(
        "Die Inhaberin oder der Inhaber eines Aktenspeichers wurde in der Schlüsseldatei "
        "(vault.json) außerhalb des Programms geändert. Der Schlüssel wird niemandem "
        "weitergegeben."
    ),
}


#: the profile database's tables and views that no store has: one in a store would take
#: the profile's place for every session on it (schema_guard.remove_shadows)
_PROFILE_ONLY = (
    frozenset(name for kind, name, _table, _sqls in PROFILE if kind in ("table", "view"))
    - frozenset(name for kind, name, _table, _sqls in STORE if kind in ("table", "view"))
    - {
        "alembic_version"  # each file keeps its own schema version
    }
)


def _guard_store_schema(
    scope: Scope, profile_db: Database, store_db: Database, actor: Actor, sid: str
) -> None:
    """Code in a store (earlier versions copied triggers from the profile database into
    every store) is removed, and table definitions not the program's are put back, before
    the store is used; shown at sign-in and audited (storage/schema_guard.py)."""
    removed = store_db.guard_schema(STORE, foreign=_PROFILE_ONLY)
    if removed:
        _finding(
            scope,
            profile_db,
            actor,
            schema_guard.removed_message(removed, store=True),
            ("store", sid[:16]),
            {"kind": "planted_code", "objects": removed},
        )


def _unreadable_store() -> str:
    return _(
        "Ein Aktenspeicher lässt sich mit seinem Schlüssel nicht öffnen (die Datei wurde "
        "ausgetauscht oder ist beschädigt). Seine Akten fehlen in der Liste; es wurde "
        "nichts gelöscht. Bitte informieren Sie die Administration."
    )


def _audit(db: Database, actor: Actor, action: AuditAction, sid: str, owner_id: int) -> None:
    with db.write() as session:
        audit.append(
            session,
            actor=actor.username,
            action=action,
            subject_type="store",
            subject_id=sid[:16],
            details={"owner": owner_id},
        )


def rekey_own_stores(scope: Scope, *, root: Path, vault: Vault, actor: Actor) -> None:
    """Give each of her open stores a new key sealed to her new key pair and the site.

    Run when she replaces a provisional password (an administrator chose it and could
    have opened what was sealed to it): nothing she writes from now on opens for it.
    """
    for sid, info in vault.stores().items():
        store_db = scope.stores.get(sid)
        if info.owner_id != actor.user_id or store_db is None:
            continue
        old_key = bytes.fromhex((store_db.engine.url.password or "")[2:-1])
        store_db.close()
        del scope.stores[sid]
        rekey(root, vault, sid, old_key, owner=actor.username)
        _audit(scope.profile_db, actor, AuditAction.STORE_REKEYED, sid, actor.user_id)
