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
from tests.conftest import COUNSELLOR, COUNSELLOR_PASSWORD, ProfileFixture
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
