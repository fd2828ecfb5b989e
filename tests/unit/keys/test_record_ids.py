"""A record id in two stores is refused, never resolved to one of them (site_records.py).

Tried as attacker run 16 did: record ids are unique within a store, not across stores.
A counsellor gives a draft in her own store her colleague's record id and case number
(she reads the id from the audit log, and she holds her store's key). A supervisor who
opened "the" record would have reached hers, and a move of it to the colleague replaced
the colleague's real record with the forgery. Now neither happens: the id is refused and
reported, and a move never copies over a record the target already holds.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlcipher3
from sqlmodel import select

from intake_app.app import Workspace
from intake_app.core.audit import AuditAction
from intake_app.errors import ConflictError
from intake_app.storage import audit, handovers, integrity, store_marks, user_keys, users
from intake_app.storage.models import AuditLogEntry, RecordRevision
from intake_app.storage.profile import Profile
from intake_app.storage.records import RecordQuery
from intake_app.storage.site_records import SiteRecords
from intake_app.storage.vault import Vault
from tests.helpers.attacker import mint_key
from tests.helpers.key_site import granted_second_supervisor, own, write_record


def _her_store(profile: Profile, anna: int) -> sqlcipher3.Connection:
    """anna's own connection to her store, opened with her password alone."""
    vault = Vault(profile.root / "vault.json")
    keys = vault.unlock_user("anna", own("anna"))
    (sid,) = [s for s, info in vault.stores().items() if info.owner_id == anna]
    key = vault.open_store_key(keys, sid)
    assert key is not None
    conn = sqlcipher3.connect(str(profile.root / "stores" / f"{sid}.db"))
    conn.isolation_level = None
    conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    return conn


def _give_her_draft_the_id(profile: Profile, record_id: str) -> None:
    """The attack: anna's own draft, renamed in her store to berta's id and case number."""
    ws = Workspace.sign_in(profile, username="berta", password=own("berta"))
    case = ws.records.get(record_id).case_number
    ws.close()
    ws = Workspace.sign_in(profile, username="anna", password=own("anna"))
    draft = ws.new_intake()
    answers = dict(ws.records.get(draft).answers)
    answers["family_name"] = "Gefaelscht"
    ws.records.save(draft, answers=answers)
    anna = ws.actor.user_id
    ws.close()
    conn = _her_store(profile, anna)
    try:
        conn.execute("BEGIN")
        for table in ("record_revisions", "consent_withdrawals", "outbox", "case_events"):
            conn.execute(
                f"UPDATE {table} SET record_id = ? WHERE record_id = ?", (record_id, draft)
            )
        conn.execute(
            "UPDATE records SET id = ?, case_number = ? WHERE id = ?", (record_id, case, draft)
        )
        conn.execute("COMMIT")
    finally:
        conn.close()


def test_an_id_in_two_stores_is_neither_opened_nor_moved(site: tuple[Profile, str]) -> None:
    profile, _ = site
    record_id = write_record(profile, "berta", "Kanarienberta-echt")
    _give_her_draft_the_id(profile, record_id)
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    try:
        with pytest.raises(ConflictError, match="zwei Aktenspeichern"):
            ws.records.get(record_id)
        with pytest.raises(ConflictError):
            ws.move_case_to(record_id, "berta")
        with ws.db.read() as session:
            kinds = [
                finding.get("kind")
                for entry in audit.iter_entries(session)
                if entry.action == "integrity_violation"
                for finding in entry.details.get("findings", [])
            ]
        assert "record_in_two_stores" in kinds
    finally:
        ws.close()
    ws = Workspace.sign_in(profile, username="berta", password=own("berta"))
    try:
        assert ws.records.get(record_id).answers["family_name"] == "Kanarienberta-echt"
    finally:
        ws.close()


def test_an_id_made_twice_while_the_supervisor_works_is_refused_too(
    site: tuple[Profile, str],
) -> None:
    """Attacker run 17: the supervisor had opened the record (its id then was in one
    store); anna gave a draft of hers the same id meanwhile, and a reload of the list
    pointed the id at her store."""
    profile, _ = site
    record_id = write_record(profile, "berta", "Kanarienberta-echt")
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    try:
        assert ws.records.get(record_id).answers["family_name"] == "Kanarienberta-echt"
        _give_her_draft_the_id(profile, record_id)
        ws.records.list(RecordQuery(), limit=100)
        with pytest.raises(ConflictError, match="zwei Aktenspeichern"):
            ws.records.get(record_id)
    finally:
        ws.close()


def test_a_case_number_two_records_hold_is_refused(site: tuple[Profile, str]) -> None:
    """Attacker run 17: anna gave a draft of hers (with its own id) berta's case number,
    so that an erasure by case number deleted her decoy."""
    profile, _ = site
    record_id = write_record(profile, "berta", "Kanarienberta-echt")
    ws = Workspace.sign_in(profile, username="berta", password=own("berta"))
    case = ws.records.get(record_id).case_number
    ws.close()
    ws = Workspace.sign_in(profile, username="anna", password=own("anna"))
    draft = ws.new_intake()
    anna = ws.actor.user_id
    ws.close()
    conn = _her_store(profile, anna)
    try:
        conn.execute("UPDATE records SET case_number = ? WHERE id = ?", (case, draft))
    finally:
        conn.close()
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    try:
        with pytest.raises(ConflictError, match="Aktenzeichen"):
            ws.records.id_for_case_number(case)
    finally:
        ws.close()


def test_a_hand_over_counts_as_taken_in_only_by_a_supervisors_entry(
    site: tuple[Profile, str],
) -> None:
    """Attacker run 17: anna appended a ``handover_received`` entry of her own (signed with
    her certified key, marked with her store), and the supervisor's sync then took the
    hand-over in nowhere. The supervisor's own entry, as the program writes it, counts."""
    profile, _ = site
    handover_id = "0b1c8e4e-5d0e-4f43-9a51-3d2b8f5c7a10"
    for user, record in (("anna", "decoy"), ("leitung", "taken")):
        ws = Workspace.sign_in(profile, username=user, password=own(user))
        try:
            with ws.db.read() as session:
                assert handovers.taken_in(session, handover_id, ws.store_identities()) is None
            _received(ws, handover_id, record)
        finally:
            ws.close()
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    try:
        with ws.db.read() as session:
            assert handovers.taken_in(session, handover_id, ws.store_identities()) == "taken"
    finally:
        ws.close()


@pytest.mark.parametrize("named", ["nowhere", "berta's record"])
def test_a_supervisors_row_the_administrator_signed_anew_takes_in_nothing(
    site: tuple[Profile, str], named: str
) -> None:
    """Attacker run 19: the administrator signs user rows. She made the supervisor's row
    name a key she minted with the profile root, signed a ``handover_received`` entry with
    it and left the row so until the supervisor's next sync. The entry carries no mark of
    a store (she holds none), so it counts for nothing; as an entry from before marks it
    would count only for a record a store holds as taken in from that hand-over, and
    naming any other record (one of berta's) does not make it one."""
    profile, _ = site
    granted_second_supervisor(profile)
    record = write_record(profile, "berta", "Kanarienberta-2") if named != "nowhere" else named
    handover_id = "5d2e8b1c-0b1c-4f43-9a51-3d2b8f5c7a10"
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    try:
        row, minted = mint_key(ws, "leitung")
        with ws.db.write() as session:
            user = users.get_by_name(session, username="leitung")
            assert user is not None
            user.key_id = row.kid
            assert ws.accounts.signing_keys is not None
            integrity.sign_row(user, integrity.Authority.of(ws.accounts.signing_keys))
            session.add(user)
        ws.db.audit_signer = user_keys.Signer(row.kid, minted)
        ws.audit(
            AuditAction.HANDOVER_RECEIVED,
            subject_type=handovers.SUBJECT,
            subject_id=handover_id,
            details={"record": record},
        )
        with ws.db.read() as session:  # the row names her key: the signature counts now
            rows = session.exec(
                select(AuditLogEntry).where(AuditLogEntry.subject_id == handover_id)
            ).all()
            assert audit.entitled_entries(session, rows, lambda _uid, role: role == "supervisor")
    finally:
        ws.close()
    # the next sync of another supervisor (the one whose row she changed is refused)
    ws = Workspace.sign_in(profile, username="zweite", password=own("zweite"))
    try:
        with ws.db.read() as session:
            found = handovers.taken_in(
                session, handover_id, ws.store_identities(), ws._handover_held
            )
        assert found is None
    finally:
        ws.close()


def test_a_hand_over_taken_in_before_marks_still_counts(site: tuple[Profile, str]) -> None:
    """A supervisor's entry from before marks (none in it) counts while a store holds the
    record taken in from that hand-over, so the office's copy is not taken in twice."""
    profile, _ = site
    handover_id = "9e1f0a2b-0b1c-4f43-9a51-3d2b8f5c7a10"
    record_id = write_record(profile, "berta", "Kanarienberta-2")
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    try:
        assert isinstance(ws.records, SiteRecords)
        store_db = ws.scope.stores[ws.records.store_of(record_id)]
        for reason in ("eine andere Übergabe", f"Übernommen (Übergabe {handover_id})"):
            with store_db.write() as session:
                session.merge(
                    RecordRevision(
                        record_id=record_id,
                        revision=1,
                        form_id="f",
                        form_version="1",
                        answers="{}",
                        reason=reason,
                        finalised_at=datetime.now(UTC),
                        finalised_by=ws.actor.user_id,
                    )
                )
            if "eine andere" in reason:
                ws.audit(
                    AuditAction.HANDOVER_RECEIVED,
                    subject_type=handovers.SUBJECT,
                    subject_id=handover_id,
                    details={"record": record_id},
                )
            with ws.db.read() as session:
                found = handovers.taken_in(
                    session, handover_id, ws.store_identities(), ws._handover_held
                )
            assert found == (None if "eine andere" in reason else record_id)
    finally:
        ws.close()


def _received(ws: Workspace, handover_id: str, record: str) -> None:
    """A ``handover_received`` entry as the program writes one in ``ws``'s own store."""
    identity = store_marks.identity_of(ws.scope.home)
    assert identity is not None
    ws.audit(
        AuditAction.HANDOVER_RECEIVED,
        subject_type=handovers.SUBJECT,
        subject_id=handover_id,
        details={
            "record": record,
            "mark": store_marks.mark(identity, "handover", handover_id, record),
        },
    )
