"""Every released schema (a fixture profile per revision) upgrades to the newest, losing nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import text

from intake_app.app import Workspace
from intake_app.errors import AuthError, ProfileError
from intake_app.storage import migrate
from intake_app.storage.profile import Profile
from intake_app.storage.vault import Vault
from tests.helpers.attacker import dump_everything

FIXTURES = Path(__file__).parents[2] / "fixtures" / "schemas"
RELEASED = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir() and not p.name.startswith("."))


def _layout(revision: str) -> int:
    vault = json.loads((FIXTURES / revision / "vault.json").read_text("utf-8"))
    return int(vault.get("layout", 1))


#: Fixtures written before the record stores (layout 1) move to them at the upgrade.
SINGLE_KEY = [r for r in RELEASED if _layout(r) == 1]
#: Fixtures with record stores: their stores get what later schemas add.
WITH_STORES = [r for r in RELEASED if _layout(r) >= 2]


def test_there_is_a_fixture_for_the_newest_schema() -> None:
    assert migrate.head_revision() in RELEASED, (
        "a migration was added without a fixture: run tests/fixtures/make_schema_fixture.py"
    )


def _assert_search_index_current(ws: Workspace) -> None:
    """The store's search index has the newest definition (prefixes of one to four
    letters, migration 0007) and still finds every record, by a one-letter prefix of its
    case number among others."""
    with ws.scope.profile_db.read() as session:
        wanted = session.execute(
            text("SELECT sql FROM sqlite_master WHERE name = 'records_fts'")
        ).scalar_one()
    assert "prefix = '1 2 3 4'" in wanted
    with ws.db.read() as session:
        assert (
            session.execute(
                text("SELECT sql FROM main.sqlite_master WHERE name = 'records_fts'")
            ).scalar_one()
            == wanted
        )
        records = session.execute(text("SELECT pk, case_number FROM records")).all()
        assert session.execute(text("SELECT count(*) FROM records_fts")).scalar_one() == len(
            records
        )
        for pk, case_number in records:
            found = session.execute(
                text("SELECT rowid FROM records_fts WHERE records_fts MATCH :m AND rowid = :pk"),
                {"m": f'"{case_number[0].lower()}"*', "pk": pk},
            ).all()
            assert found == [(pk,)], case_number


@pytest.mark.parametrize("revision", WITH_STORES)
def test_upgrade_of_a_profile_with_record_stores(revision: str, tmp_path: Path) -> None:
    """A profile with record stores upgrades the profile database at the first sign-in
    and each store when it is opened (storage/stores.py): nothing is lost."""
    source = FIXTURES / revision
    expected = json.loads((source / "expected.json").read_text("utf-8"))
    shutil.copytree(source, tmp_path / "p")
    profile = Profile(tmp_path / "p")
    ws = Workspace.sign_in(profile, username="admin", password=expected["password"])
    try:
        assert migrate.current_revision(ws.db) == migrate.head_revision()
        assert [u.username for u in ws.accounts.list_users()] == expected["users"]
        assert ws.verify_audit().ok
    finally:
        ws.close()
    ws = Workspace.sign_in(profile, username="berater", password=expected["password"])
    try:
        assert ws.db.integrity_check() == ["ok"]
        for check in expected.get("checks", []):
            with ws.db.read() as session:
                assert session.execute(text(check["sql"])).scalar_one() == check["value"], check
        _assert_search_index_current(ws)
    finally:
        ws.close()


@pytest.mark.parametrize("revision", SINGLE_KEY)
def test_upgrade_from_released_schema(revision: str, tmp_path: Path) -> None:
    """An older profile upgrades its schema and moves to record stores at the first
    sign-in of an administrator (docs/security.md): nothing is lost, the old single-key
    files are gone, and the old key opens nothing."""
    source = FIXTURES / revision
    expected = json.loads((source / "expected.json").read_text("utf-8"))
    shutil.copytree(source, tmp_path / "p")
    profile = Profile(tmp_path / "p")
    old_key = Vault(tmp_path / "p" / "vault.json").unlock("admin", expected["password"])
    shutil.copy2(source / "vault.json", tmp_path / "p" / "vault.json")  # as it was
    with pytest.raises(AuthError):  # not before an administrator moved the profile
        Workspace.sign_in(profile, username="berater", password=expected["password"])
    ws = Workspace.sign_in(profile, username="admin", password=expected["password"])
    try:
        assert migrate.current_revision(ws.db) == migrate.head_revision()
        assert [u.username for u in ws.accounts.list_users()] == expected["users"]
        for key, value in expected["settings"].items():
            assert ws.settings.get(key) == value
        assert ws.db.integrity_check() == ["ok"]
        assert ws.verify_audit().ok
        if revision != migrate.head_revision():
            with ws.db.read() as session:
                upgraded = session.execute(
                    text("SELECT count(*) FROM audit_log WHERE action = 'schema_upgraded'")
                ).scalar_one()
            assert upgraded, "an old schema must have been upgraded"
        new_recovery = ws.sign_in_result.new_recovery_key
        assert new_recovery
        # the administrator reads no client data any more
        with ws.db.read() as session:
            assert session.execute(text("SELECT count(*) FROM records")).scalar_one() == 0
    finally:
        ws.close()
    # the old single-key files are gone: the old key opens no file of the folder
    assert not list(profile.backups_dir.glob("before-upgrade-*"))
    _text, opened = dump_everything(profile.root, [old_key])
    assert opened == []
    # the counsellor signs in with her old password and finds everything
    ws = Workspace.sign_in(profile, username="berater", password=expected["password"])
    try:
        for check in expected.get("checks", []):
            with ws.db.read() as session:
                assert session.execute(text(check["sql"])).scalar_one() == check["value"], check
        _assert_search_index_current(ws)
    finally:
        ws.close()
    # the old recovery key is replaced by the one shown at the move
    with pytest.raises(AuthError):
        profile.vault().unlock_with_recovery(expected["recovery_key"])
    assert profile.vault().unlock_recovery(new_recovery).site_private() is not None


def test_newer_schema_is_refused_and_left_alone(tmp_path: Path) -> None:
    source = FIXTURES / RELEASED[-1]
    expected = json.loads((source / "expected.json").read_text("utf-8"))
    shutil.copytree(source, tmp_path / "p")
    profile = Profile(tmp_path / "p")
    ws = Workspace.sign_in(profile, username="admin", password=expected["password"])
    with ws.db.write() as session:
        session.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    ws.close()
    before = profile.db_path.read_bytes()
    with pytest.raises(ProfileError) as info:
        Workspace.sign_in(profile, username="admin", password=expected["password"])
    assert info.value.kind == "newer"
    assert profile.db_path.read_bytes() == before


def test_a_store_with_the_old_search_index_gets_it_rebuilt(tmp_path: Path) -> None:
    """A store written before migration 0007 (search index with prefixes of two and three
    letters) gets the new index when it is opened, every row copied, in one transaction;
    a current store is left alone."""
    from intake_app.storage.database import Database
    from intake_app.storage.stores import create_store, ensure_client_tables, new_store_key

    old_sql = (
        "CREATE VIRTUAL TABLE records_fts USING fts5("
        "terms, tokenize = \"unicode61 remove_diacritics 2\", prefix = '2 3')"
    )
    new_sql = old_sql.replace("'2 3'", "'1 2 3 4'")
    key = new_store_key()
    path = tmp_path / "old.db"
    create_store(path, key, [old_sql])
    db = Database(path, key)
    try:
        with db.write() as session:
            for pk, terms in [(1, "muller mueller jana"), (7, "حيدري bnch 2026 00042")]:
                session.execute(
                    text("INSERT INTO records_fts (rowid, terms) VALUES (:pk, :terms)"),
                    {"pk": pk, "terms": terms},
                )
        assert ensure_client_tables(db, [("records_fts", new_sql)]) == ["records_fts"]
        assert ensure_client_tables(db, [("records_fts", new_sql)]) == []
        with db.read() as session:
            assert (
                session.execute(
                    text("SELECT sql FROM sqlite_master WHERE name = 'records_fts'")
                ).scalar_one()
                == new_sql
            )
            names = [
                row[0]
                for row in session.execute(
                    text("SELECT name FROM sqlite_master WHERE name LIKE 'records_fts%'")
                )
            ]
            assert not [name for name in names if "rebuilt" in name]
            rows = session.execute(text("SELECT rowid, terms FROM records_fts ORDER BY rowid"))
            assert rows.all() == [(1, "muller mueller jana"), (7, "حيدري bnch 2026 00042")]
            for match, pks in [('"m"*', [1]), ('"ح"*', [7]), ('"bnch"* "0004"*', [7])]:
                found = session.execute(
                    text("SELECT rowid FROM records_fts WHERE records_fts MATCH :m"), {"m": match}
                )
                assert [row[0] for row in found] == pks, match
    finally:
        db.engine.dispose()
