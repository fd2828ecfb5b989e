"""Crash-safe file writes: a temporary file in the same folder, fsync, then rename.

A reader sees either the old file or the new one, never half of each, even when the
process is killed or the disk fills up in the middle. A full disk raises
:class:`~intake_app.errors.KnownError` with ``kind="disk_full"`` and leaves the old file.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from intake_app.errors import KnownError
from intake_app.i18n import _

DISK_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG}


def disk_full_error() -> KnownError:
    """The message for a full disk, shared by every writer."""
    return KnownError(
        _(
            "Der Datenträger ist voll oder nimmt nichts mehr an. Es wurde nichts verloren; "
            "bitte schaffen Sie Platz (oder prüfen Sie den Datenträger) und versuchen Sie "
            "es erneut."
        ),
        kind="disk_full",
    )


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a no-op where folders cannot be opened)."""
    if os.name != "posix":  # pragma: no cover - Windows has no directory fsync
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` atomically and durably."""
    path = Path(path)
    folder = path.parent
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)  # a new folder is private
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if os.name == "posix":
            os.chmod(tmp, mode)
        os.replace(tmp, path)
        fsync_dir(folder)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno in DISK_FULL_ERRNOS:
            raise disk_full_error() from exc
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
