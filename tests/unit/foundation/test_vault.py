"""The key vault: wrap, unwrap, re-wrap, recovery key, throttle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from intake_app.errors import AuthError, ProfileError
from intake_app.storage.vault import (
    FREE_ATTEMPTS,
    KdfParams,
    UserKeys,
    Vault,
    format_recovery_key,
    new_database_key,
    parse_recovery_key,
    throttle_delay,
)
from intake_app.sync.keys import EncryptionPrivateKey


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def _private(keys: UserKeys) -> EncryptionPrivateKey:
    assert keys.private is not None
    return keys.private


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def vault_and_key(tmp_path: Path, clock: FakeClock) -> tuple[Vault, bytes, str]:
    key = new_database_key()
    vault, recovery = Vault.create(
        tmp_path / "vault.json",
        db_key=key,
        username="Admin",
        password="richtiges-pw-1",
        clock=clock,
    )
    return vault, key, recovery


def test_right_password_returns_the_key(vault_and_key: tuple[Vault, bytes, str]) -> None:
    vault, key, _ = vault_and_key
    assert vault.unlock("admin", "richtiges-pw-1") == key  # user names ignore case
    assert vault.unlock("ADMIN ", "richtiges-pw-1") == key


def test_wrong_password_and_unknown_user_give_the_same_message(
    vault_and_key: tuple[Vault, bytes, str],
) -> None:
    vault, _, _ = vault_and_key
    with pytest.raises(AuthError) as wrong:
        vault.unlock("admin", "falsches-pw-12")
    with pytest.raises(AuthError) as unknown:
        vault.unlock("niemand", "falsches-pw-12")
    assert str(wrong.value) == str(unknown.value)


def test_vault_file_holds_no_key_and_no_user_name(vault_and_key: tuple[Vault, bytes, str]) -> None:
    vault, key, _ = vault_and_key
    raw = vault.path.read_bytes()
    assert key not in raw and key.hex().encode() not in raw
    assert b"admin" not in raw.lower()
    entry = next(iter(json.loads(raw)["users"].values()))
    # RFC 9106 second recommended option or stronger, stored beside the wrap
    assert entry["kdf"]["alg"] == "argon2id"
    assert entry["kdf"]["memory_kib"] >= 64 * 1024
    assert entry["kdf"]["iterations"] >= 3
    assert entry["kdf"]["lanes"] >= 4


def test_password_change_rewraps_the_same_key(vault_and_key: tuple[Vault, bytes, str]) -> None:
    vault, key, _ = vault_and_key
    vault.set_password("admin", "neues-passwort-2", db_key=key)
    assert vault.unlock("admin", "neues-passwort-2") == key
    with pytest.raises(AuthError):
        vault.unlock("admin", "richtiges-pw-1")


def test_foreign_key_is_refused(vault_and_key: tuple[Vault, bytes, str]) -> None:
    vault, _, _ = vault_and_key
    with pytest.raises(ValueError):
        vault.set_password("admin", "neues-passwort-2", db_key=new_database_key())


def test_removed_user_cannot_unlock(vault_and_key: tuple[Vault, bytes, str]) -> None:
    vault, key, _ = vault_and_key
    vault.set_password("berater", "berater-pw-123", db_key=key)
    assert vault.unlock("berater", "berater-pw-123") == key
    vault.remove_user("berater")
    with pytest.raises(AuthError):
        vault.unlock("berater", "berater-pw-123")


def test_recovery_key_unwraps_the_key(vault_and_key: tuple[Vault, bytes, str]) -> None:
    vault, key, recovery = vault_and_key
    assert vault.unlock_with_recovery(recovery) == key
    # typed sloppily: lower case, spaces instead of dashes
    assert vault.unlock_with_recovery(recovery.lower().replace("-", " ")) == key


def test_recovery_key_typo_is_caught_by_the_checksum(
    vault_and_key: tuple[Vault, bytes, str],
) -> None:
    vault, _, recovery = vault_and_key
    pos = 3
    typo = recovery[:pos] + ("A" if recovery[pos] != "A" else "B") + recovery[pos + 1 :]
    with pytest.raises(AuthError, match="Tippfehler"):
        vault.unlock_with_recovery(typo)


def test_another_profiles_recovery_key_does_not_fit(
    vault_and_key: tuple[Vault, bytes, str], tmp_path: Path
) -> None:
    vault, _, _ = vault_and_key
    _other, other_recovery = Vault.create(
        tmp_path / "other.json", db_key=new_database_key(), username="x1", password="irgendwas-123"
    )
    with pytest.raises(AuthError, match="passt nicht"):
        vault.unlock_with_recovery(other_recovery)


def test_new_recovery_key_replaces_the_old(vault_and_key: tuple[Vault, bytes, str]) -> None:
    vault, key, old = vault_and_key
    with pytest.raises(ValueError):  # without the site key it cannot hold everything
        vault.replace_recovery_key(db_key=key)
    site = vault.unlock_recovery(old).site_private()
    new = vault.replace_recovery_key(db_key=key, site_private=site)
    assert vault.unlock_recovery(new).site_private() == site
    assert vault.unlock_with_recovery(new) == key
    with pytest.raises(AuthError):
        vault.unlock_with_recovery(old)


def test_recovery_key_format_round_trip() -> None:
    raw = bytes(range(32))
    assert parse_recovery_key(format_recovery_key(raw)) == raw


def test_throttle_grows_after_five_failures(
    vault_and_key: tuple[Vault, bytes, str], clock: FakeClock
) -> None:
    vault, key, _ = vault_and_key
    for _ in range(FREE_ATTEMPTS - 1):
        with pytest.raises(AuthError) as info:
            vault.unlock("admin", "falsch-falsch-1")
        assert info.value.retry_after == 0
    assert vault.seconds_until_allowed("admin") == 0
    with pytest.raises(AuthError) as fifth:
        vault.unlock("admin", "falsch-falsch-1")
    assert fifth.value.retry_after == throttle_delay(FREE_ATTEMPTS) > 0
    # during the delay even the right password is refused, and the refusal is recorded
    with pytest.raises(AuthError, match="warten"):
        vault.unlock("admin", "richtiges-pw-1")
    clock.now += throttle_delay(FREE_ATTEMPTS) + 0.1
    with pytest.raises(AuthError) as sixth:
        vault.unlock("admin", "falsch-falsch-1")
    assert sixth.value.retry_after == throttle_delay(FREE_ATTEMPTS + 1)
    assert throttle_delay(FREE_ATTEMPTS + 1) > throttle_delay(FREE_ATTEMPTS)
    clock.now += throttle_delay(FREE_ATTEMPTS + 1) + 0.1
    assert vault.unlock("admin", "richtiges-pw-1") == key
    assert vault.failures("admin") == 0
    actions = [event.action for event in vault.pending_events()]
    assert actions.count("login_failed") == FREE_ATTEMPTS + 1
    assert actions.count("login_throttled") == 1


def test_throttle_is_per_user(vault_and_key: tuple[Vault, bytes, str]) -> None:
    vault, key, _ = vault_and_key
    vault.set_password("berater", "berater-pw-123", db_key=key)
    for _ in range(FREE_ATTEMPTS):
        with pytest.raises(AuthError):
            vault.unlock("admin", "falsch-falsch-1")
    assert vault.unlock("berater", "berater-pw-123") == key


def test_weak_kdf_parameters_are_stored_and_used(tmp_path: Path) -> None:
    key = new_database_key()
    strong = KdfParams(iterations=4, lanes=4, memory_kib=128 * 1024)
    vault, _ = Vault.create(
        tmp_path / "v.json", db_key=key, username="a1", password="passwort-123", params=strong
    )
    assert vault.kdf_params("a1") == strong
    assert vault.unlock("a1", "passwort-123") == key


def test_damaged_vault_gives_a_profile_error(vault_and_key: tuple[Vault, bytes, str]) -> None:
    vault, _, _ = vault_and_key
    vault.path.write_text("{ not json", "utf-8")
    with pytest.raises(ProfileError) as info:
        vault.unlock("admin", "richtiges-pw-1")
    assert info.value.kind == "corrupt"


def test_swapped_entries_do_not_open(vault_and_key: tuple[Vault, bytes, str]) -> None:
    """An entry copied to another user's slot fails: the wrap is bound to its user."""
    vault, key, _ = vault_and_key
    vault.set_password("berater", "berater-pw-123", db_key=key)
    data = json.loads(vault.path.read_text("utf-8"))
    refs = {name: vault.user_ref(name) for name in ("admin", "berater")}
    data["users"][refs["admin"]] = data["users"][refs["berater"]]
    vault.path.write_text(json.dumps(data), "utf-8")
    with pytest.raises(AuthError):
        vault.unlock("admin", "berater-pw-123")


def test_each_user_has_her_own_key_pair_and_sealed_secrets(
    vault_and_key: tuple[Vault, bytes, str],
) -> None:
    vault, key, _ = vault_and_key
    vault.set_password("berater", "berater-pw-123", db_key=key)
    vault.seal_for_user("berater", "signing", b"nur-fuer-berater")
    admin = vault.unlock_user("admin", "richtiges-pw-1")
    berater = vault.unlock_user("berater", "berater-pw-123")
    assert _private(admin).raw != _private(berater).raw
    assert berater.secret("signing") == b"nur-fuer-berater"
    assert admin.secret("signing") is None
    # her first own password replaces the provisional key pair (the administrator chose
    # the old password) and keeps what was sealed to her
    vault.set_password("berater", "neues-pw-berater-4", db_key=key, keys=berater, own=True)
    own = vault.unlock_user("berater", "neues-pw-berater-4")
    assert _private(own).raw != _private(berater).raw
    assert own.secret("signing") == b"nur-fuer-berater"
    assert not vault.is_provisional("berater")
    # later changes of her own password keep her key pair
    vault.set_password("berater", "wieder-neu-pw-6", db_key=key, keys=own, own=True)
    again = vault.unlock_user("berater", "wieder-neu-pw-6")
    assert _private(again).raw == _private(own).raw
    assert again.secret("signing") == b"nur-fuer-berater"
    # a reset (no keys) gives a new key pair: grants to the old one are withdrawn
    vault.set_password("berater", "reset-pw-berater-5", db_key=key)
    reset = vault.unlock_user("berater", "reset-pw-berater-5")
    assert _private(reset).raw != _private(berater).raw
    assert reset.secret("signing") is None


def test_a_version_1_entry_is_upgraded_at_sign_in(tmp_path: Path, clock: FakeClock) -> None:
    """An entry as version 1 wrote it opens and becomes a key pair, same password."""
    fixtures = Path(__file__).parents[2] / "fixtures" / "schemas" / "0004_lifecycle"
    expected = json.loads((fixtures / "expected.json").read_text("utf-8"))
    vault_path = tmp_path / "vault.json"
    vault_path.write_bytes((fixtures / "vault.json").read_bytes())
    old = json.loads(vault_path.read_text("utf-8"))
    assert old["version"] == 1 and "users" not in old
    vault = Vault(vault_path, clock=clock)
    key = vault.unlock("admin", expected["password"])
    data = json.loads(vault_path.read_text("utf-8"))
    assert data["entries"] == {} or vault.user_ref("admin") not in data["entries"]
    assert vault.user_ref("admin") in data["users"]
    assert vault.unlock("admin", expected["password"]) == key
    assert vault.unlock_with_recovery(expected["recovery_key"]) == key


def test_a_changed_entry_gives_a_german_message_and_changes_nothing(
    vault_and_key: tuple[Vault, bytes, str],
) -> None:
    vault, _, _ = vault_and_key
    data = json.loads(vault.path.read_text("utf-8"))
    entry = data["users"][vault.user_ref("admin")]
    other = Vault.create(
        vault.path.with_name("other.json"),
        db_key=new_database_key(),
        username="x",
        password="anderes-pw-123",
    )[0]
    entry["public"] = json.loads(other.path.read_text("utf-8"))["users"][other.user_ref("x")][
        "public"
    ]
    vault.path.write_text(json.dumps(data), "utf-8")
    before = vault.path.read_bytes()
    with pytest.raises(ProfileError) as info:
        vault.unlock("admin", "richtiges-pw-1")
    assert info.value.kind == "corrupt"
    assert "Schlüsseltresor" in str(info.value)
    assert vault.path.read_bytes() == before
