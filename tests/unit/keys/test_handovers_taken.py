"""Which hand-overs this device took in is kept under the site key, not in the audit log
(``Workspace.handovers_taken``; docs/security.md, "Hand-over through the office").

The office offers every hand-over sealed to the device at each sync; the device takes in
those it has not taken before. Attacker run 17 appended a ``handover_received`` entry of
her own (a counsellor), run 19 one signed with a key the administrator minted for the
supervisor and named in the supervisor's row she signed anew, and run 20 one of a
supervisor's account the administrator made herself: each made a hand-over look taken in,
so that nobody took it. Now only the list in the vault, authenticated with an HMAC under
the site key, says so. It is built once from the audit log when a profile from before has
none; a list changed or deleted later is refused and reported.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlcipher3

from intake_app.app import Workspace
from intake_app.core.audit import AuditAction
from intake_app.errors import ConflictError
from intake_app.storage import audit, handovers
from intake_app.storage.models import RecordRevision
from intake_app.storage.profile import Profile
from intake_app.storage.site_records import SiteRecords
from intake_app.storage.vault import UserKeys, Vault
from tests.helpers.attacker import admin_made_supervisor, keys_for, speak_as, with_any_key
from tests.helpers.key_site import granted_second_supervisor, own, write_record

H = "0b1c8e4e-5d0e-4f43-9a51-3d2b8f5c7a10"


def _entry(ws: Workspace, handover_id: str, record: str) -> None:
    """A ``handover_received`` entry as the program writes one, signed in ``ws``."""
    ws.audit(
        AuditAction.HANDOVER_RECEIVED,
        subject_type=handovers.SUBJECT,
        subject_id=handover_id,
        details={"record": record},
    )


def _taken(profile: Profile, user: str = "leitung") -> dict[str, str]:
    ws = Workspace.sign_in(profile, username=user, password=own(user))
    try:
        return ws.handovers_taken()
    finally:
        ws.close()


def _findings(profile: Profile, kind: str) -> int:
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    try:
        with ws.db.read() as session:
            return sum(
                1
                for entry in audit.iter_entries(session)
                if entry.action == "integrity_violation"
                for finding in entry.details.get("findings", [])
                if finding.get("kind") == kind
            )
    finally:
        ws.close()


def _vault(profile: Profile) -> dict:  # type: ignore[type-arg]
    return json.loads((profile.root / "vault.json").read_text("utf-8"))


def _write_vault(profile: Profile, data: dict) -> None:  # type: ignore[type-arg]
    (profile.root / "vault.json").write_text(json.dumps(data), "utf-8")


def _as_before_the_list(profile: Profile) -> None:
    """The profile as a version before the list left it: no list, no notes in the stores
    (taken out with the supervisor's keys, which open every store)."""
    data = _vault(profile)
    data["site"].pop("handovers", None)
    _write_vault(profile, data)
    keys = keys_for(profile.root / "vault.json", "leitung", own("leitung"))
    removed = sum(
        with_any_key(
            path, keys, lambda conn: conn.execute("DELETE FROM intake_site_notes").rowcount
        )
        or 0
        for path in (profile.root / "stores").glob("*.db")
    )
    assert removed >= 1


def test_a_counsellors_entry_takes_in_nothing(site: tuple[Profile, str]) -> None:
    """Attacker run 17: anna's own signed entry."""
    profile, _ = site
    assert _taken(profile) == {}  # the supervisor's first sync after the update
    ws = Workspace.sign_in(profile, username="anna", password=own("anna"))
    try:
        _entry(ws, H, "decoy")
        with pytest.raises(ConflictError):
            ws.handovers_taken()  # without the site key there is no list to read
    finally:
        ws.close()
    assert H not in _taken(profile)


def test_what_the_administrator_signs_takes_in_nothing(site: tuple[Profile, str]) -> None:
    """Attacker runs 19 and 20: the supervisor's row signed anew to name a key the
    administrator minted, and a supervisor's account she made and signed in as."""
    profile, _ = site
    granted_second_supervisor(profile)
    assert _taken(profile) == {}
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    try:
        speak_as(ws, "leitung")
        _entry(ws, H, "nowhere")
        ws.accounts.add_user(username="geist", role="supervisor", password=own("geist-start"))
    finally:
        ws.close()
    ws = Workspace.sign_in(profile, username="geist", password=own("geist-start"))
    try:
        ws.accounts.set_own_password(own("geist"))
        _entry(ws, "5d2e8b1c-0b1c-4f43-9a51-3d2b8f5c7a10", "nowhere")
    finally:
        ws.close()
    assert _taken(profile, "zweite") == {}


def test_a_hand_over_taken_in_before_the_list_stays_taken_in(
    site: tuple[Profile, str],
) -> None:
    """A profile from before the list: a supervisor's entry counts once, when the list is
    built at a holder's sign-in, and only for a record a store holds as taken in from
    that hand-over; an entry of a supervisor's account the administrator made (it holds
    no grant of the site key) counts for nothing (attacker run 21)."""
    profile, _ = site
    record_id = write_record(profile, "berta", "Kanarienberta-2")
    other = "9e1f0a2b-0b1c-4f43-9a51-3d2b8f5c7a10"
    decoy = "77aa0a2b-0b1c-4f43-9a51-3d2b8f5c7a10"
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    try:
        assert isinstance(ws.records, SiteRecords)
        _first_revision(ws.scope.stores[ws.records.store_of(record_id)], record_id, H, ws)
        _entry(ws, H, record_id)
        _entry(ws, other, record_id)  # the record was not taken in from this one
    finally:
        ws.close()
    geist_record = _geist_plants(profile, decoy)
    _as_before_the_list(profile)
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    try:
        assert "handovers" in _vault(profile)["site"], "built at her sign-in"
        assert ws.handovers_taken() == {H: record_id}
        assert ws._handover_held(geist_record, decoy), "the decoy is there, and not counted"
    finally:
        ws.close()


def _first_revision(store_db: Any, record_id: str, handover_id: str, ws: Workspace) -> None:
    with store_db.write() as session:
        session.merge(
            RecordRevision(
                record_id=record_id,
                revision=1,
                form_id="f",
                form_version="1",
                answers="{}",
                reason=f"Übernommen über die Zentrale (Übergabe {handover_id}, frühere Akte x).",
                finalised_at=datetime.now(UTC),
                finalised_by=ws.actor.user_id,
            )
        )


def _geist_plants(profile: Profile, handover_id: str) -> str:
    """The administrator makes a supervisor's account, signs in as it and gives a record
    of its own store a first revision naming the hand-over, with a signed entry."""
    admin_made_supervisor(profile)
    ws = Workspace.sign_in(profile, username="geist", password=own("geist"))
    try:
        record_id = ws.new_intake()
        _first_revision(ws.scope.home, record_id, handover_id, ws)
        _entry(ws, handover_id, record_id)
        return record_id
    finally:
        ws.close()


@pytest.mark.parametrize("named", ["nothing", "an erased record", "a record she backed"])
def test_entries_a_former_holder_wrote_with_the_old_site_key_are_dropped(
    site: tuple[Profile, str], named: str
) -> None:
    """Attacker run 21: a supervisor who left kept the site key. Before the next holder's
    sign-in replaced it she added an entry to the list under the old key, and the
    rotation carried it over. Now the list stands only with the digest the signed audit
    log names, which she can no longer write: the entry is dropped and reported, also
    when it names a record she knew was erased, and (run 22) when she gave a colleague's
    record a first revision naming the hand-over, with the store keys she still held."""
    profile, _ = site
    granted_second_supervisor(profile)
    record = "nothing"
    if named != "nothing":
        record = write_record(profile, "berta", "Kanarienberta-2")
    if named == "an erased record":
        ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
        try:
            ws.lifecycle.erase(record, reason="request")
        finally:
            ws.close()
    kept = Vault(profile.vault_path).unlock_user("zweite", own("zweite")).site_private()
    assert kept is not None
    assert _taken(profile) == {}
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    try:
        ws.accounts.deactivate(username="zweite")
    finally:
        ws.close()
    vault = Vault(profile.vault_path)
    found = vault.site_handovers(kept)
    assert found is not None
    vault.put_site_handovers(kept, {**found[0], H: record})
    if named == "a record she backed":
        _back_with_the_old_site_key(profile, kept, record)
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    try:
        assert _vault(profile)["site"]["public"] != base64.b64encode(kept.public_key().raw).decode(
            "ascii"
        ), "the site key was replaced"
        assert H not in ws.handovers_taken()
        assert any("kein Aktenspeicher belegt" in m for m in ws.sign_in_result.integrity_messages)
    finally:
        ws.close()
    assert _findings(profile, "handovers_list_unbacked") == 1


def _back_with_the_old_site_key(profile: Profile, site_key: Any, record_id: str) -> None:
    """With the site key she kept, the store that holds ``record_id`` opens (it is not
    re-keyed before the next holder's sign-in): its first revision now names the
    hand-over."""
    vault = Vault(profile.vault_path)
    through = UserKeys(
        ref="x", profile_key=b"", private=None, sealed={"site": site_key.raw}, bundle={}
    )
    done = 0
    for sid in vault.stores():
        key = vault.open_store_key(through, sid)
        if key is None:
            continue
        conn = sqlcipher3.connect(str(profile.root / "stores" / f"{sid}.db"))
        try:
            conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
            if conn.execute("SELECT 1 FROM records WHERE id = ?", (record_id,)).fetchone():
                conn.execute(
                    "INSERT OR REPLACE INTO record_revisions (record_id, revision, form_id, "
                    "form_version, answers, reason, finalised_at, finalised_by) VALUES "
                    "(?, 1, 'f', '1', '{}', ?, '2026-01-01 00:00:00', 1)",
                    (record_id, f"Übernommen über die Zentrale (Übergabe {H})"),
                )
                conn.commit()
                done += 1
        finally:
            conn.close()
    assert done == 1


def test_a_list_changed_or_deleted_outside_the_program_is_refused_and_reported(
    site: tuple[Profile, str],
) -> None:
    profile, _ = site
    assert _taken(profile) == {}
    data = _vault(profile)
    data["site"]["handovers"]["taken"][H] = "nowhere"  # without the site key's MAC
    _write_vault(profile, data)
    with pytest.raises(ConflictError, match=r"vault\.json"):
        _taken(profile)
    assert _findings(profile, "handovers_list_changed") >= 1  # (each sign-in tells it)
    data["site"].pop("handovers")  # deleted: the stores' notes say there was one
    _write_vault(profile, data)
    with pytest.raises(ConflictError, match=r"vault\.json"):
        _taken(profile)
    assert _findings(profile, "handovers_list_removed") >= 1


def test_the_list_survives_a_new_site_key(site: tuple[Profile, str]) -> None:
    """A supervisor leaves, the site key is replaced: the list is checked against the
    stores and authenticated anew; what a store backs stays."""
    profile, _ = site
    granted_second_supervisor(profile)
    record_id = write_record(profile, "berta", "Kanarienberta-2")
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    try:
        assert isinstance(ws.records, SiteRecords)
        _first_revision(ws.scope.stores[ws.records.store_of(record_id)], record_id, H, ws)
        ws._note_handover(H, record_id)
        public = _vault(profile)["site"]["public"]
    finally:
        ws.close()
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    try:
        ws.accounts.deactivate(username="zweite")
    finally:
        ws.close()
    assert _taken(profile) == {H: record_id}
    assert _vault(profile)["site"]["public"] != public, "the site key was replaced"
    assert _findings(profile, "handovers_list_unbacked") == 0


def test_an_entry_a_holder_wrote_outside_the_program_is_dropped(
    site: tuple[Profile, str],
) -> None:
    """Attacker run 23: a supervisor, still in office, wrote an entry into the list with
    her site key outside the program (no signed digest), so that a colleague's next
    take-in signed it along. Now every look at the list compares its digest with the
    newest signed one: the entry is dropped and reported before anything is signed."""
    profile, _ = site
    granted_second_supervisor(profile)
    assert _taken(profile) == {}
    site_key = Vault(profile.vault_path).unlock_user("zweite", own("zweite")).site_private()
    assert site_key is not None
    vault = Vault(profile.vault_path)
    found = vault.site_handovers(site_key)
    assert found is not None and found[1], "checked under the present key"
    vault.put_site_handovers(site_key, {**found[0], H: "nowhere"})
    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    try:
        assert H not in ws.handovers_taken()
        assert any("kein Aktenspeicher belegt" in m for m in ws.handover_findings)
    finally:
        ws.close()
    assert _findings(profile, "handovers_list_unbacked") == 1
