"""The audit log repository: append entries to the hash chain, read and verify it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from intake_app.core.audit import (
    GENESIS_HASH,
    AuditAction,
    AuditEntry,
    ChainReport,
    canonical_bytes,
    chain_hash,
    verify_chain,
)
from intake_app.storage.models import AuditLogEntry


def format_ts(moment: datetime | float | None = None) -> str:
    """An audit time stamp: UTC, ISO 8601 with seconds and a ``Z``."""
    if moment is None:
        moment = datetime.now(UTC)
    elif isinstance(moment, int | float):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def append(
    session: Session,
    *,
    actor: str,
    action: AuditAction | str,
    subject_type: str = "",
    subject_id: str = "",
    details: dict[str, Any] | None = None,
    ts: datetime | float | None = None,
) -> AuditLogEntry:
    """Append one entry inside the caller's (write) transaction.

    The caller's transaction must be a write transaction (``Database.write``), which
    starts with ``BEGIN IMMEDIATE``: reading the last hash and inserting the next entry
    then cannot interleave with another writer.
    """
    last = session.exec(
        select(AuditLogEntry).order_by(col(AuditLogEntry.seq).desc()).limit(1)
    ).first()
    seq = (last.seq + 1) if last else 1
    prev_hash = last.hash if last else GENESIS_HASH
    body = details or {}
    stamp = format_ts(ts)
    digest = chain_hash(
        prev_hash,
        canonical_bytes(
            seq=seq,
            ts=stamp,
            actor=actor,
            action=str(action),
            subject_type=subject_type,
            subject_id=subject_id,
            details=body,
        ),
    )
    row = AuditLogEntry(
        seq=seq,
        ts=stamp,
        actor=actor,
        action=str(action),
        subject_type=subject_type,
        subject_id=subject_id,
        details=json.dumps(body, sort_keys=True, ensure_ascii=False),
        prev_hash=prev_hash,
        hash=digest,
    )
    session.add(row)
    session.flush()
    return row


def to_entry(row: AuditLogEntry) -> AuditEntry:
    """The core representation of a stored row (details parsed back from JSON)."""
    try:
        details = json.loads(row.details)
    except ValueError:
        details = {"__unparseable__": row.details}
    return AuditEntry(
        seq=row.seq,
        ts=row.ts,
        actor=row.actor,
        action=row.action,
        subject_type=row.subject_type,
        subject_id=row.subject_id,
        details=details if isinstance(details, dict) else {"__value__": details},
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def iter_entries(session: Session, *, batch: int = 2000) -> Iterator[AuditEntry]:
    """All entries in chain order, fetched in batches."""
    after = 0
    while True:
        rows = session.exec(
            select(AuditLogEntry)
            .where(AuditLogEntry.seq > after)
            .order_by(col(AuditLogEntry.seq))
            .limit(batch)
        ).all()
        if not rows:
            return
        for row in rows:
            yield to_entry(row)
        after = rows[-1].seq


def verify(session: Session) -> ChainReport:
    """Check the whole chain; the report names the first broken entry."""
    return verify_chain(iter_entries(session))


def entries_for_subject(
    session: Session, *, subject_type: str, subject_id: str
) -> list[AuditEntry]:
    """Every entry about one subject (a record), oldest first."""
    rows = session.exec(
        select(AuditLogEntry)
        .where(AuditLogEntry.subject_type == subject_type, AuditLogEntry.subject_id == subject_id)
        .order_by(col(AuditLogEntry.seq))
    ).all()
    return [to_entry(row) for row in rows]


def recent(session: Session, *, limit: int = 200, action: str | None = None) -> list[AuditEntry]:
    """The newest entries, newest first (for the administrator's view)."""
    query = select(AuditLogEntry)
    if action:
        query = query.where(AuditLogEntry.action == action)
    rows = session.exec(query.order_by(col(AuditLogEntry.seq).desc()).limit(limit)).all()
    return [to_entry(row) for row in rows]
