"""User management: create, deactivate, reset and change passwords (vault + table + audit).

Each operation checks the actor's permission (``core.permissions``), changes the user row
and the vault inside one database transaction, and writes an audit entry. The vault is
written before the transaction commits; a failure of either leaves both as they were
(except for a crash between the two, after which repeating the operation mends it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

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
from intake_app.storage import audit, integrity, profile_key, user_keys, users
from intake_app.storage.database import Database
from intake_app.storage.integrity import StateReport
from intake_app.storage.models import TrustState, User, UserKey, utcnow
from intake_app.storage.user_keys import SigningKeys
from intake_app.storage.vault import KdfParams, UserKeys, Vault, remembered_recovery
from intake_app.storage.vault_trust import profile_recipients

log = logging.getLogger("intake.storage")


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
        on_profile_key: called with the profile database's new key after a deactivation
            or a reset gave it one.
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
        on_profile_key: Callable[[bytes], None] | None = None,
    ) -> None:
        self._db = db
        self._on_profile_key = on_profile_key
        self._keys = keys
        self._on_own_password = on_own_password
        self._vault = vault
        self._key = db_key
        self._actor = actor
        self._params = kdf_params
        #: the actor's own keys (set at sign-in; None while she has none yet)
        self.signing_keys: SigningKeys | None = None
        #: set when the profile was opened with the recovery key
        self.recovery_secret: bytes | None = None
        #: active users the last profile re-key left out (no signed vault key): they need
        #: a new password (docs/security.md, "Signed vault keys")
        self.withheld: list[str] = []

    # -- the signed state (docs/security.md, "Device: integrity of roles and the audit log")

    def _authority(self) -> integrity.Authority | None:
        """The actor's key, when it may sign user rows (a certified administrator's)."""
        if self.signing_keys is None:
            return None
        return integrity.Authority.of(self.signing_keys)

    def _root(self, session: Session) -> tuple[str, Any]:
        """The root's id and, where the actor holds it, its private key."""
        state = session.get(TrustState, 1)
        if state is None:
            return "", None
        root = self.signing_keys.root_key if self.signing_keys is not None else None
        return state.root_kid, root

    def _vouch(self, user: User) -> None:
        """The provisional key pair she just made for ``user``, signed with her own key
        together with the signing key just issued to the user: a profile re-key before
        that user's first sign-in seals the new key to it (docs/security.md, "Signed
        vault keys"). The user signs her own at sign-in."""
        keys = self.signing_keys
        if keys is None or not user.key_id:
            return  # no signed state yet: every entry receives the key
        self._vault.vouch_provisional(
            user.username,
            keys.kid,
            user.key_id,
            lambda message: user_keys.sign(keys.signing_key, user_keys.VAULT_KEY_DOMAIN, message),
        )

    def _issue(self, session: Session, user: User) -> None:
        """A new key pair for ``user``, sealed to her in the vault; her row signed again."""
        root_kid, root = self._root(session)
        if not root_kid:
            return  # not signed yet: she makes her key at her next sign-in
        integrity.issue_key(
            session,
            user=user,
            vault=self._vault,
            authority=self._authority(),
            root_kid=root_kid,
            root_key=root,
        )

    def _sign(self, session: Session, user: User) -> None:
        """Sign ``user`` as changed by the actor."""
        authority = self._authority()
        if authority is not None and session.get(TrustState, 1) is not None:
            integrity.sign_row(user, authority)
            session.add(user)

    def _hand_over(self, session: Session, leaving_kid: str, earlier: StateReport) -> None:
        """Sign again what an administrator's key ``leaving_kid`` had signed (user rows,
        key certificates): her key stops counting as a signer when she is deactivated or
        her password is reset (a new key). ``earlier``: the signed state before the change,
        whose values are kept. Signed with the profile's root, which every administrator
        holds: with her own key, a row of the actor's that the leaving key had signed
        would be signed by itself, a circle that counts for nothing, and every row under
        it with it (docs/security.md, "Device: integrity of roles and the audit log").

        Raises:
            ConflictError: the actor holds no root, and her own row or key hangs on the
                leaving key (nothing is changed).
        """
        own = self._actor.user_id
        rows = [
            u
            for u in users.list_all(session)
            if u.signed_by == leaving_kid and u.id is not None and u.id in earlier.signed
        ]
        keys = list(session.scalars(select(UserKey).where(UserKey.certified_by == leaving_kid)))
        authority = self._root_authority(session)
        if authority is None:
            authority = self._authority()
            if authority is None:
                return
            if any(u.id == own for u in rows) or any(k.user_id == own for k in keys):
                raise ConflictError(
                    _(
                        "Ihr eigenes Konto wurde von diesem Administrationskonto "
                        "unterschrieben, und Ihnen fehlt der Hauptschlüssel des Profils. "
                        "Bitte melden Sie sich mit dem Wiederherstellungsschlüssel an und "
                        "wiederholen Sie den Schritt dann. Es wurde nichts geändert."
                    )
                )
        for user in rows:
            assert user.id is not None
            values = earlier.signed[user.id]
            user.role, user.active = values.role, values.active
            integrity.sign_row(user, authority)
            session.add(user)
        for key in keys:
            if integrity.key_certified(key, earlier.signers):
                integrity.certify(key, authority)
                session.add(key)

    def _root_authority(self, session: Session) -> integrity.Authority | None:
        """The profile's root as an authority, where the actor holds it."""
        root_kid, root = self._root(session)
        if root is None or not root_kid or user_keys.key_id(root) != root_kid:
            return None
        return integrity.Authority(root_kid, root)

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
            self._vault.set_password(
                name,
                password,
                db_key=self._key,
                params=self._params,
                recovery_seen=remembered_recovery(self._keys),
            )
            self._issue(session, user)
            self._vouch(user)
            return UserInfo.of(user)

    def _target(self, session: object, username: str) -> User:
        user = users.get_by_name(session, username=username)  # type: ignore[arg-type]
        if user is None:
            raise NotFound(_("Es gibt keinen Benutzer „{name}“.").format(name=username))
        return user

    def deactivate(self, *, username: str) -> UserInfo:
        """Deactivate a user: their password no longer opens the profile."""
        self._actor.require(Permission.MANAGE_USERS)
        self.withheld = []
        with self._db.write() as session:
            earlier = integrity.check_state(session)
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
            self._sign(session, user)
            if user.role == Role.ADMIN.value and user.key_id:
                self._hand_over(session, user.key_id, earlier)
            audit.append(
                session,
                actor=self._actor.username,
                action=AuditAction.USER_DEACTIVATED,
                subject_type="user",
                subject_id=str(user.id),
                details=self._site_left(user),
            )
            self._vault.remove_user(user.username)
            self._withdraw_stores(user)
            info = UserInfo.of(user)
        self._rekey_profile()
        return info

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
            self._vault.set_password(
                user.username,
                password,
                db_key=self._key,
                params=self._params,
                recovery_seen=remembered_recovery(self._keys),
            )
            self._issue(session, user)
            self._vouch(user)
            return UserInfo.of(user)

    def reset_password(self, *, username: str, password: str) -> UserInfo:
        """Give a user a new initial password (re-wrap; the database is not re-encrypted)."""
        self._actor.require(Permission.MANAGE_USERS)
        self.withheld = []
        with self._db.write() as session:
            earlier = integrity.check_state(session)
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
                details=self._site_left(user) if user.id != self._actor.user_id else {},
            )
            own = user.id == self._actor.user_id
            self._vault.set_password(
                user.username,
                password,
                db_key=self._key,
                params=self._params,
                keys=self._keys if own else None,
                recovery_seen=None if own else remembered_recovery(self._keys),
            )
            if not own or self._keys is None:
                leaving_kid = user.key_id
                self._issue(session, user)
                if user.role == Role.ADMIN.value and leaving_kid and leaving_kid != user.key_id:
                    # her old key stops counting: what it signed is signed again
                    self._hand_over(session, leaving_kid, earlier)
            if not own:
                self._vouch(user)
            withdrawn = user.id != self._actor.user_id
            if withdrawn:
                self._withdraw_stores(user)
            info = UserInfo.of(user)
        if withdrawn:
            self._rekey_profile()
        return info

    def _site_left(self, user: User) -> dict[str, str]:
        """For a supervisor who leaves (deactivation, reset): the SHA-256 of the site public
        key she may hold, in the signed audit entry. A holder's next sign-in makes a new
        site key while the site still has that one, whatever the vault file says: she
        kept the site key, and anything authenticated with it only she can rewrite
        (docs/security.md, "A holder who left")."""
        if user.role != Role.SUPERVISOR.value or self._vault.layout() < 2:
            return {}
        details = {"site": hashlib.sha256(self._vault.site_public().raw).hexdigest()}
        recovery = remembered_recovery(self._keys) or self._vault.recovery_digest()
        if recovery is not None:  # the one a new site key goes to (she could swap it)
            details["recovery"] = recovery.hex()
        return details

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
        # the profile database gets a new key once this transaction has committed
        self._vault.request_profile_rekey()

    def _rekey_profile(self) -> None:
        """A new key for the profile database (docs/security.md, "Granting and revoking"):
        what is written from now on does not open for the keys of the one who left."""
        if self._vault.layout() < 2:
            return
        recipients = profile_recipients(self._db, self._vault)
        own_ref = self._vault.user_ref(self._actor.username)
        if recipients.refs is not None and own_ref not in recipients.refs:
            # the signed state no longer carries the actor herself: a new key sealed only
            # to those it does carry would lock her (and maybe everyone) out. The re-key
            # stays asked for; the sign-ins report what does not check.
            log.error("no profile re-key: the signed state does not carry the actor")
            return
        self._key = profile_key.rekey_open(
            self._db,
            self._vault,
            self._key,
            recovery_digest=remembered_recovery(self._keys),
            only=recipients.refs,
        )
        self.withheld = recipients.withheld
        if recipients.withheld:
            with self._db.write() as session:
                audit.append(
                    session,
                    actor=self._actor.username,
                    action=AuditAction.INTEGRITY_VIOLATION,
                    subject_type="vault",
                    subject_id="profile",
                    details={
                        "findings": [{"kind": "profile_key_withheld", "users": recipients.withheld}]
                    },
                )
        if self._keys is not None:
            self._keys = dataclasses.replace(self._keys, profile_key=self._key)
        if self._on_profile_key is not None:
            self._on_profile_key(self._key)

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
            # with her keys, the password wraps the same key pair: her signing key stays
            self._vault.set_password(
                user.username,
                new_password,
                db_key=self._key,
                params=self._params,
                keys=self._keys,
                own=True,
            )
            if self._keys is None and self.recovery_secret is not None:
                self.signing_keys = self._recover_keys(session, user)
                session.info["audit_signer"] = integrity.signer_of(self.signing_keys)
                self._db.audit_signer = session.info["audit_signer"]
            audit.append(
                session,
                actor=self._actor.username,
                action=AuditAction.PASSWORD_CHANGED,
                subject_type="user",
                subject_id=str(user.id),
            )
        if self._on_own_password is not None:
            self._on_own_password(new_password)

    def _recover_keys(self, session: Session, user: User) -> SigningKeys:
        """The recovery path: a new key for the administrator, certified by the root.

        The root comes from its recovery wrap; where there is none (a profile signed before
        its recovery key was ever used) or it does not open, a new root is made and wrapped
        by the recovery key (docs/security.md explains what other users then see).
        """
        assert self.recovery_secret is not None
        state = session.get(TrustState, 1)
        root = None
        if state is not None and state.root_recovery_wrap:
            try:
                root = user_keys.open_root_for_recovery(
                    self.recovery_secret, state.root_recovery_wrap
                )
                if user_keys.key_id(root) != state.root_kid:
                    root = None
            except user_keys.KeyBundleError:
                root = None
        if state is None:  # never signed: sign everyone as they are, as an update does
            keys, _signed = integrity.bootstrap(
                session,
                admin=user,
                keys=None,
                vault=self._vault,
                recovery_secret=self.recovery_secret,
            )
            return keys
        earlier = integrity.check_state(session)
        if root is None:
            session.delete(state)
            session.flush()
            root = integrity.create_root(session, recovery_secret=self.recovery_secret)
            audit.append(
                session,
                actor=self._actor.username,
                action=AuditAction.INTEGRITY_SIGNED,
                details={"root": user_keys.key_id(root), "new_root": True},
            )
        root_kid = user_keys.key_id(root)
        keys = integrity.issue_key(
            session,
            user=user,
            vault=self._vault,
            authority=integrity.Authority(root_kid, root),
            root_kid=root_kid,
            root_key=root,
        )
        authority = integrity.Authority.of(keys)
        for other in users.list_all(session):
            values = earlier.signed.get(other.id) if other.id is not None else None
            if other.id == user.id or values is None or other.signed_by in (keys.kid,):
                continue
            if other.signed_by == root_kid:
                continue  # still checks under the same root
            other.role, other.active = values.role, values.active
            integrity.sign_row(other, authority)
            session.add(other)
        for key in session.scalars(select(UserKey)).all():
            if key.user_id != user.id and integrity.key_certified(key, earlier.signers):
                integrity.certify(key, authority)
                session.add(key)
        return keys
