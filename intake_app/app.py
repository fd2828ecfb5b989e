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
from intake_app.device_sync.device import DeviceSync
from intake_app.device_sync.installed_forms import installed_form_sources
from intake_app.errors import AuthError
from intake_app.i18n import _
from intake_app.storage import audit, settings_repo, users
from intake_app.storage.accounts import Accounts
from intake_app.storage.database import Database
from intake_app.storage.lifecycle import Lifecycle
from intake_app.storage.models import utcnow
from intake_app.storage.profile import Profile
from intake_app.storage.records import RecordService
from intake_app.storage.settings_repo import ProfileSettings
from intake_app.storage.vault import UserKeys, Vault

log = logging.getLogger("intake.core")

DEFAULT_FORM = "intake"
ORGANISATION_FILE = "organisation.yaml"


@dataclass(frozen=True, slots=True)
class SignInResult:
    """What the log-in window needs to know besides the workspace."""

    must_change_password: bool
    schema_steps: tuple[str, ...]


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
            AuthError: wrong name or password, deactivated account, or throttled.
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
        workspace = cls._open(profile, vault=vault, key=key, username=username, recovery=True)
        try:
            if workspace.actor.role is not Role.ADMIN:
                raise AuthError(
                    _(
                        "Mit dem Wiederherstellungsschlüssel kann nur ein Administrator "
                        "ein neues Passwort setzen."
                    )
                )
            workspace.accounts.set_own_password(new_password)
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
    ) -> Workspace:
        db, steps = profile.open_database(key)
        try:
            with db.write() as session:
                flushed = _flush_pending_events(session, vault)
                if steps:
                    audit.append(
                        session,
                        actor="system",
                        action=AuditAction.SCHEMA_UPGRADED,
                        details={"steps": steps},
                    )
                settings_repo.upgrade_stored(session)
            vault.drop_pending_events(flushed)
            with db.write() as session:
                user = users.get_by_name(session, username=username)
                if user is None or not user.active:
                    audit.append(
                        session,
                        actor=username if user else "?",
                        action=AuditAction.LOGIN_FAILED,
                        details={"reason": "inactive" if user else "unknown"},
                    )
                    raise AuthError(_("Dieses Benutzerkonto ist deaktiviert oder unbekannt."))
                user.last_login_at = utcnow()
                session.add(user)
                audit.append(
                    session,
                    actor=user.username,
                    action=AuditAction.RECOVERY_USED if recovery else AuditAction.LOGIN,
                    subject_type="user",
                    subject_id=str(user.id),
                )
                assert user.id is not None
                actor = Actor(
                    user_id=user.id,
                    username=user.username,
                    role=Role(user.role),
                    display_name=user.display_name,
                )
                result = SignInResult(
                    must_change_password=user.must_change_password and not recovery,
                    schema_steps=tuple(steps),
                )
        except BaseException:
            db.close()
            raise
        log.info("signed in (role %s)", actor.role.value)
        return cls(
            profile=profile, db=db, vault=vault, db_key=key, actor=actor, result=result, keys=keys
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
            return audit.verify(session)

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
