"""A flood of refused requests writes a few lines, not one per request: refusals are
logged once per route, reason and client address and interval, then as one count
(docs/central-office.md, "Limits"). A real ``intake-central serve`` on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from intake_app.sync import device_auth, keys
from intake_app.sync.batch import build_batch
from tests.e2e.conftest import Office, _start
from tests.unit.sync.factories import make_payload

pytestmark = pytest.mark.e2e

INTERVAL = 3.0
MARKER = "Erika-Mustermann-0151"  # what a request may carry; never goes to the log
FIRST = re.compile(r"refused (\w+): reason=(\w+) client=(\S+)(?: |$)")
MORE = re.compile(r"refused (\w+): reason=(\w+) client=(\S+): (\d+) more in")


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Office]:
    home = tmp_path / "office"
    yield from _start(
        home,
        database_url=f"sqlite:///{home / 'central.db'}",
        serve_args=("--header-timeout", "2", "--refusal-log-seconds", str(INTERVAL)),
    )


def _counted(log: str) -> Counter[str]:
    """Refusals per route as the log tells them: first lines plus counts."""
    counted: Counter[str] = Counter()
    for line in log.splitlines():
        more = MORE.search(line)
        if more:
            counted[more.group(1)] += int(more.group(4))
            continue
        first = FIRST.search(line)
        if first:
            counted[first.group(1)] += 1
    return counted


def test_a_flood_of_refusals_writes_a_few_lines_with_the_counts(office: Office) -> None:
    identity, _ = office.enrol("laptop-genuine")
    log_file = office.home / "logs" / "central.log"
    fake = dataclasses.replace(
        identity, private_key_pem=keys.private_key_to_pem(keys.generate_signing_key())
    )
    junk = build_batch(make_payload(1), identity=fake)
    statuses: Counter[tuple[str, int]] = Counter()
    lock = threading.Lock()
    before = log_file.stat().st_size
    started = time.monotonic()

    def batches() -> None:
        with httpx.Client(timeout=10) as http:
            for _ in range(400):
                answer = http.post(
                    office.url + "/v1/batches",
                    content=junk.data,
                    headers={"Content-Type": "application/vnd.intake.batch", "X-Who": MARKER},
                )
                with lock:
                    statuses[("batch", answer.status_code)] += 1

    def receipts() -> None:
        with httpx.Client(timeout=10) as http:
            for _ in range(400):
                answer = http.get(
                    office.url + "/v1/receipts",
                    headers={device_auth.HEADER: f"2.{identity.device_id}.{MARKER}"},
                )
                with lock:
                    statuses[("receipts", answer.status_code)] += 1

    def garbage() -> None:
        parts = urlsplit(office.url)
        for _ in range(200):
            with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
                sock.sendall(f"{MARKER} \x01\x02 HTTP/9\r\n\r\n".encode())
                answer = sock.recv(200)
            with lock:
                statuses[("http", int(answer.split(b" ")[1]) if answer else 0)] += 1

    threads = [threading.Thread(target=work) for work in (batches, receipts, garbage)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    flood_seconds = time.monotonic() - started
    # every interval closes on its own: wait for the counts, however slow the machine
    expected = {
        "batch": statuses[("batch", 401)] + statuses[("batch", 429)],
        "receipts": statuses[("receipts", 401)],
        "http": statuses[("http", 400)],
    }
    deadline = time.monotonic() + 60
    while True:
        text = log_file.read_text("utf-8")
        counted = _counted(text)
        if all(counted[key] == n for key, n in expected.items()) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert sum(statuses.values()) == 1000, statuses
    assert expected == {"batch": 400, "receipts": 400, "http": 200}, statuses
    assert statuses[("batch", 429)] > 0  # the address was slowed down as well
    assert {key: counted[key] for key in expected} == expected, [
        line for line in text.splitlines() if "refused" in line
    ]
    lines = [line for line in text.splitlines() if "refused" in line]
    # at most two lines per key and interval (the first, then the count); four keys:
    # batch (device_key_mismatch, rate_limited), receipts, http
    intervals = flood_seconds / INTERVAL + 2
    assert len(lines) <= 2 * 4 * intervals, (len(lines), flood_seconds)
    grown = log_file.stat().st_size - before
    print(
        f"{sum(statuses.values())} refused requests in {flood_seconds:.1f} s: "
        f"{len(lines)} log lines, {grown} bytes"
    )
    assert grown < 200 * len(lines) + 2000
    assert MARKER not in text
