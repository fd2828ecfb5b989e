"""The signed request header names method, path, time, a nonce and the body's length and
SHA-384; changing any of them breaks it (docs/security.md, signed requests)."""

from __future__ import annotations

import hashlib
import time

import pytest

from intake_app.sync import device_auth
from intake_app.sync.identity import DeviceIdentity
from tests.unit.sync.factories import make_identity, make_office

BODY = b"sealed batch bytes" * 100
PATH = "/v1/batches"


@pytest.fixture(scope="module")
def identity() -> DeviceIdentity:
    return make_identity(make_office())


def _check(
    identity: DeviceIdentity,
    value: str,
    *,
    method: str = "POST",
    path: str = PATH,
    now: float | None = None,
    accept_v1: bool = False,
) -> device_auth.CheckedHeader | None:
    public = identity.signing_key().public_key()
    return device_auth.check_header(
        value,
        method=method,
        path=path,
        public_key_for=lambda device_id: public if device_id == identity.device_id else None,
        now=now,
        accept_v1=accept_v1,
    )


def test_the_header_names_signer_body_length_and_digest(identity: DeviceIdentity) -> None:
    value = device_auth.make_header(identity, method="POST", path=PATH, body=BODY)
    checked = _check(identity, value)
    assert checked is not None
    assert (checked.device_id, checked.version, checked.length) == (
        identity.device_id,
        2,
        len(BODY),
    )
    assert checked.sha384 == hashlib.sha384(BODY).digest()
    other = device_auth.make_header(identity, method="POST", path=PATH, body=BODY)
    assert _check(identity, other).nonce != checked.nonce  # type: ignore[union-attr]


@pytest.mark.parametrize("field", [1, 2, 3, 4, 5, 6])
def test_any_changed_field_breaks_the_signature(identity: DeviceIdentity, field: int) -> None:
    value = device_auth.make_header(identity, method="POST", path=PATH, body=BODY)
    parts = value.split(".")
    replacement = {
        1: "00000000-0000-4000-8000-000000000000",
        2: str(int(parts[2]) - 1),
        3: "A" * 22,
        4: str(len(BODY) + 1),
        5: device_auth._b64(hashlib.sha384(BODY + b"x").digest()),
        6: parts[6][:-2] + ("AA" if parts[6][-2:] != "AA" else "BB"),
    }[field]
    parts[field] = replacement
    assert _check(identity, ".".join(parts)) is None


def test_method_path_and_time_are_bound(identity: DeviceIdentity) -> None:
    value = device_auth.make_header(identity, method="POST", path=PATH, body=BODY)
    assert _check(identity, value, method="GET") is None
    assert _check(identity, value, path="/v1/receipts") is None
    assert _check(identity, value, now=time.time() + device_auth.MAX_SKEW_SECONDS + 5) is None


def test_the_old_header_counts_only_when_the_transition_is_on(identity: DeviceIdentity) -> None:
    old = device_auth.make_header_v1(identity, method="POST", path=PATH)
    assert _check(identity, old) is None
    checked = _check(identity, old, accept_v1=True)
    assert checked is not None
    assert (checked.version, checked.length, checked.sha384) == (1, None, None)
