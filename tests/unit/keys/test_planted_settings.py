"""A profile setting counts only as an administrator signed it (storage/settings_repo.py).

Tried as attacker run 33 did: a counsellor holds the profile database's key (every password
opens it) and writes the settings rows outside the program: a retention period of 30 days
instead of the administrator's, the special categories preselected on every printout. The
program honoured both for everyone and said nothing. Now the values count only as the seal
an administrator signed has them; anything else is not honoured and is reported.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from intake_app.app import Workspace
from intake_app.core.audit import AuditAction
from intake_app.storage import audit, settings_repo, user_keys
from intake_app.storage.profile import Profile
from intake_app.storage.settings_repo import Status
from tests.helpers.attacker import findings, profile_db
from tests.helpers.key_site import own, second_admin

RETENTION = "retention.days_after_close"
SPECIAL = "print.include_special_categories"
FIXTURES = Path(__file__).parents[2] / "fixtures" / "schemas"


def _admin_sets(profile: Profile, key: str, value: object) -> None:
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    try:
        ws.settings.put(key, value)
    finally:
        ws.close()


def _run(profile: Profile, *statements: tuple[str, tuple[object, ...]]) -> None:
    conn = profile_db(profile, "anna")
    try:
        for sql, params in statements:
            conn.execute(sql, params)
    finally:
        conn.close()


def _row(profile: Profile, key: str) -> str | None:
    conn = profile_db(profile, "anna")
    try:
        found = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    finally:
        conn.close()
    return None if found is None else str(found[0])


def _sign_in(profile: Profile, user: str) -> Workspace:
    return Workspace.sign_in(profile, username=user, password=own(user))


def _found(profile: Profile, user: str) -> tuple[Status, object, bool]:
    """What ``user``'s sign-in finds: the settings' status, the retention period in
    force, and whether it opened in safe mode."""
    ws = _sign_in(profile, user)
    try:
        found = ws.settings.in_force
        return found.status, ws.settings.get(RETENTION), ws.sign_in_result.safe_mode
    finally:
        ws.close()


def test_a_changed_row_is_not_honoured_reported_and_put_back(site: tuple[Profile, str]) -> None:
    profile, _ = site
    _admin_sets(profile, RETENTION, 3650)
    _run(
        profile,
        ("UPDATE settings SET value = '30' WHERE key = ?", (RETENTION,)),
        (
            "INSERT OR REPLACE INTO settings (key, value, updated_at) VALUES (?, 'true', ?)",
            (SPECIAL, "2026-12-08 00:00:00.000000"),
        ),
    )
    ws = _sign_in(profile, "berta")
    try:
        assert ws.settings.get(RETENTION) == 3650
        assert ws.settings.get(SPECIAL) is False
        assert ws.sign_in_result.safe_mode
        assert any("Aufbewahrung" in m for m in ws.sign_in_result.integrity_messages)
        assert findings(ws, "settings_changed") == [
            {"kind": "settings_changed", "status": "signed", "changed": [SPECIAL, RETENTION]}
        ]
    finally:
        ws.close()
    # the administrator's sign-in reports it as well and puts the rows back as signed
    ws = _sign_in(profile, "admin")
    try:
        assert ws.sign_in_result.safe_mode
        assert ws.settings.get(RETENTION) == 3650
    finally:
        ws.close()
    assert _row(profile, RETENTION) == "3650"
    assert _row(profile, SPECIAL) is None
    assert _found(profile, "berta") == (Status.SIGNED, 3650, False)


def _seal(profile: Profile) -> dict[str, Any]:
    text = _row(profile, settings_repo.SEAL_KEY)
    assert text is not None
    found: dict[str, Any] = json.loads(text)
    return found


def test_a_seal_signed_with_her_own_key_is_refused(site: tuple[Profile, str]) -> None:
    """She writes a seal of her own, naming the root's id but signed with a key she made:
    the defaults count, not her values, until an administrator saves."""
    profile, _ = site
    _admin_sets(profile, RETENTION, 3650)
    seal = _seal(profile)
    body = {k: seal[k] for k in ("format", "profile", "version", "values", "signed_at", "how")}
    body["values"] = {RETENTION: 30, SPECIAL: True}
    mine = ec.generate_private_key(ec.SECP384R1())
    forged = {**body, "kid": seal["kid"]}
    forged["signature"] = user_keys.sign(mine, settings_repo.DOMAIN, user_keys.canonical(body))
    _run(
        profile,
        (
            "UPDATE settings SET value = ? WHERE key = ?",
            (json.dumps(forged), settings_repo.SEAL_KEY),
        ),
        ("UPDATE settings SET value = '30' WHERE key = ?", (RETENTION,)),
    )
    ws = _sign_in(profile, "anna")
    try:
        assert ws.settings.in_force.status is Status.CHANGED
        assert ws.settings.get(RETENTION) == 730  # the declared default, not hers
        assert ws.settings.get(SPECIAL) is False
        assert findings(ws, "settings_changed")[0]["status"] == "changed"
    finally:
        ws.close()
    # the administrator checks what is shown and saves: signed again, reported no more
    ws = _sign_in(profile, "admin")
    try:
        assert ws.settings.unconfirmed
        ws.settings.confirm()
        assert not ws.settings.unconfirmed
    finally:
        ws.close()
    assert _found(profile, "anna") == (Status.SIGNED, 730, False)


def test_a_removed_seal_leaves_the_defaults_and_is_reported(site: tuple[Profile, str]) -> None:
    profile, _ = site
    _admin_sets(profile, RETENTION, 3650)
    _run(
        profile,
        ("DELETE FROM settings WHERE key = ?", (settings_repo.SEAL_KEY,)),
        ("UPDATE settings SET value = '30' WHERE key = ?", (RETENTION,)),
    )
    ws = _sign_in(profile, "leitung")
    try:
        assert ws.settings.in_force.status is Status.REMOVED
        assert ws.settings.get(RETENTION) == 730
        assert ws.sign_in_result.safe_mode
    finally:
        ws.close()


def test_an_older_seal_put_back_is_reported(site: tuple[Profile, str]) -> None:
    """She keeps the seal of an earlier save and puts it back after the administrator
    changed the settings again, and writes an entry of her own naming the old seal: the
    log's newest entry an administrator signed names the newer one."""
    profile, _ = site
    _admin_sets(profile, RETENTION, 3650)
    older = _row(profile, settings_repo.SEAL_KEY)
    ws = _sign_in(profile, "anna")
    try:
        older_digest = ws.settings.in_force.digest
    finally:
        ws.close()
    _admin_sets(profile, RETENTION, 1000)
    _run(
        profile,
        ("UPDATE settings SET value = ? WHERE key = ?", (older, settings_repo.SEAL_KEY)),
        ("UPDATE settings SET value = '3650' WHERE key = ?", (RETENTION,)),
    )
    ws = _sign_in(profile, "anna")
    try:
        with ws.db.write() as session:
            audit.append(
                session,
                actor="admin",
                action=AuditAction.SETTINGS_CHANGED,
                subject_type="setting",
                subject_id=RETENTION,
                details={"settings": older_digest},
            )
    finally:
        ws.close()
    ws = _sign_in(profile, "berta")
    try:
        assert ws.settings.in_force.status is Status.OLDER
        assert ws.settings.get(RETENTION) == 730
        assert findings(ws, "settings_changed")[-1]["status"] == "older"
    finally:
        ws.close()


def test_the_seal_outlives_its_administrators_deactivation(site: tuple[Profile, str]) -> None:
    """The seal is the root's: a second administrator deactivates the first, and the
    settings she saved still count, reported as nothing."""
    profile, _ = site
    _admin_sets(profile, RETENTION, 3650)
    second_admin(profile)
    ws = _sign_in(profile, "zweite")
    try:
        ws.accounts.deactivate(username="admin")
    finally:
        ws.close()
    assert _found(profile, "berta") == (Status.SIGNED, 3650, False)


def test_settings_from_before_the_update_count_until_an_administrator_signs_them(
    tmp_path: Path,
) -> None:
    source = FIXTURES / "0007_search_prefixes"
    expected = json.loads((source / "expected.json").read_text("utf-8"))
    shutil.copytree(source, tmp_path / "p")
    profile = Profile(tmp_path / "p")
    password = expected["password"]
    ws = Workspace.sign_in(profile, username="berater", password=password)
    try:
        assert ws.settings.in_force.status is Status.UNSIGNED
        for key, value in expected["settings"].items():
            assert ws.settings.get(key) == value
        assert not ws.sign_in_result.safe_mode
    finally:
        ws.close()
    ws = Workspace.sign_in(profile, username="admin", password=password)
    try:
        assert ws.settings.in_force.status is Status.SIGNED
        assert any("vor dem Update" in n for n in ws.sign_in_result.notices)
    finally:
        ws.close()
    ws = Workspace.sign_in(profile, username="berater", password=password)
    try:
        assert ws.settings.in_force.status is Status.SIGNED
        for key, value in expected["settings"].items():
            assert ws.settings.get(key) == value
        assert not ws.sign_in_result.safe_mode
    finally:
        ws.close()


def _blind_index(profile: Profile, index: str, seqs: list[int], column: str, fake: str) -> None:
    """Make ``index`` name ``fake`` for the entries ``seqs`` while the table (and so the
    hash chain) keeps what they say: the index is made partial for a moment, so it is
    not kept while the rows are set back (attacker run 34)."""
    conn = profile_db(profile, "anna")
    try:
        triggers = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'"
        ).fetchall()
        for name, _sql in triggers:
            conn.execute(f'DROP TRIGGER "{name}"')
        kept = {}
        for seq in seqs:
            kept[seq] = conn.execute(
                f"SELECT {column} FROM audit_log WHERE seq = ?", (seq,)
            ).fetchone()[0]
            conn.execute(f"UPDATE audit_log SET {column} = ? WHERE seq = ?", (fake, seq))
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (index,)).fetchone()[0]
        conn.execute("PRAGMA writable_schema = ON")
        conn.execute("UPDATE sqlite_master SET sql = ? WHERE name = ?", (sql + " WHERE 0", index))
    finally:
        conn.close()
    conn = profile_db(profile, "anna")
    try:
        for seq, value in kept.items():
            conn.execute(f"UPDATE audit_log SET {column} = ? WHERE seq = ?", (value, seq))
        conn.execute("PRAGMA writable_schema = ON")
        conn.execute("UPDATE sqlite_master SET sql = ? WHERE name = ?", (sql, index))
    finally:
        conn.close()
    conn = profile_db(profile, "anna")
    try:
        for _name, trigger in triggers:
            conn.execute(trigger)
    finally:
        conn.close()


def _seqs(profile: Profile, where: str) -> list[int]:
    conn = profile_db(profile, "anna")
    try:
        return [row[0] for row in conn.execute(f"SELECT seq FROM audit_log WHERE {where}")]
    finally:
        conn.close()


def _older_seal_back(profile: Profile) -> list[int]:
    """The administrator saves twice; anna puts the first seal back. The seqs of the
    second save's entries."""
    _admin_sets(profile, RETENTION, 3650)
    older = _row(profile, settings_repo.SEAL_KEY)
    last = max(_seqs(profile, "1"))
    _admin_sets(profile, RETENTION, 1000)
    newer = _seqs(profile, f"seq > {last} AND action = 'settings_changed'")
    _run(
        profile,
        ("UPDATE settings SET value = ? WHERE key = ?", (older, settings_repo.SEAL_KEY)),
        ("UPDATE settings SET value = '3650' WHERE key = ?", (RETENTION,)),
    )
    return newer


def test_an_older_seal_behind_many_entries_of_her_own_is_reported(
    site: tuple[Profile, str],
) -> None:
    """Attacker run 34 (T1): the check read the newest 50 settings entries, whoever had
    signed them; 50 of her own hid the administrator's."""
    profile, _ = site
    _older_seal_back(profile)
    ws = _sign_in(profile, "anna")
    try:
        with ws.db.write() as session:
            for _ in range(60):
                audit.append(
                    session,
                    actor="anna",
                    action=AuditAction.SETTINGS_CHANGED,
                    subject_type="setting",
                    subject_id=RETENTION,
                    details={},
                )
    finally:
        ws.close()
    assert _found(profile, "berta")[:2] == (Status.OLDER, 730)


def test_an_older_seal_behind_a_blind_index_is_reported(site: tuple[Profile, str]) -> None:
    """Attacker run 34 (T3): the administrator's newer entries taken out of the subject
    index only; the log reads as it was, and so does ``audit verify``."""
    profile, _ = site
    newer = _older_seal_back(profile)
    _blind_index(profile, "ix_audit_log_subject", newer, "subject_type", "x")
    assert _found(profile, "leitung")[:2] == (Status.OLDER, 730)


def test_a_removed_seal_behind_a_blind_index_is_reported(site: tuple[Profile, str]) -> None:
    """Attacker run 34 (T2): with the seal gone, the closing entry taken out of the action
    index made the profile look as before the update: her rows counted, and the next
    administrator sign-in signed them."""
    profile, _ = site
    closing = _seqs(profile, "action = 'integrity_signed' AND subject_id = 'settings'")
    assert closing
    _run(
        profile,
        ("DELETE FROM settings WHERE key = ?", (settings_repo.SEAL_KEY,)),
        (
            "INSERT OR REPLACE INTO settings VALUES (?, '30', '2026-12-08 00:00:00.000000')",
            (RETENTION,),
        ),
    )
    _blind_index(profile, "ix_audit_log_action", closing, "action", "x")
    for user in ("berta", "admin"):
        ws = _sign_in(profile, user)
        try:
            assert ws.settings.in_force.status is Status.REMOVED, user
            assert ws.settings.get(RETENTION) == 730
            assert ws.sign_in_result.safe_mode
        finally:
            ws.close()


def test_odd_values_stop_no_sign_in(site: tuple[Profile, str]) -> None:
    """Attacker run 34 (T4): a number too large for any integer, and a settings version
    below zero, stopped every sign-in with a raw error."""
    profile, _ = site
    _admin_sets(profile, RETENTION, 3650)
    _run(
        profile,
        ("UPDATE settings SET value = '1e999' WHERE key = ?", (RETENTION,)),
        ("UPDATE settings SET value = '-1' WHERE key = '__settings_version__'", ()),
    )
    ws = _sign_in(profile, "berta")
    try:
        assert ws.settings.get(RETENTION) == 3650
        assert findings(ws, "settings_changed")[-1]["changed"] == [RETENTION]
    finally:
        ws.close()


def _admin_kid(profile: Profile) -> str:
    conn = profile_db(profile, "anna")
    try:
        return str(conn.execute("SELECT key_id FROM users WHERE username = 'admin'").fetchone()[0])
    finally:
        conn.close()


def test_an_administrators_entry_that_does_not_check_is_never_passed_over(
    site: tuple[Profile, str],
) -> None:
    """Attacker run 35 (T6): with the signature of the administrator's newer entries
    spoilt for a while, the check passed over them to the older seal's own entry, and
    each sign-in noted that seal as checked; put back, the entries were never read
    again and the older seal stayed in force for good."""
    profile, _ = site
    newer = _older_seal_back(profile)
    marks = ", ".join(str(seq) for seq in newer)
    conn = profile_db(profile, "anna")
    try:
        kept = conn.execute(
            f"SELECT seq, signature FROM audit_log WHERE seq IN ({marks})"
        ).fetchall()
        triggers = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'"
        ).fetchall()
        for name, _sql in triggers:
            conn.execute(f'DROP TRIGGER "{name}"')
        conn.execute(f"UPDATE audit_log SET signature = 'AAAA' WHERE seq IN ({marks})")
    finally:
        conn.close()
    for user in ("berta", "admin"):
        ws = _sign_in(profile, user)
        try:
            assert ws.settings.in_force.status is Status.OLDER, user
        finally:
            ws.close()
    conn = profile_db(profile, "anna")
    try:  # the sign-ins put the triggers back
        for name, _sql in triggers:
            conn.execute(f'DROP TRIGGER "{name}"')
        for seq, signature in kept:
            conn.execute("UPDATE audit_log SET signature = ? WHERE seq = ?", (signature, seq))
        for _name, sql in triggers:
            conn.execute(sql)
    finally:
        conn.close()
    assert _found(profile, "berta")[:2] == (Status.OLDER, 730)


def test_one_planted_log_row_stops_no_sign_in(site: tuple[Profile, str]) -> None:
    """Attacker run 35 (T7): a row in the administrator's name whose ``prev_hash`` is
    bytes, or a row at SQLite's largest sequence number, stopped every sign-in, the
    recovery key's too, with a raw error."""
    profile, _ = site
    _admin_sets(profile, RETENTION, 3650)
    kid = _admin_kid(profile)
    _run(
        profile,
        (
            "INSERT INTO audit_log (seq, ts, actor, action, subject_type, subject_id, details, "
            "prev_hash, hash, signer, signature) SELECT max(seq) + 1, '2026-12-08T00:00:00Z', "
            "'admin', 'settings_changed', 'setting', 'x', '{\"settings\": \"x\"}', x'00', ?, "
            "?, 'AAAA' FROM audit_log",
            ("0" * 64, kid),
        ),
        (
            "INSERT INTO audit_log (seq, ts, actor, action, subject_type, subject_id, details, "
            "prev_hash, hash) VALUES (9223372036854775807, '2026-12-08T00:00:00Z', 'anna', "
            "'login', 'user', '2', '{}', ?, ?)",
            ("0" * 64, "1" * 64),
        ),
    )
    for user in ("berta", "leitung", "admin"):
        ws = _sign_in(profile, user)
        try:
            assert ws.settings.in_force.status is Status.OLDER, user
            if user == "admin":
                assert not ws.verify_audit().ok
        finally:
            ws.close()
