"""Hand-over documents: sealed to one device's key, signed by the importer, refused when
anything is changed, addressed to another device or signed by another key."""

from __future__ import annotations

import json
import uuid

import pytest

from intake_app.sync import keys
from intake_app.sync.errors import SignatureError
from intake_app.sync.handover import open_handover, seal_handover
from intake_app.sync.keys import EncryptionPrivateKey
from intake_app.sync.signed import sign_document


def _content(handover_id: str) -> dict[str, object]:
    return {
        "handover_id": handover_id,
        "record": {
            "id": str(uuid.uuid4()),
            "revision": 2,
            "answers": {"family_name": "Zed-Kanarie"},
        },
        "events": [{"event_id": str(uuid.uuid4()), "kind": "contact"}],
        "recipient": "site_bonn",
        "purpose": "handover_sites",
        "requested_at": "2026-12-01T10:00:00Z",
    }


def test_seal_open_and_every_refusal() -> None:
    importer = keys.generate_signing_key()
    receiver = keys.generate_signing_key()
    device_key = EncryptionPrivateKey.generate()
    other_key = EncryptionPrivateKey.generate()
    device_id, other_id, sender = (str(uuid.uuid4()) for _ in range(3))
    handover_id = str(uuid.uuid4())
    content = _content(handover_id)
    data = seal_handover(
        handover_id=handover_id,
        device_id=device_id,
        from_device_id=sender,
        device_key=device_key.public_key(),
        content=content,
        signing_key=importer,
    )
    trusted = {keys.signing_key_id(importer.public_key()): importer.public_key()}
    opened = open_handover(data, device_id=device_id, private_key=device_key, trusted=trusted)
    assert (opened.record, opened.events) == (content["record"], content["events"])
    assert (opened.from_device_id, opened.purpose) == (sender, "handover_sites")
    # "-" is not in the base64 alphabet, so the name cannot turn up in the sealed text by chance.
    assert b"Zed-Kanarie" not in data  # sealed, not merely signed

    def reason(blob: bytes, **kwargs: object) -> str:
        args: dict[str, object] = {
            "device_id": device_id,
            "private_key": device_key,
            "trusted": trusted,
        }
        args.update(kwargs)
        with pytest.raises(SignatureError) as info:
            open_handover(blob, **args)  # type: ignore[arg-type]
        return info.value.reason

    # another device, or this device with another key
    assert reason(data, device_id=other_id) == "wrong_device"
    assert reason(data, private_key=other_key) == "wrong_device"
    # signed by a key the device does not take hand-overs from (a receiver's)
    receivers = {keys.signing_key_id(receiver.public_key()): receiver.public_key()}
    assert reason(data, trusted=receivers) == "unknown_key"
    # one character of the payload changed: the signature fails
    envelope = json.loads(data)
    payload = bytearray(keys.unb64(envelope["payload"]))
    payload[-3] ^= 1
    assert reason(json.dumps(dict(envelope, payload=keys.b64(bytes(payload)))).encode()) in {
        "bad_signature",
        "malformed",
    }
    # the importer re-signs a document whose seal was made for another hand-over id: the
    # HPKE info binds the id, so it does not open
    inner = json.loads(keys.unb64(envelope["payload"]))
    swapped = sign_document(
        "handover", dict(inner, handover_id=str(uuid.uuid4())), private_key=importer
    )
    assert reason(swapped) == "decrypt_failed"


def test_content_must_follow_the_format() -> None:
    with pytest.raises(ValueError):
        seal_handover(
            handover_id=str(uuid.uuid4()),
            device_id=str(uuid.uuid4()),
            from_device_id=str(uuid.uuid4()),
            device_key=EncryptionPrivateKey.generate().public_key(),
            content=_content(str(uuid.uuid4())),
            signing_key=keys.generate_signing_key(),
        )
