"""User management: create, deactivate, reset and change passwords (vault + table + audit).

Each operation checks the actor's permission (``core.permissions``), changes the user row
and the vault inside one database transaction, and writes an audit entry. The vault is
written before the transaction commits; a failure of either leaves both as they were
(except for a crash between the two, after which repeating the operation mends it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from intake_app.core.audit import AuditAction
from intake_app.core.permissions import (
    Actor,
    Permission,
    Role,
    check_password_policy,
    check_username,
)
from intake_app.errors import AuthError, ConflictError, NotFound, ValidationError
from intake_app.i18n import _
from intake_app.storage import audit, users
from intake_app.storage.database import Database
from intake_app.storage.models import User, utcnow
from intake_app.storage.vault import KdfParams, UserKeys, Vault


@dataclass(frozen=True, slots=True)
class UserInfo:
    """A user as shown in lists (no secrets)."""

    id: int
    username: str
    display_name: str
    role: Role
    active: bool
    must_change_password: bool
    last_login_at: datetime | None

    @classmethod
    def of(cls, user: User) -> UserInfo:
        assert user.id is not None
        return cls(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            role=Role(user.role),
            active=user.active,
            must_change_password=user.must_change_password,
            last_login_at=user.last_login_at,
        )


class Accounts:
    """User management on behalf of a signed-in actor.

    Args:
        db: the open database.
        vault: the profile's key vault.
        db_key: the database key (held in memory while logged in).
        actor: who acts.
        kdf_params: Argon2id parameters for new wraps.
        keys: the actor's own keys (a password change keeps her key pair with them).
        on_own_password: called with the new password after the actor changed her own
            (the workspace opens the keys again: a provisional key pair was replaced).
    """

    def __init__(
        self,
        *,
        db: Database,
        vault: Vault,
        db_key: bytes,
        actor: Actor,
        kdf_params: KdfParams,
        keys: UserKeys | None = None,
        on_own_password: Callable[[str], None] | None = None,
    ) -> None:
        self._db = db
        self._keys = keys
        self._on_own_password = on_own_password
        self._vault = vault
        self._key = db_key
        self._actor = actor
        self._params = kdf_params

    def list_users(self) -> list[UserInfo]:
        """Every user (administrators only)."""
        self._actor.require(Permission.MANAGE_USERS)
        with self._db.read() as session:
            return [UserInfo.of(u) for u in users.list_all(session)]

    def user_names(self) -> dict[int, str]:
        """Display names by user id, for lists of records (any role)."""
        with self._db.read() as session:
            return {
                u.id: (u.display_name or u.username)
                for u in users.list_all(session)
                if u.id is not None
            }

    def add_user(
        self, *, username: str, role: Role | str, password: str, display_name: str = ""
    ) -> UserInfo:
        """Create a user who must change the initial password at first log-in."""
        self._actor.require(Permission.MANAGE_USERS)
        name = check_username(username)
        parsed_role = role if isinstance(role, Role) else Role.parse(role)
        check_password_policy(password, username=name)
        with self._db.write() as session:
            if users.get_by_name(session, username=name) is not None:
                raise ConflictError(_("Es gibt bereits einen Benutzer „{name}“.").format(name=name))
            user = users.create(
                session,
                username=name,
                role=parsed_role.value,
                display_name=display_name,
                must_change=True,
            )
            audit.append(
                session,
                actor=self._actor.username,
                action=AuditAction.USER_CREATED,
                subject_type="user",
                subject_id=str(user.id),
                details={"role": parsed_role.value},
            )
            self._vault.set_password(name, password, db_key=self._key, params=self._params)
            return UserInfo.of(user)

    def _target(self, session: object, username: str) -> User:
        user = users.get_by_name(session, username=username)  # type: ignore[arg-type]
        if user is None:
            raise NotFound(_("Es gibt keinen Benutzer „{name}“.").format(name=username))
        return user

    def deactivate(self, *, username: str) -> UserInfo:
        """Deactivate a user: their password no longer opens the profile."""
        self._actor.require(Permission.MANAGE_USERS)
        with self._db.write() as session:
            user = self._target(session, username)
            if user.id == self._actor.user_id:
                raise ConflictError(_("Sie können Ihr eigenes Konto nicht deaktivieren."))
            if not user.active:
                raise ConflictError(
                    _("Der Benutzer „{name}“ ist bereits deaktiviert.").format(name=user.username)
                )
            if user.role == Role.ADMIN.value and users.count_active_admins(session) <= 1:
                raise ConflictError(
                    _("Der letzte aktive Administrator kann nicht deaktiviert werden.")
                )
            user.active = False
            users.touch(session, user=user)
            audit.append(
                session,
                actor=self._actor.username,
                action=AuditAction.USER_DEACTIVATED,
                subject_type="user",
                subject_id=str(user.id),
            )
            self._vault.remove_user(user.username)
            self._withdraw_stores(user)
            return UserInfo.of(user)

    def reactivate(self, *, username: str, password: str) -> UserInfo:
        """Reactivate a user with a new initial password."""
        self._actor.require(Permission.MANAGE_USERS)
        with self._db.write() as session:
            user = self._target(session, username)
            if user.active:
                raise ConflictError(
                    _("Der Benutzer „{name}“ ist aktiv.").format(name=user.username)
                )
            check_password_policy(password, username=user.username)
            user.active = True
            user.must_change_password = True
            users.touch(session, user=user)
            audit.append(
                session,
                actor=self._actor.username,
                action=AuditAction.USER_REACTIVATED,
                subject_type="user",
                subject_id=str(user.id),
            )
            self._vault.set_password(user.username, password, db_key=self._key, params=self._params)
            return UserInfo.of(user)

    def reset_password(self, *, username: str, password: str) -> UserInfo:
        """Give a user a new initial password (re-wrap; the database is not re-encrypted)."""
        self._actor.require(Permission.MANAGE_USERS)
        with self._db.write() as session:
            user = self._target(session, username)
            if not user.active:
                raise ConflictError(
                    _("Der Benutzer „{name}“ ist deaktiviert. Aktivieren Sie ihn erst.").format(
                        name=user.username
                    )
                )
            check_password_policy(password, username=user.username)
            user.must_change_password = user.id != self._actor.user_id
            users.touch(session, user=user)
            audit.append(
                session,
                actor=self._actor.username,
                action=AuditAction.PASSWORD_RESET,
                subject_type="user",
                subject_id=str(user.id),
            )
            self._vault.set_password(
                user.username,
                password,
                db_key=self._key,
                params=self._params,
                keys=self._keys if user.id == self._actor.user_id else None,
            )
            if user.id != self._actor.user_id:
                self._withdraw_stores(user)
            return UserInfo.of(user)

    def _withdraw_stores(self, user: User) -> None:
        """Her stores get a new key before anything more is written to them.

        docs/security.md, "Device: keys and scopes": the seals to her are withdrawn at
        once; the next supervisor who signs in re-keys each store and seals the new key
        to the site key (and to her again, once she has chosen her own password).
        """
        for sid, info in self._vault.stores().items():
            if info.owner_id == user.id:
                self._vault.mark_for_rekey(sid)
        if user.role == Role.SUPERVISOR.value and self._vault.layout() >= 2:
            # she may hold the site key: a new one replaces it at the next supervisor sign-in
            self._vault.request_site_rotation()

    def change_own_password(self, *, old_password: str, new_password: str) -> None:
        """Change the actor's own password after checking the old one."""
        if old_password == new_password:
            raise ValidationError(_("Das neue Passwort muss sich vom alten unterscheiden."))
        check_password_policy(new_password, username=self._actor.username)
        if not self._vault.check_password(self._actor.username, old_password):
            raise AuthError(_("Das bisherige Passwort ist falsch."))
        self.set_own_password(new_password)

    def set_own_password(self, new_password: str) -> None:
        """Set the actor's password without the old one (first log-in, recovery)."""
        check_password_policy(new_password, username=self._actor.username)
        with self._db.write() as session:
            user = users.get_by_id(session, user_id=self._actor.user_id)
            if user is None:  # pragma: no cover - the actor exists while logged in
                raise NotFound(_("Ihr Benutzerkonto wurde nicht gefunden."))
            user.must_change_password = False
            user.updated_at = utcnow()
            session.add(user)
            audit.append(
                session,
                actor=self._actor.username,
                action=AuditAction.PASSWORD_CHANGED,
                subject_type="user",
                subject_id=str(user.id),
            )
            self._vault.set_password(
                user.username,
                new_password,
                db_key=self._key,
                params=self._params,
                keys=self._keys,
                own=True,
            )
        if self._on_own_password is not None:
            self._on_own_password(new_password)
