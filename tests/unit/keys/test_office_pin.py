"""The office the device seals to is the one an administrator confirmed (device_sync/pin.py).

Tried as attacker run 15 did: the device identity, with the office's encryption keys, sits
in the profile database, which every user's password opens. A counsellor puts her own key
in place of the office's (and of the recovery key); her colleague's next batch on the USB
stick would be sealed to her. Nothing may be sealed to a key no administrator confirmed,
nothing may be lost, and an administrator puts the office back by confirming its
fingerprint against a key set the office root signed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
import sqlcipher3
from cryptography.hazmat.primitives.asymmetric import ec

from intake_app.app import Workspace
from intake_app.central.keystore import publish_key_set
from intake_app.central.registry import enrol_device
from intake_app.demo.data import add_synthetic_intakes
from intake_app.device_sync import pin
from intake_app.errors import SyncError
from intake_app.storage import audit
from intake_app.storage.profile import Profile
from intake_app.storage.records import RecordQuery
from intake_app.sync.batch import open_batch, parse_batch
from intake_app.sync.errors import BatchError, EnrolmentError
from intake_app.sync.identity import DeviceIdentity, OfficeKeySet, build_key_set_document
from intake_app.sync.keys import EncryptionPrivateKey
from tests.helpers.attacker import keys_for
from tests.helpers.key_site import own
from tests.unit.central.harness import Central, make_central


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Central]:
    central = make_central(tmp_path / "office")
    yield central
    central.engine.dispose()


def _enrol(profile: Profile, office: Central, folder: Path) -> None:
    out = folder / "enrol.json"
    enrol_device(
        office.engine,
        name="laptop-1",
        server_url="http://127.0.0.1:9",
        key_set=office.published_key_set(),
        root_key=office.root_key,
        out=out,
        valid_for=timedelta(days=1),
    )
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    try:
        ws.sync.enrol(out.read_bytes(), expected_fingerprint=office.fingerprint)
    finally:
        ws.close()


def _finalise_one(profile: Profile, user: str, seed: int) -> str:
    """She finalises an intake; returns its family name (the canary)."""
    ws = Workspace.sign_in(profile, username=user, password=own(user))
    try:
        before = {r.id for r in ws.records.list(RecordQuery(status="complete"), limit=100)}
        add_synthetic_intakes(ws, count=1, seed=seed, complete_share=1.0)
        (new,) = [
            r
            for r in ws.records.list(RecordQuery(status="complete"), limit=100)
            if r.id not in before
        ]
        return str(ws.records.get(new.id).answers["family_name"])
    finally:
        ws.close()


def _identity_sql(profile: Profile, user: str, change) -> None:  # type: ignore[no-untyped-def]
    """Her own connection to the profile database: ``change`` rewrites the identity."""
    key = keys_for(profile.root / "vault.json", user, own(user))[0]
    conn = sqlcipher3.connect(str(profile.root / "intake.db"))
    try:
        conn.isolation_level = None
        conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
        (text,) = conn.execute("SELECT identity FROM device").fetchone()
        conn.execute(
            "UPDATE device SET identity = ?", (change(DeviceIdentity.from_json(text)).to_json(),)
        )
    finally:
        conn.close()


def _swap_office_key(identity: DeviceIdentity, mine: EncryptionPrivateKey) -> DeviceIdentity:
    return replace(
        identity,
        office_encryption_keys={mine.public_key().key_id: mine.public_key()},
        current_office_key_id=mine.public_key().key_id,
        recovery_public_key=None,
    )


def _write(profile: Profile, user: str, folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    ws = Workspace.sign_in(profile, username=user, password=own(user))
    try:
        return ws.sync.write_to_folder(folder).batches_sent
    finally:
        ws.close()


def _findings(profile: Profile) -> list[str]:
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    try:
        with ws.db.read() as session:
            return [
                finding.get("kind")
                for entry in audit.iter_entries(session)
                if entry.action == "integrity_violation"
                for finding in entry.details.get("findings", [])
            ]
    finally:
        ws.close()


def _opens(folder: Path, keys: dict[str, EncryptionPrivateKey]) -> str:
    text = ""
    for path in folder.iterdir():
        batch = parse_batch(path.read_bytes())
        text += json.dumps(open_batch(batch, keys), ensure_ascii=False)
    return text


def test_a_colleagues_batch_is_never_sealed_to_a_key_the_counsellor_put_in(
    site: tuple[Profile, str], office: Central, tmp_path: Path
) -> None:
    profile, _ = site
    _enrol(profile, office, tmp_path)
    first = _finalise_one(profile, "berta", seed=7)
    assert _write(profile, "berta", tmp_path / "usb1") == 1
    assert first in _opens(tmp_path / "usb1", office.keys.encryption)

    second = _finalise_one(profile, "berta", seed=8)
    mine = EncryptionPrivateKey.generate()
    _identity_sql(profile, "anna", lambda identity: _swap_office_key(identity, mine))
    with pytest.raises(SyncError, match="außerhalb des Programms"):
        _write(profile, "berta", tmp_path / "usb2")
    assert not list((tmp_path / "usb2").iterdir())
    assert "office_keys_changed" in _findings(profile)

    # her own signature over her key does not count either: she is no signer
    ws = Workspace.sign_in(profile, username="anna", password=own("anna"))
    signer = ws.db.audit_signer
    ws.close()
    _identity_sql(profile, "anna", lambda i: pin.sign(i, kid=signer.kid, key=signer.key))
    with pytest.raises(SyncError):
        _write(profile, "berta", tmp_path / "usb3")
    assert not list((tmp_path / "usb3").iterdir())

    # the administrator confirms the office again from its key-set file: nothing was
    # lost, and the batch opens for the office, not for her
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    try:
        ws.sync.confirm_office(
            expected_fingerprint=office.fingerprint,
            document=office.home.key_set_path.read_bytes(),
        )
    finally:
        ws.close()
    assert _write(profile, "berta", tmp_path / "usb4") >= 1
    text = _opens(tmp_path / "usb4", office.keys.encryption)
    assert second in text
    for path in (tmp_path / "usb4").iterdir():
        with pytest.raises(BatchError):
            open_batch(parse_batch(path.read_bytes()), {mine.public_key().key_id: mine})


def test_an_office_root_of_her_own_is_not_confirmed(
    site: tuple[Profile, str], office: Central, tmp_path: Path
) -> None:
    """She replaces the root too, with a key set her own root signed: the administrator's
    fingerprint from the office does not match, and nothing is confirmed."""
    profile, _ = site
    _enrol(profile, office, tmp_path)
    root = ec.generate_private_key(ec.SECP384R1())
    mine = EncryptionPrivateKey.generate()
    own_set = replace(
        office.published_key_set(),
        encryption_keys={mine.public_key().key_id: mine.public_key()},
        current_encryption_key_id=mine.public_key().key_id,
        recovery_key=None,
        serial=99,
    )
    document = build_key_set_document(own_set, root_key=root)

    def forge(identity: DeviceIdentity) -> DeviceIdentity:
        forged = replace(identity, root_public_key=root.public_key(), pin=None)
        return forged.with_key_set(own_set, document)

    _identity_sql(profile, "anna", forge)
    _finalise_one(profile, "berta", seed=9)
    with pytest.raises(SyncError, match="Administration"):
        _write(profile, "berta", tmp_path / "usb")
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    try:
        assert ws.sync.office_check() == "unsigned"
        with pytest.raises(EnrolmentError):
            ws.sync.confirm_office(expected_fingerprint=office.fingerprint, document=document)
        assert ws.sync.office_check() == "unsigned"
    finally:
        ws.close()


def test_a_key_set_the_office_root_signed_later_counts(
    site: tuple[Profile, str], office: Central, tmp_path: Path
) -> None:
    """A rotation: the device takes the office's next key set from its root-signed document
    (as a sync does), and keeps sealing without another confirmation."""
    profile, _ = site
    _enrol(profile, office, tmp_path)
    next_set: OfficeKeySet = publish_key_set(
        office.store, root_key=office.root_key, out=office.home.key_set_path
    )
    document = office.home.key_set_path.read_bytes()
    _identity_sql(profile, "admin", lambda identity: identity.with_key_set(next_set, document))
    ws = Workspace.sign_in(profile, username="berta", password=own("berta"))
    try:
        assert ws.sync.office_check() is None
    finally:
        ws.close()
    # the same key set without its document: not signed by anyone who counts
    _identity_sql(profile, "admin", lambda identity: replace(identity, key_set_document=None))
    ws = Workspace.sign_in(profile, username="berta", password=own("berta"))
    try:
        assert ws.sync.office_check() == "changed"
    finally:
        ws.close()


def test_a_plain_hand_over_key_beside_the_sealed_one_is_never_used(
    site: tuple[Profile, str], office: Central, tmp_path: Path
) -> None:
    """Attacker run 16: she put a plain hand-over key of her own beside the sealed one;
    the device preferred it, and a supervisor's sync sealed hers for good. The sealed key
    is the device's; a plain one beside it opens nothing and is never sealed."""
    site_key = EncryptionPrivateKey.generate()
    genuine = EncryptionPrivateKey.generate()
    mine = EncryptionPrivateKey.generate()
    _enrol(site[0], office, tmp_path)
    ws = Workspace.sign_in(site[0], username="admin", password=own("admin"))
    identity = ws.sync.identity()
    ws.close()
    assert identity is not None
    sealed = identity.sealed_with(genuine, site_key.public_key())
    planted = replace(sealed, encryption_key=mine.raw)
    again = DeviceIdentity.from_json(planted.to_json())
    opened = again.open_encryption_key(site_key)
    assert opened is not None and opened.key_id == genuine.key_id
    assert again.open_encryption_key(None) is None
    assert again.encryption_public_key() == genuine.public_key()
    resealed = again.sealed_with(opened, EncryptionPrivateKey.generate().public_key())
    assert resealed.encryption_key is None


def test_the_administrator_adds_no_recipient_of_her_own(
    site: tuple[Profile, str], office: Central, tmp_path: Path
) -> None:
    """Attacker run 16: the administrator is a signer; she put her own key in as the
    batches' recovery recipient (the office's key kept) and signed the identity again.
    Office keys count only with the office root's word for them, so nothing is sealed."""
    profile, _ = site
    _enrol(profile, office, tmp_path)
    mine = EncryptionPrivateKey.generate()
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    signer = ws.db.audit_signer
    ws.close()

    def add_recipient(identity: DeviceIdentity) -> DeviceIdentity:
        changed = replace(identity, recovery_public_key=mine.public_key())
        return pin.sign(changed, kid=signer.kid, key=signer.key)

    _identity_sql(profile, "admin", add_recipient)
    _finalise_one(profile, "berta", seed=11)
    with pytest.raises(SyncError, match="außerhalb des Programms"):
        _write(profile, "berta", tmp_path / "usb")
    assert not list((tmp_path / "usb").iterdir())


def test_a_registration_that_is_none_stops_no_sync_raw_and_can_be_made_anew(
    site: tuple[Profile, str], office: Central, tmp_path: Path
) -> None:
    """Attacker run 32: ``device.identity = 'garbage'`` stopped every sync with a raw
    ``JSONDecodeError``. Now the sync says what happened, nothing leaves the outbox, and
    the administrator registers the device again with a new enrolment file."""
    profile, _ = site
    _enrol(profile, office, tmp_path)
    key = keys_for(profile.root / "vault.json", "anna", own("anna"))[0]
    conn = sqlcipher3.connect(str(profile.root / "intake.db"))
    try:
        conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
        conn.execute("UPDATE device SET identity = 'garbage'")
        conn.commit()
    finally:
        conn.close()
    ws = Workspace.sign_in(profile, username="berta", password=own("berta"))
    try:
        with pytest.raises(SyncError, match="Registrierung dieses Geräts"):
            ws.sync.prepare("folder")
    finally:
        ws.close()
    _enrol(profile, office, tmp_path / "again")
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    try:
        identity = ws.sync.identity()
        assert identity is not None and identity.office_fingerprint
    finally:
        ws.close()
