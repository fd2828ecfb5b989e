"""Her own stores are named in her vault entry under a MAC from her private key
(docs/security.md, "Her own stores").

The attacker is an administrator with the files, her own password and the program's own
code: she makes a store with a key of her choosing and seals it to a counsellor, who
cannot tell it from her own, and waits for the counsellor's next records.
"""

from __future__ import annotations

import base64
import json

import pytest

from intake_app.app import Workspace
from intake_app.storage.database import key_opens
from intake_app.storage.profile import Profile
from intake_app.storage.stores import client_schema, create_store, new_store_key, store_path
from intake_app.storage.vault import Vault
from intake_app.sync.keys import SUITE, EncryptionPrivateKey
from tests.helpers.attacker import dump_everything, what_she_reads
from tests.helpers.key_site import own, write_record


def _plant_store_for(profile: Profile, name: str) -> bytes:
    """A store made and keyed by the administrator, sealed to ``name`` and the site key,
    with an id that sorts after every real one."""
    ws = Workspace.sign_in(profile, username=name, password=own(name))
    user_id = ws.actor.user_id
    ws.close()
    admin = Workspace.sign_in(profile, username="admin", password=own("admin"))
    schema = client_schema()
    admin.close()
    key = new_store_key()
    sid = "f" * 32
    data = json.loads(profile.vault_path.read_text("utf-8"))
    site_public = base64.b64decode(data["site"]["public"])
    create_store(store_path(profile.root, sid), key, schema, site_public=site_public)
    Vault(profile.vault_path).add_store(sid, owner_id=user_id, owner=name, key=key)
    return key


def test_a_store_planted_for_a_counsellor_gets_none_of_her_new_records(
    site: tuple[Profile, str],
) -> None:
    profile, _ = site
    planted = _plant_store_for(profile, "anna")
    write_record(profile, "anna", "Kanarienneu")
    text, _names = what_she_reads(profile.root, "anna", own("anna"))
    assert "Kanarienneu" in text, "her record is kept, in her own store"
    assert "Kanarienneu" not in dump_everything(profile.root, [planted])[0]
    # the next sign-in still does not take the planted store for hers
    write_record(profile, "anna", "Kanarienzwei")
    assert "Kanarienzwei" not in dump_everything(profile.root, [planted])[0]


def test_her_own_store_stays_hers_through_a_password_change_and_a_re_key(
    site: tuple[Profile, str],
) -> None:
    """The naming survives what honest users do: her own password change (the same key
    pair) and a holder's re-key of her store (the identity inside it is kept)."""
    profile, _ = site
    first = write_record(profile, "anna", "Kanarieneins")
    ws = Workspace.sign_in(profile, username="anna", password=own("anna"))
    store_before = ws.scope.own
    ws.accounts.set_own_password(own("anna") + "-neu")
    assert ws.scope.own == store_before
    own_db = ws.scope.stores[store_before or ""]
    path, key_before = own_db.path, bytes.fromhex((own_db.engine.url.password or "")[2:-1])
    ws.close()
    # a holder's sign-in gives the store she made a new key (docs/security.md, "The site
    # public key")
    Workspace.sign_in(profile, username="leitung", password=own("leitung")).close()
    assert not key_opens(path, key_before)
    ws = Workspace.sign_in(profile, username="anna", password=own("anna") + "-neu")
    try:
        assert ws.scope.own == store_before
        second = ws.new_intake()
        assert ws.records.get(first).answers["family_name"] == "Kanarieneins"
        assert ws.records.get(second) is not None
    finally:
        ws.close()


def _entry_of(profile: Profile, name: str) -> tuple[dict[str, object], dict[str, object]]:
    data = json.loads(profile.vault_path.read_text("utf-8"))
    ref = Vault(profile.vault_path).user_ref(name)
    return data, data["users"][ref]


@pytest.mark.parametrize("change", ["removed", "list", "string"])
def test_her_names_taken_out_of_her_entry_name_no_planted_store(
    site: tuple[Profile, str], change: str
) -> None:
    """An entry without ``own_stores`` is one from before only while her bundle (which
    only her password opens) says so: taking the names out, or making them something
    other than a mapping, does not let her next sign-in name the planted store."""
    profile, _ = site
    planted = _plant_store_for(profile, "anna")
    data, entry = _entry_of(profile, "anna")
    if change == "removed":
        entry.pop("own_stores")
    else:
        entry["own_stores"] = [] if change == "list" else "alle"
    profile.vault_path.write_text(json.dumps(data), "utf-8")
    write_record(profile, "anna", "Kanarienohne")
    text, _names = what_she_reads(profile.root, "anna", own("anna"))
    assert "Kanarienohne" in text, "her record is kept, in a store of her own"
    assert "Kanarienohne" not in dump_everything(profile.root, [planted])[0]
    write_record(profile, "anna", "Kanariendanach")
    assert "Kanariendanach" not in dump_everything(profile.root, [planted])[0]


def test_a_new_key_sealed_by_someone_who_cannot_open_the_store_is_never_taken(
    site: tuple[Profile, str],
) -> None:
    """The administrator seals a key of her choosing to the supervisor as the new key of
    anna's store, as if a re-key were unfinished: the supervisor's sign-in would finish
    it and hand the store to that key. It is refused and reported; the store keeps its
    key, and the supervisor still reads it."""
    profile, _ = site
    ws = Workspace.sign_in(profile, username="anna", password=own("anna"))
    sid = ws.scope.own or ""
    ws.close()
    chosen = new_store_key()
    Vault(profile.vault_path).seal_for_user("leitung", f"store:{sid}", chosen)
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    try:
        assert any("niemand eingetragen hat" in f for f in ws.scope.findings)
        assert sid in ws.scope.stores, "the store still opens for the supervisor"
    finally:
        ws.close()
    assert not key_opens(store_path(profile.root, sid), chosen)
    assert "Kanarienanna" not in dump_everything(profile.root, [chosen])[0]
    text, _names = what_she_reads(profile.root, "anna", own("anna"))
    assert "Kanarienanna" in text, "her store still opens for her"


def _site_sealed_keys(profile: Profile, private: EncryptionPrivateKey) -> list[bytes]:
    """Every store key in the vault file sealed to ``private``'s public key as the site's."""
    data = json.loads(profile.vault_path.read_text("utf-8"))
    found = []
    for sid, entry in data["stores"].items():
        try:
            found.append(
                SUITE.decrypt(
                    base64.b64decode(entry["site"]),
                    private.to_hpke(),
                    info=Vault._store_info(data, sid),
                )
            )
        except Exception:  # sealed to another key
            continue
    return found


@pytest.mark.parametrize("names", ["emptied", "removed"])
def test_her_new_store_is_not_sealed_to_a_site_key_swapped_into_the_file(
    site: tuple[Profile, str], names: str
) -> None:
    """Whoever writes the folder takes her names away (so that she gets a new store) and
    puts a site public key of her own into the file: the new store is sealed to the site
    key her bundle remembers, the change is reported, and nothing she writes opens with
    the swapped key, before or after a supervisor's sign-in."""
    profile, _ = site
    mine = EncryptionPrivateKey.generate()
    data, entry = _entry_of(profile, "anna")
    if names == "emptied":
        entry["own_stores"] = {}
    else:
        entry.pop("own_stores")
    site_entry = data["site"]
    assert isinstance(site_entry, dict)
    site_entry["public"] = base64.b64encode(mine.public_key().raw).decode("ascii")
    profile.vault_path.write_text(json.dumps(data), "utf-8")
    ws = Workspace.sign_in(profile, username="anna", password=own("anna"))
    try:
        assert any("Standortschlüssel" in f for f in ws.scope.findings)
    finally:
        ws.close()
    write_record(profile, "anna", "Kanariengetauscht")
    assert (
        "Kanariengetauscht"
        not in dump_everything(profile.root, _site_sealed_keys(profile, mine))[0]
    )
    Workspace.sign_in(profile, username="leitung", password=own("leitung")).close()
    write_record(profile, "anna", "Kanariennachher")
    text = dump_everything(profile.root, _site_sealed_keys(profile, mine))[0]
    assert "Kanariengetauscht" not in text and "Kanariennachher" not in text
    leitung_reads, _names = what_she_reads(profile.root, "leitung", own("leitung"))
    assert "Kanariengetauscht" in leitung_reads, "the real supervisor reads her new store"


def test_a_case_is_never_moved_into_a_store_planted_for_its_new_counsellor(
    site: tuple[Profile, str],
) -> None:
    """The administrator lists a store of her own making for anna, before anna's own,
    sealed to the real site key and without an owner confirmation (as a store from before
    confirmations): the supervisor's sign-in opens it. A case the supervisor moves to anna
    goes to anna's own store, never into the planted one."""
    profile, _ = site
    record_id = write_record(profile, "berta", "Kanarienumzug")
    ws = Workspace.sign_in(profile, username="anna", password=own("anna"))
    anna_id = ws.actor.user_id
    schema = client_schema()
    ws.close()
    planted = new_store_key()
    sid = "0" * 32  # listed before every real store
    data = json.loads(profile.vault_path.read_text("utf-8"))
    site_public = base64.b64decode(data["site"]["public"])
    create_store(store_path(profile.root, sid), planted, schema, site_public=site_public)
    Vault(profile.vault_path).add_store(sid, owner_id=anna_id, owner=None, key=planted)
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    try:
        assert sid in ws.scope.stores, "the planted store opens with the site key"
        assert anna_id in {uid for uid, _name in ws.move_targets(record_id)}
        ws.move_case(record_id, to_owner=anna_id)
    finally:
        ws.close()
    assert "Kanarienumzug" not in dump_everything(profile.root, [planted])[0]
    text, _names = what_she_reads(profile.root, "anna", own("anna"))
    assert "Kanarienumzug" in text, "the case is in anna's own store"
