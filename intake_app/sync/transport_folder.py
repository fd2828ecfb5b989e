"""Folder transport: batch files onto a USB stick or network share, receipt files back.

The device writes each batch as ``intake-<created>-<batch id>.ibatch`` (a temporary dot
file, fsync, rename, so the office never sees half a file). The office imports them and
writes ``intake-<batch id>.receipt.json`` beside them. The device reads the receipts back,
verifies them, and only then may delete the batch file a receipt answers (same batch id
and the same SHA-384); a batch file nobody answered is never deleted.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from intake_app.atomic import DISK_FULL_ERRNOS, atomic_write_bytes
from intake_app.errors import SyncError, SyncErrorKind
from intake_app.i18n import _
from intake_app.sync.batch import BuiltBatch
from intake_app.sync.errors import ReceiptError
from intake_app.sync.identity import DeviceIdentity
from intake_app.sync.receipt import Receipt, ReceiptStatus, verify_receipt

log = logging.getLogger("intake.sync")

BATCH_SUFFIX = ".ibatch"
RECEIPT_SUFFIX = ".receipt.json"
#: A hand-over the office sealed for one device (docs/batch-format.md §10).
HANDOVER_SUFFIX = ".ihandover"
MAX_HANDOVER_BYTES = 64 * 1024 * 1024
MAX_RECEIPT_BYTES = 16 * 1024 * 1024
_BATCH_NAME = re.compile(
    r"^intake-(\d{8}T\d{6}Z)-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
    + re.escape(BATCH_SUFFIX)
    + "$"
)


def batch_file_name(batch: BuiltBatch) -> str:
    """``intake-20261120T100100Z-<batch id>.ibatch``: sorts by time, names the batch."""
    stamp = batch.created.replace("-", "").replace(":", "")
    return f"intake-{stamp}-{batch.batch_id}{BATCH_SUFFIX}"


def receipt_file_name(batch_id: str) -> str:
    """The receipt file that answers a batch."""
    return f"intake-{batch_id}{RECEIPT_SUFFIX}"


def handover_file_name(handover_id: str) -> str:
    """The file that carries one sealed hand-over."""
    return f"intake-handover-{handover_id}{HANDOVER_SUFFIX}"


def batch_id_from_name(name: str) -> str | None:
    """The batch id in a batch file name (None for other files)."""
    match = _BATCH_NAME.match(name)
    return match.group(2) if match else None


def _storage_error(exc: OSError) -> SyncError:
    if exc.errno in DISK_FULL_ERRNOS:
        message = _("Der Zielordner ist voll. Es wurde nichts verloren.")
    else:
        message = _("Der Ordner ist nicht beschreibbar oder nicht mehr verbunden.")
    return SyncError(message, kind=SyncErrorKind.STORAGE)


def write_file_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary dot file, fsync and rename.

    Works on FAT-formatted sticks and SMB shares: no permission changes, and a folder
    that cannot be fsynced is tolerated (the rename itself is atomic there too). A full
    disk comes back as the ``OSError`` itself, for this module's own message.
    """
    atomic_write_bytes(path, data, mode=None, translate_disk_full=False)


def _write_files(folder: Path, files: Iterable[tuple[str, bytes]]) -> list[Path]:
    """Write files (name, bytes) into ``folder`` (which must exist) atomically; return
    their paths. A file that is already there with the same bytes is left alone.

    Raises:
        SyncError: ``kind=STORAGE`` when the folder is missing, full or read-only.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise SyncError(
            _("Der Ordner {folder} existiert nicht.").format(folder=folder),
            kind=SyncErrorKind.STORAGE,
        )
    written = []
    try:
        for name, data in files:
            path = folder / name
            if not (path.is_file() and path.read_bytes() == data):
                write_file_atomically(path, data)
            written.append(path)
    except OSError as exc:
        raise _storage_error(exc) from exc
    return written


def _read_files(folder: Path, pattern: str, max_bytes: int) -> Iterator[tuple[Path, bytes | str]]:
    """Each file in ``folder`` that matches ``pattern``, by name, with its bytes, or with
    why it was not read: ``"too_large"`` (over ``max_bytes``) or ``"unreadable"``.

    Raises:
        SyncError: ``kind=STORAGE`` when the folder cannot be listed.
    """
    try:
        candidates = sorted(Path(folder).glob(pattern))
    except OSError as exc:
        raise _storage_error(exc) from exc
    for path in candidates:
        data: bytes | str
        try:
            data = path.read_bytes() if path.stat().st_size <= max_bytes else "too_large"
        except OSError:
            data = "unreadable"
        yield path, data


def write_batches(folder: Path, batches: Iterable[BuiltBatch]) -> list[Path]:
    """Write batch files into ``folder`` (which must exist); return their paths.

    A file that is already there with the same bytes is left alone, so writing the same
    outbox twice is harmless.

    Raises:
        SyncError: ``kind=STORAGE`` when the folder is missing, full or read-only.
    """
    written = _write_files(folder, ((batch_file_name(b), b.data) for b in batches))
    log.info("wrote %d batch file(s) to a folder", len(written))
    return written


@dataclass(slots=True)
class FolderReceipts:
    """What :func:`read_receipts` found: verified receipts and files it could not accept."""

    receipts: list[Receipt] = field(default_factory=list)
    invalid: list[tuple[Path, str]] = field(default_factory=list)
    paths: dict[str, Path] = field(default_factory=dict)


def read_receipts(
    folder: Path,
    *,
    identity: DeviceIdentity,
    expected: Mapping[str, str] | None = None,
) -> FolderReceipts:
    """Read and verify the receipt files in ``folder`` that answer this device.

    Args:
        folder: the folder the batches were written to.
        identity: this device (its id and the office signing keys it trusts).
        expected: batch id -> SHA-384 of the batches this device wrote; a ``stored`` or
            ``imported`` receipt for one of them must name exactly those bytes.

    Receipts for other devices (a stick shared by several) are skipped silently; damaged
    or forged files are listed in ``invalid`` with the reason and never raise.
    """
    result = FolderReceipts()
    for path, data in _read_files(folder, "intake-*" + RECEIPT_SUFFIX, MAX_RECEIPT_BYTES):
        if isinstance(data, str):
            result.invalid.append((path, data))
            continue
        try:
            receipt = verify_receipt(
                data,
                trusted=identity.office_signing_keys,
                importer_keys=identity.office_importer_keys,
            )
        except ReceiptError as exc:
            result.invalid.append((path, exc.reason))
            continue
        if receipt.device_id != identity.device_id:
            continue
        wanted = (expected or {}).get(receipt.batch_id)
        if (
            wanted is not None
            and receipt.status != ReceiptStatus.REJECTED
            and wanted != receipt.batch_sha384
        ):
            result.invalid.append((path, "wrong_digest"))
            continue
        result.receipts.append(receipt)
        result.paths[receipt.batch_id] = path
    return result


def remove_answered_batches(folder: Path, receipts: Iterable[Receipt]) -> list[Path]:
    """Delete the batch files (and their receipt files) that verified receipts answer.

    A batch file is deleted only when a receipt names its batch id and its exact bytes
    (SHA-384), or rejects it (then the device sends the records again in a new batch).
    Call this after the device has recorded the receipts.
    """
    folder = Path(folder)
    by_id = {r.batch_id: r for r in receipts}
    removed = []
    for path in sorted(folder.glob("intake-*" + BATCH_SUFFIX)):
        batch_id = batch_id_from_name(path.name)
        receipt = by_id.get(batch_id or "")
        if receipt is None:
            continue
        try:
            digest = hashlib.sha384(path.read_bytes()).hexdigest()
        except OSError:
            continue
        if receipt.status != ReceiptStatus.REJECTED and digest != receipt.batch_sha384:
            continue
        path.unlink(missing_ok=True)
        (folder / receipt_file_name(receipt.batch_id)).unlink(missing_ok=True)
        removed.append(path)
    return removed


@dataclass(slots=True)
class FolderHandovers:
    """What :func:`read_handover_files` found: the documents (still to be verified by the
    device, :func:`intake_app.sync.handover.open_handover`) and files it could not read."""

    documents: list[tuple[Path, bytes]] = field(default_factory=list)
    invalid: list[tuple[Path, str]] = field(default_factory=list)


def read_handover_files(folder: Path) -> FolderHandovers:
    """Read the hand-over files in ``folder`` (no temporary dot files), by name."""
    result = FolderHandovers()
    for path, data in _read_files(
        folder, "intake-handover-*" + HANDOVER_SUFFIX, MAX_HANDOVER_BYTES
    ):
        if isinstance(data, str):
            result.invalid.append((path, data))
        else:
            result.documents.append((path, data))
    return result


def remove_files(paths: Iterable[Path]) -> None:
    """Delete files the device has dealt with (a hand-over taken in)."""
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            log.warning("a hand-over file could not be removed from the folder")


# -- the office side ------------------------------------------------------------------------


def write_handover_files(folder: Path, documents: Iterable[tuple[str, bytes]]) -> list[Path]:
    """Write sealed hand-overs (id, signed document) into ``folder`` atomically; a file
    already there with the same bytes is left alone."""
    return _write_files(folder, ((handover_file_name(i), data) for i, data in documents))


def list_batch_files(folder: Path) -> list[Path]:
    """Batch files waiting in ``folder`` (no temporary dot files), oldest name first."""
    return sorted(
        p
        for p in Path(folder).glob("*" + BATCH_SUFFIX)
        if p.is_file() and not p.name.startswith(".")
    )


def write_receipt_file(folder: Path, *, batch_id: str, receipt: bytes) -> Path:
    """Write the receipt for ``batch_id`` into ``folder`` atomically."""
    path = Path(folder) / receipt_file_name(batch_id)
    write_file_atomically(path, receipt)
    return path
