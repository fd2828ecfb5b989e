"""Import rate into SQLite and PostgreSQL: decrypt, verify and load 10,000 records, from
batches without a sender (before format 4) and from batches a supervisor signed (format 4:
the importer checks her proof from the profile root, docs/security.md "Batches signed by
their sender"); the ratio of the two comes from the same run.

    .venv/bin/python bench/import_rate.py [--records N] [--batch-records N] [--pg-url URL]

The batches are stored by the real receiver logic first (in process, not timed); the
importer is timed alone. PostgreSQL is ``--pg-url`` or ``INTAKE_TEST_PG_URL`` or the local
server that ``.ci/run`` starts; a fresh schema is used and dropped afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import sqlalchemy as sa
from _office import (
    PASSPHRASE,
    RECEIVER_PASSPHRASE,
    enrol,
    office,
    payload,
    rate,
    supervisor_author,
)

from intake_app.central import db
from intake_app.central.importer import Importer
from intake_app.central.keystore import ReceiverKey
from intake_app.central.receiver import load_receiver
from intake_app.sync.authors import AuthorKey
from intake_app.sync.batch import build_batches

PG_DEFAULT = "postgresql+psycopg:///intake_test?host=/var/run/postgresql"


def run(
    label: str,
    root: Path,
    url: str,
    *,
    records: int,
    batch_records: int,
    author: AuthorKey | None = None,
) -> float:
    """Import ``records`` into a fresh office; returns the importer's seconds."""
    home, store, url = office(root, database_url=url)
    engine = db.create_db_engine(url)
    identity = enrol(home, store, url, name="bench-import", server_url="http://127.0.0.1:9")
    data = payload(records)
    parts = [
        {"records": data["records"][i : i + batch_records], "instructions": []}
        for i in range(0, records, batch_records)
    ]
    receipt_key = ReceiverKey(home.receiver_key_path).unlock(RECEIVER_PASSPHRASE)
    receiver = load_receiver(home, engine=engine, receipt_key=receipt_key)
    for part in parts:
        for batch in build_batches(part, identity=identity, author=author):
            receiver.accept_batch(batch.data)
    keys = store.unlock(PASSPHRASE)
    importer = Importer(
        home, engine=engine, decryption_keys=keys.encryption, signing_key=keys.signing_key
    )
    started = time.perf_counter()
    outcomes = importer.run()
    seconds = time.perf_counter() - started
    with engine.connect() as conn:
        loaded = conn.execute(sa.select(sa.func.count()).select_from(db.records)).scalar_one()
    print(
        f"{label:<20} {len(outcomes):>4} batches  {loaded:>7,} records  {seconds:>6.2f} s  "
        f"{rate(loaded, seconds)} records"
    )
    if loaded != records:
        raise SystemExit(f"{label}: expected {records} records, found {loaded}")
    engine.dispose()
    return seconds


def both(
    label: str,
    make_url: Callable[[], contextlib.AbstractContextManager[str]],
    root: Path,
    *,
    records: int,
    batch_records: int,
) -> None:
    """Unsigned and signed batches into two fresh offices; prints the ratio."""
    seconds = []
    for variant, author in (("unsigned", None), ("signed", supervisor_author())):
        with make_url() as url:
            seconds.append(
                run(
                    f"{label} {variant}",
                    root / variant,
                    url,
                    records=records,
                    batch_records=batch_records,
                    author=author,
                )
            )
    print(f"{label:<20} signed / unsigned import time: {seconds[1] / seconds[0]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--batch-records", type=int, default=500)
    parser.add_argument("--pg-url", default=os.environ.get("INTAKE_TEST_PG_URL", PG_DEFAULT))
    args = parser.parse_args()

    @contextlib.contextmanager
    def sqlite() -> Iterator[str]:
        yield ""

    @contextlib.contextmanager
    def postgres() -> Iterator[str]:
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(args.pg_url)
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        separator = "&" if "?" in args.pg_url else "?"
        try:
            yield f"{args.pg_url}{separator}options=-csearch_path%3D{schema}"
        finally:
            with admin.begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
            admin.dispose()

    sizes = {"records": args.records, "batch_records": args.batch_records}
    with tempfile.TemporaryDirectory() as tmp:
        both("SQLite", sqlite, Path(tmp) / "sqlite", **sizes)
        both("PostgreSQL", postgres, Path(tmp) / "pg", **sizes)


if __name__ == "__main__":
    main()
