"""The demo profile a newcomer opens with ``intake-app --demo``.

It lives in its own folder (never the real profile), has one user per role with the
passwords shown below and on the log-in window, and is filled with synthetic intakes.
"""

from __future__ import annotations

from pathlib import Path

import platformdirs

DEMO_USERS: tuple[tuple[str, str, str, str], ...] = (
    # user name, role, display name, password
    ("admin", "admin", "Demo-Administration", "demo-admin-2026"),
    ("leitung", "supervisor", "Sabine Leitner", "demo-leitung-2026"),
    ("beratung", "counsellor", "Jonas Berger", "demo-beratung-2026"),
)


def default_demo_dir() -> Path:
    """The demo profile's folder, beside (not inside) the real profile."""
    return Path(platformdirs.user_data_dir("Intake-Demo", appauthor=False))


def is_demo_profile(root: Path) -> bool:
    """True for a folder created by :func:`ensure_demo_profile`."""
    return (root / "DEMO").is_file()
