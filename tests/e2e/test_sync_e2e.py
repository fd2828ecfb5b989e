"""End to end: devices and a real receiver process on 127.0.0.1, the real command line.

Deliver; resend without duplicates; kill the client mid-upload and resume; tamper with
each part of a batch; replay; wrong office key; revoked device; expired enrolment token;
USB round trip; the same into PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import signal
import struct
import subprocess
import sys
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from intake_app.central import db
from intake_app.errors import SyncError, SyncErrorKind
from intake_app.sync.batch import build_batch, build_batches, parse_batch
from intake_app.sync.enrolment import build_registration, create_identity, read_enrolment
from intake_app.sync.errors import EnrolmentError
from intake_app.sync.keys import EncryptionPrivateKey
from intake_app.sync.receipt import ReceiptStatus
from intake_app.sync.transport_folder import (
    read_receipts,
    remove_answered_batches,
    write_batches,
)
from intake_app.sync.transport_http import SyncClient, register_online
from tests.e2e.conftest import FAST, Office
from tests.unit.sync.factories import erasure, make_payload, make_record

pytestmark = pytest.mark.e2e


def export_rows(office: Office, tmp_path: Path) -> list[dict[str, str]]:
    out = tmp_path / f"export-{uuid.uuid4().hex[:6]}.csv"
    office.cli("export", "--out", str(out))
    return list(csv.DictReader(io.StringIO(out.read_text("utf-8-sig"))))


def test_deliver_import_and_export(office: Office, tmp_path: Path) -> None:
    identity, _token = office.enrol("laptop-koeln-01")
    payload = make_payload(25)
    batches = build_batches(payload, identity=identity, max_batch_bytes=12 * 1024)
    assert len(batches) > 1
    with SyncClient(identity, settings=FAST) as client:
        receipts = client.send_batches(batches)
    delivered = set().union(*(r.delivered_records for r in receipts))
    assert delivered == {(r["id"], r["revision"]) for r in payload["records"]}
    result = office.cli("import")
    assert "0 in Quarantäne" in result.stdout
    rows = export_rows(office, tmp_path)
    assert {(r["record_id"], int(r["revision"])) for r in rows} == delivered
    with SyncClient(identity, settings=FAST) as client:
        imported = client.fetch_receipts()
    assert {r.status for r in imported} == {ReceiptStatus.IMPORTED}
    assert len(imported) == len(batches)


def test_resend_never_duplicates(office: Office, tmp_path: Path) -> None:
    identity, _ = office.enrol("laptop-2")
    payload = make_payload(4)
    batch = build_batch(payload, identity=identity)
    with SyncClient(identity, settings=FAST) as client:
        first = client.send_batch(batch)
        second = client.send_batch(batch)
        assert second.raw == first.raw
        office.cli("import")
        # The device lost the receipt and puts the same records into a new batch.
        again = client.send_batch(build_batch(payload, identity=identity))
    assert again.delivered_records == first.delivered_records
    out = office.cli("import").stdout
    assert "duplicate 4" in out
    assert office.count(db.records) == 4
    assert len(export_rows(office, tmp_path)) == 4


def test_client_killed_mid_upload_then_resumes(office: Office, tmp_path: Path) -> None:
    identity, _ = office.enrol("laptop-3")
    records = [make_record(padding=20_000) for _ in range(40)]
    batch = build_batch(
        {"records": records, "instructions": []}, identity=identity, compression="none"
    )
    assert len(batch.data) > 500_000
    identity_file = tmp_path / "identity.json"
    identity_file.write_text(identity.to_json())
    batch_file = tmp_path / "outbox.ibatch"
    batch_file.write_bytes(batch.data)
    client = subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.upload_client", str(identity_file), str(batch_file)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert client.stdout is not None
    seen = 0
    for line in client.stdout:
        if line.startswith("progress"):
            seen += 1
            if seen == 5:
                client.send_signal(signal.SIGKILL)
                break
    client.wait(timeout=10)
    assert client.returncode == -signal.SIGKILL
    # Nothing half-written at the office, the outbox file untouched.
    assert office.count(db.batches) == 0
    assert not list((office.home / "batches").rglob("*.ibatch"))
    assert batch_file.read_bytes() == batch.data
    resumed = subprocess.run(
        [sys.executable, "-m", "tests.e2e.upload_client", str(identity_file), str(batch_file)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert resumed.returncode == 0 and "delivered" in resumed.stdout
    office.cli("import")
    assert office.count(db.records) == 40


def _regions(data: bytes) -> dict[str, int]:
    """An offset inside each part of a batch."""
    sealed = parse_batch(data)
    header_start = 14
    recipients = header_start + len(sealed.header_bytes) + 1
    nonce = recipients + 16 + 2 + len(sealed.recipients[0].sealed)
    ciphertext = nonce + 12 + 4
    return {
        "magic": 2,
        "version": 9,
        "header": header_start + len(sealed.header_bytes) // 2,
        "recipient_kid": recipients + 3,
        "sealed_key": recipients + 18 + 100,
        "nonce": nonce + 5,
        "ciphertext_length": ciphertext - 2,
        "ciphertext": ciphertext + len(sealed.ciphertext) // 2,
        "signature": len(data) - 10,
    }


def test_tampering_with_each_part_is_refused_and_quarantined(
    office: Office, tmp_path: Path
) -> None:
    identity, _ = office.enrol("laptop-4")
    stick = tmp_path / "stick"
    stick.mkdir()
    with httpx.Client(base_url=office.url, timeout=10) as http:
        for part, offset in _regions(build_batch(make_payload(2), identity=identity).data).items():
            data = bytearray(build_batch(make_payload(2), identity=identity).data)
            data[offset] ^= 0x04
            response = http.post("/v1/batches", content=bytes(data))
            assert response.status_code in (400, 401), part
            assert response.json()["error"] in {
                "bad_magic",
                "unsupported_version",
                "header_invalid",
                "recipients_invalid",
                "bad_signature",
                "truncated",
                "trailing_data",
                "unsigned",
            }, part
            (stick / f"intake-{part}.ibatch").write_bytes(bytes(data))
    assert office.count(db.batches) == 0
    good = build_batch(make_payload(1), identity=identity)
    write_batches(stick, [good])
    result = office.cli("import", "--from-dir", str(stick))
    assert "9 in Quarantäne" in result.stdout
    assert office.count(db.records) == 1
    refused = (office.home / "logs" / "central.log").read_text() + office.log.read_text()
    assert "reason=bad_signature" in refused


def test_replays(office: Office, tmp_path: Path) -> None:
    identity, _ = office.enrol("laptop-5")
    record_id = str(uuid.uuid4())
    old = build_batch(
        {"records": [make_record(record_id=record_id, revision=1)], "instructions": []},
        identity=identity,
    )
    new = build_batch(
        {"records": [make_record(record_id=record_id, revision=2)], "instructions": []},
        identity=identity,
    )
    with SyncClient(identity, settings=FAST) as client:
        client.send_batch(new)
        office.cli("import")
        client.send_batch(old)  # an old batch arrives after the newer revision
        office.cli("import")
        client.send_batch(new)  # and the newer one again
    assert "schon importiert" not in office.cli("import").stdout  # nothing left to do
    rows = export_rows(office, tmp_path)
    assert [(r["record_id"], r["revision"]) for r in rows] == [(record_id, "2")]
    assert office.count(db.records) == 2
    forged = build_batch(make_payload(1), identity=identity, batch_id=new.batch_id)
    with httpx.Client(base_url=office.url, timeout=10) as http:
        response = http.post("/v1/batches", content=forged.data)
    assert (response.status_code, response.json()) == (409, {"error": "batch_id_conflict"})


def test_wrong_office_key(office: Office, tmp_path: Path) -> None:
    identity, _ = office.enrol("laptop-6")
    foreign = EncryptionPrivateKey.generate().public_key()
    misdirected = replace(
        identity,
        office_encryption_keys={foreign.key_id: foreign},
        current_office_key_id=foreign.key_id,
    )
    batch = build_batch(make_payload(1), identity=misdirected)
    with SyncClient(identity, settings=FAST) as client, pytest.raises(SyncError) as info:
        client.send_batch(batch)
    assert info.value.kind == SyncErrorKind.REJECTED and "unknown_office_key" in str(info.value)
    stick = tmp_path / "stick"
    stick.mkdir()
    write_batches(stick, [batch])
    assert "Quarantäne (wrong_key)" in office.cli("import", "--from-dir", str(stick)).stdout
    found = read_receipts(stick, identity=identity, expected={batch.batch_id: batch.sha384})
    assert [(r.status, r.reason) for r in found.receipts] == [(ReceiptStatus.REJECTED, "wrong_key")]


def test_revoked_device(office: Office) -> None:
    identity, _ = office.enrol("laptop-stolen")
    with SyncClient(identity, settings=FAST) as client:
        client.send_batch(build_batch(make_payload(1), identity=identity))
        office.cli("devices", "revoke", "laptop-stolen")
        with pytest.raises(SyncError) as info:
            client.send_batch(build_batch(make_payload(1), identity=identity))
    assert info.value.kind == SyncErrorKind.NOT_ENROLLED and "revoked" in str(info.value)
    assert "revoked" in office.cli("devices", "list").stdout
    office.cli("import")
    assert office.count(db.records) == 1


def test_expired_enrolment_token(office: Office) -> None:
    out = office.home.parent / "late.json"
    office.cli(
        "enrol",
        "--device",
        "laptop-late",
        "--server-url",
        office.url,
        "--out",
        str(out),
        "--valid-days",
        "1",
    )
    enrolment = read_enrolment(out.read_bytes())
    # The device refuses an expired file itself ...
    with pytest.raises(EnrolmentError) as local:
        read_enrolment(out.read_bytes(), now=datetime.now(UTC) + timedelta(days=2))
    assert local.value.reason == "expired"
    # ... and the office refuses the token once its time is up.
    engine = office.engine()
    with engine.begin() as conn:
        conn.execute(sa.update(db.devices).values(token_expires=datetime(2020, 1, 1, tzinfo=UTC)))
    engine.dispose()
    identity = create_identity(enrolment)
    with pytest.raises(SyncError) as info:
        register_online(
            build_registration(identity, token=enrolment.token), identity=identity, settings=FAST
        )
    assert info.value.kind == SyncErrorKind.NOT_ENROLLED and "expired" in str(info.value)
    assert "pending" in office.cli("devices", "list").stdout


def test_usb_round_trip(office: Office, tmp_path: Path) -> None:
    identity, _ = office.enrol("laptop-offline")
    record_id = str(uuid.uuid4())
    payload = make_payload(12, instructions=[erasure(record_id)])
    batches = build_batches(payload, identity=identity, max_batch_bytes=8 * 1024)
    stick = tmp_path / "usb"
    stick.mkdir()
    written = write_batches(stick, batches)
    assert len(written) == len(batches) > 1
    office.cli("import", "--from-dir", str(stick))
    expected = {b.batch_id: b.sha384 for b in batches}
    found = read_receipts(stick, identity=identity, expected=expected)
    assert found.invalid == []
    assert {r.batch_id for r in found.receipts} == set(expected)
    delivered = set().union(*(r.delivered_records for r in found.receipts))
    assert delivered == {(r["id"], r["revision"]) for r in payload["records"]}
    assert set().union(*(r.confirmed_erasures for r in found.receipts)) == {record_id}
    removed = remove_answered_batches(stick, found.receipts)
    assert sorted(removed) == sorted(written)
    assert list(stick.iterdir()) == []


@pytest.mark.postgres
def test_postgresql_end_to_end(pg_office: Office, tmp_path: Path) -> None:
    identity, _ = pg_office.enrol("laptop-pg")
    batches = build_batches(make_payload(30), identity=identity, max_batch_bytes=24 * 1024)
    with SyncClient(identity, settings=FAST) as client:
        client.send_batches(batches)
        client.send_batches(batches)
    stick = tmp_path / "stick"
    stick.mkdir()
    write_batches(stick, [build_batch(make_payload(3, seed=5), identity=identity)])
    pg_office.cli("import", "--from-dir", str(stick))
    pg_office.cli("import")
    assert pg_office.count(db.records) == 33
    assert pg_office.engine().dialect.name == "postgresql"
    assert len(export_rows(pg_office, tmp_path)) == 33
    stats = tmp_path / "stats.csv"
    pg_office.cli("export", "--statistics", "--out", str(stats))
    assert "intakes" in stats.read_text("utf-8-sig")


def test_struct_layout_matches_the_spec(office: Office) -> None:
    """The prefix is magic, version u16, header length u32 (big-endian) as documented
    (docs/batch-format.md §3: version 3 since hand-overs travel)."""
    identity, _ = office.enrol("laptop-spec")
    data = build_batch(make_payload(1), identity=identity).data
    magic, version, header_len = struct.unpack(">8sHI", data[:14])
    assert (magic, version) == (b"INTAKEB\x00", 3)
    assert data[14 : 14 + header_len].startswith(b'{"batch_id":')


def test_receiver_host_without_decryption_keys(office: Office, tmp_path: Path) -> None:
    """A second receiver with a key file of its own (its receipt key only, under its own
    passphrase), sharing database and batch folder."""
    import json
    import time

    from tests.e2e.conftest import central_command
    from tests.unit.central.harness import free_port

    identity, _ = office.enrol("laptop-edge")
    edge = tmp_path / "edge"
    edge.mkdir()
    edge_env = {**office.env, "INTAKE_RECEIVER_PASSPHRASE": "the edge receiver passphrase"}
    subprocess.run(
        central_command(
            "--home",
            str(office.home),
            "keys",
            "receiver-key",
            "--out",
            str(edge / "receiver-key.json"),
        ),
        env=edge_env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    for name in ("keyset.json", "root-public.pem"):
        (edge / name).write_bytes((office.home / name).read_bytes())
    edge_data = (edge / "receiver-key.json").read_text()
    assert "encryption" not in edge_data and len(json.loads(edge_data)["kdf"]["salt"]) > 0
    config = {
        "format": "intake-central",
        "version": 1,
        "database_url": office.database_url,
        "batches_dir": str(office.home / "batches"),
    }
    (edge / "config.json").write_text(json.dumps(config))
    denied = subprocess.run(
        central_command("--home", str(edge), "import"),
        env=office.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert denied.returncode == 1 and "keys.json" in denied.stderr
    port = free_port()
    process = subprocess.Popen(
        central_command("--home", str(edge), "serve", "--port", str(port)),
        env=edge_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(url + "/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        edge_identity = replace(identity, server_url=url)
        with SyncClient(edge_identity, settings=FAST) as client:
            # the new receiver's key reaches the device in the key set the root signed
            edge_identity = client.fetch_office_keys()
        assert edge_identity.key_set_serial == identity.key_set_serial + 1
        with SyncClient(edge_identity, settings=FAST) as client:
            receipt = client.send_batch(build_batch(make_payload(3), identity=edge_identity))
        assert receipt.status == ReceiptStatus.STORED
        assert receipt.office_key_id not in identity.office_signing_keys
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert "accepted 3" in office.cli("import").stdout
