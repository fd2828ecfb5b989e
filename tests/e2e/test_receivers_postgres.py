"""Two receivers behind one proxy, sharing only PostgreSQL (docs/central-office.md, "A
database role of its own").

Two real ``intake-central serve`` processes (one of them with two workers) listen on two
ports of 127.0.0.1. Each has a home folder of its own holding only ``config.json``, its
receiver key, the key set and the root's public key: no batch folder is shared. Both log
in with the role that ``intake-central db receiver-role`` set up. Devices spread their
batches over both; afterwards the importer loads every record exactly once, every sealed
batch is in the database and none on disk, and the receivers' role is refused reading
records, consent withdrawals, erasures or stored batches.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from intake_app.central import db
from intake_app.central.registry import revoke_device
from intake_app.sync.batch import build_batch
from intake_app.sync.identity import DeviceIdentity
from intake_app.sync.receipt import ReceiptStatus
from intake_app.sync.transport_http import SyncClient
from tests.e2e.conftest import FAST, central_command
from tests.unit.central.harness import (
    RECEIVER_PASSPHRASE,
    Central,
    free_port,
    make_central,
    pg_base_url,
    pg_schema_url,
)
from tests.unit.sync.factories import make_payload

pytestmark = pytest.mark.postgres

DEVICES = 8
BATCHES_PER_DEVICE = 4
RECORDS_PER_BATCH = 3


@pytest.fixture
def office(tmp_path: Path) -> Iterator[tuple[Central, str, str]]:
    """The importer's office on a fresh schema, and the receiver role set up by the
    program's own command; yields the office, the role and the receivers' database URL."""
    with pg_schema_url() as url:
        central = make_central(tmp_path / "office", url=url)
        role = f"intake_receiver_{uuid.uuid4().hex[:8]}"
        secret = tmp_path / "receiver-db-password"
        secret.write_text("a password for the receiver role\n")
        done = subprocess.run(
            central_command(
                "--home",
                str(central.home.root),
                "db",
                "receiver-role",
                "--role",
                role,
                "--role-password-file",
                str(secret),
            ),
            env=os.environ.copy(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert role in done.stdout
        with central.engine.connect() as conn:  # the server holds a SCRAM verifier only
            stored = conn.execute(
                sa.text("SELECT rolpassword FROM pg_authid WHERE rolname = :r"), {"r": role}
            ).scalar_one()
        assert stored.startswith("SCRAM-SHA-256$") and "password" not in stored
        schema = url.rsplit("search_path%3D", 1)[1]
        # The test server trusts local peers only, so the receivers take the role at the
        # start of each session instead of logging in with it.
        as_role = url.replace(
            f"search_path%3D{schema}", f"search_path%3D{schema}%20-crole%3D{role}"
        )
        try:
            yield central, role, as_role
        finally:
            central.engine.dispose()
            admin = sa.create_engine(pg_base_url())
            with admin.begin() as conn:
                conn.exec_driver_sql(f"DROP OWNED BY {role}")
                conn.exec_driver_sql(f"DROP ROLE {role}")
            admin.dispose()


def _receiver_home(central: Central, folder: Path, database_url: str) -> Path:
    """What a receiver host holds: config, its key, the key set, the root's public key."""
    folder.mkdir(mode=0o700)
    for name in ("receiver-key.json", "keyset.json", "root-public.pem"):
        shutil.copyfile(central.home.root / name, folder / name)
    config = {"format": "intake-central", "version": 1, "database_url": database_url}
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def _serve(home: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "INTAKE_RECEIVER_PASSPHRASE": RECEIVER_PASSPHRASE}
    process = subprocess.Popen(
        central_command("--home", str(home), "serve", "--port", str(port), *extra),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(home / "serve.log").open("wb"),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/v1/health", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError((home / "serve.log").read_text())
        time.sleep(0.1)


def test_two_receivers_share_one_postgresql_and_cannot_read_records(
    office: tuple[Central, str, str], tmp_path: Path
) -> None:
    central, _role, as_role = office
    homes = [_receiver_home(central, tmp_path / f"edge-{n}", as_role) for n in (1, 2)]
    devices = [central.enrol(f"laptop-{i:02d}") for i in range(DEVICES)]
    sent: dict[str, int] = {}
    failures: list[BaseException] = []
    lock = threading.Lock()
    first, first_url = _serve(homes[0])
    second, second_url = _serve(homes[1], "--workers", "2")
    urls = (first_url, second_url)
    try:

        def device_run(index: int, identity: DeviceIdentity) -> None:
            try:
                for n in range(BATCHES_PER_DEVICE):
                    here = replace(identity, server_url=urls[(index + n) % 2])
                    payload = make_payload(RECORDS_PER_BATCH, seed=index * 100 + n)
                    batch = build_batch(payload, identity=here)
                    with SyncClient(here, settings=FAST) as client:
                        receipt = client.send_batch(batch)
                    assert receipt.status == ReceiptStatus.STORED
                    # the same batch through the other receiver: stored once, same answer
                    there = replace(identity, server_url=urls[(index + n + 1) % 2])
                    with SyncClient(there, settings=FAST) as client:
                        again = client.send_batch(batch)
                    assert again == receipt
                    with lock:
                        sent[batch.batch_id] = RECORDS_PER_BATCH
            except BaseException as exc:
                with lock:
                    failures.append(exc)

        threads = [threading.Thread(target=device_run, args=pair) for pair in enumerate(devices)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=180)
    finally:
        for process in (first, second):
            process.terminate()
        for process in (first, second):
            process.wait(timeout=30)
    assert failures == []
    assert len(sent) == DEVICES * BATCHES_PER_DEVICE
    # Every batch was stored once, whichever receiver (or worker) took it first.
    assert central.count(db.batch_blobs) == len(sent)

    outcomes = central.importer().run()
    imported = sorted(str(o.batch_id) for o in outcomes if o.status == "imported")
    assert imported == sorted(sent)
    assert central.count(db.records) == sum(sent.values())
    assert central.count(db.batches) == len(sent)
    assert central.importer().run() == []  # nothing left, nothing twice
    # The sealed batches are in the database, not in any folder.
    for folder in (central.home.root, *homes):
        assert list(folder.rglob("*.ibatch")) == []

    # The receivers' role: no record, withdrawal, erasure or stored batch can be read,
    # and what the importer decided cannot be changed.
    engine = db.create_db_engine(as_role)
    try:
        for table in (
            db.records,
            db.record_heads,
            db.consent_withdrawals,
            db.erasures,
            db.erased_statistics,
            db.pending_instructions,
            db.quarantine,
            db.batch_blobs,
            db.device_encryption_keys,
            db.handover_recipients,
        ):
            with engine.connect() as conn, pytest.raises(sa.exc.ProgrammingError) as info:
                conn.execute(sa.select(sa.func.count()).select_from(table))
            assert "permission denied" in str(info.value), table.name
        # of a hand-over only what it hands to the receiving device: no record id, no
        # sender, no request
        for column in (db.handovers.c.record_id, db.handovers.c.request):
            with engine.connect() as conn, pytest.raises(sa.exc.ProgrammingError) as info:
                conn.execute(sa.select(column))
            assert "permission denied" in str(info.value), column.name
        for statement in (
            db.batches.update().values(status="imported"),
            db.batch_blobs.delete(),
            db.handovers.update().values(status="sealed"),
            db.devices.update().values(name="taken-over"),
            # the columns it needs to register a device cannot replace a registered key
            db.devices.update().values(public_key_pem="-----BEGIN PUBLIC KEY-----"),
        ):
            with engine.begin() as conn, pytest.raises(sa.exc.ProgrammingError) as info:
                conn.execute(statement)
            assert "permission denied" in str(info.value) or "cannot be replaced" in str(info.value)
        revoke_device(central.engine, "laptop-00")
        with engine.begin() as conn, pytest.raises(sa.exc.ProgrammingError) as info:
            conn.execute(db.devices.update().values(status="active"))
        assert "stays revoked" in str(info.value)
        with engine.connect() as conn:  # what it needs, it may
            assert conn.execute(sa.select(sa.func.count()).select_from(db.devices)).scalar_one()
    finally:
        engine.dispose()
