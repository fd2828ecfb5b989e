"""A real central office for tests: home, keys, database, registered devices, a live server.

The office keys use lighter Argon2id parameters than production (the passphrase wrapping is
tested on its own); everything else is the real code: SQLite or PostgreSQL, the starlette
receiver served by uvicorn on 127.0.0.1, the importer.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.engine import Engine

from intake_app.central import db
from intake_app.central.home import Home
from intake_app.central.importer import Importer
from intake_app.central.keystore import (
    KeyStore,
    OfficeKeys,
    ReceiverKey,
    RootKey,
    publish_key_set,
)
from intake_app.central.receiver import Receiver, create_app, load_receiver
from intake_app.central.registry import enrol_device, register_device
from intake_app.kdf import KdfParams
from intake_app.sync import keys as sync_keys
from intake_app.sync.enrolment import (
    build_registration,
    create_identity,
    read_enrolment,
    read_registration,
)
from intake_app.sync.identity import DeviceIdentity, OfficeKeySet, verify_key_set_document

FAST_KDF = KdfParams(iterations=1, lanes=1, memory_kib=8 * 1024)
PASSPHRASE = "test passphrase for the office"
ROOT_PASSPHRASE = "test passphrase for the root key"
RECEIVER_PASSPHRASE = "test passphrase for the receiver"
PG_DEFAULT = "postgresql+psycopg:///intake_test?host=/var/run/postgresql"


def pg_base_url() -> str:
    return os.environ.get("INTAKE_TEST_PG_URL", PG_DEFAULT)


@contextlib.contextmanager
def pg_schema_url() -> Iterator[str]:
    """A fresh PostgreSQL schema for one test; fails (never skips) without a server."""
    base = pg_base_url()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@dataclass
class Central:
    """One office installation in a temporary folder."""

    home: Home
    engine: Engine
    keys: OfficeKeys
    store: KeyStore
    url: str
    root_key: ec.EllipticCurvePrivateKey
    receipt_key: ec.EllipticCurvePrivateKey

    @property
    def fingerprint(self) -> str:
        return sync_keys.signing_key_id(self.root_key.public_key())

    def publish(self, *, server_url: str | None = None) -> OfficeKeySet:
        """Sign the next key set with the root (after a rotation or revocation)."""
        return publish_key_set(
            self.store, root_key=self.root_key, out=self.home.key_set_path, server_url=server_url
        )

    def published_key_set(self) -> OfficeKeySet:
        return verify_key_set_document(
            self.home.key_set_path.read_bytes(), root=self.root_key.public_key()
        )

    def enrol(
        self,
        name: str | None = None,
        *,
        server_url: str = "http://127.0.0.1:9",
        register: bool = True,
        profile_root: str | None = None,
    ) -> DeviceIdentity:
        """Enrol a device and (by default) register its key, naming ``profile_root`` in the
        registration where given; returns its identity."""
        name = name or f"laptop-{uuid.uuid4().hex[:6]}"
        out = self.home.root / f"enrol-{name}.json"
        enrol_device(
            self.engine,
            name=name,
            server_url=server_url,
            key_set=self.published_key_set(),
            root_key=self.root_key,
            out=out,
            valid_for=timedelta(days=1),
        )
        enrolment = read_enrolment(out.read_bytes())
        identity = create_identity(enrolment)
        if register:
            registration = build_registration(
                identity, token=enrolment.token, profile_root=profile_root
            )
            register_device(self.engine, read_registration(registration))
        return identity

    def receiver(self, **kwargs: Any) -> Receiver:
        return load_receiver(self.home, engine=self.engine, receipt_key=self.receipt_key, **kwargs)

    def importer(self, **extra_keys: Any) -> Importer:
        keys = self.store.unlock(PASSPHRASE)
        return Importer(
            self.home,
            engine=self.engine,
            decryption_keys={**keys.encryption, **extra_keys},
            signing_key=keys.signing_key,
        )

    def count(self, table: sa.Table) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def make_central(root: Path, *, url: str | None = None) -> Central:
    home = Home(root)
    home.root.mkdir(parents=True, exist_ok=True)
    home.make_folders()
    database_url = url or home.default_database_url()
    engine = db.create_db_engine(database_url)
    db.upgrade(engine)
    store, keys = KeyStore.create(home.keys_path, passphrase=PASSPHRASE, params=FAST_KDF)
    _root, root_key = RootKey.create(
        home.root_key_path, passphrase=ROOT_PASSPHRASE, params=FAST_KDF
    )
    home.root_public_path.write_text(sync_keys.public_key_to_pem(root_key.public_key()))
    _receiver, receipt_key = ReceiverKey.create(
        home.receiver_key_path, passphrase=RECEIVER_PASSPHRASE, root_key=root_key, params=FAST_KDF
    )
    store.add_receiver_key(receipt_key.public_key())
    publish_key_set(store, root_key=root_key, out=home.key_set_path)
    home.write_config({"format": "intake-central", "version": 1, "database_url": database_url})
    return Central(
        home=home,
        engine=engine,
        keys=keys,
        store=store,
        url=database_url,
        root_key=root_key,
        receipt_key=receipt_key,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve(app: Any) -> Iterator[str]:
    """Run an ASGI app with uvicorn on 127.0.0.1 in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def receiver_app(central: Central, **kwargs: Any) -> Any:
    return create_app(central.receiver(**kwargs))
