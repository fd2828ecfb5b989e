"""A taken-over receiver may write the ``devices`` table, but the importer trusts only the
device key it pinned, or one proven with the enrolment token it issued (docs/security.md,
"Device keys the importer trusts"). Played as the attacker: the receiver swaps a device's
key, or registers a pending device with a key of its own, and posts batches through a real
receiver on 127.0.0.1; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec

from intake_app.central import db
from intake_app.central.registry import list_devices, register_device
from intake_app.sync import authors, keys
from intake_app.sync.batch import build_batch
from intake_app.sync.enrolment import build_registration, read_enrolment, read_registration
from intake_app.sync.errors import EnrolmentError
from intake_app.sync.identity import DeviceIdentity
from intake_app.sync.receipt import ReceiptStatus
from intake_app.sync.transport_http import SyncClient
from tests.e2e.conftest import FAST
from tests.e2e.test_receivers_postgres import office  # noqa: F401 (the role's fixture)
from tests.unit.central.harness import Central, receiver_app, serve
from tests.unit.sync.factories import erasure, make_record


def _post(identity: DeviceIdentity, url: str, payload: dict[str, Any]) -> str:
    device = replace(identity, server_url=url)
    batch = build_batch(payload, identity=device)
    with SyncClient(device, settings=FAST) as client:
        assert client.send_batch(batch).status == ReceiptStatus.STORED
    return batch.batch_id


def _as_attacker(identity: DeviceIdentity) -> DeviceIdentity:
    return replace(identity, private_key_pem=keys.private_key_to_pem(keys.generate_signing_key()))


def _receiver_writes(central: Central, device_id: str, **values: Any) -> None:
    """What the receiver's role may do: write a device's registration columns."""
    with central.engine.begin() as conn:
        conn.execute(
            db.devices.update().where(db.devices.c.device_id == device_id).values(**values)
        )


def _swap_key(central: Central, device_id: str, attacker: DeviceIdentity) -> None:
    """What the receiver's role may do: rewrite the device's key in ``devices``."""
    _receiver_writes(
        central,
        device_id,
        public_key_pem=keys.public_key_to_pem(attacker.public_key()),
        key_id=attacker.key_id,
    )


def _names(central: Central) -> list[str]:
    with central.engine.connect() as conn:
        rows = conn.execute(sa.select(db.records.c.document)).all()
    return sorted(json.loads(r.document)["answers"]["family_name"] for r in rows)


def test_a_key_swapped_by_the_receiver_is_quarantined_and_reported(central: Central) -> None:
    genuine = central.enrol("laptop-genuine")
    record = make_record(family_name="Echt")
    with serve(receiver_app(central)) as url:
        _post(genuine, url, {"records": [record], "instructions": []})
        assert [o.status for o in central.importer().run()] == ["imported"]
        attacker = _as_attacker(genuine)
        if central.engine.dialect.name == "postgresql":
            # PostgreSQL refuses to replace a registered key in the table itself (a
            # trigger); the importer's pin is the second, key-based guard tested on SQLite.
            with pytest.raises(sa.exc.ProgrammingError, match="cannot be replaced"):
                _swap_key(central, genuine.device_id, attacker)
            return
        _swap_key(central, genuine.device_id, attacker)
        forged = {**record, "revision": 2, "answers": {**record["answers"], "family_name": "X"}}
        _post(attacker, url, {"records": [forged], "instructions": [erasure(record["id"])]})
        outcomes = central.importer().run()
    assert [(o.status, o.reason) for o in outcomes] == [("quarantined", "device_key_mismatch")]
    assert _names(central) == ["Echt"]
    assert central.count(db.erasures) == 0
    [listed] = list_devices(central.engine)
    assert listed.key_trusted is False


def test_a_pending_device_registered_by_the_receiver_is_not_trusted(central: Central) -> None:
    """The receiver knows the token's hash (it spends the token) but not the token: it can
    put a key of its own into ``devices``, not the proof the importer checks."""
    genuine = central.enrol("laptop-pending", register=False)
    attacker = _as_attacker(genuine)
    _receiver_writes(
        central,
        genuine.device_id,
        status="active",
        public_key_pem=keys.public_key_to_pem(attacker.public_key()),
        key_id=attacker.key_id,
        registration_proof="0" * 96,
        token_used_at=sa.func.now(),
    )
    with serve(receiver_app(central)) as url:
        _post(attacker, url, {"records": [make_record(family_name="X")], "instructions": []})
        outcomes = central.importer().run()
    assert [(o.status, o.reason) for o in outcomes] == [("quarantined", "device_key_mismatch")]
    assert central.count(db.records) == 0


def test_the_genuine_key_is_pinned_at_first_sight(central: Central) -> None:
    genuine = central.enrol("laptop-new")
    with serve(receiver_app(central)) as url:
        _post(genuine, url, {"records": [make_record(family_name="Neu")], "instructions": []})
        assert [o.status for o in central.importer().run()] == ["imported"]
    with central.engine.connect() as conn:
        pin = conn.execute(sa.select(db.device_pins)).one()
    assert pin.public_key_pem == keys.public_key_to_pem(genuine.public_key())
    assert pin.proof_key is None  # not needed any more once the key is pinned
    [listed] = list_devices(central.engine)
    assert listed.key_trusted is True


@pytest.mark.postgres
@pytest.mark.parametrize("statement", ["SELECT * FROM device_pins", "DELETE FROM device_pins"])
def test_the_receiver_role_has_no_privilege_on_the_pins(
    office: tuple[Central, str, str],  # noqa: F811
    statement: str,
) -> None:
    _central, _role, as_role = office
    engine = sa.create_engine(as_role)
    try:
        with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
            with engine.begin() as conn:
                conn.execute(sa.text(statement))
    finally:
        engine.dispose()


def test_the_root_a_registration_names_is_pinned_with_the_key_and_cannot_be_dropped(
    central: Central,
) -> None:
    """Registration version 3 names the device's profile root under the token's proof: the
    importer pins it with the device key at the first batch. A receiver that drops or
    swaps the root in ``devices`` breaks the proof, and the key is not trusted."""
    root = authors.public_text(ec.generate_private_key(ec.SECP384R1()))
    other = authors.public_text(ec.generate_private_key(ec.SECP384R1()))
    kept = central.enrol("laptop-root", profile_root=root)
    with serve(receiver_app(central)) as url:
        # a batch without a sender, its first: the root is pinned already, so it is refused
        _post(kept, url, {"records": [make_record(family_name="Neu")], "instructions": []})
        outcomes = central.importer().run()
    assert [(o.status, o.reason) for o in outcomes] == [("quarantined", "author_missing")]
    with central.engine.connect() as conn:
        pin = conn.execute(sa.select(db.device_pins)).one()
    assert (pin.profile_root_kid, pin.profile_root_public) == (authors.key_id(root), root)

    for changed in (None, other):
        name = f"laptop-{'dropped' if changed is None else 'swapped'}"
        device = central.enrol(name, profile_root=root)
        _receiver_writes(central, device.device_id, registration_root=changed)
        with serve(receiver_app(central)) as url:
            _post(device, url, {"records": [make_record(family_name="X")], "instructions": []})
            outcomes = central.importer().run()
        assert [(o.status, o.reason) for o in outcomes] == [("quarantined", "device_key_mismatch")]
        with central.engine.connect() as conn:
            pin = conn.execute(
                sa.select(db.device_pins).where(db.device_pins.c.device_id == device.device_id)
            ).one()
        assert (pin.public_key_pem, pin.profile_root_kid) == (None, None)


def test_a_receiver_cannot_move_characters_between_the_fields_the_proof_covers(
    central: Central,
) -> None:
    """Attacker run 25: the proof covered the fields as lines, so the receiver could move
    the key's last newline into the root and keep the proof; the importer then failed on
    the root at every run. The proof covers a JSON list now: the batch is quarantined and
    the import goes on."""
    root = authors.public_text(ec.generate_private_key(ec.SECP384R1()))
    identity = central.enrol("laptop-shift", register=False)
    token = read_enrolment((central.home.root / "enrol-laptop-shift.json").read_bytes()).token
    registration = read_registration(build_registration(identity, token=token, profile_root=root))
    pem = keys.public_key_to_pem(registration.public_key)
    _receiver_writes(
        central,
        identity.device_id,
        status="active",
        public_key_pem=pem[:-1],
        key_id=registration.key_id,
        registration_proof=registration.key_proof,
        registration_root="\n" + root,
        registered_at=sa.func.now(),
        token_used_at=sa.func.now(),
    )
    other = central.enrol("laptop-other")
    with serve(receiver_app(central)) as url:
        _post(identity, url, {"records": [make_record(family_name="X")], "instructions": []})
        _post(other, url, {"records": [make_record(family_name="Y")], "instructions": []})
        outcomes = central.importer().run()
    assert sorted((o.status, o.reason) for o in outcomes) == [
        ("imported", None),
        ("quarantined", "device_key_mismatch"),
    ]
    assert _names(central) == ["Y"]


def test_a_proof_that_is_not_ascii_is_refused_not_raised(central: Central) -> None:
    """Attacker run 26: the receiver wrote a proof of non-ASCII text, and comparing it
    raised; every import run stopped at that batch. It is a mismatch like any other."""
    root = authors.public_text(ec.generate_private_key(ec.SECP384R1()))
    victim = central.enrol("laptop-victim", profile_root=root)
    other = central.enrol("laptop-other")  # its unsigned batch goes in
    _receiver_writes(central, victim.device_id, registration_proof="\u00e4" * 96)
    with serve(receiver_app(central)) as url:
        for identity, name in ((victim, "X"), (other, "Y")):
            _post(identity, url, {"records": [make_record(family_name=name)], "instructions": []})
        outcomes = central.importer().run()
    assert sorted((o.status, o.reason or "") for o in outcomes) == [
        ("imported", ""),
        ("quarantined", "device_key_mismatch"),
    ]
    [trusted] = [d.key_trusted for d in list_devices(central.engine) if d.name == "laptop-victim"]
    assert trusted is False


def test_a_registration_with_a_made_up_proof_does_not_pass_silently(central: Central) -> None:
    """Attacker run 26: a counsellor who reads the stored registration knows the token's
    hash, not the token; she registered the device key first with a made-up proof, and
    the genuine registration then passed as "the same key again" while the office kept
    her proof. Now the genuine one is refused, and the office sees it."""
    root = authors.public_text(ec.generate_private_key(ec.SECP384R1()))
    identity = central.enrol("laptop-pending", register=False)
    token = read_enrolment((central.home.root / "enrol-laptop-pending.json").read_bytes()).token
    genuine = read_registration(build_registration(identity, token=token, profile_root=root))
    register_device(central.engine, replace(genuine, key_proof="0" * 96))
    with pytest.raises(EnrolmentError) as refused:
        register_device(central.engine, genuine)
    assert refused.value.reason == "token_used"
    # the genuine registration sent twice (a lost answer) is fine
    second = central.enrol("laptop-twice", register=False)
    token = read_enrolment((central.home.root / "enrol-laptop-twice.json").read_bytes()).token
    for _ in range(2):
        again = build_registration(second, token=token, profile_root=root)
        register_device(central.engine, read_registration(again))
