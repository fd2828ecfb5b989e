"""A device that uploads one batch slowly (for the kill-mid-upload test).

Usage: python -m tests.e2e.upload_client IDENTITY_FILE BATCH_FILE

Prints ``progress <done> <total>`` after every chunk and sleeps a little, so the test can
kill the process in the middle of the upload; prints ``delivered`` at the end.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from intake_app.sync.batch import BuiltBatch
from intake_app.sync.identity import DeviceIdentity
from intake_app.sync.transport_http import HttpSettings, SyncClient


def main(identity_file: str, batch_file: str) -> int:
    identity = DeviceIdentity.from_json(Path(identity_file).read_text("utf-8"))
    batch = BuiltBatch.from_bytes(Path(batch_file).read_bytes())

    def progress(done: int, total: int) -> None:
        print(f"progress {done} {total}", flush=True)
        time.sleep(0.05)

    settings = HttpSettings(chunk_size=16 * 1024, attempts=1, write_timeout=60, read_timeout=60)
    with SyncClient(identity, settings=settings) as client:
        client.send_batch(batch, progress=progress)
    print("delivered", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
