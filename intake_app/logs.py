"""Logging: one named logger per subsystem, a rotated file, never personal data.

Loggers: ``intake.core``, ``intake.storage``, ``intake.forms``, ``intake.reports``,
``intake.sync``, ``intake.central``, ``intake.ui``. Messages name record ids, counts and
error types, never answers or the names of the people interviewed.

Exception messages can carry data (``invalid literal for int(): 'Amal'``, SQL parameters),
so tracebacks are written through :func:`safe_traceback`: file, line and function of every
frame, the exception's type, and its message with quoted values, numbers and e-mail
addresses blanked out. A hard crash of the interpreter (in Qt's C++ code, say) leaves the
Python stack in ``crash.log`` beside the log (``faulthandler``), which holds no data.
"""

from __future__ import annotations

import faulthandler
import logging
import logging.handlers
import os
import re
import sys
import traceback
from pathlib import Path
from typing import IO

import platformdirs

LOG_FILE = "intake.log"
CRASH_FILE = "crash.log"
MAX_BYTES = 1_000_000
BACKUP_COUNT = 5
FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

_installed: logging.Handler | None = None
_fault_file: IO[str] | None = None

_QUOTED = re.compile(r"""'[^'\n]*'|"[^"\n]*"|„[^“\n]*“|«[^»\n]*»""")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_NUMBER = re.compile(r"\d{3,}")
_PARAMETERS = re.compile(r"\[parameters: .*?\](?=\s|$)", re.DOTALL)
_SQL = re.compile(r"\[SQL: .*?\](?=\s|$)", re.DOTALL)


def scrub(text: str) -> str:
    """Blank out what may be personal data in a technical message.

    Quoted values become ``'…'``, e-mail addresses ``<e-mail>``, runs of three or more
    digits ``#``; SQL parameters are dropped. What stays (types, words of the message,
    SQL keywords and column names) is enough to find a bug.
    """
    text = _PARAMETERS.sub("[parameters: …]", text)
    text = _SQL.sub(lambda m: _QUOTED.sub("'…'", m.group(0)), text)
    text = _EMAIL.sub("<e-mail>", text)
    text = _QUOTED.sub("'…'", text)
    return _NUMBER.sub("#", text)


def safe_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` (and its causes) with scrubbed messages, no local values."""
    lines: list[str] = []
    seen: set[int] = set()
    chain: list[tuple[BaseException, str]] = []
    current: BaseException | None = exc
    note = ""
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append((current, note))
        if current.__cause__ is not None:
            current, note = current.__cause__, "caused by"
        elif current.__context__ is not None and not current.__suppress_context__:
            current, note = current.__context__, "while handling"
        else:
            current = None
    for item, how in reversed(chain):
        lines.append("Traceback (most recent call last):")
        for frame in traceback.extract_tb(item.__traceback__):
            where = _short_path(frame.filename)
            lines.append(f'  File "{where}", line {frame.lineno}, in {frame.name}')
            if frame.line:
                lines.append(f"    {scrub(frame.line.strip())}")
        message = scrub(str(item))
        name = f"{type(item).__module__}.{type(item).__qualname__}".removeprefix("builtins.")
        lines.append(f"{name}: {message}" if message else name)
        if how == "caused by":
            lines.append("\nThe above exception was the direct cause of the following exception:\n")
        elif how:
            lines.append("\nDuring handling of the above exception, another exception occurred:\n")
    return "\n".join(lines)


def _short_path(filename: str) -> str:
    """A source path without the user's home folder (which names the user)."""
    marker = f"{os.sep}site-packages{os.sep}"
    if marker in filename:
        return filename.split(marker, 1)[1]
    for anchor in (f"{os.sep}intake_app{os.sep}",):
        if anchor in filename:
            return "intake_app" + os.sep + filename.split(anchor, 1)[1]
    home = str(Path.home())
    return filename.replace(home, "~") if home and home != os.sep else filename


class SafeFormatter(logging.Formatter):
    """A formatter whose tracebacks go through :func:`safe_traceback`."""

    def formatException(self, ei) -> str:  # type: ignore[no-untyped-def]
        exc = ei[1]
        if exc is None:  # pragma: no cover - logging passes a real exception
            return ""
        return safe_traceback(exc)

    def formatStack(self, stack_info: str) -> str:
        return scrub(stack_info)


#: The log folder inside a profile folder chosen explicitly (:func:`resolve_log_dir`).
PROFILE_LOG_FOLDER = "logs"


def resolve_log_dir(data_dir: Path | None, *, explicit_profile: bool) -> Path:
    """``INTAKE_LOG_DIR``; else the profile's ``logs`` folder when a profile folder was
    chosen explicitly (tests, portable installs); else the platformdirs log folder."""
    env = os.environ.get("INTAKE_LOG_DIR")
    if env:
        return Path(env)
    if explicit_profile and data_dir is not None:
        return data_dir / PROFILE_LOG_FOLDER
    return Path(platformdirs.user_log_dir("Intake", appauthor=False))


def setup_logging(log_dir: Path, *, level: int = logging.INFO) -> Path:
    """Send the ``intake`` loggers to a rotated file in ``log_dir``; return the file path."""
    global _installed
    log_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = log_dir / LOG_FILE
    if os.name == "posix":  # the folder and the file are private whatever the umask
        os.chmod(log_dir, 0o700)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600))
        os.chmod(path, 0o600)
    root = logging.getLogger("intake")
    if _installed is not None:
        root.removeHandler(_installed)
        _installed.close()
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8", delay=True
    )
    handler.setFormatter(SafeFormatter(FORMAT))
    root.addHandler(handler)
    root.setLevel(level)
    _installed = handler
    return path


def current_log_file() -> Path | None:
    """The file the log goes to, if logging was set up."""
    if isinstance(_installed, logging.handlers.RotatingFileHandler):
        return Path(_installed.baseFilename)
    return None


def current_log_dir() -> Path | None:
    """The folder of the log (the one to open for the IT), if logging was set up."""
    path = current_log_file()
    return path.parent if path is not None else None


def enable_fault_log(log_dir: Path | None = None) -> Path | None:
    """Write the Python stack to ``crash.log`` when the interpreter itself crashes.

    The file is started afresh when it has grown past the log's size limit. Returns its
    path, or None when no log folder is known or it cannot be written.
    """
    global _fault_file
    folder = log_dir or current_log_dir()
    if folder is None:
        return None
    path = folder / CRASH_FILE
    try:
        folder.mkdir(parents=True, exist_ok=True)
        mode = "w" if path.is_file() and path.stat().st_size > MAX_BYTES else "a"
        handle = path.open(mode, encoding="utf-8")
    except OSError:
        return None
    if _fault_file is not None:
        _fault_file.close()
    _fault_file = handle
    faulthandler.enable(file=handle, all_threads=True)
    return path


def disable_fault_log() -> None:
    """Stop writing to ``crash.log`` (tests; the program keeps it for its whole life)."""
    global _fault_file
    if _fault_file is not None:
        faulthandler.enable(file=sys.__stderr__ or sys.stderr)
        _fault_file.close()
        _fault_file = None


def reset_logging() -> None:
    """Detach the log file handler again (tests, and a program that switches profiles)."""
    global _installed
    if _installed is not None:
        logging.getLogger("intake").removeHandler(_installed)
        _installed.close()
        _installed = None
