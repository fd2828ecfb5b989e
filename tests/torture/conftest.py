"""The torture suite's scale, its figures, and the fixtures its tests share.

The scale is bounded by default (CI: the whole suite in a few minutes on two cores) and
full with ``INTAKE_TORTURE=full`` (``scripts/torture.sh``): 100 kills while saving, 50
kills during upload and during import, every byte of a batch flipped, 100,000 fuzz
inputs per target, 50 clients x 20 batches. Every test reports its figures (counts,
durations, rates, latencies) through the ``figures`` fixture; they are printed at the end
of the run and, when ``INTAKE_TORTURE_FIGURES`` names a file, written there as JSON (and
a Markdown table beside it).
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from intake_app.app import Workspace
from intake_app.central import db as central_db
from intake_app.cli import main as intake_app_main
from tests.conftest import ADMIN_PASSWORD, ProfileFixture
from tests.e2e.conftest import Office, office, pg_office  # noqa: F401 - fixtures
from tests.helpers.figures import FIGURES, FULL, Figures

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True, slots=True)
class Scale:
    """How hard each test pushes (bounded for CI, full for the documented run)."""

    name: str
    save_kills: int
    upload_kills: int
    import_kills: int
    flip_every_byte: bool
    flips_per_class: int
    truncations: int | None  # None: every length
    fuzz_inputs: int
    load_clients: int
    load_batches: int
    load_records: int
    hostile_big_bytes: int


BOUNDED = Scale(
    name="bounded",
    save_kills=6,
    upload_kills=4,
    import_kills=3,
    flip_every_byte=False,
    flips_per_class=2,
    truncations=25,
    fuzz_inputs=1_000,
    load_clients=10,
    load_batches=3,
    load_records=5,
    hostile_big_bytes=200_000,
)
FULL_SCALE = Scale(
    name="full",
    save_kills=100,
    upload_kills=50,
    import_kills=50,
    flip_every_byte=True,
    flips_per_class=0,
    truncations=None,
    fuzz_inputs=100_000,
    load_clients=50,
    load_batches=20,
    load_records=10,
    hostile_big_bytes=1_000_000,
)
SCALE = FULL_SCALE if FULL else BOUNDED


@pytest.fixture(scope="session")
def scale() -> Scale:
    """The scale of this run."""
    return SCALE


# -- figures -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def figures() -> Figures:
    """The run's figure collector (tests/helpers/figures.py: each test's figures travel
    in its report, and are printed and written where the results are shown)."""
    return FIGURES


# -- shared helpers ----------------------------------------------------------------------


def child_env(**extra: str) -> dict[str, str]:
    """The environment for helper subprocesses (the test's isolated folders, offscreen)."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
    )
    env.update(extra)
    return env


def enrol_profile(profile: ProfileFixture, office_: Office, folder: Path, name: str) -> None:
    """Enrol a profile's device with the office (through the real command lines)."""
    folder.mkdir(parents=True, exist_ok=True)
    enrolment = folder / f"{name}.intake-enrol"
    office_.cli("enrol", "--device", name, "--server-url", office_.url, "--out", str(enrolment))
    password = folder / "admin.pw"
    password.write_text(ADMIN_PASSWORD, "utf-8")
    code = intake_app_main(
        [
            "--data-dir",
            str(profile.profile.root),
            "--user",
            "admin",
            "--password-file",
            str(password),
            "enrol",
            str(enrolment),
            "--fingerprint",
            office_.fingerprint,
        ]
    )
    assert code == 0, "enrolment through intake-app enrol failed"


def set_batch_limit(ws: Workspace, limit: int) -> None:
    """Make batches small so that one sync sends several (as an administrator would)."""
    admin = Workspace.sign_in(ws.profile, username="admin", password=ADMIN_PASSWORD)
    try:
        admin.settings.put("sync.batch_max_bytes", limit)
    finally:
        admin.close()


class Stopwatch:
    """``with Stopwatch() as t: ...; t.seconds``."""

    def __enter__(self) -> Stopwatch:
        self.started = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *_exc: object) -> None:
        self.seconds = time.perf_counter() - self.started


def copy_profile(profile: ProfileFixture, target: Path) -> ProfileFixture:
    """A copy of a profile folder (same users and passwords) at ``target``."""
    from intake_app.storage.profile import Profile

    shutil.copytree(profile.profile.root, target)
    return ProfileFixture(Profile(target), profile.recovery_key)


# -- the office database -------------------------------------------------------------------


def central_rows(office_: Office) -> list[tuple[str, int, str]]:
    """(record id, revision, batch id) of every central record row."""
    rows = office_.rows(
        sa.select(
            central_db.records.c.record_id,
            central_db.records.c.revision,
            central_db.records.c.batch_id,
        )
    )
    return [(r[0], int(r[1]), r[2]) for r in rows]


def central_batches(office_: Office) -> dict[str, str]:
    """batch id -> status at the office."""
    rows = office_.rows(sa.select(central_db.batches.c.batch_id, central_db.batches.c.status))
    return {r[0]: r[1] for r in rows}
