"""The receiver under 50 concurrent clients on loopback, with nothing lost.

    .venv/bin/python bench/receiver_concurrency.py [--clients 50] [--batches 10] [--records 20]

Each client is a device of its own that sends a bounded number of batches as fast as the
receiver answers. Afterwards every receipt is verified, the stored batches are counted in
the database and on disk, and the importer must load every record exactly once.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

import sqlalchemy as sa
from _office import PASSPHRASE, enrol_many, office, payload, rate, receiver

from intake_app.central import db
from intake_app.central.importer import Importer
from intake_app.sync.batch import BuiltBatch, build_batch
from intake_app.sync.identity import DeviceIdentity
from intake_app.sync.transport_http import HttpSettings, SyncClient


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--batches", type=int, default=10, help="batches per client")
    parser.add_argument("--records", type=int, default=20, help="records per batch")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        home, store, url = office(Path(tmp) / "office")
        with receiver(home) as server_url:
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
            confirmed = 0
            lock = threading.Lock()
            start = threading.Barrier(args.clients + 1)

            def client(identity: DeviceIdentity, batches: list[BuiltBatch]) -> None:
                nonlocal confirmed
                settings = HttpSettings(read_timeout=120, write_timeout=120, attempts=5)
                with SyncClient(identity, settings=settings) as http:
                    start.wait()
                    for batch in batches:
                        begun = time.perf_counter()
                        try:
                            receipt = http.send_batch(batch)
                        except Exception as exc:  # report every failure, keep going
                            with lock:
                                failures.append(f"{type(exc).__name__}: {exc}")
                            continue
                        with lock:
                            latencies.append(time.perf_counter() - begun)
                            confirmed += len(receipt.delivered_records)

            threads = [threading.Thread(target=client, args=item) for item in work]
            for thread in threads:
                thread.start()
            start.wait()
            began = time.perf_counter()
            for thread in threads:
                thread.join()
            seconds = time.perf_counter() - began

        engine = db.create_db_engine(url)
        with engine.connect() as conn:
            stored = conn.execute(sa.select(sa.func.count()).select_from(db.batches)).scalar_one()
        on_disk = len(list(home.batches_dir.rglob("*.ibatch")))
        keys = store.unlock(PASSPHRASE)
        Importer(
            home, engine=engine, decryption_keys=keys.encryption, signing_key=keys.signing_key
        ).run()
        with engine.connect() as conn:
            loaded = conn.execute(sa.select(sa.func.count()).select_from(db.records)).scalar_one()

        sent = args.clients * args.batches
        expected = sent * args.records
        ordered = sorted(latencies)
        print(f"clients                 {args.clients:>8}")
        print(f"batches sent            {sent:>8}   ({args.records} records each)")
        print(
            f"wall time               {seconds:>8.2f} s   {rate(sent, seconds)} batches, "
            f"{rate(confirmed, seconds)} records"
        )
        if ordered:
            p95 = ordered[int(0.95 * (len(ordered) - 1))]
            print(
                f"latency median / p95    {statistics.median(ordered) * 1000:>8.0f} ms / "
                f"{p95 * 1000:.0f} ms"
            )
        print(f"failures                {len(failures):>8}")
        print(f"stored (db / files)     {stored:>8} / {on_disk}")
        print(f"records imported        {loaded:>8} of {expected}")
        lost = expected - loaded
        print(f"lost                    {lost:>8}")
        if failures or lost or stored != sent or on_disk != sent:
            for failure in failures[:5]:
                print("  ", failure)
            raise SystemExit("something was lost or refused")


if __name__ == "__main__":
    main()
