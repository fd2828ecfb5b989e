"""Outbox items on their way back into the outbox, and the record's sync state with them.

A batch can be answered "rejected", refused by the receiver for itself, or withdrawn by an
erasure; a single record can be answered "conflict". In each case its items wait again to
be packed afresh, and a record they carry is no longer on its way (``pending``).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake_app.core.records import OutboxKind, RecordStatus, SyncState
from intake_app.storage.models import OutboxItem, RecordRow


def set_record_sync_state(session: Session, item: OutboxItem, state: SyncState) -> None:
    """Set the sync state of the record an outbox item carries, if the item still carries
    the record's current, finalised revision."""
    row = session.scalars(select(RecordRow).where(RecordRow.id == item.record_id)).first()
    if row is None or row.status == RecordStatus.DRAFT.value:
        return  # a newer revision is being edited; it will be sent on its own
    if row.revision != item.revision:
        return
    row.sync_state = state.value
    if state is SyncState.DELIVERED:
        row.delivered_revision = row.revision
    session.add(row)


def return_to_outbox(
    session: Session, items: Iterable[OutboxItem], *, last_error: str | None
) -> None:
    """Put ``items`` back into the outbox (out of their batch, not delivered) with the
    reason; the records they carry become ``pending`` again."""
    for item in items:
        item.state = "pending"
        item.batch_id = None
        item.delivered_at = None
        item.last_error = last_error
        session.add(item)
        if item.kind == OutboxKind.RECORD.value:
            set_record_sync_state(session, item, SyncState.PENDING)
