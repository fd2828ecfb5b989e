"""HTTP transport against the real receiver served by uvicorn on 127.0.0.1.

Retries, back-off, timeouts, progress, cancel and the mapping of refusals to error kinds.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from intake_app.central import db
from intake_app.central.forms import publish_form
from intake_app.central.keystore import KeyStore
from intake_app.errors import SyncError, SyncErrorKind
from intake_app.sync.batch import build_batch
from intake_app.sync.enrolment import build_registration, read_enrolment
from intake_app.sync.identity import DeviceIdentity
from intake_app.sync.receipt import ReceiptStatus
from intake_app.sync.transport_http import HttpSettings, SyncClient, register_online
from tests.unit.central.harness import (
    PASSPHRASE,
    Central,
    free_port,
    make_central,
    receiver_app,
    serve,
)
from tests.unit.sync.factories import make_payload

FAST = HttpSettings(
    connect_timeout=2,
    read_timeout=5,
    write_timeout=5,
    attempts=3,
    backoff_initial=0.01,
    backoff_max=0.05,
)


class Flaky:
    """ASGI wrapper: counts requests to one path and answers the first ``failures`` with 503."""

    def __init__(
        self, app: Any, *, path: str = "/v1/batches", failures: int = 0, delay: float = 0
    ) -> None:
        self.app, self.path, self.failures, self.delay = app, path, failures, delay
        self.calls = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == self.path:
            self.calls += 1
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.calls <= self.failures:
                while (await receive()).get("more_body"):
                    pass
                await send({"type": "http.response.start", "status": 503, "headers": []})
                await send({"type": "http.response.body", "body": b'{"error":"busy"}'})
                return
        await self.app(scope, receive, send)


@pytest.fixture
def central(tmp_path: Path) -> Central:
    return make_central(tmp_path / "office")


@pytest.fixture
def live(central: Central) -> Iterator[tuple[Central, Flaky, str]]:
    flaky = Flaky(receiver_app(central))
    with serve(flaky) as url:
        yield central, flaky, url


def _identity(central: Central, url: str) -> DeviceIdentity:
    return replace(central.enrol(), server_url=url)


def _stored(central: Central) -> int:
    return central.count(db.batches)


def test_batch_is_delivered_with_a_verified_receipt(live: tuple[Central, Flaky, str]) -> None:
    central, _flaky, url = live
    identity = _identity(central, url)
    batch = build_batch(make_payload(4), identity=identity)
    seen: list[tuple[int, int]] = []
    settings = replace(FAST, chunk_size=512)
    with SyncClient(identity, settings=settings) as client:
        assert client.health()["status"] == "ok"
        receipt = client.send_batch(batch, progress=lambda done, total: seen.append((done, total)))
        again = client.send_batch(batch)
    assert receipt.status == ReceiptStatus.STORED
    assert receipt.delivered_records == frozenset(batch.records)
    assert again.raw == receipt.raw
    assert _stored(central) == 1
    assert len(seen) > 3 and seen[-1] == (len(batch.data), len(batch.data))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_several_batches_share_one_progress(live: tuple[Central, Flaky, str]) -> None:
    central, _flaky, url = live
    identity = _identity(central, url)
    batches = [build_batch(make_payload(2, seed=s), identity=identity) for s in range(3)]
    seen: list[int] = []
    answered: list[str] = []
    with SyncClient(identity, settings=FAST) as client:
        receipts = client.send_batches(
            batches,
            progress=lambda done, total: seen.append(done),
            on_receipt=lambda b, r: answered.append(b.batch_id),
        )
    assert [r.batch_id for r in receipts] == answered == [b.batch_id for b in batches]
    assert seen[-1] == sum(len(b.data) for b in batches)


def test_5xx_is_retried_with_backoff(live: tuple[Central, Flaky, str]) -> None:
    central, flaky, url = live
    flaky.failures = 2
    identity = _identity(central, url)
    batch = build_batch(make_payload(1), identity=identity)
    with SyncClient(identity, settings=FAST) as client:
        assert client.send_batch(batch).batch_id == batch.batch_id
    assert flaky.calls == 3


def test_retries_give_up_as_a_network_error(live: tuple[Central, Flaky, str]) -> None:
    central, flaky, url = live
    flaky.failures = 10
    identity = _identity(central, url)
    with SyncClient(identity, settings=FAST) as client, pytest.raises(SyncError) as info:
        client.send_batch(build_batch(make_payload(1), identity=identity))
    assert info.value.kind == SyncErrorKind.NETWORK
    assert flaky.calls == FAST.attempts
    assert _stored(central) == 0


def test_refusals_are_not_retried_and_map_to_kinds(live: tuple[Central, Flaky, str]) -> None:
    central, flaky, url = live
    stranger = replace(_identity(central, url), device_id="00000000-0000-4000-8000-000000000000")
    with SyncClient(stranger, settings=FAST) as client, pytest.raises(SyncError) as info:
        client.send_batch(build_batch(make_payload(1), identity=stranger))
    assert info.value.kind == SyncErrorKind.NOT_ENROLLED
    assert "unknown_device" in str(info.value)
    assert flaky.calls == 1


def test_untrusted_receipt_is_an_auth_error(live: tuple[Central, Flaky, str]) -> None:
    central, _flaky, url = live
    identity = _identity(central, url)
    naive = replace(identity, office_signing_keys={})
    with SyncClient(naive, settings=FAST) as client, pytest.raises(SyncError) as info:
        client.send_batch(build_batch(make_payload(1), identity=identity))
    assert info.value.kind == SyncErrorKind.AUTH


def test_cancel_during_upload_stores_nothing(live: tuple[Central, Flaky, str]) -> None:
    central, _flaky, url = live
    identity = _identity(central, url)
    batch = build_batch(make_payload(30), identity=identity, compression="none")
    cancel = threading.Event()
    settings = replace(FAST, chunk_size=1024)

    def progress(done: int, total: int) -> None:
        if done > total // 3:
            cancel.set()

    with SyncClient(identity, settings=settings, cancel=cancel) as client:
        with pytest.raises(SyncError) as info:
            client.send_batch(batch, progress=progress)
    assert info.value.kind == SyncErrorKind.CANCELLED
    time.sleep(0.2)
    assert _stored(central) == 0
    assert not list(central.home.batches_dir.rglob("*.ibatch"))


def test_cancel_interrupts_the_backoff_pause(live: tuple[Central, Flaky, str]) -> None:
    central, flaky, url = live
    flaky.failures = 100
    identity = _identity(central, url)
    cancel = threading.Event()
    slow = replace(FAST, attempts=10, backoff_initial=30, backoff_max=60)
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    with (
        SyncClient(identity, settings=slow, cancel=cancel) as client,
        pytest.raises(SyncError) as info,
    ):
        client.send_batch(build_batch(make_payload(1), identity=identity))
    assert info.value.kind == SyncErrorKind.CANCELLED
    assert time.monotonic() - started < 5


def test_read_timeout_is_a_network_error(central: Central) -> None:
    slow = Flaky(receiver_app(central), path="/v1/health", delay=2.0)
    with serve(slow) as url:
        identity = _identity(central, url)
        settings = replace(FAST, read_timeout=0.3, attempts=2)
        with SyncClient(identity, settings=settings) as client, pytest.raises(SyncError) as info:
            client.health()
    assert info.value.kind == SyncErrorKind.NETWORK
    assert slow.calls == 2


def test_unreachable_server_is_a_network_error(central: Central) -> None:
    identity = replace(central.enrol(), server_url=f"http://127.0.0.1:{free_port()}")
    with SyncClient(identity, settings=FAST) as client, pytest.raises(SyncError) as info:
        client.send_batch(build_batch(make_payload(1), identity=identity))
    assert info.value.kind == SyncErrorKind.NETWORK


def test_online_registration(live: tuple[Central, Flaky, str]) -> None:
    central, _flaky, url = live
    identity = replace(central.enrol(register=False, server_url=url), server_url=url)
    enrolment_file = next(central.home.root.glob("enrol-*.json"))
    token = read_enrolment(enrolment_file.read_bytes()).token
    registration = build_registration(identity, token=token)
    register_online(registration, identity=identity, settings=FAST)
    register_online(registration, identity=identity, settings=FAST)  # lost answer: again is fine
    with SyncClient(identity, settings=FAST) as client:
        assert client.send_batch(build_batch(make_payload(1), identity=identity)).status == "stored"
    with pytest.raises(SyncError) as info:
        other = replace(identity, private_key_pem=central.enrol().private_key_pem)
        register_online(build_registration(other, token=token), identity=other, settings=FAST)
    assert info.value.kind == SyncErrorKind.REJECTED
    assert "token_used" in str(info.value)


def test_expired_token_is_refused_online(live: tuple[Central, Flaky, str]) -> None:
    central, _flaky, url = live
    identity = replace(central.enrol(register=False), server_url=url)
    token = read_enrolment(next(central.home.root.glob("enrol-*.json")).read_bytes()).token
    with central.engine.begin() as conn:
        conn.execute(sa.update(db.devices).values(token_expires=datetime(2000, 1, 1, tzinfo=UTC)))
    with pytest.raises(SyncError) as info:
        register_online(build_registration(identity, token=token), identity=identity, settings=FAST)
    assert info.value.kind == SyncErrorKind.NOT_ENROLLED
    assert "expired" in str(info.value)


def test_keys_forms_and_import_receipts(live: tuple[Central, Flaky, str], tmp_path: Path) -> None:
    central, _flaky, url = live
    identity = _identity(central, url)
    source = tmp_path / "intake.yaml"
    source.write_text("id: intake\nversion: 2026.2\n", encoding="utf-8")
    publish_form(
        central.home,
        source=source,
        form_id="intake",
        version="2026.2",
        signing_key=central.root_key,
    )
    batch = build_batch(make_payload(2), identity=identity)
    with SyncClient(identity, settings=FAST) as client:
        forms = client.fetch_forms()
        assert [(f.form_id, f.version) for f in forms] == [("intake", "2026.2")]
        assert forms[0].content == source.read_bytes()
        assert client.fetch_forms(known=[("intake", "2026.2")]) == []
        client.send_batch(batch)
        assert client.fetch_receipts() == []
        central.importer().run()
        receipts = client.fetch_receipts()
        assert [r.status for r in receipts] == [ReceiptStatus.IMPORTED]
        assert receipts[0].delivered_records == frozenset(batch.records)
        assert client.fetch_office_keys().current_office_key_id == identity.current_office_key_id


def test_device_learns_rotated_keys(central: Central) -> None:
    identity = central.enrol()
    KeyStore(central.home.keys_path).rotate(passphrase=PASSPHRASE, encryption=True, signing=True)
    central.publish()
    with serve(receiver_app(central)) as url:
        identity = replace(identity, server_url=url)
        with SyncClient(identity, settings=FAST) as client:
            updated = client.fetch_office_keys()
        assert updated.current_office_key_id != identity.current_office_key_id
        assert updated.key_set_serial == identity.key_set_serial + 1
        # the importer's old and new receipt keys and the receiver's
        assert len(updated.office_signing_keys) == 3
        with SyncClient(updated, settings=FAST) as client:
            receipt = client.send_batch(build_batch(make_payload(1), identity=updated))
        assert receipt.office_key_id in updated.office_signing_keys
