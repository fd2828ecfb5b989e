"""Attacks on roles and the audit log by someone who holds the profile files and one password.

The attacker works as docs/security.md ("Device: integrity of roles and the audit log")
assumes: she copies nothing, she edits the profile folder directly with Python, SQLCipher
and the library's crypto, using the database key her own password unwraps. No permission
check of the program stands in her way; only the signatures do.
"""

from __future__ import annotations

import json

import pytest
import sqlcipher3

from intake_app.app import Workspace
from intake_app.core.audit import canonical_bytes, chain_hash
from intake_app.core.permissions import Permission, Role
from intake_app.errors import AuthError
from intake_app.storage import user_keys
from tests.conftest import (
    ADMIN,
    COUNSELLOR,
    COUNSELLOR_PASSWORD,
    SUPERVISOR,
    ProfileFixture,
)


class Files:
    """The attacker's direct access: the database key from her own password, raw SQL."""

    def __init__(self, profile: ProfileFixture, password: str = COUNSELLOR_PASSWORD) -> None:
        self.profile = profile.profile
        self.key = self.profile.vault().unlock(COUNSELLOR, password)

    def sql(self, statement: str, params: tuple = ()) -> list[tuple]:
        conn = sqlcipher3.connect(str(self.profile.db_path))
        try:
            conn.execute(f"PRAGMA key = \"x'{self.key.hex()}'\"")
            # the audit log's guards are taken out for the statement and put back as they
            # were, as a careful attacker would (the sign-in notices a missing guard)
            guards = conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name = 'audit_log'"
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


def _audit_actions(ws: Workspace) -> list[tuple[str, str, dict]]:
    with ws.db.read() as session:
        from intake_app.storage import audit

        return [(e.actor, e.action, e.details) for e in audit.iter_entries(session)]


def test_a_role_edited_in_the_database_grants_nothing_and_is_reported(
    profile: ProfileFixture,
) -> None:
    files = Files(profile)
    files.sql("UPDATE users SET role = 'supervisor' WHERE username = ?", (COUNSELLOR,))

    ws = profile.sign_in(COUNSELLOR)
    try:
        assert ws.actor.role is Role.COUNSELLOR  # the signed role, not the edited one
        assert not ws.actor.can(Permission.VIEW_SITE_RECORDS)
        assert ws.sign_in_result.safe_mode
        message = " ".join(ws.sign_in_result.integrity_messages)
        assert COUNSELLOR in message and "Leitung" in message and "Beratung" in message
    finally:
        ws.close()

    admin = profile.sign_in(ADMIN)
    try:
        assert admin.sign_in_result.safe_mode
        assert COUNSELLOR in " ".join(admin.sign_in_result.integrity_messages)
        reports = [d for _a, action, d in _audit_actions(admin) if action == "integrity_violation"]
        assert len(reports) == 2  # one per sign-in
        assert reports[0]["findings"][0]["kind"] == "user_changed"
        assert reports[0]["findings"][0]["signed"] == "Beratung"
        # nothing was lost or rewritten: the row is still there as the attacker left it
        assert files.sql("SELECT role FROM users WHERE username = ?", (COUNSELLOR,)) == [
            ("supervisor",)
        ]
    finally:
        admin.close()


def test_a_user_made_administrator_outside_the_program_is_refused(
    profile: ProfileFixture,
) -> None:
    """She adds an administrator of her own (row and vault wrap) and signs in as it."""
    files = Files(profile)
    vault = profile.profile.vault()
    vault.set_password("mallory", "Mallory-Passwort-2026", db_key=files.key)
    files.sql(
        "INSERT INTO users (username, username_key, display_name, role, active, "
        "must_change_password, created_at, updated_at) VALUES "
        "('mallory', 'mallory', '', 'admin', 1, 0, '2026-01-01', '2026-01-01')"
    )
    with pytest.raises(AuthError, match="mallory"):
        Workspace.sign_in(profile.profile, username="mallory", password="Mallory-Passwort-2026")

    admin = profile.sign_in(ADMIN)
    try:
        assert any("mallory" in m for m in admin.sign_in_result.integrity_messages)
        actions = _audit_actions(admin)
        assert ("mallory", "integrity_violation") in [(a, b) for a, b, _d in actions]
    finally:
        admin.close()


def test_her_own_signature_does_not_make_her_supervisor(profile: ProfileFixture) -> None:
    """She signs the edited row with her own key: only an administrator's key counts."""
    files = Files(profile)
    ws = profile.sign_in(COUNSELLOR)
    keys = ws.signing_keys
    ws.close()
    assert keys is not None
    row = files.sql(
        "SELECT id, username, username_key, display_name, active, key_id FROM users "
        "WHERE username = ?",
        (COUNSELLOR,),
    )[0]
    payload = user_keys.canonical(
        {
            "id": row[0],
            "username": row[1],
            "username_key": row[2],
            "display_name": row[3],
            "role": "supervisor",
            "active": bool(row[4]),
            "key_id": row[5],
        }
    )
    signature = user_keys.sign(keys.signing_key, user_keys.USER_ROW_DOMAIN, payload)
    files.sql(
        "UPDATE users SET role = 'supervisor', signed_by = ?, signature = ? WHERE id = ?",
        (keys.kid, signature, row[0]),
    )
    with pytest.raises(AuthError, match="Anmeldung wurde abgelehnt"):
        profile.sign_in(COUNSELLOR)
    ws = profile.sign_in(SUPERVISOR)
    try:
        assert any(COUNSELLOR in m for m in ws.sign_in_result.integrity_messages)
    finally:
        ws.close()


def test_removing_the_newest_audit_entries_is_reported_by_verify(
    profile: ProfileFixture,
) -> None:
    ws = profile.sign_in(ADMIN)
    ws.close()
    files = Files(profile)
    (head,) = files.sql("SELECT max(seq) FROM audit_log")[0]
    files.sql("DELETE FROM audit_log WHERE seq > ?", (head - 3,))

    ws = profile.sign_in(ADMIN)
    try:
        report = ws.verify_audit()
        assert not report.ok
        cuts = [p for p in report.problems if p.kind == "cut"]
        assert cuts and cuts[0].anchor == "local" and cuts[0].anchor_seq == head
        assert "gelöscht" in cuts[0].message()
    finally:
        ws.close()


def test_a_consistently_rewritten_entry_fails_its_signature(profile: ProfileFixture) -> None:
    """She changes an entry and recomputes every hash after it: the chain checks, the
    signatures of the other users' entries do not."""
    files = Files(profile)
    rows = files.sql(
        "SELECT seq, ts, actor, action, subject_type, subject_id, details, prev_hash "
        "FROM audit_log ORDER BY seq"
    )
    prev = None
    for seq, ts, actor, action, subject_type, subject_id, details, prev_hash in rows:
        body = json.loads(details)
        if seq == 3:
            actor = "mallory"
        digest = chain_hash(
            prev if prev is not None else prev_hash,
            canonical_bytes(
                seq=seq,
                ts=ts,
                actor=actor,
                action=action,
                subject_type=subject_type,
                subject_id=subject_id,
                details=body,
            ),
        )
        files.sql(
            "UPDATE audit_log SET actor = ?, prev_hash = ?, hash = ? WHERE seq = ?",
            (actor, prev if prev is not None else prev_hash, digest, seq),
        )
        prev = digest
    # the local anchor would give her away too; she mends it with a copy of the head
    head = files.sql("SELECT seq, hash, signer, signature FROM audit_log ORDER BY seq DESC")[0]
    files.sql(
        "UPDATE trust_state SET anchor_seq = ?, anchor_hash = ?, anchor_signer = ?, "
        "anchor_signature = ?",
        head,
    )
    ws = profile.sign_in(ADMIN)
    try:
        report = ws.verify_audit()
        assert report.broken_seq is None  # the chain itself checks
        assert not report.ok
        assert {p.seq for p in report.problems if p.kind == "signature"} >= {3}
    finally:
        ws.close()


def test_every_entry_is_signed_by_the_acting_user(profile: ProfileFixture) -> None:
    ws = profile.sign_in(COUNSELLOR)
    ws.close()
    files = Files(profile)
    rows = files.sql(
        "SELECT a.seq, a.actor, a.signer, u.username FROM audit_log a "
        "LEFT JOIN user_keys k ON k.kid = a.signer LEFT JOIN users u ON u.id = k.user_id"
    )
    assert rows and all(signer for _s, _a, signer, _u in rows)
    own = [r for r in rows if r[1] == COUNSELLOR]
    assert own and all(r[3] == COUNSELLOR for r in own)
    ws = profile.sign_in(ADMIN)
    try:
        assert ws.verify_audit().ok
        assert not ws.sign_in_result.safe_mode
    finally:
        ws.close()


def test_an_older_profile_is_signed_at_the_first_administrator_sign_in(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A profile of schema 0004: a counsellor may work before the administrator signs in;
    the administrator's sign-in signs every user as found (and says so in the audit log);
    from then on an edited role is caught."""
    import shutil
    from pathlib import Path

    from intake_app.storage.profile import Profile

    source = Path(__file__).parents[2] / "fixtures" / "schemas" / "0004_lifecycle"
    expected = json.loads((source / "expected.json").read_text("utf-8"))
    shutil.copytree(source, tmp_path / "p")
    profile = Profile(tmp_path / "p")
    password = expected["password"]

    # the move to record stores waits for an administrator (docs/security.md)
    with pytest.raises(AuthError):
        Workspace.sign_in(profile, username="berater", password=password)
    admin = Workspace.sign_in(profile, username="admin", password=password)
    try:
        assert not admin.sign_in_result.safe_mode
        signed = [d for _a, action, d in _audit_actions(admin) if action == "integrity_signed"]
        assert {u["role"] for u in signed[0]["users"]} == {"admin", "counsellor", "supervisor"}
        assert admin.verify_audit().ok
        with admin.db.read() as session:
            from sqlalchemy import text

            pending: int = session.execute(
                text("SELECT count(*) FROM user_keys WHERE certified_by IS NULL")
            ).scalar_one()
        assert pending == 0  # every key made so far is certified
    finally:
        admin.close()
    ws = Workspace.sign_in(profile, username="berater", password=password)
    try:
        assert not ws.sign_in_result.safe_mode
        assert ws.signing_keys is not None and ws.signing_keys.root_kid
    finally:
        ws.close()

    key = profile.vault().unlock("berater", password)
    conn = sqlcipher3.connect(str(profile.db_path))
    try:
        conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
        conn.execute("UPDATE users SET role = 'supervisor' WHERE username = 'berater'")
        conn.commit()
    finally:
        conn.close()
    ws = Workspace.sign_in(profile, username="berater", password=password)
    try:
        assert ws.actor.role is Role.COUNSELLOR and ws.sign_in_result.safe_mode
    finally:
        ws.close()


def test_the_recovery_key_gives_the_administrator_a_new_key_under_the_same_root(
    profile: ProfileFixture,
) -> None:
    ws = profile.sign_in(ADMIN)
    old_kid = ws.signing_keys.kid if ws.signing_keys else None
    root = ws.integrity.root_kid
    ws.close()
    ws = Workspace.recover(
        profile.profile,
        recovery_key=profile.recovery_key,
        username=ADMIN,
        new_password="Neues-Admin-Passwort-2026",
    )
    ws.close()
    ws = Workspace.sign_in(profile.profile, username=ADMIN, password="Neues-Admin-Passwort-2026")
    try:
        assert not ws.sign_in_result.safe_mode
        assert ws.signing_keys is not None and ws.signing_keys.kid != old_kid
        assert ws.integrity.root_kid == root and ws.signing_keys.root_key is not None
        assert ws.verify_audit().ok
    finally:
        ws.close()
    ws = profile.sign_in(COUNSELLOR)  # the others notice nothing: same root
    try:
        assert not ws.sign_in_result.safe_mode
    finally:
        ws.close()
