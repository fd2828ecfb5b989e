"""An attacker with the profile folder, one password and the crypto library.

No program, no permission checks: she opens ``vault.json`` with her password (the
project's own vault code is as good as any), collects every key that opens for her
(her seals, and through a site key every store seal), and tries every key on every file
of the folder with SQLCipher. What decrypts is dumped as text, to be scanned for canary
names.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import sqlcipher3

from intake_app.app import Workspace
from intake_app.storage import audit, integrity, user_keys, users
from intake_app.storage.models import UserKey
from intake_app.storage.vault import Vault
from tests.helpers.key_site import made_by_admin, own


def keys_for(vault_path: Path, username: str, password: str) -> list[bytes]:
    """Every 32-byte key ``username``'s password yields from this vault file."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "vault.json"
        shutil.copy2(vault_path, copy)
        vault = Vault(copy)
        found = [vault.unlock(username, password)]
        unlock_user = getattr(vault, "unlock_user", None)
        if unlock_user is None:  # a single-key vault: the password opens the one key
            return found
        keys = unlock_user(username, password)
        found += [v for v in keys.sealed.values() if len(v) == 32]
        data = json.loads(copy.read_text("utf-8"))
        for store_id in data.get("stores", {}):
            key = vault.open_store_key(keys, store_id)
            if key is not None:
                found.append(key)
    return list(dict.fromkeys(found))


def dump_everything(root: Path, keys: list[bytes]) -> tuple[str, list[str]]:
    """Try every key on every file under ``root``; return the decrypted text and files."""
    texts: list[str] = []
    opened: list[str] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.name.endswith(("-wal", "-shm", ".lock", ".json", ".log", ".yaml")):
            continue
        for key in keys:
            with tempfile.TemporaryDirectory() as tmp:
                copy = Path(tmp) / "x.db"
                shutil.copy2(path, copy)
                wal = Path(str(path) + "-wal")
                if wal.is_file():
                    shutil.copy2(wal, Path(str(copy) + "-wal"))
                conn = sqlcipher3.connect(str(copy))
                try:
                    conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
                    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
                except sqlcipher3.DatabaseError:
                    conn.close()
                    continue
                tables = [
                    row[0]
                    for row in conn.execute(
                        "SELECT name FROM sqlite_master WHERE type = 'table'"
                    ).fetchall()
                ]
                for table in tables:
                    try:
                        rows = conn.execute(f'SELECT * FROM "{table}"').fetchall()
                    except sqlcipher3.OperationalError:  # a virtual table's module
                        continue
                    texts.extend(
                        " ".join(
                            v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                            for v in row
                        )
                        for row in rows
                    )
                conn.close()
                opened.append(str(path.relative_to(root)))
                break
    return "\n".join(texts), opened


def what_she_reads(
    root: Path, username: str, password: str, *, vault_path: Path | None = None
) -> tuple[str, list[str]]:
    """Everything ``username`` decrypts in ``root`` with ``password`` (and a vault file)."""
    try:
        keys = keys_for(vault_path or root / "vault.json", username, password)
    except Exception:  # the password opens nothing in this vault
        return "", []
    return dump_everything(root, keys)


def mint_key(ws: Any, username: str) -> tuple[UserKey, Any]:
    """As an administrator with the profile root (``ws`` is her workspace): a fresh key
    for ``username``, certified by the root and stored beside her own keys; returns the
    key row and its private key. Her signed row is left as it is."""
    keys = ws.accounts.signing_keys
    assert keys is not None and keys.root_key is not None
    with ws.db.write() as session:
        user = users.get_by_name(session, username=username)
        assert user is not None and user.id is not None
        minted = user_keys.generate_key()
        row = UserKey(
            kid=user_keys.key_id(minted),
            user_id=user.id,
            public_key=user_keys.public_text(minted),
            created_at="2026-01-01T00:00:00Z",
            certified_by=keys.root_kid,
        )
        row.signature = user_keys.sign(
            keys.root_key, user_keys.USER_KEY_DOMAIN, integrity.key_payload(row)
        )
        session.add(row)
    return row, minted


def admin_made_supervisor(profile: Any, name: str = "geist") -> None:
    """As the administrator: a supervisor's account she makes and signs in as, setting
    its own password (``own(name)`` of tests/helpers/key_site.py) herself. It holds no
    grant of the site key; its own store opens to every holder of it."""
    made_by_admin(profile, name, "supervisor")


def profile_opens_with(profile: Any, keys: list[bytes]) -> bool:
    """Whether one of ``keys`` opens the profile database (SQLCipher alone)."""
    return with_any_key(profile.root / "intake.db", keys, lambda _conn: True) is True


def speak_as(ws: Any, username: str, *, named: bool = True) -> None:
    """As an administrator with the profile root (``ws`` is her workspace): from now on
    her session signs audit entries with a key minted for ``username`` (:func:`mint_key`);
    ``named``: she also signs ``username``'s row anew so that it names that key."""
    row, minted = mint_key(ws, username)
    if named:
        keys = ws.accounts.signing_keys
        assert keys is not None
        with ws.db.write() as session:
            user = users.get_by_name(session, username=username)
            assert user is not None
            user.key_id = row.kid
            integrity.sign_row(user, integrity.Authority.of(keys))
            session.add(user)
    ws.db.audit_signer = user_keys.Signer(row.kid, minted)


def with_any_key(path: Path, keys: list[bytes], run: Any) -> Any:
    """``run(conn)`` on the SQLCipher file ``path`` opened with the first of ``keys`` that
    opens it (committed); None when none does."""
    for key in keys:
        conn = sqlcipher3.connect(str(path))
        try:
            conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlcipher3.DatabaseError:
            conn.close()
            continue
        try:
            result = run(conn)
            conn.commit()
            return result
        finally:
            conn.close()
    return None


def profile_db(profile: Any, user: str) -> sqlcipher3.Connection:
    """Her own connection to the profile database, opened with the key her password
    yields, outside the program (autocommit: each statement is written at once)."""
    key = keys_for(profile.root / "vault.json", user, own(user))[0]
    conn = sqlcipher3.connect(str(profile.root / "intake.db"))
    conn.isolation_level = None
    conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    return conn


def findings(ws: Workspace, kind: str) -> list[dict[str, Any]]:
    """The findings of ``kind`` the sign-ins and checks reported (``integrity_violation``
    entries of the audit log), oldest first."""
    with ws.scope.profile_db.read() as session:
        return [
            finding
            for entry in audit.iter_entries(session)
            if entry.action == "integrity_violation"
            for finding in entry.details.get("findings", [])
            if finding.get("kind") == kind
        ]
