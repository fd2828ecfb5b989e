"""Records on behalf of a signed-in user: create, autosave, finalise, revise, list, search.

Every method checks permissions in ``core.permissions`` (a counsellor reaches only own
records; a supervisor all records of the site; an administrator none). Saving an answer
is one transaction that writes the answers, the list columns and the search index
together, so a crash leaves either the old or the new state.
"""

from __future__ import annotations

import builtins
import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from intake_app.core.audit import AuditAction
from intake_app.core.followup import Closure, Contact, EventKind, Update
from intake_app.core.forms import Form, OrganisationConfig
from intake_app.core.forms.engine import evaluate
from intake_app.core.handover import check_handover
from intake_app.core.permissions import Actor, Permission
from intake_app.core.records import (
    EXPIRY_WARNING_DAYS,
    OutboxKind,
    RecordStatus,
    SyncState,
    fts_query,
    index_fields,
)
from intake_app.errors import ConflictError, NotFound, ValidationError
from intake_app.i18n import _, current_language
from intake_app.storage import audit, handovers
from intake_app.storage.database import Database
from intake_app.storage.handovers import add_case_event
from intake_app.storage.models import (
    CaseEvent,
    ConsentWithdrawal,
    OutboxItem,
    RecordData,
    RecordRevision,
    RecordRow,
    SettingValue,
    User,
    utcnow,
)
from intake_app.storage.record_queries import (  # re-exported for callers
    _SUMMARY_COLUMNS,
    BROAD_SEARCH,
    COUNT_CAP,
    OPEN_REFERRAL_PKS,
    OPEN_REFERRALS_SQL,
    RECOGNITION_PENDING_PKS,
    SORT_COLUMNS,
    SORT_INDEXES,
    Record,
    RecordQuery,
    RecordSummary,
    _summary,
    dumps,
    loads,
    row_key,
)
from intake_app.sync.authors import bound_record_id

if TYPE_CHECKING:
    from intake_app.sync.handover import Handover

log = logging.getLogger("intake.storage")

#: In a store of fewer than BROAD_SEARCH * SMALL_STORE_SHARE records, a search that
#: matches more than one record in SMALL_STORE_SHARE (at least MIN_BROAD_SEARCH) is broad.
SMALL_STORE_SHARE = 50
MIN_BROAD_SEARCH = 50

#: The search as a condition on the records table.
_MATCH_CLAUSE = "records.pk IN (SELECT rowid FROM records_fts WHERE records_fts MATCH :match)"

#: A broad search first looks for its page among this many times as many rows at the top
#: of the sort order (see :meth:`RecordService.list_rows`).
HEAD_FACTOR = 4
#: ... or, where the search matches a smaller share of the store, up to this many rows.
HEAD_ROWS = 1_000
#: In a store of up to this many records the page is read by walking the sort index.
WALK_ROWS = 20_000

#: Seconds for which search counts are remembered (see :meth:`RecordService._breadth`):
#: a change made elsewhere (another window, a move) shows at the latest after this long.
SEARCH_MEMORY = 20.0

#: One word of a search as :func:`~intake_app.core.records.fts_query` writes it: a prefix,
#: or two alternative prefixes (an Arabic name with and without its article).
_PREFIX_GROUP = re.compile(r'\("([^"]+)"\* OR "([^"]+)"\*\)|"([^"]+)"\*')


def _groups(match: str) -> list[tuple[str, ...]] | None:
    """The words of a search of prefix words only, each as its alternatives; None for
    anything else (a date phrase)."""
    groups: list[tuple[str, ...]] = []
    position = 0
    while True:
        found = _PREFIX_GROUP.match(match, position)
        if found is None:
            return None
        groups.append(tuple(word for word in found.groups() if word is not None))
        position = found.end()
        if position == len(match):
            return groups
        for separator in (" AND ", " "):  # (as fts_query joins them)
            if match.startswith(separator, position):
                position += len(separator)
                break
        else:
            return None


def _narrows(match: str, wider: str) -> bool:
    """True when every record ``match`` finds is also found by ``wider``.

    Both are searches of prefix words (all must match): each word of ``wider`` is the
    start of some word of ``match`` ("Shev" then "Shevc", "Al" then "Al-H"), so a record
    with words starting with those of ``match`` has words starting with those of
    ``wider``; for a word with alternatives, each alternative of the narrower word starts
    with one of the wider word's. Anything else (a date phrase) is never taken to narrow.
    """
    narrow, wide = _groups(match), _groups(wider)
    if narrow is None or wide is None:
        return False
    return all(
        any(all(any(a.startswith(b) for b in outer) for a in inner) for inner in narrow)
        for outer in wide
    )


__all__ = [
    "BROAD_SEARCH",
    "COUNT_CAP",
    "OPEN_REFERRALS_SQL",
    "OPEN_REFERRAL_PKS",
    "RECOGNITION_PENDING_PKS",
    "SORT_COLUMNS",
    "SORT_INDEXES",
    "Record",
    "RecordQuery",
    "RecordService",
    "RecordSummary",
    "dumps",
    "loads",
]


def _intake_date(row: RecordRow, answers: dict[str, Any]) -> date:
    """The day of the intake: as answered, else the day the record was created."""
    try:
        return date.fromisoformat(str(answers.get("intake_date")))
    except ValueError:
        return row.created_at.date()


class RecordService:
    """Record operations for one actor.

    Args:
        db: the open database.
        actor: who acts.
        site: the site name stored on new records.
        device_prefix: four characters that make case numbers unique across devices.
        form_for: the form a record was given under, by form id and version (finalising
            evaluates the answers with it).
        organisation: the consent configuration in force (finalising requires each of
            its purposes to be decided).
        creates: False when ``db`` is the profile database (no store of her own is open
            yet): new records are refused rather than written where they do not belong.
        expiry_warning_days: returns the setting ``records.expiry_warning_days`` (the
            "expiring" filter of the list uses it).
    """

    def __init__(
        self,
        *,
        db: Database,
        actor: Actor,
        site: str,
        device_prefix: str,
        form_for: Callable[[str, str], Form],
        organisation: Callable[[], OrganisationConfig],
        creates: bool = True,
        expiry_warning_days: Callable[[], int] | None = None,
        handovers_taken: Callable[[], dict[str, str]] | None = None,
        note_handover: Callable[[str, str], None] | None = None,
    ) -> None:
        self._db = db
        #: the hand-overs this device took in (hand-over id -> record), as the list under
        #: the site key says (``Workspace.handovers_taken``), and how one is added to it
        self._handovers_taken = handovers_taken or (lambda: {})
        self._note_handover = note_handover
        self._form_for = form_for
        self._organisation = organisation
        self._creates = creates
        self._actor = actor
        self._site = site
        self._prefix = device_prefix
        self._warning_days = expiry_warning_days or (lambda: EXPIRY_WARNING_DAYS)
        #: search text -> matches counted up to BROAD_SEARCH + 1 (see :meth:`_breadth`)
        self._breadths: dict[str, int] = {}
        #: the latest searches that matched nothing here (a narrower one needs no query)
        self._misses: builtins.list[str] = []
        #: the latest broad searches whose page was not among the first rows of the sort
        #: order (see :meth:`list_rows`), with what else they asked
        self._sparse_heads: builtins.list[tuple[Any, ...]] = []
        self._size: int | None = None
        self._remembered_since = monotonic()

    @property
    def expiry_warning_days(self) -> int:
        """The setting ``records.expiry_warning_days`` (list filter and highlights)."""
        return int(self._warning_days())

    # -- helpers -----------------------------------------------------------------------

    def _load(self, session: Session, record_id: str) -> RecordRow:
        row = session.scalars(select(RecordRow).where(RecordRow.id == record_id)).first()
        if row is None:
            raise NotFound(_("Die Akte {id} gibt es nicht (mehr).").format(id=record_id))
        self._actor.require_view_record(row.owner_id)
        return row

    @staticmethod
    def _data(session: Session, row: RecordRow) -> RecordData:
        data = session.get(RecordData, row.pk)
        if data is None:  # pragma: no cover - created together with the row
            assert row.pk is not None
            data = RecordData(pk=row.pk)
        return data

    def _audit(self, session: Session, action: AuditAction, record_id: str, **details: Any) -> None:
        audit.append(
            session,
            actor=self._actor.username,
            action=action,
            subject_type="record",
            subject_id=record_id,
            details=details or None,
        )

    def _next_case_number(self, session: Session) -> str:
        year = date.today().year
        prefix = f"{self._prefix}-{year}-"
        last = session.scalars(
            select(func.max(RecordRow.case_number)).where(RecordRow.case_number.like(f"{prefix}%"))
        ).one()
        seq = int(str(last).rsplit("-", 1)[1]) + 1 if last else 1
        # Case numbers are unique across every store of the device: the last one handed
        # out is kept in the profile database (a number, nothing about the person).
        counter_key = f"case_sequence.{prefix}"
        counter = session.get(SettingValue, counter_key)
        if counter is not None:
            seq = max(seq, int(json.loads(counter.value)) + 1)
        else:
            counter = SettingValue(key=counter_key, value="0")
        counter.value = json.dumps(seq)
        session.add(counter)
        return f"{prefix}{seq:05d}"

    def forget_searches(self) -> None:
        """Count searches afresh (the list reloads after a change made elsewhere)."""
        self._breadths.clear()
        self._misses.clear()
        self._sparse_heads.clear()
        self._remembered_since = monotonic()

    def _reindex(self, session: Session, row: RecordRow, answers: dict[str, Any]) -> None:
        self.forget_searches()  # the search index changes
        fields = index_fields(answers)
        row.family_name = fields.family_name
        row.given_names = fields.given_names
        row.family_name_latin = fields.family_name_latin
        row.given_names_latin = fields.given_names_latin
        row.sort_name = fields.sort_name
        row.birth_date = fields.birth_date
        row.residence_valid_until = fields.residence_valid_until
        session.add(row)
        session.flush()
        session.execute(
            text("INSERT OR REPLACE INTO records_fts(rowid, terms) VALUES (:pk, :terms)"),
            {"pk": row.pk, "terms": fields.terms(row.case_number)},
        )

    # -- creation and reading ----------------------------------------------------------

    def create(
        self, *, form_id: str, form_version: str, answers: dict[str, Any] | None = None
    ) -> Record:
        """Start a new intake (a draft, revision 1) owned by the actor."""
        self._size = None  # (see _records_in_store)
        self._actor.require(Permission.CREATE_RECORD)
        if not self._creates:
            raise ConflictError(
                _(
                    "Für Ihr Konto ist noch kein Aktenspeicher geöffnet. Bitte wählen Sie "
                    "zuerst ein eigenes Passwort und melden Sie sich neu an."
                )
            )
        with self._db.write() as session:
            case_number = self._next_case_number(session)
            initial = dict(answers or {})
            initial.setdefault("case_number", case_number)
            initial.setdefault("intake_date", date.today().isoformat())
            initial.setdefault("counsellor_name", self._actor.display_name or self._actor.username)
            row = RecordRow(
                id=bound_record_id(self._actor.user_id),
                status=RecordStatus.DRAFT.value,
                sync_state=SyncState.LOCAL.value,
                form_id=form_id,
                form_version=form_version,
                owner_id=self._actor.user_id,
                site=self._site,
                case_number=case_number,
            )
            session.add(row)
            session.flush()
            assert row.pk is not None
            data = RecordData(pk=row.pk, answers=dumps(initial))
            session.add(data)
            self._reindex(session, row, initial)
            self._audit(session, AuditAction.RECORD_CREATED, row.id)
            return Record.of(row, data)

    def open(self, record_id: str) -> Record:
        """Read a whole record (audited as a read)."""
        with self._db.write() as session:
            row = self._load(session, record_id)
            self._audit(session, AuditAction.RECORD_READ, record_id)
            return Record.of(row, self._data(session, row))

    def get(self, record_id: str) -> Record:
        """Read a record without an audit entry (internal use after :meth:`open`)."""
        with self._db.read() as session:
            row = self._load(session, record_id)
            return Record.of(row, self._data(session, row))

    def discard_new(self, record_id: str, *, created_with: dict[str, Any]) -> bool:
        """Remove a new intake nothing was entered into; True when it was removed.

        A counsellor who starts an intake and leaves it without a single answer (a click
        on "Neue Aufnahme" by mistake) should not find an empty record in her list. The
        record goes only while it is exactly as it was made: its own draft, revision 1,
        never sent, its answers still ``created_with`` (what the program filled in when it
        was made), no retired answers, and nothing about it recorded, printed or exported
        (no case event, revision, consent withdrawal or outbox item; no print or export in
        the audit log). Its rows go in one transaction, and ``record_discarded`` is audited
        with its case number: the number is not handed out again, and the gap it leaves
        in the sequence is explained there. Anything else keeps the record.
        """
        with self._db.write() as session:
            row = session.scalars(select(RecordRow).where(RecordRow.id == record_id)).first()
            if row is None or row.owner_id != self._actor.user_id:
                return False
            if (
                row.status != RecordStatus.DRAFT.value
                or row.revision != 1
                or row.sync_state != SyncState.LOCAL.value
            ):
                return False
            data = session.get(RecordData, row.pk)
            if data is None or loads(data.answers) != created_with:
                return False
            if loads(data.retired_answers or "{}"):
                return False
            for model in (CaseEvent, RecordRevision, ConsentWithdrawal, OutboxItem):
                if session.scalars(select(model).where(model.record_id == record_id)).first():
                    return False
            shown = session.execute(
                text(
                    "SELECT 1 FROM audit_log WHERE subject_type = 'record' AND subject_id = :id "
                    "AND action IN ('record_printed', 'record_exported', 'person_exported') "
                    "LIMIT 1"
                ),
                {"id": record_id},
            ).first()
            if shown is not None:
                return False
            self.forget_searches()
            self._size = None  # (see _records_in_store)
            session.execute(text("DELETE FROM records_fts WHERE rowid = :pk"), {"pk": row.pk})
            session.delete(data)
            session.delete(row)
            session.flush()
            self._audit(
                session,
                AuditAction.RECORD_DISCARDED,
                record_id,
                case_number=row.case_number,
                reason="nothing_entered",
            )
        log.info("an untouched new intake was discarded")
        return True

    # -- saving ------------------------------------------------------------------------

    @staticmethod
    def _require_draft(row: RecordRow) -> None:
        """Answers change only in a draft: a finalised record needs a new revision first."""
        if row.status != RecordStatus.DRAFT.value:
            raise ConflictError(
                _("Die Akte ist abgeschlossen. Für Änderungen öffnen Sie eine neue Revision.")
            )

    def save(
        self,
        record_id: str,
        *,
        answers: dict[str, Any],
        position: dict[str, Any] | None = None,
    ) -> datetime:
        """Autosave: store the answers (and where the user is) in one transaction.

        Returns:
            the time of the save.

        Raises:
            ConflictError: the record is finalised; open a new revision first.
        """
        with self._db.write() as session:
            row = self._load(session, record_id)
            self._actor.require_edit_record(row.owner_id)
            self._require_draft(row)
            data = self._data(session, row)
            data.answers = dumps(answers)
            if position is not None:
                data.position = dumps(position)
            session.add(data)
            row.updated_at = utcnow()
            self._reindex(session, row, answers)
            return row.updated_at

    def change_form_version(
        self,
        record_id: str,
        *,
        form_version: str,
        answers: dict[str, Any],
        retired: dict[str, Any],
    ) -> Record:
        """Move a draft to a newer version of its form (docs/forms.md, section 8).

        ``answers`` are the migrated answers; ``retired`` (answer path -> value) is what has
        no place in the new version. It joins the record's retired answers under
        ``"<old version>:<path>"``, so nothing is lost and an older retirement is never
        overwritten.

        Raises:
            ConflictError: the record is finalised; open a new revision first.
        """
        with self._db.write() as session:
            row = self._load(session, record_id)
            self._actor.require_edit_record(row.owner_id)
            self._require_draft(row)
            data = self._data(session, row)
            kept = loads(data.retired_answers) if data.retired_answers else {}
            for path, value in retired.items():
                kept[f"{row.form_version}:{path}"] = value
            previous = row.form_version
            data.retired_answers = dumps(kept)
            data.answers = dumps(answers)
            session.add(data)
            row.form_version = form_version
            row.updated_at = utcnow()
            self._reindex(session, row, answers)
            self._audit(
                session,
                AuditAction.RECORD_FORM_UPGRADED,
                row.id,
                from_version=previous,
                to_version=form_version,
            )
            return Record.of(row, data)

    def save_position(self, record_id: str, position: dict[str, Any]) -> None:
        """Remember where the user is in the interview (section, question)."""
        with self._db.write() as session:
            row = self._load(session, record_id)
            self._actor.require_edit_record(row.owner_id)
            data = self._data(session, row)
            data.position = dumps(position)
            session.add(data)

    # -- life cycle --------------------------------------------------------------------

    def finalise(self, record_id: str, *, answers: dict[str, Any]) -> Record:
        """Lock the record, snapshot the revision and queue it for the central office.

        The one way to finalise, for the window, the command line, the self-test and the
        demo data alike (docs/architecture.md, "Business operations"): the form engine
        evaluates ``answers`` here, and a record with a required answer missing or an
        answer in error is refused with nothing changed. The caller is not trusted.

        Raises:
            ValidationError: the answers are not complete; the message names what is
                missing or wrong.
            ConflictError: the record is already finalised.
        """
        with self._db.write() as session:
            row = self._load(session, record_id)
            self._actor.require_edit_record(row.owner_id)
            if row.status != RecordStatus.DRAFT.value:
                raise ConflictError(_("Die Akte ist bereits abgeschlossen."))
            self._require_complete(row, answers)
            now = utcnow()
            data = self._data(session, row)
            data.answers = dumps(answers)
            session.add(data)
            row.status = RecordStatus.COMPLETE.value
            row.finalised_at = now
            row.updated_at = now
            row.sync_state = SyncState.PENDING.value
            self._reindex(session, row, answers)
            session.add(
                RecordRevision(
                    record_id=row.id,
                    revision=row.revision,
                    form_id=row.form_id,
                    form_version=row.form_version,
                    answers=data.answers,
                    reason=row.revision_reason,
                    finalised_at=now,
                    finalised_by=self._actor.user_id,
                )
            )
            # an older revision still waiting is superseded by this one
            for item in session.scalars(
                select(OutboxItem).where(
                    OutboxItem.record_id == row.id,
                    OutboxItem.kind == OutboxKind.RECORD.value,
                    OutboxItem.state == "pending",
                )
            ).all():
                session.delete(item)
            session.add(
                OutboxItem(kind=OutboxKind.RECORD.value, record_id=row.id, revision=row.revision)
            )
            self._audit(session, AuditAction.RECORD_FINALISED, row.id, revision=row.revision)
            return Record.of(row, data)

    def _require_complete(self, row: RecordRow, answers: dict[str, Any]) -> None:
        """Refuse answers the form engine does not call complete, naming the first few
        questions that are missing or wrong (in the current language)."""
        form = self._form_for(row.form_id, row.form_version)
        lang = current_language()
        state = evaluate(
            form,
            answers,
            lang=lang,
            organisation=self._organisation(),
            expiry_warning_days=self.expiry_warning_days,
        )
        if state.complete:
            return
        labels = [form.question(m.question_id).label(lang) for m in state.missing_required]
        wrong = [path.rsplit(".", 1)[-1].split("[", 1)[0] for path in state.errors]
        labels += [form.question(qid).label(lang) for qid in wrong if qid in form]
        named = list(dict.fromkeys(labels))
        shown = ", ".join(f"„{label}“" for label in named[:3])
        if len(named) > 3:
            shown += ", …"
        raise ValidationError(
            _(
                "Die Akte kann noch nicht abgeschlossen werden: {count} Angaben fehlen oder "
                "sind ungültig ({shown}). Bitte ergänzen oder korrigieren Sie sie im "
                "Gespräch; danach lässt sich die Akte abschließen."
            ).format(count=len(state.missing_required) + len(state.errors), shown=shown)
        )

    def start_revision(self, record_id: str, *, reason: str) -> Record:
        """Open a finalised record for changes as the next revision (reason required)."""
        reason = reason.strip()
        if len(reason) < 3:
            raise ValidationError(_("Bitte geben Sie einen Grund für die Änderung an."))
        with self._db.write() as session:
            row = self._load(session, record_id)
            self._actor.require_edit_record(row.owner_id)
            if row.status == RecordStatus.DRAFT.value:
                raise ConflictError(
                    _("Die Akte ist noch ein Entwurf und kann direkt bearbeitet werden.")
                )
            row.revision += 1
            row.status = RecordStatus.DRAFT.value
            row.sync_state = SyncState.LOCAL.value
            row.revision_reason = reason
            row.closed_at = None
            row.updated_at = utcnow()
            session.add(row)
            # The reason itself stays with the revision (erased with the record); the
            # append-only audit log keeps no free text that could name the person.
            self._audit(session, AuditAction.RECORD_REVISED, row.id, revision=row.revision)
            return Record.of(row, self._data(session, row))

    def close_case(self, record_id: str, closure: Closure) -> Record:
        """End a finalised case (supervisors) with a reason, a date and the outcome
        (``core.followup.check_closure``).

        The retention period (``storage/lifecycle.py``) counts from the closing date: the
        record's ``closed_at`` is that day.

        Raises:
            ConflictError: the record is a draft or already closed.
            ValidationError: the closing date is before the intake.
        """
        self._actor.require(Permission.CLOSE_RECORDS)
        with self._db.write() as session:
            row = self._load(session, record_id)
            if row.status != RecordStatus.COMPLETE.value:
                raise ConflictError(_("Nur abgeschlossene Akten können beendet werden."))
            if closure.on < _intake_date(row, loads(self._data(session, row).answers)):
                raise ValidationError(_("Das Fallende liegt vor dem Erstgespräch."))
            row.status = RecordStatus.CLOSED.value
            row.closed_at = datetime.combine(closure.on, time.min, UTC)
            event = self._add_event(session, row, EventKind.CLOSURE, closure.on, closure.to_json())
            self._audit(
                session,
                AuditAction.RECORD_CLOSED,
                row.id,
                event=event.event_id,
                reason=closure.reason.value,
            )
            return Record.of(row, self._data(session, row))

    def reopen_case(self, record_id: str, *, on: date, reason: str) -> Record:
        """Open a closed case again (supervisors; ``core.followup.check_reopening``).

        The retention period stops: it starts again at the next closing.
        """
        self._actor.require(Permission.CLOSE_RECORDS)
        with self._db.write() as session:
            row = self._load(session, record_id)
            if row.status != RecordStatus.CLOSED.value:
                raise ConflictError(_("Nur beendete Fälle können wieder eröffnet werden."))
            if row.closed_at is not None and on < row.closed_at.date():
                raise ValidationError(_("Die Wiedereröffnung liegt vor dem Fallende."))
            row.status = RecordStatus.COMPLETE.value
            row.closed_at = None
            event = self._add_event(session, row, EventKind.REOPENING, on, {"reason": reason})
            # the reason stays with the case event; the audit log keeps no free text
            self._audit(session, AuditAction.RECORD_REOPENED, row.id, event=event.event_id)
            return Record.of(row, self._data(session, row))

    def withdraw_consent(
        self, record_id: str, *, purpose: str, withdrawn_on: date, note: str = ""
    ) -> None:
        """Record a dated withdrawal of one consent purpose and tell the central office."""
        if withdrawn_on > date.today():
            raise ValidationError(_("Das Datum des Widerrufs darf nicht in der Zukunft liegen."))
        with self._db.write() as session:
            row = self._load(session, record_id)
            self._actor.require_edit_record(row.owner_id)
            data = self._data(session, row)
            answers = loads(data.answers)
            consent = answers.get("consent")
            if purpose == "art9":
                state = consent.get("art9") if isinstance(consent, dict) else None
            else:
                purposes = consent.get("purposes", {}) if isinstance(consent, dict) else {}
                state = purposes.get(purpose)
            if not isinstance(state, dict) or not state.get("granted"):
                raise ConflictError(
                    _("Für diesen Zweck liegt keine Einwilligung vor, die widerrufen werden kann.")
                )
            if state.get("withdrawn_on"):
                raise ConflictError(_("Diese Einwilligung wurde bereits widerrufen."))
            state["withdrawn_on"] = withdrawn_on.isoformat()
            data.answers = dumps(answers)
            session.add(data)
            row.updated_at = utcnow()
            session.add(row)
            session.add(
                ConsentWithdrawal(
                    record_id=row.id,
                    purpose=purpose,
                    withdrawn_on=withdrawn_on.isoformat(),
                    recorded_by=self._actor.user_id,
                    note=note or None,
                )
            )
            delivered_once = session.scalars(
                select(func.count())
                .select_from(RecordRevision)
                .where(RecordRevision.record_id == row.id)
            ).one()
            if delivered_once:
                session.add(
                    OutboxItem(
                        kind=OutboxKind.CONSENT_WITHDRAWAL.value,
                        record_id=row.id,
                        revision=row.revision,
                        payload=json.dumps(
                            {"purpose": purpose, "withdrawn_on": withdrawn_on.isoformat()}
                        ),
                    )
                )
            self._audit(session, AuditAction.CONSENT_WITHDRAWN, row.id, purpose=purpose)
            handovers.cancel_unsent(session, row.id, purpose=purpose, actor=self._actor.username)

    # -- after the intake: case events (core/followup.py) -------------------------------

    def _add_event(
        self, session: Session, row: RecordRow, kind: EventKind, on: date, data: dict[str, Any]
    ) -> CaseEvent:
        return add_case_event(session, row, kind, on, data, user_id=self._actor.user_id)

    @staticmethod
    def _require_case(row: RecordRow) -> None:
        """A case exists once the intake was finalised (revision 1 as a draft is not one)."""
        if row.finalised_at is None:
            raise ConflictError(
                _("Das Erstgespräch ist noch nicht abgeschlossen; schließen Sie es zuerst ab.")
            )

    @classmethod
    def _require_open_case(cls, row: RecordRow, draft_msg: str | None, closed_msg: str) -> None:
        """A case (:meth:`_require_case`) that is open: ``closed_msg`` refuses a closed
        one, ``draft_msg`` a new revision being edited (None lets that through)."""
        cls._require_case(row)
        if draft_msg is not None and row.status == RecordStatus.DRAFT.value:
            raise ConflictError(draft_msg)
        if row.status == RecordStatus.CLOSED.value:
            raise ConflictError(closed_msg)

    def add_contact(self, record_id: str, contact: Contact) -> CaseEvent:
        """Record a follow-up contact (checked by ``core.followup.check_contact``).

        Raises:
            ConflictError: the intake is not finalised yet, or the case is closed.
        """
        with self._db.write() as session:
            row = self._load(session, record_id)
            self._actor.require_edit_record(row.owner_id)
            self._require_open_case(
                row,
                None,
                _("Der Fall ist beendet. Eröffnen Sie ihn wieder, um Kontakte einzutragen."),
            )
            intake = _intake_date(row, loads(self._data(session, row).answers))
            if contact.on < intake:
                raise ValidationError(_("Der Kontakt liegt vor dem Erstgespräch."))
            event = self._add_event(session, row, EventKind.CONTACT, contact.on, contact.to_json())
            # the audit log keeps no free text and no topics: only that a contact was added
            self._audit(session, AuditAction.CONTACT_RECORDED, row.id, event=event.event_id)
            return event

    def update_answers(self, record_id: str, update: Update) -> CaseEvent:
        """Apply a small update (``core.followup.check_update``) without a new revision.

        The answers change in place (the list columns and search index with them); the
        case event keeps the old and new value of each question, who and when. The
        finalised revision stays as it was: the central office gets the update as such.

        Raises:
            ConflictError: the intake is not finalised, a revision is being edited, or
                the case is closed.
        """
        with self._db.write() as session:
            row = self._load(session, record_id)
            self._actor.require_edit_record(row.owner_id)
            self._require_open_case(
                row,
                _(
                    "Die Akte wird gerade als neue Revision bearbeitet; ändern Sie die "
                    "Angaben dort."
                ),
                _("Der Fall ist beendet. Eröffnen Sie ihn zuerst wieder."),
            )
            data = self._data(session, row)
            data.answers = dumps(update.answers)
            session.add(data)
            self._reindex(session, row, update.answers)
            event = self._add_event(session, row, EventKind.UPDATE, update.on, update.to_json())
            self._audit(
                session,
                AuditAction.RECORD_UPDATED,
                row.id,
                event=event.event_id,
                target=update.target,
                fields=sorted(update.changes),
            )
            return event

    # -- hand-over to another site through the office (storage/handovers.py) ----------

    def request_handover(self, record_id: str, *, recipient: str) -> str:
        """Ask the office to hand the case over to ``recipient`` (a site of a ``handover``
        purpose of the organisation file); returns the hand-over id.

        Whoever may edit the record may ask (its counsellor, a supervisor): the consent it
        rests on is part of the record. The request travels in the next batch.

        Raises:
            HandoverRefused: the recipient is unknown, or the person's consent to it is
                missing or withdrawn (the message says which).
            ConflictError: the intake is not finalised, a new revision is being edited,
                the case is closed, or a hand-over of it is already on its way.
        """
        with self._db.write() as session:
            row = self._load(session, record_id)
            self._actor.require_edit_record(row.owner_id)
            self._require_open_case(
                row,
                _(
                    "Die Akte wird gerade geändert. Bitte schließen Sie die Änderung ab, "
                    "bevor Sie die Akte übergeben."
                ),
                _("Ein beendeter Fall kann nicht übergeben werden."),
            )
            if handovers.open_request(session, row.id) is not None:
                raise ConflictError(_("Eine Übergabe dieser Akte ist schon unterwegs."))
            answers = loads(self._data(session, row).answers)
            target = check_handover(
                answers.get("consent"), self._organisation(), recipient, on=date.today()
            )
            return handovers.add_request(
                session,
                row,
                actor=self._actor.username,
                recipient=target.recipient.id,
                purpose=target.purpose.id,
            )

    def handover_requests(self, record_id: str) -> builtins.list[dict[str, Any]]:
        """The record's hand-over requests (id, recipient, purpose, requested_at and, once
        the office answered, outcome), oldest first."""
        with self._db.read() as session:
            row = self._load(session, record_id)
            return [
                {**json.loads(item.payload), "state": item.state}
                for item in handovers.handover_items(session, row.id)
            ]

    def take_handover(self, handover: Handover) -> str | None:
        """Take a case the office sealed for this device into the actor's store; returns
        the new record id, or None when this hand-over was taken in before (on any store
        of this device).

        The case gets a new record id and case number here (the old id stays with the
        sending device at the office); its revision reason and the audit log name where
        it came from. Its case events come along as its history and do not travel again.

        Raises:
            ConflictError: the actor has no record store open.
            FormLoadError: the record's form version is not installed on this device
                (the hand-over waits at the office and is taken at a later sync).
        """
        self._actor.require(Permission.CREATE_RECORD)
        if not self._creates:
            raise ConflictError(
                _("Für Ihr Konto ist noch kein Aktenspeicher geöffnet; die Übergabe wartet.")
            )
        record = handover.record
        self._form_for(str(record.get("form_id")), str(record.get("form_version")))
        with self._db.write() as session:
            if handover.handover_id in self._handovers_taken():
                return None
            now = utcnow()
            case_number = self._next_case_number(session)
            answers = dict(record.get("answers") or {})
            answers["consent"] = record.get("consent") or {}
            answers["case_number"] = case_number
            answers["counsellor_name"] = self._actor.display_name or self._actor.username
            reason = _(
                "Übernommen über die Zentrale von Standort {site} (Übergabe {id}, "
                "frühere Akte {record})."
            ).format(
                site=record.get("site") or "?",
                id=handover.handover_id,
                record=record.get("id"),
            )
            row = RecordRow(
                id=bound_record_id(self._actor.user_id),
                status=RecordStatus.COMPLETE.value,
                sync_state=SyncState.PENDING.value,
                form_id=str(record["form_id"]),
                form_version=str(record["form_version"]),
                owner_id=self._actor.user_id,
                site=self._site,
                case_number=case_number,
                revision_reason=reason,
                created_at=now,
                updated_at=now,
                finalised_at=now,
            )
            session.add(row)
            session.flush()
            assert row.pk is not None
            data = RecordData(pk=row.pk, answers=dumps(answers))
            session.add(data)
            self._reindex(session, row, answers)
            session.add(
                RecordRevision(
                    record_id=row.id,
                    revision=1,
                    form_id=row.form_id,
                    form_version=row.form_version,
                    answers=data.answers,
                    reason=reason,
                    finalised_at=now,
                    finalised_by=self._actor.user_id,
                )
            )
            session.add(OutboxItem(kind=OutboxKind.RECORD.value, record_id=row.id, revision=1))
            known = set(session.scalars(select(CaseEvent.event_id)).all())
            for event in handover.events:
                if event.get("event_id") in known:
                    continue
                try:
                    recorded = datetime.strptime(
                        str(event.get("recorded_at")), "%Y-%m-%dT%H:%M:%SZ"
                    ).replace(tzinfo=UTC)
                except ValueError:
                    recorded = now
                session.add(
                    CaseEvent(
                        event_id=str(event["event_id"]),
                        record_id=row.id,
                        kind=str(event["kind"]),
                        occurred_on=str(event["occurred_on"]),
                        data=dumps(event.get("data") or {}),
                        recorded_by=self._actor.user_id,
                        recorded_at=recorded,
                    )
                )
            provenance = {
                "handover": handover.handover_id,
                "from_device": handover.from_device_id,
                "from_record": record.get("id"),
                "recipient": handover.recipient,
                "purpose": handover.purpose,
            }
            audit.append(
                session,
                actor=self._actor.username,
                action=AuditAction.HANDOVER_RECEIVED,
                subject_type=handovers.SUBJECT,
                subject_id=handover.handover_id,
                details={"record": row.id, **provenance},
            )
            self._audit(session, AuditAction.HANDOVER_RECEIVED, row.id, **provenance)
            taken = row.id
        # into the list under the site key once the record is there: a crash in between
        # leaves the hand-over to be taken in again (twice, never lost)
        if self._note_handover is not None:
            self._note_handover(handover.handover_id, taken)
        return taken

    def user_names(self) -> dict[int, str]:
        """Display names of the device's users (who recorded what in a case's history)."""
        with self._db.read() as session:
            rows = session.execute(select(User.id, User.display_name, User.username)).all()
        return {uid: display or name for uid, display, name in rows if uid is not None}

    def case_events(self, record_id: str) -> builtins.list[CaseEvent]:
        """Every case event of a record, in the order they happened (then were recorded)."""
        with self._db.read() as session:
            self._load(session, record_id)
            return builtins.list(
                session.scalars(
                    select(CaseEvent)
                    .where(CaseEvent.record_id == record_id)
                    .order_by(CaseEvent.occurred_on, CaseEvent.id)
                ).all()
            )

    # -- lists -------------------------------------------------------------------------

    def _where(self, query: RecordQuery) -> tuple[str, dict[str, Any]]:
        clauses, params = self._filters(query)
        where = " AND ".join(clauses) if clauses else "1"
        return where, params

    def _filters(self, query: RecordQuery) -> tuple[builtins.list[str], dict[str, Any]]:
        """The conditions of ``query``, the search (if any) last, and their values."""
        clauses: list[str] = []
        params: dict[str, Any] = {}
        scope = self._actor.record_scope_owner()
        if scope is not None:
            clauses.append("records.owner_id = :scope")
            params["scope"] = scope
        elif query.owner_id is not None:
            clauses.append("records.owner_id = :owner")
            params["owner"] = query.owner_id
        if query.status == "delivered":
            clauses.append("records.sync_state = 'delivered'")
        elif query.status:
            clauses.append("records.status = :status")
            params["status"] = query.status
        if query.expiring_only:
            clauses.append("records.residence_valid_until IS NOT NULL")
            clauses.append("records.residence_valid_until <= :expiry_limit")
            params["expiry_limit"] = (
                date.today() + timedelta(days=self._warning_days())
            ).isoformat()
        if query.special == "open_referrals":
            clauses.append(f"records.pk IN ({OPEN_REFERRAL_PKS})")
        elif query.special == "recognition_pending":
            clauses.append(f"records.pk IN ({RECOGNITION_PENDING_PKS})")
        elif query.special == "not_delivered":
            clauses.append(
                "records.status IN ('complete', 'closed') AND records.sync_state != 'delivered'"
            )
        match = fts_query(query.search) if query.search else None
        if query.search and match is None:
            clauses.append("0")
        elif match is not None:
            clauses.append(_MATCH_CLAUSE)
            params["match"] = match
        return clauses, params

    def _breadth(self, conn: Any, match: str) -> int:
        """How many records a search matches, counted up to BROAD_SEARCH + 1 (cheap).

        Remembered per search text until the next change in this store, until the list
        reloads after a change elsewhere (:meth:`forget_searches`), until a list without a
        search is asked for, or for SEARCH_MEMORY seconds: typing runs the same search for
        the count and for the page, and scrolling runs it again. A search that
        narrows one that found nothing here finds nothing either, without a query: typing
        on in a supervisor's list asks only the stores that still have matches.
        """
        if monotonic() - self._remembered_since > SEARCH_MEMORY:
            self.forget_searches()
        known = self._breadths.get(match)
        if known is None and any(_narrows(match, miss) for miss in self._misses):
            known = 0
            self._breadths[match] = known
        if known is None:
            known = int(
                conn.execute(
                    "SELECT count(*) FROM (SELECT 1 FROM records_fts "
                    "WHERE records_fts MATCH ? LIMIT ?)",
                    (match, BROAD_SEARCH + 1),
                ).fetchone()[0]
            )
            if len(self._breadths) > 64:
                self._breadths.clear()
            self._breadths[match] = known
            if known == 0:
                self._misses = [*self._misses[-7:], match]
        return known

    def _records_in_store(self, conn: Any) -> int:
        """How many records this store holds, counted once (and after a new record): it
        only sizes how many first rows a search looks at, so a count grown stale through a
        change elsewhere costs time, never a row."""
        if self._size is None:
            self._size = int(conn.execute("SELECT count(*) FROM records").fetchone()[0])
        return self._size

    def _plan(self, conn: Any, query: RecordQuery, params: dict[str, Any]) -> bool:
        """True when the query should walk the sort index (a broad search).

        Broad means more than BROAD_SEARCH matches, or more than one in
        SMALL_STORE_SHARE of a smaller store (a counsellor's store of a supervisor's
        list): there the sort index (a few pages) finds the first rows of a page sooner
        than fetching every match's row from pages all over the file to sort them.
        """
        match = params.get("match")
        if match is None:
            return False
        breadth = self._breadth(conn, match)
        if breadth > BROAD_SEARCH:
            return True
        # the highest pk: the size of the store, read from the end of the table
        size = int(conn.execute("SELECT coalesce(max(pk), 0) FROM records").fetchone()[0])
        return breadth > max(MIN_BROAD_SEARCH, size // SMALL_STORE_SHARE)

    def count(self, query: RecordQuery, *, cap: int = COUNT_CAP) -> int:
        """How many records match, counted up to ``cap`` (the list shows "more than")."""
        where, params = self._where(query)
        params["cap"] = cap + 1
        with self._db.raw_read() as conn:
            if "match" in params and self._breadth(conn, params["match"]) == 0:
                return 0  # nothing here matches the search, whatever else is asked
            if where == _MATCH_CLAUSE:
                # a search and nothing else: the search index counts on its own
                breadth = self._breadth(conn, params["match"])
                if breadth <= BROAD_SEARCH:
                    return min(breadth, cap + 1)
                return int(
                    conn.execute(
                        "SELECT count(*) FROM (SELECT 1 FROM records_fts "
                        "WHERE records_fts MATCH :match LIMIT :cap)",
                        params,
                    ).fetchone()[0]
                )
            walk = self._plan(conn, query, params)
            source = "records INDEXED BY ix_records_updated" if walk else "records"
            # ``where`` and ``source`` are fixed fragments; values are bound parameters
            sql = f"SELECT count(*) FROM (SELECT 1 FROM {source} WHERE {where} LIMIT :cap)"  # noqa: S608
            return int(conn.execute(sql, params).fetchone()[0])

    def list(
        self,
        query: RecordQuery,
        *,
        offset: int = 0,
        limit: int = 200,
    ) -> list[RecordSummary]:
        """One page of the case list, sorted as asked."""
        return [_summary(row) for row in self.list_rows(query, offset=offset, limit=limit)]

    def list_keyed(
        self,
        query: RecordQuery,
        *,
        offset: int = 0,
        limit: int = 200,
    ) -> builtins.list[tuple[tuple[Any, ...], RecordSummary]]:
        """:meth:`list` with each row's sort key (value, pk), to merge several stores."""
        return [
            (row_key(row), _summary(row))
            for row in self.list_rows(query, offset=offset, limit=limit)
        ]

    def list_rows(
        self,
        query: RecordQuery,
        *,
        offset: int = 0,
        limit: int = 200,
    ) -> builtins.list[tuple[Any, ...]]:
        """One page as database rows: the summary columns, then the sort value and the
        pk (see :func:`row_key`); turned into summaries only when shown.

        A search that matches nothing in this store asks nothing more. A search that
        matches more than twice the rows asked for first looks for its page among the
        first rows of the sort order (HEAD_FACTOR times the rows asked for, or as many as
        its share of the store suggests): the search index checks its matches against
        those rows instead of collecting every match and reading their rows (a one-letter
        search matches most of the store). When they hold the whole page, that is the page
        (every other match comes after them in the sort order); otherwise the query of
        :meth:`_plan` runs, and a narrower search of the same list skips the first step.
        """
        clauses, params = self._filters(query)
        where = " AND ".join(clauses) if clauses else "1"
        sort = query.sort if query.sort in SORT_COLUMNS else "updated"
        column = SORT_COLUMNS[sort]
        direction = "DESC" if query.descending else "ASC"
        order = f"ORDER BY {column} {direction}, records.pk {direction}"
        params.update(offset=offset, limit=limit)
        with self._db.raw_read() as conn:
            match = params.get("match")
            if match is None:
                self.forget_searches()  # the search was cleared: the next one counts afresh
            elif self._breadth(conn, match) == 0:
                return []
            walk = self._plan(conn, query, params)
            index = SORT_INDEXES[sort]
            # Only fixed fragments are formatted in (sort column and index come from the
            # tables above, the conditions from _filters); every value is a bound parameter.

            def select_rows(source: str, where: str) -> str:
                return (
                    f"SELECT {_SUMMARY_COLUMNS}, {column}, records.pk FROM {source} "  # noqa: S608
                    f"JOIN users ON users.id = records.owner_id WHERE {where} "
                    f"{order} LIMIT :limit OFFSET :offset"
                )

            need = offset + limit
            breadth = 0 if match is None else self._breadth(conn, match)
            if match is not None and breadth > 2 * need:
                rest = " AND ".join(clauses[:-1]) or "1"  # the search is the last clause
                # HEAD_FACTOR times the rows of the page; where fewer matches were counted,
                # twice as many rows as hold the page if the matches are spread evenly over
                # the sort order, up to HEAD_ROWS
                head = HEAD_FACTOR * need
                if breadth <= BROAD_SEARCH:
                    head = max(
                        head, min(2 * need * self._records_in_store(conn) // breadth, HEAD_ROWS)
                    )
                values = tuple(sorted((k, v) for k, v in params.items() if k != "match"))
                # (a narrower search whose matches were not among the first rows either
                # looks no further there, however many rows its share would suggest)
                key = (match, rest, sort, direction, values)
                sparse = any(k[1:] == key[1:] and _narrows(match, k[0]) for k in self._sparse_heads)
                if not sparse:
                    # the first rows of the sort order, as a subquery (not a WITH clause:
                    # the connection refuses anything that names its source, see
                    # storage/schema_guard.py)
                    first_rows = (
                        f"SELECT records.pk AS pk, {column} AS value "  # noqa: S608
                        f"FROM records INDEXED BY {index} WHERE {rest} {order} LIMIT :head"
                    )
                    in_head = (
                        "SELECT rowid FROM records_fts WHERE records_fts MATCH :match "  # noqa: S608
                        f"AND +rowid IN (SELECT pk FROM ({first_rows}))"
                    )
                    if self._records_in_store(conn) <= WALK_ROWS:
                        # the sort index again, reading only the rows of the page (when the
                        # first rows hold fewer matches, it is walked to its end: in a
                        # store of a few thousand records that is still quick)
                        sql = select_rows(
                            f"records INDEXED BY {index}", f"records.pk IN ({in_head})"
                        )
                    else:
                        # the page sorted by the values the first rows came with, and
                        # only its own rows read
                        sql = select_rows(
                            "records",
                            # fixed SQL: the subquery and direction are constants here
                            f"records.pk IN (SELECT head.pk FROM ({first_rows}) AS head "  # noqa: S608
                            f"WHERE head.pk IN ({in_head}) ORDER BY head.value {direction}, "
                            f"head.pk {direction} LIMIT :limit OFFSET :offset)",
                        )
                    rows = conn.execute(sql, {**params, "head": head}).fetchall()
                    if len(rows) == limit:
                        return rows  # type: ignore[no-any-return]
                    self._sparse_heads = [*self._sparse_heads[-7:], key]
            source = f"records INDEXED BY {index}" if walk else "records"
            return conn.execute(select_rows(source, where), params).fetchall()  # type: ignore[no-any-return]

    def holds(self, record_id: str) -> bool:
        """True when the record is in this store (no permission check: only its id)."""
        with self._db.read() as session:
            return (
                session.scalars(select(RecordRow.pk).where(RecordRow.id == record_id)).first()
                is not None
            )

    def id_for_case_number(self, case_number: str) -> str | None:
        """The id of the record with ``case_number`` (for erasure by administrators)."""
        self._actor.require(Permission.ERASE_RECORDS)
        with self._db.read() as session:
            row = session.scalars(
                select(RecordRow.id).where(RecordRow.case_number == case_number.upper())
            ).first()
        return row

    def owners(self) -> builtins.list[tuple[int, str]]:
        """Counsellors who own records (for the supervisor's filter)."""
        self._actor.require(Permission.VIEW_SITE_RECORDS)
        with self._db.read() as session:
            rows = session.execute(
                select(User.id, User.display_name, User.username)
                .where(User.id.in_(select(RecordRow.owner_id).distinct()))
                .order_by(User.username)
            ).all()
        return [(uid, display or name) for uid, display, name in rows if uid is not None]

    def revisions(self, record_id: str) -> builtins.list[RecordRevision]:
        """Every finalised revision of a record, oldest first."""
        with self._db.read() as session:
            self._load(session, record_id)
            return builtins.list(
                session.scalars(
                    select(RecordRevision)
                    .where(RecordRevision.record_id == record_id)
                    .order_by(RecordRevision.revision)
                ).all()
            )

    def withdrawals(self, record_id: str) -> builtins.list[ConsentWithdrawal]:
        """Consent withdrawals of a record, oldest first."""
        with self._db.read() as session:
            self._load(session, record_id)
            return builtins.list(
                session.scalars(
                    select(ConsentWithdrawal)
                    .where(ConsentWithdrawal.record_id == record_id)
                    .order_by(ConsentWithdrawal.id)
                ).all()
            )
