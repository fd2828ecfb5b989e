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

import contextlib
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import sqlcipher3

from intake_app.errors import KnownError
from intake_app.i18n import _
from intake_app.storage.schema_snapshot import PROFILE

log = logging.getLogger("intake.storage")

#: The triggers the program makes (the audit log's guards), with each definition it wrote.
OWN_TRIGGERS = {name: frozenset(sqls) for kind, name, _table, sqls in PROFILE if kind == "trigger"}


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


def planted(conn: Any) -> list[tuple[str, str]]:
    """The triggers and views in the file that the program did not make: (type, name)."""
    rows = conn.execute(
        "SELECT type, name, sql FROM main.sqlite_master WHERE type IN ('trigger', 'view')"
    ).fetchall()
    return [
        (kind, name)
        for kind, name, sql in rows
        if not (kind == "trigger" and sql in OWN_TRIGGERS.get(name, ()))
    ]


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def remove_planted(conn: Any) -> list[str]:
    """Drop the triggers and views of :func:`planted` (one transaction); their names.

    Dropping runs none of their code. The caller reports what was removed."""
    found = planted(conn)
    if found:
        _drop(conn, found)
        log.error("removed %d trigger(s) or view(s) planted in a database file", len(found))
    return [f"{kind} {name}" for kind, name in found]


@contextlib.contextmanager
def _immediate(conn: Any) -> Iterator[None]:
    """One write transaction on a driver connection: committed, or rolled back on any
    error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _drop(conn: Any, found: list[tuple[str, str]]) -> None:
    """Drop the ``(kind, name)`` objects of the main database in one transaction; kind
    is 'table', 'view' or 'trigger' (read from the schema), the name is quoted."""
    with _immediate(conn):
        for kind, name in found:
            conn.execute(f"DROP {kind.upper()} IF EXISTS main.{_quoted(name)}")


#: One object of :mod:`intake_app.storage.schema_snapshot`: (type, name, table,
#: definitions the program ever wrote; the first is a new profile's).
SchemaObject = tuple[str, str, str, tuple[str, ...]]

#: The search index and its shadow tables are one object (FTS5 makes the shadows).
_FTS = "records_fts"


def _columns(conn: Any, table: str) -> list[str]:
    """The stored columns of ``table`` (not generated ones), in order."""
    rows = conn.execute(f"PRAGMA main.table_xinfo({_quoted(table)})").fetchall()
    return [row[1] for row in rows if row[6] == 0]


#: (type, name) -> (table, accepted definitions, the one a new profile has), per snapshot
_EXPECTED: dict[int, dict[tuple[str, str], tuple[str, frozenset[str], str]]] = {}


def _expected(
    objects: tuple[SchemaObject, ...],
) -> dict[tuple[str, str], tuple[str, frozenset[str], str]]:
    """``objects`` by (type, name), made once per snapshot."""
    found = _EXPECTED.get(id(objects))
    if found is None:
        found = {
            (kind, name): (table, frozenset(sqls), sqls[0]) for kind, name, table, sqls in objects
        }
        _EXPECTED[id(objects)] = found
    return found


def _schema_rows(conn: Any) -> list[tuple[str, str, str, str]]:
    """(type, name, table, definition) of every object in the file but SQLite's own
    (compared as a prefix: in LIKE, "_" matches any character)."""
    rows = conn.execute(
        "SELECT type, name, tbl_name, sql FROM main.sqlite_master "
        "WHERE sql IS NOT NULL AND substr(name, 1, 7) <> 'sqlite_'"
    ).fetchall()
    return [tuple(row) for row in rows]


def restore_schema(conn: Any, objects: tuple[SchemaObject, ...]) -> list[str]:
    """Put back every table, index and trigger of ``objects`` whose definition in the
    file is none the program ever wrote; their names, for the caller to report.

    Not code, yet it changes data on its own: a conflict clause (``NOT NULL ON CONFLICT
    IGNORE`` on a generated column drops audit entries, ``ON CONFLICT REPLACE`` on a
    unique pair deletes records), a default, a search index with other options. A
    changed table is made again as the program defines it and its rows are copied over
    (the columns both have); a changed or missing index or trigger is made again; an
    index the program does not make is dropped. Tables it does not know are left alone
    (the program never reads them). Runs before the file is otherwise used, with no
    code of the file running (see :func:`harden`; call :func:`remove_planted` first).
    """
    expected = _expected(objects)
    have = {(kind, name): (table, sql) for kind, name, table, sql in _schema_rows(conn)}
    tables: list[str] = []
    for (kind, name), (_table, sql) in have.items():
        known = expected.get((kind, name))
        if kind != "table" or known is None or sql in known[1]:
            continue
        whole = _FTS if name.startswith(_FTS + "_") else name
        if whole not in tables and ("table", whole) in expected:
            tables.append(whole)
    stale: list[tuple[str, str]] = []  # indexes and triggers to make again
    for (kind, name), (table, sqls, _made) in expected.items():
        if kind not in ("index", "trigger") or ("table", table) not in have:
            continue
        current = have.get((kind, name))
        if table in tables or current is None or current[1] not in sqls:
            stale.append((kind, name))
    extra = [
        name
        for (kind, name), (table, _sql) in have.items()
        if kind == "index" and (kind, name) not in expected
    ]
    if not tables and not stale and not extra:
        return []
    conn.execute("PRAGMA foreign_keys = OFF")  # (outside a transaction, as SQLite wants)
    conn.execute("PRAGMA legacy_alter_table = ON")  # a rename touches no other table
    try:
        with _immediate(conn):
            for table in tables:
                old = table + "__changed"
                conn.execute(f"ALTER TABLE main.{_quoted(table)} RENAME TO {_quoted(old)}")
                conn.execute(expected[("table", table)][2])
                if table == _FTS:
                    common = ["rowid", "terms"] if "terms" in _columns(conn, old) else []
                else:
                    kept = set(_columns(conn, old))
                    common = [c for c in _columns(conn, table) if c in kept]
                if common:
                    names = ", ".join(_quoted(c) if c != "rowid" else c for c in common)
                    conn.execute(
                        f"INSERT INTO main.{_quoted(table)} ({names}) "  # noqa: S608 - quoted names
                        f"SELECT {names} FROM main.{_quoted(old)}"
                    )
                conn.execute(f"DROP TABLE main.{_quoted(old)}")
            for name in extra:
                conn.execute(f"DROP INDEX IF EXISTS main.{_quoted(name)}")
            for kind, name in stale:
                conn.execute(f"DROP {kind.upper()} IF EXISTS main.{_quoted(name)}")
                conn.execute(expected[(kind, name)][2])
    finally:
        conn.execute("PRAGMA legacy_alter_table = OFF")
        conn.execute("PRAGMA foreign_keys = ON")
    changed = [f"table {t}" for t in tables] + [f"index {n}" for n in extra]
    # an index or trigger made again with its rebuilt table is part of that table's fix
    changed += [f"{k} {n}" for k, n in stale if expected[(k, n)][0] not in tables]
    log.error("put back %d schema object(s) changed outside the program", len(changed))
    return changed


def remove_shadows(conn: Any, names: frozenset[str]) -> list[str]:
    """Drop the tables and views of this file named as one of ``names`` (one transaction);
    what was removed.

    A store is opened as the main database with the profile database attached, and SQLite
    finds a name without a schema in the main database first: a table ``audit_log`` in a
    store would take the place of the profile's shared log for every session on that
    store (attacker run 31). No store ever has one; the caller reports what was there."""
    found = [
        (kind, name)
        for kind, name, _table, _sql in _schema_rows(conn)
        if kind in ("table", "view") and name in names
    ]
    if found:
        _drop(conn, found)
        log.error("removed %d table(s) or view(s) named as the profile's from a store", len(found))
    return [f"{kind} {name}" for kind, name in found]


def guard_file(
    conn: Any, objects: tuple[SchemaObject, ...], *, foreign: frozenset[str] = frozenset()
) -> list[str]:
    """:func:`remove_planted`, :func:`remove_shadows` of the ``foreign`` names (those of
    another database attached beside this one), then :func:`restore_schema`: what was
    removed or put back.

    The file's schema is read once; when everything in it is as the program makes it
    (every sign-in but one after an attack), nothing more is done."""
    expected = _expected(objects)
    rows = _schema_rows(conn)
    tables = {name for kind, name, _table, _sql in rows if kind == "table"}
    present = {(kind, name) for kind, name, _table, _sql in rows}
    as_made = all(
        (kind, name) in expected and sql in expected[(kind, name)][1]
        for kind, name, _table, sql in rows
        if kind != "table" or (kind, name) in expected
    ) and all(
        key in present
        for key, (table, _sqls, _made) in expected.items()
        if key[0] in ("index", "trigger") and table in tables
    )
    shadowed = any(name in foreign for _kind, name, _table, _sql in rows)
    if as_made and not shadowed:
        return []
    return remove_planted(conn) + remove_shadows(conn, foreign) + restore_schema(conn, objects)


#: Small tables whose rows decide who someone is and what she may do: their indexes are
#: checked against the rows at every sign-in (see :func:`recheck_indexes`).
CHECKED_TABLES = ("users", "user_keys", "settings", "trust_state")


def recheck_indexes(conn: Any, tables: tuple[str, ...] = CHECKED_TABLES) -> list[str]:
    """Rebuild the indexes of ``tables`` whose entries do not match the rows; their tables.

    SQLite takes an index's word for a match: an index whose entries were changed outside
    the program (its definition untouched, its pages pointed elsewhere) could hand back
    another user's row for a name. ``PRAGMA integrity_check(table)`` compares them;
    ``REINDEX`` makes them again from the rows."""
    damaged = []
    for table in tables:
        rows = conn.execute(f"PRAGMA main.integrity_check({_quoted(table)})").fetchall()
        if [row[0] for row in rows] != ["ok"]:
            damaged.append(table)
    for table in damaged:
        conn.execute(f"REINDEX main.{_quoted(table)}")
    if damaged:
        log.error("rebuilt the indexes of %d table(s) changed outside the program", len(damaged))
    return [f"index of {table}" for table in damaged]


#: Profile tables whose values are not checked by :func:`retype_values`: the audit log
#: (its readers hash any stored value by its type, storage/audit.py ``stored_text``), the
#: statistics' traces of removed records (one per record removed, only ever counted) and
#: the search index's own tables.
_UNTYPED = ("audit_log", "activity_records", _FTS)

#: the profile database's tables (one the program does not make is never read); its copies
#: of a store's tables among them: the administrator, who has no store, reads those
#: (attacker run 33)
_PROFILE_TABLES = frozenset(name for kind, name, _table, _sqls in PROFILE if kind == "table")

#: a table's definition -> its columns (name, kind, nullable, default's SQL)
_COLUMNS: dict[str, list[tuple[str, str, bool, str | None]]] = {}


def _table_columns(conn: Any, table: str, sql: str) -> list[tuple[str, str, bool, str | None]]:
    """The columns of ``table``, read once per definition (the schema guard has put back
    the program's)."""
    found = _COLUMNS.get(sql)
    if found is None:
        info = conn.execute(f"PRAGMA main.table_info({_quoted(table)})").fetchall()
        found = [(row[1], _kind(row[2]), not row[3], row[4]) for row in info]
        _COLUMNS[sql] = found
    return found


def _kind(declared: str) -> str:
    """What the program stores in a column of this declared type (SQLAlchemy's names)."""
    declared = declared.upper()
    if declared == "BOOLEAN":
        return "bool"
    if declared == "DATETIME":
        return "datetime"
    if "INT" in declared:
        return "int"
    if "CHAR" in declared or "TEXT" in declared:
        return "text"
    return "blob"


def _text_ok(value: object) -> bool:
    """Whether a text value (read as bytes) decodes, so that reading it stops nothing."""
    try:
        bytes(value).decode("utf-8")  # type: ignore[call-overload]
    except (UnicodeDecodeError, TypeError):
        return False
    return True


def _fits(kind: str, storage: str, value: object) -> bool:
    """Whether a stored value is one the program could have written to a ``kind`` column
    (``storage``: SQLite's ``typeof``; text comes as bytes, blobs not at all)."""
    if storage == "null":
        return True
    if kind == "int":
        return storage == "integer"
    if kind == "bool":
        return storage == "integer" and value in (0, 1)
    if kind == "blob":
        return storage == "blob"
    if storage != "text" or not _text_ok(value):
        return False
    if kind == "text":
        return True
    try:
        moment = datetime.fromisoformat(bytes(value).decode("utf-8"))  # type: ignore[call-overload]
        if moment.utcoffset() is not None:
            moment.astimezone(UTC)  # as the reader does: a year 9999 with an offset overflows
    except (ValueError, OverflowError):
        return False
    return True


#: what a value that does not fit becomes, by kind, in a column that may not be NULL
_NOTHING: dict[str, object] = {
    "int": 0,
    "bool": 0,
    "datetime": "1970-01-01 00:00:00.000000",
    "blob": b"",
}


def _replacement(kind: str, value: object, nullable: bool) -> object:
    """The value that takes the place of one that does not fit: a text keeps what was
    there, spelled out (``bytes:`` and its hex, as the audit log's readers name it);
    anything else becomes nothing (NULL, or zero). Nothing of the file's schema is run
    to make it (not a column's default)."""
    if kind == "text":
        return "bytes:" + bytes(value).hex()  # type: ignore[call-overload]
    if nullable:
        return None
    return _NOTHING[kind]


#: A moment as the program writes it (SQLAlchemy's SQLite format, with or without the
#: microseconds), a real date and time: SQLite's ``date()`` and ``time()`` give back the
#: same text only for one. What does not match is handed to Python's own parser.
_MOMENT = (
    "({c} GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]'"
    " OR {c} GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]"
    ".[0-9][0-9][0-9][0-9][0-9][0-9]')"
    " AND substr({c}, 1, 4) <> '0000'"
    " AND date(substr({c}, 1, 10)) IS substr({c}, 1, 10)"
    " AND time(substr({c}, 12, 8)) IS substr({c}, 12, 8)"
)

#: the storage class each kind of column holds (besides NULL)
_STORAGE = {"int": "integer", "bool": "integer", "blob": "blob", "text": "text", "datetime": "text"}


def _suspect_rows(
    conn: Any, table: str, columns: list[tuple[str, str, bool, str | None]]
) -> str | None:
    """A condition that holds for every row of ``table`` with a value that may not fit
    (and for few others); None for a table without columns.

    SQLite does the work: the storage class of each value, a flag's 0 or 1, a moment's
    form. Whether text is UTF-8 is asked once per column, of all its texts joined (one
    decode of their bytes); only a column with a text that is not makes each of its rows a
    suspect. Python's reading (:func:`_fits`) then decides about the suspects alone."""
    if not columns:
        return None
    terms = []
    for name, kind, _nullable, _sql in columns:
        column = _quoted(name)
        terms.append(f"typeof({column}) NOT IN ('null', '{_STORAGE[kind]}')")
        if kind == "bool":
            terms.append(f"{column} NOT IN (0, 1)")
        if kind == "datetime":
            terms.append(f"(typeof({column}) = 'text' AND NOT ({_MOMENT.format(c=column)}))")
    texts = [name for name, kind, _n, _s in columns if kind in ("text", "datetime")]
    if texts:
        joins = ", ".join(
            f"CAST(group_concat(CAST({_quoted(n)} AS BLOB), x'00') AS BLOB)" for n in texts
        )
        joined = conn.execute(f"SELECT {joins} FROM main.{_quoted(table)}").fetchone()  # noqa: S608
        for name, text_ in zip(texts, joined, strict=True):
            if text_ is not None and not _text_ok(text_):
                terms.append(f"typeof({_quoted(name)}) = 'text'")
    return " OR ".join(terms)


def _set(conn: Any, table: str, name: str, rowid: int, value: object) -> bool:
    """Put ``value`` into one cell; False when a constraint refuses it."""
    try:
        conn.execute(
            f"UPDATE main.{_quoted(table)} SET {_quoted(name)} = ? WHERE rowid = ?",  # noqa: S608
            (value, rowid),
        )
    except sqlcipher3.IntegrityError:
        return False
    return True


def retype_values(conn: Any) -> list[str]:
    """Replace every value of the file's tables that the program could not have written
    (a text in a number column, bytes in a text column, text that is not UTF-8, a date
    that is none, a flag other than 0 or 1); what was replaced, for the caller to report.

    Whoever holds the profile key can put any value anywhere, and SQLite keeps it whatever
    the column's declared type. The program would stop at it on every sign-in of every
    user (a text anchor number, attacker run 31), or read it as something else. Each such
    value is replaced (:func:`_replacement`) in one transaction; a replaced value in a
    signed row no longer matches its signature, and is reported as that change as well.
    Runs after :func:`restore_schema`, so the declared types are the program's. For the
    profile database: its tables (of those the program makes) are read."""
    tables = [
        (name, sql)
        for name, sql in conn.execute(
            "SELECT name, sql FROM main.sqlite_master WHERE type = 'table' "
            "AND substr(name, 1, 7) <> 'sqlite_'"
        ).fetchall()
        if name in _PROFILE_TABLES and not name.startswith(_UNTYPED)
    ]
    fixes: list[tuple[str, str, int, object]] = []
    found: list[str] = []
    for table, sql in tables:
        if not conn.execute(f"SELECT EXISTS (SELECT 1 FROM main.{_quoted(table)})").fetchone()[0]:  # noqa: S608
            continue  # (the profile's copies of a store's tables are empty)
        columns = _table_columns(conn, table, sql)
        where = _suspect_rows(conn, table, columns)
        if where is None:
            continue
        picks = ", ".join(
            f"typeof({_quoted(name)}), "
            # text is read as bytes (CAST): a value that is not UTF-8 would stop the reader;
            # of a blob column only its type is looked at
            + (f"CAST({_quoted(name)} AS BLOB)" if kind != "blob" else "NULL")
            for name, kind, _nullable, _sql in columns
        )
        rows = conn.execute(
            f"SELECT rowid, {picks} FROM main.{_quoted(table)} WHERE {where}"  # noqa: S608
        ).fetchall()
        for row in rows:
            rowid = row[0]
            for index, (name, kind, nullable, _sql) in enumerate(columns):
                storage, raw = row[1 + 2 * index], row[2 + 2 * index]
                # (an integer's digits come as bytes; of a blob column nothing is read)
                value = int(raw) if storage == "integer" and raw is not None else raw
                if _fits(kind, storage, value):
                    continue
                new = _replacement(kind, raw, nullable)
                fixes.append((table, name, rowid, new))
                found.append(f"value {table}.{name} (row {rowid}, {storage})")
    if not fixes:
        return []
    conn.execute("PRAGMA foreign_keys = OFF")  # (outside a transaction, as SQLite wants)
    try:
        with _immediate(conn):
            for table, name, rowid, new in fixes:
                # a text made unique by its row where the first form would make the row
                # the twin of another (a second settings key, attacker run 32); a row that
                # takes neither goes, and is named
                tries = [new, f"{new}#{rowid}"] if isinstance(new, str) else [new]
                if not any(_set(conn, table, name, rowid, value) for value in tries):
                    conn.execute(f"DELETE FROM main.{_quoted(table)} WHERE rowid = ?", (rowid,))  # noqa: S608
                    found.append(f"row {table} (row {rowid}) removed")
    finally:
        conn.execute("PRAGMA foreign_keys = ON")
    log.error("replaced %d value(s) put into a database file outside the program", len(fixes))
    return found


def refused() -> KnownError:
    """The error of a step that something planted in a file kept from being done."""
    return KnownError(
        _(
            "In der Datenbank steht Programmcode, der außerhalb von Intake eingefügt "
            "wurde. Er wurde nicht ausgeführt, und dieser Schritt wurde nicht "
            "gespeichert. Bitte melden Sie sich ab und wieder an (die Anmeldung "
            "entfernt den Code) und informieren Sie die Administration."
        ),
        kind="planted_code",
    )


def removed_message(objects: list[str], *, store: bool) -> str:
    """What the sign-in says about code it removed (safe mode)."""
    where = _("einem Aktenspeicher") if store else _("der Profil-Datenbank")
    return _(
        "In {where} wurden Programmcode, Tabellendefinitionen oder Werte außerhalb von "
        "Intake eingefügt oder geändert ({names}). Nichts davon wurde ausgeführt; es ist "
        "entfernt, ersetzt oder so wiederhergestellt, wie Intake es anlegt. Bitte "
        "informieren Sie die Administration und den Datenschutz: jemand mit Zugang zu den "
        "Dateien hat versucht, Akten mitzulesen oder zu verändern."
    ).format(where=where, names=_named(objects))


#: how many of the changed objects the message names (the audit entry names them all)
NAMED_IN_MESSAGE = 5


def _named(objects: list[str]) -> str:
    """The first few objects; a count of the rest (ten thousand planted values would make
    a message taller than the screen, its button out of reach)."""
    shown = ", ".join(objects[:NAMED_IN_MESSAGE])
    rest = len(objects) - NAMED_IN_MESSAGE
    if rest <= 0:
        return shown
    return _("{names} und {n} weitere").format(names=shown, n=rest)


__all__ = [
    "OWN_TRIGGERS",
    "connect",
    "guard_file",
    "harden",
    "planted",
    "recheck_indexes",
    "refused",
    "remove_planted",
    "remove_shadows",
    "removed_message",
    "restore_schema",
    "retype_values",
]
