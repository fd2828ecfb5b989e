"""Item 5: a full disk while saving an answer and while writing a batch.

Two ways to run out of space, both real:

* ``tmpfs``: the profile (or the USB folder) lives on a small tmpfs mounted for the test
  (needs root; used wherever mounting is permitted), filled up to the last byte;
* ``rlimit``: a helper process whose files may not grow past a limit (``RLIMIT_FSIZE``
  with ``SIGXFSZ`` ignored, so writes fail with ``EFBIG``) — runs everywhere.

Each time: the user gets the plain "disk full" message (``KnownError(kind="disk_full")``
when saving, ``SyncError(kind=STORAGE)`` when writing to the folder), nothing is
corrupted (``integrity_check`` ok, the previous answers intact, no half-written file on the
stick), and once space returns the same work succeeds; the batches then reach the office
exactly once.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import random
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from intake_app.atomic import disk_full_error
from intake_app.demo.data import add_synthetic_intakes
from intake_app.errors import KnownError, SyncError, SyncErrorKind
from intake_app.storage.models import OutboxItem, SyncBatch
from intake_app.storage.records import RecordQuery
from tests.conftest import COUNSELLOR, COUNSELLOR_PASSWORD, ProfileFixture
from tests.e2e.conftest import Office
from tests.helpers.opening import open_record_now
from tests.torture.conftest import (
    ROOT,
    Figures,
    central_rows,
    child_env,
    copy_profile,
    enrol_profile,
)
from tests.torture.test_kill_sync import device_finalised

pytestmark = pytest.mark.torture

DISK_FULL = disk_full_error()
FOLDER_FULL = "Der Zielordner ist voll. Es wurde nichts verloren."


def _can_mount() -> bool:
    """True when this process may mount a tmpfs (root in a permissive container)."""
    if os.name != "posix" or os.geteuid() != 0:
        return False
    with tempfile.TemporaryDirectory() as folder:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", folder],
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            return False
        subprocess.run(["umount", folder], check=False)
    return True


MODES = ["tmpfs", "rlimit"] if _can_mount() else ["rlimit"]


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``path`` for the duration."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)], check=True
    )
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(folder: Path) -> Path:
    """Fill the file system of ``folder`` to the last byte; return the filler file."""
    filler = folder / "filler.bin"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 1 << 16, 4096, 512, 1):
            block = b"\xa5" * size
            try:
                while True:
                    os.write(fd, block)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
    finally:
        os.close(fd)
    return filler


def _size(profile: ProfileFixture) -> int:
    return sum(p.stat().st_size for p in profile.profile.root.rglob("*") if p.is_file())


def _big_note(rng: random.Random, size: int) -> str:
    letters = "abcdefghijklmnopqrstuvwxyzäöüß ابتثجحخ АБВГДЕЖ"
    return "".join(rng.choice(letters) for _ in range(size))


# -- saving an answer --------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_disk_full_while_saving_an_answer(
    mode: str, profile: ProfileFixture, tmp_path: Path, figures: Figures
) -> None:
    ws = profile.sign_in(COUNSELLOR)
    try:
        record_id = ws.new_intake()
        answers = dict(ws.records.get(record_id).answers)
        answers.update(family_name="Kowalenko", given_names="Olena", housing_issue=True)
        ws.records.save(record_id, answers=answers)
    finally:
        ws.close()

    if mode == "rlimit":
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.torture.helpers.size_limited",
                "save",
                str(profile.profile.root),
                COUNSELLOR,
                COUNSELLOR_PASSWORD,
                record_id,
            ],
            cwd=ROOT,
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-4000:]
        out = json.loads(done.stdout.strip().splitlines()[-1])
        # nothing lost or damaged, and the same save works once the limit is lifted ...
        assert out["integrity_full"] == ["ok"] and out["unchanged"]
        assert out["saved_after"] and out["integrity_after"] == ["ok"]
        # ... and the user was told why in plain words (EFBIG is a full disk, as in atomic.py)
        assert out["first"] == {
            "error": "KnownError",
            "kind": "disk_full",
            "message": str(DISK_FULL),
        }, f"saving past a file size limit (EFBIG) should say 'disk full': {out['first']}"
        figures.add(
            "5", "disk full while saving (rlimit)", "file size limit", out["limit"], "bytes"
        )
        return

    rng = random.Random(5)
    with tmpfs(tmp_path / "small", f"{_size(profile) // 1024 + 2048}k") as mount:
        small = copy_profile(profile, mount / "profile")
        ws = small.sign_in(COUNSELLOR)
        try:
            ws.records.save(record_id, answers=answers)
            filler = fill(mount)
            big = dict(answers, housing_note=_big_note(rng, 300_000))
            with pytest.raises(KnownError) as info:
                ws.records.save(record_id, answers=big)
            assert info.value.kind == "disk_full"
            assert str(info.value) == str(DISK_FULL)
            assert ws.db.integrity_check() == ["ok"]
            assert ws.records.get(record_id).answers == answers
            failures_before_space = 1
            # another try while it is still full: the same clear answer, still nothing lost
            with pytest.raises(KnownError):
                ws.records.save(record_id, answers=big)
            failures_before_space += 1
            filler.unlink()  # space returns
            ws.records.save(record_id, answers=big)
            assert ws.records.get(record_id).answers == big
            assert ws.db.integrity_check() == ["ok"]
        finally:
            with contextlib.suppress(KnownError):
                ws.close()
        again = small.sign_in(COUNSELLOR)
        try:
            assert again.db.integrity_check() == ["ok"]
            assert again.records.get(record_id).answers == big
        finally:
            again.close()
    figures.add(
        "5",
        "disk full while saving (tmpfs)",
        "failed saves while full, all 'disk_full'",
        failures_before_space,
    )
    figures.add(
        "5",
        "disk full while saving (tmpfs)",
        "answer written after space returned",
        len(big["housing_note"]),
        "characters",
    )


@pytest.mark.parametrize("mode", [m for m in MODES if m == "tmpfs"])
def test_autosave_says_disk_full_and_resumes(
    mode: str,
    qtbot: QtBot,
    profile: ProfileFixture,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    """The interview keeps the typed answer, says why it is not saved, and saves it later."""
    from PySide6.QtWidgets import QMessageBox

    from intake_app.ui.interview.inputs import TextInput
    from intake_app.ui.interview.page import InterviewPage
    from intake_app.ui.main import create_application
    from intake_app.ui.mainwindow import MainWindow

    create_application()
    with tmpfs(tmp_path / "small", f"{_size(profile) // 1024 + 2048}k") as mount:
        small = copy_profile(profile, mount / "profile")
        ws = small.sign_in(COUNSELLOR)
        window = None
        try:
            record_id = ws.new_intake()
            window = MainWindow(ws, autolock_minutes=60)
            window.show()
            open_record_now(window, record_id)
            page = window.record_page
            assert isinstance(page, InterviewPage)
            page.show_section("person")
            field = page.views["person"].rows[("family_name", ())].input
            assert isinstance(field, TextInput)
            edit = field.edit
            filler = fill(mount)
            edit.setFocus()
            edit.setText("Al-Hassan")
            edit.textEdited.emit("Al-Hassan")
            with qtbot.waitSignal(page.autosaver.failed, timeout=5000) as failed:
                pass
            assert isinstance(failed.args[0], KnownError)
            assert failed.args[0].kind == "disk_full"
            assert page.save_label.toolTip() == str(DISK_FULL)
            assert "Nicht gespeichert" in page.save_label.text()
            assert page.autosaver.dirty and page.autosaver.failing
            # Leaving now would lose the answer: going back to the list keeps the page open
            # and says why; log-out and program end ask, and "No" keeps the page.
            _answer_next_message_box(QMessageBox.StandardButton.Ok)
            page.close_page()
            assert window.record_page is page
            _answer_next_message_box(QMessageBox.StandardButton.No)
            assert window.shutdown_pages() is False
            assert window.record_page is page and page.autosaver.dirty
            filler.unlink()  # space returns; the retry (or the next change) saves
            with qtbot.waitSignal(page.autosaver.saved, timeout=10_000):
                pass
            assert not page.autosaver.dirty
            assert ws.records.get(record_id).answers["family_name"] == "Al-Hassan"
            assert ws.db.integrity_check() == ["ok"]
            assert window.shutdown_pages() is True  # saved: no question asked
            assert window.record_page is None
        finally:
            if window is not None:  # gone before the workspace closes (as on log-out)
                window.close()
                with qtbot.waitSignal(window.destroyed, timeout=5000):
                    window.deleteLater()
            ws.close()


def _answer_next_message_box(button: Any) -> None:
    """Click ``button`` of the next message box once it is shown (they are modal)."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    def click() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, click)
            return
        target = box.button(button)
        assert target is not None, f"no {button} on the box: {box.text()}"
        target.click()

    QTimer.singleShot(20, click)


# -- writing a batch ---------------------------------------------------------------------


def _finalised(profile: ProfileFixture, count: int) -> None:
    ws = profile.sign_in(COUNSELLOR)
    try:
        add_synthetic_intakes(ws, count=count, seed=55, complete_share=1.0)
    finally:
        ws.close()


def _deliver(profile: ProfileFixture, office: Office, stick: Path) -> None:
    """The office imports the stick; the device reads the receipts back."""
    office.cli("import", "--from-dir", str(stick))
    ws = profile.sign_in(COUNSELLOR)
    try:
        ws.sync.import_receipts(stick)
        with ws.db.read() as session:
            left = session.scalars(select(OutboxItem).where(OutboxItem.state != "delivered")).all()
        assert left == []
        assert all(
            s.sync_state.value == "delivered"
            for s in ws.records.list(RecordQuery(status="complete"), limit=1000)
        )
    finally:
        ws.close()
    rows = central_rows(office)
    assert sorted((r[0], r[1]) for r in rows) == sorted(device_finalised(profile))


@pytest.mark.parametrize("mode", MODES)
def test_disk_full_while_writing_a_batch_to_a_folder(
    mode: str, profile: ProfileFixture, office: Office, tmp_path: Path, figures: Figures
) -> None:
    enrol_profile(profile, office, tmp_path / "enrol", f"laptop-usb-{mode}")
    _finalised(profile, 12)

    if mode == "rlimit":
        stick = tmp_path / "stick"
        stick.mkdir()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.torture.helpers.size_limited",
                "batch",
                str(profile.profile.root),
                COUNSELLOR,
                COUNSELLOR_PASSWORD,
                str(stick),
            ],
            cwd=ROOT,
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-4000:]
        out = json.loads(done.stdout.strip().splitlines()[-1])
        assert out["first"] == {"error": "SyncError", "kind": "storage", "message": FOLDER_FULL}
        assert out["files_while_full"] == [], "a half-written batch file was left behind"
        assert out["integrity_full"] == ["ok"] and out["integrity_after"] == ["ok"]
        assert out["written_after"]
        _deliver(profile, office, stick)
        figures.add(
            "5",
            "disk full while writing a batch (rlimit)",
            "batch files written after",
            len(out["written_after"]),
        )
        return

    with tmpfs(tmp_path / "stick", "64k") as stick:
        ws = profile.sign_in(COUNSELLOR)
        try:
            size = sum(len(b.data) for b in ws.sync.prepare("folder"))
            filler = fill(stick)
            with pytest.raises(SyncError) as info:
                ws.sync.write_to_folder(stick)
            assert info.value.kind is SyncErrorKind.STORAGE
            assert str(info.value) == FOLDER_FULL
            assert sorted(p.name for p in stick.iterdir()) == ["filler.bin"]
            assert ws.db.integrity_check() == ["ok"]
            with ws.db.read() as session:
                states = {b.state for b in session.scalars(select(SyncBatch)).all()}
            assert states == {"built"}, "a batch that was not written counts as not sent"
            filler.unlink()
            written = ws.sync.write_to_folder(stick).files_written
            assert written and all(p.stat().st_size > 0 for p in written)
        finally:
            ws.close()
        _deliver(profile, office, stick)
    figures.add(
        "5",
        "disk full while writing a batch (tmpfs)",
        "batch bytes refused by the full stick",
        size,
        "bytes",
    )


@pytest.mark.parametrize("mode", [m for m in MODES if m == "tmpfs"])
def test_profile_disk_full_while_packing_a_batch(
    mode: str, profile: ProfileFixture, office: Office, tmp_path: Path, figures: Figures
) -> None:
    """Packing the outbox stores the sealed batch in the database: that write fills the disk."""
    enrol_profile(profile, office, tmp_path / "enrol", "laptop-full-profile")
    _finalised(profile, 30)
    stick = tmp_path / "stick"
    stick.mkdir()
    with tmpfs(tmp_path / "small", f"{_size(profile) // 1024 + 2048}k") as mount:
        small = copy_profile(profile, mount / "profile")
        ws = small.sign_in(COUNSELLOR)
        try:
            filler = fill(mount)
            with pytest.raises(KnownError) as info:
                ws.sync.write_to_folder(stick)
            assert info.value.kind == "disk_full" and str(info.value) == str(DISK_FULL)
            assert list(stick.iterdir()) == []
            assert ws.db.integrity_check() == ["ok"]
            with ws.db.read() as session:
                assert session.scalars(select(SyncBatch)).all() == []
                pending = session.scalars(
                    select(OutboxItem).where(OutboxItem.state == "pending")
                ).all()
            assert len(pending) == 30, "the outbox is as it was"
            filler.unlink()
            assert ws.sync.write_to_folder(stick).files_written
        finally:
            ws.close()
        _deliver(small, office, stick)
    figures.add(
        "5", "disk full while packing a batch (tmpfs)", "outbox items kept, then delivered", 30
    )
