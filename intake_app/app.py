"""The composition root: a signed-in :class:`Workspace` holds every service, built once.

Windows, dialogs and command-line commands receive the workspace (or the one service they
need) as an argument; nothing reaches for a global. The workspace holds the database key
in memory for as long as the user is signed in.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any

from intake_app.core.audit import AuditAction, ChainReport
from intake_app.core.forms import (
    Form,
    FormLoadError,
    FormRegistry,
    OrganisationConfig,
    initial_answers,
    load_form,
    load_organisation,
    load_shipped_forms,
)
from intake_app.core.permissions import Actor, Permission, Role
from intake_app.core.records import RecordStatus
from intake_app.device_sync.device import DeviceSync
from intake_app.device_sync.installed_forms import installed_form_sources
from intake_app.device_sync.outbox import sent_audit_heads
from intake_app.errors import AuthError
from intake_app.i18n import _
from intake_app.storage import audit, integrity, settings_repo, user_keys, users
from intake_app.storage.accounts import Accounts
from intake_app.storage.database import Database
from intake_app.storage.integrity import StateReport
from intake_app.storage.lifecycle import Lifecycle
from intake_app.storage.models import utcnow
from intake_app.storage.profile import Profile
from intake_app.storage.records import RecordService
from intake_app.storage.settings_repo import ProfileSettings
from intake_app.storage.user_keys import KeyBundleError, SigningKeys, recovery_secret
from intake_app.storage.vault import UserKeys, Vault

log = logging.getLogger("intake.core")

DEFAULT_FORM = "intake"
ORGANISATION_FILE = "organisation.yaml"


@dataclass(frozen=True, slots=True)
class SignInResult:
    """What the log-in window needs to know besides the workspace."""

    must_change_password: bool
    schema_steps: tuple[str, ...]
    #: what in the signed state does not check (German, translated); empty when all does
    integrity_messages: tuple[str, ...] = ()
    #: the recovery path writes its audit entries once the administrator has a key
    deferred_audit: bool = False

    @property
    def safe_mode(self) -> bool:
        """True when the profile opened although signatures do not check."""
        return bool(self.integrity_messages)


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
    ) -> None:
        self.profile = profile
        #: The signed-in user's own keys (None after a sign-in with the recovery key).
        self.keys = keys
        self.db = db
        self.vault = vault
        self.actor = actor
        self.sign_in_result = result
        self._key = db_key
        self.locked = False
        #: her signing key (None while she has none yet; docs/security.md)
        self.signing_keys: SigningKeys | None = None
        self.integrity: StateReport = StateReport(bootstrapped=False)
        self.accounts = Accounts(
            db=db,
            vault=vault,
            db_key=db_key,
            actor=actor,
            kdf_params=profile.kdf_params,
            keys=keys,
        )
        self.settings = ProfileSettings(db=db, actor=actor)
        self.sync = DeviceSync(
            db=db,
            actor=actor,
            forms=lambda: self.forms,
            organisation=lambda: self.organisation,
            batch_limit=lambda: int(self.settings.get("sync.batch_max_bytes")),
            on_forms_changed=self.reload_forms,
        )
        self.lifecycle = Lifecycle(
            db=db,
            actor=actor,
            retention_days=lambda: int(self.settings.get("retention.days_after_close")),
            expiry_warning_days=lambda: self.expiry_warning_days,
        )
        self.records = RecordService(
            db=db,
            actor=actor,
            site=str(self.settings.get("site.name") or ""),
            device_prefix=profile.device_prefix,
            expiry_warning_days=lambda: self.expiry_warning_days,
        )

    # -- forms and organisation --------------------------------------------------------

    @functools.cached_property
    def forms(self) -> FormRegistry:
        """Every interview form this device knows (shipped and installed), by version."""
        shipped = load_shipped_forms()
        known = {(form.id, form.version) for form in shipped}
        extra = []
        for source in installed_form_sources(self.db):
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
        """Consent purposes and legal texts: the profile's own file, else the default."""
        own = self.profile.root / ORGANISATION_FILE
        return load_organisation(own if own.is_file() else None)

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
        return cls._open(
            profile, vault=vault, key=keys.profile_key, username=username, recovery=False, keys=keys
        )

    @classmethod
    def recover(
        cls, profile: Profile, *, recovery_key: str, username: str, new_password: str
    ) -> Workspace:
        """Open the profile with the recovery key and give an administrator a new password."""
        vault = profile.vault()
        key = vault.unlock_with_recovery(recovery_key)
        workspace = cls._open(
            profile,
            vault=vault,
            key=key,
            username=username,
            recovery=True,
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
        db, steps = profile.open_database(key)
        try:
            opened = _check_signed_state(db, username=username, vault_keys=keys)
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
                        vault_keys=keys,
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
                    integrity_messages=tuple(f.message() for f in opened.report.findings),
                )
            if refusal is not None:
                raise refusal
        except BaseException:
            db.close()
            raise
        log.info("signed in (role %s)", actor.role.value)
        workspace = cls(
            profile=profile, db=db, vault=vault, db_key=key, actor=actor, result=result, keys=keys
        )
        workspace.signing_keys = signing
        workspace.integrity = opened.report
        workspace.accounts.signing_keys = signing
        workspace.accounts.recovery_secret = recovery_secret
        if opened.adopted:
            # the key an administrator granted is hers now, wrapped for her alone
            vault.withdraw_sealed(username, user_keys.GRANT_NAME)
        return workspace

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
        """Mark the session locked (the window covers itself) and audit it."""
        if not self.locked:
            self.locked = True
            self.audit(AuditAction.LOCK)

    def unlock(self, password: str) -> None:
        """Unlock with the signed-in user's password (throttled like a log-in).

        Raises:
            AuthError: the password is wrong or the user must wait.
        """
        self.vault.unlock(self.actor.username, password)
        self.locked = False
        with self.db.write() as session:
            flushed = _flush_pending_events(session, self.vault)
            audit.append(session, actor=self.actor.username, action=AuditAction.UNLOCK)
        self.vault.drop_pending_events(flushed)

    def verify_audit(self) -> ChainReport:
        """Check the audit chain (supervisors and administrators)."""
        self.actor.require(Permission.VERIFY_AUDIT)
        with self.db.read() as session:
            sent = [("batch", seq, digest) for seq, digest in sent_audit_heads(session)]
            return audit.verify(session, anchors=sent)

    @property
    def is_closed(self) -> bool:
        """True once :meth:`close` ran (the key is gone)."""
        return not self._key

    def close(self) -> None:
        """Audit the log-out and close the database."""
        try:
            self.audit(AuditAction.LOGOUT)
        finally:
            self.db.close()
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
