"""The site key goes only to a supervisor with a signed grant (docs/security.md, "Site key
grants").

Each test is an administrator (or someone with the files and one password) who creates
a supervisor account, chooses its password herself and edits ``vault.json``; a supervisor
then signs in as on any working day (a rotation of the site key runs); then she tries to
read the canaries with that account's password and the crypto library alone
(tests/helpers/attacker.py).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

import intake_app.storage.scope as scope_module
from intake_app.app import Workspace
from intake_app.storage import audit, users
from intake_app.storage.profile import Profile
from intake_app.storage.records import RecordQuery
from intake_app.storage.vault import Vault
from tests.helpers.attacker import what_she_reads
from tests.helpers.key_site import PW, granted_second_supervisor, own

ADMIN_CHOSEN = f"{PW}-von-der-admin-gewaehlt"


def _edit(path: Path, change: Any) -> None:
    data = json.loads(path.read_text("utf-8"))
    change(data)
    path.write_text(json.dumps(data, indent=2, sort_keys=True), "utf-8")


def _admin_makes_a_supervisor(profile: Profile, name: str) -> None:
    """The administrator creates a supervisor and does her first password change herself:
    every password of the account is the administrator's."""
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    ws.accounts.add_user(username=name, role="supervisor", password=f"{PW}-{name}-start")
    ws.close()
    ws = Workspace.sign_in(profile, username=name, password=f"{PW}-{name}-start")
    ws.accounts.set_own_password(ADMIN_CHOSEN)
    ws.close()


def _plant_site_seal_and_rotation(profile: Profile, name: str) -> None:
    ref = Vault(profile.vault_path).user_ref(name)

    def change(v: dict[str, Any]) -> None:
        v["users"][ref]["sealed"]["site"] = v["users"][ref]["sealed"]["profile"]
        v["site"]["rotate"] = True

    _edit(profile.vault_path, change)


def _supervisor_signs_in(profile: Profile, name: str = "leitung") -> Workspace:
    return Workspace.sign_in(profile, username=name, password=own(name))


def _entries(profile: Profile, action: str) -> list[Any]:
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    try:
        with ws.db.read() as session:
            return [e for e in audit.iter_entries(session) if e.action == action]
    finally:
        ws.close()


def test_a_supervisor_the_administrator_made_gets_no_site_key_at_a_rotation(
    site: tuple[Profile, str],
) -> None:
    profile, _ = site
    _admin_makes_a_supervisor(profile, "fremd")
    _plant_site_seal_and_rotation(profile, "fremd")
    ws = _supervisor_signs_in(profile)
    try:
        assert ws.records.count(RecordQuery()) == 2, "the granted supervisor still reads all"
        messages = ws.sign_in_result.integrity_messages
    finally:
        ws.close()
    text, opened = what_she_reads(profile.root, "fremd", ADMIN_CHOSEN)
    assert "Kanarienanna" not in text and "Kanarienberta" not in text, opened
    assert any("Standortschlüssel" in m for m in messages), messages
    # her own sign-in gives her no site scope either, and the next rotation neither
    ws = Workspace.sign_in(profile, username="fremd", password=ADMIN_CHOSEN)
    try:
        assert not ws.holds_site_key()
        assert ws.records.count(RecordQuery()) == 0
    finally:
        ws.close()
    _plant_site_seal_and_rotation(profile, "fremd")
    _supervisor_signs_in(profile).close()
    text, _ = what_she_reads(profile.root, "fremd", ADMIN_CHOSEN)
    assert "Kanarien" not in text


def test_a_grant_copied_or_forged_in_the_vault_gives_nothing(site: tuple[Profile, str]) -> None:
    """The attacker copies the granted supervisor's grant record to the account she made
    (and adapts its fields): it is authenticated with the site key, which she lacks."""
    profile, _ = site
    _admin_makes_a_supervisor(profile, "fremd")
    vault = Vault(profile.vault_path)
    mine, theirs = vault.user_ref("fremd"), vault.user_ref("leitung")
    public = json.loads(profile.vault_path.read_text("utf-8"))["users"][mine]["public"]
    digest = hashlib.sha256(public.encode("ascii")).hexdigest()
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    with ws.db.read() as session:
        fremd = users.get_by_name(session, username="fremd")
        assert fremd is not None
        fremd_id, fremd_kid = fremd.id, fremd.key_id
    ws.close()

    def change(v: dict[str, Any]) -> None:
        record = dict(v["site"]["grants"][theirs])
        record.update(user_id=fremd_id, kid=fremd_kid, public=digest)
        v["site"]["grants"][mine] = record
        v["users"][mine]["sealed"]["site"] = v["users"][mine]["sealed"]["profile"]
        v["site"]["rotate"] = True

    _edit(profile.vault_path, change)
    _supervisor_signs_in(profile).close()
    text, opened = what_she_reads(profile.root, "fremd", ADMIN_CHOSEN)
    assert "Kanarien" not in text, f"a forged grant gave the site key: {opened}"
    text, _ = what_she_reads(profile.root, "leitung", own("leitung"))
    assert "Kanarienanna" in text and "Kanarienberta" in text


def test_a_reset_supervisor_loses_her_grant(site: tuple[Profile, str]) -> None:
    """The administrator resets a granted supervisor's password and does her forced change
    herself: the grant named the supervisor's earlier keys, so no later site key reaches
    the keys the administrator now holds."""
    profile, _ = site
    granted_second_supervisor(profile)
    text, _ = what_she_reads(profile.root, "zweite", own("zweite"))
    assert "Kanarienberta" in text, "the grant works"
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    ws.accounts.reset_password(username="zweite", password=f"{PW}-zweite-reset")
    ws.close()
    ws = Workspace.sign_in(profile, username="zweite", password=f"{PW}-zweite-reset")
    ws.accounts.set_own_password(ADMIN_CHOSEN)
    ws.close()
    _plant_site_seal_and_rotation(profile, "zweite")
    _supervisor_signs_in(profile).close()
    text, opened = what_she_reads(profile.root, "zweite", ADMIN_CHOSEN)
    assert "Kanarien" not in text, f"a reset supervisor's old grant gave the key: {opened}"
    # a supervisor grants her again (after speaking to her): that works
    ws = _supervisor_signs_in(profile)
    ws.grant_site_key("zweite")
    ws.close()
    text, _ = what_she_reads(profile.root, "zweite", ADMIN_CHOSEN)
    assert "Kanarienberta" in text


def test_removed_grants_are_reported_and_give_an_account_the_administrator_made_nothing(
    site: tuple[Profile, str],
) -> None:
    """Deleting every grant makes the vault look like one from before grants: the audit
    log says otherwise, so it is reported. The supervisor who holds the key keeps it (she
    opens her seal), and the account the administrator made gets nothing."""
    profile, _ = site
    _admin_makes_a_supervisor(profile, "fremd")

    def change(v: dict[str, Any]) -> None:
        del v["site"]["grants"]
        ref = Vault(profile.vault_path).user_ref("fremd")
        v["users"][ref]["sealed"]["site"] = v["users"][ref]["sealed"]["profile"]
        v["site"]["rotate"] = True

    _edit(profile.vault_path, change)
    ws = _supervisor_signs_in(profile)
    try:
        assert any("Freigaben" in m for m in ws.sign_in_result.integrity_messages)
        assert ws.holds_site_key()
        assert ws.records.count(RecordQuery()) == 2
    finally:
        ws.close()
    text, _ = what_she_reads(profile.root, "fremd", ADMIN_CHOSEN)
    assert "Kanarien" not in text
    assert _entries(profile, "integrity_violation")
    grants = json.loads(profile.vault_path.read_text("utf-8"))["site"]["grants"]
    assert list(grants) == [Vault(profile.vault_path).user_ref("leitung")]


def test_grants_removed_with_the_audit_log_changed_give_an_administrators_account_nothing(
    site: tuple[Profile, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The attack on the migration: the administrator makes a supervisor whose password she
    chose, deletes the grants, plants a ``site`` entry for that account and hides the
    grant entries of the audit log (drops the trigger, edits them, re-creates it; here the
    audit query is made to find nothing). The real supervisor signs in, then a rotation
    runs as when someone leaves: the account never reads a record."""
    profile, _ = site
    _admin_makes_a_supervisor(profile, "fremd")

    def change(v: dict[str, Any]) -> None:
        del v["site"]["grants"]
        ref = Vault(profile.vault_path).user_ref("fremd")
        v["users"][ref]["sealed"]["site"] = v["users"][ref]["sealed"]["profile"]

    _edit(profile.vault_path, change)
    monkeypatch.setattr(scope_module, "grants_were_made", lambda session: False)
    ws = _supervisor_signs_in(profile)
    try:
        assert ws.records.count(RecordQuery()) == 2
    finally:
        ws.close()
    vault = Vault(profile.vault_path)
    grants = json.loads(profile.vault_path.read_text("utf-8"))["site"]["grants"]
    assert list(grants) == [vault.user_ref("leitung")], "only she was granted, by herself"
    text, opened = what_she_reads(profile.root, "fremd", ADMIN_CHOSEN)
    assert "Kanarien" not in text, opened
    # a rotation (someone left): the new site key goes to grant holders only
    vault.request_site_rotation()
    _supervisor_signs_in(profile).close()
    text, opened = what_she_reads(profile.root, "fremd", ADMIN_CHOSEN)
    assert "Kanarien" not in text, f"the planted entry received the new site key: {opened}"
    assert (
        "site"
        not in json.loads(profile.vault_path.read_text("utf-8"))["users"][vault.user_ref("fremd")][
            "sealed"
        ]
    )
    text, _ = what_she_reads(profile.root, "leitung", own("leitung"))
    assert "Kanarienanna" in text and "Kanarienberta" in text


def test_a_pending_list_written_without_the_site_key_counts_for_nothing(
    site: tuple[Profile, str],
) -> None:
    """The administrator adds the account she made to the list of holders still to take
    over their grant: the list is authenticated under the site key, so it is ignored, the
    planted seal is reported and a new site key leaves the account out."""
    profile, _ = site
    _admin_makes_a_supervisor(profile, "fremd")
    ref = Vault(profile.vault_path).user_ref("fremd")

    def change(v: dict[str, Any]) -> None:
        v["site"]["pending"] = {
            "refs": [ref],
            "mac": v["site"]["grants"][next(iter(v["site"]["grants"]))]["mac"],
        }
        v["users"][ref]["sealed"]["site"] = v["users"][ref]["sealed"]["profile"]

    _edit(profile.vault_path, change)
    ws = _supervisor_signs_in(profile)
    try:
        assert any("Standortschlüssel" in m for m in ws.sign_in_result.integrity_messages)
    finally:
        ws.close()
    text, _ = what_she_reads(profile.root, "fremd", ADMIN_CHOSEN)
    assert "Kanarien" not in text
    assert "site" not in json.loads(profile.vault_path.read_text("utf-8"))["users"][ref]["sealed"]


def test_an_older_profiles_holders_get_signed_grants_at_the_first_sign_in(
    site: tuple[Profile, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A profile from before grants: its holders are taken over once, signed by the first
    holder who signs in, audited; after that an account without a grant gets nothing."""
    profile, _ = site
    # a second holder, granted before grants came in
    granted_second_supervisor(profile)

    # the vault as the previous version wrote it: holders, no grants, nothing audited
    def older(v: dict[str, Any]) -> None:
        del v["site"]["grants"]

    _edit(profile.vault_path, older)
    # nor grant entries in its audit log (the fixture's own grant is hidden for this step)
    monkeypatch.setattr(scope_module, "grants_were_made", lambda session: False)
    ws = _supervisor_signs_in(profile)
    try:
        assert ws.records.count(RecordQuery()) == 2
        assert not ws.sign_in_result.integrity_messages
    finally:
        ws.close()
    grants = json.loads(profile.vault_path.read_text("utf-8"))["site"]["grants"]
    vault = Vault(profile.vault_path)
    assert list(grants) == [vault.user_ref("leitung")], "each holder signs only her own"
    assert grants[next(iter(grants))]["via"] == "migrated"
    # the second holder keeps the key meanwhile, and takes her grant over herself
    text, _ = what_she_reads(profile.root, "zweite", own("zweite"))
    assert "Kanarienanna" in text and "Kanarienberta" in text
    ws = _supervisor_signs_in(profile, "zweite")
    try:
        assert ws.records.count(RecordQuery()) == 2
        assert not ws.sign_in_result.integrity_messages
    finally:
        ws.close()
    monkeypatch.undo()
    grants = json.loads(profile.vault_path.read_text("utf-8"))["site"]["grants"]
    assert set(grants) == {vault.user_ref("leitung"), vault.user_ref("zweite")}
    assert "pending" not in json.loads(profile.vault_path.read_text("utf-8"))["site"]
    assert len(_entries(profile, "site_grants_signed")) == 2
    _admin_makes_a_supervisor(profile, "fremd")
    _plant_site_seal_and_rotation(profile, "fremd")
    _supervisor_signs_in(profile).close()
    text, _ = what_she_reads(profile.root, "fremd", ADMIN_CHOSEN)
    assert "Kanarien" not in text
    text, _ = what_she_reads(profile.root, "leitung", own("leitung"))
    assert "Kanarienanna" in text and "Kanarienberta" in text


def test_a_reset_counsellors_store_waits_for_a_supervisors_confirmation(
    site: tuple[Profile, str],
) -> None:
    """Attack 9: the administrator resets anna's password and does anna's forced change
    herself; supervisors sign in as usual. Nothing of anna's earlier records reaches the
    key pair the administrator chose until a supervisor confirms."""
    profile, _ = site
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    ws.accounts.reset_password(username="anna", password=f"{PW}-anna-reset")
    ws.close()
    ws = Workspace.sign_in(profile, username="anna", password=f"{PW}-anna-reset")
    ws.accounts.set_own_password(ADMIN_CHOSEN)
    ws.close()
    for _day in range(2):  # the store is re-keyed, then left sealed to the site key
        ws = _supervisor_signs_in(profile)
        try:
            assert ws.records.count(RecordQuery()) == 2
            assert [n for n, _s in ws.owners_awaiting_confirmation()] == ["anna"]
        finally:
            ws.close()
    text, opened = what_she_reads(profile.root, "anna", ADMIN_CHOSEN)
    assert "Kanarienanna" not in text, f"re-sealed without a confirmation: {opened}"
    # a counsellor cannot confirm; neither can the administrator
    for name in ("berta", "admin"):
        ws = Workspace.sign_in(profile, username=name, password=own(name))
        try:
            assert ws.owners_awaiting_confirmation() == []
            with pytest.raises(Exception, match=r"."):
                ws.confirm_owner("anna")
        finally:
            ws.close()
    assert not _entries(profile, "store_owner_confirmed")
