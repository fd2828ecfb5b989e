"""Item 1: SIGKILL at random moments while answers are being saved (a real subprocess).

A helper process (``helpers/saver.py``) signs in and saves the answers of three records in
a tight loop, printing each save after it returned. The test kills it with SIGKILL at a
random moment — mostly while it saves, sometimes while it starts and signs in — and then
opens the profile like the next start of the program would:

* ``PRAGMA integrity_check`` answers ``ok``;
* every save the process reported is there (the stored save number is at least the last
  one reported), at most the one save in flight is added, and the stored answers are
  exactly the answers of that save (no torn or mixed state);
* the search index agrees with the stored answers.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from intake_app.storage.records import RecordQuery
from tests.conftest import COUNSELLOR, COUNSELLOR_PASSWORD, ProfileFixture
from tests.torture.conftest import ROOT, Figures, Scale, Stopwatch, child_env
from tests.torture.helpers.saver import COUNTER, answers_for, base_answers

pytestmark = pytest.mark.torture


class _Reader(threading.Thread):
    """Collects a child's stdout lines as they come (so the pipe never fills)."""

    def __init__(self, stream: object) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.lines: list[str] = []
        self.ready = threading.Event()

    def run(self) -> None:
        for line in self.stream:  # type: ignore[attr-defined]
            self.lines.append(line.strip())
            if line.startswith("ready"):
                self.ready.set()


def _acknowledged(lines: list[str]) -> dict[str, int]:
    done: dict[str, int] = {}
    for line in lines:
        if line.startswith("saved "):
            _word, record_id, n = line.split()
            done[record_id] = max(done.get(record_id, 0), int(n))
    return done


def test_sigkill_while_saving_loses_no_saved_answer(
    profile: ProfileFixture, scale: Scale, figures: Figures
) -> None:
    ws = profile.sign_in(COUNSELLOR)
    try:
        ids = [ws.new_intake() for _ in range(3)]
        bases = {rid: base_answers(ws.records.get(rid).answers) for rid in ids}
    finally:
        ws.close()
    acknowledged = dict.fromkeys(ids, 0)
    rng = random.Random(1)
    during_start = during_saving = in_flight_committed = saves = 0
    with Stopwatch() as total:
        for kill in range(scale.save_kills):
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.torture.helpers.saver",
                    str(profile.profile.root),
                    COUNSELLOR,
                    COUNSELLOR_PASSWORD,
                    *ids,
                ],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=child_env(),
            )
            reader = _Reader(proc.stdout)
            reader.start()
            if rng.random() < 0.2:
                # any moment from the start: imports, key derivation, opening, first saves
                time.sleep(rng.uniform(0.0, 2.0))
            else:
                assert reader.ready.wait(60), proc.stderr.read() if proc.stderr else ""
                time.sleep(rng.uniform(0.0, 0.6))
            started = reader.ready.is_set()
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            reader.join(timeout=30)
            assert proc.returncode == -signal.SIGKILL, (
                f"kill {kill}: the saver ended on its own: "
                f"{proc.stderr.read() if proc.stderr else ''}"
            )
            if started:
                during_saving += 1
            else:
                during_start += 1
            reported = _acknowledged(reader.lines)
            saves += sum(reported.get(rid, acknowledged[rid]) - acknowledged[rid] for rid in ids)
            for rid, n in reported.items():
                acknowledged[rid] = max(acknowledged[rid], n)

            ws = profile.sign_in(COUNSELLOR)
            try:
                assert ws.db.integrity_check() == ["ok"], f"kill {kill}: database damaged"
                for rid in ids:
                    stored = ws.records.get(rid).answers
                    n = int(stored.get(COUNTER, 0))
                    assert n >= acknowledged[rid], (
                        f"kill {kill}: save {acknowledged[rid]} of {rid} was reported "
                        f"but the database holds save {n}"
                    )
                    assert n <= acknowledged[rid] + 1, f"kill {kill}: a save from nowhere"
                    if n == acknowledged[rid] + 1:
                        in_flight_committed += 1
                        acknowledged[rid] = n
                    if n:
                        assert stored == answers_for(bases[rid], rid, n), (
                            f"kill {kill}: record {rid} holds a mixed state"
                        )
                        found = ws.records.list(RecordQuery(search=stored["family_name"]), limit=50)
                        assert rid in {s.id for s in found}, "search index out of step"
            finally:
                ws.close()

    assert during_saving > 0 and saves > 0, "no kill landed while answers were saved"
    test = "kill -9 while saving"
    figures.add("1", test, "kills (SIGKILL)", scale.save_kills)
    figures.add("1", test, "kills while starting / signing in", during_start)
    figures.add("1", test, "kills while saving", during_saving)
    figures.add("1", test, "saves reported before the kills", saves)
    figures.add("1", test, "unreported in-flight saves found committed", in_flight_committed)
    figures.add("1", test, "reported saves lost", 0)
    figures.add("1", test, "integrity_check not ok", 0)
    figures.add("1", test, "wall time", total.seconds, "s")
    size = Path(profile.profile.db_path).stat().st_size
    figures.add("1", test, "database size at the end", round(size / 1e6, 1), "MB")
