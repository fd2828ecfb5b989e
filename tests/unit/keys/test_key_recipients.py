"""Who receives a key comes from signed state, never from the plain vault file.

Each test is an attacker with the profile folder and one password: she edits
``vault.json`` (or the profile database with the key her own entry unseals), then a
supervisor signs in as on any working day, then she tries to read the canaries with the
crypto library alone (tests/helpers/attacker.py). docs/security.md, "Who receives a key".
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import sqlcipher3

from intake_app.app import Workspace
from intake_app.errors import ConflictError
from intake_app.storage import audit
from intake_app.storage.profile import Profile
from intake_app.storage.records import RecordQuery
from intake_app.storage.vault import Vault
from tests.helpers.attacker import keys_for, what_she_reads
from tests.helpers.key_site import PW, own, write_record


def _edit(path: Path, change: Any) -> None:
    data = json.loads(path.read_text("utf-8"))
    change(data)
    path.write_text(json.dumps(data, indent=2, sort_keys=True), "utf-8")


def _ref(path: Path, name: str) -> str:
    return Vault(path).user_ref(name)


def _supervisor_signs_in(profile: Profile) -> tuple[str, ...]:
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    try:
        return ws.sign_in_result.integrity_messages
    finally:
        ws.close()


def _violations(profile: Profile) -> int:
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    try:
        with ws.db.read() as session:
            return sum(1 for e in audit.iter_entries(session) if e.action == "integrity_violation")
    finally:
        ws.close()


def _plant_site(profile: Profile, name: str) -> None:
    """Attack 1/2: a placeholder ``site`` seal in her entry and the rotation flag set."""
    ref = _ref(profile.vault_path, name)

    def change(v: dict[str, Any]) -> None:
        v["users"][ref]["sealed"]["site"] = v["users"][ref]["sealed"]["profile"]
        v["site"]["rotate"] = True

    _edit(profile.vault_path, change)


@pytest.mark.parametrize("name", ["anna", "admin"])
def test_a_planted_site_seal_and_rotation_flag_give_nothing(
    site: tuple[Profile, str], name: str
) -> None:
    profile, _ = site
    _plant_site(profile, name)
    messages = _supervisor_signs_in(profile)
    text, opened = what_she_reads(profile.root, name, own(name))
    assert "Kanarienberta" not in text, f"{name} took the site key: {opened}"
    assert any("Standortschlüssel" in m for m in messages), messages
    assert _violations(profile) >= 1
    # the supervisor still reads every record with the new site key
    text, _ = what_she_reads(profile.root, "leitung", own("leitung"))
    assert "Kanarienanna" in text and "Kanarienberta" in text


def test_a_deactivated_counsellors_old_entry_with_a_planted_site_seal_gets_nothing(
    site: tuple[Profile, str], tmp_path: Path
) -> None:
    profile, _ = site
    old = tmp_path / "alt.json"
    shutil.copy2(profile.vault_path, old)
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    ws.accounts.deactivate(username="anna")
    ws.close()
    _supervisor_signs_in(profile)

    write_record(profile, "berta", "Spaeterberta")
    ref = _ref(profile.vault_path, "anna")
    old_entry = json.loads(old.read_text("utf-8"))["users"][ref]

    def change(v: dict[str, Any]) -> None:
        old_entry["sealed"] = {"profile": old_entry["sealed"]["profile"], "site": "AAAA"}
        v["users"][ref] = old_entry
        v["site"]["rotate"] = True

    _edit(profile.vault_path, change)
    _supervisor_signs_in(profile)
    text, opened = what_she_reads(profile.root, "anna", own("anna"))
    assert "Spaeterberta" not in text and "Kanarienberta" not in text, opened


def test_a_store_owner_changed_in_the_vault_gets_no_seal(site: tuple[Profile, str]) -> None:
    profile, _ = site
    path = profile.vault_path
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    anna_id = next(u.id for u in ws.accounts.list_users() if u.username == "anna")
    berta_id = next(u.id for u in ws.accounts.list_users() if u.username == "berta")
    ws.close()
    data = json.loads(path.read_text("utf-8"))
    berta_store = next(s for s, e in data["stores"].items() if e["owner"] == berta_id)

    def change(v: dict[str, Any]) -> None:
        v["stores"][berta_store]["owner"] = anna_id

    _edit(path, change)
    messages = _supervisor_signs_in(profile)
    text, opened = what_she_reads(profile.root, "anna", own("anna"))
    assert "Kanarienberta" not in text, f"anna got berta's store key: {opened}"
    assert any("Inhaber" in m for m in messages), messages


def test_a_deactivated_counsellor_set_active_in_the_database_gets_no_seal(
    site: tuple[Profile, str], tmp_path: Path
) -> None:
    profile, _ = site
    old = tmp_path / "alt.json"
    shutil.copy2(profile.vault_path, old)
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    ws.accounts.deactivate(username="anna")
    ws.close()
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    record_id = next(
        r.id for r in ws.records.list(RecordQuery()) if r.family_name == "Kanarienanna"
    )
    answers = dict(ws.records.get(record_id).answers)
    answers["given_names"] = "Nachdeaktivierung"
    ws.records.save(record_id, answers=answers)
    ws.close()
    # a colleague's profile key opens intake.db: the column says active again ...
    profile_key = keys_for(profile.vault_path, "berta", own("berta"))[0]
    conn = sqlcipher3.connect(str(profile.db_path))
    conn.execute(f"PRAGMA key = \"x'{profile_key.hex()}'\"")
    conn.execute("UPDATE users SET active = 1 WHERE username = 'anna'")
    conn.commit()
    conn.close()
    # ... and anna's old entry, without its store seals, is put back
    ref = _ref(profile.vault_path, "anna")
    entry = json.loads(old.read_text("utf-8"))["users"][ref]
    entry["sealed"] = {k: x for k, x in entry["sealed"].items() if not k.startswith("store")}
    _edit(profile.vault_path, lambda v: v["users"].__setitem__(ref, entry))
    _supervisor_signs_in(profile)
    text, opened = what_she_reads(profile.root, "anna", own("anna"))
    assert "Nachdeaktivierung" not in text, f"anna's re-keyed store was sealed to her: {opened}"


def test_a_user_with_the_initial_password_gets_no_store_and_no_moved_case(
    site: tuple[Profile, str],
) -> None:
    profile, _ = site
    start = f"{PW}-clara-start"
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    ws.accounts.add_user(username="clara", role="counsellor", password=start)
    ws.close()
    ws = Workspace.sign_in(profile, username="clara", password=start)
    assert ws.sign_in_result.must_change_password
    ws.close()  # she closes the program without choosing her own password
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    try:
        record_id = next(
            r.id for r in ws.records.list(RecordQuery()) if r.family_name == "Kanarienanna"
        )
        with pytest.raises(ConflictError):
            ws.move_case_to(record_id, "clara")
    finally:
        ws.close()
    # the administrator knows the initial password: it opens no client data
    text, opened = what_she_reads(profile.root, "clara", start)
    assert "Kanarien" not in text, opened


def test_a_counsellor_whose_store_was_swapped_is_told_not_shown_an_empty_list(
    site: tuple[Profile, str],
) -> None:
    profile, _ = site
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    ids = {u.username: u.id for u in ws.accounts.list_users()}
    ws.close()
    stores = json.loads(profile.vault_path.read_text("utf-8"))["stores"]
    anna = next(s for s, e in stores.items() if e["owner"] == ids["anna"])
    berta = next(s for s, e in stores.items() if e["owner"] == ids["berta"])
    a, b = (profile.root / "stores" / f"{sid}.db" for sid in (anna, berta))
    tmp = a.with_suffix(".swap")
    a.rename(tmp)
    b.rename(a)
    tmp.rename(b)
    ws = Workspace.sign_in(profile, username="anna", password=own("anna"))
    try:
        assert ws.records.count(RecordQuery()) == 0  # berta's file does not open for her
        assert any("Aktenspeicher" in m for m in ws.sign_in_result.integrity_messages)
    finally:
        ws.close()
