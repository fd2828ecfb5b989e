"""Retention purge, erasure, access export and the supervisor's overview."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from intake_app.app import Workspace
from intake_app.core.followup import check_closure
from intake_app.demo.data import add_synthetic_intakes
from intake_app.errors import PermissionDenied, ValidationError
from intake_app.storage.lifecycle import ErasureReason
from intake_app.storage.models import ActivityRecord, Erasure, OutboxItem, RecordRow, SyncBatch
from intake_app.storage.records import RecordQuery
from intake_app.storage.site_records import SiteRecords
from tests.conftest import ADMIN, ADMIN_PASSWORD, COUNSELLOR, SUPERVISOR, ProfileFixture
from tests.helpers.canary import scan
from tests.helpers.sqlcipher_pages import first_page_is_valid, plaintext_contains

CANARY_FAMILY = "Qxvoltarisch"
CANARY_GIVEN = "Zembrowina"


def _canary_record(ws: Workspace, *, seed: int = 3) -> str:
    add_synthetic_intakes(ws, count=1, seed=seed, complete_share=1.0)
    record_id = ws.records.list(RecordQuery(status="complete"), limit=1)[0].id
    ws.records.start_revision(record_id, reason="Name korrigiert")
    answers = dict(ws.records.get(record_id).answers)
    answers.update(
        family_name=CANARY_FAMILY,
        given_names=CANARY_GIVEN,
        family_name_latin=CANARY_FAMILY,
        given_names_latin=CANARY_GIVEN,
    )
    ws.records.save(record_id, answers=answers)
    ws.records.finalise(record_id, answers=answers)
    return record_id


def _pretend_delivered(ws: Workspace, record_id: str, *, batch_state: str = "imported") -> None:
    """Set up the state verified receipts leave (sync is tested end to end elsewhere): the
    record's batch answered ``stored`` by the receiver, or ``imported`` by the importer."""
    batch_id = str(uuid.uuid4())
    with ws.db.write() as session:
        session.add(
            SyncBatch(
                batch_id=batch_id,
                transport="http",
                state=batch_state,
                data=b"",
                sha384="0" * 96,
                records=1,
            )
        )
        row = session.scalars(select(RecordRow).where(RecordRow.id == record_id)).one()
        row.sync_state = "delivered"
        row.delivered_revision = row.revision
        session.add(row)
        for item in session.scalars(select(OutboxItem).where(OutboxItem.record_id == record_id)):
            item.state = "delivered"
            item.batch_id = batch_id
            session.add(item)


def _close_long_ago(ws: Workspace, record_id: str, days: int) -> None:
    ws.records.close_case(record_id, check_closure(on=date.today(), reason="moved_away"))
    with ws.db.write() as session:
        row = session.scalars(select(RecordRow).where(RecordRow.id == record_id)).one()
        row.closed_at = datetime.now(UTC) - timedelta(days=days)
        session.add(row)


def _needles() -> list[bytes]:
    forms = []
    for word in (CANARY_FAMILY, CANARY_GIVEN):
        for variant in (word, word.lower(), word.upper()):
            forms.append(variant.encode("utf-8"))
    return forms


def _key(profile: ProfileFixture) -> bytes:
    return profile.profile.vault().unlock(ADMIN, ADMIN_PASSWORD)


def _store_file(ws: Workspace, record_id: str) -> tuple[Path, bytes]:
    """The store file that holds ``record_id`` and its key (records live in stores)."""
    records = ws.records
    sid = records.store_of(record_id) if hasattr(records, "store_of") else ws.scope.own
    assert sid is not None
    db = ws.scope.stores[sid]
    return db.path, bytes.fromhex((db.engine.url.password or "")[2:-1])


def test_retention_purges_only_delivered_records_past_the_period(
    profile: ProfileFixture,
) -> None:
    supervisor = profile.sign_in(SUPERVISOR)
    try:
        old_delivered = _canary_record(supervisor)
        # the closing is itself news for the centre (a case event): delivered after it
        _close_long_ago(supervisor, old_delivered, days=800)
        _pretend_delivered(supervisor, old_delivered)
        add_synthetic_intakes(supervisor, count=2, seed=9, complete_share=1.0)
        others = [s.id for s in supervisor.records.list(RecordQuery(status="complete"))]
        undelivered, recent = others[0], others[1]
        _close_long_ago(supervisor, undelivered, days=800)  # never delivered: must stay
        _close_long_ago(supervisor, recent, days=10)  # delivered, but within the period
        _pretend_delivered(supervisor, recent)
        store, key = _store_file(supervisor, old_delivered)
        assert plaintext_contains(store, key, _needles())  # present now
        result = supervisor.lifecycle.purge_due()
        assert result.purged == 1 and result.kept_undelivered == 1
        remaining = {s.id for s in supervisor.records.list(RecordQuery())}
        assert old_delivered not in remaining and {undelivered, recent} <= remaining
        with supervisor.db.read() as session:
            traces = session.scalars(select(ActivityRecord)).all()
        assert [(t.reason, t.finalised) for t in traces] == [("retention", True)]
        assert supervisor.records.list(RecordQuery(search=CANARY_FAMILY)) == []
    finally:
        supervisor.close()
    assert first_page_is_valid(store, key)
    assert plaintext_contains(store, key, _needles()) == []
    assert scan(profile.profile.root, [CANARY_FAMILY, CANARY_GIVEN]) == []


def test_retention_keeps_what_the_centre_has_stored_but_not_imported(
    profile: ProfileFixture,
) -> None:
    """A "stored" receipt says the receiver has the batch; the importer may still refuse it,
    and then the device's copy is the only one. Only an import lets the device purge."""
    supervisor = profile.sign_in(SUPERVISOR)
    try:
        add_synthetic_intakes(supervisor, count=2, seed=21, complete_share=1.0)
        stored, imported = [s.id for s in supervisor.records.list(RecordQuery(status="complete"))]
        for record_id in (stored, imported):
            _close_long_ago(supervisor, record_id, days=800)
        _pretend_delivered(supervisor, stored, batch_state="stored")
        _pretend_delivered(supervisor, imported, batch_state="imported")
        assert supervisor.lifecycle.due_for_purge() == ([imported], 1)
        result = supervisor.lifecycle.purge_due()
        assert (result.purged, result.kept_undelivered) == (1, 1)
        assert {s.id for s in supervisor.records.list(RecordQuery())} == {stored}
    finally:
        supervisor.close()


def test_retention_keeps_a_record_whose_closing_the_centre_has_not_heard_of(
    profile: ProfileFixture,
) -> None:
    """The record reached the centre, then the case was closed: the closing waits in the
    outbox, so the device's copy is still the only one that knows the outcome."""
    supervisor = profile.sign_in(SUPERVISOR)
    try:
        add_synthetic_intakes(supervisor, count=1, seed=23, complete_share=1.0)
        (record_id,) = [s.id for s in supervisor.records.list(RecordQuery(status="complete"))]
        _pretend_delivered(supervisor, record_id)
        _close_long_ago(supervisor, record_id, days=800)
        assert supervisor.lifecycle.due_for_purge() == ([], 1)
        _pretend_delivered(supervisor, record_id)  # the closing reached the centre too
        assert supervisor.lifecycle.due_for_purge() == ([record_id], 0)
    finally:
        supervisor.close()


def test_only_supervisors_and_administrators_run_the_retention_purge(
    profile: ProfileFixture,
) -> None:
    counsellor = profile.sign_in(COUNSELLOR)
    try:
        with pytest.raises(PermissionDenied):
            counsellor.lifecycle.purge_due()
        with pytest.raises(PermissionDenied):
            counsellor.lifecycle.due_for_purge()
        with pytest.raises(PermissionDenied):
            counsellor.lifecycle.erasures()
        with pytest.raises(PermissionDenied):
            counsellor.records.id_for_case_number("AB-1")
    finally:
        counsellor.close()


def test_erasure_removes_everything_and_queues_an_instruction(profile: ProfileFixture) -> None:
    counsellor = profile.sign_in(COUNSELLOR)
    record_id = _canary_record(counsellor)
    with counsellor.db.write() as session:  # the record left the device in a batch
        for item in session.scalars(select(OutboxItem).where(OutboxItem.record_id == record_id)):
            item.state = "batched"
            session.add(item)
    with pytest.raises(PermissionDenied):
        counsellor.lifecycle.erase(record_id, reason=ErasureReason.REQUEST)
    counsellor.close()
    supervisor = profile.sign_in(SUPERVISOR)
    store, key = _store_file(supervisor, record_id)
    assert isinstance(supervisor.records, SiteRecords)
    store_db = supervisor.scope.stores[supervisor.records.store_of(record_id)]
    try:
        with pytest.raises(ValidationError):
            supervisor.lifecycle.erase(record_id, reason="weil ich es sage")
        assert supervisor.lifecycle.erase(record_id, reason=ErasureReason.REQUEST) is True
        with store_db.read() as session:  # the counsellor's store
            items = session.scalars(
                select(OutboxItem).where(OutboxItem.record_id == record_id)
            ).all()
            erasure = session.get(Erasure, record_id)
        assert [i.kind for i in items] == ["erasure"]
        assert erasure is not None and erasure.central and erasure.confirmed_at is None
        assert supervisor.records.count(RecordQuery()) == 0
        # the audit log keeps the fact, never the name
        with supervisor.db.read() as session:
            from intake_app.storage import audit

            erased = [
                e
                for e in audit.entries_for_subject(
                    session, subject_type="record", subject_id=record_id
                )
                if e.action == "record_erased"
            ]
        assert erased
        mark = erased[0].details.pop("mark")  # the store's mark: no name, no answer in it
        assert erased[0].details == {"reason": "request", "central": True}
        assert len(mark) == 96 and set(mark) <= set("0123456789abcdef")
    finally:
        supervisor.close()
    assert plaintext_contains(store, key, _needles()) == []


def test_erasure_of_a_record_that_never_left_needs_no_instruction(
    profile: ProfileFixture,
) -> None:
    supervisor = profile.sign_in(SUPERVISOR)
    try:
        record_id = supervisor.new_intake()
        assert supervisor.lifecycle.erase(record_id, reason=ErasureReason.DUPLICATE) is False
        with supervisor.db.read() as session:
            assert session.scalars(select(OutboxItem)).all() == []
    finally:
        supervisor.close()


def test_access_export_holds_everything_about_the_person(profile: ProfileFixture) -> None:
    counsellor = profile.sign_in(COUNSELLOR)
    try:
        record_id = _canary_record(counsellor)
        counsellor.records.withdraw_consent(
            record_id, purpose="central_office", withdrawn_on=date.today()
        )
        document = counsellor.lifecycle.person_export(record_id)
        assert document["record"]["answers"]["family_name"] == CANARY_FAMILY
        assert [r["revision"] for r in document["revisions"]] == [1, 2]
        assert document["revisions"][1]["reason"] == "Name korrigiert"
        assert [w["purpose"] for w in document["consent_withdrawals"]] == ["central_office"]
        actions = [e["action"] for e in document["audit"]]
        assert {"record_created", "record_finalised", "record_revised", "consent_withdrawn"} <= set(
            actions
        )
        again = counsellor.lifecycle.person_export(record_id)
        assert "person_exported" in [e["action"] for e in again["audit"]]
    finally:
        counsellor.close()


def test_overview_numbers_and_their_lists(profile: ProfileFixture) -> None:
    counsellor = profile.sign_in(COUNSELLOR)
    try:
        add_synthetic_intakes(counsellor, count=12, seed=4, complete_share=0.7)
        record_id = counsellor.records.list(RecordQuery(status="complete"), limit=1)[0].id
        counsellor.records.start_revision(record_id, reason="Vermittlung ergänzt")
        answers = dict(counsellor.records.get(record_id).answers)
        answers["referrals"] = [
            {
                "service": "jobcenter",
                "date": "2026-11-01",
                "purpose": "Sprachkurs",
                "consent_purpose": "central_office",
                "outcome": "open",
            },
            {
                "service": "iq",
                "date": "2026-11-02",
                "purpose": "Anerkennung",
                "consent_purpose": "central_office",
                "outcome": "completed",
            },
        ]
        answers["qualifications"] = [
            {"isced_level": "6", "regulated": "yes", "recognition_status": "applied"}
        ]
        counsellor.records.save(record_id, answers=answers)
        with pytest.raises(PermissionDenied):
            counsellor.lifecycle.overview()
    finally:
        counsellor.close()
    supervisor = profile.sign_in(SUPERVISOR)
    try:
        overview = supervisor.lifecycle.overview()
        assert sum(overview.by_status.values()) == 12
        assert overview.open_referrals >= 1 and overview.records_with_open_referrals >= 1
        listed = supervisor.records.list(RecordQuery(special="open_referrals"))
        assert record_id in {s.id for s in listed}
        assert len(listed) == overview.records_with_open_referrals
        assert len(supervisor.records.list(RecordQuery(special="recognition_pending"))) == (
            overview.recognition_pending
        )
        assert len(supervisor.records.list(RecordQuery(special="not_delivered"))) == (
            overview.not_delivered
        )
        assert len(supervisor.records.list(RecordQuery(expiring_only=True))) == (
            overview.expiring_permits
        )
        months = dict(overview.by_month)
        assert sum(sum(v.values()) for v in months.values()) == 12
    finally:
        supervisor.close()


def test_person_export_and_erase_commands(
    profile: ProfileFixture,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import io
    import json as json_module

    from pypdf import PdfReader

    from intake_app.cli import main
    from tests.conftest import COUNSELLOR_PASSWORD, SUPERVISOR_PASSWORD

    ws = profile.sign_in(COUNSELLOR)
    record_id = _canary_record(ws)
    ws.close()
    pw = tmp_path / "pw"
    pw.write_text(COUNSELLOR_PASSWORD, "utf-8")
    out = tmp_path / "auskunft"
    base = ["--data-dir", str(profile.profile.root), "--password-file", str(pw)]
    assert (
        main(
            [
                *base,
                "--user",
                COUNSELLOR,
                "person",
                "export",
                "--record",
                record_id,
                "--out",
                str(out),
            ]
        )
        == 0
    )
    files = sorted(p.suffix for p in out.iterdir())
    assert files == [".json", ".pdf"]
    document = json_module.loads(next(out.glob("*.json")).read_text("utf-8"))
    assert document["record"]["answers"]["family_name"] == CANARY_FAMILY
    pdf_text = "".join(
        page.extract_text()
        for page in PdfReader(io.BytesIO(next(out.glob("*.pdf")).read_bytes())).pages
    )
    assert CANARY_FAMILY in pdf_text
    # a counsellor may not erase; a supervisor may, with a reason from the list
    assert main([*base, "--user", COUNSELLOR, "person", "erase", "--record", record_id]) == 1
    pw.write_text(SUPERVISOR_PASSWORD, "utf-8")
    assert (
        main(
            [
                *base,
                "--user",
                SUPERVISOR,
                "person",
                "erase",
                "--record",
                record_id,
                "--reason",
                "request",
            ]
        )
        == 0
    )
    assert "gelöscht" in capsys.readouterr().out
    assert main([*base, "--user", SUPERVISOR, "retention", "run", "--dry-run"]) == 0
