"""One helper writes every file: intake_app/atomic.py (docs/architecture.md, "Files on disk")."""

from __future__ import annotations

import ast
import os
import stat
from pathlib import Path

import pytest

from intake_app.atomic import atomic_create_bytes, atomic_write_bytes

PACKAGE = Path(__file__).parents[3] / "intake_app"

#: Calls that write a file or make a write durable by hand.
HAND_WRITTEN = {"fsync", "mkstemp", "write_text", "write_bytes", "replace", "rename", "link"}
#: Where such calls may stand, and why.
ALLOWED = {
    "atomic.py": "the helper itself",
    # A backup is a folder: its files are copied (SQLite's backup API, shutil), fsynced one
    # by one, and the folder is renamed into place as a whole.
    "storage/backup.py": "backup and restore move whole folders",
    # The demo profile (synthetic data) is made in a folder beside its own and moved into
    # place entry by entry, its vault last, so that a killed start leaves no half-made demo.
    "demo/__init__.py": "the finished demo profile is moved into its folder",
    # Shredding overwrites a record store in place with random bytes and syncs it before
    # deleting it; new stores go through atomic.py.
    "storage/stores.py": "shred overwrites a file in place before deleting it",
    # A print job: a private temporary file (0600) that ``lp`` reads and that is removed
    # as soon as CUPS has the job; nothing is kept, so there is nothing to make durable.
    "ui/print_system.py": "the temporary file handed to CUPS",
}


def test_replaces_the_file_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "file.json"
    atomic_write_bytes(target, b"one")
    atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["file.json"]


def test_keeps_the_old_file_when_the_step_before_the_rename_fails(tmp_path: Path) -> None:
    target = tmp_path / "export.pdf"
    target.write_bytes(b"old")
    seen: list[bytes] = []

    def audit() -> None:
        # the new bytes are complete on the disk, the old file still in place
        (tmp,) = [p for p in tmp_path.iterdir() if p.name.startswith(".export.pdf.")]
        seen.append(tmp.read_bytes())
        assert target.read_bytes() == b"old"
        raise RuntimeError("audit entry could not be written")

    with pytest.raises(RuntimeError):
        atomic_write_bytes(target, b"new", before_replace=audit)
    assert seen == [b"new"]
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["export.pdf"]


def test_mode_none_leaves_permissions_to_the_folder(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "batch.ibatch", b"x", mode=None)
    finally:
        os.umask(old)
    # mkstemp creates 0600; without chmod the file keeps that (no chmod on FAT or SMB)
    assert stat.S_IMODE((tmp_path / "batch.ibatch").stat().st_mode) == 0o600


def test_create_never_replaces_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "batches" / "b.ibatch"
    assert atomic_create_bytes(target, b"first") is True
    assert atomic_create_bytes(target, b"second") is False
    assert target.read_bytes() == b"first"
    assert [p.name for p in target.parent.iterdir()] == ["b.ibatch"]


def test_no_module_writes_a_file_by_hand() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative in ALLOWED or "/migrations/" in relative:
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in HAND_WRITTEN
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in {"os", "tempfile"}
            ) or (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"write_text", "write_bytes"}
            ):
                offenders.append(f"{relative}:{node.lineno} {ast.unparse(node.func)}")
    assert offenders == []
