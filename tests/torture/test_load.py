"""Item 7: the receiver under concurrent clients on loopback; nothing lost; latency.

A real ``intake-central serve`` process on 127.0.0.1 (SQLite, and PostgreSQL) takes
``clients`` devices sending ``batches`` batches each at the same time (50 x 20 in the full
run), each device its own enrolled identity in its own thread with its own connection.
Every answer must be a verified receipt; the office must hold every batch once (database
rows and files), and the import must load every record exactly once. The latency of each
upload (request to verified receipt) is reported as p50/p90/p99.
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from collections import Counter
from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy as sa

from intake_app.central import db as central_db
from intake_app.central.home import Home
from intake_app.central.keystore import RootKey
from intake_app.central.registry import enrol_device, register_device
from intake_app.sync.batch import BuiltBatch, build_batch
from intake_app.sync.enrolment import (
    build_registration,
    create_identity,
    read_enrolment,
    read_registration,
)
from intake_app.sync.identity import DeviceIdentity, verify_key_set_document
from intake_app.sync.receipt import ReceiptStatus
from intake_app.sync.transport_http import HttpSettings, SyncClient
from tests.e2e.conftest import ROOT_PASSPHRASE, Office
from tests.torture.conftest import Figures, Scale, Stopwatch
from tests.unit.sync.factories import make_payload

pytestmark = [pytest.mark.torture, pytest.mark.e2e]


def enrol_many(office: Office, count: int) -> list[DeviceIdentity]:
    """Enrol and register ``count`` devices with one unlock of the office keys."""
    home = Home(office.home)
    root_key = RootKey(home.root_key_path).unlock(ROOT_PASSPHRASE)
    key_set = verify_key_set_document(home.key_set_path.read_bytes(), root=root_key.public_key())
    engine = office.engine()
    identities = []
    try:
        for index in range(count):
            name = f"laptop-load-{index:03d}"
            out = office.home.parent / f"{name}.intake-enrol"
            enrol_device(
                engine,
                name=name,
                server_url=office.url,
                key_set=key_set,
                root_key=root_key,
                out=out,
                valid_for=timedelta(days=1),
            )
            identity = create_identity(read_enrolment(out.read_bytes()))
            registration = build_registration(
                identity, token=read_enrolment(out.read_bytes()).token
            )
            register_device(engine, read_registration(registration))
            identities.append(replace(identity, server_url=office.url))
    finally:
        engine.dispose()
    return identities


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (``share`` in 0..1) of ``values``."""
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@pytest.mark.parametrize("engine", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_receiver_under_concurrent_clients(
    request: pytest.FixtureRequest, engine: str, scale: Scale, figures: Figures
) -> None:
    office: Office = request.getfixturevalue("office" if engine == "sqlite" else "pg_office")
    identities = enrol_many(office, scale.load_clients)
    work: list[tuple[DeviceIdentity, list[BuiltBatch]]] = []
    seed = 0
    for identity in identities:
        batches = []
        for _ in range(scale.load_batches):
            seed += 1
            batches.append(
                build_batch(make_payload(scale.load_records, seed=seed), identity=identity)
            )
        work.append((identity, batches))
    sent_refs = {tuple(r) for _i, bs in work for b in bs for r in b.records}
    all_batches = {b.batch_id for _i, bs in work for b in bs}

    latencies: list[float] = []
    failures: list[str] = []
    statuses: Counter[str] = Counter()
    delivered: set[tuple[str, int]] = set()
    lock = threading.Lock()
    start = threading.Barrier(len(work) + 1)
    settings = HttpSettings(
        connect_timeout=10,
        read_timeout=120,
        write_timeout=120,
        attempts=5,
        backoff_initial=0.05,
        backoff_max=1.0,
    )

    def client(identity: DeviceIdentity, batches: list[BuiltBatch]) -> None:
        with SyncClient(identity, settings=settings) as http:
            start.wait()
            for batch in batches:
                begun = time.perf_counter()
                try:
                    receipt = http.send_batch(batch)
                except Exception as exc:  # every failure is reported, the others go on
                    with lock:
                        failures.append(f"{type(exc).__name__}: {exc}")
                    continue
                took = time.perf_counter() - begun
                with lock:
                    latencies.append(took)
                    statuses[receipt.status.value] += 1
                    delivered.update(tuple(r) for r in receipt.delivered_records)  # type: ignore[misc]

    threads = [threading.Thread(target=client, args=item) for item in work]
    for thread in threads:
        thread.start()
    start.wait()
    with Stopwatch() as wall:
        for thread in threads:
            thread.join()

    assert failures == [], failures[:5]
    assert statuses == Counter({ReceiptStatus.STORED.value: len(all_batches)})
    assert delivered == sent_refs
    stored = {r[0] for r in office.rows(sa.select(central_db.batches.c.batch_id))}
    assert stored == all_batches
    # the sealed bytes: files on SQLite, rows of batch_blobs on PostgreSQL (several
    # receivers share them; docs/central-office.md)
    if engine == "sqlite":
        kept = {p.stem for p in (office.home / "batches").rglob("*.ibatch")}
    else:
        kept = {r[0] for r in office.rows(sa.select(central_db.batch_blobs.c.batch_id))}
        assert not list((office.home / "batches").rglob("*.ibatch"))
    assert kept == all_batches

    with Stopwatch() as importing:
        result = office.cli("import")
    assert "0 in Quarantäne" in result.stdout
    rows = office.rows(sa.select(central_db.records.c.record_id, central_db.records.c.revision))
    pairs = Counter((r[0], int(r[1])) for r in rows)
    assert set(pairs) == sent_refs and all(n == 1 for n in pairs.values())
    p99 = percentile(latencies, 0.99)
    assert p99 < 120, "sanity bound: an upload took minutes"

    test = f"receiver under load ({engine})"
    figures.add(
        "7",
        test,
        "clients x batches x records",
        f"{len(work)} x {scale.load_batches} x {scale.load_records}",
    )
    figures.add(
        "7", test, "batches stored (database / sealed copies)", f"{len(stored)} / {len(kept)}"
    )
    figures.add("7", test, "records imported exactly once", len(rows))
    figures.add("7", test, "failures / lost", f"{len(failures)} / {len(sent_refs) - len(pairs)}")
    figures.add("7", test, "wall time", wall.seconds, "s")
    figures.add("7", test, "throughput", round(len(all_batches) / wall.seconds, 1), "batches/s")
    figures.add("7", test, "latency p50", percentile(latencies, 0.50) * 1000, "ms")
    figures.add("7", test, "latency p90", percentile(latencies, 0.90) * 1000, "ms")
    figures.add("7", test, "latency p99", p99 * 1000, "ms")
    figures.add("7", test, "latency max", max(latencies) * 1000, "ms")
    figures.add("7", test, "latency mean", statistics.fmean(latencies) * 1000, "ms")
    figures.add(
        "7",
        test,
        "import rate (intake-central import, start-up included)",
        round(len(rows) / importing.seconds),
        "records/s",
    )
