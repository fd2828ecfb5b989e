"""Record stores: one SQLCipher file per owner, with its own random key.

docs/security.md, "Device: keys and scopes": everything about a person (answers, list
columns, search index, revisions, consent withdrawals, outbox items, sealed batches)
lives in the store of the counsellor who owns the record, under a key that only she,
the site key (supervisors) and the recovery key can open. The profile
database keeps users, settings, the audit log and the device identity; its copies of the
record tables stay empty.

A store is opened as the *main* database of a connection with the profile database
ATTACHed as ``profile``. SQLite resolves a table name without a schema in ``main`` first,
so the code that reads and writes records needs no schema names: ``records`` is the
store's table, ``users`` and ``audit_log`` are the profile's.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import uuid
from pathlib import Path

from intake_app.atomic import atomic_create_bytes
from intake_app.storage import schema_guard
from intake_app.storage.database import (
    BUSY_TIMEOUT_MS,
    Database,
    read_identity,
    rekey_file,
)
from intake_app.storage.schema_snapshot import STORE

log = logging.getLogger("intake.storage")

STORES_DIR = "stores"
PROFILE_SCHEMA = "profile"

#: The tables that hold data about people; they live in the stores only.
CLIENT_TABLES = (
    "records",
    "record_data",
    "record_revisions",
    "consent_withdrawals",
    "case_events",
    "outbox",
    "sync_batches",
    "records_fts",
)

# A foreign key to the profile's users table cannot be declared across files (SQLite
# checks a parent table in the child's own file); the owner is checked by the code.
_USERS_FK = re.compile(
    r",?\s*(CONSTRAINT\s+\w+\s+)?FOREIGN\s+KEY\s*\(\s*\w+\s*\)\s*REFERENCES\s+\"?users\"?\s*"
    r"\(\s*\"?id\"?\s*\)(\s+ON\s+DELETE\s+\w+)?",
    re.IGNORECASE,
)


def new_store_id() -> str:
    """A random name for a store file (it says nothing about its owner)."""
    return uuid.uuid4().hex


def new_store_key() -> bytes:
    return secrets.token_bytes(32)


def is_store_id(name: str) -> bool:
    """Whether ``name`` is a store id (32 lower-case hex digits), as its file is named."""
    return re.fullmatch(r"[0-9a-f]{32}", name) is not None


def store_path(root: Path, store_id: str) -> Path:
    if not is_store_id(store_id):
        raise ValueError("not a store id")
    return root / STORES_DIR / f"{store_id}.db"


def store_files(root: Path) -> set[str]:
    """The ids of the store files in the profile's folder (whatever the vault lists)."""
    folder = root / STORES_DIR
    if not folder.is_dir():
        return set()
    return {p.stem for p in folder.glob("*.db") if is_store_id(p.stem)}


def _key_sql(key: bytes) -> str:
    return f"\"x'{key.hex()}'\""


def client_schema() -> list[str]:
    """The DDL of the record tables and their indexes, as the program defines them.

    Taken from the program's own schema snapshot (storage/schema_snapshot.py), never from
    the profile database: every user holds that file's key, and a table definition
    written into it would otherwise reach every store that is made or extended
    (docs/security.md, "Code inside a database file")."""
    return [sql for _name, sql in client_objects()]


def client_objects() -> list[tuple[str, str]]:
    """:func:`client_schema` with the name of each table or index it creates: tables
    first, then indexes, as a new store has them (FTS5 makes its own shadow tables)."""
    chosen = [
        (kind, name, sqls[0])
        for kind, name, table, sqls in STORE
        if table in CLIENT_TABLES and kind in ("table", "index")  # (FTS5 shadows: their own)
    ]
    return [(name, sql) for kind, name, sql in chosen if kind == "table"] + [
        (name, sql) for kind, name, sql in chosen if kind == "index"
    ]


#: Tables a migration may define anew (the search index's options): a store whose table
#: was made by an older definition gets it rebuilt, with these columns copied over.
REBUILT_TABLES = {"records_fts": "rowid, terms"}


def ensure_client_tables(store: Database, objects: list[tuple[str, str]]) -> list[str]:
    """Create the record tables and indexes a store made by an older version lacks.

    A migration that adds a client table (Alembic runs on the profile database) reaches
    the stores here, when they are opened: what is missing is created, and a table of
    :data:`REBUILT_TABLES` whose definition changed (migration 0007 gave the search index
    prefixes of one letter) is rebuilt with its rows copied, all in one transaction.
    Returns the names created or rebuilt (empty when the store is current).
    """
    with store.engine.connect() as conn:
        have: dict[str, str | None] = {
            name: sql
            for name, sql in conn.exec_driver_sql("SELECT name, sql FROM main.sqlite_master")
        }
        missing = [(name, sql) for name, sql in objects if name not in have]
        rebuilt = [
            (name, sql)
            for name, sql in objects
            if name in REBUILT_TABLES and name in have and have[name] != sql
        ]
        if not missing and not rebuilt:
            return []
        for _name, sql in missing:
            conn.exec_driver_sql(sql)
        for name, sql in rebuilt:
            # names and columns are fixed identifiers from REBUILT_TABLES, never input
            old = f"{name}_rebuilt"
            columns = REBUILT_TABLES[name]
            conn.exec_driver_sql(f"ALTER TABLE main.{name} RENAME TO {old}")
            conn.exec_driver_sql(sql)
            conn.exec_driver_sql(
                f"INSERT INTO main.{name} ({columns}) SELECT {columns} FROM main.{old}"  # noqa: S608
            )
            conn.exec_driver_sql(f"DROP TABLE main.{old}")
            conn.exec_driver_sql(f"INSERT INTO main.{name} ({name}) VALUES ('optimize')")  # noqa: S608
        conn.commit()
    if missing:
        log.info("a record store got %d new table(s) or index(es)", len(missing))
    if rebuilt:
        log.info("a record store's search index was rebuilt (%d table(s))", len(rebuilt))
    return [name for name, _sql in missing + rebuilt]


def create_store(
    path: Path, key: bytes, schema: list[str], *, site_public: bytes | None = None
) -> None:
    """Create an empty store file with the record tables (nothing is left on failure);
    ``site_public``: the site public key its key is sealed to, pinned inside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if os.name == "posix":
        os.chmod(path.parent, 0o700)
    if path.exists():
        raise FileExistsError(path)
    tmp = path.with_name(path.name + ".new")
    tmp.unlink(missing_ok=True)
    conn = schema_guard.connect(tmp)
    try:
        conn.isolation_level = None
        conn.execute(f"PRAGMA key = {_key_sql(key)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("BEGIN")
        for statement in schema:
            conn.execute(statement)
        if site_public is not None:
            for statement, args in _pin_statements(site_public):
                conn.execute(statement, args)
        for statement, args in _identity_statements(secrets.token_bytes(32)):
            conn.execute(statement, args)
        conn.execute(MOVES_DONE_SQL)
        conn.execute(SITE_NOTES_SQL)
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except BaseException:
        conn.close()
        tmp.unlink(missing_ok=True)
        raise
    conn.close()
    for suffix in ("-wal", "-shm"):
        Path(str(tmp) + suffix).unlink(missing_ok=True)
    # The empty store (a few pages) takes its place through atomic.py, private, synced and
    # never over an existing store (docs/architecture.md, "Files on disk").
    try:
        data = tmp.read_bytes()
    finally:
        tmp.unlink(missing_ok=True)
    if not atomic_create_bytes(path, data, mode=0o600):
        raise FileExistsError(path)


#: The moves whose steps in this store are done (docs/security.md, "Moving a case"): the
#: source store notes a move when its record leaves it, the target when the move is
#: closed, each in the transaction of that step, under the store's own key. A move journal
#: put back later is never followed again: at least one of its two stores is not the
#: attacker's, and she cannot remove the note from it (storage/moves.py).
MOVES_DONE_SQL = (
    "CREATE TABLE IF NOT EXISTS intake_moves_done "
    "(move TEXT PRIMARY KEY, step TEXT NOT NULL, ts REAL NOT NULL)"
)

#: Facts a holder of the site key notes inside her own store, where only a holder of its
#: key removes them (docs/security.md, "Hand-over through the office"): that the device
#: keeps a list of the hand-overs it took in, so that a list deleted from vault.json is
#: noticed instead of being built again from what the audit log says.
SITE_NOTES_SQL = (
    "CREATE TABLE IF NOT EXISTS intake_site_notes (name TEXT PRIMARY KEY, value TEXT NOT NULL)"
)

#: The site public key a store's key is sealed to, kept inside the store itself, where only
#: someone who holds the store's key reads or writes it (docs/security.md, "The site
#: public key"): the vault's copy can be deleted by whoever writes vault.json, this one
#: cannot.
_PIN_TABLE = "intake_site_pin"


def _pin_statements(public: bytes) -> list[tuple[str, tuple[bytes, ...]]]:
    return [
        (
            "CREATE TABLE IF NOT EXISTS intake_site_pin "
            "(id INTEGER PRIMARY KEY CHECK (id = 1), site_public BLOB NOT NULL)",
            (),
        ),
        ("INSERT OR REPLACE INTO intake_site_pin (id, site_public) VALUES (1, ?)", (public,)),
    ]


def read_store_pin(path: Path, key: bytes) -> bytes | None:
    """The site public key pinned inside the store; None for a store from before pins."""
    conn = schema_guard.connect(path)
    try:
        conn.execute(f"PRAGMA key = {_key_sql(key)}")
        found = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?", (_PIN_TABLE,)
        ).fetchone()
        if found is None:
            return None
        row = conn.execute("SELECT site_public FROM intake_site_pin WHERE id = 1").fetchone()
        return bytes(row[0]) if row is not None else None
    finally:
        conn.close()


# The store's identity (table STORE_IDENTITY_TABLE, storage/database.py): a random value
# made with the store and kept inside it, where only someone who holds its key reads it; a
# re-key keeps it. Her own stores are named by it in her vault entry, under a MAC only her
# private key makes (docs/security.md, "Her own stores"): a store someone else made and
# sealed to her cannot carry it.
def _identity_statements(identity: bytes) -> list[tuple[str, tuple[bytes, ...]]]:
    return [
        (
            "CREATE TABLE IF NOT EXISTS intake_store_identity "
            "(id INTEGER PRIMARY KEY CHECK (id = 1), identity BLOB NOT NULL)",
            (),
        ),
        ("INSERT OR IGNORE INTO intake_store_identity (id, identity) VALUES (1, ?)", (identity,)),
    ]


def store_identity(path: Path, key: bytes, *, create: bool = False) -> bytes | None:
    """The store's identity (see above); ``create``: give a store from before one now."""
    conn = schema_guard.connect(path)
    try:
        conn.isolation_level = None
        conn.execute(f"PRAGMA key = {_key_sql(key)}")
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        identity = read_identity(conn.cursor())
        if identity is not None or not create:
            return identity
        conn.execute("BEGIN IMMEDIATE")
        for statement, args in _identity_statements(secrets.token_bytes(32)):
            conn.execute(statement, args)
        conn.execute("COMMIT")
        return read_identity(conn.cursor())
    finally:
        conn.close()


def write_store_pin(path: Path, key: bytes, public: bytes) -> None:
    """Pin ``public`` inside the store (one transaction)."""
    conn = schema_guard.connect(path)
    try:
        conn.isolation_level = None
        conn.execute(f"PRAGMA key = {_key_sql(key)}")
        conn.execute("BEGIN IMMEDIATE")
        for statement, args in _pin_statements(public):
            conn.execute(statement, args)
        conn.execute("COMMIT")
    finally:
        conn.close()


def rekey_store(path: Path, old_key: bytes, new_key: bytes) -> None:
    """Re-encrypt a store file with a new key (SQLCipher's rekey), WAL folded in first."""
    rekey_file(path, old_key, new_key)
    log.info("a record store was re-keyed")


#: Page cache of each connection to a store when a user has several open (KiB). A single
#: store keeps the default of the SQLCipher build (8,000 KiB per connection); a
#: supervisor's twenty stores would otherwise fill up to 160 MiB between them over a
#: session (the overview reads every store). 2 MiB holds what a keystroke of the case
#: list reads again in a counsellor's store: smaller caches (1 MiB, or a 4 MiB budget
#: shared by all stores) doubled the CPU time per keystroke in bench/bench_caselist.py.
STORE_CACHE_SEVERAL_KIB = 2048


def store_cache_kib(stores: int) -> int | None:
    """The page cache of each connection to one of ``stores`` open stores, in KiB (None:
    the build's default, for a single store)."""
    return None if stores <= 1 else STORE_CACHE_SEVERAL_KIB


def open_store(
    path: Path,
    key: bytes,
    profile_path: Path,
    profile_key: bytes,
    *,
    verify: bool = True,
    cache_kib: int | None = None,
) -> Database:
    """A store as the main database with the profile database attached as ``profile``.

    ``verify=False`` connects on first use (a supervisor's sign-in opens every store; the
    case list that follows connects to each anyway). ``cache_kib``: see
    :func:`store_cache_kib`.
    """
    db = Database(
        path, key, attach={PROFILE_SCHEMA: (profile_path, profile_key)}, cache_kib=cache_kib
    )
    if verify:
        db.verify_key()
    return db


def shred(path: Path) -> None:
    """Overwrite a file with random bytes, flush it and delete it (best effort on SSDs)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    with open(path, "r+b") as fh:
        remaining = size
        while remaining > 0:
            chunk = min(remaining, 1 << 20)
            fh.write(secrets.token_bytes(chunk))
            remaining -= chunk
        fh.flush()
        os.fsync(fh.fileno())
    path.unlink()
