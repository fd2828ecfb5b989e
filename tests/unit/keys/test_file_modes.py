"""Profile files are private whatever the umask: someone else on the computer sees no
sizes of the log, no database and no backup (docs/security.md, "What is stored where")."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from intake_app.app import Workspace
from intake_app.logs import setup_logging
from intake_app.storage.backup import create_backup
from intake_app.storage.profile import Profile
from tests.helpers.key_site import own


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_database_backups_and_log_are_private_under_a_lax_umask(
    site: tuple[Profile, str], tmp_path: Path
) -> None:
    profile, _ = site
    old = os.umask(0o022)
    try:
        log_file = setup_logging(tmp_path / "logs")
        ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
        info = create_backup(ws)
        ws.close()
    finally:
        os.umask(old)

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    assert mode(profile.db_path) == 0o600
    assert mode(log_file) == 0o600 and mode(log_file.parent) == 0o700
    assert mode(info.path) == 0o700
    files = [p for p in info.path.rglob("*")]
    assert files
    for path in files:
        assert mode(path) == (0o700 if path.is_dir() else 0o600), path
