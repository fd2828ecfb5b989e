"""The outbox packed into batches: what each record and instruction looks like on the way.

Called inside the write transaction that also marks the items as batched, so a batch
never contains a record that was erased a moment before. Hidden answers (special
categories without Art. 9 consent, answers to questions a person skipped) never leave
the device. Before a record revision is sealed it is reduced to what may go
(docs/security.md, "What reaches the central office"): with the ``central_office``
purpose in force, the answers of the data categories that purpose names plus the
statistics minimum; without it, the statistics minimum only (intake_app/sync/minimum.py).
"""

from __future__ import annotations

import copy
import json
import logging
import unicodedata
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, TypeGuard

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake_app.core.audit import AuditAction
from intake_app.core.followup import UPDATE_TARGETS
from intake_app.core.forms import FormRegistry, evaluate
from intake_app.core.forms.organisation import CENTRAL_OFFICE
from intake_app.core.forms.transfer import covered_answers, purpose_in_force
from intake_app.core.records import OutboxKind, RecordStatus
from intake_app.errors import IntakeError
from intake_app.storage import audit
from intake_app.storage.models import (
    AuditLogEntry,
    ConsentWithdrawal,
    OutboxItem,
    RecordRevision,
    RecordRow,
    SyncBatch,
    User,
)
from intake_app.storage.records import loads
from intake_app.sync.authors import AuthorKey
from intake_app.sync.batch import AUDIT_GONE, AUDIT_SEQ_MAX, build_batches
from intake_app.sync.identity import DeviceIdentity
from intake_app.sync.minimum import (
    SCOPE_CENTRAL_OFFICE,
    SCOPE_STATISTICS,
    minimal_consent,
    statistics_answers,
    statistics_groups,
)
from intake_app.sync.payload import InstructionRef, RecordRef, instruction_ref
from intake_app.sync.receipt import ItemResult

log = logging.getLogger("intake.sync")

#: how many of the numbers earlier batches named as their audit head a batch names again
#: (docs/batch-format.md §4: at most 1,000)
NAMED_HEADS = 200


def record_entry(
    session: Session, item: OutboxItem, *, forms: FormRegistry, organisation: Any
) -> dict[str, Any] | None:
    snapshot = session.get(RecordRevision, (item.record_id, item.revision))
    row = session.scalars(select(RecordRow).where(RecordRow.id == item.record_id)).first()
    if snapshot is None or row is None:
        return None
    owner = session.get(User, row.owner_id)
    answers = loads(snapshot.answers)
    exported = exportable_answers(
        forms, snapshot.form_id, snapshot.form_version, answers, organisation
    )
    consent = answers.get("consent") if isinstance(answers.get("consent"), dict) else {}
    created_at = _iso(row.created_at)
    groups = statistics_groups(exported, created_at=created_at)
    minimum = statistics_answers(exported)
    purpose = None
    if not _withdrawn_since(session, row.id, snapshot.finalised_at):
        purpose = purpose_in_force(consent, organisation, CENTRAL_OFFICE, on=date.today())
    if purpose is not None:
        form = forms.get(snapshot.form_id, snapshot.form_version)
        sent = covered_answers(form, exported, purpose, consent, on=date.today())
        for name, value in minimum.items():
            sent.setdefault(name, value)
        scope = SCOPE_CENTRAL_OFFICE
    else:
        sent, consent, scope = minimum, minimal_consent(consent), SCOPE_STATISTICS
    return {
        "id": row.id,
        "revision": snapshot.revision,
        "form_id": snapshot.form_id,
        "form_version": snapshot.form_version,
        "status": RecordStatus.COMPLETE.value,
        "site": plain_text(row.site) or None,
        "counsellor": plain_text(owner.username) if owner else None,
        "created_at": created_at,
        "finalised_at": _iso(snapshot.finalised_at),
        "answers": sent,
        "consent": consent,
        "scope": scope,
        "groups": groups,
    }


def _withdrawn_since(session: Session, record_id: str, finalised_at: datetime) -> bool:
    """Whether the central office purpose was withdrawn after this revision was finalised
    (the revision's own consent still says granted)."""
    for withdrawal in session.scalars(
        select(ConsentWithdrawal).where(
            ConsentWithdrawal.record_id == record_id,
            ConsentWithdrawal.purpose == CENTRAL_OFFICE,
        )
    ).all():
        recorded = withdrawal.recorded_at
        if recorded.tzinfo is None and finalised_at.tzinfo is not None:
            recorded = recorded.replace(tzinfo=finalised_at.tzinfo)
        elif recorded.tzinfo is not None and finalised_at.tzinfo is None:
            finalised_at = finalised_at.replace(tzinfo=recorded.tzinfo)
        if recorded >= finalised_at:
            return True
    return False


def plain_text(value: str | None) -> str:
    """A short text for a central column: control characters (a pasted tab, a wrongly
    decoded dash) become spaces, so one odd site name never blocks the outbox."""
    if not value:
        return ""
    return " ".join(
        "".join(" " if unicodedata.category(c) in ("Cc", "Cs") else c for c in value).split()
    )


def instruction_entry(item: OutboxItem) -> dict[str, Any]:
    extra = loads(item.payload)
    if item.kind == OutboxKind.CASE_EVENT.value:
        return {"type": "case_event", "record_id": item.record_id, **extra}
    if item.kind == OutboxKind.HANDOVER.value:
        return {
            "type": "handover",
            "record_id": item.record_id,
            "handover_id": extra["handover_id"],
            "recipient": extra["recipient"],
            "purpose": extra["purpose"],
            "requested_at": extra["requested_at"],
        }
    if item.kind == OutboxKind.DEVICE_KEY.value:
        return {"type": "device_key", "record_id": item.record_id, "key": extra["key"]}
    if item.kind == OutboxKind.REASSIGNMENT.value:
        return {
            "type": "reassignment",
            "record_id": item.record_id,
            "reassignment_id": extra["reassignment_id"],
            "counsellor": extra["counsellor"],
            "moved_at": extra["moved_at"],
        }
    if item.kind == OutboxKind.ERASURE.value:
        return {
            "type": "erasure",
            "record_id": item.record_id,
            "requested_at": extra.get("requested_at") or _iso(item.created_at),
            "reason": extra.get("reason"),
        }
    return {
        "type": "consent_withdrawal",
        "record_id": item.record_id,
        "revision": item.revision,
        "purpose": extra["purpose"],
        "withdrawn_on": extra["withdrawn_on"],
    }


def minimised_update(
    session: Session,
    item: OutboxItem,
    entry: dict[str, Any],
    *,
    forms: FormRegistry,
    organisation: Any,
    cache: dict[tuple[str, int], dict[str, Any] | None],
) -> dict[str, Any]:
    """An update event reduced to what its record may send now (docs/security.md, "What
    reaches the central office"): a changed answer travels only where the record's own
    revision, as it would be sent today, carries that question; the rest of the update
    (its target and item) travels without it.

    Raises:
        IntakeError: the record's form version is not available here (fail closed).
    """
    key = (item.record_id, int(item.revision or 0))
    if key not in cache:
        record = record_entry(session, item, forms=forms, organisation=organisation)
        cache[key] = record["answers"] if record is not None else None
    answers = cache[key] or {}
    data = dict(entry.get("data") or {})
    given = data.get("changes")
    changes: dict[str, Any] = given if isinstance(given, dict) else {}
    group = _UPDATE_GROUPS.get(str(data.get("target")))
    if group is None:
        allowed = set(answers)
    else:
        items = answers.get(group)
        allowed = {
            name
            for one in (items if isinstance(items, list) else [])
            if isinstance(one, dict)
            for name in one
        }
    data["changes"] = {name: value for name, value in changes.items() if name in allowed}
    return {**entry, "data": data}


#: The repeat group each update target changes an item of; a target not named changes
#: top-level answers.
_UPDATE_GROUPS = {key: t.group for key, t in UPDATE_TARGETS.items() if t.group is not None}


def outbox_instruction_ref(item: OutboxItem) -> InstructionRef:
    """How a receipt names an instruction of the outbox."""
    return instruction_ref(instruction_entry(item))


def pack_pending(
    session: Session,
    *,
    identity: DeviceIdentity,
    transport: str,
    forms: FormRegistry,
    organisation: Any,
    max_batch_bytes: int,
    author: AuthorKey | None = None,
    entitled: bool = True,
    vouch: Callable[[Session, OutboxItem], bool] | None = None,
    actor: str,
) -> int:
    """Pack pending outbox items into new batches (inside the caller's transaction).

    Args:
        author: the signed-in user's key and proof: the batches name her as their sender
            (docs/batch-format.md §5); None writes unsigned batches (version 3).
        entitled: whether the packer may speak for every case of this store (a
            supervisor). Items the office answered ``not_entitled`` for a counsellor's
            batch wait for such a sync and are not packed again before it.
        vouch: for a supervisor's sync of a colleague's store, which that colleague can
            write: whether the supervisor's batch may carry an item (the record is in
            this store and no other, an erasure is backed by a signed erasure). Items it
            refuses stay in the outbox for their owner's own sync.
        actor: the signed-in user; the log names her in the ``sync_prepared`` entry that
            records the audit head the new batches name (:func:`named_audit_heads`).
    """
    items = session.scalars(
        select(OutboxItem).where(OutboxItem.state == "pending").order_by(OutboxItem.id)
    ).all()
    if not entitled:
        items = [i for i in items if i.last_error != ItemResult.NOT_ENTITLED.value]
    if author is None:  # only a batch that names its sender (version 4) carries one
        items = [i for i in items if i.kind != OutboxKind.REASSIGNMENT.value]
    if vouch is not None:
        kept = [i for i in items if vouch(session, i)]
        if len(kept) != len(items):
            log.warning(
                "%d item(s) of another user's outbox not sent in a supervisor's batch: "
                "not backed by the store",
                len(items) - len(kept),
            )
        items = kept
    records: list[dict[str, Any]] = []
    instructions: list[dict[str, Any]] = []
    by_ref: dict[Any, list[OutboxItem]] = {}
    seen: set[Any] = set()
    sent: dict[tuple[str, int], dict[str, Any] | None] = {}
    for item in items:
        if item.kind == OutboxKind.RECORD.value:
            ref: Any = RecordRef(item.record_id, int(item.revision or 0))
            if ref in seen:
                by_ref[ref].append(item)
                continue
            try:
                entry = record_entry(session, item, forms=forms, organisation=organisation)
            except IntakeError as exc:
                # e.g. the record's form version is missing: it stays in the outbox, the
                # reason is shown in the sync window, and everything else goes on.
                log.error("record not packed: %s", type(exc).__name__)
                item.last_error = str(exc)
                session.add(item)
                continue
            if entry is None:  # the record is gone (erased): nothing to send
                session.delete(item)
                continue
            records.append(entry)
        else:
            entry = instruction_entry(item)
            if entry["type"] == "case_event" and entry.get("kind") == "update":
                try:
                    entry = minimised_update(
                        session, item, entry, forms=forms, organisation=organisation, cache=sent
                    )
                except IntakeError as exc:  # as for records: fail closed, shown, kept
                    log.error("case event not packed: %s", type(exc).__name__)
                    item.last_error = str(exc)
                    session.add(item)
                    continue
            ref = instruction_ref(entry)
            if ref in seen:
                by_ref[ref].append(item)
                continue
            instructions.append(entry)
        seen.add(ref)
        by_ref.setdefault(ref, []).append(item)
    if not records and not instructions:
        return 0
    head = audit_head(session)
    batches = build_batches(
        {"records": records, "instructions": instructions},
        identity=identity,
        max_batch_bytes=max_batch_bytes,
        audit_head=head,
        author=author,
    )
    for batch in batches:
        session.add(
            SyncBatch(
                batch_id=batch.batch_id,
                transport=transport,
                state="built",
                data=batch.data,
                sha384=batch.sha384,
                records=len(batch.records),
                instructions=len(batch.instructions),
                audit_seq=head[0] if head else None,
                audit_hash=head[1] if head else None,
            )
        )
        for ref in (*batch.records, *batch.instructions):
            for item in by_ref.get(ref, []):
                item.state = "batched"
                item.batch_id = batch.batch_id
                session.add(item)
    if head is not None:
        # in the same transaction as the batches: a batch never leaves unrecorded
        audit.append(
            session,
            actor=actor,
            action=AuditAction.SYNC_PREPARED,
            details={"audit_seq": head[0], "batches": [b.batch_id for b in batches]},
        )
    log.info("built %d batch(es) for %s", len(batches), transport)
    return len(batches)


def audit_head(session: Session) -> tuple[Any, ...] | None:
    """The newest audit entry for the batch header, and the hash now at every number that
    earlier batches of this device named as their head (:func:`named_audit_heads`), all
    as the entries' contents give them, not as the hashes stored beside them say
    (``storage.audit.content_chain``); a number no entry has any more is named with 64
    zeros. The office compares them with the heads it kept and notices a log that was cut
    or rewritten, whichever store's batch named the head (docs/security.md, "Device:
    integrity of roles and the audit log")."""
    named = named_audit_heads(session)
    chain = audit.content_chain(session, named)
    if chain is None:
        return None
    head_seq, head_hash, found = chain
    points = [(seq, found.get(seq, AUDIT_GONE)) for seq in sorted(named) if seq != head_seq]
    return (head_seq, head_hash, points)


def named_audit_heads(session: Session, *, limit: int = NAMED_HEADS) -> set[int]:
    """The newest ``limit`` numbers that earlier batches of this device named as their
    audit head: from this store's batches, and from the log itself, where every store's
    sync writes the number before its batches leave (``sync_prepared``). A log cut below
    such a number loses the entry that names it too; the office then misses the number
    it knows in the next batch and reports that. What no sync wrote (no JSON object, no
    number a header can carry, JSON nested too deep to read) names nothing: it neither
    stops the sync nor leaves the batch unreadable, and the office misses the number."""
    numbers = {seq for seq, _digest in sent_audit_heads(session, limit=limit)}
    for raw in session.scalars(
        select(AuditLogEntry.details)
        .where(AuditLogEntry.action == AuditAction.SYNC_PREPARED.value)
        .order_by(AuditLogEntry.seq.desc())
        .limit(limit)
    ).all():
        try:
            seq = json.loads(raw).get("audit_seq")
        except (ValueError, TypeError, AttributeError, RecursionError):
            continue
        if _head_number(seq):
            numbers.add(seq)
    return set(sorted(numbers)[-limit:])


def _head_number(seq: object) -> TypeGuard[int]:
    """Whether ``seq`` is a number a batch header can name as an audit head."""
    return type(seq) is int and 0 < seq <= AUDIT_SEQ_MAX


def sent_audit_heads(session: Session, *, limit: int = 20) -> list[tuple[int, str]]:
    """The audit heads named by the newest batches this device built (newest first)."""
    rows = session.execute(
        select(SyncBatch.audit_seq, SyncBatch.audit_hash)
        .where(SyncBatch.audit_seq.is_not(None))
        .order_by(SyncBatch.created_at.desc(), SyncBatch.audit_seq.desc())
        .limit(limit)
    ).all()
    return [(seq, str(digest)) for seq, digest in rows if _head_number(seq)]


def exportable_answers(
    registry: FormRegistry,
    form_id: str,
    version: str,
    answers: dict[str, Any],
    organisation: Any,
) -> dict[str, Any]:
    """The answers that may leave the device: hidden ones (e.g. special categories without
    Art. 9 consent, answers to questions the person skipped) are left out.

    Raises:
        IntakeError: the record's form version is not available here, so what may leave
            cannot be decided; nothing is sent (fail closed).
    """
    form = registry.get(form_id, version)
    state = evaluate(form, answers, organisation=organisation)
    if not state.hidden_answers:
        return answers
    result = copy.deepcopy(answers)
    for path in sorted(state.hidden_answers, key=len, reverse=True):
        _drop_path(result, path)
    return result


def _drop_path(answers: dict[str, Any], path: str) -> None:
    holder: Any = answers
    parts = path.split(".")
    for part in parts[:-1]:
        name, _sep, index = part.partition("[")
        items = holder.get(name) if isinstance(holder, dict) else None
        position = int(index.rstrip("]")) if index else None
        if not isinstance(items, list) or position is None or position >= len(items):
            return
        holder = items[position]
    if isinstance(holder, dict):
        holder.pop(parts[-1], None)


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
