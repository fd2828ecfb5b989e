"""The signed request header of an upload names its body: a captured header carries no
other body, is honoured once, and the old header that names no body counts only during
the transition the office sets (docs/security.md, "Central office", signed requests).
A real ``intake-central serve`` on 127.0.0.1, attacked the way a network attacker would."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from intake_app.central import db
from intake_app.sync import device_auth
from intake_app.sync.batch import build_batch
from intake_app.sync.receipt import ReceiptStatus
from intake_app.sync.transport_http import HttpSettings, SyncClient
from tests.e2e.conftest import FAST, Office, _start
from tests.unit.sync.factories import make_payload

pytestmark = pytest.mark.e2e

BATCHES = "/v1/batches"
ONCE = HttpSettings(connect_timeout=2, read_timeout=10, write_timeout=10, attempts=1)
CAPTURED_REASONS = {"replayed", "body_length_mismatch", "body_digest_mismatch", "rate_limited"}


def _office(tmp_path: Path, *extra: str) -> Iterator[Office]:
    home = tmp_path / "office"
    yield from _start(
        home,
        database_url=f"sqlite:///{home / 'central.db'}",
        serve_args=("--header-timeout", "1", "--body-timeout", "3", *extra),
    )


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Office]:
    yield from _office(tmp_path)


@pytest.fixture
def transition_office(tmp_path: Path) -> Iterator[Office]:
    yield from _office(tmp_path, "--old-device-auth-until", "2999-12-31")


class _Recording(httpx.HTTPTransport):
    """What goes over the wire, as a network attacker sees it."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str | None]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((request.url.path, request.headers.get(device_auth.HEADER)))
        return super().handle_request(request)


def _post(client: httpx.Client, office: Office, body: bytes, auth: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/vnd.intake.batch"}
    if auth is not None:
        headers[device_auth.HEADER] = auth
    return client.post(office.url + BATCHES, content=body, headers=headers)


def _reason(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error"))
    except ValueError:
        return f"<{response.status_code}>"


def test_a_captured_upload_header_carries_no_other_body(office: Office) -> None:
    """The attacker replays a genuine device's captured header with other bodies (of the
    same length, of another length, and the same body again): every one is refused for
    what it is, nothing is stored, and the genuine device's budget is not touched."""
    identity, _ = office.enrol("laptop-genuine")
    genuine = build_batch(make_payload(2), identity=identity)
    wire = _Recording()
    with SyncClient(identity, settings=ONCE, transport=wire) as client:
        assert client.send_batch(genuine).status == ReceiptStatus.STORED
    captured = [auth for path, auth in wire.sent if path == BATCHES]
    assert len(captured) == 1 and captured[0]
    header = captured[0]
    same_length = bytearray(genuine.data)
    same_length[-1] ^= 0xFF
    bodies = [bytes(same_length), genuine.data + b"\0" * 1000, b"\0" * 200_000, genuine.data]
    answers = []
    with httpx.Client(timeout=10) as http:
        for _round in range(20):  # 80 requests: more than the device's burst of 60
            for body in bodies:
                answers.append(_post(http, office, body, header))
    reasons = {_reason(a) for a in answers}
    assert all(400 <= a.status_code < 500 for a in answers), sorted(reasons)
    assert reasons <= CAPTURED_REASONS, sorted(reasons)
    assert office.count(db.batches) == 1
    # the genuine device, at once and without a retry, still gets its next batch in
    with SyncClient(identity, settings=ONCE) as client:
        receipt = client.send_batch(build_batch(make_payload(1), identity=identity))
    assert receipt.status == ReceiptStatus.STORED
    assert office.count(db.batches) == 2


def test_a_header_for_one_body_refuses_another_body_of_the_same_length(office: Office) -> None:
    """A header taken before the device used it (a party in the middle) with another body
    of the announced length: the digest, computed while the body streams in, differs."""
    identity, _ = office.enrol("laptop-genuine")
    wanted = build_batch(make_payload(1), identity=identity)
    other = build_batch(make_payload(1), identity=identity)
    forged = other.data[: len(wanted.data)].ljust(len(wanted.data), b"\0")
    auth = device_auth.make_header(identity, method="POST", path=BATCHES, body=wanted.data)
    with httpx.Client(timeout=10) as http:
        refused = _post(http, office, forged, auth)
        assert (refused.status_code, _reason(refused)) == (400, "body_digest_mismatch")
        # the same header cannot be tried again, not even with the right body
        again = _post(http, office, wanted.data, auth)
        assert (again.status_code, _reason(again)) == (401, "replayed")
        assert office.count(db.batches) == 0
        fresh = device_auth.make_header(identity, method="POST", path=BATCHES, body=wanted.data)
        assert _post(http, office, wanted.data, fresh).status_code == 200
    rows = office.rows(sa.select(db.batches.c.batch_id))
    assert [r.batch_id for r in rows] == [wanted.batch_id]


def test_the_old_header_outside_the_transition_counts_as_unsigned(office: Office) -> None:
    """A device that missed the update still delivers (its batch carries the device's
    signature), but its header gives no standing: replayed with junk it uses up nothing
    of the device, and it fetches no receipts."""
    identity, _ = office.enrol("laptop-offline")
    old = device_auth.make_header_v1(identity, method="POST", path=BATCHES)
    batch = build_batch(make_payload(1), identity=identity)
    with httpx.Client(timeout=10) as http:
        delivered = _post(http, office, batch.data, old)
        assert delivered.status_code == 200, delivered.text
        junk = [_post(http, office, b"\0" * 5000, old) for _ in range(70)]
        assert {a.status_code for a in junk} <= {400, 401, 429}
        fresh = build_batch(make_payload(1), identity=identity)
        auth = device_auth.make_header(identity, method="POST", path=BATCHES, body=fresh.data)
        assert _post(http, office, fresh.data, auth).status_code == 200
        receipts = http.get(
            office.url + "/v1/receipts",
            headers={
                device_auth.HEADER: device_auth.make_header_v1(
                    identity, method="GET", path="/v1/receipts"
                )
            },
        )
    assert (receipts.status_code, _reason(receipts)) == (401, "device_auth_outdated")
    assert office.count(db.batches) == 2


def test_the_old_header_is_honoured_during_the_transition(transition_office: Office) -> None:
    identity, _ = transition_office.enrol("laptop-offline")
    with httpx.Client(timeout=10) as http:
        old = device_auth.make_header_v1(identity, method="GET", path="/v1/receipts")
        assert (
            http.get(
                transition_office.url + "/v1/receipts", headers={device_auth.HEADER: old}
            ).status_code
            == 200
        )
        # the new header works at the same time, once
        new = device_auth.make_header(identity, method="GET", path="/v1/receipts")
        first = http.get(transition_office.url + "/v1/receipts", headers={device_auth.HEADER: new})
        second = http.get(transition_office.url + "/v1/receipts", headers={device_auth.HEADER: new})
    assert first.status_code == 200
    assert (second.status_code, _reason(second)) == (401, "replayed")


def test_sync_fetches_receipts_with_the_new_header(office: Office) -> None:
    identity, _ = office.enrol("laptop-genuine")
    with SyncClient(identity, settings=FAST) as client:
        client.send_batch(build_batch(make_payload(1), identity=identity))
        assert client.fetch_receipts() == []  # nothing imported yet, and no refusal
        assert client.fetch_receipts() == []  # each request signs anew


def test_a_batch_signature_the_header_vouched_for_is_still_checked_by_the_importer(
    office: Office,
) -> None:
    """The receiver takes the header's signature over the body's SHA-384 for the batch
    signature; a device that sends a batch with a broken signature of its own gets
    ``stored`` from the receiver, and the importer refuses it (``bad_signature``)."""
    identity, _ = office.enrol("laptop-careless")
    batch = build_batch(make_payload(1), identity=identity)
    broken = bytearray(batch.data)
    broken[-1] ^= 0xFF  # the last byte of the device's batch signature
    auth = device_auth.make_header(identity, method="POST", path=BATCHES, body=bytes(broken))
    with httpx.Client(timeout=10) as http:
        assert _post(http, office, bytes(broken), auth).status_code == 200
        # without a header naming the body, the receiver checks the batch signature itself
        unsigned = _post(http, office, bytes(broken), None)
        assert (unsigned.status_code, _reason(unsigned)) == (401, "bad_signature")
    office.cli("import")
    assert office.count(db.records) == 0
    notes = office.cli("quarantine", "list").stdout
    assert "bad_signature" in notes, notes
