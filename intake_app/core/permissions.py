"""Roles and permissions, enforced here in ``core`` (the UI only hides what this forbids).

A counsellor sees and edits their own records; a supervisor sees all records of the site,
prints, closes and reviews them; an administrator manages users, settings and the device.
Every repository function that touches records takes the acting user and asks this module.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from intake_app.errors import PermissionDenied, ValidationError
from intake_app.i18n import N_, _


class Role(enum.StrEnum):
    """The three roles (docs/architecture.md, "Roles")."""

    COUNSELLOR = "counsellor"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        """The role's name for people, in the current language."""
        return _(_ROLE_LABELS[self])

    @classmethod
    def parse(cls, value: str) -> Role:
        """Parse a role name from the command line or a form; raise a clear error otherwise."""
        try:
            return cls(value.strip().lower())
        except ValueError:
            raise ValidationError(
                _("Unbekannte Rolle „{role}“. Erlaubt sind: counsellor, supervisor, admin.").format(
                    role=value
                )
            ) from None


_ROLE_LABELS = {
    Role.COUNSELLOR: N_("Beratung"),
    Role.SUPERVISOR: N_("Leitung"),
    Role.ADMIN: N_("Administration"),
}


class Permission(enum.StrEnum):
    """What a user may do. Record-level checks also look at who owns the record."""

    CREATE_RECORD = "create_record"
    VIEW_OWN_RECORDS = "view_own_records"
    VIEW_SITE_RECORDS = "view_site_records"
    EDIT_OWN_RECORDS = "edit_own_records"
    EDIT_SITE_RECORDS = "edit_site_records"
    PRINT_RECORDS = "print_records"
    CLOSE_RECORDS = "close_records"
    ERASE_RECORDS = "erase_records"
    VIEW_OVERVIEW = "view_overview"
    SYNC = "sync"
    MANAGE_USERS = "manage_users"
    MANAGE_SETTINGS = "manage_settings"
    MANAGE_DEVICE = "manage_device"
    VERIFY_AUDIT = "verify_audit"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.COUNSELLOR: frozenset(
        {
            Permission.CREATE_RECORD,
            Permission.VIEW_OWN_RECORDS,
            Permission.EDIT_OWN_RECORDS,
            Permission.PRINT_RECORDS,
            Permission.SYNC,
        }
    ),
    Role.SUPERVISOR: frozenset(
        {
            Permission.CREATE_RECORD,
            Permission.VIEW_OWN_RECORDS,
            Permission.VIEW_SITE_RECORDS,
            Permission.EDIT_OWN_RECORDS,
            Permission.EDIT_SITE_RECORDS,
            Permission.PRINT_RECORDS,
            Permission.CLOSE_RECORDS,
            Permission.ERASE_RECORDS,
            Permission.VIEW_OVERVIEW,
            Permission.SYNC,
            Permission.VERIFY_AUDIT,
        }
    ),
    Role.ADMIN: frozenset(
        {
            Permission.MANAGE_USERS,
            Permission.MANAGE_SETTINGS,
            Permission.MANAGE_DEVICE,
            Permission.ERASE_RECORDS,
            Permission.SYNC,
            Permission.VERIFY_AUDIT,
        }
    ),
}


@dataclass(frozen=True, slots=True)
class Actor:
    """The signed-in user on whose behalf an action runs."""

    user_id: int
    username: str
    role: Role
    display_name: str = ""

    def can(self, permission: Permission) -> bool:
        """True when the role grants ``permission``."""
        return permission in ROLE_PERMISSIONS[self.role]

    def require(self, permission: Permission) -> None:
        """Raise :class:`PermissionDenied` unless the role grants ``permission``."""
        if not self.can(permission):
            raise PermissionDenied(
                _("Ihre Rolle „{role}“ erlaubt diese Aktion nicht.").format(role=self.role.label)
            )

    def can_view_record(self, owner_id: int) -> bool:
        """Whether this user may open a record owned by ``owner_id``."""
        if self.can(Permission.VIEW_SITE_RECORDS):
            return True
        return self.can(Permission.VIEW_OWN_RECORDS) and owner_id == self.user_id

    def can_edit_record(self, owner_id: int) -> bool:
        """Whether this user may change a record owned by ``owner_id``."""
        if self.can(Permission.EDIT_SITE_RECORDS):
            return True
        return self.can(Permission.EDIT_OWN_RECORDS) and owner_id == self.user_id

    def require_view_record(self, owner_id: int) -> None:
        """Raise :class:`PermissionDenied` unless :meth:`can_view_record`."""
        if not self.can_view_record(owner_id):
            raise PermissionDenied(_("Sie dürfen diese Akte nicht öffnen."))

    def require_edit_record(self, owner_id: int) -> None:
        """Raise :class:`PermissionDenied` unless :meth:`can_edit_record`."""
        if not self.can_edit_record(owner_id):
            raise PermissionDenied(_("Sie dürfen diese Akte nicht ändern."))

    def record_scope_owner(self) -> int | None:
        """The owner id that limits which records this user may list (None: all of the site).

        Raises:
            PermissionDenied: the role may not see records at all (an administrator).
        """
        if self.can(Permission.VIEW_SITE_RECORDS):
            return None
        if self.can(Permission.VIEW_OWN_RECORDS):
            return self.user_id
        raise PermissionDenied(
            _("Ihre Rolle „{role}“ hat keinen Zugriff auf Akten.").format(role=self.role.label)
        )


MIN_PASSWORD_LENGTH = 10


def check_password_policy(password: str, *, username: str = "") -> None:
    """Raise :class:`ValidationError` when ``password`` is too weak to protect the data."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            _("Das Passwort muss mindestens {n} Zeichen lang sein.").format(n=MIN_PASSWORD_LENGTH)
        )
    if username and password.strip().casefold() == username.strip().casefold():
        raise ValidationError(_("Das Passwort darf nicht der Benutzername sein."))
    if len(set(password)) < 4:
        raise ValidationError(
            _("Das Passwort ist zu einfach: Bitte verwenden Sie mehr verschiedene Zeichen.")
        )


def check_username(username: str) -> str:
    """Return the normalised user name or raise :class:`ValidationError`."""
    name = username.strip()
    if not (2 <= len(name) <= 64) or any(ch.isspace() or ch in "/\\:\"'" for ch in name):
        raise ValidationError(
            _("Ungültiger Benutzername „{name}“: 2 bis 64 Zeichen, ohne Leerzeichen.").format(
                name=username
            )
        )
    return name
