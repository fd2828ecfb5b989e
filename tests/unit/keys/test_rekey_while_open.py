"""A store re-keyed while another program window has it open (docs/security.md,
"Granting and revoking"): the open window takes the new key from the vault, and nothing
is lost."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from intake_app.app import Workspace
from intake_app.errors import KnownError
from intake_app.storage.database import key_opens
from intake_app.storage.profile import Profile
from intake_app.storage.stores import client_schema, create_store, new_store_key, store_path
from intake_app.storage.vault import Vault
from tests.helpers.attacker import dump_everything, what_she_reads
from tests.helpers.key_site import PW, own


def _key_of(ws: Workspace) -> bytes:
    own_store = ws.scope.stores[ws.scope.own or ""]
    return bytes.fromhex((own_store.engine.url.password or "")[2:-1])


@pytest.mark.parametrize("between", [False, True], ids=["noticed", "between-check-and-write"])
def test_a_store_re_keyed_by_another_window_is_opened_again_and_loses_nothing(
    site: tuple[Profile, str], between: bool
) -> None:
    """Noticed before a transaction (the vault file changed), the new key is simply taken;
    a re-key after that check fails the transaction, which is rolled back and refused
    once with a message."""
    profile, _ = site
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    ws.accounts.add_user(username="clara", role="counsellor", password=f"{PW}-clara-start")
    ws.close()
    ws = Workspace.sign_in(profile, username="clara", password=f"{PW}-clara-start")
    ws.accounts.set_own_password(own("clara"))
    ws.close()

    clara = Workspace.sign_in(profile, username="clara", password=own("clara"))
    try:
        record_id = clara.new_intake()
        answers = dict(clara.records.get(record_id).answers)
        answers["family_name"] = "Kanarienclara"
        clara.records.save(record_id, answers=answers)
        before = _key_of(clara)
        store = clara.scope.stores[clara.scope.own or ""].path
        # her store's key was made by its owner: the supervisor's sign-in in another
        # window gives it a new one (docs/security.md, "The site public key")
        leitung = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
        leitung.close()
        assert not key_opens(store, before), "the supervisor's sign-in re-keyed the store"

        answers["family_name"] = "Kanarienclara-Zwei"
        if between:
            # the re-key fell between the check before a transaction and the transaction
            source = clara.scope.stores[clara.scope.own or ""].key_source
            assert source is not None and source.changed()
            with pytest.raises(KnownError) as refused:
                clara.records.save(record_id, answers=answers)
            assert refused.value.kind == "rekeyed"
            assert "wiederholen" in str(refused.value)
        clara.records.save(record_id, answers=answers)  # the (repeated) step goes through
        assert clara.records.get(record_id).answers["family_name"] == "Kanarienclara-Zwei"
        assert _key_of(clara) != before
    finally:
        clara.close()
    for name in ("clara", "leitung"):
        text, _names = what_she_reads(profile.root, name, own(name))
        assert "Kanarienclara-Zwei" in text, name
    # what she sealed to herself names the new key: her next sign-in opens the store
    again = Workspace.sign_in(profile, username="clara", password=own("clara"))
    try:
        assert again.records.get(record_id).answers["family_name"] == "Kanarienclara-Zwei"
    finally:
        again.close()


def test_an_open_window_does_not_follow_a_key_to_a_file_put_in_her_stores_place(
    site: tuple[Profile, str],
) -> None:
    """While anna's window is open, the administrator puts a store of her own making (a
    key she chose, every record table) in the place of anna's store file and seals its
    key to anna, as another window's re-key would. The open window does not follow that
    key: the step is refused, and nothing anna writes reaches the planted file."""
    profile, _ = site
    anna = Workspace.sign_in(profile, username="anna", password=own("anna"))
    try:
        sid = anna.scope.own or ""
        path = store_path(profile.root, sid)
        schema = client_schema()
        vault_data = json.loads(profile.vault_path.read_text("utf-8"))
        site_public = base64.b64decode(vault_data["site"]["public"])
        chosen = new_store_key()
        planted = path.with_name("planted.db")
        create_store(planted, chosen, schema, site_public=site_public)
        kept = path.with_name("kept.db")
        os.replace(path, kept)
        for suffix in ("-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        os.replace(planted, path)
        Vault(profile.vault_path).seal_for_user("anna", f"store:{sid}", chosen)
        try:
            record_id = anna.new_intake()
            answers = dict(anna.records.get(record_id).answers)
            answers["family_name"] = "Kanarienfremd"
            anna.records.save(record_id, answers=answers)
        except KnownError:  # refused where no connection still holds her own file
            pass
    finally:
        anna.close()
    assert "Kanarienfremd" not in dump_everything(profile.root, [chosen])[0]
