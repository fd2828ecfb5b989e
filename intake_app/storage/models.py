"""SQLModel tables of the local (encrypted) profile database.

Every schema change goes through an Alembic migration in ``storage/migrations``; these
classes describe the newest schema and are what repositories use.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """The current time in UTC, without microseconds (they add nothing and bloat JSON)."""
    return datetime.now(UTC).replace(microsecond=0)


class UserBase(SQLModel):
    """Fields shared by the user table and the models that create and show users."""

    username: str = Field(max_length=64)
    display_name: str = Field(default="", max_length=200)
    role: str = Field(max_length=20)
    active: bool = True
    must_change_password: bool = False


class User(UserBase, table=True):
    """A person who signs in: counsellor, supervisor or administrator."""

    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    username_key: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    last_login_at: datetime | None = None


class AuditLogEntry(SQLModel, table=True):
    """One entry of the append-only, hash-chained audit log (see ``core.audit``)."""

    __tablename__ = "audit_log"

    seq: int = Field(primary_key=True)
    ts: str = Field(max_length=32)
    actor: str = Field(max_length=64)
    action: str = Field(max_length=40, index=True)
    subject_type: str = Field(default="", max_length=40)
    subject_id: str = Field(default="", max_length=64)
    details: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class SettingValue(SQLModel, table=True):
    """One profile setting as JSON (declared with type and default in ``core.settings``)."""

    __tablename__ = "settings"

    key: str = Field(primary_key=True, max_length=80)
    value: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow)


Index("ix_audit_log_subject", AuditLogEntry.subject_type, AuditLogEntry.subject_id)
