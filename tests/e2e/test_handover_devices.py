"""Hand-over of a case between two real devices through a real office on 127.0.0.1.

Device A (Köln) asks for the hand-over of a consented case to site Bonn; the office seals
it for device B, which fetches it over HTTP (or from a USB folder) and takes it into the
store of whoever synced, with its provenance; A closes the case as "another service took
over" once the office confirms. Refused up front on the device without consent or after a
withdrawal, and at the office when no device takes over cases for the recipient
(docs/security.md, "Hand-over through the office").
"""

from __future__ import annotations

import base64
import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from intake_app.app import Workspace
from intake_app.central import db as central_db
from intake_app.cli import main
from intake_app.core.followup import check_contact
from intake_app.core.handover import HandoverRefused
from intake_app.core.records import RecordStatus
from intake_app.storage import audit
from intake_app.storage.models import DeviceRow, OutboxItem
from intake_app.storage.profile import Profile
from intake_app.sync.identity import DeviceIdentity
from intake_app.sync.keys import EncryptionPrivateKey
from tests.conftest import ADMIN, COUNSELLOR, COUNSELLOR_PASSWORD, SUPERVISOR, ProfileFixture
from tests.e2e.conftest import FAST, Office
from tests.e2e.test_device_sync import enrol_device
from tests.helpers.organisation import sign_organisation
from tests.unit.followup.test_updates import INTAKE, case_with_plan

pytestmark = pytest.mark.e2e

PURPOSE = "handover_sites"
LANGUAGES = ("de", "en", "ar", "uk", "ru", "tr", "fa")


def _local(text: str) -> str:
    return "\n".join(f"      {lang}: {text}" for lang in LANGUAGES)


HANDOVER_PURPOSE = f"""
  - id: {PURPOSE}
    handover: true
    label:
{_local("Übergabe an einen anderen Standort des Programms")}
    description:
{_local("Ihre Akte wird über die Zentralstelle an den genannten Standort übergeben.")}
    data_categories: [identity, residence, language, education, work_experience, goals]
    recipients:
      - id: site_bonn
        name: Beratungsstelle Bonn (Beispiel)
      - id: site_aachen
        name: Beratungsstelle Aachen (Beispiel)
"""


def with_handover_purpose(root: Path) -> None:
    """The shipped organisation file plus a hand-over purpose, as the profile's own."""
    default = Path(__file__).parents[2] / "resources" / "config" / "organisation-default.yaml"
    text = default.read_text("utf-8")
    head, tail = text.split("\ntexts:", 1)
    (root / "organisation.yaml").write_text(head + HANDOVER_PURPOSE + "\ntexts:" + tail, "utf-8")
    if (root / "vault.json").is_file():  # a profile: signed as its administrator saves it
        sign_organisation(Profile(root))


def second_device(template: ProfileFixture, tmp_path: Path) -> ProfileFixture:
    target = tmp_path / "profile-bonn"
    shutil.copytree(template.profile.root, target)
    return ProfileFixture(Profile(target), template.recovery_key)


def consented_case(ws: Workspace, *, granted: bool = True) -> str:
    record_id = case_with_plan(ws)
    record = ws.records.get(record_id)
    answers = dict(record.answers)
    # a second revision that records the hand-over consent as the person gave it
    ws.records.start_revision(record_id, reason="Einwilligung Übergabe")
    answers["consent"]["purposes"][PURPOSE].update(granted=granted)
    ws.records.finalise(record_id, answers=answers)
    return record_id


def keep_encryption_key_in_plain(profile: ProfileFixture, *, keep_public: bool = False) -> None:
    """Make the device look enrolled when the hand-over key pair was kept in plain
    (``keep_public``: the public field beside it left as it was)."""
    ws = profile.sign_in(ADMIN)
    try:
        with ws.db.write() as session:
            row = session.scalars(select(DeviceRow)).one()
            identity = DeviceIdentity.from_json(row.identity)
            row.identity = dataclasses.replace(
                identity,
                encryption_key=EncryptionPrivateKey.generate().raw,
                encryption_public=identity.encryption_public if keep_public else None,
                encryption_sealed=None,
            ).to_json()
            session.add(row)
    finally:
        ws.close()


def device_identity(profile: ProfileFixture) -> DeviceIdentity:
    ws = profile.sign_in(ADMIN)
    try:
        identity = ws.sync.identity()
        assert identity is not None
        return identity
    finally:
        ws.close()


@pytest.fixture
def devices(
    profile: ProfileFixture,
    _profile_template: ProfileFixture,
    office: Office,
    tmp_path: Path,
) -> tuple[ProfileFixture, ProfileFixture]:
    bonn = second_device(_profile_template, tmp_path)
    for device in (profile, bonn):
        with_handover_purpose(device.profile.root)
    enrol_device(profile, office, tmp_path, name="laptop-koeln")
    enrol_device(bonn, office, tmp_path, name="laptop-bonn")
    office.cli("devices", "recipient", "laptop-bonn", "site_bonn", "--purpose", PURPOSE)
    return profile, bonn


def test_a_case_goes_from_koeln_to_bonn_through_the_office(
    devices: tuple[ProfileFixture, ProfileFixture], office: Office, tmp_path: Path
) -> None:
    koeln, bonn = devices
    # B was enrolled before hand-over keys were sealed to the site key: its key pair is in
    # plain in the profile database, which every user opens
    keep_encryption_key_in_plain(bonn)
    plain = device_identity(bonn).encryption_private_key()
    assert plain is not None
    # a counsellor's sync neither seals it nor takes hand-overs in (she has no site key)
    ws = bonn.sign_in(COUNSELLOR)
    try:
        ws.sync.send(settings=FAST)
    finally:
        ws.close()
    assert device_identity(bonn).encryption_private_key() is not None
    # the supervisor's sync seals the same key pair to the site key and sends it once
    ws = bonn.sign_in(SUPERVISOR)
    try:
        ws.sync.send(settings=FAST)
        ws.sync.send(settings=FAST)
        with ws.db.read() as session:
            keys = session.scalars(select(OutboxItem).where(OutboxItem.kind == "device_key")).all()
        assert [item.state for item in keys] == ["delivered"]
    finally:
        ws.close()
    office.cli("import")
    sealed = device_identity(bonn)
    assert sealed.encryption_private_key() is None and sealed.encryption_sealed is not None
    assert "encryption_key" not in json.loads(sealed.to_json())
    assert sealed.open_encryption_key(None) is None
    public = sealed.encryption_public_key()
    assert public is not None and public.key_id == plain.key_id
    assert [r.key_id for r in office.rows(sa.select(central_db.device_encryption_keys))] == [
        plain.key_id
    ]

    # A: a consented case with a contact, and two that may not go
    ws = koeln.sign_in(COUNSELLOR)
    try:
        record_id = consented_case(ws)
        ws.records.add_contact(
            record_id,
            check_contact(on=INTAKE, mode="phone", topics=["job_search"], note="bleibt in Köln"),
        )
        refused_id = consented_case(ws, granted=False)
        withdrawn_id = consented_case(ws)
        ws.records.withdraw_consent(withdrawn_id, purpose=PURPOSE, withdrawn_on=INTAKE)
        with pytest.raises(HandoverRefused) as no_consent:
            ws.records.request_handover(refused_id, recipient="site_bonn")
        assert no_consent.value.reason == "no_consent"
        assert "nicht zugestimmt" in str(no_consent.value)
        with pytest.raises(HandoverRefused) as withdrawn:
            ws.records.request_handover(withdrawn_id, recipient="site_bonn")
        assert withdrawn.value.reason == "consent_withdrawn"
        assert "widerrufen" in str(withdrawn.value)
        handover_id = ws.records.request_handover(record_id, recipient="site_bonn")
        # the office refuses what nobody takes over (no device for Aachen)
        aachen_id = consented_case(ws)
        ws.records.request_handover(aachen_id, recipient="site_aachen")
        ws.sync.send(settings=FAST)
    finally:
        ws.close()
    out = office.cli("import").stdout
    assert "kein übernehmendes Gerät" in out
    statuses = {
        row.handover_id: row.status
        for row in office.rows(
            sa.select(central_db.handovers.c.handover_id, central_db.handovers.c.status)
        )
    }
    assert statuses[handover_id] == "sealed"
    assert sorted(statuses.values()) == ["refused", "sealed"]

    # A learns the answers: the case is closed as "another service took over"
    ws = koeln.sign_in(COUNSELLOR)
    try:
        result = ws.sync.send(settings=FAST)
        assert result.handovers_sealed == [record_id]
        assert result.handovers_refused == [aachen_id]
        assert ws.records.get(record_id).status == RecordStatus.CLOSED
        assert ws.records.get(aachen_id).status == RecordStatus.COMPLETE
        closure = ws.records.case_events(record_id)[-1]
        assert closure.kind == "closure"
        closed = json.loads(closure.data)
        assert closed["reason"] == "other_service"
        assert handover_id in closed["note"]
        again = ws.sync.send(settings=FAST)
        assert again.handovers_sealed == [] and len(ws.records.case_events(record_id)) == 2
        with ws.db.read() as session:
            actions = [
                e.action
                for e in audit.entries_for_subject(
                    session, subject_type="record", subject_id=record_id
                )
            ]
        assert actions.count("handover_requested") == 1
        assert actions.count("handover_sealed") == 1
    finally:
        ws.close()

    # a counsellor of B cannot open it: it waits at the office
    ws = bonn.sign_in(COUNSELLOR)
    try:
        assert ws.sync.send(settings=FAST).handovers_taken == []
    finally:
        ws.close()
    # B's supervisor fetches it over HTTP and takes it in, once
    ws = bonn.sign_in(SUPERVISOR)
    try:
        taken = ws.sync.send(settings=FAST).handovers_taken
        assert len(taken) == 1
        (new_id,) = taken
        assert new_id != record_id
        record = ws.records.get(new_id)
        assert record.answers["family_name"] == "Updatetest"
        assert record.status == RecordStatus.COMPLETE
        (revision,) = ws.records.revisions(new_id)
        assert handover_id in (revision.reason or "") and record_id in (revision.reason or "")
        events = ws.records.case_events(new_id)
        assert [e.kind for e in events] == ["contact"]
        assert "bleibt in Köln" not in str(events[0].data)  # notes never travel
        assert ws.sync.send(settings=FAST).handovers_taken == []
        with ws.db.read() as session:
            (entry,) = audit.entries_for_subject(
                session, subject_type="handover", subject_id=handover_id
            )
        assert entry.action == "handover_received"
        assert entry.details["from_device"] == device_identity(koeln).device_id
        assert entry.details["from_record"] == record_id
    finally:
        ws.close()

    # the same hand-over from a USB folder later: not taken twice, and the file goes
    stick = tmp_path / "stick"
    stick.mkdir()
    office.cli("handovers", "export", "--device", "laptop-bonn", "--out", str(stick))
    assert len(list(stick.glob("*.ihandover"))) == 1
    sup = bonn.sign_in(SUPERVISOR)
    try:
        result = sup.sync.import_receipts(stick)
        assert result.handovers_taken == [] and result.handovers_failed == []
        assert list(stick.glob("*.ihandover")) == []
    finally:
        sup.close()


def test_a_hand_over_comes_by_usb_stick(
    devices: tuple[ProfileFixture, ProfileFixture],
    office: Office,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    koeln, bonn = devices
    ws = bonn.sign_in(SUPERVISOR)
    try:
        ws.sync.send(settings=FAST)  # its key
    finally:
        ws.close()
    office.cli("import")
    stick = tmp_path / "stick"
    stick.mkdir()
    ws = koeln.sign_in(COUNSELLOR)
    try:
        record_id = consented_case(ws)
    finally:
        ws.close()
    # asked for on the command line this time, and the answer is said there too
    password = tmp_path / "counsellor.pw"
    password.write_text(COUNSELLOR_PASSWORD, "utf-8")
    cli = ["--data-dir", str(koeln.profile.root), "--user", COUNSELLOR]
    cli += ["--password-file", str(password)]
    assert main([*cli, "records", "handover", "--record", record_id, "--to", "site_bonn"]) == 0
    assert "angefragt" in capsys.readouterr().out
    assert main([*cli, "sync", "--to-dir", str(stick)]) == 0
    office.cli("import", "--from-dir", str(stick))
    office.cli("handovers", "export", "--device", "laptop-bonn", "--out", str(stick))
    # a stick shared with device A: A's receipts and B's hand-over side by side
    capsys.readouterr()
    assert main([*cli, "sync", "--import-receipts", str(stick)]) == 0
    assert "von der Zentrale bestätigt" in capsys.readouterr().out
    ws = koeln.sign_in(COUNSELLOR)
    try:
        assert ws.records.get(record_id).status == RecordStatus.CLOSED
        result = ws.sync.import_receipts(stick)
        assert result.handovers_sealed == [] and result.handovers_taken == []  # nothing for A
    finally:
        ws.close()
    assert len(list(stick.glob("*.ihandover"))) == 1
    # a damaged copy beside it is refused with its reason, nothing is taken from it
    (path,) = stick.glob("*.ihandover")
    damaged = stick / path.name.replace("intake-handover-", "intake-handover-0")
    document = json.loads(path.read_bytes())
    signature = bytearray(base64.b64decode(document["signature"]))
    signature[-1] ^= 1
    document["signature"] = base64.b64encode(bytes(signature)).decode("ascii")
    damaged.write_text(json.dumps(document), "utf-8")
    ws = bonn.sign_in(SUPERVISOR)
    try:
        result = ws.sync.import_receipts(stick)
        assert len(result.handovers_taken) == 1
        assert [reason for _name, reason in result.handovers_failed] == ["bad_signature"]
        (new_id,) = result.handovers_taken
        assert ws.records.get(new_id).answers["family_name"] == "Updatetest"
        assert not path.exists() and damaged.exists()
    finally:
        ws.close()


@pytest.mark.parametrize("keep_public", [False, True])
def test_a_sealed_hand_over_key_swapped_for_a_plain_one_is_not_sealed(
    devices: tuple[ProfileFixture, ProfileFixture], office: Office, keep_public: bool
) -> None:
    """Attacker run 17: the sealed hand-over key taken out and a plain pair of her own put
    in, so that the device looked enrolled before keys were sealed; the supervisor's next
    sync sealed hers. Her sync sent the office the first key, so it refuses, and says so.
    Run 18 kept the genuine public field beside her private key: the pair's own public
    half is compared."""
    _koeln, bonn = devices
    ws = bonn.sign_in(SUPERVISOR)
    try:
        ws.sync.send(settings=FAST)  # makes, seals and sends the device's key
    finally:
        ws.close()
    genuine = device_identity(bonn).encryption_public_key()
    assert genuine is not None
    # the swap, as whoever holds the profile key can
    keep_encryption_key_in_plain(bonn, keep_public=keep_public)
    ws = bonn.sign_in(SUPERVISOR)
    try:
        ws.sync.send(settings=FAST)
        with ws.db.read() as session:
            kinds = [
                finding.get("kind")
                for entry in audit.iter_entries(session)
                if entry.action == "integrity_violation"
                for finding in entry.details.get("findings", [])
            ]
    finally:
        ws.close()
    assert "handover_key_replaced" in kinds
    swapped = device_identity(bonn)
    assert swapped.encryption_sealed is None  # hers was not sealed
    plain = swapped.encryption_private_key()
    assert plain is not None and plain.public_key() != genuine
