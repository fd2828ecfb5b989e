"""A former colleague's vault entry put back gets no later profile key (app.py,
``_profile_seals_checked``).

Tried as attacker run 18 did: berta kept a copy of the profile folder; she is deactivated.
She puts her old vault entry back into ``vault.json`` and sets the plain flag that asks for
a re-key of the profile database. The next colleague's sign-in re-keyed the database and
sealed the new key to every entry, hers included, so her old password opened what was
written after she left. Now only entries of users the signed state names as active keep
the profile key: a seal to any other one makes a new key at once, and it is reported.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from intake_app.app import Workspace
from intake_app.errors import ProfileError
from intake_app.storage.profile import Profile
from tests.helpers.attacker import keys_for, profile_opens_with
from tests.helpers.key_site import own


def test_a_former_colleagues_entry_put_back_opens_nothing_written_later(
    site: tuple[Profile, str], tmp_path: Path
) -> None:
    profile, _ = site
    kept = tmp_path / "kept-vault.json"
    shutil.copy2(profile.root / "vault.json", kept)
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    try:
        ws.accounts.deactivate(username="berta")
    finally:
        ws.close()
    # the attack: her old entry back, and the plain flag that asks for a re-key
    old = json.loads(kept.read_text("utf-8"))
    data = json.loads((profile.root / "vault.json").read_text("utf-8"))
    berta_refs = set(old["users"]) - set(data["users"])
    assert len(berta_refs) == 1
    for ref in berta_refs:
        data["users"][ref] = old["users"][ref]
    data["profile_rekey_due"] = True
    (profile.root / "vault.json").write_text(json.dumps(data), "utf-8")

    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    try:
        assert any("Profildatenbank" in m for m in ws.sign_in_result.integrity_messages)
    finally:
        ws.close()
    try:
        hers = keys_for(profile.root / "vault.json", "berta", own("berta"))
    except ProfileError:  # her entry without the profile seal no longer opens at all
        hers = []
    assert not profile_opens_with(profile, hers)
    assert profile_opens_with(
        profile, keys_for(profile.root / "vault.json", "leitung", own("leitung"))
    )
