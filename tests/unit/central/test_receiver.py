"""The receiver's refusals, idempotency and logging (served by uvicorn on 127.0.0.1)."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from intake_app.central import db
from intake_app.central.receiver import create_app
from intake_app.central.registry import revoke_device
from intake_app.sync import keys
from intake_app.sync.batch import build_batch
from intake_app.sync.keys import EncryptionPrivateKey
from intake_app.sync.receipt import ReceiptStatus, verify_receipt
from intake_app.sync.transport_folder import write_batches
from tests.unit.central.harness import Central, serve
from tests.unit.sync.factories import make_payload, make_record

BATCH = "/v1/batches"


@pytest.fixture
def client(sqlite_central: Central) -> Iterator[httpx.Client]:
    app = create_app(sqlite_central.receiver(max_batch_bytes=256 * 1024))
    with serve(app) as url, httpx.Client(base_url=url, timeout=10) as http:
        yield http


def _post(client: httpx.Client, data: bytes) -> tuple[int, dict[str, object] | bytes]:
    response = client.post(BATCH, content=data)
    if response.status_code == 200:
        return 200, response.content
    return response.status_code, response.json()


def test_batch_is_stored_and_answered_with_the_same_receipt(
    client: httpx.Client, sqlite_central: Central
) -> None:
    identity = sqlite_central.enrol()
    batch = build_batch(make_payload(3), identity=identity)
    status, first = _post(client, batch.data)
    assert status == 200 and isinstance(first, bytes)
    receipt = verify_receipt(
        first,
        trusted=identity.office_signing_keys,
        device_id=identity.device_id,
        batch_id=batch.batch_id,
        batch_sha384=batch.sha384,
    )
    assert receipt.status == ReceiptStatus.STORED
    assert _post(client, batch.data) == (200, first)
    stored = sqlite_central.home.batches_dir / identity.device_id / f"{batch.batch_id}.ibatch"
    assert stored.read_bytes() == batch.data
    assert sqlite_central.count(db.batches) == 1


@pytest.mark.parametrize(
    ("mutate", "status", "reason"),
    [
        (lambda d: d[: len(d) - 96], 401, "unsigned"),
        (lambda d: d[:-1] + bytes([d[-1] ^ 1]), 401, "bad_signature"),
        (lambda d: d[:100], 400, "truncated"),
        (lambda d: b"GET / HTTP/1.1\r\n" + d, 400, "bad_magic"),
        (lambda d: b"", 400, "truncated"),
    ],
)
def test_malformed_and_unsigned_batches_are_refused(
    client: httpx.Client, sqlite_central: Central, mutate: object, status: int, reason: str
) -> None:
    identity = sqlite_central.enrol()
    data = build_batch(make_payload(1), identity=identity).data
    assert _post(client, mutate(data)) == (status, {"error": reason})  # type: ignore[operator]
    assert sqlite_central.count(db.batches) == 0


def test_oversized_batches_are_refused_before_reading_them(
    client: httpx.Client, sqlite_central: Central
) -> None:
    identity = sqlite_central.enrol()
    record = make_record(padding=400_000)
    big = build_batch(
        {"records": [record], "instructions": []}, identity=identity, compression="none"
    )
    assert _post(client, big.data) == (413, {"error": "too_large"})

    def chunks() -> Iterator[bytes]:
        yield big.data[: len(big.data) // 2]
        yield big.data[len(big.data) // 2 :]

    # without a Content-Length an upload is not read at all
    response = client.post(BATCH, content=chunks())
    assert (response.status_code, response.json()) == (411, {"error": "length_required"})


def test_device_checks(client: httpx.Client, sqlite_central: Central) -> None:
    known = sqlite_central.enrol("laptop-a")
    pending = sqlite_central.enrol("laptop-b", register=False)
    unknown = replace(known, device_id=str(uuid.uuid4()))
    impostor = replace(sqlite_central.enrol("laptop-c"), device_id=known.device_id)
    for identity, status, reason in (
        (unknown, 403, "unknown_device"),
        (pending, 403, "not_registered"),
        (impostor, 401, "device_key_mismatch"),
    ):
        assert _post(client, build_batch(make_payload(1), identity=identity).data) == (
            status,
            {"error": reason},
        )
    revoke_device(sqlite_central.engine, "laptop-a")
    assert _post(client, build_batch(make_payload(1), identity=known).data) == (
        403,
        {"error": "revoked"},
    )


def test_batch_for_a_key_the_office_does_not_have(
    client: httpx.Client, sqlite_central: Central
) -> None:
    identity = sqlite_central.enrol()
    foreign = EncryptionPrivateKey.generate().public_key()
    lost = replace(
        identity,
        office_encryption_keys={foreign.key_id: foreign},
        current_office_key_id=foreign.key_id,
    )
    assert _post(client, build_batch(make_payload(1), identity=lost).data) == (
        400,
        {"error": "unknown_office_key"},
    )


def test_reused_batch_id_is_a_conflict(client: httpx.Client, sqlite_central: Central) -> None:
    identity = sqlite_central.enrol()
    first = build_batch(make_payload(1, seed=1), identity=identity)
    second = build_batch(make_payload(1, seed=2), identity=identity, batch_id=first.batch_id)
    assert _post(client, first.data)[0] == 200
    assert _post(client, second.data) == (409, {"error": "batch_id_conflict"})


def test_refusals_are_logged_without_personal_data(
    client: httpx.Client, sqlite_central: Central, caplog: pytest.LogCaptureFixture
) -> None:
    identity = replace(sqlite_central.enrol(), device_id=str(uuid.uuid4()))
    record = make_record(family_name="Zyxwvut-Kanarienvogel")
    data = build_batch({"records": [record], "instructions": []}, identity=identity).data
    with caplog.at_level(logging.INFO, logger="intake"):
        _post(client, data)
    text = caplog.text
    assert "reason=unknown_device" in text and identity.device_id in text
    assert "Kanarienvogel" not in text and "Amal" not in text


def test_receiver_holds_no_decryption_key(sqlite_central: Central) -> None:
    receiver = sqlite_central.receiver()
    values = [getattr(receiver, f.name) for f in dataclasses.fields(receiver)]
    flat = values + [v for value in values if isinstance(value, dict) for v in value.values()]
    assert not any(isinstance(v, EncryptionPrivateKey) for v in flat)
    private = [v for v in flat if isinstance(v, ec.EllipticCurvePrivateKey)]
    assert [keys.signing_key_id(k.public_key()) for k in private] == [
        keys.signing_key_id(sqlite_central.receipt_key.public_key())
    ]
    assert keys.signing_key_id(receiver.signing_key.public_key()) != sqlite_central.fingerprint


def test_health_and_unknown_routes(client: httpx.Client) -> None:
    assert client.get("/v1/health").json()["status"] == "ok"
    assert client.get("/v1/forms/..%2F..%2Fkeys/1").status_code == 404
    assert client.get("/v1/forms/intake/nope").status_code == 404
    assert client.get("/v1/receipts").status_code == 401
    assert client.get("/v1/batches").status_code == 405


def test_batch_imported_from_a_folder_then_posted_gets_one_receipt(
    client: httpx.Client, sqlite_central: Central, tmp_path: Path
) -> None:
    identity = sqlite_central.enrol()
    batch = build_batch(make_payload(2), identity=identity)
    stick = tmp_path / "stick"
    stick.mkdir()
    write_batches(stick, [batch])
    sqlite_central.importer().run(folder=stick)
    first = _post(client, batch.data)
    assert first[0] == 200
    assert _post(client, batch.data) == first
