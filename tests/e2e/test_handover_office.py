"""Hand-over of a case from one device to another through a real office on 127.0.0.1.

Device A asks for the hand-over in its batch; the importer checks consent itself, seals
the record with its case events to device B's key and signs it; device B fetches it over
HTTP with a signed request and opens it. Refused without consent and after a withdrawal
(with the reason in plain German at the office); nothing doubled when a batch comes
again (docs/security.md, "Hand-over through the office").
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from intake_app.central import db
from intake_app.sync.batch import build_batch
from intake_app.sync.errors import SignatureError
from intake_app.sync.handover import open_handover
from intake_app.sync.identity import DeviceIdentity
from intake_app.sync.receipt import ItemResult
from intake_app.sync.transport_http import SyncClient
from tests.e2e.conftest import FAST, Office
from tests.unit.sync.factories import make_record

pytestmark = pytest.mark.e2e

PURPOSE = "handover_sites"
RECIPIENT = "site_bonn"


def with_handover_key(identity: DeviceIdentity) -> DeviceIdentity:
    """The device with its hand-over key pair (on a device a supervisor's sync makes it,
    sealed to the site key; here the test holds it)."""
    return identity.with_encryption_key()


def key_instruction(identity: DeviceIdentity) -> dict[str, Any]:
    private = identity.encryption_private_key()
    assert private is not None
    return {
        "type": "device_key",
        "record_id": identity.device_id,
        "key": private.public_key().to_json(),
    }


def handover_instruction(record_id: str, handover_id: str | None = None) -> dict[str, Any]:
    return {
        "type": "handover",
        "record_id": record_id,
        "handover_id": handover_id or str(uuid.uuid4()),
        "recipient": RECIPIENT,
        "purpose": PURPOSE,
        "requested_at": "2026-12-01T10:00:00Z",
    }


def consented_record(*, granted: bool = True) -> dict[str, Any]:
    record = make_record(family_name="Übergabetest")
    record["consent"]["purposes"][PURPOSE] = {
        "granted": granted,
        "date": "2026-11-20",
        "withdrawn_on": None,
    }
    return record


def send(identity: DeviceIdentity, payload: dict[str, Any]) -> None:
    with SyncClient(identity, settings=FAST) as client:
        client.send_batch(build_batch(payload, identity=identity))


def final_results(identity: DeviceIdentity) -> dict[str, ItemResult]:
    with SyncClient(identity, settings=FAST) as client:
        receipts = client.fetch_receipts()
    return {
        ref.purpose: result
        for receipt in receipts
        for ref, result in receipt.instructions
        if ref.type == "handover"
    }


def fetch(identity: DeviceIdentity) -> list[bytes]:
    with SyncClient(identity, settings=FAST) as client:
        return client.fetch_handovers()


def test_a_case_goes_from_device_a_to_device_b_once(office: Office) -> None:
    device_a, _ = office.enrol("laptop-koeln")
    device_b = with_handover_key(office.enrol("laptop-bonn")[0])
    device_c = with_handover_key(office.enrol("laptop-aachen")[0])
    office.cli("devices", "recipient", "laptop-bonn", RECIPIENT, "--purpose", PURPOSE)
    # device B's hand-over key travels in a batch it signed
    send(device_b, {"records": [], "instructions": [key_instruction(device_b)]})
    record = consented_record()
    event = {
        "type": "case_event",
        "record_id": record["id"],
        "event_id": str(uuid.uuid4()),
        "kind": "contact",
        "occurred_on": "2026-11-27",
        "recorded_at": "2026-11-27T14:30:00Z",
        "data": {"mode": "phone", "interpreter": False, "topics": [], "next_appointment": None},
    }
    request = handover_instruction(record["id"])
    payload = {"records": [record], "instructions": [event, request]}
    batch = build_batch(payload, identity=device_a)
    with SyncClient(device_a, settings=FAST) as client:
        client.send_batch(batch)
    out = office.cli("import").stdout
    assert "abgelehnt" not in out
    assert final_results(device_a) == {request["handover_id"]: ItemResult.SEALED}

    (document,) = fetch(device_b)
    b_key = device_b.encryption_private_key()
    assert b_key is not None
    trusted = {
        kid: key
        for kid, key in device_b.office_signing_keys.items()
        if kid in device_b.office_importer_keys
    }
    opened = open_handover(
        document, device_id=device_b.device_id, private_key=b_key, trusted=trusted
    )
    assert opened.handover_id == request["handover_id"]
    assert opened.from_device_id == device_a.device_id
    assert opened.record["id"] == record["id"]
    assert opened.record["answers"]["family_name"] == "Übergabetest"
    assert [e["event_id"] for e in opened.events] == [event["event_id"]]
    # only B can open it, and nobody else is handed it
    assert fetch(device_c) == []
    assert fetch(device_a) == []
    c_key = device_c.encryption_private_key()
    assert c_key is not None
    with pytest.raises(SignatureError) as refused:
        open_handover(document, device_id=device_c.device_id, private_key=c_key, trusted=trusted)
    assert refused.value.reason == "wrong_device"
    # a receiver's key does not count: only the importer seals hand-overs
    receivers = {
        kid: key
        for kid, key in device_b.office_signing_keys.items()
        if kid not in device_b.office_importer_keys
    }
    with pytest.raises(SignatureError):
        open_handover(document, device_id=device_b.device_id, private_key=b_key, trusted=receivers)

    # the same batch again, and the same request in a new batch: sealed once
    with SyncClient(device_a, settings=FAST) as client:
        client.send_batch(batch)
        client.send_batch(build_batch(payload, identity=device_a))
    office.cli("import")
    assert office.count(db.handovers) == 1
    assert len(fetch(device_b)) == 1
    assert set(final_results(device_a).values()) == {ItemResult.SEALED}


def test_refused_without_consent_or_after_a_withdrawal(office: Office) -> None:
    device_a, _ = office.enrol("laptop-koeln")
    device_b = with_handover_key(office.enrol("laptop-bonn")[0])
    office.cli("devices", "recipient", "laptop-bonn", RECIPIENT, "--purpose", PURPOSE)
    send(device_b, {"records": [], "instructions": [key_instruction(device_b)]})
    refused_record = consented_record(granted=False)
    withdrawn_record = consented_record()
    # the device claims another purpose than the office registered for the recipient
    wrong_purpose = consented_record()
    claimed = dict(handover_instruction(wrong_purpose["id"]), purpose="central_office")
    no_consent = handover_instruction(refused_record["id"])
    withdrawn = handover_instruction(withdrawn_record["id"])
    send(
        device_a,
        {
            "records": [refused_record, withdrawn_record, wrong_purpose],
            "instructions": [
                no_consent,
                {
                    "type": "consent_withdrawal",
                    "record_id": withdrawn_record["id"],
                    "revision": 1,
                    "purpose": PURPOSE,
                    "withdrawn_on": "2026-11-30",
                },
                withdrawn,
                claimed,
            ],
        },
    )
    out = office.cli("import").stdout
    assert "nicht zugestimmt" in out
    assert "widerrufen" in out
    assert "anderen Einwilligungszweck" in out
    assert final_results(device_a) == {
        no_consent["handover_id"]: ItemResult.REFUSED,
        withdrawn["handover_id"]: ItemResult.REFUSED,
        claimed["handover_id"]: ItemResult.REFUSED,
    }
    reasons = {
        row.handover_id: row.reason
        for row in office.rows(sa.select(db.handovers.c.handover_id, db.handovers.c.reason))
    }
    assert reasons == {
        no_consent["handover_id"]: "no_consent",
        withdrawn["handover_id"]: "consent_withdrawn",
        claimed["handover_id"]: "purpose_mismatch",
    }
    assert fetch(device_b) == []
    # a refused hand-over keeps nothing sealed at the office
    documents = office.rows(sa.select(db.handovers.c.document, db.handovers.c.to_device_id))
    assert [(row.document, row.to_device_id) for row in documents] == [(None, None)] * 3


def test_no_key_no_recipient_no_hand_over(office: Office) -> None:
    device_a, _ = office.enrol("laptop-koeln")
    office.enrol("laptop-bonn")
    record = consented_record()
    first = handover_instruction(record["id"])
    send(device_a, {"records": [record], "instructions": [first]})
    out = office.cli("import").stdout
    assert "kein übernehmendes Gerät" in out
    office.cli("devices", "recipient", "laptop-bonn", RECIPIENT, "--purpose", PURPOSE)
    second = handover_instruction(record["id"])
    send(device_a, {"records": [], "instructions": [second]})
    out = office.cli("import").stdout
    assert "noch keinen Schlüssel" in out
    assert final_results(device_a) == {
        first["handover_id"]: ItemResult.REFUSED,
        second["handover_id"]: ItemResult.REFUSED,
    }


def test_the_first_hand_over_key_stays(office: Office) -> None:
    """Every user of a device holds its signing key, so a later, other hand-over key in a
    batch it signed may be anyone's on it: the office keeps the first one (docs/security.md,
    "Hand-over through the office")."""
    device_b = with_handover_key(office.enrol("laptop-bonn")[0])
    send(device_b, {"records": [], "instructions": [key_instruction(device_b)]})
    office.cli("import")
    someone_else = dataclasses.replace(device_b, encryption_key=None).with_encryption_key()
    send(device_b, {"records": [], "instructions": [key_instruction(someone_else)]})
    office.cli("import")
    first = device_b.encryption_private_key()
    assert first is not None
    assert [row.key_id for row in office.rows(sa.select(db.device_encryption_keys))] == [
        first.key_id
    ]
