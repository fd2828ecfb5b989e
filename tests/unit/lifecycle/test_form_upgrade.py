"""A record given under an older interview version opens under it, and a draft moves to
the newest (2026.1 through 2026.2 to 2026.3) in a real (SQLCipher) profile with nothing
lost: the answers that have no place in the new version are kept with the record's retired
answers, and the move is audited."""

from __future__ import annotations

import sys
from pathlib import Path

from intake_app.app import Workspace
from intake_app.storage import audit
from tests.conftest import COUNSELLOR, ProfileFixture

sys.path.insert(0, str(Path(__file__).parents[1] / "forms"))
from formkit import PERSONAS


def _old_draft(ws: Workspace, name: str) -> str:
    row = ws.records.create(form_id="intake", form_version="2026.1")
    ws.records.save(row.id, answers=PERSONAS[name]())
    return row.id


def test_a_draft_under_2026_1_opens_and_moves_to_the_newest(profile: ProfileFixture) -> None:
    ws = profile.sign_in(COUNSELLOR)
    try:
        record_id = _old_draft(ws, "ukrainian_24_children")
        row = ws.records.get(record_id)
        assert ws.form_for(row.form_id, row.form_version).get("child_birth_date") is not None
        notes = ws.upgrade_draft(record_id)
        assert "Formularversion 2026.3" in notes[0]
        assert any("archiviert" in note for note in notes[1:])
        row = ws.records.get(record_id)
        assert row.form_version == "2026.3"
        assert [c["child_birth_month"] for c in row.answers["children"]] == ["2015-09", "2021-02"]
        assert row.retired_answers == {
            "2026.1:children[0].child_birth_date": "2015-09-01",
            "2026.1:children[1].child_birth_date": "2021-02-10",
        }
        before = PERSONAS["ukrainian_24_children"]()
        for key, value in before.items():
            if key != "children":
                assert row.answers[key] == value, key
        assert ws.upgrade_draft(record_id) == []  # already the newest version
        with ws.db.read() as session:
            entries = audit.entries_for_subject(
                session, subject_type="record", subject_id=record_id
            )
        upgraded = [e for e in entries if e.action == "record_form_upgraded"]
        assert upgraded and upgraded[0].details == {
            "from_version": "2026.1",
            "to_version": "2026.3",
        }
    finally:
        ws.close()


def test_a_finalised_record_keeps_its_version(profile: ProfileFixture) -> None:
    ws = profile.sign_in(COUNSELLOR)
    try:
        record_id = _old_draft(ws, "refugee_nurse")
        ws.records.finalise(record_id, answers=PERSONAS["refugee_nurse"]())
        assert ws.upgrade_draft(record_id) == []
        assert ws.records.get(record_id).form_version == "2026.1"
        ws.records.start_revision(record_id, reason="Titel verlängert")
        assert ws.upgrade_draft(record_id)
        row = ws.records.get(record_id)
        assert row.form_version == "2026.3"
        assert row.retired_answers == {}
        assert ws.records.revisions(record_id)[0].form_version == "2026.1"
    finally:
        ws.close()
