"""Crash-safe file writes: a temporary file in the same folder, fsync, then rename.

Every file the program writes goes through here (docs/architecture.md, "Files on disk").
A reader sees either the old file or the new one, never half of each, even when the
process is killed or the disk fills up in the middle. A full disk raises
:class:`~intake_app.errors.KnownError` with ``kind="disk_full"`` and leaves the old file.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
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
    """Make a rename in ``folder`` durable.

    A no-op where folders cannot be opened or synced: Windows, and file systems such as
    FAT on a USB stick or some network shares (the rename itself is atomic there too).
    """
    if os.name != "posix":  # pragma: no cover - Windows has no directory fsync
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError as exc:
        if exc.errno in _NO_FOLDER_SYNC:
            return
        raise
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in _NO_FOLDER_SYNC:
            raise
    finally:
        os.close(fd)


_NO_FOLDER_SYNC = {errno.EINVAL, errno.EBADF, errno.ENOTSUP, errno.EACCES, errno.EPERM}


def _durable_temp(folder: Path, name: str, data: bytes, mode: int | None) -> Path:
    """``data`` in a new temporary dot file beside ``name``, flushed to the disk."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None and os.name == "posix":
            os.chmod(tmp, mode)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _translate(exc: OSError, translate_disk_full: bool) -> None:
    if translate_disk_full and exc.errno in DISK_FULL_ERRNOS:
        raise disk_full_error() from exc


def atomic_write_bytes(
    path: Path,
    data: bytes,
    *,
    mode: int | None = 0o600,
    before_replace: Callable[[], None] | None = None,
    translate_disk_full: bool = True,
) -> None:
    """Replace ``path`` with ``data`` atomically and durably.

    Args:
        mode: the file's permissions (POSIX); None leaves them to the folder (FAT, SMB).
        before_replace: called once ``data`` is on the disk and before it takes the
            place of ``path`` (to commit an audit entry first, for example); if it
            raises, ``path`` is left as it was.
        translate_disk_full: raise a full disk as :func:`disk_full_error` (the default)
            or as the ``OSError`` itself, for callers with their own message.
    """
    path = Path(path)
    folder = path.parent
    tmp: Path | None = None
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)  # a new folder is private
        tmp = _durable_temp(folder, path.name, data, mode)
        if before_replace is not None:
            before_replace()
        os.replace(tmp, path)
        tmp = None
        fsync_dir(folder)
    except OSError as exc:
        _translate(exc, translate_disk_full)
        raise
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def atomic_create_bytes(path: Path, data: bytes, *, mode: int | None = 0o600) -> bool:
    """Create ``path`` with ``data`` atomically and durably; never replace a file.

    The same steps as :func:`atomic_write_bytes`, with a hard link to the final name in
    place of the rename: a file that is already there stays as it is.

    Returns:
        True when the file was created, False when ``path`` already existed.
    """
    path = Path(path)
    folder = path.parent
    tmp: Path | None = None
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)  # a new folder is private
        tmp = _durable_temp(folder, path.name, data, mode)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        fsync_dir(folder)
        return True
    except OSError as exc:
        _translate(exc, True)
        raise
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def make_private(path: Path) -> None:
    """Restrict a file (0600) or a folder and everything in it (0700/0600) to its owner,
    whatever the umask was when they were made (docs/security.md, "What is stored where")."""
    if os.name != "posix" or not path.exists():
        return
    if path.is_file():
        os.chmod(path, 0o600)
        return
    os.chmod(path, 0o700)
    for folder, dirs, files in os.walk(path):
        for name in dirs:
            os.chmod(os.path.join(folder, name), 0o700)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o600)
