"""A changed ``vault.json`` must not make anyone seal a key to the attacker.

The attacker is a counsellor with the profile folder, her password and the crypto
library (tests/helpers/attacker.py). She puts a public key of her own into a colleague's
vault entry and removes the colleague's store seal; the next supervisor who signs in would
seal the colleague's store key to that public key again. A vault public key counts only
when its owner signed it with her certified signing key (docs/security.md, "Signed vault
keys").
"""

from __future__ import annotations

import base64
import json

import pytest

from intake_app.app import Workspace
from intake_app.errors import ConflictError
from intake_app.storage.profile import Profile
from intake_app.storage.records import RecordQuery
from intake_app.storage.vault import SUITE, Vault
from intake_app.sync.keys import EncryptionPrivateKey
from tests.helpers.attacker import dump_everything
from tests.helpers.key_site import own


def _swap_public_key(profile: Profile, victim: str) -> EncryptionPrivateKey:
    """Put a new key pair's public key into ``victim``'s entry and drop her store seals;
    return the private key (the attacker keeps it)."""
    vault = Vault(profile.vault_path)
    ref = vault.user_ref(victim)
    data = json.loads(profile.vault_path.read_text("utf-8"))
    mine = EncryptionPrivateKey.generate()
    entry = data["users"][ref]
    entry["public"] = base64.b64encode(mine.public_key().raw).decode("ascii")
    entry["sealed"] = {k: v for k, v in entry["sealed"].items() if not k.startswith("store:")}
    profile.vault_path.write_text(json.dumps(data), "utf-8")
    return mine


def _what_the_planted_key_opens(profile: Profile, victim: str, mine: EncryptionPrivateKey) -> str:
    vault = Vault(profile.vault_path)
    ref = vault.user_ref(victim)
    data = json.loads(profile.vault_path.read_text("utf-8"))
    keys = []
    site = None
    for name, sealed in data["users"][ref]["sealed"].items():
        info = f"intake-vault|sealed|{data['vault_id']}|{ref}|{name}".encode()
        try:
            secret = SUITE.decrypt(base64.b64decode(sealed), mine.to_hpke(), info=info)
        except Exception:
            continue
        keys.append(secret)
        if name == "site":
            site = EncryptionPrivateKey(secret)
    if site is not None:  # the site key opens every store key
        for sid, entry in data.get("stores", {}).items():
            info = f"intake-vault|store|{data['vault_id']}|{sid}".encode()
            keys.append(SUITE.decrypt(base64.b64decode(entry["site"]), site.to_hpke(), info=info))
    text, _ = dump_everything(profile.root, [k for k in keys if len(k) == 32])
    return text


def test_a_planted_public_key_receives_no_store_key(site: tuple[Profile, str]) -> None:
    profile, _ = site
    mine = _swap_public_key(profile, "berta")
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    try:
        assert ws.records.count(RecordQuery()) == 2  # she still reads both
    finally:
        ws.close()
    text = _what_the_planted_key_opens(profile, "berta", mine)
    assert "Kanarienberta" not in text, "the supervisor sealed berta's store to a planted key"


def test_a_planted_public_key_receives_no_site_key(site: tuple[Profile, str]) -> None:
    profile, _ = site
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    ws.accounts.add_user(username="neu", role="supervisor", password="Schluessel-Test-2026-neu")
    ws.close()
    ws = Workspace.sign_in(profile, username="neu", password="Schluessel-Test-2026-neu")
    ws.accounts.set_own_password(own("neu"))
    ws.close()
    mine = _swap_public_key(profile, "neu")
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    try:
        with pytest.raises(ConflictError, match=r"vault\.json"):
            ws.grant_site_key("neu")
    finally:
        ws.close()
    text = _what_the_planted_key_opens(profile, "neu", mine)
    assert "Kanarienanna" not in text and "Kanarienberta" not in text
