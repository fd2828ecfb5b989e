"""What the case list asks for and gets back, and the SQL fragments its queries use.

Kept apart from the record service so the service stays about changing records; the
fragments are fixed text (no user input is ever formatted into them).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from intake_app.core.records import RecordStatus, SyncState
from intake_app.storage.models import RecordData, RecordRow

#: Counting stops here; the list then says "more than 10,000".
COUNT_CAP = 10_000

#: Referrals still open (``outcome`` open or appointment made), and their records.
OPEN_REFERRALS_SQL = (
    "SELECT count(*), count(DISTINCT d.pk) FROM record_data d, "
    "json_each(d.answers, '$.referrals') AS ref "
    "WHERE json_valid(d.answers) AND json_type(d.answers, '$.referrals') = 'array' "
    "AND json_extract(ref.value, '$.outcome') IN ('open', 'appointment_made')"
)
OPEN_REFERRAL_PKS = (
    "SELECT d.pk FROM record_data d, json_each(d.answers, '$.referrals') AS ref "
    "WHERE json_valid(d.answers) AND json_type(d.answers, '$.referrals') = 'array' "
    "AND json_extract(ref.value, '$.outcome') IN ('open', 'appointment_made')"
)
#: Qualifications in a regulated occupation whose recognition is not decided yet.
RECOGNITION_PENDING_PKS = (
    "SELECT d.pk FROM record_data d, json_each(d.answers, '$.qualifications') AS q "
    "WHERE json_valid(d.answers) AND json_type(d.answers, '$.qualifications') = 'array' "
    "AND json_extract(q.value, '$.regulated') = 'yes' "
    "AND coalesce(json_extract(q.value, '$.recognition_status'), '') != 'decided'"
)


SORT_COLUMNS = {
    "name": "records.sort_name",
    "birth_date": "records.birth_date",
    "status": "records.status",
    "updated": "records.updated_at",
    "sync": "records.sync_state",
    "case_number": "records.case_number",
    "owner": "records.owner_id",
    "residence": "records.residence_valid_until",
}
#: The index that hands out records in each sort order (it includes the rowid, so
#: "ORDER BY column, pk" comes straight from it).
SORT_INDEXES = {
    "name": "ix_records_sort_name",
    "birth_date": "ix_records_birth_date",
    "status": "ix_records_status",
    "updated": "ix_records_updated",
    "sync": "ix_records_sync_state",
    "case_number": "ux_records_case_number",
    "owner": "ix_records_owner",
    "residence": "ix_records_residence_until",
}
#: A search matching more records than this walks the sort index and filters; a
#: narrower one lets the search index deliver its few matches, which are then sorted.
BROAD_SEARCH = 1_000


@dataclass(frozen=True, slots=True)
class RecordQuery:
    """What the case list asks for."""

    search: str = ""
    status: str | None = None  # draft | complete | closed | delivered
    owner_id: int | None = None
    sort: str = "updated"
    descending: bool = True
    expiring_only: bool = False
    special: str | None = None  # open_referrals | recognition_pending | not_delivered


@dataclass(frozen=True, slots=True)
class RecordSummary:
    """One row of the case list (no answers)."""

    id: str
    revision: int
    status: RecordStatus
    sync_state: SyncState
    case_number: str
    family_name: str
    given_names: str
    family_name_latin: str
    given_names_latin: str
    birth_date: str | None
    residence_valid_until: str | None
    updated_at: datetime
    owner_id: int
    owner_name: str


@dataclass(frozen=True, slots=True)
class Record:
    """A whole record: list columns plus answers, retired answers and resume position."""

    pk: int
    id: str
    revision: int
    status: str
    sync_state: str
    delivered_revision: int | None
    form_id: str
    form_version: str
    owner_id: int
    site: str
    case_number: str
    revision_reason: str | None
    created_at: datetime
    updated_at: datetime
    finalised_at: datetime | None
    closed_at: datetime | None
    answers: dict[str, Any]
    retired_answers: dict[str, Any]
    position: dict[str, Any]

    @classmethod
    def of(cls, row: RecordRow, data: RecordData | None) -> Record:
        assert row.pk is not None
        return cls(
            pk=row.pk,
            id=row.id,
            revision=row.revision,
            status=row.status,
            sync_state=row.sync_state,
            delivered_revision=row.delivered_revision,
            form_id=row.form_id,
            form_version=row.form_version,
            owner_id=row.owner_id,
            site=row.site,
            case_number=row.case_number,
            revision_reason=row.revision_reason,
            created_at=row.created_at,
            updated_at=row.updated_at,
            finalised_at=row.finalised_at,
            closed_at=row.closed_at,
            answers=loads(data.answers) if data else {},
            retired_answers=loads(data.retired_answers) if data else {},
            position=loads(data.position) if data else {},
        )


_SUMMARY_COLUMNS = (
    "records.id, records.revision, records.status, records.sync_state, records.case_number, "
    "records.family_name, records.given_names, records.family_name_latin, "
    "records.given_names_latin, records.birth_date, records.residence_valid_until, "
    "records.updated_at, records.owner_id, coalesce(nullif(users.display_name, ''), users.username)"
)


def _summary(row: Sequence[Any]) -> RecordSummary:
    updated = row[11]
    if isinstance(updated, str):
        updated = datetime.fromisoformat(updated)
    if updated.tzinfo is None:
        updated = updated.replace(tzinfo=UTC)
    return RecordSummary(
        id=row[0],
        revision=row[1],
        status=RecordStatus(row[2]),
        sync_state=SyncState(row[3]),
        case_number=row[4],
        family_name=row[5],
        given_names=row[6],
        family_name_latin=row[7],
        given_names_latin=row[8],
        birth_date=row[9],
        residence_valid_until=row[10],
        updated_at=updated,
        owner_id=row[12],
        owner_name=row[13] or "",
    )


def row_key(row: Sequence[Any]) -> tuple[Any, ...]:
    """The sort key of a row of :meth:`RecordService.list_rows` (value, pk); an empty
    value sorts before every other, as SQLite sorts NULL."""
    value = row[-2]
    return ((0, "") if value is None else (1, value), row[-1])


def loads(value: str) -> dict[str, Any]:
    """Parse stored JSON that must be an object."""
    data = json.loads(value or "{}")
    return data if isinstance(data, dict) else {}


def dumps(value: dict[str, Any]) -> str:
    """Store JSON compactly and faithfully (non-ASCII kept as is)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
