"""Encrypted backups of a profile: a daily copy, kept for a number of days, and a restore.

A backup is one folder ``backups/<UTC time stamp>/`` with

- ``intake.db``: a consistent copy of the profile database made with SQLite's online
  backup API, still encrypted with its key (SQLCipher), switched to a self-contained
  rollback journal and checked with ``PRAGMA quick_check``;
- ``stores/``: every record store, each still under its own key;
- ``vault.json``: the keys as they were at backup time, wrapped and sealed (the vault
  holds no key in the clear);
- ``profile.json`` and, when present, ``organisation.yaml`` with its administrator's
  signature ``organisation.yaml.sig`` (docs/security.md, "The organisation file"):
  non-personal configuration;
- ``manifest.json``: time, reason, program and schema version, and a SHA-256 per file.

The folder is written under a temporary name and renamed when complete, so a backup is
either whole or absent. A restore never loses the present state: the current files are
first moved into a backup of their own (reason ``before_restore``).

A backup opens for exactly the keys that could read its content when it was made
(docs/security.md, "Device: keys and scopes"). Users sign in with the passwords valid at
backup time.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import enum
import hashlib
import hmac
import json
import logging
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import sqlcipher3
from filelock import FileLock
from sqlalchemy.exc import DatabaseError, OperationalError

from intake_app import __version__
from intake_app.atomic import (
    DISK_FULL_ERRNOS,
    atomic_write_bytes,
    disk_full_error,
    fsync_dir,
    make_private,
)
from intake_app.core.audit import AuditAction
from intake_app.core.permissions import Permission, Role
from intake_app.errors import AuthError, KnownError, NotFound, ProfileError
from intake_app.i18n import _
from intake_app.storage import audit, integrity, migrate, schema_guard, users
from intake_app.storage.database import Database, translate_db_error
from intake_app.storage.profile import DB_FILE, META_FILE, VAULT_FILE, Profile
from intake_app.storage.stores import STORES_DIR, store_path
from intake_app.storage.vault import Vault, key_check

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from intake_app.app import Workspace

log = logging.getLogger("intake.storage")

BACKUP_FORMAT = "intake-backup"
BACKUP_VERSION = 1
MANIFEST = "manifest.json"
ORGANISATION_FILE = "organisation.yaml"
ORGANISATION_SIGNATURE = ORGANISATION_FILE + ".sig"
PARTIAL_PREFIX = ".partial-"
STAGING_PREFIX = "restore-"
#: Files a backup may hold besides the manifest, in the order they are restored.
FILES = (
    DB_FILE,
    DB_FILE + "-wal",
    VAULT_FILE,
    META_FILE,
    ORGANISATION_FILE,
    ORGANISATION_SIGNATURE,
)
_STAMP = "%Y%m%dT%H%M%SZ"


class BackupReason(enum.StrEnum):
    """Why a backup was made."""

    DAILY = "daily"
    MANUAL = "manual"
    BEFORE_RESTORE = "before_restore"

    @property
    def label(self) -> str:
        """The reason in words, for lists."""
        return {
            BackupReason.DAILY: _("tägliche Sicherung"),
            BackupReason.MANUAL: _("von Hand angelegt"),
            BackupReason.BEFORE_RESTORE: _("Stand vor einer Wiederherstellung"),
        }[self]


@dataclass(frozen=True, slots=True)
class BackupInfo:
    """One complete backup folder, as described by its manifest."""

    name: str
    path: Path
    created: datetime
    reason: BackupReason
    program_version: str
    schema: str | None
    profile_id: str
    files: dict[str, str]
    size: int

    def label(self) -> str:
        """``15.03.2026, 11:15 Uhr – tägliche Sicherung`` in local time."""
        local = self.created.astimezone()
        return _("{date}, {time} Uhr – {reason}").format(
            date=local.strftime("%d.%m.%Y"), time=local.strftime("%H:%M"), reason=self.reason.label
        )


@dataclass(frozen=True, slots=True)
class RestoreResult:
    """What a restore did: which backup is now in place, and where the old state went."""

    restored: BackupInfo
    safety_copy: BackupInfo
    schema_steps: tuple[str, ...]


# -- small helpers ---------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_file(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def _translate_os_error(exc: OSError) -> KnownError | OSError:
    if exc.errno in DISK_FULL_ERRNOS:
        return disk_full_error()
    if isinstance(exc, PermissionError):
        return KnownError(
            _(
                "Auf den Profilordner kann gerade nicht zugegriffen werden. Schließen Sie alle "
                "Intake-Fenster und versuchen Sie es erneut."
            ),
            kind="locked",
        )
    return exc


def _key_pragma(key: bytes) -> str:
    return f"PRAGMA key = \"x'{key.hex()}'\""


def _key_of(db: Database) -> bytes:
    """The raw key of an open database (the engine URL holds it as ``x'hex'``)."""
    password = db.engine.url.password or ""
    return bytes.fromhex(password[2:-1])


def _unique_folder(parent: Path, base: str) -> Path:
    candidate = parent / base
    counter = 2
    while candidate.exists():
        candidate = parent / f"{base}-{counter}"
        counter += 1
    return candidate


def _present_files(folder: Path) -> list[str]:
    """The files of a backup or profile folder: FILES, then every record store."""
    names = [name for name in FILES if (folder / name).is_file()]
    stores = folder / STORES_DIR
    if stores.is_dir():
        for path in sorted(stores.iterdir()):
            if path.is_file() and (path.name.endswith(".db") or path.name.endswith(".db-wal")):
                names.append(f"{STORES_DIR}/{path.name}")
    return names


def _write_manifest(
    folder: Path,
    *,
    created: datetime,
    reason: BackupReason,
    schema: str | None,
    profile_id: str,
) -> None:
    files = {
        name: {"sha256": _sha256(folder / name), "size": (folder / name).stat().st_size}
        for name in _present_files(folder)
    }
    manifest = {
        "format": BACKUP_FORMAT,
        "version": BACKUP_VERSION,
        "created": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "reason": reason.value,
        "program": __version__,
        "schema": schema,
        "profile_id": profile_id,
        "files": files,
    }
    for name in files:
        _fsync_file(folder / name)
    atomic_write_bytes(  # fsyncs the folder too
        folder / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8")
    )


def read_backup(folder: Path) -> BackupInfo | None:
    """The backup in ``folder``, or None when it has no readable manifest."""
    try:
        data = json.loads((folder / MANIFEST).read_text("utf-8"))
        if data.get("format") != BACKUP_FORMAT or int(data.get("version", 0)) > BACKUP_VERSION:
            return None
        files = {str(name): str(entry["sha256"]) for name, entry in data["files"].items()}
        size = sum(int(entry["size"]) for entry in data["files"].values())
        created = datetime.strptime(data["created"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        return BackupInfo(
            name=folder.name,
            path=folder,
            created=created,
            reason=BackupReason(data["reason"]),
            program_version=str(data.get("program", "")),
            schema=data.get("schema"),
            profile_id=str(data.get("profile_id", "")),
            files=files,
            size=size,
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


# -- listing and retention -------------------------------------------------------------------


def list_backups(profile: Profile) -> list[BackupInfo]:
    """Every complete backup of ``profile``, newest first."""
    folder = profile.backups_dir
    if not folder.is_dir():
        return []
    found = []
    for child in folder.iterdir():
        if child.is_dir() and not child.name.startswith("."):
            info = read_backup(child)
            if info is not None:
                found.append(info)
    return sorted(found, key=lambda info: (info.created, info.name), reverse=True)


def latest_backup(profile: Profile) -> BackupInfo | None:
    """The newest regular backup (daily or manual): what to offer after a damaged start."""
    for info in list_backups(profile):
        if info.reason is not BackupReason.BEFORE_RESTORE:
            return info
    return None


def find_backup(profile: Profile, name: str) -> BackupInfo:
    """The backup called ``name``.

    Raises:
        NotFound: there is no complete backup of that name.
    """
    for info in list_backups(profile):
        if info.name == name:
            return info
    raise NotFound(
        _("Es gibt keine Sicherung „{name}“. Eine Liste zeigt: intake-app backup list").format(
            name=name
        )
    )


def prune_backups(profile: Profile, *, keep_days: int, now: datetime | None = None) -> list[str]:
    """Delete backups older than ``keep_days`` days; the newest regular backup always stays.

    Also removes half-written backup folders left by an interruption and schema-upgrade
    copies (``before-upgrade-*.db``) of the same age. Returns the names deleted.
    """
    now = now or datetime.now(UTC)
    limit = now - timedelta(days=keep_days)
    folder = profile.backups_dir
    if not folder.is_dir():
        return []
    keep = latest_backup(profile)
    removed = []
    for info in list_backups(profile):
        if info.created < limit and (keep is None or info.name != keep.name):
            shutil.rmtree(info.path, ignore_errors=True)
            removed.append(info.name)
    for child in folder.iterdir():
        if child.name.startswith(PARTIAL_PREFIX):
            shutil.rmtree(child, ignore_errors=True)
        elif child.is_file() and child.name.startswith("before-upgrade-") and keep is not None:
            modified = datetime.fromtimestamp(child.stat().st_mtime, UTC)
            if modified < limit:
                child.unlink(missing_ok=True)
                removed.append(child.name)
    if removed:
        log.info("backups: %d expired item(s) removed", len(removed))
    return removed


# -- creating ---------------------------------------------------------------------------------


def _finish_db_copy(path: Path, key: bytes) -> None:
    """Make the copied database self-contained (no WAL) and check it page by page."""
    conn = schema_guard.connect(path)
    try:
        conn.execute(_key_pragma(key))
        conn.execute("PRAGMA journal_mode = DELETE").fetchall()
        result = [row[0] for row in conn.execute("PRAGMA quick_check").fetchall()]
    finally:
        conn.close()
    if result != ["ok"]:
        raise ProfileError(
            _(
                "Die Datenbank ließ sich nicht fehlerfrei sichern. Bitte wenden Sie sich an "
                "die IT; die bisherigen Sicherungen bleiben erhalten."
            ),
            kind="corrupt",
        )


def _copy_locked(source: Path, target: Path, lock: Path) -> None:
    with FileLock(str(lock), timeout=30):
        shutil.copy2(source, target)


def create_backup(ws: Workspace, *, reason: BackupReason = BackupReason.MANUAL) -> BackupInfo:
    """Write a new backup of the signed-in profile and remove expired ones.

    A manual backup needs the permission to manage settings; the daily one runs for
    anyone who signs in.

    Raises:
        KnownError: the disk is full (``disk_full``) or the profile is busy.
        PermissionDenied: a manual backup by someone who is not an administrator.
    """
    if reason is BackupReason.MANUAL:
        ws.actor.require(Permission.MANAGE_SETTINGS)
    profile = ws.profile
    root = profile.backups_dir
    root.mkdir(parents=True, exist_ok=True)
    if os.name == "posix":
        os.chmod(root, 0o700)
    created = datetime.now(UTC).replace(microsecond=0)
    needed = profile.db_path.stat().st_size * 2 + 1024 * 1024
    if shutil.disk_usage(root).free < needed:
        raise disk_full_error()
    partial = root / f"{PARTIAL_PREFIX}{uuid.uuid4().hex}"
    partial.mkdir()
    try:
        profile_db = ws.scope.profile_db
        key = _key_of(profile_db)
        profile_db.copy_to(partial / DB_FILE)
        _finish_db_copy(partial / DB_FILE, key)
        _copy_stores(ws, partial)
        _copy_locked(profile.vault_path, partial / VAULT_FILE, Path(f"{profile.vault_path}.lock"))
        if profile.meta_path.is_file():
            shutil.copy2(profile.meta_path, partial / META_FILE)
        for name in (ORGANISATION_FILE, ORGANISATION_SIGNATURE):  # the file counts signed
            if (profile.root / name).is_file():
                shutil.copy2(profile.root / name, partial / name)
        _write_manifest(
            partial,
            created=created,
            reason=reason,
            schema=migrate.current_revision(ws.db),
            profile_id=profile.profile_id,
        )
        make_private(partial)
        target = _unique_folder(root, created.strftime(_STAMP))
        os.replace(partial, target)
        fsync_dir(root)
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        translated = _translate_os_error(exc)
        if translated is exc:
            raise
        raise translated from exc
    except sqlcipher3.Error as exc:
        shutil.rmtree(partial, ignore_errors=True)
        known = translate_db_error(exc)
        if known is None:
            raise
        raise known from exc
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    info = read_backup(target)
    assert info is not None
    ws.audit(
        AuditAction.BACKUP_CREATED,
        subject_type="backup",
        subject_id=info.name,
        details={"reason": reason.value},
    )
    log.info("backup %s written (%s, %d bytes)", info.name, reason.value, info.size)
    prune_backups(profile, keep_days=int(ws.settings.get("backup.keep_days")))
    return info


def _copy_stores(ws: Workspace, partial: Path) -> None:
    """Copy every record store, still encrypted under its own key (docs/security.md).

    A store this workspace has open is copied with SQLite's backup API and checked; the
    others (their keys are not hers) are copied as files, with their WAL if there is one.
    Whoever reads the backup needs the keys that could read each store when it was made.
    """
    target = partial / STORES_DIR
    target.mkdir()
    for sid in ws.vault.stores():
        source = store_path(ws.profile.root, sid)
        if not source.is_file():
            continue
        open_db = ws.scope.stores.get(sid)
        if open_db is not None:
            open_db.copy_to(target / source.name)
            _finish_db_copy(target / source.name, _key_of(open_db))
            continue
        shutil.copy2(source, target / source.name)
        wal = Path(str(source) + "-wal")
        if wal.is_file() and wal.stat().st_size:
            shutil.copy2(wal, target / wal.name)


def backup_due(profile: Profile, *, now: datetime | None = None) -> bool:
    """True when no regular backup was made today (local date)."""
    latest = latest_backup(profile)
    if latest is None:
        return True
    today = (now or datetime.now(UTC)).astimezone().date()
    return latest.created.astimezone().date() < today


def backup_if_due(ws: Workspace, *, now: datetime | None = None) -> BackupInfo | None:
    """Make the daily backup unless one exists for today; return it (None: not due)."""
    if not backup_due(ws.profile, now=now):
        return None
    return create_backup(ws, reason=BackupReason.DAILY)


# -- verifying and restoring ------------------------------------------------------------------


def verify_files(backup: BackupInfo) -> None:
    """Check every file of ``backup`` against its manifest.

    Raises:
        ProfileError: a file is missing or changed (``kind="corrupt"``).
    """
    for name, expected in backup.files.items():
        path = backup.path / name
        if not path.is_file() or _sha256(path) != expected:
            raise ProfileError(
                _(
                    "Die Sicherung „{name}“ ist unvollständig oder verändert ({file}). Bitte "
                    "wählen Sie eine andere Sicherung."
                ).format(name=backup.name, file=name),
                kind="corrupt",
            )
    if DB_FILE not in backup.files or VAULT_FILE not in backup.files:
        raise ProfileError(
            _("Der Sicherung „{name}“ fehlt die Datenbank oder der Schlüsseltresor.").format(
                name=backup.name
            ),
            kind="corrupt",
        )


def unlock_for_restore(
    profile: Profile, backup: BackupInfo, *, username: str, password: str
) -> bytes:
    """Check a user's password and return the database key for a restore.

    The password is checked against the current vault (throttled like a log-in); when the
    current vault is missing or damaged, or the profile database has had a new key since
    the backup (someone left: docs/security.md, "Granting and revoking"), against the
    vault in the backup: after a restore, the passwords of backup time count.

    Raises:
        AuthError: wrong name or password.
    """
    try:
        key = profile.vault().unlock(username, password)
    except ProfileError as exc:
        if exc.kind not in ("missing", "corrupt"):
            raise
    else:
        if _opens_backup(backup, key):
            return key
    staging = profile.tmp_dir / f"{STAGING_PREFIX}vault-{uuid.uuid4().hex}"
    staging.mkdir(parents=True)
    try:
        shutil.copy2(backup.path / VAULT_FILE, staging / VAULT_FILE)
        return Vault(staging / VAULT_FILE).unlock(username, password)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _opens_backup(backup: BackupInfo, key: bytes) -> bool:
    """Whether ``key`` is the database key of the backup, by its vault's key check."""
    try:
        data = json.loads((backup.path / VAULT_FILE).read_text("utf-8"))
        expected = base64.b64decode(data["key_check"], validate=True)
    except (OSError, ValueError, KeyError, TypeError, binascii.Error):
        return True  # nothing to compare with: the check of the staged database decides
    return hmac.compare_digest(expected, key_check(data, key))


def _check_staged_database(path: Path, key: bytes, *, username: str) -> None:
    """Open the staged copy: right key, intact pages, known schema, an administrator."""
    db = Database(path, key)
    try:
        db.verify_key()
        if db.integrity_check() != ["ok"]:
            raise ProfileError(
                _(
                    "Die Datenbank in dieser Sicherung ist beschädigt. Bitte wählen Sie eine "
                    "andere."
                ),
                kind="corrupt",
            )
        current = migrate.current_revision(db)
        if current is not None and not migrate.known_revision(current):
            raise ProfileError(
                _(
                    "Diese Sicherung stammt von einer neueren Intake-Version. Bitte installieren "
                    "Sie die aktuelle Version, bevor Sie sie wiederherstellen."
                ),
                kind="newer",
            )
        with db.read() as session:
            user = users.get_by_name(session, username=username)
            allowed = user is not None and user.active and user.role == Role.ADMIN.value
            signed = _signed_role(session, user.id) if user is not None and user.id else None
        if allowed and signed is not None and signed != (Role.ADMIN.value, True):
            # the role or state in the backup's rows was changed (docs/security.md,
            # "Signed user rows"): a changed row is refused, never honoured
            log.error("a restore by a user whose signed row is no active administrator")
            raise AuthError(
                _(
                    "In dieser Sicherung ist Ihr Konto nicht als aktive Administration "
                    "unterschrieben; ihre Benutzerdaten wurden außerhalb des Programms "
                    "geändert. Die Sicherung wird nicht eingespielt. Bitte wählen Sie eine "
                    "andere und informieren Sie den Datenschutz."
                )
            )
        if not allowed:
            raise AuthError(
                _(
                    "Eine Sicherung kann nur eine Administratorin oder ein Administrator "
                    "wiederherstellen, die oder der zum Zeitpunkt der Sicherung eingerichtet war."
                )
            )
    finally:
        db.close()


def _signed_role(session: Session, user_id: int) -> tuple[str, bool] | None:
    """(role, active) as the signed state of a backup's database says for ``user_id``;
    ("", False) for a row that does not check; None for a database from before signed
    rows (its plain columns are all there is)."""
    try:
        report = integrity.check_state(session)
    except (OperationalError, DatabaseError):  # a schema from before signed rows
        return None
    if not report.bootstrapped:
        return None
    values = report.signed.get(user_id)
    return (values.role, values.active) if values is not None else ("", False)


def _move_current_aside(profile: Profile, *, created: datetime) -> BackupInfo:
    """Move the profile's present files into a ``before_restore`` backup (nothing copied)."""
    root = profile.backups_dir
    root.mkdir(parents=True, exist_ok=True)
    partial = root / f"{PARTIAL_PREFIX}{uuid.uuid4().hex}"
    partial.mkdir()
    profile_id = profile.profile_id
    moved: list[str] = []
    try:
        for name in FILES:
            source = profile.root / name
            if source.is_file():
                os.replace(source, partial / name)
                moved.append(name)
        if (profile.root / STORES_DIR).is_dir():
            os.replace(profile.root / STORES_DIR, partial / STORES_DIR)
            moved.append(STORES_DIR)
    except BaseException:
        for name in moved:  # put back what was already moved
            os.replace(partial / name, profile.root / name)
        shutil.rmtree(partial, ignore_errors=True)
        raise
    (profile.root / (DB_FILE + "-shm")).unlink(missing_ok=True)
    _write_manifest(
        partial,
        created=created,
        reason=BackupReason.BEFORE_RESTORE,
        schema=None,
        profile_id=profile_id,
    )
    make_private(partial)
    target = _unique_folder(root, created.strftime(_STAMP) + "-before-restore")
    os.replace(partial, target)
    fsync_dir(root)
    info = read_backup(target)
    assert info is not None
    return info


def restore_backup(
    profile: Profile, backup: BackupInfo, *, key: bytes, username: str
) -> RestoreResult:
    """Put ``backup`` in place of the current profile state; the present state is kept.

    The profile must be closed (every workspace on it signed out). The backup is checked
    completely before anything changes: its files against the manifest, the database with
    ``key`` (from :func:`unlock_for_restore`), its schema, and that ``username`` is an
    active administrator in it. Then the present files are moved into a backup of their
    own (reason ``before_restore``) and the backup's files take their place. After the
    restore, everyone signs in with the passwords valid at backup time.

    Raises:
        ProfileError: the backup is damaged, from another profile or a newer version.
        AuthError: ``username`` is not an administrator in the backup.
        KnownError: the disk is full or the profile is still open elsewhere.
    """
    verify_files(backup)
    if backup.profile_id and profile.profile_id and backup.profile_id != profile.profile_id:
        raise ProfileError(
            _("Diese Sicherung gehört zu einem anderen Profil und wird nicht eingespielt."),
            kind="corrupt",
        )
    staging = profile.tmp_dir / f"{STAGING_PREFIX}{uuid.uuid4().hex}"
    staging.mkdir(parents=True)
    try:
        try:
            for name in backup.files:
                (staging / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(backup.path / name, staging / name)
            _check_staged_database(staging / DB_FILE, key, username=username)
            for leftover in (DB_FILE + "-wal", DB_FILE + "-shm"):
                if leftover not in backup.files:
                    (staging / leftover).unlink(missing_ok=True)
            for name in backup.files:
                if (staging / name).is_file():  # the check folds a -wal into the database
                    _fsync_file(staging / name)
            lock = FileLock(f"{profile.vault_path}.lock", timeout=30)
            with lock:
                now = datetime.now(UTC).replace(microsecond=0)
                safety = _move_current_aside(profile, created=now)
                try:
                    for name in FILES:
                        if (staging / name).is_file():
                            os.replace(staging / name, profile.root / name)
                    if (staging / STORES_DIR).is_dir():
                        os.replace(staging / STORES_DIR, profile.root / STORES_DIR)
                    fsync_dir(profile.root)
                except BaseException:
                    _put_back(profile, safety)
                    raise
        except OSError as exc:
            translated = _translate_os_error(exc)
            if translated is exc:
                raise
            raise translated from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    db, steps = profile.open_database(key)
    try:
        with db.write() as session:
            audit.append(
                session,
                actor=username,
                action=AuditAction.BACKUP_RESTORED,
                subject_type="backup",
                subject_id=backup.name,
                details={"safety_copy": safety.name, "reason": backup.reason.value},
            )
    finally:
        db.close()
    log.info("backup %s restored; previous state kept as %s", backup.name, safety.name)
    return RestoreResult(restored=backup, safety_copy=safety, schema_steps=tuple(steps))


def _put_back(profile: Profile, safety: BackupInfo) -> None:
    """Undo a half-done swap: the files moved aside go back into the profile."""
    with contextlib.suppress(OSError):
        for name in FILES:
            (profile.root / name).unlink(missing_ok=True)
        shutil.rmtree(profile.root / STORES_DIR, ignore_errors=True)
        for name in safety.files:
            (profile.root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(safety.path / name, profile.root / name)
    log.error("restore failed while swapping files; the previous state was put back")
