"""A store is a colleague's only when she signed it (storage/owners.py).

Tried as attacker run 15 did: a counsellor holds her own store's key, so she can rewrite
every MAC that key makes. In ``vault.json`` she gives her own store her colleague's user
id, with an owner confirmation and her colleague's vault key, seals the store key to her
colleague, and takes the owner confirmation off her colleague's real store. A supervisor
then gives a case to the colleague. The case must land in the colleague's real store,
and nothing of it may open with the counsellor's key.
"""

from __future__ import annotations

import base64
import hashlib
import json

from intake_app.app import Workspace
from intake_app.storage import users
from intake_app.storage.profile import Profile
from intake_app.storage.vault import Vault
from tests.helpers.attacker import dump_everything, mint_key
from tests.helpers.key_site import own

CANARY = "Kanarienleitung"


def _vault(profile: Profile) -> dict:
    return json.loads((profile.root / "vault.json").read_text("utf-8"))


def _store_of(profile: Profile, user: str) -> tuple[str, bytes]:
    """Her own store's id and key, opened with her password alone."""
    vault = Vault(profile.root / "vault.json")
    keys = vault.unlock_user(user, own(user))
    data = _vault(profile)
    ws = Workspace.sign_in(profile, username=user, password=own(user))
    uid = ws.actor.user_id
    ws.close()
    (sid,) = [sid for sid, entry in data["stores"].items() if entry["owner"] == uid]
    key = vault.open_store_key(keys, sid)
    assert key is not None
    return sid, key


def _relabel(profile: Profile, *, attacker: str, victim: str, victim_id: int) -> bytes:
    """The attack: her store becomes the victim's in the vault; returns her store key."""
    sid, key = _store_of(profile, attacker)
    data = _vault(profile)
    ref = Vault._ref(data, victim)
    owner_key = hashlib.sha256(str(data["users"][ref]["public"]).encode("ascii")).hexdigest()
    entry = data["stores"][sid]
    real = [s for s, e in data["stores"].items() if e["owner"] == victim_id]
    entry["owner"] = victim_id
    entry["owner_key"] = owner_key
    entry["owner_mac"] = base64.b64encode(
        Vault._owner_mac(data, sid, victim_id, key, owner_key)
    ).decode()
    # the victim's own signature, copied over: it names the other store and identity
    if real and "owner_sig" in data["stores"][real[0]]:
        entry["owner_sig"] = dict(data["stores"][real[0]]["owner_sig"])
    for other in real:
        data["stores"][other].pop("owner_mac", None)
        data["stores"][other].pop("owner_key", None)
    data["users"][ref]["sealed"][f"store:{sid}"] = Vault(profile.root / "vault.json")._seal(
        data, ref, f"store:{sid}", key
    )
    (profile.root / "vault.json").write_text(json.dumps(data), "utf-8")
    return key


def test_a_case_moved_to_a_colleague_never_lands_in_a_store_relabelled_as_hers(
    site: tuple[Profile, str],
) -> None:
    profile, _ = site
    ws = Workspace.sign_in(profile, username="berta", password=own("berta"))
    berta_id = ws.actor.user_id
    ws.close()
    # the supervisor has worked with the site key before (it vouches for the stores' keys)
    Workspace.sign_in(profile, username="leitung", password=own("leitung")).close()
    anna_key = _relabel(profile, attacker="anna", victim="berta", victim_id=berta_id)

    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    try:
        record_id = ws.new_intake()
        answers = dict(ws.records.get(record_id).answers)
        answers["family_name"] = CANARY
        ws.records.save(record_id, answers=answers)
        ws.move_case_to(record_id, "berta")
    finally:
        ws.close()

    ws = Workspace.sign_in(profile, username="berta", password=own("berta"))
    try:
        assert ws.records.get(record_id).answers["family_name"] == CANARY
    finally:
        ws.close()
    text, files = dump_everything(profile.root, [anna_key])
    assert files, "her own key opens her own store"
    assert CANARY.lower() not in text.lower()


def test_a_store_without_its_owners_signature_is_no_move_target(
    site: tuple[Profile, str],
) -> None:
    profile, _ = site
    ws = Workspace.sign_in(profile, username="berta", password=own("berta"))
    berta_id = ws.actor.user_id
    ws.close()
    data = _vault(profile)
    for entry in data["stores"].values():
        if entry["owner"] == berta_id:
            entry.pop("owner_sig")
    (profile.root / "vault.json").write_text(json.dumps(data), "utf-8")

    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    try:
        record_id = ws.new_intake()
        assert berta_id not in {uid for uid, _name in ws.move_targets(record_id)}
    finally:
        ws.close()
    # her next sign-in signs her store again, and it is a target once more
    Workspace.sign_in(profile, username="berta", password=own("berta")).close()
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    try:
        assert berta_id in {uid for uid, _name in ws.move_targets(record_id)}
    finally:
        ws.close()


def test_her_signature_names_her_store_after_a_rekey(site: tuple[Profile, str]) -> None:
    """A re-key keeps the store's identity, and with it her signature."""
    profile, _ = site
    data = _vault(profile)
    signed = {sid: dict(e["owner_sig"]) for sid, e in data["stores"].items() if "owner_sig" in e}
    assert len(signed) >= 2  # anna's and berta's (and the supervisor's)
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    try:
        ws.accounts.reset_password(username="anna", password="Schluessel-Test-2026-anna-neu")
    finally:
        ws.close()
    Workspace.sign_in(profile, username="leitung", password=own("leitung")).close()
    after = _vault(profile)
    rekeyed = [sid for sid in signed if after["stores"][sid]["site"] != data["stores"][sid]["site"]]
    assert rekeyed, "the reset re-keys her store at the supervisor's sign-in"
    for sid, sig in signed.items():
        assert after["stores"][sid].get("owner_sig") == sig


def test_a_key_the_administrator_certified_for_her_does_not_sign_her_stores(
    site: tuple[Profile, str],
) -> None:
    """Attacker run 18: every administrator holds the profile root, which certifies any key
    for anyone. Only the key berta's signed row names counts for her store's signature."""
    profile, _ = site
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    try:
        mint_key(ws, "berta")
        with ws.db.read() as session:
            berta = users.get_by_name(session, username="berta")
            assert berta is not None and berta.id is not None
            berta_id, current = berta.id, berta.key_id
    finally:
        ws.close()
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    try:
        assert set(ws._certified_keys()[berta_id]) == {current}
    finally:
        ws.close()
