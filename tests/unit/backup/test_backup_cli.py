"""``intake-app backup create | list | restore``: the command-line contract for backups."""

from __future__ import annotations

from pathlib import Path

import pytest

from intake_app.cli import main
from intake_app.storage.backup import BackupReason, list_backups
from tests.conftest import ADMIN_PASSWORD, COUNSELLOR_PASSWORD, ProfileFixture


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def admin_pw(tmp_path: Path) -> Path:
    path = tmp_path / "admin.pw"
    path.write_text(ADMIN_PASSWORD + "\n", "utf-8")
    return path


def test_create_list_and_restore(
    profile: ProfileFixture, admin_pw: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(profile.profile.root)
    auth = ("--data-dir", root, "--user", "admin", "--password-file", str(admin_pw))
    code, out, err = run(capsys, *auth, "backup", "create")
    assert code == 0, err
    name = list_backups(profile.profile)[0].name
    assert name in out

    code, out, err = run(capsys, "--data-dir", root, "backup", "list")
    assert code == 0, err
    assert name in out and "von Hand angelegt" in out

    code, out, err = run(capsys, *auth, "backup", "restore", name)
    assert code == 0, err
    assert "wiederhergestellt" in out and "Passwörtern" in out
    kinds = [b.reason for b in list_backups(profile.profile)]
    assert kinds.count(BackupReason.BEFORE_RESTORE) == 1


def test_restore_of_an_unknown_backup_is_one_line(
    profile: ProfileFixture, admin_pw: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = run(
        capsys,
        "--data-dir",
        str(profile.profile.root),
        "--user",
        "admin",
        "--password-file",
        str(admin_pw),
        "backup",
        "restore",
        "latest",
    )
    assert code == 1
    assert len(err.strip().splitlines()) == 1 and "keine Sicherung" in err


def test_a_counsellor_may_neither_create_nor_restore(
    profile: ProfileFixture, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pw = tmp_path / "c.pw"
    pw.write_text(COUNSELLOR_PASSWORD, "utf-8")
    root = str(profile.profile.root)
    auth = ("--data-dir", root, "--user", "berater", "--password-file", str(pw))
    code, _out, err = run(capsys, *auth, "backup", "create")
    assert code == 1 and err.strip()
    assert list_backups(profile.profile) == []
    # a backup made by the system (daily) cannot be restored by a counsellor either
    from intake_app.storage.backup import create_backup

    ws = profile.sign_in("admin")
    try:
        create_backup(ws, reason=BackupReason.DAILY)
    finally:
        ws.close()
    code, _out, err = run(capsys, *auth, "backup", "restore", "latest")
    assert code == 1 and "Administrat" in err
    assert len(list_backups(profile.profile)) == 1
