"""The profile database gets a new key when someone who held it leaves.

Tried as an attacker: a counsellor keeps a copy of ``vault.json`` (or a backup) and her
password; after her deactivation (or a reset by the administration) the database with
users, settings and the audit log is written on. With only the files, her old vault and
the crypto library she must decrypt nothing written after that.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from intake_app.app import Workspace
from intake_app.storage.database import key_opens
from intake_app.storage.profile import Profile
from intake_app.storage.records import RecordQuery
from intake_app.storage.vault import new_database_key
from tests.helpers.attacker import keys_for, what_she_reads
from tests.helpers.key_site import PW, own


def _add_user_later(profile: Profile, display_name: str) -> None:
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    try:
        ws.accounts.add_user(
            username=display_name.lower(),
            role="counsellor",
            password=f"{PW}-spaet-start",
            display_name=display_name,
        )
    finally:
        ws.close()


def test_a_deactivated_counsellors_old_vault_opens_nothing_written_later(
    site: tuple[Profile, str], tmp_path: Path
) -> None:
    profile, _ = site
    old_vault = tmp_path / "annas-tresor.json"
    shutil.copy2(profile.vault_path, old_vault)
    text, opened = what_she_reads(profile.root, "anna", own("anna"), vault_path=old_vault)
    assert "intake.db" in opened, "before: her vault opens the profile database"
    old_key = keys_for(old_vault, "anna", own("anna"))[0]
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    try:
        ws.accounts.deactivate(username="anna")
        # the administrator's session goes on with the new key
        ws.accounts.add_user(username="gleich", role="counsellor", password=f"{PW}-g-start")
        assert {u.username for u in ws.accounts.list_users()} >= {"gleich", "anna"}
    finally:
        ws.close()
    _add_user_later(profile, "Spaetername")
    assert not key_opens(profile.db_path, old_key)
    text, opened = what_she_reads(profile.root, "anna", own("anna"), vault_path=old_vault)
    assert "Spaetername" not in text, f"her old vault opened later data in {opened}"
    assert "intake.db" not in opened
    # everyone else, and the recovery key, go on
    for name in ("berta", "leitung", "admin"):
        Workspace.sign_in(profile, username=name, password=own(name)).close()
    text, _ = what_she_reads(profile.root, "berta", own("berta"))
    assert "Spaetername" in text


def test_a_reset_counsellors_old_password_opens_nothing_written_later(
    site: tuple[Profile, str], tmp_path: Path
) -> None:
    profile, recovery = site
    old_vault = tmp_path / "annas-tresor.json"
    shutil.copy2(profile.vault_path, old_vault)
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    try:
        ws.accounts.reset_password(username="anna", password=f"{PW}-anna-neu")
    finally:
        ws.close()
    _add_user_later(profile, "Nachdemreset")
    text, opened = what_she_reads(profile.root, "anna", own("anna"), vault_path=old_vault)
    assert "Nachdemreset" not in text, f"her old vault opened later data in {opened}"
    keys = profile.vault().unlock_recovery(recovery)
    assert key_opens(profile.db_path, keys.profile_key)


def test_a_re_key_interrupted_before_the_file_changed_is_finished(
    site: tuple[Profile, str],
) -> None:
    """The crash came after the new key was sealed and before the file was re-encrypted:
    the next sign-in re-encrypts it with the sealed key, nothing is lost."""
    profile, _ = site
    vault = profile.vault()
    old_key = vault.unlock("admin", own("admin"))
    # (the crash is what matters here, not which recovery key the re-key trusted)
    vault.begin_profile_rekey(old_key=old_key, new_key=new_database_key(), trust_recovery_file=True)
    new_key = vault.unlock("berta", own("berta"))
    assert new_key != old_key and not key_opens(profile.db_path, new_key)
    ws = Workspace.sign_in(profile, username="berta", password=own("berta"))
    try:
        assert ws.records.count(RecordQuery()) == 1
    finally:
        ws.close()
    assert key_opens(profile.db_path, new_key) and not key_opens(profile.db_path, old_key)
    assert vault.profile_rekey_state(new_key) == (None, False)


def test_a_re_key_asked_for_but_not_begun_is_done_at_the_next_sign_in(
    site: tuple[Profile, str], tmp_path: Path
) -> None:
    """The deactivation committed, the process died before the re-key began."""
    profile, _ = site
    old_key = profile.vault().unlock("anna", own("anna"))
    profile.vault().request_profile_rekey()
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    ws.close()
    assert not key_opens(profile.db_path, old_key)
    assert profile.vault().profile_rekey_state(profile.vault().unlock("anna", own("anna"))) == (
        None,
        False,
    )
