"""Marks made with a record store's identity, and notes kept inside a store
(docs/security.md, "Decisions the site's keys back").

A ``record_erased`` entry of the profile database's audit log makes a record that comes
back in an older copy of a store be erased again. A signature is not enough to back it:
the administrator signs user rows, so she can make a key she minted speak for a
supervisor (attacker run 19). So the entry also carries a mark, an HMAC-SHA384 under a
key derived from the identity of the store that held the record, and only a mark of the
store the record is back in counts. The identity is a random value kept inside the store
(``stores.py``), read only with the store's key, and kept through a re-key: the record's
owner and the supervisors make and check marks; the administrator cannot, nor a
colleague for another's store, nor anyone through a store of an account she made
(attacker run 20).

A store's notes (table ``intake_site_notes``) are facts its owner wrote where only a
holder of its key removes them.
"""

from __future__ import annotations

import hmac
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import text

from intake_app.storage.database import read_identity
from intake_app.storage.stores import SITE_NOTES_SQL

_INFO = b"intake store mark v1|"


def mark(identity: bytes, purpose: str, *parts: str) -> str:
    """The mark of (``purpose``, ``parts``) under the store ``identity`` (hex)."""
    key = HKDF(
        algorithm=hashes.SHA384(), length=48, salt=None, info=_INFO + purpose.encode("ascii")
    ).derive(identity)
    message = "\x1f".join(parts).encode("utf-8")
    return hmac.new(key, message, "sha384").hexdigest()


def checks(found: Any, identity: bytes, purpose: str, *parts: str) -> bool:
    """Whether ``found`` (a mark read from an entry) is the mark under ``identity``."""
    if not isinstance(found, str) or not found:
        return False
    return hmac.compare_digest(found, mark(identity, purpose, *parts))


def identity_in(session: Any) -> bytes | None:
    """The identity of the store a session's ``main`` schema is (None: a profile
    database, or a store from before identities)."""
    return read_identity(session.connection().connection.cursor())


def _has_table(session: Any, name: str) -> bool:
    return (
        session.execute(
            text("SELECT name FROM main.sqlite_master WHERE type = 'table' AND name = :name"),
            {"name": name},
        ).first()
        is not None
    )


def site_note(session: Any, name: str) -> str | None:
    """The note ``name`` in the store of ``session`` (None: not noted)."""
    if not _has_table(session, "intake_site_notes"):
        return None
    row = session.execute(
        text("SELECT value FROM main.intake_site_notes WHERE name = :name"), {"name": name}
    ).first()
    return str(row[0]) if row is not None else None


def put_site_note(session: Any, name: str, value: str) -> None:
    """Note ``name`` in the store of ``session`` (inside its transaction)."""
    session.execute(text(SITE_NOTES_SQL))
    session.execute(
        text("INSERT OR REPLACE INTO main.intake_site_notes (name, value) VALUES (:n, :v)"),
        {"n": name, "v": value},
    )
