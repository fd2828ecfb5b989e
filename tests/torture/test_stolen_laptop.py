"""Item 8: a stolen laptop reveals no name and no answer, whatever state it is taken in.

A real process uses the profile (``helpers/inuse.py``: log at DEBUG, daily backup, intakes
whose names and answers are canaries in Latin, Arabic and Cyrillic script, many saves,
searches, reads, finalising, a PDF preview and a saved PDF, batches written to a USB
folder) and keeps it open. Every file under the profile (database, WAL, shared memory,
vault, logs, backups, ``tmp``), the USB folder, the user's home (config, cache, data, state
folders) and the process's temporary folder is scanned for the canaries — as UTF-8 and
UTF-16, in any case, JSON-escaped and in the search index's folded form:

* while the program runs (the WAL holds the latest pages);
* after SIGKILL (what a laptop taken mid-work holds);
* after the next normal start and close.

The same for the desktop program itself: the real interview (Qt, offscreen) typing a
canary name, scanned while it types and after it is killed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from intake_app.core.records import fold
from intake_app.storage.records import RecordQuery
from tests.conftest import COUNSELLOR, COUNSELLOR_PASSWORD, ProfileFixture
from tests.e2e.conftest import Office
from tests.helpers.canary import scan
from tests.torture.conftest import ROOT, Figures, child_env, enrol_profile

pytestmark = [pytest.mark.torture, pytest.mark.e2e]

NAMES = [
    ["Zqwkanarienfeld", "Xylokanaria"],
    ["كناريزقخ", "طيورنادرة"],
    ["Канарейкозябр", "Щеглищевна"],
]
CANARIES: dict[str, Any] = {
    "names": NAMES,
    "latin": "Qaxkanarlatin",
    "answer": "Geheimantwortkanarie Wohnung feucht",
    "street": "Kanarienstraße 77b",
}


def needles() -> list[str]:
    """Every canary, with its JSON-escaped and search-folded forms."""
    plain = [s for pair in NAMES for s in pair]
    plain += [CANARIES["latin"], CANARIES["answer"], CANARIES["street"]]
    out: set[str] = set()
    for text in plain:
        out.add(text)
        out.add(json.dumps(text)[1:-1])  # ensure_ascii: \\u0643...
        out.add(fold(text))
        out.update(word for word in text.split() if len(word) >= 8)
    return sorted(out)


def _scan_all(
    roots: list[Path], wanted: list[str] | None = None
) -> tuple[list[tuple[str, str]], int]:
    """Hits and the number of files scanned under every root (empty roots are fine)."""
    wanted = wanted or needles()
    hits: list[tuple[str, str]] = []
    files = 0
    for root in roots:
        if root.exists() and any(p.is_file() for p in root.rglob("*")):
            hits += [(f"{root.name}/{path}", needle) for path, needle in scan(root, wanted)]
            files += sum(1 for p in root.rglob("*") if p.is_file())
    return hits, files


def test_no_canary_in_any_file_of_a_profile_in_use(
    profile: ProfileFixture, office: Office, tmp_path: Path, figures: Figures
) -> None:
    enrol_profile(profile, office, tmp_path / "enrol", "laptop-stolen-check")
    stick = tmp_path / "stick"
    export = tmp_path / "chosen-by-user"
    tmp = tmp_path / "tmp"
    for folder in (stick, export, tmp):
        folder.mkdir()
    home = Path(os.environ["HOME"])
    roots = [profile.profile.root, stick, home, tmp]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.torture.helpers.inuse",
            str(profile.profile.root),
            COUNSELLOR,
            COUNSELLOR_PASSWORD,
            str(stick),
            str(export),
            json.dumps(CANARIES),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(TMPDIR=str(tmp), TEMP=str(tmp), TMP=str(tmp)),
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "ready", (proc.stderr.read() if proc.stderr else "") + line
        db = profile.profile.db_path
        assert Path(f"{db}-wal").stat().st_size > 0, "scan while the WAL holds data"
        assert list(stick.glob("*.ibatch")), "batches on the USB folder"
        assert list((profile.profile.root / "backups").iterdir()), "a backup exists"
        assert (profile.profile.root / "logs" / "intake.log").stat().st_size > 0
        in_use, files_in_use = _scan_all(roots)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    after_kill, files_after_kill = _scan_all(roots)
    assert Path(f"{profile.profile.db_path}-wal").exists(), "the crash left the WAL behind"

    ws = profile.sign_in(COUNSELLOR)
    try:
        assert ws.db.integrity_check() == ["ok"]
        names = {s.family_name for s in ws.records.list(RecordQuery(), limit=100)}
        # the canaries are really in the data: their absence from the files means something
        assert {pair[0] for pair in NAMES} <= names
    finally:
        ws.close()
    after_close, files_after_close = _scan_all(roots)

    assert in_use == [], f"plaintext while in use: {in_use[:10]}"
    assert after_kill == [], f"plaintext after SIGKILL: {after_kill[:10]}"
    assert after_close == [], f"plaintext after a normal start and close: {after_close[:10]}"
    test = "stolen laptop (records, sync, backup, PDF)"
    figures.add("8", test, "canary strings (incl. escaped and folded forms)", len(needles()))
    figures.add(
        "8",
        test,
        "files scanned: in use / after SIGKILL / after close",
        f"{files_in_use} / {files_after_kill} / {files_after_close}",
    )
    figures.add("8", test, "files with a canary", 0)


def test_no_canary_in_any_file_while_the_interview_is_typed(
    profile: ProfileFixture, tmp_path: Path, figures: Figures
) -> None:
    """The desktop program (Qt, offscreen): autosave while typing, then SIGKILL."""
    canary = "Zqwkanarientypistin"
    ws = profile.sign_in(COUNSELLOR)
    try:
        record_id = ws.new_intake()
    finally:
        ws.close()
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    home = Path(os.environ["HOME"])
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.helpers.typist",
            str(profile.profile.root),
            COUNSELLOR,
            COUNSELLOR_PASSWORD,
            record_id,
            canary * 3,
            "20",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(TMPDIR=str(tmp)),
    )
    try:
        assert proc.stdout is not None
        typed = 0
        for line in proc.stdout:
            if line.startswith("typed"):
                typed = int(line.split()[1])
                if typed >= len(canary) + 5:
                    break
        assert typed >= len(canary), proc.stderr.read() if proc.stderr else ""
        time.sleep(1.5)  # autosave has written the name by now
        in_use, files = _scan_all([profile.profile.root, home, tmp], [canary])
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    after_kill, _files = _scan_all([profile.profile.root, home, tmp], [canary])
    ws = profile.sign_in(COUNSELLOR)
    try:
        stored = ws.records.get(record_id).answers.get("family_name", "")
    finally:
        ws.close()
    assert stored.startswith(canary), "the typed name was saved (so the scan means something)"
    assert in_use == [] and after_kill == [], in_use + after_kill
    figures.add("8", "stolen laptop (desktop interview)", "characters typed before the kill", typed)
    figures.add("8", "stolen laptop (desktop interview)", "files scanned while typing", files)
    figures.add("8", "stolen laptop (desktop interview)", "files with the typed name", 0)
