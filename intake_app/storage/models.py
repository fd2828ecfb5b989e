"""The tables of the local (encrypted) profile database and of the record stores.

Every schema change goes through an Alembic migration in ``storage/migrations``; these
classes describe the newest schema and are what repositories use.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import DateTime, Dialect, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, MappedAsDataclass, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A moment, stored in UTC and read back as an aware datetime in UTC.

    SQLite keeps no offset: the column holds the UTC time as text, and reading it gives
    it its zone back. A naive datetime is refused (its zone would be a guess), never
    stored as if it were UTC."""

    impl = DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError("a moment without time zone cannot be stored")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(MappedAsDataclass, DeclarativeBase, repr=False):
    """The mapped tables, as dataclasses: a row is made with keyword arguments
    (``kw_only=True`` on each table) and has its defaults from the moment it is made;
    every ``datetime`` column is a :class:`UTCDateTime`.

    ``repr=False``: a row printed in a log or a traceback shows its class, never its
    fields (names, answers, wrapped keys)."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


def utcnow() -> datetime:
    """The current time in UTC, without microseconds (they add nothing and bloat JSON)."""
    return datetime.now(UTC).replace(microsecond=0)


class User(Base, kw_only=True):
    """A person who signs in: counsellor, supervisor or administrator."""

    __tablename__ = "users"

    username: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(default=True)
    must_change_password: Mapped[bool] = mapped_column(default=False)
    id: Mapped[int | None] = mapped_column(primary_key=True, default=None)
    username_key: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(default_factory=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default_factory=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)
    # The signed state (docs/security.md, "Device: integrity of roles and the audit log"):
    # the user's current key id, and an administrator's (or the root's) signature.
    key_id: Mapped[str | None] = mapped_column(String(32), default=None)
    signed_by: Mapped[str | None] = mapped_column(String(32), default=None)
    signature: Mapped[str | None] = mapped_column(Text, default=None)


class UserKey(Base, kw_only=True):
    """A user's signing key: the public half, certified by an administrator or the root;
    the private half wrapped for her alone (only while it is her current key)."""

    __tablename__ = "user_keys"

    kid: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    public_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[str] = mapped_column(String(32))
    certified_by: Mapped[str | None] = mapped_column(String(32), default=None)
    signature: Mapped[str | None] = mapped_column(Text, default=None)
    wrapped: Mapped[str | None] = mapped_column(Text, default=None)


class TrustState(Base, kw_only=True):
    """The profile's root signing key and the local anchor of the audit log (one row)."""

    __tablename__ = "trust_state"

    id: Mapped[int] = mapped_column(primary_key=True, default=1)
    root_kid: Mapped[str] = mapped_column(String(32))
    root_public: Mapped[str] = mapped_column(Text)
    root_recovery_wrap: Mapped[str | None] = mapped_column(Text, default=None)
    anchor_seq: Mapped[int] = mapped_column(default=0)
    anchor_hash: Mapped[str] = mapped_column(String(64), default="")
    anchor_signer: Mapped[str | None] = mapped_column(String(32), default=None)
    anchor_signature: Mapped[str | None] = mapped_column(Text, default=None)


class AuditLogEntry(Base, kw_only=True):
    """One entry of the append-only, hash-chained audit log (see ``core.audit``)."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(primary_key=True)
    ts: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40), index=True)
    subject_type: Mapped[str] = mapped_column(String(40), default="")
    subject_id: Mapped[str] = mapped_column(String(64), default="")
    details: Mapped[str] = mapped_column(Text, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    signer: Mapped[str | None] = mapped_column(String(32), default=None)
    signature: Mapped[str | None] = mapped_column(Text, default=None)


class SettingValue(Base, kw_only=True):
    """One profile setting as JSON (declared with type and default in ``core.settings``)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default_factory=utcnow)


Index("ix_audit_log_subject", AuditLogEntry.subject_type, AuditLogEntry.subject_id)


class RecordRow(Base, kw_only=True):
    """One intake (the working copy): the columns lists and search need.

    The answers (JSON keyed by question id) are in :class:`RecordData`; everything lives
    in the encrypted database.
    """

    __tablename__ = "records"

    pk: Mapped[int | None] = mapped_column(primary_key=True, default=None)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    revision: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(16))
    sync_state: Mapped[str] = mapped_column(String(16), default="local")
    delivered_revision: Mapped[int | None] = mapped_column(default=None)
    form_id: Mapped[str] = mapped_column(String(64))
    form_version: Mapped[str] = mapped_column(String(32))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    site: Mapped[str] = mapped_column(String(200), default="")
    case_number: Mapped[str] = mapped_column(String(40), unique=True)
    family_name: Mapped[str] = mapped_column(String(200), default="")
    given_names: Mapped[str] = mapped_column(String(200), default="")
    family_name_latin: Mapped[str] = mapped_column(String(200), default="")
    given_names_latin: Mapped[str] = mapped_column(String(200), default="")
    sort_name: Mapped[str] = mapped_column(String(400), default="")
    birth_date: Mapped[str | None] = mapped_column(String(10), default=None)
    residence_valid_until: Mapped[str | None] = mapped_column(String(10), default=None)
    revision_reason: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default_factory=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default_factory=utcnow)
    finalised_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)


class RecordData(Base, kw_only=True):
    """The answers of a record (kept apart so the list table stays narrow and fast)."""

    __tablename__ = "record_data"

    pk: Mapped[int] = mapped_column(ForeignKey("records.pk", ondelete="CASCADE"), primary_key=True)
    answers: Mapped[str] = mapped_column(Text, default="{}")
    retired_answers: Mapped[str] = mapped_column(Text, default="{}")
    position: Mapped[str] = mapped_column(Text, default="{}")


class RecordRevision(Base, kw_only=True):
    """An immutable snapshot of a record as finalised (what travels to the centre)."""

    __tablename__ = "record_revisions"

    record_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    revision: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[str] = mapped_column(String(64))
    form_version: Mapped[str] = mapped_column(String(32))
    answers: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    finalised_at: Mapped[datetime] = mapped_column()
    finalised_by: Mapped[int] = mapped_column(ForeignKey("users.id"))


class ConsentWithdrawal(Base, kw_only=True):
    """A consent purpose withdrawn after the record was finalised (dated)."""

    __tablename__ = "consent_withdrawals"

    id: Mapped[int | None] = mapped_column(primary_key=True, default=None)
    record_id: Mapped[str] = mapped_column(String(36), index=True)
    purpose: Mapped[str] = mapped_column(String(80))
    withdrawn_on: Mapped[str] = mapped_column(String(10))
    recorded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(default_factory=utcnow)
    note: Mapped[str | None] = mapped_column(Text, default=None)


class CaseEvent(Base, kw_only=True):
    """Something that happened to a case after the intake (``core.followup``): a contact,
    a small update of the answers, a closure or a reopening. Append-only; ``event_id`` is
    the event's name on the way to the central office (docs/batch-format.md §5)."""

    __tablename__ = "case_events"

    id: Mapped[int | None] = mapped_column(primary_key=True, default=None)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    record_id: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # contact | update | closure | reopening
    occurred_on: Mapped[str] = mapped_column(String(10))
    data: Mapped[str] = mapped_column(Text, default="{}")
    recorded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(default_factory=utcnow)


class OutboxItem(Base, kw_only=True):
    """Something to deliver to the central office: a record revision or an instruction."""

    __tablename__ = "outbox"

    id: Mapped[int | None] = mapped_column(primary_key=True, default=None)
    kind: Mapped[str] = mapped_column(String(24))  # record | consent_withdrawal | erasure
    record_id: Mapped[str] = mapped_column(String(36), index=True)
    revision: Mapped[int | None] = mapped_column(default=None)
    payload: Mapped[str] = mapped_column(Text, default="{}")
    state: Mapped[str] = mapped_column(String(16), index=True, default="pending")
    batch_id: Mapped[str | None] = mapped_column(String(36), index=True, default=None)
    created_at: Mapped[datetime] = mapped_column(default_factory=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)


class DeviceRow(Base, kw_only=True):
    """This device's identity with the central office (one row once enrolled).

    The identity holds the device's private signing key; it lives only here, inside the
    encrypted database.
    """

    __tablename__ = "device"

    id: Mapped[int | None] = mapped_column(primary_key=True, default=None)
    identity: Mapped[str] = mapped_column(Text)
    enrolment_token: Mapped[str | None] = mapped_column(Text, default=None)
    registered: Mapped[bool] = mapped_column(default=False)
    enrolled_at: Mapped[datetime] = mapped_column(default_factory=utcnow)
    registered_at: Mapped[datetime | None] = mapped_column(default=None)
    last_sync_at: Mapped[datetime | None] = mapped_column(default=None)
    last_success_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)


class SyncBatch(Base, kw_only=True):
    """A sealed batch as built: kept (encrypted twice over) until a receipt answers it."""

    __tablename__ = "sync_batches"

    batch_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    transport: Mapped[str] = mapped_column(String(16))  # http | folder
    state: Mapped[str] = mapped_column(
        String(16), index=True
    )  # built | sent | stored | imported | rejected
    data: Mapped[bytes] = mapped_column(LargeBinary)
    sha384: Mapped[str] = mapped_column(String(96))
    records: Mapped[int] = mapped_column(default=0)
    instructions: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default_factory=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    answered_at: Mapped[datetime | None] = mapped_column(default=None)
    receipt: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    attempts: Mapped[int] = mapped_column(default=0)
    # the newest audit entry the batch named (docs/batch-format.md §4)
    audit_seq: Mapped[int | None] = mapped_column(default=None)
    audit_hash: Mapped[str | None] = mapped_column(String(64), default=None)


class InstalledForm(Base, kw_only=True):
    """A form version published (signed) by the central office and installed here.

    ``content`` is the document the office root signed (the form file inside it), checked
    again whenever the forms are read (device_sync/installed_forms.py)."""

    __tablename__ = "installed_forms"

    form_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[str] = mapped_column(String(32), primary_key=True)
    filename: Mapped[str] = mapped_column(String(120))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    sha384: Mapped[str] = mapped_column(String(96))
    published_at: Mapped[str] = mapped_column(String(32))
    installed_at: Mapped[datetime] = mapped_column(default_factory=utcnow)


class ActivityRecord(Base, kw_only=True):
    """An anonymised trace of a removed record, kept for statistics (no id, no name)."""

    __tablename__ = "activity_records"

    id: Mapped[int | None] = mapped_column(primary_key=True, default=None)
    intake_month: Mapped[str | None] = mapped_column(String(7), default=None)
    site: Mapped[str] = mapped_column(String(200), default="")
    residence_document: Mapped[str | None] = mapped_column(String(60), default=None)
    goal_type: Mapped[str | None] = mapped_column(String(60), default=None)
    referrals: Mapped[int] = mapped_column(default=0)
    finalised: Mapped[bool] = mapped_column(default=False)
    removed_month: Mapped[str] = mapped_column(String(7))
    reason: Mapped[str] = mapped_column(String(16))  # retention | erasure


class Erasure(Base, kw_only=True):
    """An erasure request: done on the device at once, confirmed by the centre later."""

    __tablename__ = "erasures"

    record_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    requested_at: Mapped[datetime] = mapped_column(default_factory=utcnow)
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text)
    central: Mapped[bool] = mapped_column(default=False)
    confirmed_at: Mapped[datetime | None] = mapped_column(default=None)
