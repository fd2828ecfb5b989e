"""The figures the torture tests measure: recorded by a test, carried in its report, and
printed (and written to ``INTAKE_TORTURE_FIGURES``) by the process that shows the results.

The suite runs in worker processes (pytest-xdist, ``scripts/test.sh``): a figure a test
adds goes into that test's report (``user_properties``), which the worker hands to the
controlling process; the hooks below, which ``tests/conftest.py`` takes in, gather them
there. Without workers the same hooks run in the one process.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest

PROPERTY = "intake_figure"
# The torture scale (tests/torture/conftest.py): bounded, or full with INTAKE_TORTURE=full.
FULL = os.environ.get("INTAKE_TORTURE", "").strip().lower() == "full"


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured figure of one test."""

    item: str
    test: str
    name: str
    value: Any
    unit: str = ""


@dataclass
class Figures:
    """The figures of a run: ``pending`` holds those of the running test until its
    report takes them; ``rows`` holds what the reports brought."""

    scale: str = ""
    pending: list[Figure] = field(default_factory=list)
    rows: list[Figure] = field(default_factory=list)

    def add(self, item: str, test: str, name: str, value: Any, unit: str = "") -> None:
        """Record one figure (``item`` is the issue's item number, 1-8)."""
        if isinstance(value, float):
            value = round(value, 4)
        self.pending.append(Figure(item, test, name, value, unit))

    def markdown(self) -> str:
        """The figures as a Markdown table, in item order."""
        lines = [
            f"Scale: {self.scale}",
            "",
            "| item | test | figure | value |",
            "|---|---|---|---|",
        ]
        for row in sorted(self.rows, key=lambda r: (r.item, r.test)):
            value = f"{row.value} {row.unit}".strip()
            lines.append(f"| {row.item} | {row.test} | {row.name} | {value} |")
        return "\n".join(lines) + "\n"


FIGURES = Figures(scale="full" if FULL else "bounded")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Hand the figures of a test to its teardown report (after its fixtures ended)."""
    outcome = yield
    report = outcome.get_result()
    if call.when == "teardown" and FIGURES.pending:
        report.user_properties.extend((PROPERTY, asdict(row)) for row in FIGURES.pending)
        FIGURES.pending.clear()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Gather the figures a report brings (in the controlling process under xdist)."""
    for name, value in report.user_properties:
        if name == PROPERTY and isinstance(value, dict):
            FIGURES.rows.append(Figure(**value))


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Write the figures to ``INTAKE_TORTURE_FIGURES`` (JSON, and Markdown beside it)."""
    target = os.environ.get("INTAKE_TORTURE_FIGURES")
    if hasattr(session.config, "workerinput") or not target or not FIGURES.rows:
        return
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {"scale": FIGURES.scale, "figures": [asdict(r) for r in FIGURES.rows]},
            indent=1,
            ensure_ascii=False,
        ),
        "utf-8",
    )
    path.with_suffix(".md").write_text(FIGURES.markdown(), "utf-8")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the figures of the torture tests that ran."""
    if not FIGURES.rows:
        return
    terminalreporter.section(f"torture figures ({FIGURES.scale})")
    for line in FIGURES.markdown().splitlines():
        terminalreporter.write_line(line)
