"""What the office learns about each device's audit log from its batches.

Every batch names the device's newest audit entry (sequence number and hash) and the hash
now at every number the device's earlier batches named as their head, as the entries'
contents give it (older devices: at the number its previous batch named;
docs/batch-format.md §4). The office keeps every head it has seen per device. A batch
whose head lies below the highest seen means newest entries were removed (``cut``), as
does a batch that no longer names the highest head the office kept from a batch that
named its heads; one that names a number the office knows with another hash means the
log was rewritten (``rewritten``). The batch is still imported (nothing is lost);
the finding is kept, logged, and shown by ``intake-central devices list``
(docs/security.md, "Device: integrity of roles and the audit log").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from intake_app.sync.batch import AUDIT_GONE, BatchHeader

from .db import device_audit_heads, device_audit_problems

log = logging.getLogger("intake.central")


#: how much later a batch with a lower head must have been made than the one with the
#: highest head to count as a cut (a device clock corrected between them is no cut)
CLOCK_SLACK = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class AuditNote:
    """A cut or rewritten log noticed in one batch."""

    kind: str  # cut | rewritten
    seq: int
    known_seq: int


def note_audit_head(conn: Connection, header: BatchHeader, *, now: datetime) -> AuditNote | None:
    """Compare a batch's audit head with what the office saw before; remember it."""
    heads = device_audit_heads.c
    kept = conn.execute(
        sa.select(heads.seq, heads.hash, heads.names_heads, heads.created).where(
            heads.device_id == header.device_id
        )
    ).all()
    known: dict[int, str] = {row.seq: row.hash for row in kept}
    # heads kept from batches that named the device's heads, in order
    naming = sorted(row.seq for row in kept if row.names_heads)
    top = max(kept, key=lambda row: row.seq, default=None)
    highest = top.seq if top is not None else 0
    note: AuditNote | None = None
    if header.audit_head is None:
        if not naming:
            return None  # a device before audit heads, or one without a log yet
        # a device that named its heads names none: its log is gone or unreadable
        note = AuditNote("cut", 0, highest)
        _record(conn, header, note, now=now)
        return note
    seq, digest = header.audit_head
    claims = [(seq, digest)]
    claims += [header.audit_prev] if header.audit_prev else []
    claims += header.audit_named or ()
    for claim_seq, claim_hash in claims:
        if claim_seq in known and known[claim_seq] != claim_hash:
            # the device names an entry it no longer has with an all-zero hash
            kind = "cut" if claim_hash == AUDIT_GONE else "rewritten"
            note = AuditNote(kind, claim_seq, highest)
            break
    if note is None and seq < highest and top is not None:
        # An older batch that arrives after a newer one (a retry, a stick imported late,
        # the stores of one supervisor's sync) has a lower head and was made no later;
        # a batch made after the one with the highest head, with a lower head, comes
        # from a log cut below it. "After" by more than CLOCK_SLACK: a device clock put
        # right by a few minutes between two batches is no cut.
        if top.created is None or _moment(header.created) > _moment(top.created) + CLOCK_SLACK:
            note = AuditNote("cut", seq, highest)
    if note is None and header.audit_named is not None:
        # A batch names the head of every batch made before it: those are the ones with
        # a lower head (the log records each head as its batch is made). One that no
        # longer names the newest such head the office kept comes from a log cut below it.
        below = [kept_seq for kept_seq in naming if kept_seq < seq]
        if below and below[-1] not in {claim_seq for claim_seq, _ in claims}:
            note = AuditNote("cut", below[-1], highest)
    if note is not None:
        _record(conn, header, note, now=now)
    if seq not in known:
        conn.execute(
            device_audit_heads.insert().values(
                device_id=header.device_id,
                seq=seq,
                hash=digest,
                batch_id=header.batch_id,
                seen_at=now,
                names_heads=header.audit_named is not None,
                created=header.created,
            )
        )
    return note


def _moment(created: str) -> datetime:
    return datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ")


def _record(conn: Connection, header: BatchHeader, note: AuditNote, *, now: datetime) -> None:
    conn.execute(
        device_audit_problems.insert().values(
            device_id=header.device_id,
            batch_id=header.batch_id,
            kind=note.kind,
            seq=note.seq,
            known_seq=note.known_seq,
            noted_at=now,
        )
    )
    log.warning(
        "audit log of device %s %s: batch %s names entry %d, the office has seen up to %d",
        header.device_id,
        "cut" if note.kind == "cut" else "rewritten",
        header.batch_id,
        note.seq,
        note.known_seq,
    )


@dataclass(frozen=True, slots=True)
class AuditState:
    """What ``devices list`` shows about one device's audit log."""

    highest: int | None
    problems: int
    last_problem: str | None  # kind of the newest problem


def audit_states(engine: Engine) -> dict[str, AuditState]:
    """Per device id: the highest head seen and the problems noticed."""
    with engine.connect() as conn:
        highest: dict[str, int] = dict(
            conn.execute(
                sa.select(
                    device_audit_heads.c.device_id, sa.func.max(device_audit_heads.c.seq)
                ).group_by(device_audit_heads.c.device_id)
            ).all()
        )
        problems: dict[str, list[str]] = {}
        for device_id, kind in conn.execute(
            sa.select(device_audit_problems.c.device_id, device_audit_problems.c.kind).order_by(
                device_audit_problems.c.id
            )
        ).all():
            problems.setdefault(str(device_id), []).append(str(kind))
    out = {}
    for device_id in set(highest) | set(problems):
        kinds = problems.get(device_id, [])
        out[device_id] = AuditState(
            highest=highest.get(device_id),
            problems=len(kinds),
            last_problem=kinds[-1] if kinds else None,
        )
    return out
