"""Code put into a database file runs in nobody's session (storage/schema_guard.py).

Tried as attacker run 12 did: a counsellor (or the administrator) holds the profile
database's key and writes SQL into it outside the program, with her own SQLCipher
connection: a trigger that copies the store open as ``main`` into the profile database
(``sqlcipher_export``), a trigger that changes what a colleague saves, a trigger that
drops audit entries, a CHECK constraint that calls ``sqlcipher_export``. Her colleague then
works as usual. Nothing of the colleague's records reaches the attacker, nothing is
changed or left out of the audit log, and the sign-in removes and reports the code.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import sqlcipher3
from sqlalchemy import text

from intake_app.app import Workspace
from intake_app.errors import KnownError
from intake_app.storage import audit, users
from intake_app.storage.profile import Profile
from intake_app.storage.records import RecordQuery
from tests.helpers.attacker import findings, keys_for, profile_db, what_she_reads
from tests.helpers.key_site import own, write_record

#: the condition attacker run 12 used: only on a connection where a store is ``main``
_ON_A_STORE = "EXISTS (SELECT 1 FROM pragma_database_list WHERE name = 'profile')"


def _plant_export(profile: Profile, user: str) -> None:
    conn = profile_db(profile, user)
    try:
        # the profile's empty copies of the record tables would collide with the export
        for table in ("records_fts", "records", "record_data", "record_revisions"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(
            f"CREATE TRIGGER zz_export AFTER INSERT ON audit_log WHEN {_ON_A_STORE} "
            "BEGIN SELECT sqlcipher_export('profile', 'main'); END"
        )
    finally:
        conn.close()


def _triggers(profile: Profile, user: str) -> set[str]:
    conn = profile_db(profile, user)
    try:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall()
    finally:
        conn.close()
    return {name for (name,) in rows}


def _findings(ws: Workspace) -> list[dict]:
    return findings(ws, "planted_code")


def test_a_counsellors_export_trigger_copies_nothing_of_a_colleague(
    site: tuple[Profile, str],
) -> None:
    profile, _ = site
    _plant_export(profile, "anna")
    assert "zz_export" in _triggers(profile, "anna")

    ws = Workspace.sign_in(profile, username="berta", password=own("berta"))
    try:
        assert any("Programmcode" in m for m in ws.sign_in_result.integrity_messages)
        assert _findings(ws) == [{"kind": "planted_code", "objects": ["trigger zz_export"]}]
    finally:
        ws.close()
    assert "zz_export" not in _triggers(profile, "anna")
    write_record(profile, "berta", "Kanarienberta-danach")

    text_, _opened = what_she_reads(profile.root, "anna", own("anna"))
    assert "Kanarienanna" in text_, "the attack must reach her own records"
    assert "Kanarienberta" not in text_


def test_code_planted_while_she_works_does_not_run_and_her_step_is_refused(
    site: tuple[Profile, str],
) -> None:
    profile, _ = site
    ws = Workspace.sign_in(profile, username="berta", password=own("berta"))
    record_id = ws.new_intake()
    answers = dict(ws.records.get(record_id).answers)
    ws.records.save(record_id, answers={**answers, "family_name": "Kanarienberta-2"})
    _plant_export(profile, "anna")  # while berta is signed in
    with pytest.raises(KnownError, match="Programmcode"):
        ws.records.open(record_id)  # an audited read: the trigger's table is written
    ws.close()  # the log-out entry cannot be written either: the session closes all the same
    assert ws.is_closed
    text_, _opened = what_she_reads(profile.root, "anna", own("anna"))
    assert "Kanarienberta" not in text_
    # her next sign-in removes it, and her work goes on
    write_record(profile, "berta", "Kanarienberta-3")


def test_a_check_constraint_that_exports_is_refused(site: tuple[Profile, str]) -> None:
    """Not a trigger: the audit log rebuilt with a CHECK constraint that calls
    ``sqlcipher_export`` on every entry written. SQLite refuses the function there."""
    profile, _ = site
    conn = profile_db(profile, "anna")
    try:
        (sql,) = conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'audit_log'"
        ).fetchone()
        checked = re.sub(
            r"\)\s*$", ", CHECK (sqlcipher_export('profile', 'main') IS NULL OR 1))", sql
        )
        conn.execute("ALTER TABLE audit_log RENAME TO audit_old")
        conn.execute(checked)
        conn.execute("INSERT INTO audit_log SELECT * FROM audit_old")
        conn.execute("DROP TABLE audit_old")
        for table in ("records_fts", "records", "record_data", "record_revisions"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
    finally:
        conn.close()
    with pytest.raises(KnownError, match="Programmcode"):
        write_record(profile, "berta", "Kanarienberta-geprueft")
    text_, _opened = what_she_reads(profile.root, "anna", own("anna"))
    assert "Kanarienberta" not in text_


def _store_triggers(profile: Profile, path: Path) -> set[str]:
    """The triggers inside a store file, read with the supervisor's keys."""
    for key in keys_for(profile.root / "vault.json", "leitung", own("leitung")):
        conn = sqlcipher3.connect(str(path))
        try:
            conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall()
        except sqlcipher3.DatabaseError:
            continue
        finally:
            conn.close()
        return {name for (name,) in rows}
    raise AssertionError(f"no key of the supervisor opens {path}")


def test_a_trigger_on_the_record_tables_reaches_no_store(site: tuple[Profile, str]) -> None:
    """Attacker run 12: a trigger on the profile database's (empty) record_data was copied
    into every store that was opened, and rewrote what colleagues saved."""
    profile, _ = site
    conn = profile_db(profile, "anna")
    try:
        conn.execute(
            "CREATE TRIGGER zz_tamper AFTER UPDATE ON record_data BEGIN "
            "UPDATE record_data SET answers = json_set(answers, '$.given_names', 'FORGED') "
            "WHERE pk = new.pk; END"
        )
    finally:
        conn.close()
    ws = Workspace.sign_in(profile, username="berta", password=own("berta"))
    try:
        record_id = ws.new_intake()
        answers = dict(ws.records.get(record_id).answers)
        ws.records.save(record_id, answers={**answers, "given_names": "Echt"})
        assert ws.records.get(record_id).answers["given_names"] == "Echt"
    finally:
        ws.close()
    for path in (profile.root / "stores").glob("*.db"):
        assert "zz_tamper" not in _store_triggers(profile, path)


def test_a_trigger_already_inside_a_store_is_removed_and_reported(
    site: tuple[Profile, str],
) -> None:
    """A store that got such a trigger from an earlier version: its owner's sign-in takes
    it out before anything is written, and says so."""
    profile, _ = site
    ws = Workspace.sign_in(profile, username="berta", password=own("berta"))
    store = ws.scope.home
    record_id = ws.new_intake()
    ws.close()
    conn = sqlcipher3.connect(str(store.path))
    try:
        conn.execute(f"PRAGMA key = \"x'{store.current_key().hex()}'\"")
        conn.execute(
            "CREATE TRIGGER zz_tamper AFTER UPDATE ON record_data BEGIN "
            "UPDATE record_data SET answers = json_set(answers, '$.given_names', 'FORGED') "
            "WHERE pk = new.pk; END"
        )
    finally:
        conn.close()
    assert "zz_tamper" in _store_triggers(profile, store.path)
    ws = Workspace.sign_in(profile, username="berta", password=own("berta"))
    try:
        assert any("Aktenspeicher" in m for m in ws.sign_in_result.integrity_messages)
        assert _findings(ws) == [{"kind": "planted_code", "objects": ["trigger zz_tamper"]}]
        answers = dict(ws.records.get(record_id).answers)
        ws.records.save(record_id, answers={**answers, "given_names": "Echt"})
        assert ws.records.get(record_id).answers["given_names"] == "Echt"
    finally:
        ws.close()
    assert "zz_tamper" not in _store_triggers(profile, store.path)


def test_audit_entries_cannot_be_made_to_vanish(site: tuple[Profile, str]) -> None:
    """A trigger that drops the entries of chosen actions (RAISE(IGNORE)): the entry is
    never dropped; the step that would write it is refused instead."""
    profile, _ = site
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    try:
        record_id = ws.records.list(RecordQuery())[0].id
        conn = profile_db(profile, "anna")
        try:
            conn.execute(
                "CREATE TRIGGER zz_quiet BEFORE INSERT ON audit_log "
                "WHEN new.action = 'record_read' BEGIN SELECT RAISE(IGNORE); END"
            )
        finally:
            conn.close()
        with ws.scope.profile_db.read() as session:
            before = session.execute(
                text("SELECT count(*) FROM audit_log WHERE action = 'record_read'")
            ).scalar_one()
        with pytest.raises(KnownError, match="Programmcode"):
            ws.records.open(record_id)  # an audited read
    finally:
        ws.close()
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    try:
        assert _findings(ws) == [{"kind": "planted_code", "objects": ["trigger zz_quiet"]}]
        ws.records.open(record_id)
        with ws.scope.profile_db.read() as session:
            after = session.execute(
                text("SELECT count(*) FROM audit_log WHERE action = 'record_read'")
            ).scalar_one()
        assert after == before + 1
    finally:
        ws.close()


# -- table definitions (attacker run 13): no code, yet they change data on their own --


def _audit_log_dropping(profile: Profile, action: str) -> None:
    """The audit log rebuilt by anna with one more column: generated, NOT NULL, and ON
    CONFLICT IGNORE, so that every new entry of ``action`` is dropped without an error."""
    conn = profile_db(profile, "anna")
    try:
        objects = conn.execute(
            "SELECT type, sql FROM sqlite_master WHERE tbl_name = 'audit_log' AND sql NOT NULL"
        ).fetchall()
        (ddl,) = [sql for kind, sql in objects if kind == "table"]
        newest = conn.execute("SELECT max(seq) FROM audit_log").fetchone()[0]
        dropping = (
            f"g INTEGER GENERATED ALWAYS AS (CASE WHEN action = '{action}' AND seq > {newest} "
            "THEN NULL ELSE 1 END) VIRTUAL NOT NULL ON CONFLICT IGNORE, "
        )
        at = ddl.index("PRIMARY KEY (seq)")
        rebuilt = (ddl[:at] + dropping + ddl[at:]).replace("audit_log", "audit_log_new", 1)
        columns = ", ".join(row[1] for row in conn.execute("PRAGMA table_info(audit_log)"))
        conn.execute("BEGIN")
        conn.execute(rebuilt)
        conn.execute(f"INSERT INTO audit_log_new ({columns}) SELECT {columns} FROM audit_log")
        conn.execute("DROP TABLE audit_log")
        conn.execute("ALTER TABLE audit_log_new RENAME TO audit_log")
        for kind, sql in objects:
            if kind != "table":
                conn.execute(sql)
        conn.execute("COMMIT")
    finally:
        conn.close()


def _reads(ws: Workspace) -> int:
    with ws.scope.profile_db.read() as session:
        return int(
            session.execute(
                text("SELECT count(*) FROM audit_log WHERE action = 'record_read'")
            ).scalar_one()
        )


def test_an_audit_log_that_drops_entries_is_put_back_at_sign_in(
    site: tuple[Profile, str],
) -> None:
    profile, _ = site
    _audit_log_dropping(profile, "record_read")
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    try:
        assert any("audit_log" in m for m in ws.sign_in_result.integrity_messages)
        before = _reads(ws)
        for summary in ws.records.list(RecordQuery()):
            ws.records.open(summary.id)
        assert _reads(ws) == before + 2  # every read is in the log
        assert ws.verify_audit().ok
    finally:
        ws.close()


def test_an_audit_entry_dropped_while_she_works_refuses_the_step(
    site: tuple[Profile, str],
) -> None:
    profile, _ = site
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    try:
        record_id = ws.records.list(RecordQuery())[0].id
        before = _reads(ws)
        _audit_log_dropping(profile, "record_read")  # while leitung is signed in
        with pytest.raises(KnownError, match="Programmcode"):
            ws.records.open(record_id)  # read, but its entry would be dropped: refused
        assert _reads(ws) == before
    finally:
        ws.close()


def test_record_tables_redefined_in_the_profile_reach_no_store(
    site: tuple[Profile, str],
) -> None:
    """anna redefines the profile's (empty) ``records``: a forged default birth date and
    a unique pair that makes a second draft delete the first (ON CONFLICT REPLACE). A
    colleague's new store is made as the program defines it."""
    profile, _ = site
    conn = profile_db(profile, "anna")
    try:
        objects = conn.execute(
            "SELECT type, sql FROM sqlite_master WHERE tbl_name = 'records' AND sql NOT NULL"
        ).fetchall()
        (ddl,) = [sql for kind, sql in objects if kind == "table"]
        poisoned = ddl.replace(
            "birth_date VARCHAR(10),",
            "birth_date VARCHAR(10) NOT NULL ON CONFLICT REPLACE DEFAULT '1901-01-01',",
        ).replace(
            "PRIMARY KEY (pk),", "PRIMARY KEY (pk), UNIQUE (owner_id, status) ON CONFLICT REPLACE,"
        )
        assert poisoned != ddl
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute("BEGIN")
        conn.execute("DROP TABLE records")
        conn.execute(poisoned)
        for kind, sql in objects:
            if kind == "index":
                conn.execute(sql)
        conn.execute("COMMIT")
    finally:
        conn.close()
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    assert any("records" in m for m in ws.sign_in_result.integrity_messages)
    ws.accounts.add_user(username="carla", role="counsellor", password=f"{own('carla')}-start")
    ws.close()
    ws = Workspace.sign_in(profile, username="carla", password=f"{own('carla')}-start")
    ws.accounts.set_own_password(own("carla"))
    ws.close()
    first = write_record(profile, "carla", "Kanariencarla-Eins")
    second = write_record(profile, "carla", "Kanariencarla-Zwei")
    ws = Workspace.sign_in(profile, username="carla", password=own("carla"))
    try:
        assert {r.id for r in ws.records.list(RecordQuery())} == {first, second}
        assert ws.records.get(second).answers.get("birth_date") is None
    finally:
        ws.close()


def test_a_search_index_redefined_in_the_profile_changes_no_store(
    site: tuple[Profile, str],
) -> None:
    profile, _ = site
    conn = profile_db(profile, "anna")
    try:
        conn.execute("DROP TABLE records_fts")
        conn.execute(
            "CREATE VIRTUAL TABLE records_fts USING fts5(terms, "
            "tokenize = \"unicode61 categories 'Co'\", prefix = '1 2 3 4')"
        )
    finally:
        conn.close()
    for user in ("berta", "leitung"):
        ws = Workspace.sign_in(profile, username=user, password=own(user))
        ws.close()
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    try:
        names = {r.family_name for r in ws.records.list(RecordQuery(search="Kanarien"))}
        assert names == {"Kanarienanna", "Kanarienberta"}
    finally:
        ws.close()


def test_her_store_taken_out_of_the_vault_is_reported(site: tuple[Profile, str]) -> None:
    """Attacker run 13: berta's store entry deleted from vault.json. She gets a new, empty
    store to work in (made as the program defines it), and is told what happened."""
    profile, _ = site
    path = profile.root / "vault.json"
    data = json.loads(path.read_text("utf-8"))
    ref = profile.vault().user_ref("berta")
    for sid in data["users"][ref]["own_stores"]:
        del data["stores"][sid]
    path.write_text(json.dumps(data), "utf-8")
    ws = Workspace.sign_in(profile, username="berta", password=own("berta"))
    try:
        assert any("fehlt in der Schlüsseldatei" in m for m in ws.sign_in_result.integrity_messages)
    finally:
        ws.close()


def _forge_index(conn: sqlcipher3.Connection, index: str, entries: list[tuple]) -> None:
    """Keep the index's definition, point its pages at a b-tree holding ``entries`` (its
    columns, then the rowid), as attacker run 14 did (``writable_schema``)."""
    columns = ", ".join(f"c{i}" for i in range(len(entries[0])))
    conn.execute(f"CREATE TABLE zz_forge ({columns}, PRIMARY KEY ({columns})) WITHOUT ROWID")
    conn.executemany(f"INSERT INTO zz_forge VALUES ({', '.join('?' for _ in entries[0])})", entries)
    (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'zz_forge'").fetchone()
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute("BEGIN")
    conn.execute("UPDATE sqlite_master SET rootpage = ? WHERE name = ?", (root, index))
    conn.execute("DELETE FROM sqlite_master WHERE name = 'zz_forge'")
    (version,) = conn.execute("PRAGMA schema_version").fetchone()
    conn.execute("COMMIT")
    conn.execute(f"PRAGMA schema_version = {version + 1}")
    conn.execute("PRAGMA writable_schema = OFF")


def test_an_index_whose_entries_were_changed_hands_back_no_other_user(
    site: tuple[Profile, str],
) -> None:
    """Attacker run 14: the index on user names keeps its definition, but its pages are
    pointed at entries anna wrote (``writable_schema``), so that the name "berta" finds
    anna's row. The sign-in makes the index again from the rows, and a name lookup
    checks the row it gets."""
    profile, _ = site
    conn = profile_db(profile, "anna")
    try:
        rows = conn.execute("SELECT username_key, id FROM users").fetchall()
        anna = next(uid for key, uid in rows if key == "anna")
        forged = [(key, anna if key == "berta" else uid) for key, uid in rows]
        _forge_index(conn, "ix_users_username_key", forged)
        (found,) = conn.execute("SELECT id FROM users WHERE username_key = 'berta'").fetchone()
        assert found == anna  # the forged index answers for berta with anna's row
    finally:
        conn.close()
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    try:
        assert any("index of users" in m for m in ws.sign_in_result.integrity_messages)
        with ws.scope.profile_db.read() as session:
            row = users.get_by_name(session, username="berta")
            assert row is not None and row.username_key == "berta"
    finally:
        ws.close()


def test_an_index_named_like_sqlites_own_is_checked_too(site: tuple[Profile, str]) -> None:
    """Attacker run 14: "sqliteX…" passed a LIKE 'sqlite_%' filter ("_" matches any
    character); a unique index of that name on the audit log's actor stopped every
    colleague's second step. It is removed and reported like any index the program
    does not make."""
    profile, _ = site
    conn = profile_db(profile, "anna")
    try:
        conn.execute("CREATE INDEX sqliteXonce ON audit_log (actor, action)")
    finally:
        conn.close()
    ws = Workspace.sign_in(profile, username="berta", password=own("berta"))
    try:
        assert any("index sqliteXonce" in m for m in ws.sign_in_result.integrity_messages)
    finally:
        ws.close()


def test_a_forged_audit_subject_index_hides_nothing_from_an_access_export(
    site: tuple[Profile, str],
) -> None:
    """Attacker run 15: the audit log's subject index, not compared with its rows at
    sign-in (too large), is forged to leave out a colleague's record; the Art. 15 export
    reads the log itself and lists every entry about the record."""
    profile, _ = site
    conn = profile_db(profile, "anna")
    try:
        (record,) = conn.execute(
            "SELECT subject_id FROM audit_log WHERE actor = 'berta' AND subject_type = 'record' "
            "LIMIT 1"
        ).fetchone()
        (held,) = conn.execute(
            "SELECT count(*) FROM audit_log WHERE +subject_id = ?", (record,)
        ).fetchone()
        entries = [
            (kind, subject, seq)
            for seq, kind, subject in conn.execute(
                "SELECT seq, subject_type, subject_id FROM audit_log"
            )
            if subject != record
        ]
        _forge_index(conn, "ix_audit_log_subject", entries)
        (seen,) = conn.execute(
            "SELECT count(*) FROM audit_log WHERE subject_type = 'record' AND subject_id = ?",
            (record,),
        ).fetchone()
        assert held > 0 and seen == 0  # the forged index hides them from an indexed look-up
    finally:
        conn.close()
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    try:
        export = ws.lifecycle.person_export(record)
        assert len(export["audit"]) >= held
    finally:
        ws.close()


def test_a_table_in_her_store_named_as_the_profiles_is_removed_and_reported(
    site: tuple[Profile, str],
) -> None:
    """Attacker run 31: a table ``audit_log`` in her own store took the place of the
    profile's shared log for every session on that store (SQLite looks in the main
    database first). Her sign-in removes it before anything is read or written, says so,
    and what she does is written into the shared log."""
    profile, _ = site
    ws = Workspace.sign_in(profile, username="berta", password=own("berta"))
    store = ws.scope.home
    ws.close()
    conn = sqlcipher3.connect(str(store.path))
    try:
        conn.execute(f"PRAGMA key = \"x'{store.current_key().hex()}'\"")
        conn.execute("CREATE TABLE audit_log (seq INTEGER PRIMARY KEY, note TEXT)")
        conn.execute("CREATE VIEW users AS SELECT 1 AS id")
        conn.commit()
    finally:
        conn.close()
    ws = Workspace.sign_in(profile, username="berta", password=own("berta"))
    try:
        assert any("Aktenspeicher" in m for m in ws.sign_in_result.integrity_messages)
        (finding,) = _findings(ws)
        assert finding["kind"] == "planted_code"
        assert sorted(finding["objects"]) == ["table audit_log", "view users"]
        record_id = ws.new_intake()
        with ws.db.read() as session:  # her store's session: the shared log again
            mine = audit.entries_for_subject(session, subject_type="record", subject_id=record_id)
        assert [e.action for e in mine][:1] == ["record_created"]
    finally:
        ws.close()
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    try:
        with ws.db.read() as session:
            shared = audit.entries_for_subject(session, subject_type="record", subject_id=record_id)
        assert "record_created" in [e.action for e in shared]
    finally:
        ws.close()
