"""Enrolment files, registration requests and confirmations; published forms."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from intake_app.sync import keys
from intake_app.sync.enrolment import (
    build_confirmation,
    build_enrolment,
    build_registration,
    create_identity,
    enrolment_key_set,
    new_token,
    read_enrolment,
    read_registration,
    token_hash,
    verify_confirmation,
)
from intake_app.sync.errors import EnrolmentError, SignatureError
from intake_app.sync.published_forms import (
    FormIndexEntry,
    build_form_index,
    build_published_form,
    verify_form_index,
    verify_published_form,
)
from intake_app.sync.signed import sign_document
from tests.unit.sync.factories import Office, make_office

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def office() -> Office:
    return make_office(recovery=True)


def _enrolment(
    office: Office, *, expires: datetime | None = None, token: str | None = None
) -> bytes:
    return build_enrolment(
        device_id=str(uuid.uuid4()),
        device_name="laptop-köln-03",
        server_url="https://intake.example.org/",
        token=token or new_token(),
        expires=expires or NOW + timedelta(days=7),
        key_set=office.key_set(),
        root_key=office.root,
    )


def test_enrolment_file_carries_keys_url_and_token(office: Office) -> None:
    token = new_token()
    enrolment = read_enrolment(_enrolment(office, token=token), now=NOW)
    assert enrolment.server_url == "https://intake.example.org"
    assert enrolment.token == token
    assert enrolment.key_set.current_encryption_key_id == office.current
    assert office.recovery is not None
    assert enrolment.key_set.recovery_key == office.recovery.public_key()
    assert enrolment.office_fingerprint == office.root_kid


def test_the_token_stands_beside_the_signature_and_is_not_kept(office: Office) -> None:
    """Version 3: the office signs the token's hash; the device keeps the signed envelope
    without the token (docs/security.md, "The token is used once, at enrolment")."""
    token = new_token()
    data = _enrolment(office, token=token)
    enrolment = read_enrolment(data, now=NOW)
    assert enrolment.token == token
    assert token.encode() not in enrolment.document
    # the kept envelope verifies on its own (the root's word for the keys) ...
    assert enrolment_key_set(enrolment.document, root=office.root.public_key()).serial >= 1
    # ... and without the token it is no enrolment to register with
    with pytest.raises(EnrolmentError):
        read_enrolment(enrolment.document, now=NOW)
    # another token beside the signed hash is refused
    envelope = json.loads(data)
    envelope["token"] = new_token()
    with pytest.raises(EnrolmentError) as info:
        read_enrolment(json.dumps(envelope).encode(), now=NOW)
    assert info.value.reason == "malformed"
    for odd in (None, 7, "", "x" * 10_000):
        envelope["token"] = odd
        with pytest.raises(EnrolmentError):
            read_enrolment(json.dumps(envelope).encode(), now=NOW)


def test_a_signed_token_hash_that_is_not_ascii_is_malformed(office: Office) -> None:
    """Attacker run 26: comparing text that is not ASCII raised instead of refusing."""
    content = json.loads(keys.unb64(json.loads(_enrolment(office))["payload"]))
    content["token_hash"] = "\u00e4" * 96
    envelope = json.loads(sign_document("enrolment", content, private_key=office.root))
    envelope["token"] = new_token()
    with pytest.raises(EnrolmentError) as info:
        read_enrolment(json.dumps(envelope).encode(), now=NOW)
    assert info.value.reason == "malformed"


def test_a_version_2_enrolment_file_is_still_read(office: Office) -> None:
    """An office before version 3 signed the token inside the content."""
    token = new_token()
    content = json.loads(keys.unb64(json.loads(_enrolment(office, token=token))["payload"]))
    del content["token_hash"]
    content.update(version=2, token=token)
    data = sign_document("enrolment", content, private_key=office.root)
    enrolment = read_enrolment(data, now=NOW)
    assert (enrolment.token, enrolment.document) == (token, data)


def test_expired_enrolment_is_refused(office: Office) -> None:
    data = _enrolment(office, expires=NOW - timedelta(seconds=1))
    with pytest.raises(EnrolmentError) as info:
        read_enrolment(data, now=NOW)
    assert info.value.reason == "expired"
    assert info.value.exit_code == 2


def test_fingerprint_is_compared_when_given(office: Office) -> None:
    data = _enrolment(office)
    fingerprint = keys.format_fingerprint(office.root_kid)
    assert read_enrolment(data, now=NOW, expected_fingerprint=fingerprint).device_name
    with pytest.raises(EnrolmentError) as info:
        read_enrolment(data, now=NOW, expected_fingerprint="0000 " * 8)
    assert info.value.reason == "fingerprint_mismatch"


def test_edited_enrolment_file_is_refused(office: Office) -> None:
    envelope = json.loads(_enrolment(office))
    content = json.loads(keys.unb64(envelope["payload"]))
    content["server_url"] = "https://attacker.example.com"
    envelope["payload"] = keys.b64(json.dumps(content).encode())
    with pytest.raises(EnrolmentError) as info:
        read_enrolment(json.dumps(envelope).encode(), now=NOW)
    assert info.value.reason == "bad_signature"


def test_other_documents_are_not_enrolment_files(office: Office) -> None:
    with pytest.raises(EnrolmentError) as info:
        read_enrolment(sign_document("receipt", {"a": 1}, private_key=office.signing), now=NOW)
    assert info.value.reason == "malformed"
    with pytest.raises(EnrolmentError):
        read_enrolment(b"\x00\xff", now=NOW)


def test_registration_proves_possession_of_the_key(office: Office) -> None:
    enrolment = read_enrolment(_enrolment(office), now=NOW)
    identity = create_identity(enrolment)
    registration = read_registration(build_registration(identity, token=enrolment.token))
    assert registration.key_id == identity.key_id
    assert registration.device_id == enrolment.device_id
    assert registration.token_hash == token_hash(enrolment.token)
    confirmation = build_confirmation(registration, signing_key=office.signing)
    verify_confirmation(confirmation, identity)


def test_registration_with_a_swapped_key_is_refused(office: Office) -> None:
    enrolment = read_enrolment(_enrolment(office), now=NOW)
    identity = create_identity(enrolment)
    envelope = json.loads(build_registration(identity, token=enrolment.token))
    content = json.loads(keys.unb64(envelope["payload"]))
    content["public_key"] = keys.signing_public_to_json(keys.generate_signing_key().public_key())
    envelope["payload"] = keys.b64(json.dumps(content).encode())
    with pytest.raises(EnrolmentError) as info:
        read_registration(json.dumps(envelope).encode())
    assert info.value.reason == "bad_signature"


def test_confirmation_for_another_key_is_refused(office: Office) -> None:
    enrolment = read_enrolment(_enrolment(office), now=NOW)
    identity = create_identity(enrolment)
    other = create_identity(enrolment)
    registration = read_registration(build_registration(other, token=enrolment.token))
    with pytest.raises(EnrolmentError):
        verify_confirmation(build_confirmation(registration, signing_key=office.signing), identity)


# -- forms ---------------------------------------------------------------------------------


def test_published_form_verifies_and_returns_its_bytes(office: Office) -> None:
    content = "id: intake\nversion: 2026.2\ntitle: Erstgespräch – Überblick\n".encode()
    data = build_published_form(
        form_id="intake",
        version="2026.2",
        filename="intake.yaml",
        content=content,
        signing_key=office.signing,
    )
    form = verify_published_form(data, trusted=office.trusted(), form_id="intake", version="2026.2")
    assert form.content == content
    with pytest.raises(SignatureError) as info:
        verify_published_form(data, trusted=office.trusted(), version="2026.3")
    assert info.value.reason == "wrong_form"
    with pytest.raises(SignatureError) as info:
        verify_published_form(data, trusted=make_office().trusted())
    assert info.value.reason == "unknown_key"


def test_form_signed_by_a_stranger_with_our_key_id_is_refused(office: Office) -> None:
    stranger = keys.generate_signing_key()
    data = json.loads(
        build_published_form(
            form_id="intake", version="9", filename="x.yaml", content=b"x", signing_key=stranger
        )
    )
    data["kid"] = office.signing_kid
    with pytest.raises(SignatureError) as info:
        verify_published_form(json.dumps(data).encode(), trusted=office.trusted())
    assert info.value.reason == "bad_signature"


@pytest.mark.parametrize("name", ["../etc", "a/b", "", ".hidden", "x" * 101])
def test_unsafe_form_names_are_refused(office: Office, name: str) -> None:
    with pytest.raises(ValueError):
        build_published_form(
            form_id=name, version="1", filename="f.yaml", content=b"", signing_key=office.signing
        )


def test_form_index_round_trip(office: Office) -> None:
    entries = [FormIndexEntry("intake", "2026.1", "a" * 96, "2026-11-20T10:00:00Z")]
    data = build_form_index(entries, signing_key=office.signing)
    assert verify_form_index(data, trusted=office.trusted()) == entries
