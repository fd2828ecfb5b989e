"""Hand-over of a case to another site through the central office: the store's side
(docs/security.md, "Hand-over through the office").

Three steps touch a record store, each inside one write transaction of that store (with
its audit entry in the attached profile database):

* **request** (sending device): an outbox item ``handover`` that travels as the batch
  instruction of the same name, and ``handover_requested`` in the audit log;
* **answer** (sending device): when the importer's receipt says ``sealed``, the case is
  closed as "another service took over" (a closure case event, which also travels to the
  office, and ``handover_sealed``); ``refused`` is audited as ``handover_refused`` and the
  case stays open;
* **take-in** (receiving device): the record the office sealed becomes a new case in the
  store of whoever ran the sync, under a new record id (the old id stays with the sending
  device at the office) with its provenance in the revision reason and in
  ``handover_received``. A hand-over id is taken once: the audit log (in the profile
  database, shared by every store of the device) names every hand-over taken in.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intake_app.core.audit import AuditAction
from intake_app.core.followup import EventKind, check_closure, travelling_data
from intake_app.core.permissions import Role
from intake_app.core.records import OutboxKind, RecordStatus
from intake_app.i18n import _
from intake_app.storage import audit
from intake_app.storage.models import (
    AuditLogEntry,
    CaseEvent,
    OutboxItem,
    RecordRow,
    utcnow,
)

#: Subject type of the audit entries that name a hand-over by its id.
SUBJECT = "handover"
#: What a hand-over outbox item's payload says after the importer answered.
OUTCOME_SEALED = "sealed"
OUTCOME_REFUSED = "refused"


def add_case_event(
    session: Session,
    row: RecordRow,
    kind: EventKind,
    on: date,
    data: dict[str, Any],
    *,
    user_id: int,
) -> CaseEvent:
    """A case event and its outbox item (the office gets it without free text,
    docs/batch-format.md §5)."""
    event = CaseEvent(
        event_id=str(uuid.uuid4()),
        record_id=row.id,
        kind=kind.value,
        occurred_on=on.isoformat(),
        data=json.dumps(data, ensure_ascii=False, sort_keys=True),
        recorded_by=user_id,
    )
    session.add(event)
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    session.add(
        OutboxItem(
            kind=OutboxKind.CASE_EVENT.value,
            record_id=row.id,
            revision=row.revision,
            payload=json.dumps(
                {
                    "event_id": event.event_id,
                    "kind": event.kind,
                    "occurred_on": event.occurred_on,
                    "data": travelling_data(kind.value, data),
                    "recorded_at": event.recorded_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                },
                sort_keys=True,
            ),
        )
    )
    return event


def handover_items(session: Session, record_id: str) -> list[OutboxItem]:
    """The hand-over requests of a record, oldest first."""
    return list(
        session.scalars(
            select(OutboxItem)
            .where(OutboxItem.record_id == record_id, OutboxItem.kind == OutboxKind.HANDOVER.value)
            .order_by(OutboxItem.id)  # type: ignore[arg-type]
        ).all()
    )


def open_request(session: Session, record_id: str) -> OutboxItem | None:
    """A hand-over of the record that is on its way or sealed (not refused)."""
    for item in handover_items(session, record_id):
        if json.loads(item.payload).get("outcome") != OUTCOME_REFUSED:
            return item
    return None


def add_request(
    session: Session,
    row: RecordRow,
    *,
    actor: str,
    recipient: str,
    purpose: str,
    requested_at: datetime | None = None,
) -> str:
    """Queue the hand-over instruction and audit it; returns the hand-over id."""
    handover_id = str(uuid.uuid4())
    moment = (requested_at or utcnow()).astimezone(UTC)
    session.add(
        OutboxItem(
            kind=OutboxKind.HANDOVER.value,
            record_id=row.id,
            revision=row.revision,
            payload=json.dumps(
                {
                    "handover_id": handover_id,
                    "recipient": recipient,
                    "purpose": purpose,
                    "requested_at": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                },
                sort_keys=True,
            ),
        )
    )
    audit.append(
        session,
        actor=actor,
        action=AuditAction.HANDOVER_REQUESTED,
        subject_type="record",
        subject_id=row.id,
        details={"handover": handover_id, "recipient": recipient, "purpose": purpose},
    )
    return handover_id


def apply_outcome(
    session: Session, item: OutboxItem, *, sealed: bool, actor: str, user_id: int
) -> bool:
    """The importer's answer to a hand-over request (once); True when it was new.

    Sealed: the case is closed as "another service took over" on the day of the answer,
    unless it is closed already or a new revision is being edited (then only audited).
    """
    payload = json.loads(item.payload)
    if payload.get("outcome"):
        return False
    payload["outcome"] = OUTCOME_SEALED if sealed else OUTCOME_REFUSED
    item.payload = json.dumps(payload, sort_keys=True)
    session.add(item)
    details: dict[str, Any] = {
        "handover": payload["handover_id"],
        "recipient": payload["recipient"],
    }
    if sealed:
        row = session.scalars(select(RecordRow).where(RecordRow.id == item.record_id)).first()
        if row is not None and row.status == RecordStatus.COMPLETE.value:
            today = date.today()
            closure = check_closure(
                on=today,
                reason="other_service",
                note=_("Über die Zentrale an {recipient} übergeben (Übergabe {id}).").format(
                    recipient=payload["recipient"], id=payload["handover_id"]
                ),
            )
            row.status = RecordStatus.CLOSED.value
            row.closed_at = datetime.combine(today, time.min, UTC)
            event = add_case_event(
                session, row, EventKind.CLOSURE, today, closure.to_json(), user_id=user_id
            )
            details["event"] = event.event_id
    audit.append(
        session,
        actor=actor,
        action=AuditAction.HANDOVER_SEALED if sealed else AuditAction.HANDOVER_REFUSED,
        subject_type="record",
        subject_id=item.record_id,
        details=details,
    )
    return True


def record_exists(session: Session, record_id: str) -> bool:
    """Whether the store of ``session`` holds a record ``record_id``."""
    return (
        session.scalars(select(RecordRow.pk).where(RecordRow.id == record_id)).first() is not None
    )


def records_gone(session: Session) -> set[str]:
    """Ids of the records the audit log names as erased or purged (the log itself is read,
    not its action index)."""
    rows = session.scalars(
        select(AuditLogEntry.subject_id).where(
            func.coalesce(AuditLogEntry.action, "").in_(
                [AuditAction.RECORD_ERASED.value, AuditAction.RECORD_PURGED.value]
            )
        )
    ).all()
    return {row for row in rows if row}


LIST_SUBJECT = "handovers"


def supervisor_who_may(may_sign: Callable[[int], bool] | None) -> Callable[[int, str], bool]:
    """For ``audit.entitled_entries``: a supervisor (by her signed row) whose entries
    ``may_sign`` lets count (None: every supervisor)."""

    def supervisor(user_id: int, role: str) -> bool:
        return role == Role.SUPERVISOR.value and (may_sign is None or may_sign(user_id))

    return supervisor


def list_digest(taken: dict[str, str]) -> str:
    """SHA-256 of the list of hand-overs taken in (hand-over id -> record), canonical."""
    body = json.dumps(taken, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(body).hexdigest()


def latest_signed_digest(
    session: Session, may_sign: Callable[[int], bool] | None = None
) -> str | None:
    """The digest of the list as the newest ``integrity_signed`` entry about it says,
    of the entries signed by a supervisor who may sign them (see :func:`signed_takes`).
    Read through the log's indexes, newest first: one planted or hidden by whoever holds
    the profile key makes the list fail the check (it is then checked entry by entry),
    or names an older list, a part of the present one (taken in twice, never lost)."""

    supervisor = supervisor_who_may(may_sign)
    query = (
        select(AuditLogEntry)
        .where(
            AuditLogEntry.action == AuditAction.INTEGRITY_SIGNED.value,
            AuditLogEntry.subject_type == "vault",
            AuditLogEntry.subject_id == LIST_SUBJECT,
        )
        .order_by(AuditLogEntry.seq.desc())
    )
    offset, size = 0, 4  # the newest is nearly always the one
    while True:
        rows = session.scalars(query.offset(offset).limit(size)).all()
        if not rows:
            return None
        signed = audit.entitled_entries(session, rows, supervisor)
        if signed:
            newest = max(signed, key=lambda row: row.seq)
            return str(json.loads(newest.details or "{}").get("digest", "")) or None
        offset, size = offset + size, size * 4


def signed_takes(
    session: Session, may_sign: Callable[[int], bool] | None = None
) -> dict[str, set[str]]:
    """Hand-over id -> the records ``handover_received`` entries name for it, of the
    entries signed by a supervisor who may sign them (``may_sign``, see
    :func:`taken_before_lists`)."""
    rows = session.scalars(
        select(AuditLogEntry).where(
            func.coalesce(AuditLogEntry.subject_type, "") == SUBJECT,
            AuditLogEntry.action == AuditAction.HANDOVER_RECEIVED.value,
        )
    ).all()

    supervisor = supervisor_who_may(may_sign)
    found: dict[str, set[str]] = {}
    for row in audit.entitled_entries(session, rows, supervisor):
        record = str(json.loads(row.details or "{}").get("record", ""))
        found.setdefault(str(row.subject_id or ""), set()).add(record)
    return found


def taken_before_lists(
    session: Session,
    held: Callable[[str, str], bool],
    may_sign: Callable[[int], bool] | None = None,
) -> dict[str, str]:
    """Hand-over id -> record, for the hand-overs a profile from before the site-keyed list
    took in (``Workspace.handovers_taken`` builds the list from it once): a
    ``handover_received`` entry signed by a supervisor (``audit.entitled_entries``) whose
    record a store open here holds as taken in from that hand-over (``held``: its first
    revision names it). ``may_sign``: whether a user's entries count (the supervisors who
    hold a grant of the site key: a supervisor's account the administrator made, who has
    none, would otherwise do: attacker run 21). The log itself is read, not its subject
    index."""
    found: dict[str, str] = {}
    for handover_id, records in signed_takes(session, may_sign).items():
        for record in sorted(records):
            if handover_id and handover_id not in found and held(record, handover_id):
                found[handover_id] = record
    return found


def cancel_unsent(session: Session, record_id: str, *, purpose: str, actor: str) -> int:
    """A consent withdrawn before the request left the device: the request is dropped
    (never sent) and audited as refused; returns how many."""
    dropped = 0
    for item in handover_items(session, record_id):
        payload = json.loads(item.payload)
        if item.state != "pending" or payload.get("purpose") != purpose:
            continue
        session.delete(item)
        audit.append(
            session,
            actor=actor,
            action=AuditAction.HANDOVER_REFUSED,
            subject_type="record",
            subject_id=record_id,
            details={"handover": payload["handover_id"], "reason": "consent_withdrawn"},
        )
        dropped += 1
    return dropped
