"""Durable storage of sealed batches and of quarantined files in the office home.

A batch is written to ``batches/<device id>/<batch id>.ibatch``: a temporary file in the
same folder, ``fsync``, then a hard link to the final name (which, unlike a rename, never
replaces a file that is already there), then ``fsync`` of the folder. Only after that
does the receiver answer with a receipt. A second receiver writing the same batch at the
same moment finds the file and compares bytes. The store holds ciphertext only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from intake_app.atomic import atomic_create_bytes, atomic_write_bytes
from intake_app.errors import ConflictError
from intake_app.i18n import _

from .home import Home

log = logging.getLogger("intake.central")

BATCH_SUFFIX = ".ibatch"


def write_new_file(path: Path, data: bytes) -> bool:
    """Create ``path`` with ``data`` durably; never replace an existing file.

    Returns:
        True when the file was created, False when it already held exactly ``data``.

    Raises:
        ConflictError: the file exists with other bytes.
        KnownError: the disk is full (``kind="disk_full"``).
    """
    if path.exists() or not atomic_create_bytes(path, data):
        return _same_or_conflict(path, data)
    return True


def _same_or_conflict(path: Path, data: bytes) -> bool:
    if hashlib.sha384(path.read_bytes()).digest() == hashlib.sha384(data).digest():
        return False
    raise ConflictError(_("Unter dieser Paketnummer liegt schon ein anderes Paket."))


class BatchStore:
    """The sealed batches and the quarantine of one office home."""

    def __init__(self, home: Home) -> None:
        self.home = home

    def path_for(self, device_id: str, batch_id: str) -> Path:
        # Both ids were checked to be canonical UUIDs by the batch parser.
        return self.home.batches_dir / device_id / f"{batch_id}{BATCH_SUFFIX}"

    def store(self, *, device_id: str, batch_id: str, data: bytes) -> bool:
        """Store a batch durably; True if new, False if the same bytes were there."""
        return write_new_file(self.path_for(device_id, batch_id), data)

    def read(self, device_id: str, batch_id: str) -> bytes:
        return self.path_for(device_id, batch_id).read_bytes()

    def exists(self, device_id: str, batch_id: str) -> bool:
        return self.path_for(device_id, batch_id).is_file()

    def all_files(self) -> Iterator[tuple[str, str, Path]]:
        """(device id, batch id, path) of every stored batch, oldest first."""
        if not self.home.batches_dir.is_dir():
            return
        files = [
            p
            for p in self.home.batches_dir.glob(f"*/*{BATCH_SUFFIX}")
            if p.is_file() and not p.name.startswith(".")
        ]
        for path in sorted(files, key=lambda p: (p.stat().st_mtime, p.name)):
            yield path.parent.name, path.name[: -len(BATCH_SUFFIX)], path

    def sweep_temporary(self, *, older_than: float = 3600.0) -> int:
        """Remove temporary files a killed writer left behind (``.<name>.tmp``), once they
        are older than ``older_than`` seconds (a receiver may be writing one right now).
        They never hold an accepted batch: a batch counts only once renamed into place."""
        if not self.home.batches_dir.is_dir():
            return 0
        limit = time.time() - older_than
        removed = 0
        for path in self.home.batches_dir.glob("*/.*.tmp"):
            try:
                if path.stat().st_mtime < limit:
                    path.unlink()
                    removed += 1
            except OSError:
                continue
        if removed:
            log.info("removed %d temporary file(s) left by an interrupted write", removed)
        return removed

    def quarantine(
        self,
        data: bytes,
        *,
        reason: str,
        source: str,
        batch_id: str | None,
        device_id: str | None,
        original_name: str,
    ) -> str:
        """Keep a refused batch with a reason file beside it; return the file name."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        digest = hashlib.sha384(data).hexdigest()
        name = f"{stamp}-{digest[:16]}{BATCH_SUFFIX}"
        target = self.home.quarantine_dir / name
        if not target.exists():
            write_new_file(target, data)
        note = {
            "reason": reason,
            "source": source,
            "batch_id": batch_id,
            "device_id": device_id,
            "original_name": original_name,
            "sha384": digest,
            "quarantined_at": stamp,
        }
        atomic_write_bytes(
            self.home.quarantine_dir / (name + ".json"), json.dumps(note, indent=1).encode("utf-8")
        )
        log.warning("batch quarantined: reason=%s batch=%s", reason, batch_id or "-")
        return name

    def quarantine_note_only(
        self, path: Path, *, sha384: str, size: int, reason: str, source: str
    ) -> str:
        """List a file too large to copy: a reason file names where it was found (the file
        itself stays there, untouched); return the note's base name."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        name = f"{stamp}-{sha384[:16]}{BATCH_SUFFIX}"
        note = {
            "reason": reason,
            "source": source,
            "batch_id": None,
            "device_id": None,
            "original_name": path.name,
            "kept_at": str(path),
            "size": size,
            "sha384": sha384,
            "quarantined_at": stamp,
        }
        atomic_write_bytes(
            self.home.quarantine_dir / (name + ".json"), json.dumps(note, indent=1).encode("utf-8")
        )
        log.warning("batch file too large, listed in the quarantine without a copy: %s", name)
        return name

    def discard(self, device_id: str, batch_id: str) -> None:
        """Remove a stored batch after it was copied into the quarantine."""
        self.path_for(device_id, batch_id).unlink(missing_ok=True)
