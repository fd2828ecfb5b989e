"""Durable storage of sealed batches and of quarantined files.

On PostgreSQL a sealed batch lives in the database (``batch_blobs``), written in the same
transaction as its row in ``batches``; several receivers on several hosts then share
nothing but the database, and a receiver's role may insert batches but neither read nor
change them (docs/security.md, "Central office: keys, receiver and importer"). Batches
that an older version left in ``batches/`` are still read from there.

With SQLite (one machine) a batch is written to ``batches/<device id>/<batch id>.ibatch``:
a temporary file in the same folder, ``fsync``, then a hard link to the final name
(which, unlike a rename, never replaces a file that is already there), then ``fsync`` of
the folder. Only after that
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

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from intake_app.atomic import atomic_create_bytes, atomic_write_bytes
from intake_app.errors import ConflictError
from intake_app.i18n import _

from .db import batch_blobs
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


def batches_in_database(engine: Engine | None) -> bool:
    """True where sealed batches are kept in the database (PostgreSQL)."""
    return engine is not None and engine.dialect.name == "postgresql"


def insert_blob(conn: Connection, *, device_id: str, batch_id: str, data: bytes) -> None:
    """Add a batch's sealed bytes inside the caller's transaction (the receiver's path)."""
    conn.execute(batch_blobs.insert().values(batch_id=batch_id, device_id=device_id, data=data))


class BatchStore:
    """The sealed batches and the quarantine of one office home.

    Args:
        home: the office home (quarantine; batches on SQLite).
        engine: the central database; on PostgreSQL batches are kept there.
    """

    def __init__(self, home: Home, engine: Engine | None = None) -> None:
        self.home = home
        self.engine = engine
        self.in_database = batches_in_database(engine)

    def path_for(self, device_id: str, batch_id: str) -> Path:
        # Both ids were checked to be canonical UUIDs by the batch parser.
        return self.home.batches_dir / device_id / f"{batch_id}{BATCH_SUFFIX}"

    def store(self, *, device_id: str, batch_id: str, data: bytes) -> bool:
        """Store a batch durably; True if new, False if the same bytes were there.

        Raises:
            ConflictError: the batch id is stored with other bytes.
        """
        if not self.in_database:
            return write_new_file(self.path_for(device_id, batch_id), data)
        assert self.engine is not None
        try:
            with self.engine.begin() as conn:
                insert_blob(conn, device_id=device_id, batch_id=batch_id, data=data)
            return True
        except IntegrityError:
            found = self._blob(batch_id)
            if found is not None and found == data:
                return False
            raise ConflictError(
                _("Unter dieser Paketnummer liegt schon ein anderes Paket.")
            ) from None

    def _blob(self, batch_id: str) -> bytes | None:
        assert self.engine is not None
        with self.engine.connect() as conn:
            found = conn.execute(
                sa.select(batch_blobs.c.data).where(batch_blobs.c.batch_id == batch_id)
            ).scalar_one_or_none()
        return bytes(found) if found is not None else None

    def read(self, device_id: str, batch_id: str) -> bytes:
        """The stored bytes.

        Raises:
            OSError: the batch is not stored (``FileNotFoundError``).
        """
        if self.in_database:
            found = self._blob(batch_id)
            if found is not None:
                return found
        return self.path_for(device_id, batch_id).read_bytes()

    def exists(self, device_id: str, batch_id: str) -> bool:
        if self.in_database and self._blob(batch_id) is not None:
            return True
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
        if self.in_database:
            assert self.engine is not None
            with self.engine.begin() as conn:
                conn.execute(batch_blobs.delete().where(batch_blobs.c.batch_id == batch_id))
        self.path_for(device_id, batch_id).unlink(missing_ok=True)
