"""``intake-app --self-test`` from the installed source: every step, exit 0; a failing step
is named and gives exit 1; nothing is left behind."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from intake_app import selftest
from intake_app.selftest import STEPS, run_self_test

STEP_LINE = re.compile(r"^\[(\d+)/(\d+)\] (.+?): in Ordnung")


def test_self_test_passes_in_a_subprocess(tmp_path: Path) -> None:
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["TMPDIR"] = str(tmp_path)
    env["INTAKE_LOG_DIR"] = str(tmp_path / "logs")
    script = Path(sys.executable).with_name("intake-app")  # the installed entry point
    assert script.is_file(), "the package is not installed (pip install -e .)"
    result = subprocess.run(
        [str(script), "--self-test"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    passed = [m.group(3) for line in lines if (m := STEP_LINE.match(line))]
    assert passed == [title for title, _step in STEPS] + ["Aufräumen"]
    assert lines[-1].startswith("Selbsttest bestanden")
    # the temporary profile is gone; only the log folder stays
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logs"]


class _Ctx:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def out(self, text: str = "") -> None:
        self.lines.append(text)


def test_a_failing_step_is_named_and_exits_1(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def broken(_state: object) -> str:
        raise ValueError("PDF kaputt für 'Amal Haddad'")

    steps = list(STEPS)
    steps[4] = (steps[4][0], broken)
    monkeypatch.setattr(selftest, "STEPS", tuple(steps))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    ctx = _Ctx()
    assert run_self_test(ctx) == 1
    failing = [line for line in ctx.lines if "FEHLER" in line]
    total = len(STEPS) + 1  # the steps and the clean-up
    assert len(failing) == 1 and failing[0].startswith(f"[5/{total}] PDF erzeugen")
    assert "Amal" not in failing[0]  # even a test message is scrubbed of quoted values
    assert ctx.lines[-1] == f"Selbsttest fehlgeschlagen bei: {STEPS[4][0]}"
    assert not any(line.startswith(f"[6/{total}]") for line in ctx.lines)
    assert list(tmp_path.iterdir()) == []
