"""Values put into the profile database that the program never writes (schema_guard.py,
``retype_values``).

Tried as attacker run 31 did: a counsellor holds the profile database's key and writes, with
her own SQLCipher connection, a text where the program keeps a number (the audit anchor's
sequence number), bytes or text that is not UTF-8 where it keeps a name, a date that is
none, a flag that is neither 0 nor 1. SQLite keeps each whatever the column's type says.
Before, the first stopped every sign-in of every user with a raw ``TypeError``. Now each
sign-in replaces such values, says so (safe mode, ``integrity_violation``) and goes on;
a replaced value in a signed row is reported as that row's change as well.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from intake_app.app import Workspace
from intake_app.storage.profile import Profile
from intake_app.storage.records import RecordQuery
from intake_app.storage.schema_guard import OWN_TRIGGERS
from tests.helpers.attacker import findings, profile_db
from tests.helpers.key_site import own, run_cli, write_record


def _plant(profile: Profile, *statements: str) -> None:
    conn = profile_db(profile, "anna")
    try:
        for statement in statements:
            conn.execute(statement)
    finally:
        conn.close()


def _stored(profile: Profile, query: str) -> list[tuple]:
    conn = profile_db(profile, "anna")
    try:
        return conn.execute(query).fetchall()
    finally:
        conn.close()


def _reported(ws: Workspace) -> list[str]:
    return [name for finding in findings(ws, "planted_code") for name in finding["objects"]]


def test_a_text_anchor_number_stops_no_sign_in(
    site: tuple[Profile, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile, _ = site
    _plant(profile, "UPDATE trust_state SET anchor_seq = 'viele'")
    ws = Workspace.sign_in(profile, username="berta", password=own("berta"))
    try:
        assert any("Werte" in m for m in ws.sign_in_result.integrity_messages)
        assert "value trust_state.anchor_seq (row 1, text)" in _reported(ws)
        assert ws.records.list(RecordQuery()), "her work goes on"
    finally:
        ws.close()
    ((kind, seq),) = _stored(profile, "SELECT typeof(anchor_seq), anchor_seq FROM trust_state")
    assert kind == "integer"
    assert seq > 0, "the anchor moves on with her audited sign-in"
    write_record(profile, "berta", "Kanarienberta-danach")
    ws = Workspace.sign_in(profile, username="berta", password=own("berta"))
    try:
        assert not ws.sign_in_result.integrity_messages, "reported once, then gone"
    finally:
        ws.close()
    # the anchor names the newest entry again, signed, and the log checks
    code, out = run_cli(profile, tmp_path, capsys, "admin", "audit", "verify")
    assert code == 0 and "intakt" in out, out


@pytest.mark.parametrize(
    ("statement", "name"),
    [
        # bytes where a name is kept: every reader of the user list would get bytes
        (
            "UPDATE users SET display_name = x'ff00fe' WHERE username = 'anna'",
            "users.display_name",
        ),
        # text that is not UTF-8: the driver stops at reading it
        (
            "UPDATE users SET display_name = CAST(x'ff00fe' AS TEXT) WHERE username = 'anna'",
            "users.display_name",
        ),
        # a date that is none
        ("UPDATE users SET created_at = 'gestern' WHERE username = 'anna'", "users.created_at"),
        # a number where a date is kept
        ("UPDATE settings SET updated_at = 17", "settings.updated_at"),
    ],
)
def test_a_value_the_program_cannot_read_stops_no_colleague(
    site: tuple[Profile, str], statement: str, name: str
) -> None:
    profile, _ = site
    _plant(profile, statement)
    ws = Workspace.sign_in(profile, username="berta", password=own("berta"))
    try:
        assert any("Werte" in m for m in ws.sign_in_result.integrity_messages)
        assert any(found.startswith(f"value {name} ") for found in _reported(ws))
        assert ws.records.list(RecordQuery())
    finally:
        ws.close()
    write_record(profile, "berta", "Kanarienberta-danach")


def test_a_flag_set_to_a_text_grants_nothing(site: tuple[Profile, str]) -> None:
    """``active = 'ja'`` read by SQLAlchemy as true would have let a deactivated user's
    row say she is active; it is replaced by the column's default, and the signed row no
    longer matches, which is reported as a change of her row."""
    profile, _ = site
    _plant(profile, "UPDATE users SET must_change_password = 'ja' WHERE username = 'anna'")
    ws = Workspace.sign_in(profile, username="berta", password=own("berta"))
    try:
        assert any(found.startswith("value users.must_change_password ") for found in _reported(ws))
    finally:
        ws.close()
    ((kind, value),) = _stored(
        profile,
        "SELECT typeof(must_change_password), must_change_password FROM users "
        "WHERE username = 'anna'",
    )
    assert (kind, value) in (("integer", 0), ("integer", 1))


@pytest.mark.parametrize(
    "moment", ["2026-01-02 03:04:05", "2026-01-02T03:04:05+00:00", "2026-01-02 03:04:05.5"]
)
def test_a_moment_python_reads_is_left_as_it_is(site: tuple[Profile, str], moment: str) -> None:
    """Not the program's own form, but one the reader takes (an older version's, or SQL's
    ``CURRENT_TIMESTAMP``): no false alarm, nothing changed."""
    profile, _ = site
    _plant(profile, f"UPDATE users SET last_login_at = '{moment}' WHERE username = 'anna'")
    ws = Workspace.sign_in(profile, username="berta", password=own("berta"))
    try:
        assert not ws.sign_in_result.integrity_messages
        assert not _reported(ws)
    finally:
        ws.close()
    assert _stored(profile, "SELECT last_login_at FROM users WHERE username = 'anna'") == [
        (moment,)
    ]


def test_the_february_thirtieth_is_no_moment(site: tuple[Profile, str]) -> None:
    """SQLite's own date functions would carry it over into March; the reader refuses it."""
    profile, _ = site
    _plant(profile, "UPDATE users SET created_at = '2026-02-30 10:00:00.000000'")
    ws = Workspace.sign_in(profile, username="berta", password=own("berta"))
    try:
        assert any(found.startswith("value users.created_at ") for found in _reported(ws))
    finally:
        ws.close()


# -- attacker run 32 ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statements", "reported"),
    [
        # the replacement of a bytes key would make it the twin of a key put beside it
        (
            (
                "INSERT INTO settings VALUES (x'41', '1', '2026-01-01 00:00:00.000000')",
                "INSERT INTO settings VALUES ('bytes:41', '1', '2026-01-01 00:00:00.000000')",
            ),
            "value settings.key ",
        ),
        # a number with a fraction where a user's id is kept: its replacement (0) names
        # no user, which the foreign key would refuse
        (
            (
                "UPDATE user_keys SET user_id = 2.5 "
                "WHERE user_id = (SELECT id FROM users WHERE username = 'anna')",
            ),
            "value user_keys.user_id ",
        ),
        # a moment the parser takes, but not its move to UTC (year 9999 with an offset)
        (
            (
                "UPDATE users SET last_login_at = '9999-12-31 23:59:59-05:00' "
                "WHERE username = 'anna'",
            ),
            "value users.last_login_at ",
        ),
        (
            ("UPDATE users SET updated_at = '0001-01-01 00:00:00+05:00' WHERE username = 'anna'",),
            "value users.updated_at ",
        ),
    ],
)
def test_a_replacement_stops_no_sign_in_either(
    site: tuple[Profile, str], statements: tuple[str, ...], reported: str
) -> None:
    profile, _ = site
    _plant(profile, *statements)
    ws = Workspace.sign_in(profile, username="berta", password=own("berta"))
    try:
        assert any(found.startswith(reported) for found in _reported(ws)), _reported(ws)
        assert ws.records.list(RecordQuery())
    finally:
        ws.close()
    write_record(profile, "berta", "Kanarienberta-danach")


def test_a_number_in_a_bytes_column_stops_no_sign_in(site: tuple[Profile, str]) -> None:
    """Attacker run 33: an integer where the program keeps bytes (an installed form's
    content) stopped the value check itself."""
    profile, _ = site
    _plant(
        profile,
        "INSERT INTO installed_forms VALUES ('intake', '2026.9', 'f.yaml', 5, 'x', "
        "'2026-12-07T00:00:00Z', '2026-12-07 00:00:00.000000')",
    )
    ws = Workspace.sign_in(profile, username="berta", password=own("berta"))
    try:
        assert "value installed_forms.content (row 1, integer)" in _reported(ws)
        assert ws.current_form().version == "2026.3"
    finally:
        ws.close()


def test_the_profiles_copies_of_store_tables_are_checked_for_the_administrator(
    site: tuple[Profile, str],
) -> None:
    """Attacker run 33: the administrator has no store, and her sync status reads the
    profile's own ``sync_batches`` and ``outbox``; a date that is none there stopped her
    main window."""
    profile, _ = site
    _plant(
        profile,
        "INSERT INTO sync_batches (batch_id, transport, state, data, sha384, records, "
        "instructions, created_at, attempts) VALUES ('b1', 'folder', 'built', x'00', 'x', 0, "
        "0, 'notadate', 0)",
    )
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    try:
        assert any(f.startswith("value sync_batches.created_at ") for f in _reported(ws))
        assert ws.sync_status() is not None
    finally:
        ws.close()


def test_a_settings_marker_that_is_no_json_stops_no_sign_in(site: tuple[Profile, str]) -> None:
    profile, _ = site
    _plant(profile, "UPDATE settings SET value = '{'")  # every value, the marker among them
    ws = Workspace.sign_in(profile, username="berta", password=own("berta"))
    try:
        assert ws.records.list(RecordQuery())
        assert ws.settings.get("records.expiry_warning_days") > 0  # the default again
    finally:
        ws.close()


def test_erasure_details_that_are_no_object_stop_no_colleague(
    site: tuple[Profile, str],
) -> None:
    """Attacker run 32 (t18): one of berta's record ids in ``erasures`` and a
    ``record_erased`` entry for it whose details are a list, a number or no JSON. The
    sign-in read the details before the signature, and stopped berta's and her
    supervisor's sign-in. Such an entry backs nothing: the row is reported."""
    profile, _ = site
    ws = Workspace.sign_in(profile, username="berta", password=own("berta"))
    record_id = ws.records.list(RecordQuery())[0].id
    ws.close()
    for details in ("'[1]'", "5", "'{'"):
        _plant(
            profile,
            f"INSERT OR REPLACE INTO erasures (record_id, requested_at, requested_by, reason, "
            f"central) VALUES ('{record_id}', '2026-01-01 00:00:00.000000', 2, 'request', 0)",
            "INSERT INTO audit_log (seq, ts, actor, action, subject_type, subject_id, details, "
            "prev_hash, hash, signer, signature) SELECT max(seq) + 1, '2026-01-01T00:00:00Z', "
            f"'anna', 'record_erased', 'record', '{record_id}', {details}, '', '', 'x', 'x' "
            "FROM audit_log",
        )
        for user in ("berta", "leitung"):
            ws = Workspace.sign_in(profile, username=user, password=own(user))
            try:
                assert any(r.id == record_id for r in ws.records.list(RecordQuery())), user
            finally:
                ws.close()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET details = CAST(x'ff7b7d' AS TEXT) "
        "WHERE seq = (SELECT max(seq) FROM audit_log)",
        "UPDATE audit_log SET hash = x'00ff' WHERE seq = (SELECT max(seq) FROM audit_log)",
        "UPDATE audit_log SET actor = CAST(x'ff' AS TEXT) WHERE seq = 5",
    ],
)
def test_log_text_that_is_not_utf8_stops_nothing_and_is_reported(
    site: tuple[Profile, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    statement: str,
) -> None:
    """Attacker run 32 (t10): bytes that are not UTF-8 in an entry stopped every sign-in
    (the newest entry) or every sync and ``audit verify`` (an old one), so a cut made with
    them reached nobody. Now the log is read as it is, and the changed entry is reported."""
    profile, _ = site
    # the log's guards go first (the sign-in puts them back)
    _plant(profile, *(f'DROP TRIGGER "{name}"' for name in OWN_TRIGGERS), statement)
    write_record(profile, "berta", "Kanarienberta-danach")  # her sign-in and work go on
    ws = Workspace.sign_in(profile, username="berta", password=own("berta"))
    try:
        from intake_app.storage import audit as storage_audit

        with ws.scope.profile_db.read() as session:
            chain = storage_audit.content_chain(session, [5])
        assert chain is not None and 5 in chain[2]
    finally:
        ws.close()
    code, out = run_cli(profile, tmp_path, capsys, "admin", "audit", "verify")
    assert code != 0 and "intakt" not in out, out


@pytest.mark.parametrize(
    "statements",
    [
        ("UPDATE alembic_version SET version_num = '0004_lifecycle'",),
        ("INSERT INTO alembic_version VALUES ('0006_case_events')",),
        ("UPDATE alembic_version SET version_num = CAST(version_num AS BLOB)",),
        ("DELETE FROM alembic_version",),  # attacker run 33
        ("DROP TABLE alembic_version",),
    ],
)
def test_a_version_row_set_back_is_named_and_changes_nothing(
    site: tuple[Profile, str], statements: tuple[str, ...]
) -> None:
    """Attacker run 32: a schema version row set back, doubled or made bytes made every
    sign-in run a migration that failed (a raw ``duplicate column``) or stop in Alembic.
    Now the sign-in says what happened and what to do, and the file stays as it was."""
    from intake_app.errors import ProfileError

    profile, _ = site
    (version,) = _stored(profile, "SELECT version_num FROM alembic_version")
    _plant(profile, *statements)
    before = _stored(profile, "SELECT type, name, sql FROM sqlite_master ORDER BY name")
    with pytest.raises(ProfileError, match="Versionsangabe") as caught:
        Workspace.sign_in(profile, username="berta", password=own("berta"))
    assert caught.value.kind == "version_changed"
    assert _stored(profile, "SELECT type, name, sql FROM sqlite_master ORDER BY name") == before
    # the administrator's remedy (here: the row put back by hand) opens it again
    _plant(
        profile,
        "CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) NOT NULL, "
        "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))",
        "DELETE FROM alembic_version",
        f"INSERT INTO alembic_version VALUES ('{version[0]}')",
    )
    write_record(profile, "berta", "Kanarienberta-danach")


def test_many_planted_values_make_no_message_taller_than_the_screen(
    site: tuple[Profile, str],
) -> None:
    """The message names the first few and counts the rest; the audit entry names all."""
    profile, _ = site
    _plant(
        profile,
        "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 300) "
        "INSERT INTO settings (key, value, updated_at) "
        "SELECT 'zz' || i, '1', 'nie' FROM c",
    )
    ws = Workspace.sign_in(profile, username="berta", password=own("berta"))
    try:
        (message,) = [m for m in ws.sign_in_result.integrity_messages if "Werte" in m]
        assert "und 295 weitere" in message and len(message) < 1000
        assert len([f for f in _reported(ws) if f.startswith("value settings.updated_at")]) == 300
    finally:
        ws.close()
