"""A copy of a move journal put back after the move was finished is never followed again
(storage/moves.py; docs/security.md, "Granting and revoking", "Moving a case")."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import sqlcipher3

from intake_app.app import Workspace
from intake_app.storage import moves
from intake_app.storage.profile import Profile
from intake_app.storage.vault import Vault
from tests.helpers.attacker import keys_for, what_she_reads, with_any_key
from tests.helpers.key_site import own, write_record


def test_a_journal_of_a_finished_move_put_back_moves_nothing(
    site: tuple[Profile, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """berta keeps a copy of the journal of a move of anna's case to her; the supervisor
    moves the case back and anna writes more; berta puts the journal back. The next
    supervisor sign-in removes it and leaves the case with anna."""
    profile, _ = site
    record_id = write_record(profile, "anna", "Kanarienhin")
    journal = _moved_there_and_back(profile, record_id, tmp_path, monkeypatch)
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


@pytest.mark.parametrize("planted", [False, True])
def test_a_journal_put_back_with_its_closing_entry_deleted_moves_nothing(
    site: tuple[Profile, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, planted: bool
) -> None:
    """Attacker run 17: as above, and the ``record_moved`` entry that closed the first
    move is deleted from the audit log (its guard taken out and put back). The journal is
    older than the case's last change, so the next supervisor sign-in does not follow it
    and reports it; the case stays with anna. Run 18 (``planted``) left the case unchanged
    and put a record of that id with a time of change in the future into berta's store:
    a target row that is not the move's own copy is never taken for it."""
    profile, _ = site
    record_id = write_record(profile, "anna", "Kanarienhin")
    journal = _moved_there_and_back(profile, record_id, tmp_path, monkeypatch)
    move_id = json.loads(journal.read_text("utf-8"))["move"]
    if planted:
        _plant_future_copy(profile, record_id)
    else:
        time.sleep(2.1)  # her change comes after the move began (whole seconds)
    ws = Workspace.sign_in(profile, username="anna", password=own("anna"))
    try:
        answers = dict(ws.records.get(record_id).answers)
        answers["family_name"] = "Kanarienzurueck"
        if not planted:
            ws.records.save(record_id, answers=answers)
    finally:
        ws.close()
    # the attack: the journal back, and the entry that closed that move deleted
    _delete_closing_entry(profile, move_id)
    _put_back_and_sign_in(profile, journal)
    canary = "Kanarienhin" if planted else "Kanarienzurueck"
    text, _names = what_she_reads(profile.root, "anna", own("anna"))
    assert canary in text, "the case stays in anna's store"
    if not planted:
        text, _names = what_she_reads(profile.root, "berta", own("berta"))
        assert canary not in text


def test_a_journal_put_back_while_the_case_is_unchanged_moves_nothing(
    site: tuple[Profile, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attacker run 19: the case moved to berta and back to anna is left unchanged; berta
    deletes the entry that closed the first move, puts its journal back and gives a draft
    of hers the case's id and the very time of change anna's copy has (she read it while
    the case was hers). The rows looked like the first move's interrupted copy, so the
    next supervisor sign-in deleted anna's real record. Now anna's store noted that move's
    record as gone from it, a note berta cannot remove: nothing is deleted, and it is
    reported."""
    profile, _ = site
    record_id = write_record(profile, "anna", "Kanarienhin")
    journal = _moved_there_and_back(profile, record_id, tmp_path, monkeypatch)
    move_id = json.loads(journal.read_text("utf-8"))["move"]
    _plant_future_copy(profile, record_id, updated_at=_anna_time(profile, record_id))
    _delete_closing_entry(profile, move_id)
    _put_back_and_sign_in(profile, journal)
    text, _names = what_she_reads(profile.root, "anna", own("anna"))
    assert "Kanarienhin" in text, "anna's record is not deleted"


def _put_back_and_sign_in(profile: Profile, journal: Path) -> None:
    """The kept journal back in the folder; the supervisor's next sign-in refuses it,
    tells her, and removes it."""
    put_back = profile.root / "stores" / journal.name
    shutil.copy2(journal, put_back)
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    try:
        assert any("Übergabe-Protokoll" in m for m in ws.sign_in_result.integrity_messages)
    finally:
        ws.close()
    assert not put_back.exists()


def _anna_time(profile: Profile, record_id: str) -> str:
    vault = Vault(profile.root / "vault.json")
    keys = vault.unlock_user("anna", own("anna"))
    for sid in vault.stores():
        key = vault.open_store_key(keys, sid)
        if key is None:
            continue
        conn = sqlcipher3.connect(str(profile.root / "stores" / f"{sid}.db"))
        try:
            conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
            row = conn.execute(
                "SELECT updated_at FROM records WHERE id = ?", (record_id,)
            ).fetchone()
        finally:
            conn.close()
        if row is not None:
            return str(row[0])
    raise AssertionError("anna holds the case")


def _delete_closing_entry(profile: Profile, move_id: str) -> None:
    """The ``record_moved`` entry of ``move_id`` out of the audit log (its guard taken
    out and put back), and the move's note out of berta's own store, with her keys."""
    keys = keys_for(profile.root / "vault.json", "berta", own("berta"))
    notes = sum(
        with_any_key(
            path,
            keys,
            lambda conn: (
                conn.execute("DELETE FROM intake_moves_done WHERE move = ?", (move_id,)).rowcount
            ),
        )
        or 0
        for path in (profile.root / "stores").glob("*.db")
    )
    assert notes == 1, "berta's store noted the first move closed"
    key = keys[0]
    conn = sqlcipher3.connect(str(profile.root / "intake.db"))
    try:
        conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
        guards = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE name = 'audit_log_no_delete'"
        ).fetchall()
        for name, _sql in guards:
            conn.execute(f"DROP TRIGGER {name}")
        deleted = conn.execute(
            "DELETE FROM audit_log WHERE action = 'record_moved' AND details LIKE ?",
            (f"%{move_id}%",),
        ).rowcount
        for _name, sql in guards:
            conn.execute(sql)
        conn.commit()
    finally:
        conn.close()
    assert deleted == 1


def _plant_future_copy(
    profile: Profile, record_id: str, *, updated_at: str = "2099-01-01 00:00:00.000000"
) -> None:
    """berta gives a draft of hers the case's id and a time of change (in 2099)."""
    ws = Workspace.sign_in(profile, username="berta", password=own("berta"))
    draft = ws.new_intake()
    berta = ws.actor.user_id
    ws.close()
    vault = Vault(profile.root / "vault.json")
    keys = vault.unlock_user("berta", own("berta"))
    (sid,) = [s for s, info in vault.stores().items() if info.owner_id == berta]
    key = vault.open_store_key(keys, sid)
    assert key is not None
    conn = sqlcipher3.connect(str(profile.root / "stores" / f"{sid}.db"))
    try:
        conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
        conn.execute(
            "UPDATE records SET id = ?, updated_at = ? WHERE id = ?",
            (record_id, updated_at, draft),
        )
        conn.commit()
    finally:
        conn.close()


def _moved_there_and_back(
    profile: Profile, record_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """The supervisor moves anna's case to berta, who keeps a copy of the move's journal
    (copied as the move runs), and back to anna; returns the kept copy."""
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
    return journal
