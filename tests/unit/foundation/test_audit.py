"""The audit log: hash chain, append-only, tamper detection, what gets recorded."""

from __future__ import annotations

import dataclasses
import itertools
import json

import pytest
from sqlalchemy import text

from intake_app.core.audit import GENESIS_HASH, AuditEntry, chain_hash, verify_chain
from intake_app.errors import AuthError, KnownError
from intake_app.storage import audit
from tests.conftest import ADMIN, COUNSELLOR, ProfileFixture


def _entries(ws) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    with ws.db.read() as session:
        return list(audit.iter_entries(session))


def _disable_triggers(ws) -> None:  # type: ignore[no-untyped-def]
    with ws.db.write() as session:
        session.execute(text("DROP TRIGGER audit_log_no_update"))
        session.execute(text("DROP TRIGGER audit_log_no_delete"))


def test_chain_links_every_entry(profile: ProfileFixture) -> None:
    ws = profile.sign_in()
    try:
        entries = _entries(ws)
        assert entries[0].prev_hash == GENESIS_HASH
        for before, after in itertools.pairwise(entries):
            assert after.prev_hash == before.hash
            assert after.seq == before.seq + 1
            assert chain_hash(after.prev_hash, after.canonical()) == after.hash
        assert ws.verify_audit().ok
    finally:
        ws.close()


def test_database_refuses_update_and_delete(profile: ProfileFixture) -> None:
    """The audit log's guard triggers stop a change; the program's connections refuse
    any statement that would run a trigger at all (storage/schema_guard.py), so the
    change is refused before the guard's code runs."""
    ws = profile.sign_in()
    try:
        with pytest.raises(KnownError, match="Programmcode"), ws.db.write() as session:
            session.execute(text("UPDATE audit_log SET actor = 'x' WHERE seq = 1"))
        with pytest.raises(KnownError, match="Programmcode"), ws.db.write() as session:
            session.execute(text("DELETE FROM audit_log WHERE seq = 2"))
        with ws.db.read() as session:
            assert session.execute(text("SELECT actor FROM audit_log WHERE seq = 1")).scalar()
            assert session.execute(text("SELECT count(*) FROM audit_log WHERE seq = 2")).scalar()
    finally:
        ws.close()


@pytest.mark.parametrize(
    ("sql", "broken", "reason"),
    [
        ("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3", 3, "hash"),
        ('UPDATE audit_log SET details = \'{"role": "admin"}\' WHERE seq = 4', 4, "hash"),
        ("UPDATE audit_log SET ts = '2020-01-01T00:00:00Z' WHERE seq = 2", 2, "hash"),
        ("DELETE FROM audit_log WHERE seq = 3", 4, "gap"),
        (
            # another first byte, whatever the hash was (one hash in 256 starts "ab")
            "UPDATE audit_log SET hash = CASE WHEN hash LIKE 'ab%' THEN 'cd' ELSE 'ab' END"
            " || substr(hash, 3) WHERE seq = 2",
            2,
            "hash",
        ),
    ],
)
def test_tampering_names_the_first_broken_entry(
    profile: ProfileFixture, sql: str, broken: int, reason: str
) -> None:
    ws = profile.sign_in()
    try:
        assert ws.verify_audit().ok
        _disable_triggers(ws)
        with ws.db.write() as session:
            session.execute(text(sql))
        report = ws.verify_audit()
        assert not report.ok
        assert report.broken_seq == broken
        assert report.reason == reason
    finally:
        ws.close()


def test_recomputed_hash_still_breaks_the_next_link(profile: ProfileFixture) -> None:
    """An attacker who recomputes the changed entry's hash breaks its successor instead."""
    ws = profile.sign_in()
    try:
        entries = _entries(ws)
        target = entries[2]
        forged = dataclasses.replace(target, actor="mallory")
        forged = dataclasses.replace(forged, hash=chain_hash(forged.prev_hash, forged.canonical()))
        _disable_triggers(ws)
        with ws.db.write() as session:
            session.execute(
                text("UPDATE audit_log SET actor = :a, hash = :h WHERE seq = :s"),
                {"a": forged.actor, "h": forged.hash, "s": forged.seq},
            )
        report = ws.verify_audit()
        assert report.broken_seq == target.seq + 1
        assert report.reason == "prev_hash"
    finally:
        ws.close()


def test_verify_chain_on_empty_and_single() -> None:
    assert verify_chain([]).ok
    body = AuditEntry(1, "2026-01-01T00:00:00Z", "a", "login", "", "", {}, GENESIS_HASH, "")
    good = dataclasses.replace(body, hash=chain_hash(GENESIS_HASH, body.canonical()))
    assert verify_chain([good]).ok
    assert not verify_chain([body]).ok


def test_logins_failures_and_user_changes_are_recorded(profile: ProfileFixture) -> None:
    with pytest.raises(AuthError):
        profile.sign_in(COUNSELLOR, "ganz-falsches-pw")
    ws = profile.sign_in()
    try:
        ws.accounts.add_user(username="neu1", role="counsellor", password="Neu-Passwort-1")
        ws.accounts.reset_password(username="neu1", password="Neu-Passwort-2")
        ws.accounts.deactivate(username="neu1")
        ws.lock()
        ws.unlock("Admin-Passwort-2026")
        entries = _entries(ws)
    finally:
        ws.close()
    actions = [(e.actor, e.action) for e in entries]
    assert (COUNSELLOR, "login_failed") in actions
    assert (ADMIN, "login") in actions
    for action in ("user_created", "password_reset", "user_deactivated", "lock", "unlock"):
        assert (ADMIN, action) in actions, action
    # no secret or password ever lands in the log
    dump = json.dumps([e.details for e in entries])
    assert "Passwort" not in dump and "Neu-Passwort" not in dump
