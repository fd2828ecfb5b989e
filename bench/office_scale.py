"""Office scale, bounded and synthetic: many devices' records imported into PostgreSQL.

    .venv/bin/python bench/office_scale.py [--devices 100] [--records 200] [--full]
        [--batch-records 500] [--pg-url URL]

``--full`` is 1,000 devices × 1,000 records (1,000,000 records; on a 2-core machine it
takes a quarter of an hour or more, most of it making the synthetic batches). Each device
is enrolled and registered; its records go into batches that the real receiver logic
stores in the database (in process, timed apart). Then the importer is timed alone, and
the statistics export (``export --statistics``) over everything imported. Every record
must arrive once.
PostgreSQL is ``--pg-url`` or ``INTAKE_TEST_PG_URL``; a fresh schema is used and dropped.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from _office import (
    PASSPHRASE,
    PG_DEFAULT,
    RECEIVER_PASSPHRASE,
    enrol_many,
    office,
    pg_schema,
    rate,
    record,
)

from intake_app.central import db
from intake_app.central.export import export_statistics
from intake_app.central.importer import Importer
from intake_app.central.keystore import ReceiverKey
from intake_app.central.receiver import load_receiver
from intake_app.sync.batch import build_batches


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--records", type=int, default=200, help="records per device")
    parser.add_argument("--full", action="store_true", help="1,000 devices × 1,000 records")
    parser.add_argument("--batch-records", type=int, default=500)
    parser.add_argument("--pg-url", default=os.environ.get("INTAKE_TEST_PG_URL", PG_DEFAULT))
    args = parser.parse_args()
    if args.full:
        args.devices, args.records = 1000, 1000
    expected = args.devices * args.records

    with tempfile.TemporaryDirectory() as tmp, pg_schema(args.pg_url) as url:
        home, store, url = office(Path(tmp) / "office", database_url=url)
        engine = db.create_db_engine(url)
        began = time.perf_counter()
        identities = enrol_many(
            home,
            store,
            url,
            names=[f"laptop-{i:04d}" for i in range(args.devices)],
            server_url="http://127.0.0.1:9",
        )
        enrolled = time.perf_counter() - began
        receipt_key = ReceiverKey(home.receiver_key_path).unlock(RECEIVER_PASSPHRASE)
        receiver = load_receiver(home, engine=engine, receipt_key=receipt_key)
        rng = random.Random(7)
        began = time.perf_counter()
        batches = 0
        for identity in identities:
            records = [record(rng) for _ in range(args.records)]
            for start in range(0, len(records), args.batch_records):
                part = {"records": records[start : start + args.batch_records], "instructions": []}
                for batch in build_batches(part, identity=identity):
                    receiver.accept_batch(batch.data)
                    batches += 1
        made = time.perf_counter() - began

        keys = store.unlock(PASSPHRASE)
        importer = Importer(
            home, engine=engine, decryption_keys=keys.encryption, signing_key=keys.signing_key
        )
        began = time.perf_counter()
        outcomes = importer.run()
        imported = time.perf_counter() - began
        with engine.connect() as conn:
            loaded = conn.execute(sa.select(sa.func.count()).select_from(db.records)).scalar_one()
        began = time.perf_counter()
        cells = export_statistics(engine, Path(tmp) / "statistics.csv", min_count=5)
        exported = time.perf_counter() - began
        engine.dispose()

    print(f"devices                 {args.devices:>10,}   (enrolled in {enrolled:.1f} s)")
    print(f"records                 {expected:>10,}   ({args.records:,} per device)")
    print(f"batches made and stored {batches:>10,}   ({made:.1f} s, not part of the import)")
    print(
        f"import                  {imported:>10.1f} s   {rate(loaded, imported)} records, "
        f"{rate(len(outcomes), imported)} batches"
    )
    print(f"statistics export       {exported:>10.2f} s   ({cells:,} cells)")
    print(f"records imported        {loaded:>10,} of {expected:,}")
    if loaded != expected or any(o.status != "imported" for o in outcomes):
        raise SystemExit("something was lost or refused")


if __name__ == "__main__":
    main()
