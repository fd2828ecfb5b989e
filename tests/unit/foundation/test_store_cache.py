"""Several stores open at once get a smaller page cache each (issue 17: a supervisor's
twenty stores must not take twenty times the build's 8,000 KiB per connection)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from intake_app.storage.database import ATTACHED_CACHE_KIB, Database
from intake_app.storage.stores import (
    STORE_CACHE_SEVERAL_KIB,
    create_store,
    new_store_key,
    open_store,
    store_cache_kib,
)


def test_one_store_keeps_the_default_cache_and_several_a_smaller_one() -> None:
    assert store_cache_kib(1) is None  # the build's default
    assert store_cache_kib(21) == store_cache_kib(2) == STORE_CACHE_SEVERAL_KIB


def test_a_store_connection_uses_its_share(tmp_path: Path) -> None:
    profile_key, store_key = new_store_key(), new_store_key()
    create_store(tmp_path / "profile.db", profile_key, ["CREATE TABLE users (id INTEGER)"])
    create_store(tmp_path / "store.db", store_key, ["CREATE TABLE records (pk INTEGER)"])
    db = open_store(
        tmp_path / "store.db",
        store_key,
        tmp_path / "profile.db",
        profile_key,
        cache_kib=store_cache_kib(21),
    )
    plain = Database(tmp_path / "store.db", store_key)
    share = store_cache_kib(21)
    assert share is not None
    try:
        with plain.read() as session:  # one store, the profile database: the default
            default = session.execute(text("PRAGMA main.cache_size")).scalar_one()
        assert abs(default) > 2 * share
        with db.read() as session:
            assert session.execute(text("PRAGMA main.cache_size")).scalar_one() == -share
            assert (
                session.execute(text("PRAGMA profile.cache_size")).scalar_one()
                == -ATTACHED_CACHE_KIB
            )
    finally:
        db.engine.dispose()
        plain.engine.dispose()
