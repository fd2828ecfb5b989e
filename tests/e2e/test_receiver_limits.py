"""A real ``intake-central serve`` under slow and unfinished clients stays within its limits:
slow headers are cut off, unfinished unsigned uploads share a bounded budget and time out,
memory comes back afterwards, and a genuine device still gets its batch in."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from intake_app.sync import device_auth, keys
from intake_app.sync.batch import build_batch
from intake_app.sync.receipt import ReceiptStatus
from intake_app.sync.transport_http import SyncClient
from tests.e2e.conftest import FAST, RECEIVER_PASSPHRASE, Office, _start
from tests.unit.sync.factories import make_payload

pytestmark = pytest.mark.e2e

LIMITS = (
    "--header-timeout",
    "1",
    "--body-timeout",
    "3",
    "--unauthenticated-mib",
    "16",
    "--max-connections",
    "100",
)
DECLARED = 8_000_000
SENT = 4 * 1024 * 1024


@pytest.fixture
def limited_office(tmp_path: Path) -> Iterator[Office]:
    home = tmp_path / "office"
    yield from _start(home, database_url=f"sqlite:///{home / 'central.db'}", serve_args=LIMITS)


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _connect(office: Office) -> socket.socket:
    parts = urlsplit(office.url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    return sock


def _closed_by_server(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def test_slow_headers_are_cut_off(limited_office: Office) -> None:
    sockets = [_connect(limited_office) for _ in range(30)]
    started = time.monotonic()
    for sock in sockets:
        sock.sendall(b"POST /v1/batches HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
    closed = [_closed_by_server(sock, within=8) for sock in sockets]
    elapsed = time.monotonic() - started
    for sock in sockets:
        sock.close()
    assert all(closed)
    assert elapsed < 12  # header limit 1 s, with room for a loaded machine


def test_unfinished_uploads_stay_within_the_budget_and_memory_comes_back(
    limited_office: Office,
) -> None:
    identity, _ = limited_office.enrol("laptop-genuine")
    pid = limited_office.process.pid
    baseline = _rss_kib(pid)
    peak = baseline
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _rss_kib(pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    answers: list[bytes] = []
    lock = threading.Lock()

    def unfinished_upload() -> None:
        sock = _connect(limited_office)
        try:
            sock.sendall(
                b"POST /v1/batches HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/vnd.intake.batch\r\n"
                + f"Content-Length: {DECLARED}\r\n\r\n".encode()
            )
            sock.settimeout(10)
            try:
                sock.sendall(b"\0" * SENT)
            except OSError:
                pass  # refused early: the server stopped reading
            answer = b""
            try:
                answer = sock.recv(200)
            except OSError:
                pass
            with lock:
                answers.append(answer.split(b"\r\n", 1)[0])
        finally:
            sock.close()

    threads = [threading.Thread(target=unfinished_upload) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    time.sleep(1.5)
    after = _rss_kib(pid)
    stop.set()
    sampler.join()
    statuses = sorted({a.decode(errors="replace") for a in answers})
    assert len(answers) == 40
    # only two 8 MB bodies fit in the 16 MiB budget at a time: the rest are told "busy",
    # and the unfinished ones run into the body time limit
    assert any("503" in s for s in statuses), statuses
    assert all(("503" in s) or ("408" in s) or s == "" for s in statuses), statuses
    grown_mib = (peak - baseline) / 1024
    kept_mib = (after - baseline) / 1024
    print(
        f"receiver RSS: baseline {baseline // 1024} MiB, peak +{grown_mib:.0f} MiB, "
        f"after +{kept_mib:.0f} MiB"
    )
    assert grown_mib < 80, grown_mib
    assert kept_mib < 40, kept_mib
    with SyncClient(identity, settings=FAST) as client:
        receipt = client.send_batch(build_batch(make_payload(2), identity=identity))
    assert receipt.status == ReceiptStatus.STORED


def test_signed_uploads_of_one_device_are_bounded_and_memory_comes_back(
    limited_office: Office,
) -> None:
    """A stolen or rogue device signs its requests: 30 unfinished 8 MB uploads, each with
    a header of its own naming an 8 MB body, are read at most two at a time; the rest are
    told "busy"."""
    identity, _ = limited_office.enrol("laptop-rogue")
    pid = limited_office.process.pid
    baseline = _rss_kib(pid)
    peak = baseline
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _rss_kib(pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    announced = b"\0" * DECLARED
    answers: list[bytes] = []
    lock = threading.Lock()

    def unfinished_signed_upload() -> None:
        auth = device_auth.make_header(identity, method="POST", path="/v1/batches", body=announced)
        sock = _connect(limited_office)
        try:
            sock.sendall(
                b"POST /v1/batches HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                + f"{device_auth.HEADER}: {auth}\r\nContent-Length: {DECLARED}\r\n\r\n".encode()
            )
            sock.settimeout(10)
            try:
                sock.sendall(b"\0" * SENT)
            except OSError:
                pass
            answer = b""
            try:
                answer = sock.recv(200)
            except OSError:
                pass
            with lock:
                answers.append(answer.split(b"\r\n", 1)[0])
        finally:
            sock.close()

    threads = [threading.Thread(target=unfinished_signed_upload) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    time.sleep(1.5)
    after = _rss_kib(pid)
    stop.set()
    sampler.join()
    busy = sum(b"503" in a for a in answers)
    grown_mib = (peak - baseline) / 1024
    kept_mib = (after - baseline) / 1024
    print(
        f"receiver RSS (signed flood): baseline {baseline // 1024} MiB, "
        f"peak +{grown_mib:.0f} MiB, after +{kept_mib:.0f} MiB; busy {busy}/30"
    )
    assert len(answers) == 30
    assert busy >= 26, sorted(set(answers))
    assert grown_mib < 60, grown_mib
    assert kept_mib < 30, kept_mib


def test_unsigned_junk_naming_a_device_does_not_use_up_its_rate(limited_office: Office) -> None:
    """Without the device's key, batches naming its id with a junk signature are refused
    and counted against the sender's address; the genuine device still gets through."""
    identity, _ = limited_office.enrol("laptop-genuine")
    fake = dataclasses.replace(
        identity, private_key_pem=keys.private_key_to_pem(keys.generate_signing_key())
    )
    junk = build_batch(make_payload(1), identity=fake)
    statuses: list[int] = []
    with httpx.Client(timeout=10) as client:
        for _ in range(80):  # more than the device's burst of 60
            response = client.post(
                limited_office.url + "/v1/batches",
                content=junk.data,
                headers={"Content-Type": "application/vnd.intake.batch"},
            )
            statuses.append(response.status_code)
        # the genuine device, at once and without a retry
        genuine = build_batch(make_payload(1), identity=identity)
        answer = client.post(
            limited_office.url + "/v1/batches",
            content=genuine.data,
            headers={
                "Content-Type": "application/vnd.intake.batch",
                device_auth.HEADER: device_auth.make_header(
                    identity, method="POST", path="/v1/batches", body=genuine.data
                ),
            },
        )
    assert 429 in statuses  # the sender's address is slowed down
    assert all(s in (401, 429) for s in statuses), sorted(set(statuses))
    assert answer.status_code == 200, answer.text


def test_the_receiver_passphrase_leaves_the_process_environment(limited_office: Office) -> None:
    """Given by environment variable, the passphrase is not left in /proc/<pid>/environ."""
    assert limited_office.env["INTAKE_RECEIVER_PASSPHRASE"] == RECEIVER_PASSPHRASE
    environ = Path(f"/proc/{limited_office.process.pid}/environ").read_bytes()
    assert environ  # the process is there and its environment readable
    assert RECEIVER_PASSPHRASE.encode() not in environ
