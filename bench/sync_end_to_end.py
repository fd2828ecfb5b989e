"""10,000 records end to end (build, seal, sign, send, receipt) beside serialise-and-seal alone.

    .venv/bin/python bench/sync_end_to_end.py [--records N] [--cap BYTES]

Both figures come from the same run, same records, same machine. The receiver is the real
``intake-central serve`` on 127.0.0.1 (SQLite, fsync on every batch).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _office import enrol, office, payload, rate, receiver

from intake_app.sync.batch import MAX_BATCH_BYTES, build_batches
from intake_app.sync.signed import canonical_json
from intake_app.sync.transport_http import SyncClient


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--cap", type=int, default=MAX_BATCH_BYTES)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        home, store, url = office(Path(tmp) / "office")
        data = payload(args.records)
        json_bytes = len(canonical_json(data))
        with receiver(home) as server_url:
            identity = enrol(home, store, url, name="bench-laptop", server_url=server_url)

            started = time.perf_counter()
            sealed = build_batches(data, identity=identity, max_batch_bytes=args.cap)
            seal_seconds = time.perf_counter() - started
            sealed_bytes = sum(len(b.data) for b in sealed)

            started = time.perf_counter()
            batches = build_batches(data, identity=identity, max_batch_bytes=args.cap)
            with SyncClient(identity) as client:
                receipts = client.send_batches(batches)
            e2e_seconds = time.perf_counter() - started

        delivered = sum(len(r.delivered_records) for r in receipts)
        print(f"records                       {args.records:>10,}")
        print(f"payload JSON                  {json_bytes / 1e6:>10.1f} MB")
        print(f"batches (cap {args.cap / 2**20:.0f} MiB)          {len(sealed):>10}")
        print(f"sealed bytes                  {sealed_bytes / 1e6:>10.1f} MB")
        print(
            f"serialise + seal + sign only  {seal_seconds:>10.2f} s   "
            f"{rate(args.records, seal_seconds)} records"
        )
        print(
            f"end to end (+ send, receipt)  {e2e_seconds:>10.2f} s   "
            f"{rate(args.records, e2e_seconds)} records"
        )
        print(f"records confirmed by receipts {delivered:>10,}")
        if delivered != args.records:
            raise SystemExit("not every record was confirmed")


if __name__ == "__main__":
    main()
