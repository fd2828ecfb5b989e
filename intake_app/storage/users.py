"""Repository functions for the ``users`` table (keyword-only, they take the session)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake_app.storage.models import User, utcnow


def username_key(username: str) -> str:
    """The case-insensitive form a user name is unique by."""
    return username.strip().casefold()


def get_by_name(session: Session, *, username: str) -> User | None:
    """The user called ``username`` (any case), or None."""
    key = username_key(username)
    found = session.scalars(select(User).where(User.username_key == key)).first()
    # SQLite takes the index's word for the match: an index changed outside the program
    # could hand back another user's row (docs/security.md, "Code inside a database file")
    return found if found is not None and found.username_key == key else None


def get_by_id(session: Session, *, user_id: int) -> User | None:
    """The user with ``user_id``, or None."""
    return session.get(User, user_id)


def list_all(session: Session, *, include_inactive: bool = True) -> list[User]:
    """Every user, sorted by name."""
    query = select(User)
    if not include_inactive:
        query = query.where(User.active.is_(True))
    return list(session.scalars(query.order_by(User.username_key)).all())


def count_active_admins(session: Session) -> int:
    """How many active administrators there are (the last one must stay)."""
    return len(
        session.scalars(select(User.id).where(User.role == "admin", User.active.is_(True))).all()
    )


def create(
    session: Session, *, username: str, role: str, display_name: str = "", must_change: bool
) -> User:
    """Insert a user row (the caller checked name, role and permissions)."""
    user = User(
        username=username.strip(),
        username_key=username_key(username),
        role=role,
        display_name=display_name.strip(),
        must_change_password=must_change,
    )
    session.add(user)
    session.flush()
    return user


def touch(session: Session, *, user: User) -> None:
    """Mark ``user`` as changed now."""
    user.updated_at = utcnow()
    session.add(user)
