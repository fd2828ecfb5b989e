"""A password opens exactly its user's scope: tried as an attacker with the files.

Each test holds only the profile folder (or a copy), one password and the crypto
library (tests/helpers/attacker.py); no program code path checks a permission for her.
Canary names written by each user are then searched in everything her keys decrypt.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import text as sql

from intake_app.app import Workspace
from intake_app.storage import users
from intake_app.storage.backup import create_backup
from intake_app.storage.profile import Profile
from intake_app.storage.records import RecordQuery
from tests.helpers.attacker import what_she_reads
from tests.helpers.key_site import PW, granted_second_supervisor, own, run_cli, write_record


def test_a_counsellor_decrypts_nothing_of_a_colleague(site: tuple[Profile, str]) -> None:
    profile, _ = site
    text, opened = what_she_reads(profile.root, "anna", own("anna"))
    assert "Kanarienanna" in text, "the attack must reach her own records"
    assert "Kanarienberta" not in text, f"anna decrypted berta's record in {opened}"
    text, _ = what_she_reads(profile.root, "berta", own("berta"))
    assert "Kanarienberta" in text and "Kanarienanna" not in text


def test_an_administrator_decrypts_no_client_data(site: tuple[Profile, str]) -> None:
    profile, _ = site
    text, opened = what_she_reads(profile.root, "admin", own("admin"))
    assert opened, "the administrator opens the profile database"
    assert "Kanarien" not in text, f"the administrator decrypted client data in {opened}"


def test_the_supervisor_and_the_recovery_key_read_every_record(
    site: tuple[Profile, str],
) -> None:
    profile, recovery = site
    text, _ = what_she_reads(profile.root, "leitung", own("leitung"))
    assert "Kanarienanna" in text and "Kanarienberta" in text
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    try:
        names = {r.family_name for r in ws.records.list(RecordQuery(search="Kanarien"))}
        assert names == {"Kanarienanna", "Kanarienberta"}
        assert ws.records.count(RecordQuery()) == 2
    finally:
        ws.close()
    keys = profile.vault().unlock_recovery(recovery)
    assert keys.site_private() is not None


def test_a_new_supervisor_gets_nothing_until_granted(site: tuple[Profile, str]) -> None:
    profile, _ = site
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    ws.accounts.add_user(username="neu", role="supervisor", password=f"{PW}-neu-start")
    ws.close()
    ws = Workspace.sign_in(profile, username="neu", password=f"{PW}-neu-start")
    ws.accounts.set_own_password(own("neu"))
    assert ws.records.count(RecordQuery()) == 0
    ws.close()
    text, _ = what_she_reads(profile.root, "neu", own("neu"))
    assert "Kanarien" not in text
    # an existing supervisor grants the site key
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    ws.grant_site_key("neu")
    ws.close()
    text, _ = what_she_reads(profile.root, "neu", own("neu"))
    assert "Kanarienanna" in text and "Kanarienberta" in text


def test_a_deactivated_counsellors_old_vault_opens_nothing_written_later(
    site: tuple[Profile, str], tmp_path: Path
) -> None:
    profile, _ = site
    old_vault = tmp_path / "alter-tresor.json"
    shutil.copy2(profile.vault_path, old_vault)
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    ws.accounts.deactivate(username="anna")
    ws.close()
    # the supervisor's next sign-in re-keys anna's store; then she writes into it
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    anna_record = next(
        r.id for r in ws.records.list(RecordQuery()) if r.family_name == "Kanarienanna"
    )
    record = ws.records.get(anna_record)
    answers = dict(record.answers)
    answers["given_names"] = "Spaeternachtrag"
    ws.records.save(anna_record, answers=answers)
    ws.close()
    write_record(profile, "berta", "Nachherberta")
    text, opened = what_she_reads(profile.root, "anna", own("anna"), vault_path=old_vault)
    assert "Spaeternachtrag" not in text, f"old vault opened later data in {opened}"
    assert "Nachherberta" not in text
    # and a backup made after the deactivation opens nothing with her credentials
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    info = create_backup(ws)
    ws.close()
    for vault_path in (info.path / "vault.json", old_vault):
        text, opened = what_she_reads(info.path, "anna", own("anna"), vault_path=vault_path)
        assert "Spaeternachtrag" not in text, f"a later backup opened for anna: {opened}"


def test_a_reset_password_re_keys_what_she_could_read(
    site: tuple[Profile, str], tmp_path: Path
) -> None:
    profile, _ = site
    old_vault = tmp_path / "alter-tresor.json"
    shutil.copy2(profile.vault_path, old_vault)
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    ws.accounts.reset_password(username="anna", password=f"{PW}-anna-neu")
    ws.close()
    # the administrator chose the new password: it opens no client data
    text, _ = what_she_reads(profile.root, "anna", f"{PW}-anna-neu")
    assert "Kanarien" not in text
    ws = Workspace.sign_in(profile, username="anna", password=f"{PW}-anna-neu")
    ws.accounts.set_own_password(own("anna") + "2")
    ws.close()
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    ws.close()  # re-keys her store, sealed to the site key only
    text, _ = what_she_reads(profile.root, "anna", own("anna") + "2")
    assert "Kanarienanna" not in text, "sealed to her new key pair without a confirmation"
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    try:  # the supervisor spoke to anna and confirms
        assert [name for name, _shown in ws.owners_awaiting_confirmation()] == ["anna"]
        assert ws.confirm_owner("anna") == 1
        assert ws.owners_awaiting_confirmation() == []
    finally:
        ws.close()
    ws = Workspace.sign_in(profile, username="anna", password=own("anna") + "2")
    try:
        names = {r.family_name for r in ws.records.list(RecordQuery())}
        assert "Kanarienanna" in names, "after the confirmation she reads her records again"
        record_id = ws.new_intake()
        answers = dict(ws.records.get(record_id).answers)
        answers["family_name"] = "Nachreset"
        ws.records.save(record_id, answers=answers)
    finally:
        ws.close()
    text, _ = what_she_reads(profile.root, "anna", own("anna"), vault_path=old_vault)
    assert "Nachreset" not in text


def test_a_supervisor_moves_a_case_between_stores(site: tuple[Profile, str]) -> None:
    profile, _ = site
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    try:
        with ws.db.read() as session:
            berta = users.get_by_name(session, username="berta")
        assert berta is not None and berta.id is not None
        berta_id = berta.id
        anna_record = next(
            r.id for r in ws.records.list(RecordQuery()) if r.family_name == "Kanarienanna"
        )
        ws.move_case(anna_record, to_owner=berta_id)
        assert ws.records.get(anna_record).owner_id == berta_id
        with ws.db.read() as session:
            moved = session.execute(
                sql("SELECT count(*) FROM audit_log WHERE action = 'record_moved'")
            ).scalar_one()
        assert moved == 1
    finally:
        ws.close()
    text, _ = what_she_reads(profile.root, "anna", own("anna"))
    assert "Kanarienanna" not in text, "the moved case left anna's store"
    text, _ = what_she_reads(profile.root, "berta", own("berta"))
    assert "Kanarienanna" in text
    ws = Workspace.sign_in(profile, username="berta", password=own("berta"))
    try:
        names = {r.family_name for r in ws.records.list(RecordQuery(search="Kanarienanna"))}
        assert names == {"Kanarienanna"}
    finally:
        ws.close()


def test_a_re_key_cut_off_half_way_loses_nothing(
    site: tuple[Profile, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The new key is sealed before the file changes; a crash in between is mended."""
    profile, _ = site
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    ws.accounts.reset_password(username="anna", password=f"{PW}-anna-neu")
    ws.close()

    class PowerCut(Exception):
        pass

    def cut(*_args: object, **_kwargs: object) -> None:
        raise PowerCut

    from intake_app.storage import scope

    monkeypatch.setattr(scope, "rekey_store", cut)
    with pytest.raises(PowerCut):
        Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    monkeypatch.undo()
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    try:
        names = {r.family_name for r in ws.records.list(RecordQuery())}
        assert names == {"Kanarienanna", "Kanarienberta"}
    finally:
        ws.close()


def test_the_command_line_follows_the_same_keys(
    site: tuple[Profile, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile, _ = site

    def run(user: str, *args: str) -> tuple[int, str]:
        return run_cli(profile, tmp_path, capsys, user, *args)

    code, out = run("anna", "records", "list")
    assert code == 0 and "Kanarienanna" in out and "Kanarienberta" not in out
    code, out = run("leitung", "records", "list")
    assert code == 0 and "Kanarienanna" in out and "Kanarienberta" in out
    record_id = next(line.split()[0] for line in out.splitlines() if "Kanarienberta" in line)
    code, out = run("anna", "records", "move", "--record", record_id, "--to", "anna")
    assert code != 0  # a counsellor moves nothing (and cannot even see the record)
    code, out = run("leitung", "records", "move", "--record", record_id, "--to", "anna")
    assert code == 0, out
    code, out = run("anna", "records", "list")
    assert "Kanarienberta" in out
    code, out = run("admin", "users", "grant-site-key", "leitung")
    assert code != 0  # the administrator does not hold the site key


def test_the_merged_case_list_pages_in_order(site: tuple[Profile, str]) -> None:
    """Paging through a supervisor's list over several stores gives one sorted order."""
    profile, _ = site
    for n, name in enumerate(["Zander", "Adler", "Maier", "Becker", "Yilmaz", "Otto"]):
        write_record(profile, "anna" if n % 2 else "berta", name)
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    try:
        for descending in (False, True):
            query = RecordQuery(sort="name", descending=descending)
            paged = []
            offset = 0
            while page := ws.records.list(query, offset=offset, limit=3):
                paged += [r.family_name for r in page]
                offset += len(page)
            assert paged == sorted(paged, key=str.casefold, reverse=descending)
            assert len(paged) == ws.records.count(query) == 8
            # a jump to an offset gives the same rows as reading up to it
            assert [r.family_name for r in ws.records.list(query, offset=5, limit=3)] == (
                paged[5:8]
            )
    finally:
        ws.close()


def test_a_former_supervisors_old_vault_opens_nothing_written_later(
    site: tuple[Profile, str], tmp_path: Path
) -> None:
    """Deactivating a supervisor replaces the site key and re-keys every store."""
    profile, _ = site
    granted_second_supervisor(profile)
    text, _ = what_she_reads(profile.root, "zweite", own("zweite"))
    assert "Kanarienanna" in text and "Kanarienberta" in text
    old_vault = tmp_path / "alter-tresor.json"
    shutil.copy2(profile.vault_path, old_vault)
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    ws.accounts.deactivate(username="zweite")
    ws.close()
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    assert {r.family_name for r in ws.records.list(RecordQuery())} >= {
        "Kanarienanna",
        "Kanarienberta",
    }
    ws.close()
    write_record(profile, "anna", "Nachderleitung")
    text, opened = what_she_reads(profile.root, "zweite", own("zweite"), vault_path=old_vault)
    assert "Nachderleitung" not in text, f"the old site key opened later data in {opened}"
    # the current supervisor and the recovery key still read everything
    text, _ = what_she_reads(profile.root, "leitung", own("leitung"))
    assert "Nachderleitung" in text and "Kanarienberta" in text
    assert not profile.vault().site_rotation_pending()
