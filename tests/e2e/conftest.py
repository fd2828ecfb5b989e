"""End-to-end fixtures: a real ``intake-central serve`` process on 127.0.0.1.

The office is set up with the real command line (``init``, ``enrol``), devices register
online against the running receiver, and tests drive the device side through the public
``intake_app.sync`` API.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from intake_app.central import db
from intake_app.sync import keys
from intake_app.sync.enrolment import build_registration, create_identity, read_enrolment
from intake_app.sync.identity import DeviceIdentity
from intake_app.sync.transport_http import HttpSettings, register_online
from tests.unit.central.harness import free_port, pg_schema_url

PASSPHRASE = "end to end office passphrase"
ROOT_PASSPHRASE = "end to end root key passphrase"
RECEIVER_PASSPHRASE = "end to end receiver passphrase"
FAST = HttpSettings(
    connect_timeout=2,
    read_timeout=10,
    write_timeout=10,
    attempts=3,
    backoff_initial=0.05,
    backoff_max=0.2,
)


def central_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "intake_app.central.cli", *args]


@dataclass
class Office:
    """A running office: home folder, database URL, receiver process and its URL."""

    home: Path
    url: str
    database_url: str
    process: subprocess.Popen[bytes]
    env: dict[str, str]
    log: Path

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            central_command("--home", str(self.home), *args),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"intake-central {args} failed: {result.stderr}")
        return result

    def enrol(self, name: str, *, register: bool = True) -> tuple[DeviceIdentity, str]:
        """Enrol through the CLI, create the device key, register online."""
        out = self.home.parent / f"enrol-{name}.json"
        self.cli("enrol", "--device", name, "--server-url", self.url, "--out", str(out))
        enrolment = read_enrolment(out.read_bytes())
        identity = create_identity(enrolment)
        if register:
            register_online(
                build_registration(identity, token=enrolment.token),
                identity=identity,
                settings=FAST,
            )
        return identity, enrolment.token

    @property
    def fingerprint(self) -> str:
        """The root key fingerprint ``init`` printed (what an administrator confirms)."""
        root = keys.public_key_from_pem((self.home / "root-public.pem").read_bytes())
        return keys.format_fingerprint(keys.signing_key_id(root))

    def engine(self) -> sa.Engine:
        return db.create_db_engine(self.database_url)

    def rows(self, statement: sa.Select[Any]) -> list[Any]:
        """Run one query against the office database (its own short-lived engine)."""
        engine = self.engine()
        try:
            with engine.connect() as conn:
                return list(conn.execute(statement).all())
        finally:
            engine.dispose()

    def count(self, table: sa.Table) -> int:
        return int(self.rows(sa.select(sa.func.count()).select_from(table))[0][0])


def _start(home: Path, *, database_url: str, serve_args: tuple[str, ...] = ()) -> Iterator[Office]:
    env = {
        **os.environ,
        "INTAKE_CENTRAL_PASSPHRASE": PASSPHRASE,
        "INTAKE_ROOT_PASSPHRASE": ROOT_PASSPHRASE,
        "INTAKE_RECEIVER_PASSPHRASE": RECEIVER_PASSPHRASE,
        "PYTHONUNBUFFERED": "1",
    }
    init = subprocess.run(
        central_command("--home", str(home), "init", "--database-url", database_url),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert init.returncode == 0, init.stderr
    port = free_port()
    log = home.parent / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            central_command(
                "--home",
                str(home),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                *serve_args,
            ),
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/v1/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"receiver did not start: {log.read_text()}")
        time.sleep(0.1)
    office = Office(
        home=home, url=url, database_url=database_url, process=process, env=env, log=log
    )
    try:
        yield office
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Office]:
    """An office on SQLite with its receiver running."""
    home = tmp_path / "office"
    yield from _start(home, database_url=f"sqlite:///{home / 'central.db'}")


@pytest.fixture
def strict_office(tmp_path: Path) -> Iterator[Office]:
    """An office whose receiver takes batches of at most 100,000 bytes."""
    home = tmp_path / "office"
    yield from _start(
        home,
        database_url=f"sqlite:///{home / 'central.db'}",
        serve_args=("--max-batch-bytes", "100000"),
    )


@pytest.fixture
def pg_office(tmp_path: Path) -> Iterator[Office]:
    """An office on PostgreSQL (a fresh schema) with its receiver running."""
    with pg_schema_url() as url:
        yield from _start(tmp_path / "office", database_url=url)


def with_url(identity: DeviceIdentity, office: Office) -> DeviceIdentity:
    return replace(identity, server_url=office.url)
