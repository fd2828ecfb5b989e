"""A backup whose user rows were changed does not make a counsellor its restorer
(storage/backup.py, ``_check_staged_database``; docs/security.md, "Signed user rows").

Found by attacker run 24 while reading the code: the restore asked the backup's plain
``role`` column whether the one restoring is an administrator. Every password opens the
backup's profile database, and its manifest is a plain list of SHA-256 sums, so a
counsellor could make herself an administrator in a backup and put the whole profile
back to that day. Now the signed state of the backup's rows decides: a changed row is
refused, never honoured.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from intake_app.app import Workspace
from intake_app.errors import AuthError
from intake_app.storage.backup import (
    create_backup,
    read_backup,
    restore_backup,
    unlock_for_restore,
)
from intake_app.storage.profile import Profile
from tests.helpers.attacker import keys_for, with_any_key
from tests.helpers.key_site import own


def test_a_counsellor_made_administrator_in_a_backup_restores_nothing(
    site: tuple[Profile, str],
) -> None:
    profile, _ = site
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    try:
        info = create_backup(ws)
    finally:
        ws.close()
    # the attack: anna's row says administrator in the backup, and the manifest agrees
    database = info.path / "intake.db"
    changed = with_any_key(
        database,
        keys_for(info.path / "vault.json", "anna", own("anna")),
        lambda conn: (
            conn.execute("UPDATE users SET role = 'admin' WHERE username = 'anna'").rowcount
        ),
    )
    assert changed == 1
    for leftover in ("intake.db-wal", "intake.db-shm"):
        (info.path / leftover).unlink(missing_ok=True)
    manifest = json.loads((info.path / "manifest.json").read_text("utf-8"))
    manifest["files"]["intake.db"] = {
        "sha256": hashlib.sha256(database.read_bytes()).hexdigest(),
        "size": database.stat().st_size,
    }
    for leftover in ("intake.db-wal", "intake.db-shm"):
        manifest["files"].pop(leftover, None)
    (info.path / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    changed_info = read_backup(info.path)
    assert changed_info is not None, "the backup reads as any other"
    info = changed_info

    key = unlock_for_restore(profile, info, username="anna", password=own("anna"))
    with pytest.raises(AuthError, match="unterschrieben"):
        restore_backup(profile, info, key=key, username="anna")
