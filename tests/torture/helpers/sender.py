"""A real Intake process that sends the outbox over HTTP until it is done or killed.

    python -m tests.torture.helpers.sender PROFILE USER PASSWORD [CHUNK_BYTES]

It signs in and runs :meth:`DeviceSync.send` (the "send now" of the sync window) with a
small upload chunk, printing ``ready`` after sign-in, ``progress <done> <total>`` after
every chunk and ``done <batches> <records>`` at the end.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    profile_dir, user, password, *rest = argv
    chunk = int(rest[0]) if rest else 8 * 1024
    from intake_app.app import Workspace
    from intake_app.storage.profile import Profile
    from intake_app.sync.transport_http import HttpSettings

    settings = HttpSettings(
        connect_timeout=2,
        read_timeout=20,
        write_timeout=20,
        attempts=3,
        backoff_initial=0.05,
        backoff_max=0.2,
        chunk_size=chunk,
    )
    ws = Workspace.sign_in(Profile(Path(profile_dir)), username=user, password=password)
    print("ready", flush=True)

    def progress(done: int, total: int) -> None:
        print(f"progress {done} {total}", flush=True)

    result = ws.sync.send(settings=settings, progress=progress)
    print(f"done {result.batches_sent} {result.records_delivered}", flush=True)
    ws.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
