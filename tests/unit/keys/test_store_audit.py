"""Audit entries written through record-store connections: signed by the acting user,
checked by ``audit verify``, a removed newest entry reported.

The attacker's part works on the files alone (the administrator's password opens the
profile database, tests/helpers/attacker.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlcipher3

from intake_app.app import Workspace
from intake_app.storage.profile import Profile
from intake_app.storage.records import RecordQuery
from tests.helpers.attacker import keys_for
from tests.helpers.key_site import own, run_cli, write_record


def _profile_sql(profile: Profile, statement: str, params: tuple = ()) -> list[tuple]:
    """Raw SQL on the profile database with the key the administrator's password opens."""
    (key,) = keys_for(profile.vault_path, "admin", own("admin"))[:1]
    conn = sqlcipher3.connect(str(profile.db_path))
    try:
        conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
        # the guard is taken out for the statement and put back as it was (the sign-in
        # notices a missing guard)
        guards = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE name = 'audit_log_no_delete'"
        ).fetchall()
        for name, _sql in guards:
            conn.execute(f"DROP TRIGGER {name}")
        rows = conn.execute(statement, params).fetchall()
        for _name, sql in guards:
            conn.execute(sql)
        conn.commit()
        return rows
    finally:
        conn.close()


def test_store_entries_are_signed_by_the_acting_user_and_verify(
    site: tuple[Profile, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile, _ = site
    write_record(profile, "anna", "Kanarienanna-zwei")
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    try:
        assert len(ws.scope.stores) >= 3  # her own and both counsellors'
        for summary in ws.records.list(RecordQuery()):
            ws.records.open(summary.id)  # audited reads through other stores' connections
    finally:
        ws.close()
    rows = _profile_sql(
        profile,
        "SELECT a.seq, a.actor, a.action, a.signer, u.username FROM audit_log a "
        "LEFT JOIN user_keys k ON k.kid = a.signer LEFT JOIN users u ON u.id = k.user_id "
        "ORDER BY a.seq",
    )
    record_entries = [r for r in rows if r[2].startswith("record_")]
    assert {r[1] for r in record_entries} >= {"anna", "berta", "leitung"}
    for seq, actor, action, signer, signer_name in record_entries:
        assert signer, f"entry {seq} ({action} by {actor}) is not signed"
        assert signer_name == actor, f"entry {seq} by {actor} is signed by {signer_name}"
    code, out = run_cli(profile, tmp_path, capsys, "leitung", "audit", "verify")
    assert code == 0 and "intakt" in out, out

    # the newest entry removed with the files and one password: the command's own sign-in
    # writes the next entry at that number, so the anchor finds another entry there
    (head,) = _profile_sql(profile, "SELECT max(seq) FROM audit_log")[0]
    _profile_sql(profile, "DELETE FROM audit_log WHERE seq = ?", (head,))
    code, out = run_cli(profile, tmp_path, capsys, "admin", "audit", "verify")
    assert code != 0, out
    assert f"Nr. {head}" in out and "Anker (lokal)" in out, out
    # the anchor stayed on the removed entry's number: the sign-ins since (each writes
    # entries) did not move it past the cut, so the next check still reports it
    code, out = run_cli(profile, tmp_path, capsys, "leitung", "audit", "verify")
    assert code != 0 and f"Nr. {head}" in out and "Anker (lokal)" in out, out
    # more entries removed: the log ends below the anchor even after the sign-in's entries
    (head2,) = _profile_sql(profile, "SELECT max(seq) FROM audit_log")[0]
    _profile_sql(profile, "DELETE FROM audit_log WHERE seq >= ?", (head - 3,))
    code, out = run_cli(profile, tmp_path, capsys, "leitung", "audit", "verify")
    assert head2 > head and code != 0 and "gelöscht" in out, out
