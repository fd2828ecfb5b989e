"""The encrypted database: a SQLCipher 4 engine, sessions for reading and writing.

The 256-bit key is handed to SQLCipher as a raw key (``PRAGMA key = "x'...'"``), so no
passphrase derivation runs on open; the Argon2id work happens once, in the vault. Every
connection uses WAL with ``synchronous=FULL`` (a committed answer survives a power cut),
``secure_delete`` (deleted data is overwritten, not left in free pages) and in-memory
temporary storage (no plaintext temp files). Write transactions start with
``BEGIN IMMEDIATE`` so that two writers queue instead of failing half-way.
"""

from __future__ import annotations

import functools
import logging
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import sqlcipher3
from sqlalchemy import URL, create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.pool import QueuePool

from intake_app.atomic import disk_full_error
from intake_app.errors import KnownError, ProfileError
from intake_app.i18n import _
from intake_app.storage import schema_guard

log = logging.getLogger("intake.storage")

BUSY_TIMEOUT_MS = 30_000
#: A record store's identity table (storage/stores.py): a random id made with the store.
STORE_IDENTITY_TABLE = "intake_store_identity"
#: Page cache (KiB) for a file attached beside a store with its own cache size.
ATTACHED_CACHE_KIB = 128


def _is_disk_full(exc: BaseException) -> bool:
    """A write that the storage refused: full, over a size limit (EFBIG), or failing.

    SQLite reports a full disk as "database or disk is full", but a file-size limit or a
    medium that refuses writes only as "disk I/O error". The user's remedy and the state
    of the data are the same for all of them (the transaction was rolled back; make room
    or check the medium, then try again), so they share one message.
    """
    text_ = str(exc).lower()
    return "database or disk is full" in text_ or "disk i/o error" in text_


#: What SQLite says when a connection refuses code from a file's schema
#: (storage/schema_guard.py): the authorizer's refusals, and trusted_schema's.
_PLANTED_CODE = ("not authorized", "is prohibited", "unsafe use of")


def translate_db_error(exc: BaseException) -> KnownError | None:
    """Map an environment problem of SQLite to a plain message (None: a bug)."""
    message = str(exc).lower()
    if _is_disk_full(exc):
        return disk_full_error()
    if "database is locked" in message or "database table is locked" in message:
        return KnownError(
            _(
                "Die Datenbank ist gerade von einem anderen Programm belegt. Bitte schließen "
                "Sie andere Intake-Fenster und versuchen Sie es erneut."
            ),
            kind="locked",
        )
    if any(sign in message for sign in _PLANTED_CODE):
        # a trigger, view or schema function someone put into a file outside the program
        # (storage/schema_guard.py): it did not run, and this step was not done
        return schema_guard.refused()
    if "file is not a database" in message or "malformed" in message:
        return ProfileError(
            _(
                "Die Datenbank ist beschädigt oder gehört nicht zu diesem Schlüssel. Stellen "
                "Sie die letzte Sicherung wieder her."
            ),
            kind="corrupt",
        )
    if "readonly" in message or "read-only" in message:
        return KnownError(
            _("Der Profilordner ist schreibgeschützt. Intake braucht Schreibrechte dort."),
            kind="readonly",
        )
    return None


class KeySource(Protocol):
    """Where an open database finds the key its file has now (storage/scope.py)."""

    def changed(self) -> bool:
        """Whether the keys may have changed since the last call (cheap: a file's stat)."""

    def keys(self) -> list[bytes]:
        """The keys that may open the file now."""


#: How the profile database's connections read text: bytes that are not UTF-8 (put in
#: outside the program; the program writes none) kept as surrogates instead of stopping
#: the reader (attacker run 32). A C-level call: about 0.25 µs per text value.
TOLERANT_TEXT = functools.partial(str, encoding="utf-8", errors="surrogateescape")


class Database:
    """An open, encrypted profile database.

    Args:
        path: the database file.
        key: the raw 256-bit database key (from the vault).
        attach: further encrypted files to ATTACH on every connection, by schema name,
            with their keys (a record store opens with the profile database attached).
    """

    def __init__(
        self,
        path: Path,
        key: bytes,
        *,
        attach: dict[str, tuple[Path, bytes]] | None = None,
        cache_kib: int | None = None,
        tolerant: bool = False,
    ) -> None:
        if len(key) != 32:
            raise ValueError("the database key must be 32 bytes")
        self.path = Path(path)
        self.attached = dict(attach or {})
        #: page cache of each connection for the main file, in KiB (None: SQLite's 2 MiB);
        #: smaller for each of a supervisor's record stores (storage/stores.py)
        self.cache_kib = cache_kib
        #: read text with :data:`TOLERANT_TEXT` (the profile database, which every
        #: password opens; a store keeps the fast strict reading)
        self.tolerant = tolerant
        #: the identity inside the file at its first connection (a record store's, else
        #: None): a new key is followed only to the same store (:meth:`_take_new_key`)
        self._identity: bytes | None = None
        self._identity_read = False
        self._build(key)
        #: the keys the vault names for this file now (storage/scope.py): another program
        #: window may give a store a new key while this one has it open
        #: (docs/security.md, "Granting and revoking")
        self.key_source: KeySource | None = None
        #: signs audit entries (a ``user_keys.Signer``); set at sign-in (docs/security.md)
        self.audit_signer: Any = None
        #: what the opening found changed outside the program and removed or put back
        #: (planted code, table definitions, index entries; storage/schema_guard.py), for
        #: the sign-in to report
        self.removed_code: list[str] = []

    def _build(self, key: bytes) -> None:
        url = URL.create(
            "sqlite+pysqlcipher",
            password=f"x'{key.hex()}'",
            database=str(self.path),
        )
        self.engine: Engine = create_engine(
            url,
            poolclass=QueuePool,
            pool_size=4,
            max_overflow=8,
            connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
        )
        event.listen(self.engine, "connect", self._on_connect)
        self._connected = False
        event.listen(self.engine, "begin", self._on_begin)
        self._writer = self.engine.execution_options(intake_write=True)

    def _on_connect(self, dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy's pysqlcipher dialect has already sent the key on this connection.
        self._connected = True
        # before anything else: no code from the files' schemas runs on this connection
        # (storage/schema_guard.py)
        schema_guard.harden(dbapi_connection)
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see _on_begin)
        if self.tolerant:
            dbapi_connection.text_factory = TOLERANT_TEXT
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            for name, (path, key) in self.attached.items():
                cursor.execute(
                    f"ATTACH DATABASE ? AS {name} KEY ?",  # name: a fixed identifier
                    (str(path), f"x'{key.hex()}'"),
                )
            for schema in ("main", *self.attached):
                cursor.execute(f"PRAGMA {schema}.journal_mode = WAL")
                cursor.execute(f"PRAGMA {schema}.synchronous = FULL")
                cursor.execute(f"PRAGMA {schema}.secure_delete = ON")
            if self.cache_kib is not None:
                # a negative size is in KiB; the attached files (the profile database
                # beside a store: users, settings) are read a few rows at a time
                cursor.execute(f"PRAGMA main.cache_size = {-int(self.cache_kib)}")
                for name in self.attached:
                    cursor.execute(f"PRAGMA {name}.cache_size = {-ATTACHED_CACHE_KIB}")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA temp_store = MEMORY")
            if not self._identity_read:
                self._identity = read_identity(cursor)
                self._identity_read = True
        finally:
            cursor.close()

    @staticmethod
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get("intake_write"):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")

    # -- checks ------------------------------------------------------------------------

    def verify_key(self) -> None:
        """Open the file once; a wrong key or a damaged file raises :class:`ProfileError`."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT count(*) FROM sqlite_master")).scalar_one()
        except (DatabaseError, OperationalError) as exc:
            known = translate_db_error(exc.orig or exc)
            self.engine.dispose()
            if known is not None:
                raise known from None
            raise

    def remove_planted(self) -> list[str]:
        """Take out the triggers and views someone put into this file outside the program
        (storage/schema_guard.py); what was removed, for the caller to report."""
        return self._on_driver(schema_guard.remove_planted)

    def guard_schema(
        self,
        objects: tuple[schema_guard.SchemaObject, ...],
        *,
        foreign: frozenset[str] = frozenset(),
    ) -> list[str]:
        """Take out code, tables named as ``foreign`` ones (another database's, attached
        beside this one) and put back table definitions someone changed in this file
        outside the program (storage/schema_guard.py); what was done, for the caller to
        report."""
        return self._on_driver(lambda conn: schema_guard.guard_file(conn, objects, foreign=foreign))

    def recheck_indexes(self) -> list[str]:
        """Rebuild the indexes of the tables that decide who someone is, when their
        entries were changed outside the program (storage/schema_guard.py)."""
        return self._on_driver(schema_guard.recheck_indexes)

    def retype_values(self) -> list[str]:
        """Replace the values put into this file outside the program that it could not
        have written, which would stop or mislead it (storage/schema_guard.py)."""
        return self._on_driver(schema_guard.retype_values)

    def _on_driver(self, work: Any) -> Any:
        raw = self.engine.raw_connection()
        try:
            driver = raw.driver_connection
            assert driver is not None
            return work(driver)
        finally:
            raw.close()

    def integrity_check(self) -> list[str]:
        """``PRAGMA integrity_check`` lines; ``["ok"]`` for a healthy database."""
        with self.engine.connect() as conn:
            return [row[0] for row in conn.exec_driver_sql("PRAGMA integrity_check")]

    def cipher_version(self) -> str:
        """The SQLCipher version in use (empty if the engine is plain SQLite)."""
        with self.engine.connect() as conn:
            row = conn.exec_driver_sql("PRAGMA cipher_version").first()
        return str(row[0]) if row else ""

    # -- sessions ----------------------------------------------------------------------

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading (a deferred transaction, rolled back at the end)."""
        self._follow_key()
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
            except (DatabaseError, OperationalError) as exc:
                known = self._known_error(exc.orig or exc)
                if known is not None:
                    raise known from exc
                raise

    @contextmanager
    def raw_read(self) -> Iterator[Any]:
        """The driver connection itself, for read-only queries on hot paths (the case
        list's keystrokes): no ORM session, each statement its own read transaction."""
        self._follow_key()
        raw = self.engine.raw_connection()
        try:
            driver = raw.driver_connection
            assert driver is not None
            yield driver
        except (DatabaseError, OperationalError, sqlcipher3.DatabaseError) as exc:
            known = self._known_error(getattr(exc, "orig", None) or exc)
            if known is not None:
                raise known from exc
            raise
        finally:
            raw.close()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session for one write transaction: committed on success, rolled back on error."""
        self._follow_key()
        with Session(self._writer, expire_on_commit=False) as session:
            # the signed-in user's key signs every audit entry of this session
            session.info["audit_signer"] = self.audit_signer
            try:
                yield session
                session.commit()
            except (DatabaseError, OperationalError) as exc:
                session.rollback()
                known = self._known_error(exc.orig or exc)
                if known is not None:
                    raise known from exc
                raise
            except BaseException:
                session.rollback()
                raise

    def _known_error(self, exc: BaseException) -> KnownError | None:
        """:func:`translate_db_error`, except that a file another window gave a new key
        is opened again with it: the step is then refused once, with a message saying
        to repeat it, and nothing written is lost (the transaction was rolled back)."""
        known = translate_db_error(exc)
        if known is None or known.kind != "corrupt" or not self._take_new_key():
            return known
        return KnownError(
            _(
                "Die Akten wurden inzwischen in einem anderen Intake-Fenster neu "
                "verschlüsselt. Ihre Eingaben sind erhalten; bitte wiederholen Sie den "
                "letzten Schritt."
            ),
            kind="rekeyed",
        )

    def _follow_key(self) -> None:
        """Before a transaction: when the keys may have changed (the vault file did), and
        the file no longer opens with this engine's key, take the one that opens it. A
        re-key between this check and the transaction is caught by :meth:`_known_error`."""
        source = self.key_source
        if source is None or not source.changed():
            return
        if not key_opens(self.path, self.current_key()):
            self._take_new_key()

    def current_key(self) -> bytes:
        """The raw key this engine opens the file with."""
        return bytes.fromhex((self.engine.url.password or "")[2:-1])

    def _take_new_key(self) -> bool:
        """Rebuild the engine with the key the vault names now, when it opens the file."""
        if self.key_source is None:
            return False
        current = self.current_key()
        for key in self.key_source.keys():
            if key == current or not self._opens_same_store(key):
                continue
            log.warning("a database was given a new key by another window; reopened")
            self.engine.dispose()
            self._build(key)
            return True
        return False

    def _opens_same_store(self, key: bytes) -> bool:
        """Whether ``key`` opens the file and it holds the identity it held when first
        opened (a file without one, such as the profile database, is not compared): a
        file someone put in a store's place, with a key she sealed to this user, is
        never written to (docs/security.md, "Her own stores")."""
        conn = schema_guard.connect(self.path)
        try:
            conn.execute(f"PRAGMA key = {_key_sql(key)}")
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            identity = read_identity(conn.cursor())  # reads the first page: checks the key
        except sqlcipher3.DatabaseError:
            return False
        finally:
            conn.close()
        if self._identity is not None and identity != self._identity:
            log.error("a key opens a file in a store's place that is not the store")
            return False
        return True

    # -- maintenance -------------------------------------------------------------------

    def _outside_transaction(self, sql: str) -> None:
        """Run a statement that SQLite refuses inside a transaction (VACUUM, checkpoint)."""
        self._on_driver(lambda driver: driver.execute(sql))  # isolation_level None: autocommit

    def checkpoint(self) -> None:
        """Fold the WAL back into the main file and empty it (before a copy, on close)."""
        self._outside_transaction("PRAGMA wal_checkpoint(TRUNCATE)")
        for name in self.attached:
            self._outside_transaction(f"PRAGMA {name}.wal_checkpoint(TRUNCATE)")

    def copy_to(self, target: Path) -> None:
        """Write a consistent encrypted copy of the database (SQLite's online backup).

        The copy is encrypted with the same key: SQLCipher's backup API keeps pages as
        they are when both sides share the key.
        """
        target = Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        tmp.unlink(missing_ok=True)
        raw = self.engine.raw_connection()
        try:
            dest = schema_guard.connect(tmp)
            try:
                dest.execute(_key_pragma(self.engine))
                source = raw.driver_connection
                assert source is not None
                source.backup(dest)
            finally:
                dest.close()
        finally:
            raw.close()
        shutil.move(str(tmp), str(target))

    def vacuum(self) -> None:
        """Rebuild the file so freed pages leave it (after a purge)."""
        self._outside_transaction("VACUUM")

    def change_key(self, new_key: bytes) -> None:
        """Re-encrypt the file under ``new_key`` and go on with it (docs/security.md,
        "Granting and revoking"): the pooled connections are closed first, the WAL folded
        in, and the engine is built again with the new key."""
        if self.attached:
            raise ValueError("a connection with attached files does not change its key")
        old_key = self.current_key()
        if self._connected:
            self.checkpoint()
        self.engine.dispose()
        rekey_file(self.path, old_key, new_key)
        self._build(new_key)

    def close(self) -> None:
        """Checkpoint and close every pooled connection."""
        if not self._connected:  # never used: nothing to fold back
            self.engine.dispose()
            return
        try:
            self.checkpoint()
        except (DatabaseError, OperationalError):  # pragma: no cover - closing anyway
            log.warning("checkpoint on close failed")
        self.engine.dispose()


def read_identity(cursor: Any) -> bytes | None:
    """A record store's identity through an open connection's cursor; None elsewhere."""
    found = cursor.execute(
        "SELECT name FROM main.sqlite_master WHERE type = 'table' AND name = ?",
        (STORE_IDENTITY_TABLE,),
    ).fetchone()
    if found is None:
        return None
    row = cursor.execute("SELECT identity FROM main.intake_store_identity WHERE id = 1").fetchone()
    return bytes(row[0]) if row is not None else None


def _key_sql(key: bytes) -> str:
    return f"\"x'{key.hex()}'\""


def rekey_file(path: Path, old_key: bytes, new_key: bytes) -> None:
    """Re-encrypt a SQLCipher file with a new key (SQLCipher's rekey), WAL folded in first.

    Pages written after this are readable only with ``new_key``; an old copy of the file
    still opens with the old key (what it holds was readable with that key anyway).
    """
    conn = schema_guard.connect(path)
    try:
        conn.isolation_level = None
        conn.execute(f"PRAGMA key = {_key_sql(old_key)}")
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute(f"PRAGMA rekey = {_key_sql(new_key)}")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def key_opens(path: Path, key: bytes) -> bool:
    """True when ``key`` decrypts the SQLCipher file (its first page is checked)."""
    conn = schema_guard.connect(path)
    try:
        conn.execute(f"PRAGMA key = {_key_sql(key)}")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlcipher3.DatabaseError:
        return False
    finally:
        conn.close()
    return True


def _key_pragma(engine: Engine) -> str:
    password = engine.url.password or ""
    return f'PRAGMA key = "{password}"'
