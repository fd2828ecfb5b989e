"""A real Intake process whose files may not grow past a limit (``RLIMIT_FSIZE``).

    python -m tests.torture.helpers.size_limited save  PROFILE USER PASSWORD RECORD_ID
    python -m tests.torture.helpers.size_limited batch PROFILE USER PASSWORD STICK

``SIGXFSZ`` is ignored, so a write past the limit fails with ``EFBIG`` — what a size-limited
file system (or a FAT stick's 4 GiB limit) does. The process does the work once under the
limit, lifts the limit ("space returns") and does the same work again; it prints one JSON
line with what happened each time.
"""

from __future__ import annotations

import json
import resource
import signal
import sys
from pathlib import Path
from typing import Any

LONG = "Notiz über die Wohnsituation, Köln-Kalk; ملاحظة; примечание. " * 20


def _limit(size: int | None) -> None:
    hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
    soft = resource.RLIM_INFINITY if size is None else size
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def _error(exc: BaseException) -> dict[str, Any]:
    return {
        "error": type(exc).__name__,
        "kind": str(getattr(exc, "kind", "")),
        "message": str(exc),
    }


def save(ws: Any, profile: Path, record_id: str) -> dict[str, Any]:
    """Save a long answer past the limit, then again with the limit lifted."""
    before = ws.records.get(record_id).answers
    sizes = [p.stat().st_size for p in profile.glob("intake.db*")]
    limit = max(sizes) + 32 * 1024
    big = dict(before)
    big["housing_note"] = (LONG * (limit // len(LONG) + 40))[: limit + 200_000]
    out: dict[str, Any] = {"limit": limit}
    _limit(limit)
    try:
        ws.records.save(record_id, answers=big)
        out["first"] = {"error": None}
    except Exception as exc:  # report whatever it is: the parent judges it
        out["first"] = _error(exc)
    out["integrity_full"] = ws.db.integrity_check()
    out["unchanged"] = ws.records.get(record_id).answers == before
    _limit(None)
    ws.records.save(record_id, answers=big)
    out["saved_after"] = ws.records.get(record_id).answers == big
    out["integrity_after"] = ws.db.integrity_check()
    return out


def batch(ws: Any, stick: Path) -> dict[str, Any]:
    """Write the outbox to a folder under a limit smaller than a batch, then without it."""
    ws.sync.prepare("folder")  # built (and stored in the database) before the limit
    out: dict[str, Any] = {}
    _limit(4096)
    try:
        ws.sync.write_to_folder(stick)
        out["first"] = {"error": None}
    except Exception as exc:  # report whatever it is: the parent judges it
        out["first"] = _error(exc)
    out["files_while_full"] = sorted(p.name for p in stick.iterdir())
    out["integrity_full"] = ws.db.integrity_check()
    _limit(None)
    result = ws.sync.write_to_folder(stick)
    out["written_after"] = [p.name for p in result.files_written]
    out["integrity_after"] = ws.db.integrity_check()
    return out


def main(argv: list[str]) -> int:
    scenario, profile_dir, user, password, target = argv
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    from intake_app.app import Workspace
    from intake_app.storage.profile import Profile

    ws = Workspace.sign_in(Profile(Path(profile_dir)), username=user, password=password)
    try:
        if scenario == "save":
            out = save(ws, Path(profile_dir), target)
        else:
            out = batch(ws, Path(target))
    finally:
        ws.close()
    print(json.dumps(out, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
