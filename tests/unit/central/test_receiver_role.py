"""Receivers under a PostgreSQL role of their own: two receivers on two ports share one
database, devices spread over both, nothing is lost or doubled, and the receiver's role
cannot select a decrypted record (docs/central-office.md, "A receiver of its own")."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest
import sqlalchemy as sa

from intake_app.central import db
from intake_app.central.receiver import create_app, load_receiver
from intake_app.sync.batch import build_batch
from intake_app.sync.identity import DeviceIdentity
from intake_app.sync.receipt import ReceiptStatus
from intake_app.sync.transport_http import SyncClient
from tests.e2e.conftest import FAST
from tests.unit.central.harness import Central, make_central, pg_base_url, pg_schema_url, serve
from tests.unit.sync.factories import make_payload

pytestmark = pytest.mark.postgres

#: What a receiver needs, and nothing more (the same statements stand in the guide).
RECEIVER_GRANTS = (
    "GRANT USAGE ON SCHEMA {schema} TO {role}",
    "GRANT SELECT, UPDATE ON {schema}.devices TO {role}",
    "GRANT SELECT, INSERT, UPDATE ON {schema}.batches TO {role}",
)


@pytest.fixture
def office_with_receiver_role(tmp_path) -> Iterator[tuple[Central, str]]:  # type: ignore[no-untyped-def]
    with pg_schema_url() as url:
        central = make_central(tmp_path / "office", url=url)
        schema = url.rsplit("search_path%3D", 1)[1]
        role = f"intake_receiver_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(pg_base_url())
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
            for statement in RECEIVER_GRANTS:
                conn.exec_driver_sql(statement.format(schema=schema, role=role))
        # The receiver's sessions run as that role (the test server trusts local peers
        # only, so the role is taken at session start instead of logging in with it).
        as_role = url.replace(
            f"search_path%3D{schema}", f"search_path%3D{schema}%20-crole%3D{role}"
        )
        try:
            yield central, as_role
        finally:
            central.engine.dispose()
            with admin.begin() as conn:
                conn.exec_driver_sql(f"DROP OWNED BY {role}")
                conn.exec_driver_sql(f"DROP ROLE {role}")
            admin.dispose()


def test_two_receivers_under_their_own_role_share_one_database(
    office_with_receiver_role: tuple[Central, str],
) -> None:
    central, receiver_url = office_with_receiver_role
    engines = [db.create_db_engine(receiver_url) for _ in range(2)]
    receivers = [
        load_receiver(central.home, engine=engine, receipt_key=central.receipt_key)
        for engine in engines
    ]
    devices = [central.enrol(f"laptop-{i:02d}") for i in range(8)]
    sent: dict[str, int] = {}
    failures: list[BaseException] = []
    lock = threading.Lock()
    with serve(create_app(receivers[0])) as first, serve(create_app(receivers[1])) as second:

        def device_run(index: int, identity: DeviceIdentity) -> None:
            try:
                for n in range(4):
                    url = (first, second)[(index + n) % 2]  # spread over both receivers
                    device = replace(identity, server_url=url)
                    batch = build_batch(make_payload(3, seed=index * 10 + n), identity=device)
                    with SyncClient(device, settings=FAST) as client:
                        receipt = client.send_batch(batch)
                        assert receipt.status == ReceiptStatus.STORED
                        # the same batch through the other receiver: the same receipt
                        other = replace(device, server_url=(second, first)[(index + n) % 2])
                    with SyncClient(other, settings=FAST) as again:
                        assert again.send_batch(batch).office_key_id == receipt.office_key_id
                    with lock:
                        sent[batch.batch_id] = 3
            except BaseException as exc:
                with lock:
                    failures.append(exc)

        threads = [threading.Thread(target=device_run, args=i) for i in enumerate(devices)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert failures == []
    outcomes = central.importer().run()
    assert sorted(str(o.batch_id) for o in outcomes if o.status == "imported") == sorted(sent)
    with central.engine.connect() as conn:
        records = conn.execute(sa.select(sa.func.count()).select_from(db.records)).scalar_one()
        stored = conn.execute(sa.select(sa.func.count()).select_from(db.batches)).scalar_one()
    assert (records, stored) == (sum(sent.values()), len(sent))
    # the receivers' role reads no record, no consent withdrawal, no erasure
    for table in (db.records, db.consent_withdrawals, db.erasures, db.record_heads):
        with engines[0].connect() as conn, pytest.raises(sa.exc.ProgrammingError) as info:
            conn.execute(sa.select(sa.func.count()).select_from(table))
        assert "permission denied" in str(info.value)
    for engine in engines:
        engine.dispose()
