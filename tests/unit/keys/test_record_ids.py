"""A record id in two stores is refused, never resolved to one of them (site_records.py).

Tried as attacker run 16 did: record ids are unique within a store, not across stores.
A counsellor gives a draft in her own store her colleague's record id and case number
(she reads the id from the audit log, and she holds her store's key). A supervisor who
opened "the" record would have reached hers, and a move of it to the colleague replaced
the colleague's real record with the forgery. Now neither happens: the id is refused and
reported, and a move never copies over a record the target already holds.
"""

from __future__ import annotations

import pytest
import sqlcipher3

from intake_app.app import Workspace
from intake_app.errors import ConflictError
from intake_app.storage import audit
from intake_app.storage.profile import Profile
from intake_app.storage.records import RecordQuery
from intake_app.storage.vault import Vault
from tests.helpers.key_site import own, write_record


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
