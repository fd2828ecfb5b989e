"""A copy of a move journal put back after the move was finished is never followed again
(storage/moves.py; docs/security.md, "Granting and revoking", "Moving a case")."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from intake_app.app import Workspace
from intake_app.storage import moves
from intake_app.storage.profile import Profile
from tests.helpers.attacker import what_she_reads
from tests.helpers.key_site import own, write_record


def test_a_journal_of_a_finished_move_put_back_moves_nothing(
    site: tuple[Profile, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """berta keeps a copy of the journal of a move of anna's case to her; the supervisor
    moves the case back and anna writes more; berta puts the journal back. The next
    supervisor sign-in removes it and leaves the case with anna."""
    profile, _ = site
    record_id = write_record(profile, "anna", "Kanarienhin")
    kept = tmp_path / "kept"
    kept.mkdir()
    copy_rows = moves.copy_rows

    def copy_and_keep_the_journal(*args: Any, **kwargs: Any) -> None:
        for journal in (profile.root / "stores").glob("move-*.json"):
            shutil.copy2(journal, kept / journal.name)
        copy_rows(*args, **kwargs)

    monkeypatch.setattr(moves, "copy_rows", copy_and_keep_the_journal)
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    try:
        ws.move_case_to(record_id, "berta")
    finally:
        ws.close()
    monkeypatch.setattr(moves, "copy_rows", copy_rows)
    [journal] = list(kept.iterdir())
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    try:
        ws.move_case_to(record_id, "anna")
    finally:
        ws.close()
    ws = Workspace.sign_in(profile, username="anna", password=own("anna"))
    try:
        answers = dict(ws.records.get(record_id).answers)
        answers["family_name"] = "Kanarienzurueck"
        ws.records.save(record_id, answers=answers)
    finally:
        ws.close()
    put_back = profile.root / "stores" / journal.name
    shutil.copy2(journal, put_back)
    Workspace.sign_in(profile, username="leitung", password=own("leitung")).close()
    assert not put_back.exists(), "the journal of a finished move is removed"
    text, _names = what_she_reads(profile.root, "berta", own("berta"))
    assert "Kanarienzurueck" not in text
    text, _names = what_she_reads(profile.root, "anna", own("anna"))
    assert "Kanarienzurueck" in text
