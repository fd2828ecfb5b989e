"""A second administrator deactivates the first, or resets her password: everyone still
signs in (storage/accounts.py ``_hand_over``).

The rows and key certificates the first administrator had signed stop counting with her
key (deactivated, or replaced by a reset). They were signed again with the second
administrator's own key, whose own row the first had signed: a circle that counts for
nothing. Every user row then failed its check, the profile's new key was sealed to
nobody, and no one, the second administrator included, could sign in again. Now they are
signed again with the profile's root.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from intake_app.app import Workspace
from intake_app.errors import AuthError
from intake_app.storage.profile import Profile
from intake_app.storage.records import RecordQuery
from tests.helpers.key_site import own, second_admin

EVERYONE = ("anna", "berta", "leitung", "zweite")


def _everyone_signs_in(profile: Profile, names: tuple[str, ...] = EVERYONE) -> None:
    for name in names:
        ws = Workspace.sign_in(profile, username=name, password=own(name))
        try:
            assert ws.sign_in_result.integrity_messages == (), name
            if name in ("admin", "zweite"):
                assert ws.verify_audit().ok, name
        finally:
            ws.close()


def test_the_first_administrator_deactivated_by_the_second(site: tuple[Profile, str]) -> None:
    profile, _ = site
    second_admin(profile)
    ws = Workspace.sign_in(profile, username="zweite", password=own("zweite"))
    try:
        ws.accounts.deactivate(username="admin")
        assert ws.accounts.withheld == []
    finally:
        ws.close()
    _everyone_signs_in(profile)
    with pytest.raises(AuthError):
        Workspace.sign_in(profile, username="admin", password=own("admin"))
    # the records are where they were
    ws = Workspace.sign_in(profile, username="anna", password=own("anna"))
    try:
        assert ws.records.count(RecordQuery()) == 1
    finally:
        ws.close()


def test_the_first_administrators_password_reset_by_the_second(
    site: tuple[Profile, str], tmp_path: Path
) -> None:
    profile, _ = site
    second_admin(profile)
    ws = Workspace.sign_in(profile, username="zweite", password=own("zweite"))
    try:
        ws.accounts.reset_password(username="admin", password=own("admin-neu"))
        assert ws.accounts.withheld == []
    finally:
        ws.close()
    _everyone_signs_in(profile)
    ws = Workspace.sign_in(profile, username="admin", password=own("admin-neu"))
    try:
        assert ws.sign_in_result.must_change_password
        ws.accounts.set_own_password(own("admin"))
    finally:
        ws.close()
    _everyone_signs_in(profile, ("admin", *EVERYONE))
