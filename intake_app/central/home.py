"""The office's home folder: layout, configuration, passphrase and database URL.

::

    HOME/
      config.json          format marker, database URL, optional shared batches folder
      keys.json            office key pairs, private halves wrapped under the passphrase
      central.db           the central database when SQLite is used (the default)
      batches/<device>/    sealed batches as received (ciphertext only)
      quarantine/          batches that could not be imported, each with a reason file
      forms/<id>/          signed published form versions and the signed index
      logs/central.log     rotated log without personal data
"""

from __future__ import annotations

import ctypes
import getpass
import json
import logging
import logging.handlers
import os
import sys
from pathlib import Path
from typing import Any

from intake_app.atomic import atomic_write_bytes
from intake_app.errors import ProfileError, UsageError, ValidationError
from intake_app.i18n import _
from intake_app.logs import SafeFormatter

log = logging.getLogger("intake.central")

CONFIG_FORMAT = "intake-central"
CONFIG_VERSION = 1
PASSPHRASE_ENV = "INTAKE_CENTRAL_PASSPHRASE"
DATABASE_URL_ENV = "INTAKE_CENTRAL_DATABASE_URL"
MIN_PASSPHRASE = 12


class Home:
    """Paths and configuration of one office installation."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).expanduser().resolve()

    @property
    def config_path(self) -> Path:
        return self.root / "config.json"

    @property
    def keys_path(self) -> Path:
        """The importer's key file (decryption keys): never on a receiver host."""
        return self.root / "keys.json"

    @property
    def root_key_path(self) -> Path:
        """The offline root key (may be moved to removable media: ``--root-key``)."""
        return self.root / "root-key.json"

    @property
    def root_public_path(self) -> Path:
        """The root's public key, for checking published forms on any host."""
        return self.root / "root-public.pem"

    @property
    def receiver_key_path(self) -> Path:
        """The receiver's receipt key (``serve --receiver-key`` may name another file)."""
        return self.root / "receiver-key.json"

    @property
    def key_set_path(self) -> Path:
        """The key set signed by the root, as the receiver hands it to devices."""
        return self.root / "keyset.json"

    @property
    def batches_dir(self) -> Path:
        """Sealed batches; ``"batches_dir"`` in config.json can point to a shared folder
        (several receivers, or a receiver host without decryption keys and an import host)."""
        if self.exists():
            try:
                configured = json.loads(self.config_path.read_text("utf-8")).get("batches_dir")
            except (OSError, ValueError, AttributeError):
                configured = None
            if configured:
                return Path(configured)
        return self.root / "batches"

    @property
    def quarantine_dir(self) -> Path:
        return self.root / "quarantine"

    @property
    def forms_dir(self) -> Path:
        return self.root / "forms"

    @property
    def log_dir(self) -> Path:
        return self.root / "logs"

    @property
    def import_lock(self) -> Path:
        return self.root / "import.lock"

    def exists(self) -> bool:
        return self.config_path.is_file()

    def require(self) -> None:
        """Refuse to work on a folder that ``init`` has not set up."""
        if not self.exists():
            raise ProfileError(
                _(
                    "{home} ist kein Zentralen-Ordner. Richten Sie ihn zuerst mit "
                    "»intake-central --home {home} init« ein."
                ).format(home=self.root),
                kind="missing",
            )

    def read_config(self) -> dict[str, Any]:
        self.require()
        try:
            data = json.loads(self.config_path.read_text("utf-8"))
        except (OSError, ValueError):
            raise ProfileError(
                _("config.json im Zentralen-Ordner ist beschädigt."), kind="corrupt"
            ) from None
        if not isinstance(data, dict) or data.get("format") != CONFIG_FORMAT:
            raise ProfileError(_("config.json im Zentralen-Ordner ist beschädigt."), kind="corrupt")
        return data

    def write_config(self, data: dict[str, Any]) -> None:
        payload = json.dumps(data, indent=2, sort_keys=True).encode("utf-8")
        atomic_write_bytes(self.config_path, payload)

    def default_database_url(self) -> str:
        return f"sqlite:///{self.root / 'central.db'}"

    def database_url(self, override: str | None = None) -> str:
        """The database to use: option, then environment, then config.json, then SQLite."""
        if override:
            return override
        env = os.environ.get(DATABASE_URL_ENV)
        if env:
            return env
        configured = self.read_config().get("database_url") if self.exists() else None
        return str(configured) if configured else self.default_database_url()

    def make_folders(self) -> None:
        """Create the sub-folders, readable by the office account only."""
        if os.name == "posix":
            os.chmod(self.root, 0o700)
        for folder in (self.batches_dir, self.quarantine_dir, self.forms_dir, self.log_dir):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            if os.name == "posix":
                os.chmod(folder, 0o700)


class _PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotated log whose files are created 0600, whatever the umask."""

    def _open(self):  # type: ignore[no-untyped-def]
        def opener(path: str, flags: int) -> int:
            return os.open(path, flags, 0o600)

        stream = open(
            self.baseFilename, self.mode, encoding=self.encoding, errors=self.errors, opener=opener
        )
        if os.name == "posix":
            os.chmod(self.baseFilename, 0o600)
        return stream


def setup_logging(home: Home, *, to_stderr: bool = False) -> list[logging.Handler]:
    """Log ``intake.*`` to ``HOME/logs/central.log`` (rotated), and to stderr for ``serve``.

    Returns the handlers added, so a caller running in-process can remove them again.
    """
    root = logging.getLogger("intake")
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    home.log_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    handler: logging.Handler = _PrivateRotatingFileHandler(
        home.log_dir / "central.log", maxBytes=5 * 1024 * 1024, backupCount=5, encoding="utf-8"
    )
    # Tracebacks scrubbed as on the device: exception messages can carry personal data.
    handler.setFormatter(SafeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    added = [handler]
    if to_stderr:
        console = logging.StreamHandler(sys.stderr)
        console.setFormatter(SafeFormatter("%(levelname)s %(name)s: %(message)s"))
        added.append(console)
    for item in added:
        root.addHandler(item)
    return added


def remove_logging(handlers: list[logging.Handler]) -> None:
    """Detach and close handlers that :func:`setup_logging` added."""
    root = logging.getLogger("intake")
    for handler in handlers:
        root.removeHandler(handler)
        handler.close()


def read_secret_file(path: Path) -> str:
    """The first line of a secret file (without its line ending)."""
    try:
        text = Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        raise UsageError(_("Die Datei {path} ist nicht lesbar.").format(path=path)) from None
    return text.splitlines()[0] if text else ""


def forget_environment_variable(name: str) -> None:
    """Remove a secret from this process's environment once it has been read.

    ``os.environ.pop`` alone unsets the variable, but ``/proc/<pid>/environ`` shows the
    environment block the process started with, where the value stays; so its bytes there
    are overwritten first (glibc's ``environ`` still points at them). Child processes no
    longer inherit it either (docs/central-office.md: passphrases).
    """
    try:
        libc = ctypes.CDLL(None)
        entries = ctypes.POINTER(ctypes.c_char_p).in_dll(libc, "environ")
        prefix = name.encode() + b"="
        index = 0
        while entries[index] is not None:
            entry = entries[index]
            if entry is not None and entry.startswith(prefix):
                address = ctypes.cast(entries, ctypes.POINTER(ctypes.c_void_p))[index]
                if address:
                    ctypes.memset(address + len(prefix), 0, len(entry) - len(prefix))
            index += 1
    except (OSError, ValueError, AttributeError):
        pass
    os.environ.pop(name, None)


def read_passphrase(
    passphrase_file: Path | None,
    *,
    env: str = PASSPHRASE_ENV,
    confirm: bool = False,
    prompt: str | None = None,
) -> str:
    """The office passphrase from ``--passphrase-file``, the environment, or a prompt.

    Raises:
        UsageError: no source is available (no file, no variable, no terminal).
        ValidationError: a new passphrase (``confirm``) that is too short or mistyped.
    """
    if passphrase_file is not None:
        value = read_secret_file(passphrase_file)
    elif os.environ.get(env):
        value = os.environ[env]
    elif sys.stdin.isatty():
        value = getpass.getpass(prompt or _("Passphrase der Zentrale: "))
        if confirm and getpass.getpass(_("Passphrase wiederholen: ")) != value:
            raise ValidationError(_("Die beiden Eingaben stimmen nicht überein."))
    else:
        raise UsageError(
            _("Keine Passphrase: bitte --passphrase-file DATEI angeben oder {env} setzen.").format(
                env=env
            )
        )
    if confirm and len(value) < MIN_PASSPHRASE:
        raise ValidationError(
            _("Die Passphrase muss mindestens {n} Zeichen lang sein.").format(n=MIN_PASSPHRASE)
        )
    return value
