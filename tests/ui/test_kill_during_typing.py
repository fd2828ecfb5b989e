"""Killing the program (SIGKILL) at any moment loses at most the last second of typing."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import COUNSELLOR, COUNSELLOR_PASSWORD, ProfileFixture

TEXT = "Abdulrahmanalhassanibnkhalidalzahraniwithaverylongfamilyname" * 3
ROOT = Path(__file__).parents[2]


def _typed_before(lines: list[tuple[int, float]], moment: float) -> int:
    return max((n for n, at in lines if at <= moment), default=0)


@pytest.mark.slow
@pytest.mark.parametrize("run", range(4))
def test_sigkill_loses_at_most_one_second(profile: ProfileFixture, run: int) -> None:
    ws = profile.sign_in(COUNSELLOR)
    record_id = ws.new_intake()
    ws.close()
    rng = random.Random(run)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.helpers.typist",
            str(profile.profile.root),
            COUNSELLOR,
            COUNSELLOR_PASSWORD,
            record_id,
            TEXT,
            "30",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert proc.stdout is not None
    typed: list[tuple[int, float]] = []
    stop_after = rng.uniform(1.2, 3.5)
    started = None
    try:
        for line in proc.stdout:
            if line.startswith("typed"):
                _word, n, at = line.split()
                typed.append((int(n), float(at)))
                started = started or float(at)
                if float(at) - started >= stop_after:
                    break
            elif line.startswith("done"):
                break
        killed_at = time.monotonic()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert typed, proc.stderr.read() if proc.stderr else ""
    ws = profile.sign_in(COUNSELLOR)
    try:
        assert ws.db.integrity_check() == ["ok"]
        stored = ws.records.get(record_id).answers.get("family_name", "")
    finally:
        ws.close()
    must_have = _typed_before(typed, killed_at - 1.0)
    assert TEXT.startswith(stored), "what was saved is exactly what was typed"
    assert len(stored) >= must_have, (
        f"lost more than a second: {len(stored)} saved, {must_have} typed before "
        f"{killed_at - 1.0:.2f}"
    )
