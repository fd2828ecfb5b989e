"""The composition root: a signed-in :class:`Workspace` holds every service, built once.

Windows, dialogs and command-line commands receive the workspace (or the one service they
need) as an argument; nothing reaches for a global. The workspace holds the database key
in memory for as long as the user is signed in.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from intake_app.core.audit import AuditAction, ChainReport
from intake_app.core.forms import (
    Form,
    FormLoadError,
    FormRegistry,
    OrganisationConfig,
    initial_answers,
    load_form,
    load_shipped_forms,
)
from intake_app.core.permissions import Actor, Permission, Role
from intake_app.core.records import OutboxKind, RecordStatus
from intake_app.device_sync.installed_forms import installed_form_sources
from intake_app.device_sync.status import SyncResult, SyncStatus, merge_status, read_status
from intake_app.errors import AuthError, ConflictError, IntakeError, NotFound, PermissionDenied
from intake_app.i18n import _
from intake_app.storage import (
    audit,
    handovers,
    integrity,
    moves,
    organisation_seal,
    owners,
    profile_key,
    relayout,
    schema_guard,
    settings_repo,
    site_grants,
    store_marks,
    user_keys,
    users,
)
from intake_app.storage.accounts import Accounts
from intake_app.storage.database import Database
from intake_app.storage.integrity import StateReport
from intake_app.storage.lifecycle import Lifecycle, erasure_backed
from intake_app.storage.models import OutboxItem, RecordRevision, utcnow
from intake_app.storage.profile import Profile
from intake_app.storage.records import RecordService
from intake_app.storage.scope import Scope, open_scope, rekey_own_stores, remember_recovery
from intake_app.storage.settings_repo import ProfileSettings
from intake_app.storage.site_records import SiteLifecycle, SiteRecords
from intake_app.storage.stores import store_identity, store_path
from intake_app.storage.user_keys import KeyBundleError, SigningKeys, recovery_secret
from intake_app.storage.vault import LAYOUT, UserKeys, Vault, remembered_recovery
from intake_app.storage.vault_trust import (
    VaultTrust,
    active_refs,
    profile_recipients,
    withheld_message,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from intake_app.device_sync.device import DeviceSync
    from intake_app.sync.authors import AuthorKey
    from intake_app.sync.keys import EncryptionPrivateKey

log = logging.getLogger("intake.core")

#: The note in a supervisor's own store that this device keeps its hand-overs taken in
#: under the site key (``Workspace.handovers_taken``)
HANDOVERS_LIST_NOTE = "handovers_list"

DEFAULT_FORM = "intake"
ORGANISATION_FILE = "organisation.yaml"


def _erased_back_note(count: int) -> str:
    return _(
        "In einem Aktenspeicher lagen wieder Akten, die gelöscht worden waren ({count}); "
        "eine ältere Kopie der Datei wurde zurückgelegt. Sie wurden erneut gelöscht. Akten, "
        "die seit dieser Kopie geschrieben wurden, können fehlen. Bitte informieren Sie die "
        "Administration und den Datenschutz."
    ).format(count=count)


def _unconfirmed_erasure_note(count: int) -> str:
    return _(
        "In der Profildatenbank wurde außerhalb des Programms eine Löschung von Akten "
        "eingetragen ({count}), die keine berechtigte, unterschriebene Löschung im "
        "Audit-Protokoll belegt. Es wurde nichts gelöscht. Bitte informieren Sie die "
        "Administration und den Datenschutz."
    ).format(count=count)


@dataclass(frozen=True, slots=True)
class SignInResult:
    """What the log-in window needs to know besides the workspace."""

    must_change_password: bool
    schema_steps: tuple[str, ...]
    #: A new recovery key made while moving the profile to record stores (shown once).
    new_recovery_key: str = ""

    #: what in the signed state does not check (German, translated); empty when all does
    integrity_messages: tuple[str, ...] = ()
    #: the recovery path writes its audit entries once the administrator has a key
    deferred_audit: bool = False
    #: what she should know that is no finding (German, translated): the update window
    notices: tuple[str, ...] = ()

    @property
    def safe_mode(self) -> bool:
        """True when the profile opened although signatures do not check."""
        return bool(self.integrity_messages)


class SiteSync:
    """:class:`DeviceSync` over several record stores (a supervisor's workspace).

    Each store keeps its own outbox and sealed batches (docs/security.md, "Device: keys
    and scopes"); sending runs store by store, and the results add up. The office repeats
    recent receipts, so a receipt for another store's batch is simply answered again when
    that store is sent. Enrolment and forms are the device's: they go to the home store's
    service (the profile database is attached to every store).
    """

    def __init__(self, *, home: DeviceSync, stores: dict[str, DeviceSync]) -> None:
        self._home = home
        self._stores = stores

    def __getattr__(self, name: str) -> Any:
        return getattr(self._home, name)

    @staticmethod
    def _merge(results: list[SyncResult]) -> SyncResult:
        total = SyncResult()
        for r in results:
            total.registered_now = total.registered_now or r.registered_now
            total.batches_sent += r.batches_sent
            total.records_delivered += r.records_delivered
            total.instructions_delivered += r.instructions_delivered
            total.erasures_confirmed += r.erasures_confirmed
            total.rejected += r.rejected
            total.forms_installed += [
                f for f in r.forms_installed if f not in total.forms_installed
            ]
            total.files_written += r.files_written
            total.invalid_receipts += r.invalid_receipts
            total.handovers_sealed += r.handovers_sealed
            total.handovers_refused += r.handovers_refused
            total.handovers_taken += r.handovers_taken
            total.handovers_failed += r.handovers_failed
            total.waiting_for_supervisor += r.waiting_for_supervisor
        return total

    def send(self, **kwargs: Any) -> SyncResult:
        return self._merge([sync.send(**kwargs) for sync in self._stores.values()])

    def write_to_folder(self, folder: Any) -> SyncResult:
        return self._merge([sync.write_to_folder(folder) for sync in self._stores.values()])

    def import_receipts(self, folder: Any) -> SyncResult:
        return self._merge([sync.import_receipts(folder) for sync in self._stores.values()])

    def prepare(self, transport: str) -> list[Any]:
        return [batch for sync in self._stores.values() for batch in sync.prepare(transport)]

    def apply_receipt(self, receipt: Any, result: SyncResult | None = None) -> SyncResult:
        result = result or SyncResult()
        for sync in self._stores.values():
            sync.apply_receipt(receipt, result)
        return result

    def status(self) -> SyncStatus:
        return merge_status(self._home.status(), [sync.status() for sync in self._stores.values()])


class Workspace:
    """A signed-in user's view of one profile, with all services.

    Use :meth:`sign_in` (or :meth:`recover`) to get one; call :meth:`close` at the end.
    """

    def __init__(
        self,
        *,
        profile: Profile,
        db: Database,
        vault: Vault,
        db_key: bytes,
        actor: Actor,
        result: SignInResult,
        keys: UserKeys | None = None,
        scope: Scope | None = None,
        settings: settings_repo.InForce | None = None,
    ) -> None:
        self.profile = profile
        #: the profile settings the sign-in found in force (docs/security.md, "Profile
        #: settings"); read afresh when None
        self._settings_found = settings
        #: The signed-in user's keys (her own, or the recovery key's).
        self.keys = keys
        #: The databases her keys open (docs/security.md, "Device: keys and scopes").
        self.scope = scope or Scope(profile_db=db)
        self.vault = vault
        self.actor = actor
        self.sign_in_result = result
        self._key = db_key
        self.locked = False
        #: her signing key (None while she has none yet; docs/security.md)
        self.signing_keys: SigningKeys | None = None
        self.integrity: StateReport = StateReport(bootstrapped=False)
        self._sync_lock = threading.Lock()
        #: what checking the list of hand-overs taken in found (Workspace.handovers_taken)
        self.handover_findings: list[str] = []
        self._compose()

    def _compose(self) -> None:
        """Build the services over the databases of :attr:`scope`."""
        profile, actor, vault, db_key = self.profile, self.actor, self.vault, self._key
        db = self.scope.home
        self.db = db
        self.accounts = Accounts(
            db=db,
            vault=vault,
            db_key=db_key,
            actor=actor,
            kdf_params=profile.kdf_params,
            keys=self.keys if self.keys is None or self.keys.ref != "recovery" else None,
            on_own_password=self._own_password_changed,
            on_profile_key=self._profile_key_changed,
        )
        previous: ProfileSettings | None = getattr(self, "settings", None)
        self.settings = ProfileSettings(
            db=db, actor=actor, signing_keys=lambda: self.accounts.signing_keys
        )
        found = previous.in_force if previous is not None else self._settings_found
        if found is not None:  # what the sign-in found, or an administrator saved since
            self.settings.adopt(found)

        def sync_of(
            store_db: Database, *, home: bool = False, store_id: str | None = None
        ) -> DeviceSync:
            # Hand-overs from other sites are taken into the store of a supervisor who runs
            # the sync (her own store; the device's hand-over key opens only with the site
            # key, so they wait at the office for her): docs/security.md, "Hand-over
            # through the office".
            owns_store = home and store_db is not self.scope.profile_db
            # Deferred: the sync stack (batches, sealing, receipts, enrolment) loads when
            # the user first sends or opens the sync window, not at sign-in; the status
            # bar reads through sync_status() (docs/architecture.md, "Start-up").
            from intake_app.device_sync.device import DeviceSync

            return DeviceSync(
                db=store_db,
                actor=actor,
                forms=lambda: self.forms,
                organisation=lambda: self.organisation,
                batch_limit=lambda: int(self.settings.get("sync.batch_max_bytes")),
                on_forms_changed=self.reload_forms,
                home=home,
                take_handover=records_of(store_db).take_handover if owns_store else None,
                site_key=self._site_key,
                author=self._batch_author,
                vouch=(
                    self._vouch_in(store_id)
                    if store_id is not None
                    else self._profile_outbox_vouch
                    if store_db is self.scope.profile_db
                    else None
                ),
            )

        def lifecycle_of(store_db: Database) -> Lifecycle:
            return Lifecycle(
                db=store_db,
                actor=actor,
                retention_days=lambda: int(self.settings.get("retention.days_after_close")),
                expiry_warning_days=lambda: self.expiry_warning_days,
            )

        self.lifecycle: Lifecycle | SiteLifecycle = lifecycle_of(db)
        site = str(self.settings.get("site.name") or "")

        def records_of(store_db: Database) -> RecordService:
            return RecordService(
                db=store_db,
                actor=actor,
                site=site,
                device_prefix=profile.device_prefix,
                form_for=self.form_for,
                organisation=lambda: self.organisation,
                creates=store_db is not self.scope.profile_db,
                expiry_warning_days=lambda: self.expiry_warning_days,
                handovers_taken=self.handovers_taken,
                note_handover=self._note_handover,
            )

        def compose_sync() -> DeviceSync | SiteSync:
            home = sync_of(db, home=True)
            if len(self.scope.stores) <= 1:
                return home
            return SiteSync(
                home=home,
                stores={
                    sid: home if d is db else sync_of(d, store_id=sid)
                    for sid, d in self.scope.stores.items()
                },
            )

        self._compose_sync = compose_sync
        self._sync: DeviceSync | SiteSync | None = None  # built on first use (see sync)
        self.records: RecordService | SiteRecords
        if len(self.scope.stores) > 1:
            self.records = SiteRecords(
                services={sid: records_of(d) for sid, d in self.scope.stores.items()},
                dbs=self.scope.stores,
                actor=actor,
                home=self.scope.own,
            )
            self.lifecycle = SiteLifecycle(
                lifecycles={sid: lifecycle_of(d) for sid, d in self.scope.stores.items()},
                records=self.records,
            )
        else:
            self.records = records_of(db)

    # -- hand-overs taken in (docs/security.md, "Hand-over through the office") ------

    def handovers_taken(self, *, verify: bool = True) -> dict[str, str]:
        """Hand-over id -> record, for every hand-over this device took in: the list under
        the site key in the vault, which only a holder of the site key writes (whoever
        holds the profile key can sign an audit entry, and the administrator can make a
        key speak for a supervisor, or make a supervisor's account: attacker runs 17, 19
        and 20).

        A profile from before the list builds it once, at a holder's first sign-in, from
        its audit log (``handovers.taken_before_lists``, only entries of supervisors who
        hold a grant of the site key), and notes inside every store open here that it did:
        a list later deleted from the vault is noticed, never built again. After a new
        site key, and whenever its digest is not the newest one the signed audit log
        names, the list is checked entry by entry (``_backed_handovers``: whoever held
        the old key could write it until then, attacker run 21; a holder of the site key
        wrote it outside the program, run 23).

        ``verify``: compare the list with its newest signed digest (every use of the list
        does; the sign-in, which only builds it or checks it after a new site key, does
        not, to keep the sign-in fast).

        Raises:
            ConflictError: no site key here, or the list was changed or deleted outside
                the program (reported; the hand-overs wait at the office).
        """
        site = self._site_key()
        if site is None:
            raise ConflictError(_("Übergaben nimmt nur eine Leitung mit Zugang zu allen Akten an."))
        try:
            found = self.vault.site_handovers(site)
        except ValueError:
            self._handovers_list_refused("handovers_list_changed")
        if found is not None:
            taken, checked = found
            if checked and not verify:
                return taken
            may_sign = self._may_sign_takes()
            signed = self._list_signed(taken, may_sign)
            if not signed:
                # carried over from an earlier site key, or changed without its signed
                # digest (a holder of the site key outside the program: attacker run 23)
                taken = self._backed_handovers(taken, may_sign)
            if not signed or not checked:
                self._put_handovers(site, taken)
            return taken
        if self._handovers_list_noted():
            self._handovers_list_refused("handovers_list_removed")
        if not self._stores():  # (an administrator's recovery: built at a holder's sign-in)
            raise ConflictError(_("Übergaben nimmt nur eine Leitung mit Zugang zu allen Akten an."))
        with self.db.read() as session:
            taken = handovers.taken_before_lists(
                session, self._handover_held, self._may_sign_takes()
            )
        self._put_handovers(site, taken)
        self._note_handovers_list()
        return taken

    def _list_signed(self, taken: dict[str, str], may_sign: Callable[[int], bool] | None) -> bool:
        """Whether the newest digest of the list an active supervisor holding a grant
        (``may_sign``) signed is this list's (``handovers.latest_signed_digest``)."""
        with self.db.read() as session:
            signed = handovers.latest_signed_digest(session, may_sign)
        return signed == handovers.list_digest(taken)

    def _may_sign_takes(self) -> Callable[[int], bool] | None:
        """Whose signed take-ins and list digests count: supervisors holding a grant of
        the site key (None: a profile from before grants, any supervisor)."""
        site = self._site_key()
        granted = self._granted_supervisors(site) if site is not None else None
        return (lambda user_id: user_id in granted) if granted is not None else None

    def _granted_supervisors(self, site: EncryptionPrivateKey) -> set[int] | None:
        """User ids of the users whose grant of the site key checks under ``site`` (or
        who held it before grants and have not taken theirs over); None for a profile
        from before grants."""
        grants = self.vault.site_grants(site)
        if grants is None:
            return None
        refs = set(grants) | self.vault.site_pending(site)
        with self.db.read() as session:
            return {
                u.id
                for u in users.list_all(session)
                if u.id is not None and self.vault.user_ref(u.username) in refs
            }

    def _backed_handovers(
        self, taken: dict[str, str], may_sign: Callable[[int], bool] | None
    ) -> dict[str, str]:
        """The entries of a list whose digest the signed audit log does not name, as far
        as the profile database backs them: carried over from an earlier site key
        (whoever held the old key could write it until the new key came, and she held
        every store's key too, so neither the list nor the stores prove anything:
        attacker runs 21 and 22; she lost the profile key when she left), or changed by a
        holder of the site key outside the program (run 23). An entry stays only when an
        active supervisor holding a grant (``may_sign``) signed that the hand-over became
        that record, and the record is in a store as taken in from it, or the log names
        it erased or purged. Any other entry is dropped (the office's copy is taken in
        again) and reported."""
        with self.db.read() as session:
            gone = handovers.records_gone(session)
            signed = handovers.signed_takes(session, may_sign)
        kept = {
            handover_id: record
            for handover_id, record in taken.items()
            if record in signed.get(handover_id, set())
            and (record in gone or self._handover_held(record, handover_id))
        }
        if len(kept) != len(taken):
            log.error("%d hand-overs in the list are backed by no store", len(taken) - len(kept))
            self.handover_findings.append(
                _(
                    "Die Liste der angenommenen Übergaben in der Schlüsseldatei (vault.json) "
                    "nannte Übergaben, die kein Aktenspeicher belegt ({n}); sie wurde mit dem "
                    "alten Schlüssel für alle Akten geändert. Diese Übergaben werden bei der "
                    "nächsten Übermittlung angenommen, wenn die Zentrale sie noch bereithält. "
                    "Bitte informieren Sie die Administration und den Datenschutz."
                ).format(n=len(taken) - len(kept))
            )
            self._handovers_finding(
                {"kind": "handovers_list_unbacked", "count": len(taken) - len(kept)}
            )
        return kept

    def _note_handover(self, handover_id: str, record_id: str) -> None:
        """A hand-over just taken in goes into the list under the site key."""
        site = self._site_key()
        assert site is not None  # taken in only with the site key
        taken = self.handovers_taken()
        taken[handover_id] = record_id
        self._put_handovers(site, taken)

    def _put_handovers(self, site: EncryptionPrivateKey, taken: dict[str, str]) -> None:
        """Write the list under the site key, and its digest into the signed audit log,
        which whoever holds only the old site key cannot write (``_backed_handovers``)."""
        self.vault.put_site_handovers(site, taken)
        self._handovers_entry(
            AuditAction.INTEGRITY_SIGNED, {"digest": handovers.list_digest(taken)}
        )

    def _handover_held(self, record_id: str, handover_id: str) -> bool:
        """Whether a record store open here holds ``record_id`` taken in from
        ``handover_id`` (the record, and its first revision naming it)."""
        for store_db in self._stores():
            with store_db.read() as session:
                first = session.get(RecordRevision, (record_id, 1))
                if (
                    first is not None
                    and handover_id in (first.reason or "")
                    and handovers.record_exists(session, record_id)
                ):
                    return True
        return False

    def _stores(self) -> list[Database]:
        return [d for d in self.scope.stores.values() if d is not self.scope.profile_db]

    def _handovers_list_noted(self) -> bool:
        """Whether a store open here notes that this device keeps the list."""
        for store_db in self._stores():
            with store_db.read() as session:
                if store_marks.site_note(session, HANDOVERS_LIST_NOTE) is not None:
                    return True
        return False

    def _note_handovers_list(self) -> None:
        """Note in every store open here that the device keeps the list from now on (a
        note survives in every store whose key the one who deletes the list lacks)."""
        for store_db in self._stores():
            with store_db.write() as session:
                store_marks.put_site_note(session, HANDOVERS_LIST_NOTE, "1")

    def _handovers_finding(self, finding: dict[str, Any]) -> None:
        """``integrity_violation`` about the list of hand-overs taken in."""
        self._handovers_entry(AuditAction.INTEGRITY_VIOLATION, {"findings": [finding]})

    def _handovers_entry(self, action: AuditAction, details: dict[str, Any]) -> None:
        """An audit entry about the list of hand-overs taken in (signed by this user)."""
        with self.db.write() as session:
            audit.append(
                session,
                actor=self.actor.username,
                action=action,
                subject_type="vault",
                subject_id=handovers.LIST_SUBJECT,
                details=details,
            )

    def _handovers_list_refused(self, kind: str) -> NoReturn:
        log.error("the list of hand-overs taken in was %s outside the program", kind)
        self._handovers_finding({"kind": kind})
        raise ConflictError(
            _(
                "Die Liste der angenommenen Übergaben in der Schlüsseldatei (vault.json) "
                "wurde außerhalb des Programms geändert oder gelöscht. Es wird keine "
                "Übergabe angenommen; sie warten bei der Zentrale. Bitte informieren Sie die "
                "Administration: Sie stellt vault.json aus einer Sicherung wieder her."
            )
        )

    @property
    def sync(self) -> DeviceSync | SiteSync:
        """Sending, receipts, enrolment and installed forms over the record stores, built
        on first use (docs/architecture.md, "Start-up")."""
        with self._sync_lock:  # one service per workspace, whichever thread asks first
            if self._sync is None:
                self._sync = self._compose_sync()
            return self._sync

    def sync_status(self) -> SyncStatus:
        """What waits for the central office, as :meth:`DeviceSync.status` tells it, read
        without loading the sync stack (the main window's status bar at sign-in)."""
        if self._sync is not None:
            return self._sync.status()
        db = self.scope.home
        home = read_status(db)
        if len(self.scope.stores) <= 1:
            return home
        return merge_status(
            home, [home if d is db else read_status(d) for d in self.scope.stores.values()]
        )

    def _profile_key_changed(self, key: bytes) -> None:
        """The profile database has a new key (a user left): keep it for this session."""
        self._key = key
        if self.keys is not None:
            self.keys = dataclasses.replace(self.keys, profile_key=key)

    def _own_password_changed(self, new_password: str) -> None:
        """Open the keys again after the user chose her password (a new key pair when the
        old one was provisional), and the stores they reach."""
        if self.keys is None or self.keys.ref == "recovery" or self.actor.role is Role.ADMIN:
            if self.accounts.signing_keys is not None:  # her entry, signed for profile re-keys
                _sign_own_vault_key(self.vault, self.actor.username, self.accounts.signing_keys)
            return
        keys = self.vault.unlock_user(self.actor.username, new_password)
        if keys.private is not None and self.keys.private is not None:
            if keys.private.raw != self.keys.private.raw:  # the provisional pair was replaced
                rekey_own_stores(
                    self.scope, root=self.profile.root, vault=self.vault, actor=self.actor
                )
                keys = self.vault.unlock_user(self.actor.username, new_password)
                signing = self.accounts.signing_keys
                if signing is not None:  # her signing key is wrapped under her key pair
                    with self.scope.profile_db.write() as session:
                        integrity.rewrap(
                            session,
                            user_id=self.actor.user_id,
                            secret=user_keys.secret_of(keys),
                            keys=signing,
                        )
        for store_db in self.scope.stores.values():
            store_db.close()
        self.keys = keys
        accounts = self.accounts
        if accounts.signing_keys is not None:  # her new vault key, signed for others to seal to
            _sign_own_vault_key(self.vault, self.actor.username, accounts.signing_keys)
        self.scope = open_scope(
            root=self.profile.root,
            profile_db=self.scope.profile_db,
            vault=self.vault,
            keys=keys,
            actor=self.actor,
            trust=VaultTrust(self.scope.profile_db, self.vault),
            report=self.integrity,
            signer=accounts.signing_keys,
        )
        self.scope.share_signer(self.db.audit_signer)
        self._compose()
        self.accounts.signing_keys = accounts.signing_keys
        self.accounts.recovery_secret = accounts.recovery_secret

    def _site_key(self) -> EncryptionPrivateKey | None:
        """The site key of this sign-in (supervisors, the recovery path), else None."""
        return self.keys.site_private() if self.keys is not None else None

    def _vouch_in(self, store_id: str) -> Callable[[Session, OutboxItem], bool]:
        """What a supervisor's batch may carry from a colleague's store, which that
        colleague can write (docs/security.md, "Batches signed by their sender"): an item
        about a record this store holds and no other store does, and that is the store
        owner's (:func:`moves.belongs_here`: its id bound to her, or moved here by a
        supervisor); an erasure or a reassignment that a supervisor's signed entry in
        this store backs. Never the device's hand-over key (it comes from the home
        store)."""

        owner: list[tuple[int, str] | None] = []

        def store_owner() -> tuple[int, str] | None:
            if not owner:
                info = self.vault.stores().get(store_id)
                user = None
                if info is not None and self._store_for_owner(info.owner_id) == store_id:
                    with self.db.read() as session:
                        user = users.get_by_id(session, user_id=info.owner_id)
                owner.append((user.id, user.username) if user and user.id is not None else None)
            return owner[0]

        def vouch(session: Session, item: OutboxItem) -> bool:
            if item.kind == OutboxKind.DEVICE_KEY.value:
                return False
            if item.kind == OutboxKind.ERASURE.value:
                return erasure_backed(session, item.record_id)
            records = self.records
            if self.scope.left_out or not isinstance(records, SiteRecords):
                return False  # "held by no other store" cannot be told (attacker run 23)
            try:
                if records.store_of(item.record_id) != store_id:
                    return False
            except (NotFound, ConflictError):
                return False
            found = store_owner()
            if item.kind == OutboxKind.REASSIGNMENT.value:
                return found is not None and moves.reassignment_backed(
                    session, item, owner_id=found[0], owner=found[1]
                )
            return moves.belongs_here(session, item.record_id, found[0] if found else None)

        return vouch

    def _profile_outbox_vouch(self, session: Session, item: OutboxItem) -> bool:
        """The profile database's outbox (the home of an administrator's sign-in), which
        every password opens: only the device's hand-over key goes from there (attacker
        run 22 planted an erasure that an administrator's sync then sent)."""
        del session
        return item.kind == OutboxKind.DEVICE_KEY.value

    def _batch_author(self) -> AuthorKey | None:
        """The signed-in user's key and proof for the batches of this sync: each names
        her as its sender (docs/security.md, "Batches signed by their sender"). None on
        the recovery path and before the profile's users are signed."""
        signer = self.db.audit_signer
        if signer is None:
            return None
        with self.db.read() as session:
            return integrity.batch_author(session, self.actor.user_id, signer)

    def _certified_keys(self) -> dict[int, dict[str, str]]:
        """Each active user's current key (user id -> key id -> public key), as
        :func:`integrity.speaking_keys` finds it. Her own sign-in signs her stores again
        with it."""
        with self.db.read() as session:
            keys = integrity.speaking_keys(session)
        return {uid: {key.kid: key.public_key} for uid, (key, _values) in keys.items()}

    def _store_for_owner(
        self, owner_id: int, certified: dict[int, dict[str, str]] | None = None
    ) -> str | None:
        """A store of ``owner_id`` that this workspace has open (for moving a case), whose
        key a holder of the site key made and whose owner signed it as hers: anyone can
        list a store of her own making for a counsellor and seal it to the site key, and
        whoever holds a store's key can relabel it, and a case moved there would open for
        her (docs/security.md, "Granting and revoking", "Store owners"). ``certified``:
        :meth:`_certified_keys`, when the caller asks for several owners."""
        site = self.keys.site_private() if self.keys is not None else None
        if site is None:
            return None
        keys_of = (certified if certified is not None else self._certified_keys()).get(owner_id, {})
        for sid, info in self.vault.stores().items():
            store_db = self.scope.stores.get(sid)
            if info.owner_id != owner_id or store_db is None or not keys_of:
                continue
            key = store_db.current_key()
            if not self.vault.held_confirmed(sid, key, site):
                continue
            identity = store_identity(store_path(self.profile.root, sid), key)
            if owners.signed_by_owner(
                self.vault, sid, owner_id=owner_id, identity=identity, owner_keys=keys_of
            ):
                return sid
        return None

    # -- keys a supervisor hands on (docs/security.md, "Granting and revoking") ----------

    def move_targets(self, record_id: str) -> list[tuple[int, str]]:
        """Who a case can be given to: (user id, shown name) of every active counsellor
        or supervisor with a record store open here, except its current owner."""
        self.actor.require(Permission.EDIT_SITE_RECORDS)
        owner = self.records.get(record_id).owner_id
        with self.db.read() as session:
            people = [
                u
                for u in users.list_all(session)
                if u.active
                and u.id is not None
                and u.id != owner
                and u.role in (Role.COUNSELLOR.value, Role.SUPERVISOR.value)
            ]
        certified = self._certified_keys()
        return sorted(
            (
                (u.id, u.display_name or u.username)
                for u in people
                if u.id is not None and self._store_for_owner(u.id, certified) is not None
            ),
            key=lambda item: item[1].casefold(),
        )

    def move_case(self, record_id: str, *, to_owner: int) -> None:
        """Give a case to another counsellor (supervisors; the case changes store).

        The steps are ordered so that a crash leaves the case in exactly one store once the
        next supervisor signs in (``storage/moves.py``); the move is audited.
        """
        self.actor.require(Permission.EDIT_SITE_RECORDS)
        if not isinstance(self.records, SiteRecords):
            raise ConflictError(
                _("Zum Verschieben braucht es den Zugang zu allen Akten des Standorts.")
            )
        with self.db.read() as session:
            target_user = users.get_by_id(session, user_id=to_owner)
        if target_user is None or not target_user.active:
            raise ConflictError(_("Die Akte kann nur an ein aktives Konto übergeben werden."))
        source = self.records.store_of(record_id)
        target = self._store_for_owner(to_owner)
        if target is None:
            raise ConflictError(
                _(
                    "Für diese Beraterin oder diesen Berater gibt es noch keinen "
                    "Aktenspeicher. Sie oder er muss sich zuerst einmal anmelden."
                )
            )
        moves.move(
            self.profile.root,
            self.scope.stores,
            record_id=record_id,
            source=source,
            target=target,
            to_owner=to_owner,
            actor=self.actor.username,
            key=self._journal_key(),
        )

    def _journal_key(self) -> bytes:
        """The key move journals are authenticated with (``storage/moves.py``)."""
        site = self.keys.site_private() if self.keys is not None else None
        if site is None:
            raise ConflictError(
                _("Zum Verschieben braucht es den Zugang zu allen Akten des Standorts.")
            )
        return moves.journal_key(site.raw, self.vault.vault_id)

    def move_case_to(self, record_id: str, username: str) -> str:
        """:meth:`move_case` by user name (the command line); return the name."""
        with self.db.read() as session:
            target = users.get_by_name(session, username=username)
        if target is None or not target.active or target.id is None:
            raise NotFound(_("Es gibt keinen aktiven Benutzer „{name}“.").format(name=username))
        self.move_case(record_id, to_owner=target.id)
        return target.username

    def holds_site_key(self) -> bool:
        """True when this sign-in holds the site key (and so can grant it)."""
        return self.keys is not None and self.keys.site_private() is not None

    def site_key_candidates(self) -> list[tuple[str, str]]:
        """Supervisors who may be given the site key: (user name, shown name) of every
        active supervisor who chose her own password and does not hold it yet."""
        if not self.holds_site_key():
            return []
        with self.db.read() as session:
            people = [
                u
                for u in users.list_all(session)
                if u.active and u.role == Role.SUPERVISOR.value and u.id != self.actor.user_id
            ]
        holders = self.vault.site_key_holders([u.username for u in people])
        provisional = self.vault.provisional_names([u.username for u in people])
        return [
            (u.username, u.display_name or u.username)
            for u in people
            if u.username not in holders and u.username not in provisional
        ]

    def grant_site_key(self, username: str) -> None:
        """Give a supervisor the site key (only someone who holds it can: a supervisor, or
        a sign-in with the recovery key)."""
        site_key = self.keys.site_private() if self.keys is not None else None
        if site_key is None:
            raise PermissionDenied(
                _(
                    "Den Zugang zu allen Akten kann nur eine Leitung freigeben, die ihn selbst "
                    "hat, oder eine Anmeldung mit dem Wiederherstellungsschlüssel."
                )
            )
        with self.db.read() as session:
            user = users.get_by_name(session, username=username)
        if user is None or not user.active or user.role != Role.SUPERVISOR.value:
            raise ConflictError(_("„{name}“ ist keine aktive Leitung.").format(name=username))
        if not VaultTrust(self.scope.profile_db, self.vault).trusted(user.username):
            # docs/security.md, "Signed vault keys"
            raise ConflictError(
                _(
                    "Der Schlüssel von „{name}“ im Schlüsseltresor (vault.json) trägt nicht "
                    "ihre Unterschrift: Er wurde verändert, oder sie hat sich seit dem Update "
                    "noch nicht angemeldet. Der Zugang wurde nicht freigegeben."
                ).format(name=user.username)
            )
        # a signed grant, checked before anything is sealed (docs/security.md, "Site key
        # grants"): by her own signing key, or by the recovery key
        recovery = self.keys is not None and self.keys.ref == "recovery"
        if recovery and self.accounts.recovery_secret is not None:
            via, signing_key = (
                site_grants.VIA_RECOVERY,
                site_grants.recovery_signing_key(self.accounts.recovery_secret),
            )
        elif not recovery and self.accounts.signing_keys is not None:
            via, signing_key = site_grants.VIA_SUPERVISOR, self.accounts.signing_keys.signing_key
        else:
            raise PermissionDenied(
                _(
                    "Den Zugang zu allen Akten kann nur eine Leitung freigeben, die ihn selbst "
                    "hat, oder eine Anmeldung mit dem Wiederherstellungsschlüssel."
                )
            )
        with self.db.read() as session:
            report = integrity.check_state(session)
            grant = site_grants.make_grant(
                self.vault, grantee=user, signing_key=signing_key, via=via
            )
            if report.bootstrapped and not site_grants.GrantChecker(
                session, self.vault, report
            ).check(self.vault.user_ref(user.username), grant):
                raise ConflictError(
                    _(
                        "Die Freigabe für „{name}“ lässt sich nicht mit den unterschriebenen "
                        "Benutzerdaten prüfen (Rolle, Schlüssel oder Unterschrift stimmen "
                        "nicht). Der Zugang wurde nicht freigegeben."
                    ).format(name=user.username)
                )
        self.vault.grant_site_key(
            user.username,
            site_key,
            grant=grant,
            recovery_digest=self.keys.site_recovery_digest() if self.keys is not None else None,
        )
        self.audit(
            AuditAction.SITE_KEY_GRANTED,
            subject_type="user",
            subject_id=str(user.id),
            details={"via": via, "by": grant["by"]},
        )

    def owners_awaiting_confirmation(self) -> list[tuple[str, str]]:
        """Users whose password an administrator reset and who chose their own since:
        (user name, shown name). Their earlier records are sealed to them again only when a
        supervisor confirms it (docs/security.md, "Password reset")."""
        if not self.scope.awaiting or not self.holds_site_key():
            return []
        ids = set(self.scope.awaiting.values())
        with self.db.read() as session:
            people = [u for u in users.list_all(session) if u.id in ids]
        trust = VaultTrust(self.scope.profile_db, self.vault, self.integrity)
        return sorted(
            (
                (u.username, u.display_name or u.username)
                for u in people
                if u.username not in self.vault.provisional_names([u.username])
                and trust.trusted(u.username)
            ),
            key=lambda item: item[1].casefold(),
        )

    def confirm_owner(self, username: str) -> int:
        """A supervisor confirms that ``username`` herself chose her password after a reset:
        her earlier stores are sealed to her key pair again; return how many (audited)."""
        self.actor.require(Permission.EDIT_SITE_RECORDS)
        if username not in {name for name, _shown in self.owners_awaiting_confirmation()}:
            raise ConflictError(
                _(
                    "Für „{name}“ wartet keine Bestätigung (oder sie hat noch kein eigenes "
                    "Passwort gewählt)."
                ).format(name=username)
            )
        with self.db.read() as session:
            user = users.get_by_name(session, username=username)
        assert user is not None and user.id is not None
        done = 0
        for sid, owner_id in list(self.scope.awaiting.items()):
            store_db = self.scope.stores.get(sid)
            if owner_id != user.id or store_db is None:
                continue
            key = bytes.fromhex((store_db.engine.url.password or "")[2:-1])
            if self.vault.owner_confirmed(sid, key) is not True:
                continue
            self.vault.set_store_key(sid, key=key, owner=user.username)
            del self.scope.awaiting[sid]
            done += 1
        self.audit(
            AuditAction.STORE_OWNER_CONFIRMED,
            subject_type="user",
            subject_id=str(user.id),
            details={"stores": done},
        )
        return done

    # -- forms and organisation --------------------------------------------------------

    @functools.cached_property
    def forms(self) -> FormRegistry:
        """Every interview form this device knows (shipped and installed), by version."""
        shipped = load_shipped_forms()
        known = {(form.id, form.version) for form in shipped}
        extra = []
        installed = installed_form_sources(self.db)
        if installed.refused:
            # not signed by the office root: never used; a sync fetches the published
            # ones again (docs/security.md, "Forms the office published")
            self.audit(
                AuditAction.INTEGRITY_VIOLATION,
                subject_type="form",
                subject_id="installed",
                details={"findings": [{"kind": "form_not_signed", "forms": installed.refused}]},
            )
        for source in installed.sources:
            try:
                form = load_form(source.as_source())
            except FormLoadError:
                log.error("an installed form no longer loads; it is ignored")
                continue
            if (form.id, form.version) not in known:
                extra.append(form)
        return FormRegistry([*shipped, *extra]) if extra else shipped

    @property
    def expiry_warning_days(self) -> int:
        """The setting ``records.expiry_warning_days``: one warning period for the
        interview, the case list, the overview and the printouts."""
        return int(self.settings.get("records.expiry_warning_days"))

    def reload_forms(self) -> None:
        """Forget the cached forms (after new versions were installed)."""
        self.__dict__.pop("forms", None)

    @functools.cached_property
    def organisation(self) -> OrganisationConfig:
        """Consent purposes and legal texts: the profile's own file when an administrator
        signed it, else the shipped default (docs/security.md, "The organisation file")."""
        return organisation_seal.load(self.organisation_seal(), self.profile.root)

    def organisation_seal(self) -> organisation_seal.Seal:
        """The profile's organisation file as found, and whether its signature counts."""
        return organisation_seal.current(self.profile.root, self.scope.profile_db, self.integrity)

    def save_organisation(self, data: bytes) -> None:
        """Store ``data`` (checked by the caller) as the profile's organisation file,
        signed with the administrator's key; the caller audits the change."""
        self.actor.require(Permission.MANAGE_SETTINGS)
        organisation_seal.save(
            self.scope.profile_db,
            self.profile.root,
            data,
            keys=self.accounts.signing_keys,
            actor=self.actor.username,
        )
        self.reload_organisation()

    def reload_organisation(self) -> None:
        """Forget the cached organisation configuration (after the settings changed it)."""
        self.__dict__.pop("organisation", None)

    def current_form(self, form_id: str = DEFAULT_FORM) -> Form:
        """The form new intakes use (the newest installed version)."""
        return self.forms.latest(form_id)

    def form_for(self, form_id: str, version: str) -> Form:
        """The form a record was given under."""
        return self.forms.get(form_id, version)

    def upgrade_draft(self, record_id: str) -> list[str]:
        """Move a draft given under an older form version to the newest one.

        Answers move as the new version declares (renames, recodes, dates reduced to year
        and month); whatever has no place in it is kept with the record's retired answers.
        Returns the notes of the migration (empty when the record already uses the newest
        version or is not a draft).
        """
        row = self.records.get(record_id)
        versions = self.forms.versions(row.form_id)
        if (
            row.status != RecordStatus.DRAFT.value
            or row.form_version not in versions
            or row.form_version == versions[-1]
        ):
            return []
        result = self.forms.upgrade(row.answers, row.form_id, row.form_version)
        self.records.change_form_version(
            record_id, form_version=result.version, answers=result.answers, retired=result.retired
        )
        return [
            _("Die Aufnahme verwendet jetzt die Formularversion {version}.").format(
                version=result.version
            ),
            *result.notes,
        ]

    def new_intake(self) -> str:
        """Create a draft record under the current form; return its id."""
        form = self.current_form()
        answers = initial_answers(form)
        site = str(self.settings.get("site.name") or "")
        if site and "office_site" in form:
            answers.setdefault("office_site", site)
        row = self.records.create(form_id=form.id, form_version=form.version, answers=answers)
        return row.id

    # -- signing in --------------------------------------------------------------------

    @classmethod
    def sign_in(cls, profile: Profile, *, username: str, password: str) -> Workspace:
        """Unlock the profile with a user's password and open a workspace.

        Raises:
            AuthError: wrong name or password, deactivated account, throttled, or the
                user's own signed row or key was changed outside the program.
            ProfileError: missing, damaged or newer profile.
        """
        vault = profile.vault()
        keys = vault.unlock_user(username, password)
        return cls.open_unlocked(profile, vault=vault, keys=keys, username=username)

    @classmethod
    def open_unlocked(
        cls, profile: Profile, *, vault: Vault, keys: UserKeys, username: str
    ) -> Workspace:
        """Open a workspace with the keys ``vault.unlock_user(username, ...)`` returned.

        The desktop program unlocks first (Argon2id needs only the vault) while the rest of
        the program loads beside it (docs/architecture.md, "Start-up"); :meth:`sign_in`
        does both in a row.
        """
        return cls._open(
            profile, vault=vault, key=keys.profile_key, username=username, recovery=False, keys=keys
        )

    @classmethod
    def recover(
        cls, profile: Profile, *, recovery_key: str, username: str, new_password: str
    ) -> Workspace:
        """Open the profile with the recovery key and give an administrator a new password."""
        vault = profile.vault()
        keys = vault.unlock_recovery(recovery_key)
        workspace = cls._open(
            profile,
            vault=vault,
            key=keys.profile_key,
            username=username,
            recovery=True,
            keys=keys if keys.private is not None else None,
            recovery_secret=recovery_secret(recovery_key),
        )
        try:
            if workspace.actor.role is not Role.ADMIN:
                raise AuthError(
                    _(
                        "Mit dem Wiederherstellungsschlüssel kann nur ein Administrator "
                        "ein neues Passwort setzen."
                    )
                )
            workspace.accounts.set_own_password(new_password)
            if workspace.sign_in_result.deferred_audit:
                # her new key signs what the sign-in could not
                with workspace.db.write() as session:
                    flushed = _flush_pending_events(session, vault)
                    if workspace.sign_in_result.schema_steps:
                        audit.append(
                            session,
                            actor="system",
                            action=AuditAction.SCHEMA_UPGRADED,
                            details={"steps": list(workspace.sign_in_result.schema_steps)},
                        )
                    audit.append(
                        session,
                        actor=workspace.actor.username,
                        action=AuditAction.RECOVERY_USED,
                        subject_type="user",
                        subject_id=str(workspace.actor.user_id),
                    )
                vault.drop_pending_events(flushed)
        except BaseException:
            workspace.close()
            raise
        return workspace

    @classmethod
    def _open(
        cls,
        profile: Profile,
        *,
        vault: Vault,
        key: bytes,
        username: str,
        recovery: bool,
        keys: UserKeys | None = None,
        recovery_secret: bytes | None = None,
    ) -> Workspace:
        if vault.layout() >= LAYOUT:
            relayout.finish_if_interrupted(profile.db_path, profile.backups_dir)
            profile_key.settle(profile.db_path, vault, key)  # a re-key begun, not finished
        db, steps = profile.open_database(key)
        try:
            # the recovery key's keys open stores, never a user's signing key
            own_keys = keys if keys is not None and keys.ref != "recovery" else None
            opened = _check_signed_state(db, username=username, vault_keys=own_keys)
            # With the recovery key nobody's signing key is open yet: what would be written
            # now waits until the recovering administrator has hers (see recover()).
            deferred = recovery and db.audit_signer is None
            with db.write() as session:
                flushed = 0 if deferred else _flush_pending_events(session, vault)
                if steps and not deferred:
                    audit.append(
                        session,
                        actor="system",
                        action=AuditAction.SCHEMA_UPGRADED,
                        details={"steps": steps},
                    )
                settings_repo.upgrade_stored(session)
            vault.drop_pending_events(flushed)
            refusal: AuthError | None = None
            with db.write() as session:
                user = users.get_by_name(session, username=username)
                signed = opened.report.signed.get(user.id) if user and user.id else None
                active = signed.active if signed is not None else bool(user and user.active)
                if user is None or not active:
                    audit.append(
                        session,
                        actor=username if user else "?",
                        action=AuditAction.LOGIN_FAILED,
                        details={"reason": "inactive" if user else "unknown"},
                    )
                    raise AuthError(_("Dieses Benutzerkonto ist deaktiviert oder unbekannt."))
                assert user.id is not None
                role = signed.role if signed is not None else user.role
                signing = opened.keys
                if opened.report.findings or opened.key_problem:
                    # Reported in every case; the user's own changed row or key is refused
                    # (docs/security.md, "Device: integrity of roles and the audit log").
                    audit.append(
                        session,
                        actor=user.username,
                        action=AuditAction.INTEGRITY_VIOLATION,
                        subject_type="user",
                        subject_id=str(user.id),
                        details={
                            "findings": [f.details() for f in opened.report.findings],
                            "own_key": opened.key_problem,
                        },
                    )
                if db.removed_code:
                    # code planted in the profile database, removed before it could run
                    audit.append(
                        session,
                        actor=user.username,
                        action=AuditAction.INTEGRITY_VIOLATION,
                        subject_type="database",
                        subject_id="profile",
                        details={
                            "findings": [{"kind": "planted_code", "objects": db.removed_code}]
                        },
                    )
                if not recovery:
                    refusal = _refusal(opened, user)
                if refusal is None:
                    signing = _maintain_keys(
                        session,
                        db=db,
                        vault=vault,
                        opened=opened,
                        user=user,
                        role=role,
                        vault_keys=own_keys,
                    )
                    user.last_login_at = utcnow()
                    session.add(user)
                    if not deferred:
                        audit.append(
                            session,
                            actor=user.username,
                            action=AuditAction.RECOVERY_USED if recovery else AuditAction.LOGIN,
                            subject_type="user",
                            subject_id=str(user.id),
                        )
                actor = Actor(
                    user_id=user.id,
                    username=user.username,
                    role=Role(role),
                    display_name=user.display_name,
                )
                result = SignInResult(
                    must_change_password=user.must_change_password and not recovery,
                    schema_steps=tuple(steps),
                    deferred_audit=deferred,
                    integrity_messages=tuple(f.message() for f in opened.report.findings)
                    + (
                        (schema_guard.removed_message(db.removed_code, store=False),)
                        if db.removed_code
                        else ()
                    ),
                )
            if refusal is not None:
                raise refusal
            if vault.layout() < LAYOUT:
                db, key, keys, result = cls._move_to_stores(
                    profile, vault=vault, db=db, key=key, keys=keys, actor=actor, result=result
                )
            if own_keys is not None and signing is not None:
                _sign_own_vault_key(vault, username, signing)
            if vault.layout() >= LAYOUT and opened.report.bootstrapped and not deferred:
                key, keys, note = _profile_seals_checked(db, vault, key, keys, opened.report)
                if note is not None:
                    result = dataclasses.replace(
                        result, integrity_messages=(*result.integrity_messages, note)
                    )
            elif vault.layout() >= LAYOUT and vault.profile_rekey_state(key)[1]:
                # a re-key asked for, before the signed state exists: every entry gets it
                key = profile_key.rekey_open(
                    db,
                    vault,
                    key,
                    recovery_digest=remembered_recovery(keys),
                    trust_recovery_file=True,
                )
                keys = dataclasses.replace(keys, profile_key=key) if keys is not None else None
            findings, notices = organisation_seal.at_sign_in(
                db, profile.root, actor=actor, keys=signing, report=opened.report
            )
            result = dataclasses.replace(  # docs/security.md, "The organisation file"
                result,
                integrity_messages=result.integrity_messages + findings,
                notices=result.notices + notices,
            )
            settings_found, findings, notices = settings_repo.at_sign_in(
                db, actor=actor, keys=signing, report=opened.report
            )
            result = dataclasses.replace(  # docs/security.md, "Profile settings"
                result,
                integrity_messages=result.integrity_messages + findings,
                notices=result.notices + notices,
            )
            if keys is not None and actor.role is not Role.ADMIN:
                scope = open_scope(
                    root=profile.root,
                    profile_db=db,
                    vault=vault,
                    keys=keys,
                    actor=actor,
                    trust=VaultTrust(db, vault, opened.report),
                    report=opened.report,
                    signer=signing,
                )
                if scope.findings:  # the profile opens in safe mode, naming what was changed
                    result = dataclasses.replace(
                        result,
                        integrity_messages=result.integrity_messages + tuple(scope.findings),
                    )
            else:
                scope = Scope(profile_db=db)
                if own_keys is not None and not vault.is_provisional(username):
                    remember_recovery(vault, own_keys)
            scope.share_signer()
            if len(scope.stores) > 1:
                # a move interrupted by a crash is finished by the next workspace that
                # opens both of its stores (storage/moves.py)
                site = keys.site_private() if keys is not None else None
                _done, refused = moves.finish_moves(
                    profile.root,
                    scope.stores,
                    actor=actor.username,
                    key=moves.journal_key(site.raw, vault.vault_id) if site else None,
                )
                if refused:
                    result = dataclasses.replace(
                        result,
                        integrity_messages=(
                            *result.integrity_messages,
                            moves.refused_journal_note(),
                        ),
                    )
            # an erased record in a store again (an older copy of the file put back) is
            # erased once more and reported; an erasure the signed audit log does not back
            # was entered outside the program: reported, nothing deleted (docs/security.md)
            found = [
                Lifecycle.erase_again(store_db, actor=actor.username)
                for store_db in scope.stores.values()
            ]
            back = sum(f.erased for f in found)
            unconfirmed = sum(f.unconfirmed for f in found)
            notes = ((_erased_back_note(back),) if back else ()) + (
                (_unconfirmed_erasure_note(unconfirmed),) if unconfirmed else ()
            )
            if notes:
                result = dataclasses.replace(
                    result, integrity_messages=(*result.integrity_messages, *notes)
                )
        except BaseException:
            db.close()
            raise
        log.info("signed in (role %s)", actor.role.value)
        workspace = cls(
            profile=profile,
            db=db,
            vault=vault,
            db_key=key,
            actor=actor,
            result=result,
            keys=keys,
            scope=scope,
            settings=settings_found,
        )
        workspace.signing_keys = signing
        workspace.integrity = opened.report
        workspace.accounts.signing_keys = signing
        workspace.accounts.recovery_secret = recovery_secret
        if opened.adopted:
            # the key an administrator granted is hers now, wrapped for her alone
            vault.withdraw_sealed(username, user_keys.GRANT_NAME)
        if workspace._site_key() is not None and workspace._stores():
            # the list of hand-overs taken in exists from a holder's first sign-in on, and
            # is checked after a new site key (docs/security.md, "Hand-over through the
            # office"): not first when a hand-over arrives (attacker run 21)
            try:
                workspace.handovers_taken(verify=False)
                listed = tuple(workspace.handover_findings)
            except ConflictError as exc:
                listed = (str(exc),)
            if listed:
                workspace.sign_in_result = dataclasses.replace(
                    workspace.sign_in_result,
                    integrity_messages=(*workspace.sign_in_result.integrity_messages, *listed),
                )
        return workspace

    @classmethod
    def _move_to_stores(
        cls,
        profile: Profile,
        *,
        vault: Vault,
        db: Database,
        key: bytes,
        keys: UserKeys | None,
        actor: Actor,
        result: SignInResult,
    ) -> tuple[Database, bytes, UserKeys | None, SignInResult]:
        """Move a layout-1 profile to record stores (docs/security.md); administrators only."""
        if actor.role is not Role.ADMIN:
            raise AuthError(
                _(
                    "Intake stellt nach dem Update die Verschlüsselung um. Bitte lassen Sie "
                    "zuerst einmal eine Administratorin oder einen Administrator anmelden; "
                    "danach können Sie sich wie gewohnt anmelden."
                )
            )
        with db.read() as session:
            owners = {u.id: u.username for u in users.list_all(session) if u.id is not None}
        profile_key, recovery = relayout.move_to_layout_2(
            root=profile.root, db=db, vault=vault, old_key=key, owners=owners
        )
        new_db, _steps = profile.open_database(profile_key)
        new_db.audit_signer = db.audit_signer  # the same user signs on
        if keys is not None and keys.private is not None:
            keys = dataclasses.replace(keys, profile_key=profile_key, sealed={})
        else:
            keys = vault.unlock_recovery(recovery)
        with new_db.write() as session:
            audit.append(
                session,
                actor=actor.username,
                action=AuditAction.KEYS_MIGRATED,
                details={"stores": len(vault.stores())},
            )
        return (
            new_db,
            profile_key,
            keys,
            dataclasses.replace(result, new_recovery_key=recovery),
        )

    # -- session life ------------------------------------------------------------------

    def audit(
        self,
        action: AuditAction,
        *,
        subject_type: str = "",
        subject_id: str = "",
        details: dict[str, Any] | None = None,
    ) -> None:
        """Write one audit entry in its own transaction."""
        with self.db.write() as session:
            audit.append(
                session,
                actor=self.actor.username,
                action=action,
                subject_type=subject_type,
                subject_id=subject_id,
                details=details,
            )

    def lock(self) -> None:
        """Mark the session locked (the window covers itself) and audit it. The session
        locks also when the entry cannot be written: the screen is covered all the same."""
        if not self.locked:
            self.locked = True
            try:
                self.audit(AuditAction.LOCK)
            except IntakeError:
                log.exception("the lock could not be written to the audit log; locked anyway")

    def unlock(self, password: str) -> None:
        """Unlock with the signed-in user's password (throttled like a log-in).

        Raises:
            AuthError: the password is wrong or the user must wait.
        """
        try:
            self.vault.unlock(self.actor.username, password)
        except AuthError as exc:
            if exc.kind != "wrong":
                raise
            # the name is not asked for here: the message speaks of the password only
            message = _("Das Passwort ist falsch.")
            if exc.retry_after:
                message += " " + _("Nächster Versuch in {s} Sekunden.").format(
                    s=int(exc.retry_after)
                )
            raise AuthError(message, retry_after=exc.retry_after, kind="wrong") from None
        with self.db.write() as session:
            flushed = _flush_pending_events(session, self.vault)
            audit.append(session, actor=self.actor.username, action=AuditAction.UNLOCK)
        self.vault.drop_pending_events(flushed)
        self.locked = False  # only once the unlock is in the log

    def verify_audit(self) -> ChainReport:
        """Check the audit chain (supervisors and administrators)."""
        self.actor.require(Permission.VERIFY_AUDIT)
        # every store keeps the heads its own batches named (docs/security.md, "Signed
        # audit entries and anchors"): a supervisor's check uses the heads of all of them
        # Deferred: the outbox and batch code load when sending or checking, not at
        # sign-in (docs/architecture.md, "Start-up").
        from intake_app.device_sync.outbox import sent_audit_heads

        sent: list[tuple[str, int, str]] = []
        for store_db in list(self.scope.stores.values()) or [self.db]:
            with store_db.read() as session:
                sent += [("batch", seq, digest) for seq, digest in sent_audit_heads(session)]
        with self.db.read() as session:
            return audit.verify(session, anchors=list(dict.fromkeys(sent)))

    @property
    def is_closed(self) -> bool:
        """True once :meth:`close` ran (the key is gone)."""
        return not self._key

    def close(self) -> None:
        """Audit the log-out and close the databases. The session closes also when the
        entry cannot be written (a full disk, a file changed outside the program): a
        log-out that stopped half-way would leave the records on the screen."""
        try:
            self.audit(AuditAction.LOGOUT)
        except IntakeError:
            log.exception("the log-out could not be written to the audit log; closing anyway")
        finally:
            self.scope.close()
            self._key = b""


@dataclass(frozen=True, slots=True)
class _Opened:
    """What the sign-in learnt about the signed state before writing anything."""

    report: StateReport
    keys: SigningKeys | None
    key_problem: bool
    adopted: bool = False  # her key comes from an administrator's grant


def _check_signed_state(db: Database, *, username: str, vault_keys: UserKeys | None) -> _Opened:
    """Open the user's signing keys and check the signed state; set the audit signer."""
    with db.read() as session:
        user = users.get_by_name(session, username=username)
        keys: SigningKeys | None = None
        problem = adopted = False
        if user is not None and vault_keys is not None:
            try:
                keys, adopted = integrity.current_keys(session, user, vault_keys)
            except KeyBundleError:
                problem = True
        bound = keys.root_kid if keys is not None and keys.root_kid else None
        report = integrity.check_state(
            session, bound_root=bound, own_user_id=user.id if user is not None else None
        )
        if user is not None and vault_keys is not None and user.key_id:
            # her row names a key: it must be the one her password opens
            problem = problem or keys is None or keys.kid != user.key_id
    if keys is not None and not problem:
        db.audit_signer = integrity.signer_of(keys)
    return _Opened(
        report=report, keys=None if problem else keys, key_problem=problem, adopted=adopted
    )


def _refusal(opened: _Opened, user: Any) -> AuthError | None:
    """Why this user may not sign in with the signed state as it is (None: she may)."""
    report = opened.report
    own = [
        f
        for f in report.findings
        if f.user_id is None or (f.user_id == user.id and f.kind != "user_changed")
    ]
    if report.bootstrapped and user.id not in report.signed:
        own += [f for f in report.findings if f.user_id == user.id]
    if opened.key_problem:
        return AuthError(
            _(
                "Ihr Schlüssel wurde außerhalb des Programms verändert; die Anmeldung wurde "
                "abgelehnt und im Audit-Protokoll vermerkt. Bitte wenden Sie sich an die "
                "Administration."
            )
        )
    if own:
        return AuthError(
            " ".join(f.message() for f in own)
            + " "
            + _(
                "Die Anmeldung wurde abgelehnt und im Audit-Protokoll vermerkt. Bitte wenden "
                "Sie sich an die Administration."
            )
        )
    return None


def _maintain_keys(
    session: Any,
    *,
    db: Database,
    vault: Vault,
    opened: _Opened,
    user: Any,
    role: str,
    vault_keys: UserKeys | None,
) -> SigningKeys | None:
    """Give the user her key where she has none yet, take over a granted one, sign a
    migrated profile's users, certify keys made before that (docs/security.md)."""
    keys = opened.keys
    report = opened.report
    if vault_keys is None:
        return keys  # the recovery path issues her a new key with her new password
    secret = user_keys.secret_of(vault_keys)
    if not report.bootstrapped:
        if role == Role.ADMIN.value and not report.findings:
            keys, signed = integrity.bootstrap(session, admin=user, secret=secret, keys=keys)
            db.audit_signer = session.info["audit_signer"] = integrity.signer_of(keys)
            audit.append(
                session,
                actor=user.username,
                action=AuditAction.INTEGRITY_SIGNED,
                details={
                    "root": keys.root_kid,
                    "users": [{"id": u.id, "role": u.role, "active": u.active} for u in signed],
                },
            )
            return keys
        if keys is None:
            keys = integrity.issue_key(
                session, user=user, secret=secret, authority=None, root_kid=""
            )
    elif keys is None:
        keys = integrity.issue_key(
            session, user=user, secret=secret, authority=None, root_kid=report.root_kid
        )
    elif opened.adopted or not keys.root_kid:
        # a granted key, or one made before the state was signed: wrap it for her alone
        # and bind the root she trusts from now on
        root = keys.root_key
        if root is not None and user_keys.key_id(root) != report.root_kid:
            root = None
        keys = SigningKeys(keys.signing_key, keys.kid, report.root_kid, root)
        integrity.rewrap(session, user_id=user.id, secret=secret, keys=keys)
    db.audit_signer = session.info["audit_signer"] = integrity.signer_of(keys)
    if report.bootstrapped and role == Role.ADMIN.value and keys.kid in report.signers:
        done = integrity.certify_pending(session, integrity.Authority.of(keys))
        if done:
            audit.append(
                session,
                actor=user.username,
                action=AuditAction.INTEGRITY_SIGNED,
                details={"certified": [u.id for u in done]},
            )
    return keys


def _profile_seals_checked(
    db: Database, vault: Vault, key: bytes, keys: UserKeys | None, report: StateReport
) -> tuple[bytes, UserKeys | None, str | None]:
    """The profile key is sealed only to active users by the signed state whose vault
    public key carries a signature that checks (docs/security.md, "Signed vault keys").

    A seal to an entry of anyone else (a former colleague's old entry put back, attacker
    run 18) makes the profile database a new key at once; so does a re-key someone asked
    for (a deactivation, a reset). The new key goes only to those recipients: a former
    colleague's public key put into an active colleague's entry gets nothing (attacker
    run 19). Both are reported."""
    extra = vault.profile_holders() - set(active_refs(db, vault, report))
    due = vault.profile_rekey_state(key)[1]
    if not extra and (not due or remembered_recovery(keys) is None):
        # a re-key asked for waits for a sign-in that remembers the recovery key, which
        # is sealed the new key then (Vault.begin_profile_rekey)
        return key, keys, None
    recipients = profile_recipients(db, vault, report)
    if extra:
        log.error("the profile key is sealed to %d vault entries nobody signed", len(extra))
    key = profile_key.rekey_open(
        db, vault, key, recovery_digest=remembered_recovery(keys), only=recipients.refs
    )
    keys = dataclasses.replace(keys, profile_key=key) if keys is not None else None
    findings: list[dict[str, Any]] = []
    if extra:
        findings.append({"kind": "profile_key_holder_unsigned", "count": len(extra)})
    if recipients.withheld:
        findings.append({"kind": "profile_key_withheld", "users": recipients.withheld})
    if findings:
        with db.write() as session:
            audit.append(
                session,
                actor="system",
                action=AuditAction.INTEGRITY_VIOLATION,
                subject_type="vault",
                subject_id="profile",
                details={"findings": findings},
            )
    notes: list[str] = []
    if extra:
        notes.append(
            _(
                "In der Schlüsseldatei (vault.json) war der Schlüssel der Profildatenbank bei "
                "einem Eintrag, der laut den unterschriebenen Benutzerdaten kein aktives Konto "
                "ist. Die Profildatenbank hat jetzt einen neuen Schlüssel, nur für die aktiven "
                "Konten. Bitte informieren Sie die Administration."
            )
        )
    if recipients.withheld:
        notes.append(withheld_message(recipients.withheld))
    return key, keys, " ".join(notes) if notes else None


def _sign_own_vault_key(vault: Vault, username: str, signing: SigningKeys) -> None:
    """Her vault public key, signed with her signing key: others seal keys to it only
    then (docs/security.md, "Signed vault keys")."""
    vault.sign_own_public(
        username,
        signing.kid,
        lambda message: user_keys.sign(signing.signing_key, user_keys.VAULT_KEY_DOMAIN, message),
    )


def _flush_pending_events(session: Any, vault: Vault) -> int:
    """Copy failed log-ins recorded in the vault into the audit log; return how many.

    The caller drops them from the vault after its transaction has committed.
    """
    events = vault.pending_events()
    if not events:
        return 0
    names = {vault.user_ref(u.username): u.username for u in users.list_all(session)}
    for event in events:
        audit.append(
            session,
            actor=names.get(event.user_ref, "?"),
            action=event.action,
            subject_type="user_ref",
            subject_id=event.user_ref[:16],
            ts=event.ts,
        )
    session.flush()
    return len(events)
