"""The stores a user has open share one page-cache budget (issue 17: a supervisor's
twenty stores must not take twenty times SQLite's 2 MiB per connection)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from intake_app.storage.database import ATTACHED_CACHE_KIB, Database
from intake_app.storage.stores import (
    STORE_CACHE_BUDGET_KIB,
    STORE_CACHE_MIN_KIB,
    create_store,
    new_store_key,
    open_store,
    store_cache_kib,
)


def test_one_store_keeps_sqlites_cache_and_many_share_the_budget() -> None:
    assert store_cache_kib(1) is None  # the build's default
    share = store_cache_kib(21)
    assert share is not None and share * 21 <= STORE_CACHE_BUDGET_KIB
    assert store_cache_kib(10_000) == STORE_CACHE_MIN_KIB


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
        assert abs(default) > 4 * share
        with db.read() as session:
            assert session.execute(text("PRAGMA main.cache_size")).scalar_one() == -share
            assert (
                session.execute(text("PRAGMA profile.cache_size")).scalar_one()
                == -ATTACHED_CACHE_KIB
            )
    finally:
        db.engine.dispose()
        plain.engine.dispose()
