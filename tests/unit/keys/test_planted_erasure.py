"""An erasure planted in the profile database (attacker run 15, finding a3).

Tried as the attacker did: a counsellor holds the profile database's key (her own
password opens it), reads a colleague's record ids from the audit log and lists them in
``erasures`` with her own SQLCipher connection. The colleague's next sign-in must not
delete them: only an erasure the signed audit log backs, by someone entitled to it, is
carried out again (docs/security.md, "An older copy of a store file"). The planted one is
reported and audited, and nothing is deleted.
"""

from __future__ import annotations

import shutil

import pytest
import sqlcipher3

from intake_app.app import Workspace
from intake_app.core.audit import AuditAction, canonical_bytes, chain_hash
from intake_app.storage import audit, store_marks, user_keys
from intake_app.storage.profile import Profile
from intake_app.storage.records import RecordQuery
from tests.helpers.attacker import (
    admin_made_supervisor,
    keys_for,
    speak_as,
    what_she_reads,
)
from tests.helpers.key_site import own, write_record


def _profile_db(profile: Profile, user: str) -> sqlcipher3.Connection:
    """The attacker's own connection to the profile database, with her own key."""
    key = keys_for(profile.root / "vault.json", user, own(user))[0]
    conn = sqlcipher3.connect(str(profile.root / "intake.db"))
    conn.isolation_level = None
    conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    return conn


def _plant_erasures(profile: Profile, of: str) -> list[str]:
    """anna lists every record id of ``of`` that the audit log names as erased."""
    conn = _profile_db(profile, "anna")
    try:
        ids = [
            rid
            for (rid,) in conn.execute(
                "SELECT DISTINCT subject_id FROM audit_log "
                "WHERE subject_type = 'record' AND actor = ?",
                (of,),
            )
        ]
        for rid in ids:
            conn.execute(
                "INSERT INTO erasures (record_id, requested_at, requested_by, reason, central) "
                "VALUES (?, '2026-01-01 00:00:00', 1, 'request', 0)",
                (rid,),
            )
    finally:
        conn.close()
    assert ids
    return ids


def _sign_erasure(ws: Workspace, record_id: str) -> None:
    """A ``record_erased`` entry for the record, as the program writes one, signed in
    ``ws``'s session."""
    ws.audit(
        AuditAction.RECORD_ERASED,
        subject_type="record",
        subject_id=record_id,
        details={"reason": "request", "central": False},
    )


def _findings(ws: Workspace, kind: str) -> list[str]:
    with ws.scope.profile_db.read() as session:
        return [
            entry.subject_id
            for entry in audit.iter_entries(session)
            if entry.action == "integrity_violation"
            for finding in entry.details.get("findings", [])
            if finding.get("kind") == kind
        ]


def _berta_signs_in_and_keeps(profile: Profile, record_id: str) -> None:
    ws = Workspace.sign_in(profile, username="berta", password=own("berta"))
    try:
        messages = ws.sign_in_result.integrity_messages
        assert any("außerhalb des Programms eine Löschung" in m for m in messages), messages
        assert not any("ältere Kopie" in m for m in messages), messages
        assert record_id in [s.id for s in ws.records.list(RecordQuery())]
        assert record_id in _findings(ws, "erasure_unconfirmed")
        assert _findings(ws, "erased_record_back") == []
    finally:
        ws.close()
    assert "Kanarienberta" in what_she_reads(profile.root, "berta", own("berta"))[0]


def test_an_erasure_a_colleague_lists_in_the_profile_deletes_nothing(
    site: tuple[Profile, str],
) -> None:
    profile, _ = site
    record_id = write_record(profile, "berta", "Kanarienberta-2")
    assert record_id in _plant_erasures(profile, "berta")
    _berta_signs_in_and_keeps(profile, record_id)
    # and again at the next sign-in: the planted row stays for the administration to see
    _berta_signs_in_and_keeps(profile, record_id)


@pytest.mark.parametrize("signer", ["anna", "admin"])
def test_a_signed_erasure_entry_of_someone_not_entitled_erases_nothing(
    site: tuple[Profile, str], signer: str
) -> None:
    """anna also writes a ``record_erased`` entry for berta's record, signed with her own
    (certified) key, as the program writes one: she may not erase a colleague's record.
    Attacker run 16 did the same as the administrator, whose role may ask for an erasure
    but holds no client data: her signature backs none either."""
    profile, _ = site
    record_id = write_record(profile, "berta", "Kanarienberta-2")
    _plant_erasures(profile, "berta")
    ws = Workspace.sign_in(profile, username=signer, password=own(signer))
    try:
        _sign_erasure(ws, record_id)
    finally:
        ws.close()
    _berta_signs_in_and_keeps(profile, record_id)


def test_her_signed_erasure_entry_relabelled_as_the_supervisors_does_not_count(
    site: tuple[Profile, str],
) -> None:
    """anna signs the erasure entry herself and then names the supervisor's key as its
    signer: her signature does not check with that key."""
    profile, _ = site
    record_id = write_record(profile, "berta", "Kanarienberta-2")
    Workspace.sign_in(profile, username="leitung", password=own("leitung")).close()
    _plant_erasures(profile, "berta")
    ws = Workspace.sign_in(profile, username="anna", password=own("anna"))
    try:
        ws.audit(AuditAction.RECORD_ERASED, subject_type="record", subject_id=record_id)
    finally:
        ws.close()
    conn = _profile_db(profile, "anna")
    try:
        (kid,) = conn.execute("SELECT key_id FROM users WHERE username = 'leitung'").fetchone()
        (trigger,) = conn.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'audit_log_no_update'"
        ).fetchone()
        conn.execute("DROP TRIGGER audit_log_no_update")  # put back as it was below
        conn.execute(
            "UPDATE audit_log SET signer = ? WHERE action = 'record_erased' AND subject_id = ?",
            (kid, record_id),
        )
        conn.execute(trigger)
    finally:
        conn.close()
    _berta_signs_in_and_keeps(profile, record_id)


def test_an_erasure_signed_with_a_key_she_added_for_the_supervisor_does_not_count(
    site: tuple[Profile, str],
) -> None:
    """anna adds a key row for the supervisor (whoever holds the profile key can) and
    appends an erasure entry signed with it: the key is not certified from the root."""
    profile, _ = site
    record_id = write_record(profile, "berta", "Kanarienberta-2")
    _plant_erasures(profile, "berta")
    key = user_keys.generate_key()
    kid = user_keys.key_id(key)
    conn = _profile_db(profile, "anna")
    try:
        (leitung,) = conn.execute("SELECT id FROM users WHERE username = 'leitung'").fetchone()
        conn.execute(
            "INSERT INTO user_keys (kid, user_id, public_key, created_at) "
            "VALUES (?, ?, ?, '2026-01-01T00:00:00Z')",
            (kid, leitung, user_keys.public_text(key)),
        )
        last, prev = conn.execute(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        seq, ts = last + 1, audit.format_ts()
        digest = chain_hash(
            prev,
            canonical_bytes(
                seq=seq,
                ts=ts,
                actor="leitung",
                action="record_erased",
                subject_type="record",
                subject_id=record_id,
                details={},
            ),
        )
        signature = user_keys.sign(
            key, user_keys.AUDIT_DOMAIN, user_keys.audit_message(seq, digest)
        )
        conn.execute(
            "INSERT INTO audit_log (seq, ts, actor, action, subject_type, subject_id, "
            "details, prev_hash, hash, signer, signature) "
            "VALUES (?, ?, 'leitung', 'record_erased', 'record', ?, '{}', ?, ?, ?, ?)",
            (seq, ts, record_id, prev, digest, kid, signature),
        )
    finally:
        conn.close()
    _berta_signs_in_and_keeps(profile, record_id)


def test_a_supervisors_signed_entry_rewritten_into_an_erasure_does_not_count(
    site: tuple[Profile, str],
) -> None:
    """anna turns an entry the supervisor signed into an erasure of berta's record: the
    signature covers the entry's hash, and the content no longer matches it."""
    profile, _ = site
    record_id = write_record(profile, "berta", "Kanarienberta-2")
    Workspace.sign_in(profile, username="leitung", password=own("leitung")).close()
    _plant_erasures(profile, "berta")
    conn = _profile_db(profile, "anna")
    try:
        (seq,) = conn.execute(
            "SELECT max(seq) FROM audit_log WHERE actor = 'leitung' AND signature IS NOT NULL"
        ).fetchone()
        (trigger,) = conn.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'audit_log_no_update'"
        ).fetchone()
        conn.execute("DROP TRIGGER audit_log_no_update")  # put back as it was below
        conn.execute(
            "UPDATE audit_log SET action = 'record_erased', subject_type = 'record', "
            "subject_id = ?, details = '{}' WHERE seq = ?",
            (record_id, seq),
        )
        conn.execute(trigger)
    finally:
        conn.close()
    _berta_signs_in_and_keeps(profile, record_id)


def test_a_genuine_erasure_brought_back_is_erased_again_and_a_planted_one_is_not(
    site: tuple[Profile, str],
) -> None:
    """The supervisor erases one of berta's records; an older copy of berta's store is
    put back, and anna lists the other one as erased. Only the genuine one goes."""
    profile, _ = site
    Workspace.sign_in(profile, username="leitung", password=own("leitung")).close()
    erased = write_record(profile, "berta", "Kanarienberta-weg")
    kept = write_record(profile, "berta", "Kanarienberta-bleibt")
    ws = Workspace.sign_in(profile, username="berta", password=own("berta"))
    store = ws.scope.stores[ws.scope.own or ""].path
    ws.close()  # the WAL is folded in: the file alone is the store
    old_copy = profile.root.parent / "old-copy.bin"  # kept outside the profile
    shutil.copy2(store, old_copy)
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    ws.lifecycle.erase(erased, reason="request")
    ws.close()
    for suffix in ("-wal", "-shm"):
        store.with_name(store.name + suffix).unlink(missing_ok=True)
    shutil.move(old_copy, store)  # the older copy put back
    conn = _profile_db(profile, "anna")
    try:
        conn.execute(
            "INSERT INTO erasures (record_id, requested_at, requested_by, reason, central) "
            "VALUES (?, '2026-01-01 00:00:00', 1, 'request', 0)",
            (kept,),
        )
    finally:
        conn.close()

    ws = Workspace.sign_in(profile, username="berta", password=own("berta"))
    try:
        messages = ws.sign_in_result.integrity_messages
        assert any("ältere Kopie" in m for m in messages), messages
        assert any("außerhalb des Programms eine Löschung" in m for m in messages), messages
        ids = [s.id for s in ws.records.list(RecordQuery())]
        assert erased not in ids
        assert kept in ids
        assert _findings(ws, "erased_record_back") == [erased]
        assert _findings(ws, "erasure_unconfirmed") == [kept]
    finally:
        ws.close()
    text_ = what_she_reads(profile.root, "berta", own("berta"))[0]
    assert "Kanarienberta-weg" not in text_
    assert "Kanarienberta-bleibt" in text_


def test_a_key_the_administrator_certified_for_the_supervisor_backs_no_erasure(
    site: tuple[Profile, str],
) -> None:
    """Attacker run 18: every administrator holds the profile root, which certifies any
    key for anyone. She certified a fresh key for the supervisor and signed the erasure
    entry with it. Only the key the supervisor's signed row names counts."""
    profile, _ = site
    record_id = write_record(profile, "berta", "Kanarienberta-2")
    _plant_erasures(profile, "berta")
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    try:
        speak_as(ws, "leitung", named=False)
        _sign_erasure(ws, record_id)
    finally:
        ws.close()
    _berta_signs_in_and_keeps(profile, record_id)


def test_a_supervisors_row_the_administrator_signed_anew_backs_no_erasure(
    site: tuple[Profile, str],
) -> None:
    """Attacker run 19: the administrator signs user rows. She made the supervisor's row
    name a key she minted with the profile root and signed the erasure entry with it; the
    row says so until berta's next sign-in. The entry carries no mark of berta's store
    (the administrator holds no store key), so it erases nothing."""
    profile, _ = site
    record_id = write_record(profile, "berta", "Kanarienberta-2")
    _plant_erasures(profile, "berta")
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    try:
        speak_as(ws, "leitung")
        _sign_erasure(ws, record_id)
    finally:
        ws.close()
    _berta_signs_in_and_keeps(profile, record_id)


def test_an_erasure_marked_with_another_store_erases_nothing(
    site: tuple[Profile, str],
) -> None:
    """Attacker run 20: the administrator made a supervisor's account, signed in as it,
    read the identity of its own store (which every holder of the site key opens) and
    marked the erasure entry with it. Only the mark of the store the record is in counts,
    at berta's sign-in and at the supervisor's, who opens both stores."""
    profile, _ = site
    record_id = write_record(profile, "berta", "Kanarienberta-2")
    _plant_erasures(profile, "berta")
    admin_made_supervisor(profile)
    ws = Workspace.sign_in(profile, username="geist", password=own("geist"))
    try:
        with ws.scope.home.read() as session:
            identity = store_marks.identity_in(session)
        assert identity is not None
        ws.audit(
            AuditAction.RECORD_ERASED,
            subject_type="record",
            subject_id=record_id,
            details={
                "reason": "request",
                "central": False,
                "mark": store_marks.mark(identity, "erasure", record_id),
            },
        )
    finally:
        ws.close()
    Workspace.sign_in(profile, username="leitung", password=own("leitung")).close()
    _berta_signs_in_and_keeps(profile, record_id)
