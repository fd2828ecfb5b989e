"""No code stored in a database file runs in the program.

docs/security.md, "Code inside a database file". Every user holds the key of the profile
database, and every record store's connection has the profile database attached. SQLite
runs what a file's schema holds: a trigger fires in whichever connection writes its table,
and a function in a CHECK constraint, a default, a generated column or an index runs on
every row written. So whoever holds the profile key could plant SQL there that runs in a
colleague's session, with her store open as ``main``: copy it out
(``sqlcipher_export``), change what she saves, or keep audit entries from being stored.

Every connection the program opens is therefore *hardened* (:func:`harden`):

- ``PRAGMA trusted_schema = OFF``: inside the schema only functions without side effects
  may run (SQLite refuses ``sqlcipher_export`` there, and any function not marked
  innocuous);
- an authorizer refuses every statement that would run a trigger or read through a view.
  The program has no views, and its only triggers are the audit log's two guards
  (:data:`OWN_TRIGGERS`), which refuse to change or delete an entry: a statement that
  would fire them is refused all the same.

A planted trigger or view therefore never runs; it makes the statement that would run it
fail instead. At sign-in, :func:`remove_planted` takes such objects out of the profile
database and of every store the user opens, and the sign-in reports them (safe mode,
``integrity_violation``), so that the user's work goes on.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlcipher3

from intake_app.i18n import _

log = logging.getLogger("intake.storage")

#: The triggers the program makes (migration 0001), exactly as SQLite keeps them.
OWN_TRIGGERS = {
    "audit_log_no_update": (
        "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END"
    ),
    "audit_log_no_delete": (
        "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END"
    ),
}

#: The schema objects whose code SQLite would run for someone else (sqlite_master types).
CODE_TYPES = ("trigger", "view")


def _authorize(
    _action: int, _arg1: str | None, _arg2: str | None, _schema: str | None, source: str | None
) -> int:
    """Refuse whatever a trigger or a view would do; allow the program's own statements.

    ``source`` is the innermost trigger or view an action comes from (None: the
    statement itself)."""
    return sqlcipher3.SQLITE_DENY if source is not None else sqlcipher3.SQLITE_OK


def harden(conn: Any) -> None:
    """Make a fresh connection run no code from the files' schemas (see the module)."""
    conn.execute("PRAGMA trusted_schema = OFF")
    conn.set_authorizer(_authorize)


def connect(path: object) -> Any:
    """A new driver connection to ``path``, hardened (for work outside the engine)."""
    conn = sqlcipher3.connect(str(path))
    harden(conn)
    return conn


def planted(conn: Any, schema: str = "main") -> list[tuple[str, str]]:
    """The triggers and views in ``schema`` that the program did not make: (type, name)."""
    # ``schema`` is a fixed identifier ("main" or an attached file's name), never input
    rows = conn.execute(
        f"SELECT type, name, sql FROM {schema}.sqlite_master "  # noqa: S608
        "WHERE type IN ('trigger', 'view')"
    ).fetchall()
    return [
        (kind, name)
        for kind, name, sql in rows
        if not (kind == "trigger" and OWN_TRIGGERS.get(name) == sql)
    ]


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def remove_planted(conn: Any, schema: str = "main") -> list[str]:
    """Drop the triggers and views of :func:`planted` (one transaction); their names.

    Dropping runs none of their code. The caller reports what was removed."""
    found = planted(conn, schema)
    if not found:
        return []
    conn.execute("BEGIN IMMEDIATE")
    try:
        for kind, name in found:
            # kind is 'trigger' or 'view' (from the query above); the name is quoted
            conn.execute(f"DROP {kind.upper()} IF EXISTS {schema}.{_quoted(name)}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    log.error("removed %d trigger(s) or view(s) planted in a database file", len(found))
    return [f"{kind} {name}" for kind, name in found]


def removed_message(objects: list[str], *, store: bool) -> str:
    """What the sign-in says about code it removed (safe mode)."""
    where = _("einem Aktenspeicher") if store else _("der Profil-Datenbank")
    return _(
        "In {where} stand Programmcode, der außerhalb von Intake eingefügt wurde ({names}). "
        "Er wurde nicht ausgeführt und ist entfernt. Bitte informieren Sie die "
        "Administration und den Datenschutz: jemand mit Zugang zu den Dateien hat "
        "versucht, Akten mitzulesen oder zu verändern."
    ).format(where=where, names=", ".join(objects))


__all__ = ["OWN_TRIGGERS", "connect", "harden", "planted", "remove_planted", "removed_message"]
