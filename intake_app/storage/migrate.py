"""Schema upgrades with Alembic, run on every start before anything else reads the database.

An older profile is upgraded in place inside one transaction (SQLite runs DDL
transactionally), after an encrypted copy of the old file was written to the profile's
``backups`` folder; a failure rolls back and leaves the profile as it was. A profile
written by a newer program version is refused instead of being damaged.
"""

from __future__ import annotations

import ast
import functools
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from intake_app.errors import ProfileError
from intake_app.i18n import _
from intake_app.storage.database import Database, translate_db_error

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

log = logging.getLogger("intake.storage")

SCRIPT_LOCATION = "intake_app.storage:migrations"
VERSIONS_DIR = Path(__file__).parent / "migrations" / "versions"


def _config() -> Config:
    # Deferred: alembic is imported only when a migration is due (docs/architecture.md,
    # "Imports inside functions"); a start on the current schema never loads it.
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    return config


def script_directory() -> ScriptDirectory:
    """Alembic's view of the migrations shipped in the package."""
    # Deferred: alembic, see _config.
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config())


@functools.cache
def _shipped_revisions() -> dict[str, str | None]:
    """revision -> down_revision of every migration shipped, read from the files
    without importing alembic."""
    found: dict[str, str | None] = {}
    for path in sorted(VERSIONS_DIR.glob("*.py")):
        values: dict[str, object] = {}
        for node in ast.parse(path.read_text("utf-8")).body:
            if isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name) and node.value is not None:
                        try:
                            values[target.id] = ast.literal_eval(node.value)
                        except ValueError:
                            continue
        revision = values.get("revision")
        down = values.get("down_revision")
        if isinstance(revision, str) and (down is None or isinstance(down, str)):
            found[revision] = down
    return found


def read_shipped_revisions() -> None:
    """Read the shipped migrations now (kept for the process), so that the sign-in finds
    them read: the log-in window's background load calls this (docs/architecture.md,
    "Start-up")."""
    _shipped_revisions()


def known_revision(revision: str) -> bool:
    """Whether ``revision`` is one of the migrations this program ships."""
    return revision in _shipped_revisions()


@functools.cache
def head_revision() -> str:
    """The newest schema revision this program knows."""
    revisions = _shipped_revisions()
    parents = set(revisions.values())
    heads = [revision for revision in revisions if revision not in parents]
    if len(heads) == 1:
        return heads[0]
    head = script_directory().get_current_head()
    assert head is not None
    return head


def current_revision(db: Database) -> str | None:
    """The schema revision of the open database (None for an empty file)."""
    with db.engine.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'")
        ).first()
        if exists is None:
            return None
        rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    if len(rows) > 1 or (rows and not isinstance(rows[0][0], str)):
        # the program writes one text row: more, or bytes, were put in by hand
        raise _version_changed()
    return str(rows[0][0]) if rows else None


def _has_tables(db: Database) -> bool:
    """Whether the file holds the program's tables (a version row removed by hand, when
    :func:`current_revision` says None)."""
    with db.engine.connect() as conn:
        return (
            conn.execute(
                text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'users'")
            ).first()
            is not None
        )


def _version_changed() -> ProfileError:
    """The error of a profile whose schema version was changed outside the program (a
    migration that then fails, or a version row that is none; attacker run 32)."""
    return ProfileError(
        _(
            "Die Versionsangabe der Profil-Datenbank passt nicht zu ihren Tabellen; sie "
            "wurde vermutlich außerhalb von Intake geändert. Es wurde nichts verändert und "
            "nichts gelöscht. Bitte informieren Sie die Administration: Sie stellt die "
            "letzte Sicherung des Profils wieder her."
        ),
        kind="version_changed",
    )


def upgrade(db: Database, *, backup_dir: Path | None = None, target: str = "head") -> list[str]:
    """Bring the database to ``target`` (default: the newest schema).

    Returns:
        the revisions that were applied, oldest first (empty when nothing was to do).

    Raises:
        ProfileError: the database comes from a newer program version.
    """
    current = current_revision(db)
    if current is not None and not known_revision(current):
        raise ProfileError(
            _(
                "Das Profil stammt von einer neueren Intake-Version. Bitte installieren "
                "Sie die aktuelle Version; das Profil bleibt unverändert."
            ),
            kind="newer",
        )
    wanted = head_revision() if target == "head" else target
    if current == wanted:
        return []
    # Deferred: alembic, see _config; only reached when a migration is due.
    from alembic import command

    scripts = script_directory()
    steps = [rev.revision for rev in reversed(list(scripts.iterate_revisions(wanted, current)))]
    if current is not None and backup_dir is not None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        target_file = backup_dir / f"before-upgrade-{current}-{stamp}.db"
        db.copy_to(target_file)
        log.info("schema backup written before upgrade from %s", current)
    config = _config()
    try:
        with db.engine.connect() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, wanted)
            conn.commit()
    except DBAPIError as exc:
        # a step that cannot run on this file (a column it adds is there, a table it makes
        # exists): the file is newer than its version row says. SQLite takes the whole
        # upgrade back; the file stays as it was.
        known = translate_db_error(exc.orig or exc)
        if known is not None:  # a full disk, a lock: its own message
            raise known from None
        if current is None and not _has_tables(db):
            raise  # a new file: a bug, not a hand
        log.error("a migration failed on a file whose version row does not fit its tables")
        raise _version_changed() from None
    log.info("schema upgraded: %s -> %s", current, wanted)
    return steps
