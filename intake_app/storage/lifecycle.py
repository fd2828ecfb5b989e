"""The data-protection life cycle: retention, erasure, access requests, the overview.

- Retention: a record whose case was closed longer ago than the configured period, and
  whose current revision the central office has confirmed, is purged from the device.
  Nothing undelivered is ever purged.
- Erasure: a supervisor or administrator erases a record at once, with a reason from a
  fixed list (free text could carry the very name being erased); if the record ever
  left the device, an erasure instruction travels with the next batch and the centre
  confirms it in its receipt.
- Both leave an anonymised activity record (month, site, residence document, goal type,
  number of referrals) for statistics, and remove every trace from the database file:
  ``secure_delete`` overwrites deleted cells, the search index is merged so deleted
  terms leave its segments, and ``VACUUM`` rebuilds the file after a WAL checkpoint.
- Access request: everything held about one person as a machine-readable document.
- The supervisor's overview: the numbers that need action, each with its list.
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from intake_app import __version__
from intake_app.core.audit import AuditAction
from intake_app.core.permissions import ROLE_PERMISSIONS, Actor, Permission, Role
from intake_app.core.records import EXPIRY_WARNING_DAYS, OutboxKind, RecordStatus, SyncState
from intake_app.errors import NotFound, ValidationError
from intake_app.figures.outcomes import case_facts
from intake_app.i18n import N_, _
from intake_app.storage import audit, store_marks
from intake_app.storage.database import Database
from intake_app.storage.models import (
    ActivityRecord,
    AuditLogEntry,
    CaseEvent,
    ConsentWithdrawal,
    Erasure,
    OutboxItem,
    RecordData,
    RecordRevision,
    RecordRow,
    SyncBatch,
    User,
    utcnow,
)
from intake_app.storage.outbox_items import return_to_outbox
from intake_app.storage.records import (
    OPEN_REFERRALS_SQL,
    RECOGNITION_PENDING_PKS,
    loads,
)

log = logging.getLogger("intake.storage")


class ErasureReason(enum.StrEnum):
    """Why a record is erased (a fixed list: a free text could name the person)."""

    REQUEST = "request"  # the person asked (Art. 17 GDPR)
    CONSENT_WITHDRAWN = "consent_withdrawn"
    PURPOSE_ENDED = "purpose_ended"
    UNLAWFUL = "unlawful"
    DUPLICATE = "duplicate"

    @property
    def label(self) -> str:
        return _(_REASONS[self])


_REASONS = {
    ErasureReason.REQUEST: N_("Antrag der Person auf Löschung (Art. 17 DSGVO)"),
    ErasureReason.CONSENT_WITHDRAWN: N_("Einwilligung widerrufen, keine andere Rechtsgrundlage"),
    ErasureReason.PURPOSE_ENDED: N_("Zweck entfallen"),
    ErasureReason.UNLAWFUL: N_("Unrechtmäßig erhoben"),
    ErasureReason.DUPLICATE: N_("Doppelt angelegt"),
}


@dataclass(frozen=True, slots=True)
class PurgeResult:
    """What a retention run removed."""

    purged: int
    kept_undelivered: int


@dataclass(frozen=True, slots=True)
class ErasedAgain:
    """What :meth:`Lifecycle.erase_again` found in one store."""

    #: records a genuine erasure had removed, back in the store: erased again
    erased: int = 0
    #: records listed in ``erasures`` without a signed erasure by someone entitled to it
    #: (entered outside the program): nothing deleted, reported
    unconfirmed: int = 0


@dataclass(frozen=True, slots=True)
class Overview:
    """The supervisor's numbers; each has a matching list filter (``special`` query)."""

    by_status: dict[str, int]
    by_month: list[tuple[str, dict[str, int]]]  # "2026-11" -> {"draft": n, "complete": n}
    open_referrals: int
    records_with_open_referrals: int
    expiring_permits: int
    recognition_pending: int
    not_delivered: int
    removed_for_statistics: int
    generated_at: datetime = field(default_factory=utcnow)
    #: the warning period ``expiring_permits`` was counted with
    expiry_warning_days: int = EXPIRY_WARNING_DAYS


def _month(value: object) -> str | None:
    if isinstance(value, str) and len(value) >= 7 and value[4] == "-":
        return value[:7]
    return None


def activity_of(row: RecordRow, answers: dict[str, Any], *, reason: str) -> ActivityRecord:
    """The anonymised trace a removed record leaves for statistics."""
    referrals = answers.get("referrals")
    return ActivityRecord(
        intake_month=_month(answers.get("intake_date")) or row.created_at.strftime("%Y-%m"),
        site=row.site,
        residence_document=answers.get("residence_document")
        if isinstance(answers.get("residence_document"), str)
        else None,
        goal_type=answers.get("goal_type") if isinstance(answers.get("goal_type"), str) else None,
        referrals=len(referrals) if isinstance(referrals, list) else 0,
        finalised=row.finalised_at is not None,
        removed_month=utcnow().strftime("%Y-%m"),
        reason=reason,
    )


def _compact(db: Database) -> None:
    """Make deleted data leave the file: merge the search index, checkpoint, VACUUM."""
    with db.write() as session:
        session.execute(text("INSERT INTO records_fts(records_fts) VALUES('optimize')"))
    db.checkpoint()
    db.vacuum()
    db.checkpoint()


class Lifecycle:
    """Retention, erasure, access requests and the overview for one actor.

    Args:
        db: the open database.
        actor: who acts.
        retention_days: returns the configured period after a case is closed.
        expiry_warning_days: returns the setting ``records.expiry_warning_days`` (the
            overview counts permits expiring within it).
    """

    def __init__(
        self,
        *,
        db: Database,
        actor: Actor,
        retention_days: Callable[[], int],
        expiry_warning_days: Callable[[], int] | None = None,
    ) -> None:
        self._db = db
        self._actor = actor
        self._retention_days = retention_days
        self._warning_days = expiry_warning_days or (lambda: EXPIRY_WARNING_DAYS)

    # -- removing ----------------------------------------------------------------------

    @staticmethod
    def _remove(session: Session, row: RecordRow, *, reason: str) -> None:
        """Delete every row about a record, leaving an anonymised activity record."""
        data = session.get(RecordData, row.pk)
        answers = loads(data.answers) if data else {}
        session.add(activity_of(row, answers, reason=reason))
        session.execute(text("DELETE FROM records_fts WHERE rowid = :pk"), {"pk": row.pk})
        for model in (RecordRevision, ConsentWithdrawal, CaseEvent, OutboxItem):
            for item in session.scalars(select(model).where(model.record_id == row.id)).all():
                session.delete(item)
        if data is not None:
            session.delete(data)
        session.delete(row)
        session.flush()

    @staticmethod
    def erase_again(db: Database, *, actor: str) -> ErasedAgain:
        """Erase once more what the profile lists as erased but a store holds again: an
        older copy of the store file was put back (docs/security.md, "An older copy of
        a store file"). Whoever holds the profile key can write ``erasures``, so a row
        counts only when a signed erasure by someone entitled to it backs it, marked with
        the identity of this very store (:func:`_backed_erasures`); any other is reported
        and nothing is deleted. Each is audited as an integrity finding."""
        erased = select(Erasure.record_id)
        with db.read() as session:  # at every sign-in: usually nothing is back
            back = list(session.scalars(select(RecordRow.id).where(RecordRow.id.in_(erased))))
        if not back:
            return ErasedAgain()
        again, unconfirmed = 0, 0
        with db.write() as session:
            rows = session.scalars(select(RecordRow).where(RecordRow.id.in_(back))).all()
            backed = _backed_erasures(
                session, {row.id: row.owner_id for row in rows}, store_marks.identity_in(session)
            )
            for row in rows:
                record_id = row.id
                if record_id in backed:
                    Lifecycle._remove(session, row, reason="erasure")
                    again += 1
                    kind = "erased_record_back"
                else:
                    unconfirmed += 1
                    kind = "erasure_unconfirmed"
                audit.append(
                    session,
                    actor=actor,
                    action=AuditAction.INTEGRITY_VIOLATION,
                    subject_type="record",
                    subject_id=record_id,
                    details={"findings": [{"kind": kind}]},
                )
        if unconfirmed:
            log.error(
                "%d erasure(s) listed without a signed erasure behind them; nothing deleted",
                unconfirmed,
            )
        if again:
            log.error("a store held %d erased record(s) again; erased again", again)
            _compact(db)
        return ErasedAgain(erased=again, unconfirmed=unconfirmed)

    def _compact(self) -> None:
        _compact(self._db)

    @staticmethod
    def _held_centrally(session: Session, row: RecordRow) -> bool:
        """True when the centre has imported the record's current revision and nothing about
        it waits in the outbox: only then may the device let go of it.

        A receipt saying the batch was *stored* by the receiver is not enough: the importer
        may still refuse the batch (quarantine), and then the device's copy is the only one.
        """
        if not (
            row.sync_state == SyncState.DELIVERED.value and row.delivered_revision == row.revision
        ):
            return False
        waiting = session.scalars(
            select(func.count())
            .select_from(OutboxItem)
            .where(OutboxItem.record_id == row.id, OutboxItem.state != "delivered")
        ).one()
        if waiting:
            return False
        imported = session.scalars(
            select(func.count())
            .select_from(OutboxItem)
            .join(SyncBatch, SyncBatch.batch_id == OutboxItem.batch_id)
            .where(
                OutboxItem.record_id == row.id,
                OutboxItem.kind == OutboxKind.RECORD.value,
                OutboxItem.revision == row.revision,
                OutboxItem.state == "delivered",
                SyncBatch.state == "imported",
            )
        ).one()
        return imported > 0

    def due_for_purge(self, *, today: date | None = None) -> tuple[list[str], int]:
        """Ids of records past retention and imported centrally; and how many are kept
        because the centre does not hold them yet."""
        self._actor.require(Permission.ERASE_RECORDS)
        today = today or date.today()
        limit = datetime.combine(
            today - timedelta(days=self._retention_days()), datetime.min.time(), UTC
        )
        with self._db.read() as session:
            closed = session.scalars(
                select(RecordRow).where(
                    RecordRow.status == RecordStatus.CLOSED.value,
                    RecordRow.closed_at.is_not(None),
                    RecordRow.closed_at < limit,
                )
            ).all()
            due, kept = [], 0
            for row in closed:
                if self._held_centrally(session, row):
                    due.append(row.id)
                else:
                    kept += 1
        return due, kept

    def purge_due(self, *, today: date | None = None) -> PurgeResult:
        """Remove every record past its retention period that the centre holds."""
        due, kept = self.due_for_purge(today=today)
        purged = 0
        for record_id in due:
            with self._db.write() as session:
                row = session.scalars(select(RecordRow).where(RecordRow.id == record_id)).first()
                # checked again in the write transaction: a sync may have changed it meanwhile
                if row is None:
                    continue
                if row.status != RecordStatus.CLOSED.value or not self._held_centrally(
                    session, row
                ):
                    kept += 1
                    continue
                purged += 1
                self._remove(session, row, reason="retention")
                audit.append(
                    session,
                    actor=self._actor.username,
                    action=AuditAction.RECORD_PURGED,
                    subject_type="record",
                    subject_id=record_id,
                    details={"retention_days": self._retention_days()},
                )
        if purged:
            self._compact()
            log.info("retention: %d record(s) purged, %d kept (undelivered)", purged, kept)
        return PurgeResult(purged=purged, kept_undelivered=kept)

    def erase(self, record_id: str, *, reason: ErasureReason | str) -> bool:
        """Erase a record now; return True when the centre must be told (next batch).

        Raises:
            PermissionDenied: the role may not erase records.
            NotFound: there is no such record.
        """
        self._actor.require(Permission.ERASE_RECORDS)
        try:
            why = ErasureReason(reason)
        except ValueError:
            raise ValidationError(_("Bitte einen Löschgrund aus der Liste wählen.")) from None
        with self._db.write() as session:
            row = session.scalars(select(RecordRow).where(RecordRow.id == record_id)).first()
            if row is None:
                raise NotFound(_("Die Akte {id} gibt es nicht (mehr).").format(id=record_id))
            left_device = self._may_have_left(session, record_id)
            self._withdraw_batches(session, record_id)
            self._remove(session, row, reason="erasure")
            session.add(
                Erasure(
                    record_id=record_id,
                    requested_by=self._actor.user_id,
                    reason=why.value,
                    central=left_device,
                )
            )
            if left_device:
                session.add(
                    OutboxItem(
                        kind=OutboxKind.ERASURE.value,
                        record_id=record_id,
                        payload=json.dumps(
                            {
                                "requested_at": utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
                                "reason": why.value,
                            }
                        ),
                    )
                )
            details: dict[str, Any] = {"reason": why.value, "central": left_device}
            identity = store_marks.identity_in(session)
            if identity is not None:  # what backs erasing it again (docs/security.md)
                details["mark"] = store_marks.mark(identity, "erasure", record_id)
            audit.append(
                session,
                actor=self._actor.username,
                action=AuditAction.RECORD_ERASED,
                subject_type="record",
                subject_id=record_id,
                details=details,
            )
        self._compact()
        log.info("record erased (central instruction: %s)", left_device)
        return left_device

    @staticmethod
    def _may_have_left(session: Session, record_id: str) -> bool:
        """True when a revision of the record may have reached the centre.

        Every finalised revision enters the outbox, and a batch may have left (sent, on a
        stick, refused and quarantined centrally) without the device knowing for sure. So
        any finalised revision means: tell the centre. Erasing what it never had is
        harmless there; a draft never leaves the device.
        """
        revisions = session.scalars(
            select(func.count())
            .select_from(RecordRevision)
            .where(RecordRevision.record_id == record_id)
        ).one()
        return revisions > 0  # an outbox item exists only for a finalised revision

    @staticmethod
    def _withdraw_batches(session: Session, record_id: str) -> None:
        """Withdraw every batch still waiting for an answer that carries the record.

        Such a batch would otherwise be sent (again) after the erasure. Its sealed copy is
        dropped and its other items go back into the outbox, to be packed afresh; where the
        centre already has them it answers "duplicate".
        """
        batch_ids = {
            item.batch_id
            for item in session.scalars(
                select(OutboxItem).where(
                    OutboxItem.record_id == record_id, OutboxItem.state == "batched"
                )
            ).all()
            if item.batch_id
        }
        for batch_id in sorted(batch_ids):
            batch = session.get(SyncBatch, batch_id)
            if batch is None or batch.state not in ("built", "sent"):
                continue
            items = session.scalars(select(OutboxItem).where(OutboxItem.batch_id == batch_id))
            return_to_outbox(session, items.all(), last_error=None)
            batch.state = "withdrawn"
            batch.reason = "erasure"
            batch.data = b""
            session.add(batch)
        session.flush()

    def erasures(self) -> list[Erasure]:
        """Every erasure request, newest first."""
        self._actor.require(Permission.ERASE_RECORDS)
        with self._db.read() as session:
            return list(
                session.scalars(select(Erasure).order_by(Erasure.requested_at.desc())).all()
            )

    # -- access request ----------------------------------------------------------------

    def person_export(self, record_id: str) -> dict[str, Any]:
        """Everything held about the person of one record (Art. 15 GDPR), audited."""
        with self._db.write() as session:
            row = session.scalars(select(RecordRow).where(RecordRow.id == record_id)).first()
            if row is None:
                raise NotFound(_("Die Akte {id} gibt es nicht (mehr).").format(id=record_id))
            self._actor.require_view_record(row.owner_id)
            data = session.get(RecordData, row.pk)
            owner = session.get(User, row.owner_id)
            revisions = session.scalars(
                select(RecordRevision)
                .where(RecordRevision.record_id == record_id)
                .order_by(RecordRevision.revision)
            ).all()
            withdrawals = session.scalars(
                select(ConsentWithdrawal)
                .where(ConsentWithdrawal.record_id == record_id)
                .order_by(ConsentWithdrawal.id)
            ).all()
            events = session.scalars(
                select(CaseEvent)
                .where(CaseEvent.record_id == record_id)
                .order_by(CaseEvent.occurred_on, CaseEvent.id)
            ).all()
            entries = audit.entries_for_subject(
                session, subject_type="record", subject_id=record_id
            )
            outbox = session.scalars(
                select(OutboxItem).where(OutboxItem.record_id == record_id)
            ).all()
            audit.append(
                session,
                actor=self._actor.username,
                action=AuditAction.PERSON_EXPORTED,
                subject_type="record",
                subject_id=record_id,
            )
        return {
            "format": "intake-access-export",
            "version": 1,
            "generated_at": utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "generated_by": self._actor.username,
            "program_version": __version__,
            "record": {
                "id": row.id,
                "case_number": row.case_number,
                "status": row.status,
                "revision": row.revision,
                "form_id": row.form_id,
                "form_version": row.form_version,
                "site": row.site,
                "counsellor": owner.display_name or owner.username if owner else None,
                "created_at": _iso(row.created_at),
                "updated_at": _iso(row.updated_at),
                "finalised_at": _iso(row.finalised_at),
                "closed_at": _iso(row.closed_at),
                "answers": loads(data.answers) if data else {},
            },
            "revisions": [
                {
                    "revision": rev.revision,
                    "form_version": rev.form_version,
                    "finalised_at": _iso(rev.finalised_at),
                    "reason": rev.reason,
                    "answers": loads(rev.answers),
                }
                for rev in revisions
            ],
            "consent_withdrawals": [
                {
                    "purpose": w.purpose,
                    "withdrawn_on": w.withdrawn_on,
                    "recorded_at": _iso(w.recorded_at),
                }
                for w in withdrawals
            ],
            "case_events": [
                {
                    "kind": event.kind,
                    "date": event.occurred_on,
                    "recorded_at": _iso(event.recorded_at),
                    "details": loads(event.data),
                }
                for event in events
            ],
            "transmissions": [
                {
                    "kind": item.kind,
                    "revision": item.revision,
                    "state": item.state,
                    "delivered_at": _iso(item.delivered_at),
                }
                for item in outbox
            ],
            "audit": [
                {"seq": e.seq, "time": e.ts, "by": e.actor, "action": e.action} for e in entries
            ],
        }

    # -- overview ----------------------------------------------------------------------

    def overview(self, *, today: date | None = None) -> Overview:
        """The supervisor's numbers (all records of the site)."""
        self._actor.require(Permission.VIEW_OVERVIEW)
        today = today or date.today()
        warning_days = int(self._warning_days())
        limit = (today + timedelta(days=warning_days)).isoformat()
        with self._db.read() as session:
            by_status = {
                status: int(count)
                for status, count in session.execute(
                    select(RecordRow.status, func.count()).group_by(RecordRow.status)
                ).all()
            }
            months: dict[str, dict[str, int]] = {}
            for month, status, count in session.execute(
                text(
                    "SELECT coalesce(substr(json_extract(d.answers, '$.intake_date'), 1, 7), "
                    "strftime('%Y-%m', r.created_at)) AS month, r.status, count(*) "
                    "FROM records r JOIN record_data d ON d.pk = r.pk GROUP BY month, r.status"
                )
            ).all():
                months.setdefault(month or "?", {})[status] = int(count)
            referrals = session.execute(text(OPEN_REFERRALS_SQL)).one()
            expiring = session.scalars(
                select(func.count())
                .select_from(RecordRow)
                .where(
                    RecordRow.residence_valid_until.is_not(None),
                    RecordRow.residence_valid_until <= limit,
                )
            ).one()
            recognition = session.execute(
                # a fixed statement from this program; no user input is formatted in
                text(f"SELECT count(*) FROM records WHERE pk IN ({RECOGNITION_PENDING_PKS})")  # noqa: S608
            ).scalar_one()
            not_delivered = session.scalars(
                select(func.count())
                .select_from(RecordRow)
                .where(
                    RecordRow.status.in_((RecordStatus.COMPLETE.value, RecordStatus.CLOSED.value)),
                    RecordRow.sync_state != SyncState.DELIVERED.value,
                )
            ).one()
            removed = session.scalars(select(func.count()).select_from(ActivityRecord)).one()
        return Overview(
            by_status=by_status,
            by_month=sorted(months.items()),
            open_referrals=int(referrals[0] or 0),
            records_with_open_referrals=int(referrals[1] or 0),
            expiring_permits=int(expiring),
            expiry_warning_days=warning_days,
            recognition_pending=int(recognition),
            not_delivered=int(not_delivered),
            removed_for_statistics=int(removed),
        )

    def outcome_facts(self) -> list[dict[str, Any]]:
        """The facts the outcome figures count (``figures/outcomes.py``, the office's own
        computation) of every case in this store: records whose intake was finalised, with
        their closings and reopenings. The answers are the current ones (small updates are
        applied in place on the device), so update events are not applied again."""
        self._actor.require(Permission.VIEW_OVERVIEW)
        with self._db.read() as session:
            rows = session.execute(
                select(RecordRow.id, RecordRow.site, RecordRow.created_at, RecordData.answers)
                .join(RecordData, RecordData.pk == RecordRow.pk)
                .where(RecordRow.finalised_at.is_not(None))
            ).all()
            events: dict[str, list[dict[str, Any]]] = {}
            for event in session.scalars(
                select(CaseEvent)
                .where(CaseEvent.kind.in_(("closure", "reopening")))
                .order_by(CaseEvent.occurred_on, CaseEvent.id)
            ).all():
                events.setdefault(event.record_id, []).append(
                    {
                        "kind": event.kind,
                        "occurred_on": event.occurred_on,
                        "at": event.recorded_at.isoformat(),
                        "data": loads(event.data),
                    }
                )
        return [
            case_facts(
                {"site": site, "created_at": created.isoformat(), "answers": loads(answers)},
                events.get(record_id, []),
            )
            for record_id, site, created, answers in rows
        ]


def _may_erase_others(role: str) -> bool:
    """Whether a signed role erases records of others: one that may erase and holds the
    site's records (a supervisor). The administrator's role may ask for an erasure but
    holds no client data, so her signature backs none (attacker run 16)."""
    try:
        granted = ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return False
    return Permission.ERASE_RECORDS in granted and Permission.VIEW_SITE_RECORDS in granted


def erasure_backed(session: Session, record_id: str) -> bool:
    """Whether a signed erasure by a user whose signed role may erase records of others
    backs the erasure of ``record_id`` in this store (a supervisor's sync sends an
    erasure from a colleague's outbox only then: docs/security.md, "Batches signed by
    their sender")."""
    return record_id in _backed_erasures(session, {record_id: -1}, store_marks.identity_in(session))


def _backed_erasures(session: Session, owners: dict[str, int], identity: bytes | None) -> set[str]:
    """The ids among ``owners`` (record id -> owner id in its store) whose erasure the
    signed audit log backs (docs/security.md, "An older copy of a store file"): a
    ``record_erased`` entry for the record whose content matches its hash, whose
    signature checks with a key certified along the chain from the root, whose signer
    is the record's owner or has a *signed* role that may erase records, and which
    carries the mark of the store the record is back in (``identity``,
    ``store_marks``). Any counsellor can sign an entry of her own and write
    ``erasures``, and the administrator can make a key speak for a supervisor, or make
    a supervisor's account and its store; neither can mark an entry for a store she
    never opened (attacker runs 19 and 20).
    Before the profile's state is signed nothing can be checked, so nothing is backed."""
    rows = session.scalars(
        select(AuditLogEntry).where(
            AuditLogEntry.action == AuditAction.RECORD_ERASED.value,
            AuditLogEntry.subject_type == "record",
            AuditLogEntry.subject_id.in_(list(owners)),
            AuditLogEntry.signature.is_not(None),
        )
    ).all()
    backed: set[str] = set()
    for row in rows:
        owner = owners[row.subject_id]

        def may(user_id: int, role: str, owner: int = owner) -> bool:
            return user_id == owner or _may_erase_others(role)

        if row.subject_id in backed:
            continue
        # read as the audit log's readers read it: details planted in the row (a list, a
        # number, no JSON) back nothing, and stop nobody's sign-in (attacker run 32)
        found = audit.stored_details(row.details).get("mark")
        if identity is None or not store_marks.checks(found, identity, "erasure", row.subject_id):
            continue
        if audit.entitled_entries(session, [row], may):
            backed.add(row.subject_id)
    return backed


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
