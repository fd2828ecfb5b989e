"""A supervisor who left keeps the site key she held (docs/security.md, "A holder who
left"): with it she can rewrite whatever the vault authenticates with that key, and
nothing in the file alone can be trusted to say that a new site key is due. The next
holder's sign-in makes one all the same, from the signed audit entry of her deactivation
and from what the holder's own bundle remembers."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable

import pytest

from intake_app.app import Workspace
from intake_app.storage.profile import Profile
from intake_app.storage.vault import UserKeys, Vault
from intake_app.sync.keys import SUITE, EncryptionPrivateKey
from tests.helpers.attacker import dump_everything, what_she_reads
from tests.helpers.key_site import granted_second_supervisor, own, write_record


def _store_keys_through(profile: Profile, site: EncryptionPrivateKey) -> list[bytes]:
    vault = Vault(profile.vault_path)
    keys = UserKeys(ref="x", profile_key=b"", private=None, sealed={"site": site.raw}, bundle={})
    found = []
    for sid in vault.stores():
        try:
            key = vault.open_store_key(keys, sid)
        except Exception:  # sealed to another site key
            continue
        if key is not None:
            found.append(key)
    return found


def _leitung_leaves(
    profile: Profile, *, remembered: bool, just_before: Callable[[], None] = lambda: None
) -> EncryptionPrivateKey:
    """leitung grants zweite the site key, keeps it herself and is deactivated; return the
    site key she kept. ``remembered``: zweite signed in as a holder before that, so her
    bundle remembers the site key, its holders and the recovery key. ``just_before`` runs
    right before the deactivation."""
    granted_second_supervisor(profile, "zweite")
    if remembered:
        Workspace.sign_in(profile, username="zweite", password=own("zweite")).close()
    kept = Vault(profile.vault_path).unlock_user("leitung", own("leitung")).site_private()
    assert kept is not None
    just_before()
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    try:
        ws.accounts.deactivate(username="leitung")
    finally:
        ws.close()
    return kept


def _assert_recovery_seal_does_not_open(
    profile: Profile, name: str, private: EncryptionPrivateKey
) -> None:
    """The recovery key's seal ``name`` is gone, or does not open with ``private``."""
    data = json.loads(profile.vault_path.read_text("utf-8"))
    sealed = data["recovery"]["sealed"].get(name)
    if sealed is not None:
        with pytest.raises(Exception):  # noqa: B017 - any failure to open will do
            SUITE.decrypt(
                base64.b64decode(sealed),
                private.to_hpke(),
                info=Vault._seal_info(data, "recovery", name),
            )


@pytest.mark.parametrize(
    "tamper", ["rotation_request_removed", "previous_key_planted", "another_site_key_named"]
)
@pytest.mark.parametrize("remembered", [False, True], ids=["first-sign-in", "remembered"])
def test_a_supervisor_who_left_reads_nothing_written_after_the_next_holder_signed_in(
    site: tuple[Profile, str], tamper: str, remembered: bool
) -> None:
    profile, _ = site
    real = json.loads(profile.vault_path.read_text("utf-8"))["site"]["public"]

    def name_another_site_key() -> None:
        # before she leaves, the file names another site key, so that the signed entry of
        # her departure names that one; she puts the real one back afterwards
        data = json.loads(profile.vault_path.read_text("utf-8"))
        junk = EncryptionPrivateKey.generate().public_key().raw
        data["site"]["public"] = base64.b64encode(junk).decode("ascii")
        profile.vault_path.write_text(json.dumps(data), "utf-8")

    kept = _leitung_leaves(
        profile,
        remembered=remembered,
        just_before=name_another_site_key if tamper == "another_site_key_named" else lambda: None,
    )
    data = json.loads(profile.vault_path.read_text("utf-8"))
    if tamper == "another_site_key_named":
        data["site"]["public"] = real
        data["site"]["rotate"] = False
    elif tamper == "rotation_request_removed":
        data["site"]["rotate"] = False
    else:  # an "unfinished rotation", authenticated with the key she kept
        junk = EncryptionPrivateKey.generate()
        data["site"]["previous"] = base64.b64encode(
            SUITE.encrypt(junk.raw, kept.public_key().to_hpke(), info=Vault._site_info(data))
        ).decode("ascii")
        data["site"]["previous_mac"] = base64.b64encode(Vault._previous_mac(data, kept)).decode(
            "ascii"
        )
    profile.vault_path.write_text(json.dumps(data), "utf-8")
    Workspace.sign_in(profile, username="zweite", password=own("zweite")).close()
    after = json.loads(profile.vault_path.read_text("utf-8"))
    assert after["site"]["public"] != base64.b64encode(kept.public_key().raw).decode("ascii")
    write_record(profile, "anna", "Kanariennachher")
    text = dump_everything(profile.root, _store_keys_through(profile, kept))[0]
    assert "Kanariennachher" not in text
    # every record, from before and after, stays readable for the site, with the new key
    text, _names = what_she_reads(profile.root, "zweite", own("zweite"))
    assert all(name in text for name in ("Kanarienanna", "Kanarienberta", "Kanariennachher"))


@pytest.mark.parametrize("remembered", [False, True], ids=["first-sign-in", "remembered"])
def test_a_recovery_key_swapped_into_her_seal_gets_no_new_site_key(
    site: tuple[Profile, str], remembered: bool
) -> None:
    """leitung, who left, seals the site key she kept to zweite anew, naming a recovery
    key of her own, and puts that key's public half into the file with its MAC: zweite's
    bundle remembers the real one, or the signed entry of leitung's deactivation names it;
    the change is reported, and the new site key does not go to the swapped one."""
    profile, _ = site
    kept = _leitung_leaves(profile, remembered=remembered)
    mine = EncryptionPrivateKey.generate()
    data = json.loads(profile.vault_path.read_text("utf-8"))
    data["recovery"]["public"] = base64.b64encode(mine.public_key().raw).decode("ascii")
    data["recovery"]["mac"] = base64.b64encode(Vault._recovery_mac(data, kept)).decode("ascii")
    profile.vault_path.write_text(json.dumps(data), "utf-8")
    vault = Vault(profile.vault_path)
    digest = hashlib.sha256(mine.public_key().raw).digest()
    vault.seal_for_user("zweite", "site", kept.raw + digest)
    ws = Workspace.sign_in(profile, username="zweite", password=own("zweite"))
    try:
        assert any("Wiederherstellungsschlüssels" in f for f in ws.scope.findings)
    finally:
        ws.close()
    _assert_recovery_seal_does_not_open(profile, "site", mine)
    write_record(profile, "anna", "Kanarienwiederher")
    text = dump_everything(profile.root, _store_keys_through(profile, kept))[0]
    assert "Kanarienwiederher" not in text


def test_a_profile_re_key_never_seals_the_new_key_to_a_swapped_recovery_key(
    site: tuple[Profile, str],
) -> None:
    """Whoever writes the folder puts a recovery public key of her own into the file (no
    MAC is needed for that): the administrator's next deactivation re-keys the profile
    database, and the new key is sealed only to the recovery key her bundle remembers."""
    profile, _ = site
    Workspace.sign_in(profile, username="admin", password=own("admin")).close()
    mine = EncryptionPrivateKey.generate()
    data = json.loads(profile.vault_path.read_text("utf-8"))
    data["recovery"]["public"] = base64.b64encode(mine.public_key().raw).decode("ascii")
    profile.vault_path.write_text(json.dumps(data), "utf-8")
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    try:
        ws.accounts.deactivate(username="berta")
    finally:
        ws.close()
    _assert_recovery_seal_does_not_open(profile, "profile", mine)


@pytest.mark.parametrize("who", ["new", "reset"])
def test_a_first_sign_in_never_seals_the_new_profile_key_to_a_planted_recovery_key(
    site: tuple[Profile, str], who: str
) -> None:
    """Attacker run 20: after she left, a former colleague put a recovery public key of her
    own into the file and set the plain re-key flag, just before a new (or reset) user's
    first sign-in. That sign-in remembered no recovery key and sealed the new profile key
    to hers. Now the administrator gives the new bundle the recovery key she remembers,
    so the planted one gets nothing."""
    profile, _ = site
    name = "clara" if who == "new" else "anna"
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    try:
        ws.accounts.deactivate(username="berta")
        if who == "new":
            ws.accounts.add_user(username=name, role="counsellor", password=own("start"))
        else:
            ws.accounts.reset_password(username=name, password=own("start"))
    finally:
        ws.close()
    mine = EncryptionPrivateKey.generate()
    data = json.loads(profile.vault_path.read_text("utf-8"))
    data["recovery"]["public"] = base64.b64encode(mine.public_key().raw).decode("ascii")
    data["profile_rekey_due"] = True
    profile.vault_path.write_text(json.dumps(data), "utf-8")

    ws = Workspace.sign_in(profile, username=name, password=own("start"))
    try:
        ws.accounts.set_own_password(own(name) + "-neu")
    finally:
        ws.close()
    _assert_recovery_seal_does_not_open(profile, "profile", mine)
    assert "profile_rekey_due" not in json.loads(profile.vault_path.read_text("utf-8"))
