"""A site to attack: an administrator, two counsellors and a supervisor, each with her
own password; anna and berta wrote a record each (canary names)."""

from __future__ import annotations

from pathlib import Path

import pytest

from intake_app.app import Workspace
from intake_app.cli import main as cli_main
from intake_app.storage.profile import Profile
from intake_app.storage.vault import KdfParams

PW = "Schluessel-Test-2026"
FAST = KdfParams(iterations=1, lanes=1, memory_kib=8 * 1024)
USERS = {"anna": "counsellor", "berta": "counsellor", "leitung": "supervisor"}


def own(name: str) -> str:
    return f"{PW}-{name}-eigen"


def write_record(profile: Profile, user: str, family_name: str) -> str:
    ws = Workspace.sign_in(profile, username=user, password=own(user))
    try:
        record_id = ws.new_intake()
        answers = dict(ws.records.get(record_id).answers)
        answers["family_name"] = family_name
        ws.records.save(record_id, answers=answers)
        return record_id
    finally:
        ws.close()


@pytest.fixture
def site(tmp_path: Path) -> tuple[Profile, str]:
    """The site of :func:`build_site` in ``tmp_path``."""
    return build_site(tmp_path)


def build_site(tmp_path: Path) -> tuple[Profile, str]:
    """Admin, two counsellors and a supervisor (granted the site key with the recovery key);
    every user chose her own password; anna and berta each wrote a record."""
    profile = Profile(tmp_path / "profil", kdf_params=FAST)
    recovery = profile.create(admin_name="admin", admin_password=own("admin"), site_name="Ort")
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    for name, role in USERS.items():
        ws.accounts.add_user(username=name, role=role, password=f"{PW}-{name}-start")
    ws.close()
    for name in USERS:
        ws = Workspace.sign_in(profile, username=name, password=f"{PW}-{name}-start")
        assert ws.sign_in_result.must_change_password
        ws.accounts.set_own_password(own(name))
        ws.close()
    ws = Workspace.recover(
        profile, recovery_key=recovery, username="admin", new_password=own("admin")
    )
    if hasattr(ws, "grant_site_key"):  # (a single-key profile has nothing to grant)
        ws.grant_site_key("leitung")
    ws.close()
    write_record(profile, "anna", "Kanarienanna")
    write_record(profile, "berta", "Kanarienberta")
    return profile, recovery


def granted_second_supervisor(profile: Profile, name: str = "zweite") -> None:
    """The administrator creates a second supervisor, who chooses her own password (her
    ``own`` one), and the granted supervisor ``leitung`` grants her the site key."""
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    ws.accounts.add_user(username=name, role="supervisor", password=f"{PW}-{name}-start")
    ws.close()
    ws = Workspace.sign_in(profile, username=name, password=f"{PW}-{name}-start")
    ws.accounts.set_own_password(own(name))
    ws.close()
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    ws.grant_site_key(name)
    ws.close()


def run_cli(
    profile: Profile, tmp_path: Path, capsys: pytest.CaptureFixture[str], user: str, *args: str
) -> tuple[int, str]:
    """``intake`` as ``user`` with her own password (from a file): its exit code and what it
    printed."""
    pw = tmp_path / f"pw-{user}"
    pw.write_text(own(user), "utf-8")
    code = cli_main(
        ["--data-dir", str(profile.root), "--user", user, "--password-file", str(pw), *args]
    )
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def made_by_admin(profile: Profile, name: str, role: str) -> None:
    """As the administrator: an account of ``role`` she makes, whose user then signs in
    and chooses her own password (``own(name)``)."""
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    try:
        ws.accounts.add_user(username=name, role=role, password=own(f"{name}-start"))
    finally:
        ws.close()
    ws = Workspace.sign_in(profile, username=name, password=own(f"{name}-start"))
    try:
        ws.accounts.set_own_password(own(name))
    finally:
        ws.close()


def second_admin(profile: Profile, name: str = "zweite") -> None:
    """A second administrator, made by the first (:func:`made_by_admin`)."""
    made_by_admin(profile, name, "admin")
