"""What the status bar shows of sending, read without the sync stack.

The status bar of the main window shows what waits for the central office from the first
moment; the batches, sealing, receipts and enrolment (``device_sync/device.py``) load when
the user first sends (docs/architecture.md, "Start-up"). The result types of a sync run
live here too, so the windows name them without loading the sync stack.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intake_app.core.records import OutboxKind
from intake_app.i18n import _, ngettext
from intake_app.storage.database import Database
from intake_app.storage.models import DeviceRow, OutboxItem, SyncBatch
from intake_app.sync.identity import DeviceIdentity

UNANSWERED = ("built", "sent")


@dataclass(frozen=True, slots=True)
class BatchInfo:
    """One batch as the sync window lists it."""

    batch_id: str
    transport: str
    state: str
    records: int
    instructions: int
    created_at: datetime
    answered_at: datetime | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """What the status bar and the sync window show."""

    enrolled: bool
    registered: bool
    device_name: str = ""
    server_url: str = ""
    office_fingerprint: str = ""
    pending_records: int = 0
    pending_instructions: int = 0
    awaiting_receipt: int = 0
    last_success_at: datetime | None = None
    last_sync_at: datetime | None = None
    last_error: str | None = None
    batches: tuple[BatchInfo, ...] = ()

    @property
    def pending(self) -> int:
        return self.pending_records + self.pending_instructions


@dataclass
class SyncResult:
    """What one sync run did."""

    registered_now: bool = False
    batches_sent: int = 0
    records_delivered: int = 0
    instructions_delivered: int = 0
    erasures_confirmed: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)
    forms_installed: list[str] = field(default_factory=list)
    files_written: list[Path] = field(default_factory=list)
    invalid_receipts: list[tuple[str, str]] = field(default_factory=list)
    #: record ids of this device whose hand-over the office sealed (closed here) / refused
    handovers_sealed: list[str] = field(default_factory=list)
    handovers_refused: list[str] = field(default_factory=list)
    #: new record ids of cases taken in from hand-overs
    handovers_taken: list[str] = field(default_factory=list)
    #: hand-overs not taken in: (hand-over id or file, reason)
    handovers_failed: list[tuple[str, str]] = field(default_factory=list)
    #: items the office refused for this sender (a counsellor's batch naming a case that
    #: is not hers at the office): they wait for a supervisor's sync
    waiting_for_supervisor: int = 0

    def notice_lines(self) -> list[str]:
        """What a sync run did besides delivering, in words (hand-overs, items waiting for a
        supervisor), for the sync window and the command line; empty when nothing."""
        lines = []
        if self.waiting_for_supervisor:
            n = self.waiting_for_supervisor
            lines.append(
                ngettext(
                    "{n} Eintrag betrifft einen Fall, den die Zentrale nicht unter Ihrem Namen "
                    "führt (z. B. nach einer Fallübergabe im Team). Er wird gesendet, sobald "
                    "eine Teamleitung synchronisiert.",
                    "{n} Einträge betreffen Fälle, die die Zentrale nicht unter Ihrem Namen "
                    "führt (z. B. nach einer Fallübergabe im Team). Sie werden gesendet, sobald "
                    "eine Teamleitung synchronisiert.",
                    n,
                ).format(n=n)
            )
        if self.handovers_taken:
            lines.append(
                _("{n} Akte(n) von einem anderen Standort übernommen.").format(
                    n=len(self.handovers_taken)
                )
            )
        if self.handovers_sealed:
            lines.append(
                _("{n} Übergabe(n) von der Zentrale bestätigt; der Fall ist hier beendet.").format(
                    n=len(self.handovers_sealed)
                )
            )
        if self.handovers_refused:
            lines.append(
                _(
                    "{n} Übergabe(n) von der Zentrale abgelehnt; der Fall bleibt hier offen. Den "
                    "Grund nennt die Zentrale."
                ).format(n=len(self.handovers_refused))
            )
        for name, reason in self.handovers_failed:
            lines.append(
                _("Übergabe {name} nicht übernommen: {reason}").format(name=name, reason=reason)
            )
        return lines


def device_row(session: Session) -> DeviceRow | None:
    """This device's enrolment row, or None when it is not enrolled."""
    return session.scalars(select(DeviceRow).order_by(DeviceRow.id)).first()


def read_status(db: Database) -> SyncStatus:
    """Enrolment, what is waiting, the last result, the recent batches of one store."""
    with db.read() as session:
        row = device_row(session)
        counts = dict(
            session.execute(
                select(OutboxItem.kind, func.count())
                .where(OutboxItem.state == "pending")
                .group_by(OutboxItem.kind)
            ).all()
        )
        awaiting = session.scalars(
            select(func.count()).select_from(SyncBatch).where(SyncBatch.state.in_(UNANSWERED))
        ).one()
        batches = session.scalars(
            select(SyncBatch).order_by(SyncBatch.created_at.desc()).limit(50)
        ).all()
    infos = tuple(
        BatchInfo(
            b.batch_id,
            b.transport,
            b.state,
            b.records,
            b.instructions,
            b.created_at,
            b.answered_at,
            b.reason,
        )
        for b in batches
    )
    pending_records = int(counts.get(OutboxKind.RECORD.value, 0))
    pending_instructions = int(
        counts.get(OutboxKind.CONSENT_WITHDRAWAL.value, 0) + counts.get(OutboxKind.ERASURE.value, 0)
    )
    if row is None:
        return SyncStatus(
            enrolled=False,
            registered=False,
            pending_records=pending_records,
            pending_instructions=pending_instructions,
            batches=infos,
        )
    identity = DeviceIdentity.from_json(row.identity)
    return SyncStatus(
        enrolled=True,
        registered=row.registered,
        device_name=identity.device_name,
        server_url=identity.server_url,
        office_fingerprint=identity.office_fingerprint or identity.current_office_key_id,
        pending_records=pending_records,
        pending_instructions=pending_instructions,
        awaiting_receipt=int(awaiting),
        last_success_at=row.last_success_at,
        last_sync_at=row.last_sync_at,
        last_error=row.last_error,
        batches=infos,
    )


def merge_status(home: SyncStatus, parts: list[SyncStatus]) -> SyncStatus:
    """The status over several record stores: ``home`` for enrolment and the last run,
    what waits added up over ``parts``, the newest 50 batches of all."""
    batches = sorted(
        (b for p in parts for b in p.batches), key=lambda b: b.created_at, reverse=True
    )[:50]
    return dataclasses.replace(
        home,
        pending_records=sum(p.pending_records for p in parts),
        pending_instructions=sum(p.pending_instructions for p in parts),
        awaiting_receipt=sum(p.awaiting_receipt for p in parts),
        batches=tuple(batches),
    )
