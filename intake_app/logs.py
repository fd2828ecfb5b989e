"""Logging: one named logger per subsystem, a rotated file, never personal data.

Loggers: ``intake.core``, ``intake.storage``, ``intake.forms``, ``intake.reports``,
``intake.sync``, ``intake.central``, ``intake.ui``. Messages name record ids, counts and
error types, never answers or the names of the people interviewed.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path

import platformdirs

LOG_FILE = "intake.log"
MAX_BYTES = 1_000_000
BACKUP_COUNT = 5
FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

_installed: logging.Handler | None = None


def resolve_log_dir(data_dir: Path | None, *, explicit_profile: bool) -> Path:
    """``INTAKE_LOG_DIR``; else the profile's ``logs`` folder when a profile folder was
    chosen explicitly (tests, portable installs); else the platformdirs log folder."""
    env = os.environ.get("INTAKE_LOG_DIR")
    if env:
        return Path(env)
    if explicit_profile and data_dir is not None:
        return data_dir / "logs"
    return Path(platformdirs.user_log_dir("Intake", appauthor=False))


def setup_logging(log_dir: Path, *, level: int = logging.INFO) -> Path:
    """Send the ``intake`` loggers to a rotated file in ``log_dir``; return the file path."""
    global _installed
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / LOG_FILE
    root = logging.getLogger("intake")
    if _installed is not None:
        root.removeHandler(_installed)
        _installed.close()
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8", delay=True
    )
    handler.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(handler)
    root.setLevel(level)
    _installed = handler
    return path


def current_log_file() -> Path | None:
    """The file the log goes to, if logging was set up."""
    if isinstance(_installed, logging.handlers.RotatingFileHandler):
        return Path(_installed.baseFilename)
    return None
