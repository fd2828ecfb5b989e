"""Shared test set-up: offscreen Qt, no real user folders, the ``gui`` marker."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from intake_app.app import Workspace
from intake_app.storage.profile import Profile

# The torture figures' hooks: here, in the conftest every process loads, so that the
# controlling process of a run with workers gathers them too (tests/helpers/figures.py).
from tests.helpers.figures import (  # noqa: F401 - pytest hooks
    pytest_runtest_logreport,
    pytest_runtest_makereport,
    pytest_sessionfinish,
    pytest_terminal_summary,
)

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["INTAKE_LANG"] = "de"


@pytest.fixture(autouse=True)
def _isolated_folders(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Point every platformdirs folder and the profile into a temporary folder."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.delenv("INTAKE_DATA_DIR", raising=False)
    monkeypatch.delenv("INTAKE_PASSWORD", raising=False)
    monkeypatch.delenv("INTAKE_NEW_PASSWORD", raising=False)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that uses a Qt fixture as ``gui``."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "qtbot" in fixtures or "qapp" in fixtures:
            item.add_marker(pytest.mark.gui)


@pytest.fixture
def tmp_profile_dir(tmp_path: Path) -> Path:
    """A folder for a fresh profile."""
    return tmp_path / "profile"


ADMIN = "admin"
ADMIN_PASSWORD = "Admin-Passwort-2026"
COUNSELLOR = "berater"
COUNSELLOR_PASSWORD = "Berater-Passwort-2026"
SUPERVISOR = "leitung"
SUPERVISOR_PASSWORD = "Leitung-Passwort-2026"


@dataclass
class ProfileFixture:
    """A created profile with one user per role (all passwords already changed)."""

    profile: Profile
    recovery_key: str

    def sign_in(self, username: str = ADMIN, password: str | None = None) -> Workspace:
        passwords = {
            ADMIN: ADMIN_PASSWORD,
            COUNSELLOR: COUNSELLOR_PASSWORD,
            SUPERVISOR: SUPERVISOR_PASSWORD,
        }
        return Workspace.sign_in(
            self.profile, username=username, password=password or passwords[username]
        )


@pytest.fixture(scope="session")
def _profile_template(tmp_path_factory: pytest.TempPathFactory) -> ProfileFixture:
    """Created once per run (Argon2id is slow on purpose); tests get a copy."""
    prof = Profile(tmp_path_factory.mktemp("template") / "profile")
    recovery = prof.create(
        admin_name=ADMIN, admin_password=ADMIN_PASSWORD, site_name="Köln-Mülheim"
    )
    ws = Workspace.sign_in(prof, username=ADMIN, password=ADMIN_PASSWORD)
    try:
        for name, role, password in (
            (COUNSELLOR, "counsellor", COUNSELLOR_PASSWORD),
            (SUPERVISOR, "supervisor", SUPERVISOR_PASSWORD),
        ):
            ws.accounts.add_user(username=name, role=role, password=password, display_name=name)
    finally:
        ws.close()
    for name, password in ((COUNSELLOR, COUNSELLOR_PASSWORD), (SUPERVISOR, SUPERVISOR_PASSWORD)):
        user_ws = Workspace.sign_in(prof, username=name, password=password)
        user_ws.accounts.set_own_password(password)
        user_ws.close()
    # the supervisor receives the site key (docs/security.md): here through the recovery key
    ws = Workspace.recover(prof, recovery_key=recovery, username=ADMIN, new_password=ADMIN_PASSWORD)
    ws.grant_site_key(SUPERVISOR)
    ws.close()
    shutil.rmtree(prof.logs_dir, ignore_errors=True)
    return ProfileFixture(prof, recovery)


@pytest.fixture
def profile(tmp_path: Path, _profile_template: ProfileFixture) -> ProfileFixture:
    """A fresh profile in ``tmp_path`` with an administrator, a counsellor and a supervisor."""
    target = tmp_path / "profile"
    shutil.copytree(_profile_template.profile.root, target)
    return ProfileFixture(Profile(target), _profile_template.recovery_key)
