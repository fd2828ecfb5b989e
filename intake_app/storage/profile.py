"""The profile folder: where it is, what it holds, and how a new one is created.

A profile is one folder (``--data-dir``, env ``INTAKE_DATA_DIR``, or the platformdirs
user data folder) with:

- ``intake.db`` (+ ``-wal``/``-shm``): the SQLCipher database; everything about people;
- ``vault.json``: the database key, wrapped per user and by the recovery key;
- ``profile.json``: non-personal device settings needed before log-in (language);
- ``logs/``: the rotated log (never personal data);
- ``backups/``: encrypted copies of the database;
- ``tmp/``: the only place temporary files may go (encrypted content only).
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

from intake_app import __version__
from intake_app.atomic import atomic_write_bytes, make_private
from intake_app.core import settings as declared
from intake_app.core.audit import AuditAction
from intake_app.core.permissions import Role, check_password_policy, check_username
from intake_app.errors import ProfileError, ValidationError
from intake_app.i18n import _
from intake_app.kdf import RFC9106_MINIMUM, KdfParams
from intake_app.storage.schema_snapshot import PROFILE

if TYPE_CHECKING:
    from intake_app.storage.database import Database
    from intake_app.storage.vault import Vault

log = logging.getLogger("intake.storage")

APP_NAME = "Intake"
PROFILE_FORMAT = "intake-profile"
PROFILE_VERSION = 1
DB_FILE = "intake.db"
VAULT_FILE = "vault.json"
META_FILE = "profile.json"


def default_data_dir() -> Path:
    """The platformdirs user data folder (e.g. ``%LOCALAPPDATA%\\Intake`` on Windows)."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False, roaming=False))


def resolve_data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """``--data-dir`` wins, then ``INTAKE_DATA_DIR``, then the platform default."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get("INTAKE_DATA_DIR")
    if env:
        return Path(env).expanduser().resolve()
    return default_data_dir()


class Profile:
    """A profile folder (it may not exist yet).

    Args:
        root: the folder.
        kdf_params: Argon2id parameters for new password wraps (RFC 9106 or stronger).

    The log-in window needs only the paths: the vault and its cryptography load with the
    sign-in, behind the log-in window (docs/architecture.md, "Start-up").
    """

    def __init__(self, root: Path, *, kdf_params: KdfParams = RFC9106_MINIMUM) -> None:
        self.root = Path(root)
        self.kdf_params = kdf_params

    # -- paths -------------------------------------------------------------------------

    @property
    def db_path(self) -> Path:
        return self.root / DB_FILE

    @property
    def vault_path(self) -> Path:
        return self.root / VAULT_FILE

    @property
    def meta_path(self) -> Path:
        return self.root / META_FILE

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def backups_dir(self) -> Path:
        return self.root / "backups"

    @property
    def tmp_dir(self) -> Path:
        return self.root / "tmp"

    def vault(self) -> Vault:
        # Deferred: the vault's cryptography loads behind the log-in window (class doc).
        from intake_app.storage.vault import Vault

        return Vault(self.vault_path)

    def exists(self) -> bool:
        """True when the folder holds a profile (a vault and a database)."""
        return self.vault_path.is_file() and self.db_path.is_file()

    # -- device settings (profile.json) ------------------------------------------------

    def read_meta(self) -> dict[str, Any]:
        """The contents of ``profile.json`` (empty when missing or unreadable)."""
        try:
            data = json.loads(self.meta_path.read_text("utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def write_meta(self, data: dict[str, Any]) -> None:
        atomic_write_bytes(
            self.meta_path, json.dumps(data, indent=2, ensure_ascii=False).encode("utf-8")
        )

    @property
    def profile_id(self) -> str:
        """The profile's random id (from profile.json)."""
        return str(self.read_meta().get("profile_id", ""))

    @property
    def device_prefix(self) -> str:
        """Four characters that keep case numbers of different devices apart."""
        return (self.profile_id.replace("-", "")[:4] or "0000").upper()

    def device_setting(self, key: str) -> Any:
        """A device-scope setting (e.g. ``ui.language``), or its default."""
        spec = declared.spec(key)
        value = self.read_meta().get("device", {}).get(key, spec.default)
        try:
            return spec.validate(value)
        except ValidationError:
            return spec.default

    def set_device_setting(self, key: str, value: Any) -> None:
        """Store a device-scope setting in ``profile.json``."""
        spec = declared.spec(key)
        if spec.scope is not declared.Scope.DEVICE:
            raise ValueError(f"{key} is not a device setting")
        data = self.read_meta() or self._new_meta()
        data.setdefault("device", {})[key] = spec.validate(value)
        self.write_meta(data)

    def _new_meta(self) -> dict[str, Any]:
        return {
            "format": PROFILE_FORMAT,
            "version": PROFILE_VERSION,
            "profile_id": str(uuid.uuid4()),
            "created_with": __version__,
            "device": {},
        }

    # -- opening -----------------------------------------------------------------------

    def open_database(self, key: bytes) -> tuple[Database, list[str]]:
        """Open the database with ``key`` and upgrade its schema.

        Returns:
            the open database and the migration steps applied (empty if none).
        """
        # Deferred: SQLAlchemy loads when a database is opened, so the log-in window
        # and Argon2id need only the vault (docs/architecture.md, "Start-up").
        from intake_app.storage.database import Database
        from intake_app.storage.migrate import upgrade

        db = Database(self.db_path, key, tolerant=True)
        try:
            db.verify_key()
            # code someone planted in the file goes before anything is written to it;
            # the sign-in reports it (storage/schema_guard.py)
            db.removed_code = db.remove_planted()
            steps = upgrade(db, backup_dir=self.backups_dir)
            # and table definitions someone changed: put back as the program makes them
            db.removed_code += db.guard_schema(PROFILE)
            db.removed_code += db.recheck_indexes()
            # and values of a type the program never writes, which would stop it
            db.removed_code += db.retype_values()
        except BaseException:
            db.engine.dispose()
            raise
        make_private(self.db_path)  # 0600 whatever the umask
        return db, steps

    # -- creation ----------------------------------------------------------------------

    def create(
        self,
        *,
        admin_name: str,
        admin_password: str,
        display_name: str = "",
        site_name: str = "",
        language: str = "de",
    ) -> str:
        """Create a new profile with its first administrator; return the recovery key.

        Nothing is left behind when creation fails half-way.

        Raises:
            ProfileError: the folder already holds a profile.
            ValidationError: the name or password does not meet the rules.
        """
        # Deferred: SQLAlchemy loads when a database is made, the vault's cryptography
        # with the sign-in (docs/architecture.md, "Start-up").
        import intake_app.storage.audit as audit
        import intake_app.storage.integrity as integrity
        import intake_app.storage.migrate as migrate
        import intake_app.storage.settings_repo as settings_repo
        import intake_app.storage.user_keys as user_keys
        import intake_app.storage.users as users
        from intake_app.storage.database import Database
        from intake_app.storage.vault import Vault, new_database_key

        name = check_username(admin_name)
        check_password_policy(admin_password, username=name)
        if self.vault_path.exists() or self.db_path.exists():
            raise ProfileError(
                _("In {path} gibt es bereits ein Profil; es wurde nicht verändert.").format(
                    path=self.root
                ),
                kind="exists",
            )
        existed = self.root.exists()
        self.root.mkdir(parents=True, exist_ok=True)
        if os.name == "posix" and not existed:
            os.chmod(self.root, 0o700)
        key = new_database_key()
        db: Database | None = None
        try:
            _vault, recovery = Vault.create(
                self.vault_path,
                db_key=key,
                username=name,
                password=admin_password,
                params=self.kdf_params,
            )
            db = Database(self.db_path, key)
            migrate.upgrade(db)
            with db.write() as session:
                admin = users.create(
                    session,
                    username=name,
                    role=Role.ADMIN.value,
                    display_name=display_name,
                    must_change=False,
                )
                # The signed state: a root (wrapped by the recovery key) certifies the
                # first administrator (docs/security.md, "Device: integrity of roles and
                # the audit log").
                root = integrity.create_root(
                    session, recovery_secret=user_keys.recovery_secret(recovery)
                )
                root_kid = user_keys.key_id(root)
                own = integrity.issue_key(
                    session,
                    user=admin,
                    vault=_vault,
                    authority=integrity.Authority(root_kid, root),
                    root_kid=root_kid,
                    root_key=root,
                )
                session.info["audit_signer"] = integrity.signer_of(own)
                settings_repo.upgrade_stored(session)
                if site_name:
                    settings_repo.put(session, key="site.name", value=site_name)
                settings_repo.seal_new_profile(session, actor=name, signer=(root_kid, root))
                audit.append(
                    session,
                    actor=name,
                    action=AuditAction.PROFILE_CREATED,
                    details={"version": __version__, "schema": migrate.head_revision()},
                )
                audit.append(
                    session,
                    actor=name,
                    action=AuditAction.USER_CREATED,
                    subject_type="user",
                    subject_id=str(admin.id),
                    details={"role": Role.ADMIN.value},
                )
            meta = self._new_meta()
            meta["device"]["ui.language"] = declared.spec("ui.language").validate(language)
            self.write_meta(meta)
            db.close()
            db = None
        except BaseException:
            if db is not None:
                db.engine.dispose()
            for path in (
                self.db_path,
                self.db_path.with_name(DB_FILE + "-wal"),
                self.db_path.with_name(DB_FILE + "-shm"),
                self.vault_path,
                self.vault_path.with_name(VAULT_FILE + ".lock"),
                self.meta_path,
            ):
                path.unlink(missing_ok=True)
            raise
        log.info("profile created")
        return recovery
