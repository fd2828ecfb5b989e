"""The receiver under 50 concurrent clients on loopback, with nothing lost.

    .venv/bin/python bench/receiver_concurrency.py [--clients 50] [--batches 10] [--records 20]
        [--workers 4] [--pg-url URL] [--only sqlite|pg1|pg]

Three runs, printed side by side: SQLite with the batch folder and one worker (the
single-machine set-up), PostgreSQL with one worker, and PostgreSQL with ``--workers``
worker processes (batches stored in the database). Each client is a device of its own
that sends a bounded number of batches as fast as the receiver answers. Afterwards every
receipt is verified, the stored batches are counted, and the importer must load every
record exactly once. ``cpu/batch`` is the receiver processes' CPU time per batch while
the clients send, which does not depend on what else the machine runs. Beside it, the CPU
time per batch of the clients (this process) and of the PostgreSQL server, and from their
sum the most batches per second this machine's cores could carry with nothing else
running (the ceiling), and the receiver's alone. PostgreSQL is
``--pg-url`` or ``INTAKE_TEST_PG_URL``; a fresh schema is used and dropped afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from _office import (
    PASSPHRASE,
    PG_DEFAULT,
    RECEIVER_PID,
    cpu_seconds,
    enrol_many,
    office,
    payload,
    pg_schema,
    postgres_cpu_seconds,
    receiver,
)

from intake_app.central import db
from intake_app.central.importer import Importer
from intake_app.central.store import BatchStore
from intake_app.sync.batch import BuiltBatch, build_batch
from intake_app.sync.identity import DeviceIdentity
from intake_app.sync.transport_http import HttpSettings, SyncClient


@dataclass
class Result:
    label: str
    workers: int
    sent: int
    seconds: float
    latencies: list[float]
    failures: list[str]
    stored: int
    loaded: int
    expected: int
    cpu: float
    #: CPU seconds of the 50 clients (this process) and of PostgreSQL while they sent
    client_cpu: float
    pg_cpu: float

    @property
    def per_second(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


def run(
    label: str, root: Path, database_url: str, *, workers: int, args: argparse.Namespace
) -> Result:
    home, store, url = office(root, database_url=database_url or None)
    with receiver(home, workers=workers) as server_url:
        identities = enrol_many(
            home,
            store,
            url,
            names=[f"laptop-{i:03d}" for i in range(args.clients)],
            server_url=server_url,
        )
        work: list[tuple[DeviceIdentity, list[BuiltBatch]]] = []
        seed = 0
        for identity in identities:
            batches = []
            for _ in range(args.batches):
                seed += 1
                batches.append(build_batch(payload(args.records, seed=seed), identity=identity))
            work.append((identity, batches))

        latencies: list[float] = []
        failures: list[str] = []
        lock = threading.Lock()
        start = threading.Barrier(args.clients + 1)

        def client(identity: DeviceIdentity, batches: list[BuiltBatch]) -> None:
            settings = HttpSettings(read_timeout=120, write_timeout=120, attempts=5)
            with SyncClient(identity, settings=settings) as http:
                start.wait()
                for batch in batches:
                    begun = time.perf_counter()
                    try:
                        http.send_batch(batch)
                    except Exception as exc:  # report every failure, keep going
                        with lock:
                            failures.append(f"{type(exc).__name__}: {exc}")
                        continue
                    with lock:
                        latencies.append(time.perf_counter() - begun)

        threads = [threading.Thread(target=client, args=item) for item in work]
        for thread in threads:
            thread.start()
        start.wait()
        cpu_before = cpu_seconds(RECEIVER_PID[0])
        clients_before, pg_before = time.process_time(), postgres_cpu_seconds()
        began = time.perf_counter()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - began
        cpu = cpu_seconds(RECEIVER_PID[0]) - cpu_before
        client_cpu = time.process_time() - clients_before
        pg_cpu = postgres_cpu_seconds() - pg_before

    engine = db.create_db_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(db.batches.c.device_id, db.batches.c.batch_id)).all()
    batch_store = BatchStore(home, engine)
    stored = sum(1 for row in rows if batch_store.exists(row.device_id, row.batch_id))
    keys = store.unlock(PASSPHRASE)
    Importer(
        home, engine=engine, decryption_keys=keys.encryption, signing_key=keys.signing_key
    ).run()
    with engine.connect() as conn:
        loaded = conn.execute(sa.select(sa.func.count()).select_from(db.records)).scalar_one()
    engine.dispose()
    sent = args.clients * args.batches
    return Result(
        label,
        workers,
        sent,
        seconds,
        latencies,
        failures,
        stored,
        loaded,
        sent * args.records,
        cpu,
        client_cpu,
        pg_cpu,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--batches", type=int, default=10, help="batches per client")
    parser.add_argument("--records", type=int, default=20, help="records per batch")
    parser.add_argument("--workers", type=int, default=4, help="workers of the last run")
    parser.add_argument("--pg-url", default=os.environ.get("INTAKE_TEST_PG_URL", PG_DEFAULT))
    parser.add_argument("--only", choices=["sqlite", "pg1", "pg"], action="append")
    args = parser.parse_args()
    runs = [
        ("SQLite, folder", "sqlite", False, 1),
        ("PostgreSQL", "pg1", True, 1),
        ("PostgreSQL", "pg", True, args.workers),
    ]
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, (label, key, on_pg, workers) in enumerate(runs):
            if args.only and key not in args.only:
                continue
            schema: contextlib.AbstractContextManager[str] = (
                pg_schema(args.pg_url) if on_pg else contextlib.nullcontext("")
            )
            with schema as url:
                results.append(run(label, Path(tmp) / f"run{n}", url, workers=workers, args=args))

    print(
        f"{args.clients} clients, {args.clients * args.batches} batches of "
        f"{args.records} records each, {os.cpu_count()} CPU cores"
    )
    print(
        f"{'receiver':<15} {'workers':>7} {'batches/s':>10} {'records/s':>10} "
        f"{'median':>8} {'p95':>8} {'cpu/batch':>9} {'failed':>6} {'stored':>7} {'lost':>6}"
    )
    problems = []
    for r in results:
        ordered = sorted(r.latencies) or [0.0]
        p95 = ordered[int(0.95 * (len(ordered) - 1))]
        print(
            f"{r.label:<15} {r.workers:>7} {r.per_second:>10,.0f} "
            f"{r.per_second * args.records:>10,.0f} {statistics.median(ordered) * 1000:>6.0f}ms "
            f"{p95 * 1000:>6.0f}ms {r.cpu / r.sent * 1000:>7.2f}ms "
            f"{len(r.failures):>6} {r.stored:>7} {r.expected - r.loaded:>6}"
        )
        if r.failures or r.loaded != r.expected or r.stored != r.sent:
            problems.append(r)
    cores = os.cpu_count() or 1
    print(
        f"CPU per batch while sending, and the most this machine's {cores} cores could "
        "carry (cores / CPU per batch)"
    )
    print(
        f"{'receiver':<15} {'workers':>7} {'receiver':>9} {'clients':>8} {'database':>9} "
        f"{'all':>7} {'ceiling':>9} {'receiver alone':>15}"
    )
    for r in results:
        own, clients, pg = (x / r.sent * 1000 for x in (r.cpu, r.client_cpu, r.pg_cpu))
        total = own + clients + pg
        print(
            f"{r.label:<15} {r.workers:>7} {own:>7.2f}ms {clients:>6.2f}ms {pg:>7.2f}ms "
            f"{total:>5.2f}ms {cores * 1000 / total:>7,.0f}/s {cores * 1000 / own:>13,.0f}/s"
        )
    if len(results) > 1:
        base = results[0].per_second
        print(
            "ratio to the first run: " + "  ".join(f"{r.per_second / base:.2f}×" for r in results)
        )
    for r in problems:
        for failure in r.failures[:5]:
            print("  ", r.label, failure)
    if problems:
        raise SystemExit("something was lost or refused")


if __name__ == "__main__":
    main()
