"""The demo profile a newcomer opens with ``intake-app --demo``.

It lives in its own folder (never the real profile), has one user per role with the
passwords of ``DEMO_USERS`` (shown on the log-in window too), and is filled with synthetic
intakes (``demo/data.py``).
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import platformdirs

from intake_app.atomic import atomic_write_bytes, fsync_dir
from intake_app.demo.users import DEMO_USERS, MARKER, is_demo_profile
from intake_app.errors import ProfileError
from intake_app.i18n import _
from intake_app.logs import PROFILE_LOG_FOLDER
from intake_app.storage.profile import Profile

__all__ = ["DEMO_USERS", "default_demo_dir", "ensure_demo_profile", "is_demo_profile"]


def default_demo_dir() -> Path:
    """The demo profile's folder, beside (not inside) the real profile."""
    return Path(platformdirs.user_data_dir("Intake-Demo", appauthor=False))


#: Beside the demo folder while the demo profile is being made.
_PARTIAL = ".partial-"


def ensure_demo_profile(root: Path, *, records: int = 60) -> bool:
    """Create the demo profile in ``root`` unless it exists; True when it was created.

    Users get their demo passwords without the first-log-in change, so a newcomer can
    look around at once; ``records`` synthetic intakes are spread over the users.

    It is made in a folder beside ``root`` and renamed into place when complete: a start
    killed while making it leaves no half-filled demo profile behind (the next start
    removes what was begun, synthetic data only, and makes it anew).
    """
    if Profile(root).exists():
        return False
    root.parent.mkdir(parents=True, exist_ok=True)
    for begun in root.parent.glob(f"{root.name}{_PARTIAL}*"):
        shutil.rmtree(begun, ignore_errors=True)
    building = root.with_name(f"{root.name}{_PARTIAL}{uuid.uuid4().hex}")
    _make_demo_profile(building, records=records)
    _move_into_place(building, root)
    return True


def _move_into_place(building: Path, root: Path) -> None:
    """Move the finished demo profile into ``root``, its vault last: only then does the
    folder hold a profile (``Profile.exists``). ``root`` may hold the program's log
    folder already, and what an earlier, killed move left there (the same names, which
    go first); a folder with anything else in it is not used."""
    root.mkdir(parents=True, exist_ok=True)
    ours = {entry.name for entry in building.iterdir()} | {PROFILE_LOG_FOLDER}
    others = sorted(entry.name for entry in root.iterdir() if entry.name not in ours)
    if others:
        shutil.rmtree(building, ignore_errors=True)
        raise ProfileError(
            _(
                "Der Ordner {path} enthält schon andere Dateien ({names}); das Demo-Profil "
                "wird dort nicht angelegt. Bitte wählen Sie einen leeren Ordner."
            ).format(path=root, names=", ".join(others[:3])),
            kind="exists",
        )
    for leftover in root.iterdir():
        if leftover.name == PROFILE_LOG_FOLDER:
            continue
        if leftover.is_dir():
            shutil.rmtree(leftover)
        else:
            leftover.unlink()
    vault = Profile(building).vault_path
    for entry in sorted(building.iterdir()):
        if entry != vault and entry.name != PROFILE_LOG_FOLDER:
            os.replace(entry, root / entry.name)
    os.replace(vault, root / vault.name)
    fsync_dir(root)
    shutil.rmtree(building, ignore_errors=True)


def _make_demo_profile(root: Path, *, records: int) -> None:
    # Deferred: the records and the form engine (SQLAlchemy) load only when the demo
    # profile is made, not on every start (docs/architecture.md, "Start-up").
    from intake_app.app import Workspace
    from intake_app.demo.data import fill_demo_profile

    profile = Profile(root)
    admin_name, _role, admin_display, admin_password = DEMO_USERS[0]
    recovery_key = profile.create(
        admin_name=admin_name,
        admin_password=admin_password,
        display_name=admin_display,
        site_name="Demo: Kommunales Integrationszentrum Musterstadt",
    )
    atomic_write_bytes(
        root / MARKER,
        "Demo-Profil mit erfundenen Personen. Nicht für echte Daten verwenden.\n".encode(),
        mode=0o644,
    )
    ws = Workspace.sign_in(profile, username=admin_name, password=admin_password)
    try:
        for name, role, display, password in DEMO_USERS[1:]:
            ws.accounts.add_user(username=name, role=role, password=password, display_name=display)
    finally:
        ws.close()
    for name, _role, _display, password in DEMO_USERS[1:]:
        user_ws = Workspace.sign_in(profile, username=name, password=password)
        try:
            user_ws.accounts.set_own_password(password)
        finally:
            user_ws.close()
    # The demo supervisor reviews every record of the site, so she receives the site key,
    # as a real profile's first supervisor does: through the recovery key (docs/security.md,
    # "Site key grants"). The demo's recovery key is not kept.
    ws = Workspace.recover(
        profile, recovery_key=recovery_key, username=admin_name, new_password=admin_password
    )
    try:
        for name, role, _display, _password in DEMO_USERS[1:]:
            if role == "supervisor":
                ws.grant_site_key(name)
    finally:
        ws.close()
    if records:
        fill_demo_profile(profile, count=records)
