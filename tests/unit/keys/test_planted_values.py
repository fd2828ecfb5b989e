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
import sqlcipher3

from intake_app.app import Workspace
from intake_app.storage import audit
from intake_app.storage.profile import Profile
from intake_app.storage.records import RecordQuery
from tests.helpers.attacker import keys_for
from tests.helpers.key_site import own, write_record


def _profile_db(profile: Profile, user: str) -> sqlcipher3.Connection:
    """The attacker's own connection to the profile database, with her own key."""
    key = keys_for(profile.root / "vault.json", user, own(user))[0]
    conn = sqlcipher3.connect(str(profile.root / "intake.db"))
    conn.isolation_level = None
    conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    return conn


def _plant(profile: Profile, *statements: str) -> None:
    conn = _profile_db(profile, "anna")
    try:
        for statement in statements:
            conn.execute(statement)
    finally:
        conn.close()


def _stored(profile: Profile, query: str) -> list[tuple]:
    conn = _profile_db(profile, "anna")
    try:
        return conn.execute(query).fetchall()
    finally:
        conn.close()


def _cli(
    profile: Profile, tmp_path: Path, capsys: pytest.CaptureFixture[str], user: str, *args: str
) -> tuple[int, str]:
    from intake_app.cli import main

    pw = tmp_path / f"pw-{user}"
    pw.write_text(own(user), "utf-8")
    code = main(
        ["--data-dir", str(profile.root), "--user", user, "--password-file", str(pw), *args]
    )
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _reported(ws: Workspace) -> list[str]:
    with ws.scope.profile_db.read() as session:
        return [
            name
            for entry in audit.iter_entries(session)
            if entry.action == "integrity_violation"
            for finding in entry.details.get("findings", [])
            if finding.get("kind") == "planted_code"
            for name in finding.get("objects", [])
        ]


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
    code, out = _cli(profile, tmp_path, capsys, "admin", "audit", "verify")
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
