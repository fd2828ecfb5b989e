"""Permissions are enforced in core and the services, not only hidden in the UI."""

from __future__ import annotations

import pytest

from intake_app.core.permissions import (
    Actor,
    Permission,
    Role,
    check_password_policy,
    check_username,
)
from intake_app.errors import ConflictError, PermissionDenied, ValidationError
from tests.conftest import COUNSELLOR, SUPERVISOR, ProfileFixture

counsellor = Actor(user_id=2, username="c", role=Role.COUNSELLOR)
other_counsellor = Actor(user_id=3, username="d", role=Role.COUNSELLOR)
supervisor = Actor(user_id=4, username="s", role=Role.SUPERVISOR)
admin = Actor(user_id=1, username="a", role=Role.ADMIN)


def test_counsellor_sees_and_edits_only_own_records() -> None:
    assert counsellor.can_view_record(owner_id=2)
    assert counsellor.can_edit_record(owner_id=2)
    assert not counsellor.can_view_record(owner_id=3)
    assert not counsellor.can_edit_record(owner_id=3)
    with pytest.raises(PermissionDenied):
        counsellor.require_view_record(3)
    assert counsellor.record_scope_owner() == 2


def test_supervisor_sees_all_records_of_the_site() -> None:
    assert supervisor.can_view_record(owner_id=2)
    assert supervisor.can_edit_record(owner_id=3)
    assert supervisor.record_scope_owner() is None
    assert supervisor.can(Permission.CLOSE_RECORDS)
    assert supervisor.can(Permission.PRINT_RECORDS)
    assert not supervisor.can(Permission.MANAGE_USERS)


def test_admin_manages_users_but_reads_no_records() -> None:
    assert admin.can(Permission.MANAGE_USERS)
    assert admin.can(Permission.MANAGE_SETTINGS)
    assert not admin.can_view_record(owner_id=1)
    with pytest.raises(PermissionDenied):
        admin.record_scope_owner()


def test_counsellor_cannot_manage_users_or_settings(profile: ProfileFixture) -> None:
    ws = profile.sign_in(COUNSELLOR)
    try:
        with pytest.raises(PermissionDenied):
            ws.accounts.add_user(username="x2", role="admin", password="Ganz-geheim-123")
        with pytest.raises(PermissionDenied):
            ws.accounts.list_users()
        with pytest.raises(PermissionDenied):
            ws.settings.put("security.autolock_minutes", 60)
        with pytest.raises(PermissionDenied):
            ws.verify_audit()
    finally:
        ws.close()


def test_supervisor_cannot_manage_users(profile: ProfileFixture) -> None:
    ws = profile.sign_in(SUPERVISOR)
    try:
        with pytest.raises(PermissionDenied):
            ws.accounts.deactivate(username=COUNSELLOR)
        assert ws.verify_audit().ok
    finally:
        ws.close()


def test_last_admin_and_self_cannot_be_deactivated(profile: ProfileFixture) -> None:
    ws = profile.sign_in()
    try:
        with pytest.raises(ConflictError):
            ws.accounts.deactivate(username="admin")
        ws.accounts.add_user(username="admin2", role="admin", password="Zweiter-Admin-1")
        with pytest.raises(ConflictError):
            ws.accounts.deactivate(username="admin")  # still: not oneself
    finally:
        ws.close()


def test_duplicate_user_is_refused_case_insensitively(profile: ProfileFixture) -> None:
    ws = profile.sign_in()
    try:
        with pytest.raises(ConflictError):
            ws.accounts.add_user(username="BERATER", role="counsellor", password="Noch-einer-123")
    finally:
        ws.close()


@pytest.mark.parametrize("password", ["kurz", "123456789", "aaaaaaaaaaaa", "ababababab"])
def test_weak_passwords_are_refused(password: str) -> None:
    with pytest.raises(ValidationError):
        check_password_policy(password)


def test_password_equal_to_user_name_is_refused() -> None:
    with pytest.raises(ValidationError):
        check_password_policy("langername1", username="LangerName1")
    check_password_policy("Richtig-Gutes-Pw-1", username="admin")


@pytest.mark.parametrize("name", ["", "a", "mit leer", "x" * 65, "a/b"])
def test_bad_user_names_are_refused(name: str) -> None:
    with pytest.raises(ValidationError):
        check_username(name)


def test_unknown_role_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="Unbekannte Rolle"):
        Role.parse("boss")
    assert Role.parse(" Supervisor ") is Role.SUPERVISOR
