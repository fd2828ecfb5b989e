"""Signing in, first log-in password change, recovery, deactivation."""

from __future__ import annotations

import pytest

from intake_app.app import Workspace
from intake_app.errors import AuthError, ProfileError, ValidationError
from tests.conftest import ADMIN, COUNSELLOR, COUNSELLOR_PASSWORD, ProfileFixture


def test_new_user_must_change_initial_password(profile: ProfileFixture) -> None:
    ws = profile.sign_in()
    ws.accounts.add_user(username="neu1", role="counsellor", password="Anfangs-Pw-123")
    ws.close()
    first = profile.sign_in("neu1", "Anfangs-Pw-123")
    assert first.sign_in_result.must_change_password
    first.accounts.change_own_password(old_password="Anfangs-Pw-123", new_password="Eigenes-Pw-456")
    first.close()
    again = profile.sign_in("neu1", "Eigenes-Pw-456")
    assert not again.sign_in_result.must_change_password
    again.close()
    with pytest.raises(AuthError):
        profile.sign_in("neu1", "Anfangs-Pw-123")


def test_change_password_needs_the_old_one(profile: ProfileFixture) -> None:
    ws = profile.sign_in(COUNSELLOR)
    try:
        with pytest.raises(AuthError):
            ws.accounts.change_own_password(
                old_password="falsch-falsch-1", new_password="Neu-Neu-Neu-1"
            )
        with pytest.raises(ValidationError):
            ws.accounts.change_own_password(old_password=COUNSELLOR_PASSWORD, new_password="kurz")
    finally:
        ws.close()
    profile.sign_in(COUNSELLOR).close()  # unchanged


def test_deactivated_user_cannot_sign_in_and_reactivation_works(profile: ProfileFixture) -> None:
    ws = profile.sign_in()
    ws.accounts.deactivate(username=COUNSELLOR)
    ws.close()
    with pytest.raises(AuthError):
        profile.sign_in(COUNSELLOR)
    ws = profile.sign_in()
    ws.accounts.reactivate(username=COUNSELLOR, password="Wieder-Da-2026")
    ws.close()
    back = profile.sign_in(COUNSELLOR, "Wieder-Da-2026")
    assert back.sign_in_result.must_change_password
    back.close()


def test_admin_reset_rewraps_without_reencrypting(profile: ProfileFixture) -> None:
    before = profile.profile.db_path.stat().st_ino
    ws = profile.sign_in()
    ws.accounts.reset_password(username=COUNSELLOR, password="Zurueckgesetzt-1")
    ws.close()
    profile.sign_in(COUNSELLOR, "Zurueckgesetzt-1").close()
    assert profile.profile.db_path.stat().st_ino == before


def test_recovery_key_sets_a_new_admin_password(profile: ProfileFixture) -> None:
    ws = Workspace.recover(
        profile.profile,
        recovery_key=profile.recovery_key,
        username=ADMIN,
        new_password="Nach-Verlust-2026",
    )
    ws.close()
    profile.sign_in(ADMIN, "Nach-Verlust-2026").close()
    with pytest.raises(AuthError):
        profile.sign_in(ADMIN)


def test_recovery_key_cannot_reset_a_counsellor(profile: ProfileFixture) -> None:
    with pytest.raises(AuthError):
        Workspace.recover(
            profile.profile,
            recovery_key=profile.recovery_key,
            username=COUNSELLOR,
            new_password="Nach-Verlust-2026",
        )
    profile.sign_in(COUNSELLOR).close()


def test_existing_profile_is_not_overwritten(profile: ProfileFixture) -> None:
    before = profile.profile.vault_path.read_bytes()
    with pytest.raises(ProfileError) as info:
        profile.profile.create(admin_name="other", admin_password="Anderes-Pw-123")
    assert info.value.kind == "exists"
    assert profile.profile.vault_path.read_bytes() == before


def test_failed_creation_leaves_nothing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from intake_app.storage.profile import Profile

    prof = Profile(tmp_path / "p")
    with pytest.raises(ValidationError):
        prof.create(admin_name="admin", admin_password="kurz")
    assert not prof.vault_path.exists() and not prof.db_path.exists()
