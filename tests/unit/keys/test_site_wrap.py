"""Store keys kept wrapped under the site key (the supervisor's sign-in opens them without
an HPKE decryption each): the same keys as the seals, only for holders of the site key,
and a changed wrap falls back to the seal."""

from __future__ import annotations

import base64
import json

from intake_app.app import Workspace
from intake_app.storage.profile import Profile
from intake_app.storage.records import RecordQuery
from tests.helpers.attacker import what_she_reads
from tests.helpers.key_site import own


def test_wraps_hold_the_sealed_keys_and_a_changed_wrap_is_not_used(
    site: tuple[Profile, str],
) -> None:
    profile, _ = site
    Workspace.sign_in(profile, username="leitung", password=own("leitung")).close()
    data = json.loads(profile.vault_path.read_text("utf-8"))
    assert data["stores"] and all("site_wrap" in e for e in data["stores"].values())
    vault = profile.vault()
    keys = vault.unlock_user("leitung", own("leitung"))
    with_wraps = vault.key_map(keys)
    for entry in data["stores"].values():  # a planted wrap: another key, or garbage
        entry["site_wrap"]["ciphertext"] = base64.b64encode(b"\0" * 48).decode("ascii")
    profile.vault_path.write_text(json.dumps(data), "utf-8")
    assert profile.vault().key_map(keys) == with_wraps  # the seals give the same keys
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    try:
        assert ws.records.count(RecordQuery()) == 2
    finally:
        ws.close()
    # a counsellor's keys open no wrap: she still reads only her own records
    text, _ = what_she_reads(profile.root, "anna", own("anna"))
    assert "Kanarienanna" in text and "Kanarienberta" not in text
