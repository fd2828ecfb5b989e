"""ReportService against a real encrypted profile: permissions, audit entries, saving."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from intake_app.app import Workspace
from intake_app.core.audit import AuditAction
from intake_app.errors import NotFound, PermissionDenied, UsageError
from intake_app.reports.batch import Document
from intake_app.reports.profiles import Profile
from intake_app.reports.service import Output, ReportService
from intake_app.storage import audit
from tests.conftest import ADMIN, COUNSELLOR, SUPERVISOR, ProfileFixture
from tests.unit.reports import pdfcheck
from tests.unit.reports import reportkit as kit

PRINT_ACTIONS = {
    AuditAction.RECORD_READ.value,
    AuditAction.RECORD_PRINTED.value,
    AuditAction.RECORD_EXPORTED.value,
}


def add_record(ws: Workspace, *, finalise: bool = True, arabic: bool = True) -> str:
    form = ws.current_form()
    answers = kit.rich_answers(form, ws.organisation, arabic=arabic)
    row = ws.records.create(form_id=form.id, form_version=form.version, answers=answers)
    if finalise:
        ws.records.finalise(row.id, answers=answers)
    return row.id


@pytest.fixture
def records(profile: ProfileFixture) -> Iterator[list[str]]:
    """Two finalised records and a draft of the counsellor."""
    ws = profile.sign_in(COUNSELLOR)
    try:
        yield [add_record(ws), add_record(ws, arabic=False), add_record(ws, finalise=False)]
    finally:
        ws.close()


@pytest.fixture
def supervisor(profile: ProfileFixture, records: list[str]) -> Iterator[Workspace]:
    ws = profile.sign_in(SUPERVISOR)
    yield ws
    ws.close()


def print_entries(ws: Workspace) -> list[audit.AuditEntry]:
    with ws.db.read() as session:
        return [
            e
            for e in audit.iter_entries(session)
            if e.action in PRINT_ACTIONS and e.details.get("document")
        ]


def test_supervisor_renders_and_every_output_is_audited(
    supervisor: Workspace, records: list[str], tmp_path: Path
) -> None:
    service = ReportService(supervisor)
    rendered = service.summary(records[0])
    assert rendered.data.startswith(b"%PDF")
    assert print_entries(supervisor) == []  # building alone is not an output
    service.record_output(rendered, output=Output.PREVIEW)
    service.record_output(rendered, output=Output.PRINTER)
    service.save(rendered, tmp_path / "out.pdf")
    assert (tmp_path / "out.pdf").read_bytes() == rendered.data
    entries = print_entries(supervisor)
    assert [e.action for e in entries] == ["record_read", "record_printed", "record_exported"]
    for entry in entries:
        assert entry.subject_type == "record" and entry.subject_id == records[0]
        assert entry.actor == SUPERVISOR
        assert entry.details["profile"] == "standard"
        assert entry.details["document"] == "summary"
        assert entry.details["lang"] == "de"
    assert [e.details["output"] for e in entries] == ["preview", "printer", "file"]


def test_audit_entries_hold_no_names_answers_or_paths(
    supervisor: Workspace, records: list[str], tmp_path: Path
) -> None:
    service = ReportService(supervisor)
    rendered = service.render(records[:2], profile=Profile.SPECIAL)
    target = tmp_path / "Al-Hassan Layla.pdf"
    service.save(rendered, target)
    entries = print_entries(supervisor)
    assert {e.subject_id for e in entries} == set(records[:2])
    blob = json.dumps([e.details for e in entries], ensure_ascii=False)
    for secret in (
        kit.ARABIC_FAMILY,
        "Al-Hassan",
        "Layla",
        kit.CYRILLIC_FAMILY,
        "Shevchenko",
        "KM01",
        str(tmp_path),
        "Krankenpflege",
    ):
        assert secret not in blob
    batch_ids = {e.details["batch"] for e in entries}
    assert len(batch_ids) == 1 and entries[0].details["batch_size"] == 2
    assert {e.details["profile"] for e in entries} == {"special_categories"}


def test_downgraded_profile_is_recorded(supervisor: Workspace, profile: ProfileFixture) -> None:
    ws = profile.sign_in(COUNSELLOR)
    try:
        form = ws.current_form()
        answers = kit.rich_answers(form, ws.organisation, art9=False)
        row = ws.records.create(form_id=form.id, form_version=form.version, answers=answers)
    finally:
        ws.close()
    service = ReportService(supervisor)
    rendered = service.summary(row.id, profile=Profile.SPECIAL)
    service.record_output(rendered, output=Output.PRINTER)
    (entry,) = print_entries(supervisor)
    assert entry.details["profile"] == "standard"
    assert entry.details["requested_profile"] == "special_categories"


def test_counsellor_prints_own_records_only(profile: ProfileFixture, records: list[str]) -> None:
    other = profile.sign_in(SUPERVISOR)
    try:
        foreign = add_record(other)
    finally:
        other.close()
    ws = profile.sign_in(COUNSELLOR)
    try:
        service = ReportService(ws)
        assert service.can_print()
        assert service.summary(records[0]).records[0].record_id == records[0]
        # the record is in the supervisor's store, which her keys do not open
        with pytest.raises((PermissionDenied, NotFound)):
            service.summary(foreign)
        with pytest.raises((PermissionDenied, NotFound)):  # one foreign record stops the batch
            service.render([records[0], foreign])
        assert print_entries(ws) == []
    finally:
        ws.close()


def test_administrator_may_not_print(profile: ProfileFixture, records: list[str]) -> None:
    ws = profile.sign_in(ADMIN)
    try:
        service = ReportService(ws)
        assert not service.can_print()
        with pytest.raises(PermissionDenied):
            service.summary(records[0])
        with pytest.raises(PermissionDenied):
            service.complete_record_ids()
    finally:
        ws.close()


def test_unknown_and_empty_selections(supervisor: Workspace) -> None:
    service = ReportService(supervisor)
    with pytest.raises(NotFound):
        service.summary("no-such-record")
    with pytest.raises(UsageError):
        service.render([])


def test_complete_record_ids_leave_out_drafts(supervisor: Workspace, records: list[str]) -> None:
    assert sorted(ReportService(supervisor).complete_record_ids()) == sorted(records[:2])


def test_consent_sheet_in_the_consent_language(supervisor: Workspace, records: list[str]) -> None:
    rendered = ReportService(supervisor).consent_sheet(records[0])
    assert rendered.document is Document.CONSENT_SHEET and rendered.client_lang == "ar"
    text = "\n".join(pdfcheck.texts(rendered.data))
    assert supervisor.organisation.text("consent_intro", "de").split()[0] in text


def test_failed_audit_leaves_no_file(
    supervisor: Workspace, records: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = ReportService(supervisor)
    rendered = service.summary(records[0])
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "kept.pdf"
    target.write_bytes(b"old content")

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(service, "record_output", broken)
    with pytest.raises(RuntimeError):
        service.save(rendered, target)
    assert target.read_bytes() == b"old content"
    assert sorted(p.name for p in folder.iterdir()) == ["kept.pdf"]  # no temporary left


def test_save_into_a_missing_folder_is_refused(
    supervisor: Workspace, records: list[str], tmp_path: Path
) -> None:
    service = ReportService(supervisor)
    rendered = service.summary(records[0])
    with pytest.raises(UsageError):
        service.save(rendered, tmp_path / "missing" / "out.pdf")
    assert print_entries(supervisor) == []
