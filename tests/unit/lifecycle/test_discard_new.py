"""A new intake left without a single answer goes; anything entered, printed or done keeps it.

``RecordService.discard_new`` removes a record only while it is exactly as it was made,
audits ``record_discarded`` with its case number, and never hands that number out again.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from intake_app.app import Workspace
from intake_app.errors import NotFound
from intake_app.reports.service import Output, ReportService
from intake_app.storage import audit
from tests.conftest import COUNSELLOR, SUPERVISOR, ProfileFixture


@pytest.fixture
def counsellor(profile: ProfileFixture) -> Iterator[Workspace]:
    ws = profile.sign_in(COUNSELLOR)
    yield ws
    ws.close()


def _new(ws: Workspace) -> tuple[str, dict]:
    record_id = ws.new_intake()
    return record_id, dict(ws.records.get(record_id).answers)


def _rows(ws: Workspace, record_id: str) -> tuple[int, int, int]:
    """The record's rows in the store: records, record_data, search index."""
    with ws.db.read() as session:
        pk = session.execute(
            text("SELECT pk FROM records WHERE id = :id"), {"id": record_id}
        ).scalar()
        data = session.execute(
            text("SELECT count(*) FROM record_data WHERE pk = :pk"), {"pk": pk}
        ).scalar_one()
        fts = session.execute(
            text("SELECT count(*) FROM records_fts WHERE rowid = :pk"), {"pk": pk}
        ).scalar_one()
    return (0 if pk is None else 1), int(data), int(fts)


def test_an_untouched_new_intake_is_removed_audited_and_its_number_not_reused(
    counsellor: Workspace,
) -> None:
    record_id, made = _new(counsellor)
    case_number = made["case_number"]
    assert _rows(counsellor, record_id) == (1, 1, 1)

    assert counsellor.records.discard_new(record_id, created_with=made)

    assert _rows(counsellor, record_id) == (0, 0, 0)
    with pytest.raises(NotFound):
        counsellor.records.get(record_id)
    with counsellor.db.read() as session:
        entries = [e for e in audit.iter_entries(session) if e.subject_id == record_id]
    assert [e.action for e in entries][-1] == "record_discarded"
    assert entries[-1].details == {"case_number": case_number, "reason": "nothing_entered"}
    # the next intake gets the next number: the gap is explained by the audit entry
    following, again = _new(counsellor)
    assert again["case_number"] > case_number
    assert counsellor.records.discard_new(following, created_with=again)


def test_a_record_with_an_answer_is_kept(counsellor: Workspace) -> None:
    record_id, made = _new(counsellor)
    counsellor.records.save(record_id, answers={**made, "family_name": "Haddad"})
    assert not counsellor.records.discard_new(record_id, created_with=made)
    # and one whose filled-in answer she changed (the date of the intake)
    other, made_other = _new(counsellor)
    counsellor.records.save(other, answers={**made_other, "intake_date": "2026-01-02"})
    assert not counsellor.records.discard_new(other, created_with=made_other)
    assert _rows(counsellor, record_id) == (1, 1, 1)
    assert _rows(counsellor, other) == (1, 1, 1)


def test_a_printed_new_intake_is_kept(counsellor: Workspace) -> None:
    record_id, made = _new(counsellor)
    service = ReportService(counsellor)
    service.record_output(service.consent_sheet(record_id), output=Output.PRINTER)
    assert not counsellor.records.discard_new(record_id, created_with=made)
    assert _rows(counsellor, record_id) == (1, 1, 1)


def test_only_the_owner_discards(profile: ProfileFixture) -> None:
    ws = profile.sign_in(COUNSELLOR)
    try:
        record_id, made = _new(ws)
    finally:
        ws.close()
    supervisor = profile.sign_in(SUPERVISOR)
    try:
        assert not supervisor.records.discard_new(record_id, created_with=made)
    finally:
        supervisor.close()
    ws = profile.sign_in(COUNSELLOR)
    try:
        assert _rows(ws, record_id) == (1, 1, 1)
    finally:
        ws.close()
