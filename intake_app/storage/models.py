"""SQLModel tables of the local (encrypted) profile database.

Every schema change goes through an Alembic migration in ``storage/migrations``; these
classes describe the newest schema and are what repositories use.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, Index, LargeBinary, Text
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
    # The signed state (docs/security.md, "Device: integrity of roles and the audit log"):
    # the user's current key id, and an administrator's (or the root's) signature.
    key_id: str | None = Field(default=None, max_length=32)
    signed_by: str | None = Field(default=None, max_length=32)
    signature: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class UserKey(SQLModel, table=True):
    """A user's signing key: the public half, certified by an administrator or the root;
    the private half wrapped for her alone (only while it is her current key)."""

    __tablename__ = "user_keys"

    kid: str = Field(primary_key=True, max_length=32)
    user_id: int = Field(foreign_key="users.id", index=True)
    public_key: str = Field(sa_column=Column(Text, nullable=False))
    created_at: str = Field(max_length=32)
    certified_by: str | None = Field(default=None, max_length=32)
    signature: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    wrapped: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class TrustState(SQLModel, table=True):
    """The profile's root signing key and the local anchor of the audit log (one row)."""

    __tablename__ = "trust_state"

    id: int = Field(default=1, primary_key=True)
    root_kid: str = Field(max_length=32)
    root_public: str = Field(sa_column=Column(Text, nullable=False))
    root_recovery_wrap: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    anchor_seq: int = 0
    anchor_hash: str = Field(default="", max_length=64)
    anchor_signer: str | None = Field(default=None, max_length=32)
    anchor_signature: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


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
    signer: str | None = Field(default=None, max_length=32)
    signature: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class SettingValue(SQLModel, table=True):
    """One profile setting as JSON (declared with type and default in ``core.settings``)."""

    __tablename__ = "settings"

    key: str = Field(primary_key=True, max_length=80)
    value: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow)


Index("ix_audit_log_subject", AuditLogEntry.subject_type, AuditLogEntry.subject_id)


class RecordRow(SQLModel, table=True):
    """One intake (the working copy): the columns lists and search need.

    The answers (JSON keyed by question id) are in :class:`RecordData`; everything lives
    in the encrypted database.
    """

    __tablename__ = "records"

    pk: int | None = Field(default=None, primary_key=True)
    id: str = Field(max_length=36, unique=True)
    revision: int = 1
    status: str = Field(max_length=16)
    sync_state: str = Field(default="local", max_length=16)
    delivered_revision: int | None = None
    form_id: str = Field(max_length=64)
    form_version: str = Field(max_length=32)
    owner_id: int = Field(foreign_key="users.id")
    site: str = Field(default="", max_length=200)
    case_number: str = Field(max_length=40, unique=True)
    family_name: str = Field(default="", max_length=200)
    given_names: str = Field(default="", max_length=200)
    family_name_latin: str = Field(default="", max_length=200)
    given_names_latin: str = Field(default="", max_length=200)
    sort_name: str = Field(default="", max_length=400)
    birth_date: str | None = Field(default=None, max_length=10)
    residence_valid_until: str | None = Field(default=None, max_length=10)
    revision_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    finalised_at: datetime | None = None
    closed_at: datetime | None = None


class RecordData(SQLModel, table=True):
    """The answers of a record (kept apart so the list table stays narrow and fast)."""

    __tablename__ = "record_data"

    pk: int = Field(primary_key=True, foreign_key="records.pk", ondelete="CASCADE")
    answers: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    retired_answers: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    position: str = Field(default="{}", sa_column=Column(Text, nullable=False))


class RecordRevision(SQLModel, table=True):
    """An immutable snapshot of a record as finalised (what travels to the centre)."""

    __tablename__ = "record_revisions"

    record_id: str = Field(primary_key=True, max_length=36)
    revision: int = Field(primary_key=True)
    form_id: str = Field(max_length=64)
    form_version: str = Field(max_length=32)
    answers: str = Field(sa_column=Column(Text, nullable=False))
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    finalised_at: datetime
    finalised_by: int = Field(foreign_key="users.id")


class ConsentWithdrawal(SQLModel, table=True):
    """A consent purpose withdrawn after the record was finalised (dated)."""

    __tablename__ = "consent_withdrawals"

    id: int | None = Field(default=None, primary_key=True)
    record_id: str = Field(max_length=36, index=True)
    purpose: str = Field(max_length=80)
    withdrawn_on: str = Field(max_length=10)
    recorded_by: int = Field(foreign_key="users.id")
    recorded_at: datetime = Field(default_factory=utcnow)
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class CaseEvent(SQLModel, table=True):
    """Something that happened to a case after the intake (``core.followup``): a contact,
    a small update of the answers, a closure or a reopening. Append-only; ``event_id`` is
    the event's name on the way to the central office (docs/batch-format.md §5)."""

    __tablename__ = "case_events"

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=36, unique=True)
    record_id: str = Field(max_length=36, index=True)
    kind: str = Field(max_length=16)  # contact | update | closure | reopening
    occurred_on: str = Field(max_length=10)
    data: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    recorded_by: int = Field(foreign_key="users.id")
    recorded_at: datetime = Field(default_factory=utcnow)


class OutboxItem(SQLModel, table=True):
    """Something to deliver to the central office: a record revision or an instruction."""

    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=24)  # record | consent_withdrawal | erasure
    record_id: str = Field(max_length=36, index=True)
    revision: int | None = None
    payload: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    state: str = Field(default="pending", max_length=16, index=True)
    batch_id: str | None = Field(default=None, max_length=36, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class DeviceRow(SQLModel, table=True):
    """This device's identity with the central office (one row once enrolled).

    The identity holds the device's private signing key; it lives only here, inside the
    encrypted database.
    """

    __tablename__ = "device"

    id: int | None = Field(default=None, primary_key=True)
    identity: str = Field(sa_column=Column(Text, nullable=False))
    enrolment_token: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    registered: bool = False
    enrolled_at: datetime = Field(default_factory=utcnow)
    registered_at: datetime | None = None
    last_sync_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class SyncBatch(SQLModel, table=True):
    """A sealed batch as built: kept (encrypted twice over) until a receipt answers it."""

    __tablename__ = "sync_batches"

    batch_id: str = Field(primary_key=True, max_length=36)
    transport: str = Field(max_length=16)  # http | folder
    state: str = Field(max_length=16, index=True)  # built | sent | stored | imported | rejected
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    sha384: str = Field(max_length=96)
    records: int = 0
    instructions: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
    answered_at: datetime | None = None
    receipt: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    attempts: int = 0
    # the newest audit entry the batch named (docs/batch-format.md §4)
    audit_seq: int | None = None
    audit_hash: str | None = Field(default=None, max_length=64)


class InstalledForm(SQLModel, table=True):
    """A form version published (signed) by the central office and installed here."""

    __tablename__ = "installed_forms"

    form_id: str = Field(primary_key=True, max_length=64)
    version: str = Field(primary_key=True, max_length=32)
    filename: str = Field(max_length=120)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    sha384: str = Field(max_length=96)
    published_at: str = Field(max_length=32)
    installed_at: datetime = Field(default_factory=utcnow)


class ActivityRecord(SQLModel, table=True):
    """An anonymised trace of a removed record, kept for statistics (no id, no name)."""

    __tablename__ = "activity_records"

    id: int | None = Field(default=None, primary_key=True)
    intake_month: str | None = Field(default=None, max_length=7)
    site: str = Field(default="", max_length=200)
    residence_document: str | None = Field(default=None, max_length=60)
    goal_type: str | None = Field(default=None, max_length=60)
    referrals: int = 0
    finalised: bool = False
    removed_month: str = Field(max_length=7)
    reason: str = Field(max_length=16)  # retention | erasure


class Erasure(SQLModel, table=True):
    """An erasure request: done on the device at once, confirmed by the centre later."""

    __tablename__ = "erasures"

    record_id: str = Field(primary_key=True, max_length=36)
    requested_at: datetime = Field(default_factory=utcnow)
    requested_by: int = Field(foreign_key="users.id")
    reason: str = Field(sa_column=Column(Text, nullable=False))
    central: bool = False
    confirmed_at: datetime | None = None
