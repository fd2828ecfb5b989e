"""Backups: round trip with a real profile, nothing lost on restore, retention, no plaintext."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from intake_app.app import Workspace
from intake_app.errors import AuthError, KnownError, NotFound, PermissionDenied, ProfileError
from intake_app.storage import backup as backup_module
from intake_app.storage.backup import (
    BackupReason,
    backup_if_due,
    create_backup,
    find_backup,
    latest_backup,
    list_backups,
    prune_backups,
    restore_backup,
    unlock_for_restore,
)
from intake_app.storage.models import AuditLogEntry
from tests.conftest import (
    ADMIN,
    ADMIN_PASSWORD,
    COUNSELLOR,
    COUNSELLOR_PASSWORD,
    ProfileFixture,
)
from tests.helpers.canary import scan

CANARY_FAMILY = "Kanarienvogel-Qxzyw"
CANARY_LATER = "Spaeter-Zwqxj"
NEW_PASSWORD = "Neues-Berater-Pw-2026"


def _record(ws: Workspace, family_name: str) -> str:
    row = ws.records.create(form_id="intake", form_version=ws.current_form().version, answers={})
    ws.records.save(row.id, answers={"family_name": family_name, "given_names": "Amal-Zwx"})
    return row.id


def _backup(profile: ProfileFixture, reason: BackupReason = BackupReason.MANUAL):  # type: ignore[no-untyped-def]
    ws = profile.sign_in(ADMIN)
    try:
        return create_backup(ws, reason=reason)
    finally:
        ws.close()


def _restore(profile: ProfileFixture, info, username: str = ADMIN, password: str = ADMIN_PASSWORD):  # type: ignore[no-untyped-def]
    key = unlock_for_restore(profile.profile, info, username=username, password=password)
    return restore_backup(profile.profile, info, key=key, username=username)


def _names(ws: Workspace) -> dict[str, str]:
    from intake_app.storage.records import RecordQuery

    return {s.id: s.family_name for s in ws.records.list(RecordQuery(), limit=100)}


def test_restore_brings_back_the_state_at_backup_time_and_keeps_the_present(
    profile: ProfileFixture,
) -> None:
    ws = profile.sign_in(COUNSELLOR)
    first = _record(ws, CANARY_FAMILY)
    ws.close()
    info = _backup(profile)
    assert info.reason is BackupReason.MANUAL
    assert set(info.files) >= {"intake.db", "vault.json", "profile.json"}

    ws = profile.sign_in(COUNSELLOR)
    later = _record(ws, CANARY_LATER)
    ws.records.save(first, answers={"family_name": "Umbenannt", "given_names": "Amal-Zwx"})
    ws.accounts.change_own_password(old_password=COUNSELLOR_PASSWORD, new_password=NEW_PASSWORD)
    ws.close()

    result = _restore(profile, info)
    assert result.restored.name == info.name
    assert result.safety_copy.reason is BackupReason.BEFORE_RESTORE

    # the data and the passwords are those of backup time
    with pytest.raises(AuthError):
        Workspace.sign_in(profile.profile, username=COUNSELLOR, password=NEW_PASSWORD)
    ws = profile.sign_in(COUNSELLOR, COUNSELLOR_PASSWORD)
    try:
        assert _names(ws) == {first: CANARY_FAMILY}
    finally:
        ws.close()

    # the restore is in the audit log of the restored profile, and the chain holds
    ws = profile.sign_in(ADMIN)
    try:
        with ws.db.read() as session:
            entry = session.scalars(
                select(AuditLogEntry).where(AuditLogEntry.action == "backup_restored")
            ).one()
        assert entry.actor == ADMIN and entry.subject_id == info.name
        assert ws.verify_audit().ok
    finally:
        ws.close()

    # nothing was lost: the state before the restore comes back from its safety copy
    _restore(profile, result.safety_copy)
    ws = profile.sign_in(COUNSELLOR, NEW_PASSWORD)
    try:
        assert _names(ws) == {first: "Umbenannt", later: CANARY_LATER}
    finally:
        ws.close()


def test_a_backup_holds_no_plaintext(profile: ProfileFixture) -> None:
    ws = profile.sign_in(COUNSELLOR)
    _record(ws, CANARY_FAMILY)
    ws.close()
    ws = profile.sign_in(ADMIN)
    try:
        ws.settings.put("site.name", "Kanarienhausen-Zwx")
        info = create_backup(ws)
    finally:
        ws.close()
    # (canaries with "-", which base64 and hex never hold: a short name like "Amal" turns
    # up in the vault's base64 now and then by chance)
    assert scan(info.path, [CANARY_FAMILY, "Kanarienhausen-Zwx", "Amal-Zwx"]) == []
    # the scanner finds the canary once something is in the clear
    (info.path / "leak.txt").write_text(CANARY_FAMILY, "utf-8")
    assert scan(info.path, [CANARY_FAMILY]) == [("leak.txt", CANARY_FAMILY)]


def test_backup_database_is_self_contained_and_checked(profile: ProfileFixture) -> None:
    info = _backup(profile)
    assert not (info.path / "intake.db-wal").exists()
    with (info.path / "intake.db").open("rb") as handle:
        header = handle.read(16)
    assert header != b"SQLite format 3\x00"  # encrypted from the first byte
    assert json.loads((info.path / "manifest.json").read_text("utf-8"))["schema"]


def test_daily_backup_only_once_a_day(profile: ProfileFixture) -> None:
    ws = profile.sign_in(COUNSELLOR)
    try:
        first = backup_if_due(ws)
        assert first is not None and first.reason is BackupReason.DAILY
        assert backup_if_due(ws) is None
        tomorrow = datetime.now(UTC) + timedelta(days=1)
        assert backup_if_due(ws, now=tomorrow) is not None
    finally:
        ws.close()
    assert len(list_backups(profile.profile)) == 2


def _age(info, days: int) -> None:  # type: ignore[no-untyped-def]
    path = info.path / "manifest.json"
    data = json.loads(path.read_text("utf-8"))
    created = datetime.now(UTC) - timedelta(days=days)
    data["created"] = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    path.write_text(json.dumps(data), "utf-8")


def test_retention_removes_old_backups_but_keeps_the_newest(profile: ProfileFixture) -> None:
    ws = profile.sign_in(ADMIN)
    try:
        ws.settings.put("backup.keep_days", 3)
        old, middle, recent = (create_backup(ws) for _ in range(3))
    finally:
        ws.close()
    _age(old, 10)
    _age(middle, 5)
    _age(recent, 1)
    partial = profile.profile.backups_dir / ".partial-left-over"
    partial.mkdir()
    removed = prune_backups(profile.profile, keep_days=3)
    assert sorted(removed) == sorted([old.name, middle.name])
    assert [b.name for b in list_backups(profile.profile)] == [recent.name]
    assert not partial.exists()
    # even when every backup is past the limit, the newest one stays
    _age(recent, 30)
    assert prune_backups(profile.profile, keep_days=3) == []
    assert [b.name for b in list_backups(profile.profile)] == [recent.name]


def test_create_backup_prunes_with_the_configured_days(profile: ProfileFixture) -> None:
    ws = profile.sign_in(ADMIN)
    try:
        ws.settings.put("backup.keep_days", 2)
        old = create_backup(ws)
        _age(old, 4)
        create_backup(ws)
    finally:
        ws.close()
    names = [b.name for b in list_backups(profile.profile)]
    assert old.name not in names and len(names) == 1


def test_a_changed_backup_is_refused_and_nothing_changes(profile: ProfileFixture) -> None:
    info = _backup(profile)
    vault = info.path / "vault.json"
    vault.write_bytes(vault.read_bytes().replace(b'"', b"'", 1))
    before = profile.profile.db_path.read_bytes()
    key = unlock_for_restore(profile.profile, info, username=ADMIN, password=ADMIN_PASSWORD)
    with pytest.raises(ProfileError) as caught:
        restore_backup(profile.profile, info, key=key, username=ADMIN)
    assert caught.value.kind == "corrupt" and "vault.json" in str(caught.value)
    assert profile.profile.db_path.read_bytes() == before
    assert [b.name for b in list_backups(profile.profile)] == [info.name]


def test_only_an_administrator_restores(profile: ProfileFixture) -> None:
    info = _backup(profile)
    with pytest.raises(AuthError):
        _restore(profile, info, username=COUNSELLOR, password=COUNSELLOR_PASSWORD)
    with pytest.raises(AuthError):
        unlock_for_restore(profile.profile, info, username=ADMIN, password="falsch-falsch-123")
    assert [b.name for b in list_backups(profile.profile)] == [info.name]


def test_manual_backup_needs_an_administrator(profile: ProfileFixture) -> None:
    ws = profile.sign_in(COUNSELLOR)
    try:
        with pytest.raises(PermissionDenied):
            create_backup(ws, reason=BackupReason.MANUAL)
    finally:
        ws.close()
    assert list_backups(profile.profile) == []


def test_corrupt_database_is_repaired_from_the_latest_backup(profile: ProfileFixture) -> None:
    ws = profile.sign_in(COUNSELLOR)
    record = _record(ws, CANARY_FAMILY)
    ws.close()
    info = _backup(profile, BackupReason.DAILY)
    db = profile.profile.db_path
    data = bytearray(db.read_bytes())
    data[0:4096] = b"\x00" * 4096
    db.write_bytes(bytes(data))
    with pytest.raises(ProfileError) as caught:
        profile.sign_in(COUNSELLOR)
    assert caught.value.kind == "corrupt"
    latest = latest_backup(profile.profile)
    assert latest is not None and latest.name == info.name
    result = _restore(profile, latest)
    ws = profile.sign_in(COUNSELLOR)
    try:
        assert _names(ws) == {record: CANARY_FAMILY}
    finally:
        ws.close()
    # the damaged file was kept, and it is not offered as "the latest backup"
    assert (result.safety_copy.path / "intake.db").read_bytes()[:4096] == b"\x00" * 4096
    assert latest_backup(profile.profile).name == info.name  # type: ignore[union-attr]


def test_restore_works_when_the_vault_is_gone(profile: ProfileFixture) -> None:
    info = _backup(profile)
    profile.profile.vault_path.unlink()
    _restore(profile, info)
    ws = profile.sign_in(ADMIN)
    ws.close()


def test_full_disk_leaves_no_half_backup(
    profile: ProfileFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = profile.sign_in(ADMIN)
    try:
        monkeypatch.setattr(
            backup_module.shutil,
            "disk_usage",
            lambda _p: shutil._ntuple_diskusage(1, 1, 0),  # type: ignore[attr-defined]
        )
        with pytest.raises(KnownError) as caught:
            create_backup(ws)
    finally:
        ws.close()
    assert caught.value.kind == "disk_full"
    assert list(profile.profile.backups_dir.glob(".partial-*")) == []
    assert list_backups(profile.profile) == []


def test_failure_while_copying_leaves_no_half_backup(
    profile: ProfileFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_copy(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    ws = profile.sign_in(ADMIN)
    try:
        monkeypatch.setattr(backup_module.shutil, "copy2", broken_copy)
        with pytest.raises(KnownError) as caught:
            create_backup(ws)
    finally:
        ws.close()
    assert caught.value.kind == "disk_full"
    assert [p.name for p in profile.profile.backups_dir.iterdir()] == []


def test_find_backup_names_the_missing_one(profile: ProfileFixture) -> None:
    with pytest.raises(NotFound) as caught:
        find_backup(profile.profile, "20990101T000000Z")
    assert "20990101T000000Z" in str(caught.value)


def test_backup_folders_from_another_profile_are_refused(
    profile: ProfileFixture, tmp_path: Path
) -> None:
    info = _backup(profile)
    manifest = info.path / "manifest.json"
    data = json.loads(manifest.read_text("utf-8"))
    data["profile_id"] = "00000000-0000-4000-8000-000000000000"
    manifest.write_text(json.dumps(data), "utf-8")
    foreign = find_backup(profile.profile, info.name)
    key = unlock_for_restore(profile.profile, foreign, username=ADMIN, password=ADMIN_PASSWORD)
    with pytest.raises(ProfileError, match="anderen Profil"):
        restore_backup(profile.profile, foreign, key=key, username=ADMIN)


def test_a_backup_from_before_someone_left_is_restored_with_the_passwords_of_then(
    profile: ProfileFixture,
) -> None:
    """A deactivation gives the profile database a new key: the current vault's key does
    not open a backup made before, so the password is checked against the backup's vault
    (the restore brings back the state of backup time, accounts included)."""
    info = _backup(profile)
    ws = profile.sign_in(ADMIN)
    try:
        ws.accounts.deactivate(username=COUNSELLOR)
    finally:
        ws.close()
    _restore(profile, info)
    ws = profile.sign_in(COUNSELLOR, COUNSELLOR_PASSWORD)
    ws.close()
