"""Profile settings stored as JSON in the encrypted database, typed by ``core.settings``."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from intake_app.core import settings as declared
from intake_app.core.audit import AuditAction
from intake_app.core.permissions import Actor, Permission
from intake_app.errors import ValidationError
from intake_app.storage import audit
from intake_app.storage.database import Database
from intake_app.storage.models import SettingValue, utcnow

VERSION_KEY = "__settings_version__"


def get(session: Session, *, key: str) -> Any:
    """The stored value of ``key``, or its declared default."""
    spec = declared.spec(key)
    row = session.get(SettingValue, key)
    if row is None:
        return spec.default
    try:
        return spec.validate(json.loads(row.value))
    except (ValueError, ValidationError):
        return spec.default


def get_all(session: Session) -> dict[str, Any]:
    """Every profile setting (stored or default)."""
    return {
        spec.key: get(session, key=spec.key)
        for spec in declared.SETTINGS
        if spec.scope is declared.Scope.PROFILE
    }


def put(session: Session, *, key: str, value: Any) -> tuple[Any, Any]:
    """Validate and store ``value``; return (old, new). The caller checks permissions."""
    spec = declared.spec(key)
    new = spec.validate(value)
    old = get(session, key=key)
    row = session.get(SettingValue, key)
    if row is None:
        row = SettingValue(key=key, value=json.dumps(new, ensure_ascii=False))
    else:
        row.value = json.dumps(new, ensure_ascii=False)
        row.updated_at = utcnow()
    session.add(row)
    return old, new


def _json(text: object) -> Any:
    """A stored value read as JSON; None when it is none (changed outside the program)."""
    try:
        return json.loads(text)  # type: ignore[arg-type]
    except (ValueError, TypeError, RecursionError):
        return None


def upgrade_stored(session: Session) -> int:
    """Run the versioned settings upgrades; return the version now stored."""
    row = session.get(SettingValue, VERSION_KEY)
    stored = _json(row.value) if row else 0
    if row is not None and (not isinstance(stored, int) or isinstance(stored, bool)):
        # a marker no version of the program writes (changed outside it): nothing is
        # upgraded over values that may be current; each value is checked where it is
        # read (``get``), and the marker is written anew
        stored = declared.SETTINGS_VERSION
        row.value = json.dumps(stored)
        session.add(row)
    if stored >= declared.SETTINGS_VERSION:
        return stored
    values = {}
    for spec in declared.SETTINGS:
        existing = session.get(SettingValue, spec.key)
        if existing is not None and (value := _json(existing.value)) is not None:
            values[spec.key] = value
    upgraded = declared.upgrade(values, from_version=stored)
    for key, value in upgraded.items():
        existing = session.get(SettingValue, key) or SettingValue(key=key, value="null")
        existing.value = json.dumps(value, ensure_ascii=False)
        session.add(existing)
    marker = row or SettingValue(key=VERSION_KEY, value="0")
    marker.value = json.dumps(declared.SETTINGS_VERSION)
    session.add(marker)
    return declared.SETTINGS_VERSION


class ProfileSettings:
    """Profile settings on behalf of a signed-in user: anyone reads, administrators change.

    Args:
        db: the open database.
        actor: who acts.
    """

    def __init__(self, *, db: Database, actor: Actor) -> None:
        self._db = db
        self._actor = actor

    def get(self, key: str) -> Any:
        """The current value of a profile setting."""
        with self._db.read() as session:
            return get(session, key=key)

    def all(self) -> dict[str, Any]:
        """Every profile setting with its current value."""
        with self._db.read() as session:
            return get_all(session)

    def put(self, key: str, value: Any) -> Any:
        """Change a setting (administrators only; audited with the key, not the value)."""
        self._actor.require(Permission.MANAGE_SETTINGS)
        with self._db.write() as session:
            old, new = put(session, key=key, value=value)
            if old != new:
                audit.append(
                    session,
                    actor=self._actor.username,
                    action=AuditAction.SETTINGS_CHANGED,
                    subject_type="setting",
                    subject_id=key,
                )
            return new
