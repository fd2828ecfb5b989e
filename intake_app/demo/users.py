"""The demo profile's users and its marker file: what the log-in window shows before
anything of the database is loaded (docs/architecture.md, "Start-up")."""

from __future__ import annotations

from pathlib import Path

DEMO_USERS: tuple[tuple[str, str, str, str], ...] = (
    # user name, role, display name, password
    ("admin", "admin", "Demo-Administration", "demo-admin-2026"),
    ("leitung", "supervisor", "Sabine Leitner", "demo-leitung-2026"),
    ("beratung", "counsellor", "Jonas Berger", "demo-beratung-2026"),
)

#: The file that marks a folder as the demo profile.
MARKER = "DEMO"


def is_demo_profile(root: Path) -> bool:
    """True for a folder created by :func:`intake_app.demo.ensure_demo_profile`."""
    return (root / MARKER).is_file()
