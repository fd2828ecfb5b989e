"""A former colleague's public key put into an active colleague's vault entry gets no later
profile key (``vault_trust.profile_recipients``, docs/security.md, "Signed vault keys").

Tried as attacker run 19 did: berta kept a copy of the profile folder; she is deactivated.
She (or anyone who writes the folder) puts her old vault public key into anna's entry and
sets the plain flag that asks for a re-key of the profile database. The next sign-in
sealed the new key to every entry of an active user, so to her key inside anna's entry,
and her old private key opened what was written after she left. Now a new profile key
goes only to entries whose public key carries its owner's signature; anna's, carrying
berta's key, gets none, and the one who re-keyed is told that anna needs a new password.
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest

from intake_app.app import Workspace
from intake_app.storage.profile import Profile
from intake_app.storage.vault import SUITE, Vault
from tests.helpers.attacker import keys_for, profile_opens_with
from tests.helpers.key_site import own


def _her_private(kept: Path, tmp_path: Path) -> object:
    """berta's old vault private key, from her copy of the folder and her password."""
    copy = tmp_path / "her-vault.json"
    shutil.copy2(kept, copy)
    keys = Vault(copy).unlock_user("berta", own("berta"))
    assert keys.private is not None
    return keys.private


def _what_her_key_opens(profile: Profile, private: object) -> list[bytes]:
    """Every ``profile`` seal in the vault that her old private key opens."""
    data = json.loads((profile.root / "vault.json").read_text("utf-8"))
    opened = []
    for ref, entry in data["users"].items():
        sealed = entry.get("sealed", {}).get("profile")
        if sealed is None:
            continue
        info = f"{data['format']}|sealed|{data['vault_id']}|{ref}|profile".encode()
        try:
            opened.append(
                SUITE.decrypt(base64.b64decode(sealed), private.to_hpke(), info=info)  # type: ignore[attr-defined]
            )
        except Exception:
            continue
    return opened


@pytest.mark.parametrize(
    ("keep_signature", "rekey"),
    [(True, "flag"), (False, "flag"), (True, "deactivation")],
)
def test_a_former_colleagues_key_in_an_active_entry_gets_no_new_profile_key(
    site: tuple[Profile, str], tmp_path: Path, keep_signature: bool, rekey: str
) -> None:
    """``rekey``: the plain flag asks the next sign-in for it, or the administrator
    deactivates another user and re-keys at once (she is told who was left out)."""
    profile, _ = site
    kept = tmp_path / "kept-vault.json"
    shutil.copy2(profile.root / "vault.json", kept)
    her_private = _her_private(kept, tmp_path)
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    try:
        anna_ref = ws.vault.user_ref("anna")
        berta_ref = ws.vault.user_ref("berta")
        ws.accounts.deactivate(username="berta")
        assert ws.accounts.withheld == []  # every active user had signed her own key
    finally:
        ws.close()
    assert not _what_her_key_opens(profile, her_private)

    # the attack: her old public key into anna's entry, and the plain re-key flag
    old = json.loads(kept.read_text("utf-8"))
    data = json.loads((profile.root / "vault.json").read_text("utf-8"))
    data["users"][anna_ref]["public"] = old["users"][berta_ref]["public"]
    if not keep_signature:
        data["users"][anna_ref].pop("public_sig", None)
    if rekey == "flag":
        data["profile_rekey_due"] = True
    (profile.root / "vault.json").write_text(json.dumps(data), "utf-8")

    if rekey == "flag":
        ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
        try:
            notes = " ".join(ws.sign_in_result.integrity_messages)
            assert "anna" in notes and "vault.json" in notes
        finally:
            ws.close()
    else:
        ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
        try:
            for name in ("carla", "dora"):
                ws.accounts.add_user(username=name, role="counsellor", password=own(name))
            ws.accounts.deactivate(username="carla")
            assert ws.accounts.withheld == ["anna"]
        finally:
            ws.close()
        # dora, new and not signed in yet, got the new key: the administrator signed
        # her provisional key pair when she made it
        Workspace.sign_in(profile, username="dora", password=own("dora")).close()
    assert not profile_opens_with(profile, _what_her_key_opens(profile, her_private))
    leitung = keys_for(profile.root / "vault.json", "leitung", own("leitung"))
    assert profile_opens_with(profile, leitung)


def test_her_first_days_entry_put_back_after_a_reset_gets_no_new_profile_key(
    site: tuple[Profile, str], tmp_path: Path
) -> None:
    """Attacker run 22: carla kept a copy of her provisional entry from her first day
    (the administrator's signature over its key pair in it) and the first password.
    After a reset locked her out, she put that entry back; the next re-key sealed the new
    profile key to it. Now the administrator's signature names the signing key she
    issued with the pair, which the reset replaced: the entry counts for nothing."""
    profile, _ = site
    first = own("carla-start")
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    try:
        ws.accounts.add_user(username="carla", role="counsellor", password=first)
        carla_ref = ws.vault.user_ref("carla")
    finally:
        ws.close()
    day_one = json.loads((profile.root / "vault.json").read_text("utf-8"))["users"][carla_ref]
    ws = Workspace.sign_in(profile, username="carla", password=first)
    try:
        ws.accounts.set_own_password(own("carla"))
    finally:
        ws.close()
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    try:
        ws.accounts.reset_password(username="carla", password=own("carla-reset"))
    finally:
        ws.close()
    # the attack: her first day's entry back; the next re-key comes with a deactivation
    data = json.loads((profile.root / "vault.json").read_text("utf-8"))
    data["users"][carla_ref] = day_one
    (profile.root / "vault.json").write_text(json.dumps(data), "utf-8")
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    try:
        ws.accounts.deactivate(username="berta")
        assert ws.accounts.withheld == ["carla"]
    finally:
        ws.close()
    try:
        hers = keys_for(profile.root / "vault.json", "carla", first)
    except Exception:
        hers = []
    assert not profile_opens_with(profile, hers)
