"""A counsellor who holds the device key cannot speak for a colleague's cases at the office
(real receiver on 127.0.0.1, real PostgreSQL or SQLite office database).

Written as the attacker works: she signs in with her own password only to take out what
her password opens (the device key, her own signing key and proof), builds batches with
the project's batch code, outside every permission check, puts them where the office
imports from, and reads the office's answers (docs/security.md, "Batches signed by their
sender").
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from intake_app.central import db as central_db
from intake_app.cli import main
from intake_app.core.followup import check_contact
from intake_app.storage import users
from intake_app.storage.models import DeviceRow, OutboxItem
from intake_app.sync import authors, keys
from intake_app.sync.batch import build_batch
from intake_app.sync.enrolment import build_registration
from intake_app.sync.receipt import ItemResult
from intake_app.sync.transport_folder import read_receipts, write_batches
from tests.conftest import (
    ADMIN,
    ADMIN_PASSWORD,
    COUNSELLOR,
    COUNSELLOR_PASSWORD,
    SUPERVISOR,
    ProfileFixture,
)
from tests.e2e.conftest import FAST, Office
from tests.e2e.test_device_sync import enrol_device, finalised
from tests.helpers.attacker import keys_for, with_any_key

pytestmark = pytest.mark.e2e

COLLEAGUE = "kollegin"
COLLEAGUE_PASSWORD = "Kollegin-Passwort-2026"


def _add_colleague(profile: ProfileFixture) -> None:
    ws = profile.sign_in(ADMIN)
    try:
        ws.accounts.add_user(username=COLLEAGUE, role="counsellor", password="Kollegin-Start-2026")
    finally:
        ws.close()
    ws = profile.sign_in(COLLEAGUE, "Kollegin-Start-2026")
    try:
        ws.accounts.set_own_password(COLLEAGUE_PASSWORD)
    finally:
        ws.close()


def _colleagues_case(
    profile: ProfileFixture, office: Office, tmp_path: Path, then: Any = lambda ws: None
) -> tuple[str, Any]:
    """The device enrolled, a colleague added; she sends a case and the office imports
    it. ``then(ws)`` runs in her session after the sync; its result is returned too."""
    enrol_device(profile, office, tmp_path)
    _add_colleague(profile)
    ws = profile.sign_in(COLLEAGUE, COLLEAGUE_PASSWORD)
    try:
        (case,) = finalised(ws, 1)
        assert ws.sync.send(settings=FAST).records_delivered == 1
        more = then(ws)
    finally:
        ws.close()
    office.cli("import")
    return case, more


def _sync_and_import(profile: ProfileFixture, office: Office, username: str) -> None:
    """``username`` signs in and syncs; the office imports."""
    ws = profile.sign_in(username)
    try:
        ws.sync.send(settings=FAST)
    finally:
        ws.close()
    office.cli("import")


def _supervisor_moves(profile: ProfileFixture, office: Office, case: str, to: str) -> None:
    """A supervisor moves ``case`` to ``to``, syncs, and the office imports."""
    ws = profile.sign_in(SUPERVISOR)
    try:
        ws.move_case_to(case, to)
        ws.sync.send(settings=FAST)
    finally:
        ws.close()
    office.cli("import")


def _revision(record_id: str, revision: int, counsellor: str) -> dict[str, Any]:
    return {
        "id": record_id,
        "revision": revision,
        "form_id": "kim_erstgespraech",
        "form_version": "1",
        "counsellor": counsellor,
        "answers": {"vorname": "Gefälscht"},
        "consent": {},
    }


def _answers(folder: Path, identity: Any, batches: list[Any]) -> dict[str, Any]:
    """The office's signed answers, as the device reads them from the stick."""
    found = read_receipts(
        folder, identity=identity, expected={b.batch_id: b.sha384 for b in batches}
    )
    assert not found.invalid
    out: dict[str, Any] = {}
    for receipt in found.receipts:
        out[receipt.batch_id] = receipt.reason
        out.update({f"{r.record_id}/r{r.revision}": res for r, res in receipt.records})
        out.update({f"{r.type}/{r.record_id}": res for r, res in receipt.instructions})
    return out


def _her_own_root(own: authors.AuthorKey) -> authors.AuthorKey:
    """A profile root of her own making in which her row says supervisor and her key is
    certified (all it takes is the library)."""
    fake = ec.generate_private_key(ec.SECP384R1())
    root_kid, root_public = authors.key_id(fake), authors.public_text(fake)
    (row,) = [dict(r) for r in own.chain["users"] if r["id"] == own.user_id]
    row.update(role="supervisor", signed_by=root_kid)
    row["signature"] = authors.sign(fake, authors.USER_ROW_DOMAIN, authors.row_message(row))
    public = authors.public_text(own.key)
    message = authors.key_message(own.kid, own.user_id, public)
    cert = {
        "kid": own.kid,
        "user_id": own.user_id,
        "public_key": public,
        "certified_by": root_kid,
        "signature": authors.sign(fake, authors.USER_KEY_DOMAIN, message),
    }
    chain = {"root": {"kid": root_kid, "public_key": root_public}, "users": [row], "keys": [cert]}
    return dataclasses.replace(own, chain=chain)


def test_a_counsellor_with_the_device_key_cannot_change_or_erase_a_colleagues_case(
    profile: ProfileFixture, office: Office, tmp_path: Path
) -> None:
    # a second case she has not sent yet (its id is in the shared audit log)
    theirs, both = _colleagues_case(profile, office, tmp_path, lambda ws: finalised(ws, 1, seed=5))
    (unsent,) = set(both) - {theirs}
    (pin,) = office.rows(sa.select(central_db.device_pins))
    assert pin.profile_root_kid  # the first signed batch pinned the profile's root
    before = office.rows(sa.select(central_db.records))
    assert [(r.record_id, r.counsellor) for r in before] == [(theirs, COLLEAGUE)]

    # The attacker: her own password, the device key and her own key it opens, the batch
    # code; no permission check runs.
    ws = profile.sign_in(COUNSELLOR)
    try:
        identity = ws.sync.identity()
        own = ws._batch_author()
        with ws.db.read() as session:
            colleague = users.get_by_name(session, username=COLLEAGUE)
    finally:
        ws.close()
    assert identity is not None and own is not None and colleague is not None
    mine = authors.bound_record_id(own.user_id)
    erase = {"type": "erasure", "record_id": theirs, "requested_at": "2026-12-07T10:00:00Z"}
    attempts = [
        # signed as herself: a newer revision of the colleague's case and its erasure,
        # beside a case of her own
        build_batch(
            {
                "records": [_revision(theirs, 2, COLLEAGUE), _revision(mine, 1, COUNSELLOR)],
                "instructions": [erase],
            },
            identity=identity,
            author=own,
        ),
        # the colleague's case the office has not seen yet, claimed first under her name
        build_batch(
            {"records": [_revision(unsent, 2**31 - 1, COUNSELLOR)], "instructions": []},
            identity=identity,
            author=own,
        ),
        # her key, claiming to be the colleague
        build_batch(
            {"records": [_revision(theirs, 3, COLLEAGUE)], "instructions": []},
            identity=identity,
            author=dataclasses.replace(own, user_id=int(colleague.id or 0)),
        ),
        # a root of her own in which she is a supervisor
        build_batch(
            {"records": [_revision(theirs, 4, COLLEAGUE)], "instructions": [erase]},
            identity=identity,
            author=_her_own_root(own),
        ),
        # no sender at all, as a device before batch format 4 sends
        build_batch(
            {"records": [_revision(theirs, 5, COLLEAGUE)], "instructions": [erase]},
            identity=identity,
        ),
    ]
    folder = tmp_path / "stick"
    folder.mkdir()
    write_batches(folder, attempts)
    office.cli("import", "--from-dir", str(folder))

    answers = _answers(folder, identity, attempts)
    forged, first, claimed, rooted, unsigned = (b.batch_id for b in attempts)
    assert answers[f"{theirs}/r2"] == ItemResult.NOT_ENTITLED
    assert answers[f"erasure/{theirs}"] == ItemResult.NOT_ENTITLED
    assert answers[f"{mine}/r1"] == ItemResult.ACCEPTED  # her own case goes in
    assert answers[f"{unsent}/r{2**31 - 1}"] == ItemResult.NOT_ENTITLED
    assert answers[claimed] == "author_unverified"
    assert answers[rooted] == "author_root_changed"
    assert answers[unsigned] == "author_missing"

    after = {(r.record_id, r.revision): r for r in office.rows(sa.select(central_db.records))}
    assert set(after) == {(theirs, 1), (mine, 1)}
    assert after[(theirs, 1)].document == before[0].document
    assert office.count(central_db.erasures) == 0
    listed = {r.reason for r in office.rows(sa.select(central_db.quarantine))}
    assert {"author_not_entitled", "author_unverified", "author_root_changed"} <= listed
    assert forged and first and rooted

    # the colleague's own sync still delivers her case, and the office holds it as hers
    ws = profile.sign_in(COLLEAGUE, COLLEAGUE_PASSWORD)
    try:
        ws.sync.send(settings=FAST)
        office.cli("import")
        ws.sync.send(settings=FAST)
        assert ws.records.get(unsent).sync_state == "delivered"
    finally:
        ws.close()
    held = office.rows(
        sa.select(central_db.records).where(central_db.records.c.record_id == unsent)
    )
    assert [(r.revision, r.counsellor) for r in held] == [(1, COLLEAGUE)]


def test_a_case_moved_to_another_counsellor_is_hers_at_the_office_after_a_supervisors_sync(
    profile: ProfileFixture, office: Office, tmp_path: Path
) -> None:
    """A supervisor moves a case within the team: until her sync tells the office, the
    new counsellor's items for it wait (nothing is lost); from then on they go straight
    through, and the counsellor it came from speaks for it no more (attacker run 21)."""
    case, (former, identity) = _colleagues_case(
        profile, office, tmp_path, lambda ws: (ws._batch_author(), ws.sync.identity())
    )
    ws = profile.sign_in(SUPERVISOR)
    try:
        ws.move_case_to(case, COUNSELLOR)
    finally:
        ws.close()
    ws = profile.sign_in(COUNSELLOR)
    try:
        ws.records.add_contact(case, check_contact(on=date.today(), mode="phone"))
        assert ws.sync.send(settings=FAST).batches_sent == 1
        office.cli("import")
        answered = ws.sync.send(settings=FAST)  # collects the answer
        assert answered.waiting_for_supervisor == 2  # the move and the contact
        assert any("Teamleitung" in line for line in answered.notice_lines())
        assert ws.sync.send(settings=FAST).batches_sent == 0  # it waits, it is not resent
        with ws.db.read() as session:
            waiting = session.execute(select(OutboxItem.state, OutboxItem.last_error)).all()
        assert ("pending", "not_entitled") in waiting
    finally:
        ws.close()
    ws = profile.sign_in(SUPERVISOR)
    try:  # sends the move and the waiting contact
        assert ws.sync.send(settings=FAST).batches_sent >= 1
        office.cli("import")
        ws.sync.send(settings=FAST)
    finally:
        ws.close()
    (owner,) = office.rows(sa.select(central_db.record_owners))
    assert (owner.record_id, owner.counsellor) == (case, COUNSELLOR)
    ws = profile.sign_in(COUNSELLOR)
    try:  # her next contact goes straight through
        ws.records.add_contact(case, check_contact(on=date.today(), mode="video"))
        ws.sync.send(settings=FAST)
        office.cli("import")
        assert ws.sync.send(settings=FAST).waiting_for_supervisor == 0
    finally:
        ws.close()
    events = office.rows(sa.select(central_db.case_events))
    assert [e.record_id for e in events] == [case, case]
    # the counsellor it came from, with the device key and her own key, is refused now
    assert identity is not None and former is not None
    withdraw = {
        "type": "consent_withdrawal",
        "record_id": case,
        "revision": 1,
        "purpose": "central_office",
        "withdrawn_on": "2026-12-07",
    }
    batch = build_batch(
        {"records": [], "instructions": [withdraw]}, identity=identity, author=former
    )
    folder = tmp_path / "stick"
    folder.mkdir()
    write_batches(folder, [batch])
    office.cli("import", "--from-dir", str(folder))
    assert _answers(folder, identity, [batch])[f"consent_withdrawal/{case}"] == (
        ItemResult.NOT_ENTITLED
    )
    assert office.count(central_db.consent_withdrawals) == 0

    # moved back to the colleague; she replays that move, signed by the supervisor in the
    # audit log every password opens, as a reassignment to herself (attacker run 23)
    _supervisor_moves(profile, office, case, COLLEAGUE)
    keys = keys_for(profile.profile.root / "vault.json", COUNSELLOR, COUNSELLOR_PASSWORD)
    moves_seen = with_any_key(
        profile.profile.db_path,
        keys,
        lambda conn: conn.execute(
            "SELECT details FROM audit_log WHERE action = 'record_moved' ORDER BY seq"
        ).fetchall(),
    )
    back = json.loads(moves_seen[-1][0])["move"]
    replay = {
        "reassignment_id": str(uuid.UUID(hex=back)),
        "counsellor": COUNSELLOR,
        "moved_at": "2030-01-01T00:00:00Z",
    }
    assert any(
        with_any_key(path, keys, _planter(case, [("reassignment", replay)]))
        for path in sorted((profile.profile.root / "stores").glob("*.db"))
    )
    _sync_and_import(profile, office, SUPERVISOR)
    (owner,) = office.rows(sa.select(central_db.record_owners))
    assert owner.counsellor == COLLEAGUE


def _planter(
    record_id: str, items: list[tuple[str, dict[str, Any]]], *, in_store: bool = True
) -> Any:
    """Writes ``items`` into the outbox of a record store (``in_store``; SQLCipher opened
    with her key), or of whichever database it is given."""

    def plant(conn: Any) -> bool:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master").fetchall()}
        if in_store and "records" not in tables:
            return False
        for kind, payload in items:
            conn.execute(
                "INSERT INTO outbox (kind, record_id, payload, state, created_at, attempts)"
                " VALUES (?, ?, ?, 'pending', '2026-12-07 10:00:00', 0)",
                (kind, record_id, json.dumps(payload)),
            )
        return True

    return plant


def test_items_she_plants_in_her_own_outbox_are_not_sent_by_a_supervisors_sync(
    profile: ProfileFixture, office: Office, tmp_path: Path
) -> None:
    """A supervisor's sync packs every store's outbox and signs as the supervisor; the
    counsellor can write her own store, and the profile database an administrator's sync
    sends from. What she plants there about a colleague's case (a reassignment to herself,
    an erasure) is not carried (attacker run 22)."""
    case, _ = _colleagues_case(profile, office, tmp_path)
    ws = profile.sign_in(COUNSELLOR)
    ws.close()  # her store exists
    planted = {
        "reassignment_id": str(uuid.uuid4()),
        "counsellor": COUNSELLOR,
        "moved_at": "2026-12-07T10:00:00Z",
    }

    plant = _planter(case, [("reassignment", planted), ("erasure", {"reason": "x"})])

    keys = keys_for(profile.profile.root / "vault.json", COUNSELLOR, COUNSELLOR_PASSWORD)
    stores = sorted((profile.profile.root / "stores").glob("*.db"))
    assert any(with_any_key(path, keys, plant) for path in stores)
    ws = profile.sign_in(SUPERVISOR)
    try:
        ws.sync.send(settings=FAST)
        office.cli("import")
        ws.sync.send(settings=FAST)
    finally:
        ws.close()
    assert office.count(central_db.record_owners) == 0
    assert office.count(central_db.erasures) == 0

    # the profile database's outbox (every password opens it) is the home of an
    # administrator's sync
    plant_erasure = _planter(case, [("erasure", {})], in_store=False)
    assert with_any_key(profile.profile.db_path, keys, plant_erasure)
    _sync_and_import(profile, office, ADMIN)
    assert office.count(central_db.erasures) == 0
    held = office.rows(sa.select(central_db.records.c.record_id, central_db.records.c.counsellor))
    assert [tuple(r) for r in held] == [(case, COLLEAGUE)]


def test_a_case_she_made_and_a_supervisor_moved_away_is_not_hers_to_plant_for(
    profile: ProfileFixture, office: Office, tmp_path: Path
) -> None:
    """Attacker run 24: a supervisor moves a case she made to a colleague; she writes its
    row back into her own store, plants a withdrawal for it, and takes the other stores
    out of the folder; the case's id is bound to her, but its newest signed move went to
    the colleague."""
    enrol_device(profile, office, tmp_path)
    _add_colleague(profile)
    ws = profile.sign_in(COUNSELLOR)
    try:
        (case,) = finalised(ws, 1)
        assert ws.sync.send(settings=FAST).records_delivered == 1
    finally:
        ws.close()
    office.cli("import")
    keys = keys_for(profile.profile.root / "vault.json", COUNSELLOR, COUNSELLOR_PASSWORD)
    stores = profile.profile.root / "stores"
    (hers,) = [p for p in stores.glob("*.db") if with_any_key(p, keys, lambda conn: True)]

    def read_row(conn: Any) -> tuple[list[str], tuple[Any, ...]]:
        cursor = conn.execute("SELECT * FROM records WHERE id = ?", (case,))
        return [c[0] for c in cursor.description], cursor.fetchone()

    columns, row = with_any_key(hers, keys, read_row)
    _supervisor_moves(profile, office, case, COLLEAGUE)

    def put_back(conn: Any) -> bool:
        marks = ", ".join("?" for _ in columns)
        conn.execute(f"INSERT INTO records ({', '.join(columns)}) VALUES ({marks})", row)
        return True

    keys = keys_for(profile.profile.root / "vault.json", COUNSELLOR, COUNSELLOR_PASSWORD)
    assert with_any_key(hers, keys, put_back)
    withdraw = {"purpose": "central_office", "withdrawn_on": "2026-12-07"}
    assert with_any_key(hers, keys, _planter(case, [("consent_withdrawal", withdraw)]))
    vault = json.loads((profile.profile.root / "vault.json").read_text("utf-8"))
    theirs = [sid for sid in vault["stores"] if stores / f"{sid}.db" != hers]
    for sid in theirs:  # every other store out of the folder and the vault
        (stores / f"{sid}.db").unlink(missing_ok=True)
        vault["stores"].pop(sid)
    (profile.profile.root / "vault.json").write_text(json.dumps(vault), "utf-8")
    _sync_and_import(profile, office, SUPERVISOR)
    assert office.count(central_db.consent_withdrawals) == 0


def test_the_profile_root_is_pinned_at_enrolment_not_at_the_first_batch(
    profile: ProfileFixture, office: Office, tmp_path: Path
) -> None:
    """A device whose registration names its profile root (version 3) is held to that root
    from its first batch on: a counsellor who makes a root of her own, in which she is a
    supervisor, before anyone has synced, is refused (before, the first signed batch
    pinned whatever root it named)."""
    enrol_device(profile, office, tmp_path)
    (device,) = office.rows(sa.select(central_db.devices))
    ws = profile.sign_in(COUNSELLOR)
    try:
        identity = ws.sync.identity()
        own = ws._batch_author()
        (case,) = finalised(ws, 1)
    finally:
        ws.close()
    assert identity is not None and own is not None
    assert device.registration_root == own.chain["root"]["public_key"]

    forged = build_batch(
        {
            "records": [_revision(authors.bound_record_id(own.user_id), 1, COUNSELLOR)],
            "instructions": [],
        },
        identity=identity,
        author=_her_own_root(own),
    )
    folder = tmp_path / "stick"
    folder.mkdir()
    write_batches(folder, [forged])
    office.cli("import", "--from-dir", str(folder))
    assert _answers(folder, identity, [forged])[forged.batch_id] == "author_root_changed"
    assert office.count(central_db.records) == 0
    (pin,) = office.rows(sa.select(central_db.device_pins))
    assert (pin.profile_root_kid, pin.profile_root_public) == (
        own.chain["root"]["kid"],
        own.chain["root"]["public_key"],
    )

    # the device's own sync, from the root it registered, goes in
    _sync_and_import(profile, office, COUNSELLOR)
    held = office.rows(sa.select(central_db.records.c.record_id, central_db.records.c.counsellor))
    assert [tuple(r) for r in held] == [(case, COUNSELLOR)]


def test_no_user_of_a_pending_device_can_register_it_under_a_root_of_her_own(
    profile: ProfileFixture, office: Office, tmp_path: Path
) -> None:
    """Attacker run 25: while a device waits for the office to take its registration file,
    a counsellor read the enrolment token from the profile database and registered the
    device online under a root of her own. The registration is now built at enrolment
    and the token is not kept; a second registration of the same key under another root
    is refused by the office."""
    enrolment = tmp_path / "laptop-1.json"
    office.cli("enrol", "--device", "laptop-1", "--server-url", office.url, "--out", str(enrolment))
    token = json.loads(enrolment.read_bytes())["token"]
    password = tmp_path / "admin.pw"
    password.write_text(ADMIN_PASSWORD, "utf-8")
    registration_file = tmp_path / "registration.json"
    args = ["--data-dir", str(profile.profile.root), "--user", "admin"]
    args += ["--password-file", str(password), "enrol", str(enrolment)]
    args += ["--fingerprint", office.fingerprint, "--registration-out", str(registration_file)]
    assert main(args) == 0

    ws = profile.sign_in(COUNSELLOR)
    try:
        identity = ws.sync.identity()
        own = ws._batch_author()
        with ws.db.read() as session:
            (row,) = session.scalars(select(DeviceRow)).all()
    finally:
        ws.close()
    assert identity is not None and own is not None
    # nothing her password opens holds the token
    assert row.enrolment_token is None
    assert token not in row.identity and keys.b64(token.encode()) not in row.identity
    assert identity.enrolment_document is not None
    assert token.encode() not in identity.enrolment_document

    # the registration the administrator built names the genuine root; the office takes it
    office.cli("register", str(registration_file), "--out", str(tmp_path / "confirmation.json"))
    (device,) = office.rows(sa.select(central_db.devices))
    assert device.registration_root == own.chain["root"]["public_key"]
    # a registration of the same key under another root (as if she had the token) is
    # refused, and the first one stands
    hers = _her_own_root(own)
    forged = tmp_path / "forged-registration.json"
    root = hers.chain["root"]["public_key"]
    forged.write_bytes(build_registration(identity, token=token, profile_root=root))
    refused = office.cli("register", str(forged), "--out", str(tmp_path / "c2.json"), check=False)
    assert refused.returncode != 0
    assert "anderen Profil" in refused.stderr or "another profile" in refused.stderr
    (device,) = office.rows(sa.select(central_db.devices))
    assert device.registration_root == own.chain["root"]["public_key"]
