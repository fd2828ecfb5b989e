"""A one-time registration token registers one device, even when 20 requests race for it
on a real receiver (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import timedelta

import httpx
import sqlalchemy as sa

from intake_app.central import db
from intake_app.central.registry import enrol_device
from intake_app.sync.enrolment import build_registration, create_identity, read_enrolment
from tests.unit.central.harness import Central, receiver_app, serve


def test_twenty_concurrent_registrations_with_one_token_register_one_device(
    central: Central,
) -> None:
    out = central.home.root / "enrol-race.json"
    enrol_device(
        central.engine,
        name="laptop-race",
        server_url="http://127.0.0.1:9",
        key_set=central.published_key_set(),
        root_key=central.root_key,
        out=out,
        valid_for=timedelta(days=1),
    )
    enrolment = read_enrolment(out.read_bytes())
    identities = [create_identity(enrolment) for _ in range(20)]
    bodies = [build_registration(i, token=enrolment.token) for i in identities]
    results: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(len(bodies))
    with serve(receiver_app(central)) as url:

        def register(body: bytes) -> None:
            with httpx.Client(timeout=30) as client:
                start.wait()
                status = client.post(f"{url}/v1/register", content=body).status_code
            with lock:
                results.append(status)

        threads = [threading.Thread(target=register, args=(b,)) for b in bodies]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert sorted(results) == [200] + [409] * 19
    with central.engine.connect() as conn:
        rows = conn.execute(
            sa.select(db.devices.c.key_id, db.devices.c.status).where(
                db.devices.c.name == "laptop-race"
            )
        ).all()
    assert len(rows) == 1 and rows[0].status == "active"
    assert rows[0].key_id in {i.key_id for i in identities}
