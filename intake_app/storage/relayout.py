"""Moving a layout-1 profile (one database, one key for all) to record stores (layout 2).

docs/security.md, "Device: keys and scopes", "Moving an existing profile". It runs at the
first sign-in of an administrator after the update (or with the recovery key), because
it makes a new recovery key that only an administrator may see:

1. the schema is brought to the newest version (as on every start);
2. every owner's records are copied into a new store with a new random key;
3. the profile data (users, settings, audit log, device) is exported into a new profile
   database under a new profile key; its record tables stay empty;
4. the vault is rewritten (this is the commit point): site key, new recovery key, stores,
   and for every other user a legacy grant that her old password opens once;
5. the old single-key files are overwritten and deleted: the old database, its WAL, the
   copies made before schema upgrades, and the backups made under the old key.

A crash before step 4 leaves the old profile as it was (the half-made files are removed
on the next attempt); a crash after it is finished on the next sign-in (step 5 again).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import sqlcipher3

from intake_app.storage import schema_guard
from intake_app.storage.database import Database
from intake_app.storage.stores import (
    CLIENT_TABLES,
    STORES_DIR,
    client_schema,
    create_store,
    new_store_id,
    new_store_key,
    shred,
    store_path,
)
from intake_app.storage.vault import EncryptionPrivateKey, Vault, new_database_key

log = logging.getLogger("intake.storage")

NEW_SUFFIX = ".layout2"


def _key_sql(key: bytes) -> str:
    return f"\"x'{key.hex()}'\""


def pending_new_profile(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + NEW_SUFFIX)


def finish_if_interrupted(db_path: Path, backups_dir: Path) -> None:
    """Complete step 5 when the vault is in layout 2 but the old file is still there."""
    new = pending_new_profile(db_path)
    if new.is_file():
        _replace_profile_file(db_path, new)
        _shred_old_backups(backups_dir)


def _replace_profile_file(db_path: Path, new: Path) -> None:
    for suffix in ("-wal", "-shm"):
        shred(Path(str(db_path) + suffix))
    shred(db_path)
    new.rename(db_path)


def _shred_old_backups(backups_dir: Path) -> None:
    """Overwrite and delete every file made under the old key (backups, upgrade copies)."""
    if not backups_dir.is_dir():
        return
    for path in sorted(backups_dir.rglob("*"), reverse=True):
        if path.is_file():
            shred(path)
    for path in sorted(backups_dir.iterdir()):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)


def move_to_layout_2(
    *, root: Path, db: Database, vault: Vault, old_key: bytes, owners: dict[int, str]
) -> tuple[bytes, str]:
    """Split the open layout-1 database ``db`` into stores; return (profile key, recovery).

    ``owners`` names the users by id (for sealing each store to its owner).
    """
    stores_dir = root / STORES_DIR
    new_profile = pending_new_profile(db.path)
    # leftovers of an attempt that crashed before the vault was rewritten
    if stores_dir.is_dir():
        for path in stores_dir.iterdir():
            shred(path)
    new_profile.unlink(missing_ok=True)

    db.checkpoint()
    schema = client_schema()
    with db.engine.connect() as connection:
        owner_ids = [
            int(row[0])
            for row in connection.exec_driver_sql(
                "SELECT DISTINCT owner_id FROM records ORDER BY 1"
            )
        ]
    stores: dict[str, tuple[int, bytes]] = {}
    raw = db.engine.raw_connection()
    try:
        conn = raw.driver_connection
        assert conn is not None
        for owner_id in owner_ids:
            sid, key = new_store_id(), new_store_key()
            path = store_path(root, sid)
            create_store(path, key, schema)
            _copy_owner(conn, path, key, owner_id)
            stores[sid] = (owner_id, key)
        profile_key = new_database_key()
        _export_profile(conn, new_profile, profile_key)
    finally:
        raw.close()
    site = EncryptionPrivateKey.generate()
    db.close()
    recovery = vault.move_to_layout_2(
        old_key=old_key,
        profile_key=profile_key,
        site=site,
        stores=stores,
        owners=owners,
    )
    finish_if_interrupted(db.path, root / "backups")
    log.info("profile moved to record stores (%d stores)", len(stores))
    return profile_key, recovery


def _copy_owner(conn: sqlcipher3.Connection, path: Path, key: bytes, owner_id: int) -> None:
    conn.execute(f"ATTACH DATABASE ? AS store KEY {_key_sql(key)}", (str(path),))
    try:
        conn.execute("BEGIN IMMEDIATE")
        statements = [
            "INSERT INTO store.records SELECT * FROM main.records WHERE owner_id = :o",
            "INSERT INTO store.record_data SELECT * FROM main.record_data "
            "WHERE pk IN (SELECT pk FROM main.records WHERE owner_id = :o)",
            "INSERT INTO store.records_fts (rowid, terms) SELECT rowid, terms "
            "FROM main.records_fts "
            "WHERE rowid IN (SELECT pk FROM main.records WHERE owner_id = :o)",
            "INSERT INTO store.record_revisions SELECT * FROM main.record_revisions "
            "WHERE record_id IN (SELECT id FROM main.records WHERE owner_id = :o)",
            "INSERT INTO store.consent_withdrawals SELECT * FROM main.consent_withdrawals "
            "WHERE record_id IN (SELECT id FROM main.records WHERE owner_id = :o)",
            "INSERT INTO store.outbox SELECT * FROM main.outbox "
            "WHERE record_id IN (SELECT id FROM main.records WHERE owner_id = :o)",
            # a sealed batch goes with every store that has items in it
            "INSERT INTO store.sync_batches SELECT * FROM main.sync_batches WHERE batch_id IN "
            "(SELECT batch_id FROM main.outbox "
            "WHERE record_id IN (SELECT id FROM main.records WHERE owner_id = :o))",
        ]
        for sql in statements:
            conn.execute(sql, {"o": owner_id})
        conn.execute("COMMIT")
        conn.execute("PRAGMA store.wal_checkpoint(TRUNCATE)")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    finally:
        conn.execute("DETACH DATABASE store")


def _export_profile(conn: sqlcipher3.Connection, path: Path, key: bytes) -> None:
    """Export everything into a new file under ``key``, then empty its record tables."""
    conn.execute(f"ATTACH DATABASE ? AS newprofile KEY {_key_sql(key)}", (str(path),))
    try:
        conn.execute("SELECT sqlcipher_export('newprofile')")
        # the export writes the schema table directly: attach again so it is read anew
        conn.execute("DETACH DATABASE newprofile")
        conn.execute(f"ATTACH DATABASE ? AS newprofile KEY {_key_sql(key)}", (str(path),))
        conn.execute("BEGIN IMMEDIATE")
        # case numbers stay unique across the stores: keep the last one per prefix
        last: dict[str, int] = {}
        for (number,) in conn.execute("SELECT case_number FROM main.records").fetchall():
            prefix, _sep, seq = str(number).rpartition("-")
            if seq.isdigit():
                last[prefix] = max(last.get(prefix, 0), int(seq))
        for prefix, last_seq in last.items():
            conn.execute(
                "INSERT OR REPLACE INTO newprofile.settings (key, value, updated_at) "
                "VALUES (?, ?, datetime('now'))",
                (f"case_sequence.{prefix}-", str(last_seq)),
            )
        for table in CLIENT_TABLES:
            conn.execute(f"DELETE FROM newprofile.{table}")  # noqa: S608 - fixed names
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    finally:
        conn.execute("DETACH DATABASE newprofile")
    fresh = schema_guard.connect(path)
    try:
        fresh.isolation_level = None
        fresh.execute(f"PRAGMA key = {_key_sql(key)}")
        fresh.execute("VACUUM")
        fresh.execute("PRAGMA journal_mode = WAL")
    finally:
        fresh.close()
