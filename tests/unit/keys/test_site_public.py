"""The site and recovery public keys in ``vault.json`` decide nothing (docs/security.md,
"The site public key").

Each test is an administrator with the files and her own password: she writes a public
key of her own into ``site.public`` or ``recovery.public`` (and removes what would
betray it), lets the honest users sign in as on any working day, and then tries to open
what was sealed to her key, with the crypto library alone.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from pathlib import Path
from typing import Any

from intake_app.app import Workspace
from intake_app.storage import audit, users
from intake_app.storage import vault as vault_module
from intake_app.storage.profile import Profile
from intake_app.storage.vault import Vault
from intake_app.sync.keys import ENCRYPTION_PRIVATE_BYTES, SUITE, EncryptionPrivateKey
from tests.helpers.attacker import dump_everything, what_she_reads
from tests.helpers.key_site import PW, granted_second_supervisor, own, write_record


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _edit(path: Path, change: Any) -> None:
    data = json.loads(path.read_text("utf-8"))
    change(data)
    path.write_text(json.dumps(data, indent=2, sort_keys=True), "utf-8")


def _sign_in(profile: Profile, name: str) -> tuple[str, ...]:
    ws = Workspace.sign_in(profile, username=name, password=own(name))
    try:
        return tuple(ws.sign_in_result.integrity_messages)
    finally:
        ws.close()


def _store_keys_for(profile: Profile, site: EncryptionPrivateKey) -> list[bytes]:
    """Every store key sealed to ``site`` in the vault file as it is now."""
    data = json.loads(profile.vault_path.read_text("utf-8"))
    found = []
    for sid, entry in data["stores"].items():
        info = f"{vault_module.VAULT_FORMAT}|store|{data['vault_id']}|{sid}".encode("ascii")
        try:
            found.append(SUITE.decrypt(base64.b64decode(entry["site"]), site.to_hpke(), info=info))
        except Exception:  # not sealed to her key
            continue
    return found


def _site_sealed_to_recovery(profile: Profile, mine: EncryptionPrivateKey) -> bytes | None:
    data = json.loads(profile.vault_path.read_text("utf-8"))
    sealed = data["recovery"]["sealed"].get("site")
    if sealed is None:
        return None
    info = f"{vault_module.VAULT_FORMAT}|sealed|{data['vault_id']}|recovery|site".encode()
    try:
        return SUITE.decrypt(base64.b64decode(sealed), mine.to_hpke(), info=info)
    except Exception:  # sealed to the real recovery key
        return None


def test_a_recovery_public_key_swapped_gets_no_new_site_key(site: tuple[Profile, str]) -> None:
    """She writes her own key as the recovery key's, removes its MAC and starts a rotation
    (as deactivating anyone does): the supervisor's rotation does not seal the new site key
    to it, and it is reported."""
    profile, _ = site
    mine = EncryptionPrivateKey.generate()

    def change(v: dict[str, Any]) -> None:
        v["recovery"]["public"] = _b64(mine.public_key().raw)
        v["recovery"].pop("mac", None)
        v["site"]["rotate"] = True

    _edit(profile.vault_path, change)
    messages = _sign_in(profile, "leitung")
    assert any("Wiederherstellungsschlüssel" in m for m in messages), messages
    assert _site_sealed_to_recovery(profile, mine) is None, "the new site key reached her key"
    text, _ = what_she_reads(profile.root, "leitung", own("leitung"))
    assert "Kanarienanna" in text and "Kanarienberta" in text


def test_a_site_public_key_swapped_gets_no_store_key(site: tuple[Profile, str]) -> None:
    """She writes her own key as the site's and marks every store for a new key: the
    counsellors re-key their own stores at sign-in, and the supervisor re-seals every
    store to its owner; no store key is sealed to her key, and it is reported."""
    profile, _ = site
    mine = EncryptionPrivateKey.generate()

    def change(v: dict[str, Any]) -> None:
        v["site"]["public"] = _b64(mine.public_key().raw)
        for entry in v["stores"].values():
            entry["rekey"] = True

    _edit(profile.vault_path, change)
    for name in ("anna", "berta"):
        messages = _sign_in(profile, name)
        assert any("Standortschlüssel" in m for m in messages), messages
    assert _store_keys_for(profile, mine) == []

    def drop_owner_seals(v: dict[str, Any]) -> None:
        v["site"]["public"] = _b64(mine.public_key().raw)
        for user in v["users"].values():
            for name in [n for n in user["sealed"] if n.startswith("store:")]:
                del user["sealed"][name]

    _edit(profile.vault_path, drop_owner_seals)
    messages = _sign_in(profile, "leitung")
    assert any("Standortschlüssel" in m for m in messages), messages
    assert _store_keys_for(profile, mine) == []
    assert json.loads(profile.vault_path.read_text("utf-8"))["site"]["public"] != _b64(
        mine.public_key().raw
    ), "the holder wrote the real site public key back"
    text, _ = what_she_reads(profile.root, "leitung", own("leitung"))
    assert "Kanarienanna" in text and "Kanarienberta" in text


def test_a_site_key_of_her_own_sealed_to_the_supervisor_is_not_taken(
    site: tuple[Profile, str],
) -> None:
    """She seals a site key of her own to the real supervisor (anyone can seal to a public
    key), names it as the site's, removes the grants and marks the supervisor's own store
    for a new key: the supervisor's sign-in does not take that key, so nothing of hers is
    sealed to it."""
    profile, _ = site
    mine = EncryptionPrivateKey.generate()
    vault = Vault(profile.vault_path)
    ref = vault.user_ref("leitung")
    data = json.loads(profile.vault_path.read_text("utf-8"))
    public = vault_module.EncryptionPublicKey(base64.b64decode(data["users"][ref]["public"]))
    info = f"{vault_module.VAULT_FORMAT}|sealed|{data['vault_id']}|{ref}|site".encode()
    planted = _b64(SUITE.encrypt(mine.raw, public.to_hpke(), info=info))

    def change(v: dict[str, Any]) -> None:
        v["users"][ref]["sealed"]["site"] = planted
        v["site"]["public"] = _b64(mine.public_key().raw)
        del v["site"]["grants"]
        for entry in v["stores"].values():
            entry["rekey"] = True

    _edit(profile.vault_path, change)
    messages = _sign_in(profile, "leitung")
    assert any("nicht der dieses Standorts" in m for m in messages), messages
    assert _store_keys_for(profile, mine) == []


def test_site_seals_name_the_recovery_key(site: tuple[Profile, str]) -> None:
    """A seal of the site key carries the SHA-256 of the recovery key's public key, so a
    holder vouches for it with what only a holder can make."""
    profile, _ = site
    vault = Vault(profile.vault_path)
    opened = vault.unlock_user("leitung", own("leitung"))
    assert len(opened.sealed["site"]) == ENCRYPTION_PRIVATE_BYTES + 32
    digest = opened.site_recovery_digest()
    assert digest is not None and vault.recovery_digest_matches(digest)


def test_a_deleted_pin_leaves_the_pin_inside_the_store(site: tuple[Profile, str]) -> None:
    """She deletes the pins in ``vault.json`` too: the store itself keeps the site key it is
    sealed to, which nobody without its key removes, so the counsellors' re-keys still go
    to the real site key."""
    profile, _ = site
    mine = EncryptionPrivateKey.generate()

    def change(v: dict[str, Any]) -> None:
        v["site"]["public"] = _b64(mine.public_key().raw)
        for entry in v["stores"].values():
            entry.pop("site_pin", None)
            entry["rekey"] = True

    _edit(profile.vault_path, change)
    for name in ("anna", "berta"):
        messages = _sign_in(profile, name)
        assert any("Standortschlüssel" in m for m in messages), messages
    assert _store_keys_for(profile, mine) == []
    text, _ = what_she_reads(profile.root, "leitung", own("leitung"))
    assert "Kanarienanna" in text and "Kanarienberta" in text


def test_a_grant_names_the_recovery_key_of_the_granting_seal(site: tuple[Profile, str]) -> None:
    """She swaps the recovery public key while the supervisor's program is open, just
    before the supervisor grants the site key to a colleague: the new seal names the
    recovery key of the supervisor's own seal, so the colleague's rotation leaves her key
    out."""
    profile, _ = site
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    ws.accounts.add_user(username="zweite", role="supervisor", password=f"{PW}-zweite-start")
    ws.close()
    ws = Workspace.sign_in(profile, username="zweite", password=f"{PW}-zweite-start")
    ws.accounts.set_own_password(own("zweite"))
    ws.close()
    mine = EncryptionPrivateKey.generate()
    real: dict[str, str] = {}

    def swap(v: dict[str, Any]) -> None:
        real["public"] = v["recovery"]["public"]
        v["recovery"]["public"] = _b64(mine.public_key().raw)
        v["recovery"].pop("mac", None)

    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    try:
        _edit(profile.vault_path, swap)
        ws.grant_site_key("zweite")
    finally:
        ws.close()
    Vault(profile.vault_path).request_site_rotation()
    messages = _sign_in(profile, "zweite")
    assert any("Wiederherstellungsschlüssel" in m for m in messages), messages
    assert _site_sealed_to_recovery(profile, mine) is None


def test_a_forged_previous_site_key_does_not_stop_a_rotation(site: tuple[Profile, str]) -> None:
    """A supervisor leaves with a copy of the vault; the administrator plants a "previous
    site key" (anyone can seal one to the site's public key) so that the rotation looks
    unfinished: it is not taken as one, the site key is replaced, and her copy opens no
    store."""
    profile, _ = site
    granted_second_supervisor(profile)
    _sign_in(profile, "zweite")
    kept = Vault(profile.vault_path).unlock_user("zweite", own("zweite")).site_private()
    assert kept is not None
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    ws.accounts.deactivate(username="zweite")
    ws.close()
    vault = Vault(profile.vault_path)

    def plant(v: dict[str, Any]) -> None:
        public = vault_module.EncryptionPublicKey(base64.b64decode(v["site"]["public"]))
        v["site"]["previous"] = _b64(
            SUITE.encrypt(
                EncryptionPrivateKey.generate().raw, public.to_hpke(), info=vault._site_info(v)
            )
        )

    _edit(profile.vault_path, plant)
    _sign_in(profile, "leitung")
    assert _store_keys_for(profile, kept) == [], "her old site key still opens a store"
    text, _ = what_she_reads(profile.root, "leitung", own("leitung"))
    assert "Kanarienanna" in text and "Kanarienberta" in text


def test_a_new_counsellors_store_sealed_to_a_swapped_key_gets_a_new_key(
    site: tuple[Profile, str],
) -> None:
    """Trust on first use: she swaps the site public key while a new counsellor signs in
    for the first time, takes the new store's key with her own key, and covers up (seals
    it to the real site key, restores the file). The next holder sign-in reports it and
    gives the store a new key: her copy opens nothing written after."""
    profile, _ = site
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    ws.accounts.add_user(username="clara", role="counsellor", password=f"{PW}-clara-start")
    ws.close()
    mine = EncryptionPrivateKey.generate()
    data = json.loads(profile.vault_path.read_text("utf-8"))
    real, before = data["site"]["public"], set(data["stores"])
    _edit(profile.vault_path, lambda v: v["site"].update(public=_b64(mine.public_key().raw)))
    ws = Workspace.sign_in(profile, username="clara", password=f"{PW}-clara-start")
    ws.accounts.set_own_password(own("clara"))
    ws.close()
    taken = _store_keys_for(profile, mine)
    assert len(taken) == 1, "trust on first use: the new store went to the file's key"

    def cover_up(v: dict[str, Any]) -> None:
        (sid,) = [s for s in v["stores"] if s not in before]
        info = f"{vault_module.VAULT_FORMAT}|store|{v['vault_id']}|{sid}".encode("ascii")
        public = vault_module.EncryptionPublicKey(base64.b64decode(real))
        v["stores"][sid]["site"] = _b64(SUITE.encrypt(taken[0], public.to_hpke(), info=info))
        v["stores"][sid].pop("site_pin", None)
        v["site"]["public"] = real

    _edit(profile.vault_path, cover_up)
    messages = _sign_in(profile, "leitung")
    assert any("Standortschlüssel" in m for m in messages), messages
    write_record(profile, "clara", "Kanarienclara")
    text, _ = what_she_reads(profile.root, "leitung", own("leitung"))
    assert "Kanarienclara" in text
    assert "Kanarienclara" not in dump_everything(profile.root, taken)[0]


def test_a_move_journal_not_written_by_the_program_is_not_followed(
    site: tuple[Profile, str],
) -> None:
    """A counsellor (her own password, write access to the folder) writes a move journal
    that sends a colleague's case to her own store, in the supervisor's name: the
    supervisor's sign-in does not follow it (it carries no MAC under the site key), and
    says so."""
    profile, _ = site
    ws = Workspace.sign_in(profile, username="berta", password=own("berta"))
    with ws.db.read() as session:
        ids = {u.username: u.id for u in users.list_all(session)}
        created = [
            e.subject_id
            for e in audit.iter_entries(session)
            if e.action == "record_created" and e.actor == "anna"
        ]
    ws.close()
    data = json.loads(profile.vault_path.read_text("utf-8"))
    by_owner = {entry["owner"]: sid for sid, entry in data["stores"].items()}
    journal = {
        "move": uuid.uuid4().hex,
        "record": created[0],
        "source": by_owner[ids["anna"]],
        "target": by_owner[ids["berta"]],
        "from_owner": ids["anna"],
        "to_owner": ids["berta"],
        "actor": "leitung",
        "ts": time.time(),
    }
    (profile.root / "stores" / f"move-{journal['move']}.json").write_text(
        json.dumps(journal), "utf-8"
    )
    messages = _sign_in(profile, "leitung")
    assert any("Übergabe-Protokoll" in m for m in messages), messages
    text, _ = what_she_reads(profile.root, "berta", own("berta"))
    assert "Kanarienanna" not in text
    text, _ = what_she_reads(profile.root, "anna", own("anna"))
    assert "Kanarienanna" in text
