"""Shared set-up for the sync benchmarks: a throw-away office, devices, synthetic records.

Everything runs on 127.0.0.1 with the real receiver (``intake-central serve`` in its own
process, so client and server do not share one interpreter lock).
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import ec

from intake_app.central import db
from intake_app.central.home import Home
from intake_app.central.keystore import KeyStore, ReceiverKey, RootKey, publish_key_set
from intake_app.central.registry import enrol_device, register_device
from intake_app.kdf import KdfParams
from intake_app.sync import authors
from intake_app.sync import keys as sync_keys
from intake_app.sync.authors import AuthorKey
from intake_app.sync.enrolment import (
    build_registration,
    create_identity,
    read_enrolment,
    read_registration,
)
from intake_app.sync.identity import DeviceIdentity, verify_key_set_document

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's tests/
from tests.helpers.author_chain import key_certificate, user_row

PASSPHRASE = "benchmark office passphrase"
ROOT_PASSPHRASE = "benchmark root key passphrase"
RECEIVER_PASSPHRASE = "benchmark receiver passphrase"
SITES = ("Köln-Mülheim", "Düsseldorf-Mitte", "Bielefeld", "Dortmund-Nord", "Aachen")
DOCUMENTS = ("duldung_60a", "aufenthaltsgestattung_55", "aufenthaltserlaubnis_25_2", "fiktion_81")
GOALS = ("employment", "vocational_training", "study", "entry_qualification")
SERVICES = ("jobcenter", "iq_counselling", "mbe", "jmd", "language_course")


def office(root: Path, *, database_url: str | None = None) -> tuple[Home, KeyStore, str]:
    """Set up an office home (the passphrase KDF is kept at the production strength)."""
    home = Home(root)
    home.root.mkdir(parents=True, exist_ok=True)
    home.make_folders()
    url = database_url or home.default_database_url()
    db.upgrade(db.create_db_engine(url))
    store, _keys = KeyStore.create(home.keys_path, passphrase=PASSPHRASE, params=KdfParams())
    _root, root_key = RootKey.create(home.root_key_path, passphrase=ROOT_PASSPHRASE)
    home.root_public_path.write_text(sync_keys.public_key_to_pem(root_key.public_key()))
    _receiver, receipt_key = ReceiverKey.create(
        home.receiver_key_path, passphrase=RECEIVER_PASSPHRASE, root_key=root_key
    )
    store.add_receiver_key(receipt_key.public_key())
    publish_key_set(store, root_key=root_key, out=home.key_set_path)
    home.write_config({"format": "intake-central", "version": 1, "database_url": url})
    return home, store, url


def enrol(home: Home, store: KeyStore, url: str, *, name: str, server_url: str) -> DeviceIdentity:
    """Enrol and register one device."""
    return enrol_many(home, store, url, names=[name], server_url=server_url)[0]


def enrol_many(
    home: Home, store: KeyStore, url: str, *, names: list[str], server_url: str
) -> list[DeviceIdentity]:
    """Enrol and register several devices with one unlock of the office keys."""
    engine = db.create_db_engine(url)
    root_key = RootKey(home.root_key_path).unlock(ROOT_PASSPHRASE)
    key_set = verify_key_set_document(home.key_set_path.read_bytes(), root=root_key.public_key())
    identities = []
    for name in names:
        out = home.root / f"enrol-{name}.json"
        enrol_device(
            engine,
            name=name,
            server_url=server_url,
            key_set=key_set,
            root_key=root_key,
            out=out,
            valid_for=timedelta(days=1),
        )
        enrolment = read_enrolment(out.read_bytes())
        identity = create_identity(enrolment)
        registration = build_registration(identity, token=enrolment.token)
        register_device(engine, read_registration(registration))
        identities.append(replace(identity, server_url=server_url))
    engine.dispose()
    return identities


def supervisor_author() -> AuthorKey:
    """A supervisor's key and proof as a profile makes them (docs/security.md, "Batches
    signed by their sender"): a root; an administrator signed and certified by it; the
    supervisor signed and certified by the administrator. A supervisor may send every
    record of her device, so the office loads all of them."""
    root, admin, supervisor = (ec.generate_private_key(ec.SECP384R1()) for _ in range(3))
    chain = {
        "root": {"kid": authors.key_id(root), "public_key": authors.public_text(root)},
        "users": [
            user_row(1, "admin", authors.ADMIN, admin, root),
            user_row(2, "leitung", authors.SUPERVISOR, supervisor, admin),
        ],
        "keys": [key_certificate(1, admin, root), key_certificate(2, supervisor, admin)],
    }
    return AuthorKey(user_id=2, kid=authors.key_id(supervisor), key=supervisor, chain=chain)


def record(rng: random.Random) -> dict[str, Any]:
    """A synthetic finalised record of realistic size (about 1.5 KB of JSON)."""
    day = rng.randint(1, 28)
    month = rng.randint(1, 12)
    return {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "revision": rng.randint(1, 3),
        "form_id": "intake",
        "form_version": "2026.1",
        "status": "complete",
        "site": rng.choice(SITES),
        "counsellor": f"berater{rng.randint(1, 40):02d}",
        "created_at": f"2026-{month:02d}-{day:02d}T09:12:00Z",
        "finalised_at": f"2026-{month:02d}-{day:02d}T10:01:00Z",
        "answers": {
            "family_name": f"Nachname{rng.randint(1, 99999)}",
            "given_names": f"Vorname{rng.randint(1, 9999)}",
            "birth_date": f"19{rng.randint(60, 99)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
            "nationalities": [rng.choice(["SY", "AF", "UA", "ER", "IQ", "TR"])],
            "languages": [{"code": "ar", "mother_tongue": True}, {"code": "de", "level": "A2"}],
            "residence_document": rng.choice(DOCUMENTS),
            "valid_until": f"2027-{month:02d}-{day:02d}",
            "goal_type": rng.choice(GOALS),
            "intake_date": f"2026-{month:02d}-{day:02d}",
            "education": [
                {"isced": rng.randint(1, 7), "country": "SY", "years": rng.randint(6, 16)}
            ],
            "work": [{"kldb": f"{rng.randint(10000, 99999)}", "years": rng.randint(0, 20)}],
            "referrals": [
                {"service": rng.choice(SERVICES), "date": f"2026-{month:02d}-{day:02d}"}
                for _ in range(rng.randint(0, 3))
            ],
            "notes": "".join(rng.choice("abcdefghijklmnopqrstuvwxyzäöü ") for _ in range(400)),
        },
        "consent": {
            "purposes": {
                "central_office": {"granted": True, "date": "2026-11-20", "withdrawn_on": None},
                "jobcenter_transfer": {
                    "granted": rng.random() < 0.5,
                    "date": "2026-11-20",
                    "withdrawn_on": None,
                },
            },
            "art9": False,
            "language": "ar",
            "interpreter": rng.random() < 0.3,
            "date": "2026-11-20",
        },
    }


def payload(count: int, *, seed: int = 1) -> dict[str, Any]:
    rng = random.Random(seed)
    return {"records": [record(rng) for _ in range(count)], "instructions": []}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def receiver(home: Home, *, workers: int = 1) -> Iterator[str]:
    """Run ``intake-central serve`` for ``home`` in a subprocess; yields its URL."""
    port = free_port()
    env = {**os.environ, "INTAKE_RECEIVER_PASSPHRASE": RECEIVER_PASSPHRASE}
    log = (home.root / "serve.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "intake_app.central.cli",
            "--home",
            str(home.root),
            "serve",
            "--port",
            str(port),
            *(["--workers", str(workers)] if workers != 1 else []),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    RECEIVER_PID[:] = [process.pid]
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url + "/v1/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("receiver did not start")
        time.sleep(0.1)
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


@contextlib.contextmanager
def pg_schema(base_url: str) -> Iterator[str]:
    """A fresh PostgreSQL schema (dropped afterwards); yields a URL that uses it."""
    import sqlalchemy as sa

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base_url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in base_url else "?"
    try:
        yield f"{base_url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


PG_DEFAULT = "postgresql+psycopg:///intake_test?host=/var/run/postgresql"


#: The process id of the receiver that :func:`receiver` started last.
RECEIVER_PID: list[int] = []


def _proc_cpu(match: Callable[[int, str, list[str]], bool]) -> float:
    """User and system CPU seconds of the processes ``match(pid, name, stat fields)``
    selects, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            head, tail = (entry / "stat").read_text().rsplit(")", 1)
        except OSError:
            continue
        fields = tail.split()
        if match(int(entry.name), head.split("(", 1)[1], fields):
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def postgres_cpu_seconds() -> float:
    """CPU seconds of every PostgreSQL server process on the machine (its backends
    serve the receiver and the importer while a bench runs)."""
    return _proc_cpu(lambda _pid, name, _fields: name == "postgres")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process and its direct children (the workers), from
    /proc: a figure that does not depend on how busy the rest of the machine is."""
    return _proc_cpu(lambda entry, _name, fields: entry == pid or int(fields[1]) == pid)


def rate(count: float, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s" if seconds > 0 else "-"
