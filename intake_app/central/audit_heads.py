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
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from intake_app.sync.batch import AUDIT_GONE, BatchHeader

from .db import device_audit_heads, device_audit_problems

log = logging.getLogger("intake.central")


@dataclass(frozen=True, slots=True)
class AuditNote:
    """A cut or rewritten log noticed in one batch."""

    kind: str  # cut | rewritten
    seq: int
    known_seq: int


def note_audit_head(conn: Connection, header: BatchHeader, *, now: datetime) -> AuditNote | None:
    """Compare a batch's audit head with what the office saw before; remember it."""
    if header.audit_head is None:
        return None
    seq, digest = header.audit_head
    heads = device_audit_heads.c
    known: dict[int, str] = {}
    naming = 0  # the highest head kept from a batch that named the device's heads
    for row in conn.execute(
        sa.select(heads.seq, heads.hash, heads.names_heads).where(
            heads.device_id == header.device_id
        )
    ).all():
        known[row.seq] = row.hash
        if row.names_heads:
            naming = max(naming, row.seq)
    highest = max(known, default=0)
    note: AuditNote | None = None
    claims = [(seq, digest)]
    claims += [header.audit_prev] if header.audit_prev else []
    claims += header.audit_named or ()
    for claim_seq, claim_hash in claims:
        if claim_seq in known and known[claim_seq] != claim_hash:
            # the device names an entry it no longer has with an all-zero hash
            kind = "cut" if claim_hash == AUDIT_GONE else "rewritten"
            note = AuditNote(kind, claim_seq, highest)
            break
    if note is None and seq < highest:
        note = AuditNote("cut", seq, highest)
    if note is None and naming and header.audit_named is not None:
        # A device that names its heads names every head its batches named, the newest
        # included (the log records each one as the batch is made): a batch that no
        # longer knows the highest one comes from a log cut below it.
        if naming not in {claim_seq for claim_seq, _ in claims}:
            note = AuditNote("cut", naming, highest)
    if note is not None:
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
    if seq not in known:
        conn.execute(
            device_audit_heads.insert().values(
                device_id=header.device_id,
                seq=seq,
                hash=digest,
                batch_id=header.batch_id,
                seen_at=now,
                names_heads=header.audit_named is not None,
            )
        )
    return note


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
