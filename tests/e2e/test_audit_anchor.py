"""The office notices a device's audit log that was cut (real receiver on 127.0.0.1).

The attacker holds the profile folder and her own password: she removes the newest audit
entries with SQLCipher and mends the local anchor; the office, which kept the heads the
device named in its batches, reports it after the next sync (import output, devices list).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
import sqlcipher3
from sqlalchemy import select

from intake_app.central import db as central_db
from intake_app.storage.models import SyncBatch
from tests.conftest import (
    COUNSELLOR,
    COUNSELLOR_PASSWORD,
    SUPERVISOR,
    SUPERVISOR_PASSWORD,
    ProfileFixture,
)
from tests.e2e.conftest import FAST, Office
from tests.e2e.test_device_sync import enrol_device, finalised

pytestmark = pytest.mark.e2e


def _attacker_sql(profile: ProfileFixture, *statements: tuple[str, tuple]) -> list[list[tuple]]:
    key = profile.profile.vault().unlock(COUNSELLOR, COUNSELLOR_PASSWORD)
    conn = sqlcipher3.connect(str(profile.profile.db_path))
    try:
        conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
        conn.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        conn.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
        out = [conn.execute(sql, params).fetchall() for sql, params in statements]
        conn.commit()
        return out
    finally:
        conn.close()


def test_a_cut_audit_log_is_reported_by_the_office_after_the_next_sync(
    profile: ProfileFixture, office: Office, tmp_path: Path
) -> None:
    enrol_device(profile, office, tmp_path)
    ws = profile.sign_in(COUNSELLOR)
    try:
        finalised(ws, 2)
        assert ws.sync.send(settings=FAST).records_delivered == 2
        with ws.db.read() as session:
            (sent,) = session.scalars(select(SyncBatch.audit_seq)).all()
    finally:
        ws.close()
    assert sent is not None
    imported = office.cli("import").stdout
    assert "WARNUNG" not in imported
    listed = office.cli("devices", "list").stdout
    assert f"ok bis Nr. {sent}" in listed

    # She removes everything from two entries before the head the office knows, and sets
    # the local anchor to the new head so that the device itself would not notice.
    _attacker_sql(
        profile,
        ("DELETE FROM audit_log WHERE seq > ?", (sent - 2,)),
        (
            "UPDATE trust_state SET (anchor_seq, anchor_hash, anchor_signer, anchor_signature)"
            " = (SELECT seq, hash, signer, signature FROM audit_log ORDER BY seq DESC LIMIT 1)",
            (),
        ),
    )

    ws = profile.sign_in(COUNSELLOR)
    try:
        finalised(ws, 1, seed=7)
        assert ws.sync.send(settings=FAST).records_delivered >= 1
    finally:
        ws.close()
    imported = office.cli("import").stdout
    assert "WARNUNG" in imported and "Audit-Protokoll" in imported
    listed = office.cli("devices", "list").stdout
    assert "GEKÜRZT" in listed or "NEU GESCHRIEBEN" in listed
    problems = office.rows(sa.select(central_db.device_audit_problems))
    assert len(problems) == 1 and problems[0].known_seq == sent
    # the batch was imported all the same: nothing is lost
    assert office.count(central_db.records) == 3


def _head(profile: ProfileFixture) -> int:
    ((seq,),) = _attacker_sql(profile, ("SELECT MAX(seq) FROM audit_log", ()))[0]
    return int(seq)


def _sync(profile: ProfileFixture, user: str, password: str, *, records: int, seed: int) -> int:
    """``user`` finalises ``records`` records and syncs; the head her batches named."""
    ws = profile.sign_in(user, password)
    try:
        finalised(ws, records, seed=seed)
        assert ws.sync.send(settings=FAST).records_delivered >= records
        with ws.db.read() as session:
            heads = session.scalars(select(SyncBatch.audit_seq)).all()
    finally:
        ws.close()
    return max(seq for seq in heads if seq is not None)


def _imported(office: Office) -> str:
    out = office.cli("import").stdout
    return str(out)


def test_a_log_cut_below_a_colleagues_head_is_reported_after_the_cutters_own_sync(
    profile: ProfileFixture, office: Office, tmp_path: Path
) -> None:
    """The counsellor's own batches named an early head, her supervisor's a later one. She
    cuts the log between the two, lets it grow past the later one by normal work and
    syncs: her batch no longer names the supervisor's head as the office has it."""
    enrol_device(profile, office, tmp_path)
    own = _sync(profile, COUNSELLOR, COUNSELLOR_PASSWORD, records=1, seed=3)
    colleague = _sync(profile, SUPERVISOR, SUPERVISOR_PASSWORD, records=1, seed=4)
    assert own < colleague
    assert "WARNUNG" not in _imported(office)

    _attacker_sql(
        profile,
        ("DELETE FROM audit_log WHERE seq > ?", (own,)),
        (
            "UPDATE trust_state SET (anchor_seq, anchor_hash, anchor_signer, anchor_signature)"
            " = (SELECT seq, hash, signer, signature FROM audit_log ORDER BY seq DESC LIMIT 1)",
            (),
        ),
    )
    seed = 10
    while _head(profile) <= colleague:  # normal work until the log is past the head again
        ws = profile.sign_in(COUNSELLOR)
        try:
            finalised(ws, 1, seed=seed)
        finally:
            ws.close()
        seed += 1
    ws = profile.sign_in(COUNSELLOR)
    try:
        finalised(ws, 1, seed=seed)
        assert ws.sync.send(settings=FAST).records_delivered >= 1
    finally:
        ws.close()
    imported = _imported(office)
    assert "WARNUNG" in imported and "Audit-Protokoll" in imported
    problems = office.rows(sa.select(central_db.device_audit_problems))
    assert [(p.kind, p.seq) for p in problems] in ([("cut", colleague)], [("rewritten", colleague)])
    listed = office.cli("devices", "list").stdout
    assert "GEKÜRZT" in listed or "NEU GESCHRIEBEN" in listed


def test_an_entry_rewritten_under_its_old_hash_is_reported_after_anyones_next_sync(
    profile: ProfileFixture, office: Office, tmp_path: Path
) -> None:
    """She changes what an old entry says and leaves its stored hash (and every later
    one) as it was: the device computes the chain from the entries' contents, so the head
    the office kept no longer matches, whoever syncs next."""
    enrol_device(profile, office, tmp_path)
    own = _sync(profile, COUNSELLOR, COUNSELLOR_PASSWORD, records=1, seed=3)
    assert "WARNUNG" not in _imported(office)
    _attacker_sql(
        profile,
        (
            "UPDATE audit_log SET details = ? WHERE seq = ?",
            ('{"note": "nichts geschehen"}', own - 1),
        ),
    )
    _sync(profile, SUPERVISOR, SUPERVISOR_PASSWORD, records=1, seed=4)
    imported = _imported(office)
    assert "WARNUNG" in imported
    problems = office.rows(sa.select(central_db.device_audit_problems))
    assert [(p.kind, p.seq) for p in problems] == [("rewritten", own)]
    assert "NEU GESCHRIEBEN" in office.cli("devices", "list").stdout


def test_a_log_renumbered_below_one_is_reported_at_the_next_sync(
    profile: ProfileFixture, office: Office, tmp_path: Path
) -> None:
    """She cuts, renumbers every entry below 1 and puts the triggers back: the device
    still walks every row, numbers new entries from 1 on, and the office finds its head
    changed (attacker run 28)."""
    enrol_device(profile, office, tmp_path)
    own = _sync(profile, COUNSELLOR, COUNSELLOR_PASSWORD, records=1, seed=3)
    colleague = _sync(profile, SUPERVISOR, SUPERVISOR_PASSWORD, records=1, seed=4)
    assert own < colleague and "WARNUNG" not in _imported(office)
    _attacker_sql(
        profile,
        ("DELETE FROM audit_log WHERE seq > ?", (own,)),
        ("UPDATE audit_log SET seq = seq - 1000000", ()),
        (
            "UPDATE trust_state SET (anchor_seq, anchor_hash, anchor_signer, anchor_signature)"
            " = (SELECT seq, hash, signer, signature FROM audit_log ORDER BY seq DESC LIMIT 1)",
            (),
        ),
    )
    _sync(profile, COUNSELLOR, COUNSELLOR_PASSWORD, records=1, seed=5)
    assert "WARNUNG" in _imported(office)
    problems = office.rows(sa.select(central_db.device_audit_problems))
    assert len(problems) == 1 and problems[0].kind in ("cut", "rewritten")


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("details", '{"x": "\\ud800"}'),  # a lone surrogate
        ("details", b"\xff\x00\xfe"),  # a BLOB where text belongs
        ("actor", b"\xff\x00\xfe"),
        ("details", "[" * 100_000 + "]" * 100_000),  # nested too deep to read back
    ],
    ids=["surrogate", "blob-details", "blob-actor", "deep"],
)
def test_an_entry_made_unreadable_stops_no_sync_and_is_reported(
    profile: ProfileFixture, office: Office, tmp_path: Path, column: str, value: object
) -> None:
    """An old entry given a value the program never writes: the walk hashes what is
    there instead of failing, the batch leaves, and the office reports the changed entry
    (attacker runs 28 and 29)."""
    enrol_device(profile, office, tmp_path)
    own = _sync(profile, COUNSELLOR, COUNSELLOR_PASSWORD, records=1, seed=3)
    assert "WARNUNG" not in _imported(office)
    _attacker_sql(profile, (f"UPDATE audit_log SET {column} = ? WHERE seq = 2", (value,)))
    _sync(profile, SUPERVISOR, SUPERVISOR_PASSWORD, records=1, seed=4)
    assert "WARNUNG" in _imported(office)
    problems = office.rows(sa.select(central_db.device_audit_problems))
    assert [(p.kind, p.seq) for p in problems] == [("rewritten", own)]


def test_a_stick_imported_after_a_later_network_sync_is_no_cut(
    profile: ProfileFixture, office: Office, tmp_path: Path
) -> None:
    """Honest order of arrival: her batch goes on a stick, her supervisor syncs over the
    network, then the stick reaches the office. Nothing is reported (attacker run 28 saw
    a false alarm here)."""
    enrol_device(profile, office, tmp_path)
    stick = tmp_path / "stick"
    stick.mkdir()
    ws = profile.sign_in(COUNSELLOR)
    try:
        finalised(ws, 1, seed=3)
        assert ws.sync.write_to_folder(stick).batches_sent >= 1
    finally:
        ws.close()
    _sync(profile, SUPERVISOR, SUPERVISOR_PASSWORD, records=1, seed=4)
    assert "WARNUNG" not in _imported(office)
    late = office.cli("import", "--from-dir", str(stick)).stdout
    assert "importiert" in late and "WARNUNG" not in late
    assert office.rows(sa.select(central_db.device_audit_problems)) == []


@pytest.mark.parametrize(
    "details",
    [
        '{"audit_seq": 1, "x": ' + "[" * 100_000 + "]" * 100_000 + "}",  # too deep
        '{"audit_seq": 9223372036854775808}',  # beyond what a header can name
        '["audit_seq"]',  # no object
    ],
    ids=["deep", "too-big", "no-object"],
)
def test_a_sync_record_the_program_never_wrote_stops_no_sync(
    profile: ProfileFixture, office: Office, tmp_path: Path, details: str
) -> None:
    """She cuts the log and gives the newest remaining ``sync_prepared`` entry details no
    sync writes: the device reads no number from it, the batches still leave, and the
    office reports the cut (attacker run 30)."""
    enrol_device(profile, office, tmp_path)
    own = _sync(profile, COUNSELLOR, COUNSELLOR_PASSWORD, records=1, seed=3)
    colleague = _sync(profile, SUPERVISOR, SUPERVISOR_PASSWORD, records=1, seed=4)
    assert "WARNUNG" not in _imported(office)
    _attacker_sql(
        profile,
        ("DELETE FROM audit_log WHERE seq > ?", (own + 1,)),  # her sync_prepared is own + 1
        ("UPDATE audit_log SET details = ? WHERE action = 'sync_prepared'", (details,)),
    )
    _sync(profile, SUPERVISOR, SUPERVISOR_PASSWORD, records=1, seed=5)
    assert "WARNUNG" in _imported(office)
    problems = office.rows(sa.select(central_db.device_audit_problems))
    assert [p.kind for p in problems] in (["cut"], ["rewritten"]) and colleague > own
