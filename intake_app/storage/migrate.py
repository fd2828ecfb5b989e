"""Schema upgrades with Alembic, run on every start before anything else reads the database.

An older profile is upgraded in place inside one transaction (SQLite runs DDL
transactionally), after an encrypted copy of the old file was written to the profile's
``backups`` folder; a failure rolls back and leaves the profile as it was. A profile
written by a newer program version is refused instead of being damaged.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from intake_app.errors import ProfileError
from intake_app.i18n import _
from intake_app.storage.database import Database

log = logging.getLogger("intake.storage")

SCRIPT_LOCATION = "intake_app.storage:migrations"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    return config


def script_directory() -> ScriptDirectory:
    """Alembic's view of the migrations shipped in the package."""
    return ScriptDirectory.from_config(_config())


def head_revision() -> str:
    """The newest schema revision this program knows."""
    head = script_directory().get_current_head()
    assert head is not None
    return head


def current_revision(db: Database) -> str | None:
    """The schema revision of the open database (None for an empty file)."""
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(db: Database, *, backup_dir: Path | None = None, target: str = "head") -> list[str]:
    """Bring the database to ``target`` (default: the newest schema).

    Returns:
        the revisions that were applied, oldest first (empty when nothing was to do).

    Raises:
        ProfileError: the database comes from a newer program version.
    """
    scripts = script_directory()
    current = current_revision(db)
    if current is not None:
        try:
            scripts.get_revision(current)
        except Exception:
            raise ProfileError(
                _(
                    "Das Profil stammt von einer neueren Intake-Version. Bitte installieren "
                    "Sie die aktuelle Version; das Profil bleibt unverändert."
                ),
                kind="newer",
            ) from None
    wanted = (scripts.get_current_head() if target == "head" else target) or "head"
    if current == wanted:
        return []
    steps = [rev.revision for rev in reversed(list(scripts.iterate_revisions(wanted, current)))]
    if current is not None and backup_dir is not None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        target_file = backup_dir / f"before-upgrade-{current}-{stamp}.db"
        db.copy_to(target_file)
        log.info("schema backup written before upgrade from %s", current)
    config = _config()
    with db.engine.connect() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, wanted)
        conn.commit()
    log.info("schema upgraded: %s -> %s", current, wanted)
    return steps
