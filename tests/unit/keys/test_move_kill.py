"""A case moved between record stores survives a real kill at every step of the move.

The move runs in a child process (tests/helpers/move_child.py) that dies by SIGKILL at a
chosen step. Then, with the files alone (the supervisor's password and SQLCipher), the
case must be in at least one store, and in both only while the move's journal says so;
the next supervisor sign-in finishes the move: the case is in exactly one store (the
target), the journal is gone, one ``record_moved`` entry is written and the audit log
checks.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import sqlcipher3

from intake_app.app import Workspace
from intake_app.storage import audit
from intake_app.storage.moves import pending
from intake_app.storage.profile import Profile
from intake_app.storage.records import RecordQuery
from intake_app.storage.stores import STORES_DIR
from tests.helpers.attacker import keys_for, what_she_reads
from tests.helpers.key_site import own

ROOT = Path(__file__).resolve().parents[3]
POINTS = ("journal", "copy_midway", "copy", "delete", "audit")


def _copies(profile: Profile, record_id: str) -> dict[str, int]:
    """How often each store file holds the record, read with the supervisor's keys."""
    keys = keys_for(profile.vault_path, "leitung", own("leitung"))
    found: dict[str, int] = {}
    for path in sorted((profile.root / STORES_DIR).glob("*.db")):
        for key in keys:
            conn = sqlcipher3.connect(str(path))
            try:
                conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
                (n,) = conn.execute(
                    "SELECT count(*) FROM records WHERE id = ?", (record_id,)
                ).fetchone()
            except sqlcipher3.DatabaseError:
                continue
            finally:
                conn.close()
            found[path.stem] = n
            break
    return found


@pytest.mark.parametrize("point", POINTS)
def test_a_kill_during_a_move_leaves_the_case_in_exactly_one_store(
    site: tuple[Profile, str], point: str
) -> None:
    profile, _ = site
    ws = Workspace.sign_in(profile, username="anna", password=own("anna"))
    record_id = ws.records.list(RecordQuery())[0].id
    ws.close()

    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.helpers.move_child",
            str(profile.root),
            "leitung",
            own("leitung"),
            record_id,
            "berta",
            point,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stdout + child.stderr

    copies = _copies(profile, record_id)
    assert sum(copies.values()) >= 1, f"the case is in no store after a kill at {point}"
    if sum(copies.values()) > 1:
        assert pending(profile.root), "two copies without a journal that says so"

    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    try:  # her sign-in finishes the move
        assert pending(profile.root) == []
        assert ws.records.get(record_id).answers["family_name"] == "Kanarienanna"
        with ws.db.read() as session:
            moved = [
                e
                for e in audit.entries_for_subject(
                    session, subject_type="record", subject_id=record_id
                )
                if e.action == "record_moved"
            ]
        assert len(moved) == 1, moved
        assert ws.verify_audit().ok
    finally:
        ws.close()
    assert sum(_copies(profile, record_id).values()) == 1
    text, _ = what_she_reads(profile.root, "berta", own("berta"))
    assert "Kanarienanna" in text
    text, _ = what_she_reads(profile.root, "anna", own("anna"))
    assert "Kanarienanna" not in text


def test_an_unfinished_move_waits_for_someone_with_both_stores(
    site: tuple[Profile, str], tmp_path: Path
) -> None:
    """A counsellor's sign-in leaves the journal alone (her keys open one store)."""
    profile, _ = site
    ws = Workspace.sign_in(profile, username="anna", password=own("anna"))
    record_id = ws.records.list(RecordQuery())[0].id
    ws.close()
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.helpers.move_child",
            str(profile.root),
            "leitung",
            own("leitung"),
            record_id,
            "berta",
            "copy",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL
    shutil.copytree(profile.root, tmp_path / "before")
    for name in ("anna", "berta"):
        Workspace.sign_in(profile, username=name, password=own(name)).close()
    assert len(pending(profile.root)) == 1
    Workspace.sign_in(profile, username="leitung", password=own("leitung")).close()
    assert pending(profile.root) == []
