"""Item 2: SIGKILL during upload and during the central import, then retry.

Upload: a real device profile (SQLCipher, outbox, batches of at most 64 KB) sends to a
real ``intake-central serve`` on 127.0.0.1 from a helper process (``helpers/sender.py``)
that is killed at a random moment: while starting, in the middle of a chunk, just after
the last byte of a batch (stored centrally, receipt not yet applied). Between kills the
counsellor finalises new intakes and new revisions. At the end one sync runs uncut, the
office imports, and the central ``records`` table must hold every (record id, revision)
the device finalised exactly once, and the device must show every record delivered.

Import: batches wait at the office (received over HTTP, and as files on a USB folder);
``intake-central import`` is killed at a random moment, again and again, while new
batches keep arriving. After every kill no batch is half imported (a batch's records are
either all in the database with the batch marked imported, or none), and after the last,
uncut import every record is there exactly once, every batch has an ``imported`` receipt
and nothing went to quarantine. Run on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from intake_app.central import db as central_db
from intake_app.demo.data import add_synthetic_intakes
from intake_app.storage.models import OutboxItem, RecordRevision, SyncBatch
from intake_app.storage.records import RecordQuery
from intake_app.sync.batch import build_batch
from intake_app.sync.payload import RecordRef
from intake_app.sync.receipt import ReceiptStatus
from intake_app.sync.transport_folder import read_receipts, write_batches
from intake_app.sync.transport_http import SyncClient
from tests.conftest import ADMIN_PASSWORD, COUNSELLOR, COUNSELLOR_PASSWORD, ProfileFixture
from tests.e2e.conftest import FAST, Office, central_command
from tests.torture.conftest import (
    ROOT,
    Figures,
    Scale,
    Stopwatch,
    central_batches,
    central_rows,
    child_env,
    enrol_profile,
)
from tests.unit.sync.factories import make_payload

pytestmark = [pytest.mark.torture, pytest.mark.e2e]


class _Lines(threading.Thread):
    """Reads a child's stdout; counts progress lines; notes ``ready`` and ``done``."""

    def __init__(self, stream: object) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.lines: list[str] = []
        self.progress = 0
        self.finished_batch = threading.Event()
        self.ready = threading.Event()
        self.changed = threading.Condition()

    def run(self) -> None:
        for raw in self.stream:  # type: ignore[attr-defined]
            line = raw.strip()
            with self.changed:
                self.lines.append(line)
                if line == "ready":
                    self.ready.set()
                elif line.startswith("progress"):
                    self.progress += 1
                    _word, done, total = line.split()
                    if done == total:
                        self.finished_batch.set()
                self.changed.notify_all()

    def wait_progress(self, count: int, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(
                lambda: self.progress >= count or any(x.startswith("done") for x in self.lines),
                timeout,
            )


def _imported(office: Office) -> int:
    """How many batches the office has imported (polled while an import runs)."""
    counted = office.rows(
        sa.select(sa.func.count())
        .select_from(central_db.batches)
        .where(central_db.batches.c.status == "imported")
    )
    return int(counted[0][0])


def device_finalised(profile: ProfileFixture) -> set[tuple[str, int]]:
    """Every (record id, revision) the device finalised."""
    ws = profile.sign_in(COUNSELLOR)
    try:
        with ws.db.read() as session:
            return {
                (r.record_id, r.revision) for r in session.scalars(select(RecordRevision)).all()
            }
    finally:
        ws.close()


def _more_work(profile: ProfileFixture, rng: random.Random, round_: int) -> None:
    """The counsellor finalises new intakes and sometimes a new revision of an old one."""
    ws = profile.sign_in(COUNSELLOR)
    try:
        add_synthetic_intakes(ws, count=rng.randint(2, 5), seed=1000 + round_, complete_share=1.0)
        if rng.random() < 0.3:
            delivered = ws.records.list(RecordQuery(status="delivered"), limit=500)
            if delivered:
                record_id = rng.choice(delivered).id
                ws.records.start_revision(record_id, reason="Neue Anschrift")
                answers = dict(ws.records.get(record_id).answers)
                answers["address_street"] = f"Neue Straße {round_}"
                ws.records.save(record_id, answers=answers)
                ws.records.finalise(record_id, answers=answers)
        if rng.random() < 0.15:
            complete = ws.records.list(RecordQuery(status="complete"), limit=500)
            if complete:
                ws.records.withdraw_consent(
                    rng.choice(complete).id, purpose="employer_service", withdrawn_on=date.today()
                )
    finally:
        ws.close()


def _sender(profile: ProfileFixture) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.torture.helpers.sender",
            str(profile.profile.root),
            COUNSELLOR,
            COUNSELLOR_PASSWORD,
            "1024",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )


def test_kill_during_upload_then_retry_delivers_exactly_once(
    profile: ProfileFixture, office: Office, tmp_path: Path, scale: Scale, figures: Figures
) -> None:
    enrol_profile(profile, office, tmp_path / "enrol", "laptop-upload")
    admin = profile.sign_in("admin", ADMIN_PASSWORD)
    try:
        admin.settings.put("sync.batch_max_bytes", 64 * 1024)
    finally:
        admin.close()
    ws = profile.sign_in(COUNSELLOR)
    try:
        add_synthetic_intakes(ws, count=16, seed=7, complete_share=1.0)
    finally:
        ws.close()

    rng = random.Random(2)
    modes: Counter[str] = Counter()
    stored_unanswered = 0
    with Stopwatch() as total:
        for round_ in range(scale.upload_kills):
            before = set(central_batches(office))
            proc = _sender(profile)
            lines = _Lines(proc.stdout)
            lines.start()
            assert lines.ready.wait(60), proc.stderr.read() if proc.stderr else ""
            mode = rng.choice(("any", "chunk", "chunk", "batch_end"))
            if mode == "any":
                time.sleep(rng.uniform(0.0, 1.5))
            elif mode == "chunk":
                # a random chunk of the whole upload (the first line tells its size)
                lines.wait_progress(1, 30)
                total_bytes = next(
                    (int(x.split()[2]) for x in lines.lines if x.startswith("progress")), 1024
                )
                lines.wait_progress(rng.randint(1, max(1, total_bytes // 1024)), 30)
            else:
                lines.finished_batch.wait(30)
                time.sleep(rng.uniform(0.0, 0.02))
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            lines.join(timeout=30)
            finished = any(x.startswith("done") for x in lines.lines)
            modes["finished before the kill" if finished else f"killed ({mode})"] += 1
            # batches the office stored whose receipt the device never applied
            new = set(central_batches(office)) - before
            check = profile.sign_in(COUNSELLOR)
            try:
                assert check.db.integrity_check() == ["ok"]
                with check.db.read() as session:
                    waiting = {
                        b.batch_id
                        for b in session.scalars(select(SyncBatch)).all()
                        if b.state in ("built", "sent")
                    }
            finally:
                check.close()
            stored_unanswered += len(new & waiting)
            if rng.random() < 0.3:
                office.cli("import")
            _more_work(profile, rng, round_)

        # the retry: one uncut sync, the import, one more sync for the import receipts
        ws = profile.sign_in(COUNSELLOR)
        try:
            ws.sync.send(settings=FAST)
            office.cli("import")
            ws.sync.send(settings=FAST)
            with ws.db.read() as session:
                pending = session.scalars(
                    select(OutboxItem).where(OutboxItem.state != "delivered")
                ).all()
                states = Counter(b.state for b in session.scalars(select(SyncBatch)).all())
            assert pending == [], "outbox items left undelivered after the retry"
            not_delivered = [
                s.id
                for s in ws.records.list(RecordQuery(), limit=5000)
                if s.status.value == "complete" and s.sync_state.value != "delivered"
            ]
            assert not_delivered == []
            assert ws.db.integrity_check() == ["ok"]
        finally:
            ws.close()

    finalised = device_finalised(profile)
    rows = central_rows(office)
    pairs = Counter((r[0], r[1]) for r in rows)
    assert set(pairs) == finalised, "central records differ from what the device finalised"
    assert all(n == 1 for n in pairs.values()), "a record revision arrived twice"
    assert len(rows) == len(finalised)
    assert set(states) <= {"imported"}, f"device batches not imported: {states}"
    assert office.count(central_db.quarantine) == 0

    test = "kill -9 during upload"
    figures.add("2", test, "kills (SIGKILL) of the sending process", scale.upload_kills)
    for mode, count in sorted(modes.items()):
        figures.add("2", test, f"rounds: {mode}", count)
    figures.add("2", test, "batches stored centrally whose receipt was lost", stored_unanswered)
    figures.add("2", test, "record revisions finalised on the device", len(finalised))
    figures.add("2", test, "central rows (record id, revision)", len(rows))
    figures.add("2", test, "lost / duplicated", "0 / 0")
    figures.add("2", test, "device batches in the end", sum(states.values()))
    figures.add("2", test, "wall time", total.seconds, "s")


# -- the central import -----------------------------------------------------------------


def _consistent(office: Office, refs_by_batch: dict[str, tuple[RecordRef, ...]]) -> int:
    """Fail unless every batch is imported whole or not at all; return how many are."""
    statuses = central_batches(office)
    rows = central_rows(office)
    by_batch: dict[str, set[tuple[str, int]]] = {}
    for record_id, revision, batch_id in rows:
        by_batch.setdefault(batch_id, set()).add((record_id, revision))
    imported = 0
    for batch_id, refs in refs_by_batch.items():
        status = statuses.get(batch_id)
        held = by_batch.get(batch_id, set())
        if status == "imported":
            imported += 1
            assert held == {tuple(r) for r in refs}, f"batch {batch_id} imported partly"
        else:
            assert status in (None, "stored"), f"batch {batch_id}: {status}"
            assert held == set(), f"records of batch {batch_id} without an imported batch"
    assert not set(by_batch) - set(refs_by_batch), "records from a batch nobody sent"
    return imported


@pytest.mark.parametrize("engine", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_kill_during_import_then_retry_imports_exactly_once(
    request: pytest.FixtureRequest, engine: str, tmp_path: Path, scale: Scale, figures: Figures
) -> None:
    office: Office = request.getfixturevalue("office" if engine == "sqlite" else "pg_office")
    identity, _token = office.enrol("laptop-import")
    stick = tmp_path / "stick"
    stick.mkdir()
    refs_by_batch: dict[str, tuple[RecordRef, ...]] = {}
    folder_batches: dict[str, str] = {}
    rng = random.Random(3)
    seed = 0

    def arrive(http_batches: int, file_batches: int) -> None:
        nonlocal seed
        seed += 1
        built = [
            build_batch(make_payload(5, seed=seed * 100 + n), identity=identity)
            for n in range(http_batches + file_batches)
        ]
        over_http, on_stick = built[:http_batches], built[http_batches:]
        with SyncClient(identity, settings=FAST) as client:
            for batch in over_http:
                assert client.send_batch(batch).status == ReceiptStatus.STORED
        write_batches(stick, on_stick)
        for batch in built:
            refs_by_batch[batch.batch_id] = batch.records
        folder_batches.update({b.batch_id: b.sha384 for b in on_stick})

    # how long an import of nothing takes (start, key unlock), and of a few batches
    with Stopwatch() as idle:
        office.cli("import")
    arrive(4, 2)
    with Stopwatch() as busy:
        office.cli("import", "--from-dir", str(stick))
    per_batch = max((busy.seconds - idle.seconds) / 6, 0.01)
    _consistent(office, refs_by_batch)

    phases: Counter[str] = Counter()
    with Stopwatch() as total:
        for _round in range(scale.import_kills):
            arrive(rng.randint(4, 10), rng.randint(1, 4))
            before = _consistent(office, refs_by_batch)
            pending = len(refs_by_batch) - before
            args = ["--home", str(office.home), "import"]
            if rng.random() < 0.5:
                args += ["--from-dir", str(stick)]
            proc = subprocess.Popen(
                central_command(*args),
                env=office.env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            if rng.random() < 0.4:
                # any moment: start-up, key unlock, the import, the receipts
                time.sleep(rng.uniform(0.0, idle.seconds + per_batch * pending * 1.2))
            else:
                # in the middle: once the first waiting batch is in, a little later
                deadline = time.monotonic() + 60
                while _imported(office) == before and proc.poll() is None:
                    assert time.monotonic() < deadline, "the import did not start"
                    time.sleep(0.005)
                time.sleep(rng.uniform(0.0, per_batch * pending * 0.8))
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            after = _consistent(office, refs_by_batch)
            if proc.returncode == 0:
                phases["finished before the kill"] += 1
            elif after == before:
                phases["killed before a batch was imported"] += 1
            elif after < len(refs_by_batch):
                phases["killed with some of the waiting batches imported"] += 1
            else:
                phases["killed after the last batch was imported"] += 1
            assert office.count(central_db.quarantine) == 0

        result = office.cli("import", "--from-dir", str(stick))
        assert "0 in Quarantäne" in result.stdout
    assert _consistent(office, refs_by_batch) == len(refs_by_batch)
    rows = central_rows(office)
    pairs = Counter((r[0], r[1]) for r in rows)
    sent = {tuple(ref) for refs in refs_by_batch.values() for ref in refs}
    assert set(pairs) == sent and all(n == 1 for n in pairs.values())
    assert len(rows) == len(sent)
    # every batch is answered with an ``imported`` receipt, over HTTP and on the stick
    with SyncClient(replace(identity, server_url=office.url), settings=FAST) as client:
        receipts = client.fetch_receipts()
    http_ids = set(refs_by_batch) - set(folder_batches)
    assert {r.batch_id for r in receipts if r.status == ReceiptStatus.IMPORTED} >= http_ids
    found = read_receipts(stick, identity=identity, expected=folder_batches)
    assert found.invalid == []
    assert {r.batch_id for r in found.receipts} == set(folder_batches)
    assert {r.status for r in found.receipts} <= {ReceiptStatus.IMPORTED}
    delivered = set().union(*(r.delivered_records for r in [*receipts, *found.receipts]))
    assert delivered == sent
    leftovers = [p.name for p in (office.home / "batches").rglob(".*.tmp")]

    test = f"kill -9 during import ({engine})"
    figures.add("2", test, "kills (SIGKILL) of intake-central import", scale.import_kills)
    for phase, count in sorted(phases.items()):
        figures.add("2", test, phase, count)
    figures.add(
        "2", test, "batches (HTTP / USB folder)", f"{len(http_ids)} / {len(folder_batches)}"
    )
    figures.add("2", test, "record revisions sent", len(sent))
    figures.add("2", test, "central rows", len(rows))
    figures.add("2", test, "lost / duplicated / half-imported batches", "0 / 0 / 0")
    figures.add("2", test, "temporary files left in batches/ by kills", len(leftovers))
    figures.add("2", test, "wall time", total.seconds, "s")
