"""Item 3: hostile batches are refused with a reason, never half imported, the queue flows.

A real office (``intake-central serve`` on 127.0.0.1, with a recovery key so batches have
two recipients) and real enrolled devices. From genuine batches the test makes:

* every byte position class flipped (magic, version, header length, header, recipient
  count, each recipient's key id, length and sealed key, nonce, ciphertext length,
  ciphertext, GCM tag, both halves of the signature) — every byte in the full run;
* truncations at random lengths (every length in the full run);
* replays: the same batch again, after import, through the other transport; another
  batch under a used batch id;
* re-signed copies: with an unregistered key, with another enrolled device's key, and
  re-headered as the other device's own batch;
* sealed to another office key: named as such, and disguised under the real key id;
* batches of a revoked, an unregistered and an unknown device; an oversized file.

Each goes to the receiver over HTTP (refused with a 4xx and a reason, or, when it is
genuinely signed, stored and refused by the importer) and as a file on a USB folder to
``intake-central import`` (quarantined with a reason). Genuine batches are interleaved
with the hostile ones; every one of them is imported, and the central database holds
exactly the genuine records.
"""

from __future__ import annotations

import json
import random
import subprocess
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from intake_app.sync import keys
from intake_app.sync.batch import BuiltBatch, build_batch
from intake_app.sync.identity import DeviceIdentity
from intake_app.sync.keys import EncryptionPrivateKey
from intake_app.sync.receipt import ReceiptStatus
from intake_app.sync.transport_folder import read_receipts
from intake_app.sync.transport_http import SyncClient
from tests.e2e.conftest import FAST, Office, _start, central_command
from tests.torture.conftest import Figures, Scale, Stopwatch, central_batches, central_rows
from tests.torture.helpers import forge
from tests.unit.sync.factories import make_payload

pytestmark = [pytest.mark.torture, pytest.mark.e2e]

RECEIVER_REASONS = {
    "bad_magic",
    "unsupported_version",
    "header_invalid",
    "recipients_invalid",
    "bad_signature",
    "device_key_mismatch",
    "truncated",
    "trailing_data",
    "unsigned",
    "too_large",
    "unknown_device",
    "not_registered",
    "revoked",
    "unknown_office_key",
    "batch_id_conflict",
}
QUARANTINE_REASONS = {
    "bad_signature",
    "device_key_mismatch",
    "truncated",
    "unsigned",
    "header_invalid",
    "bad_magic",
    "trailing_data",
    "recipients_invalid",
    "too_large",
    "replayed_batch_id",
    "batch_id_conflict",
    "wrong_key",
    "decrypt_failed",
    "payload_invalid",
    "manifest_mismatch",
    "unknown_device",
    "not_registered",
    "revoked_device",
    "unsupported_version",
}
#: Classes behind the header whose flip leaves the structure intact: only the signature fails.
SIGNATURE_ONLY = {
    "nonce",
    "ciphertext",
    "gcm_tag",
    "signature_r",
    "signature_s",
    "recipient1_sealed_key",
    "recipient2_sealed_key",
}


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Office]:
    """The office of ``tests.e2e.conftest``, whose receiver lets one address (this test)
    send thousands of refused batches: the test counts reasons, not the rate limit."""
    home = tmp_path / "office"
    yield from _start(
        home,
        database_url=f"sqlite:///{home / 'central.db'}",
        serve_args=("--client-failure-rate", "100000"),
    )


class Genuine:
    """Genuine batches of the good device, and the record refs they carry."""

    def __init__(self, identity: DeviceIdentity) -> None:
        self.identity = identity
        self.batches: dict[str, BuiltBatch] = {}
        self.seed = 0

    def new(self) -> BuiltBatch:
        self.seed += 1
        batch = build_batch(make_payload(2, seed=self.seed), identity=self.identity)
        self.batches[batch.batch_id] = batch
        return batch

    def refs(self) -> set[tuple[str, int]]:
        return {tuple(ref) for b in self.batches.values() for ref in b.records}  # type: ignore[misc]


def _quarantine_notes(office: Office) -> dict[str, str]:
    """original file name (or batch id) -> reason, from the quarantine's note files."""
    notes = {}
    for path in (office.home / "quarantine").glob("*.json"):
        note = json.loads(path.read_text("utf-8"))
        notes[note["original_name"]] = note["reason"]
    return notes


def _add_recovery_key(office: Office, folder: Path) -> None:
    env = {**office.env, "INTAKE_RECOVERY_PASSPHRASE": "recovery passphrase for the torture"}
    done = subprocess.run(
        central_command(
            "--home", str(office.home), "keys", "recovery", "--out", str(folder / "rk.json")
        ),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def test_hostile_batches_are_refused_and_the_queue_flows(
    office: Office, tmp_path: Path, scale: Scale, figures: Figures
) -> None:
    _add_recovery_key(office, tmp_path)
    good, _ = office.enrol("laptop-good")
    assert good.recovery_public_key is not None, "batches should have two recipients"
    other, _ = office.enrol("laptop-other")
    stolen, _ = office.enrol("laptop-stolen")
    pending, _ = office.enrol("laptop-pending", register=False)
    stranger = replace(
        good,
        device_id=str(uuid.uuid4()),
        private_key_pem=keys.private_key_to_pem(keys.generate_signing_key()),
    )
    genuine = Genuine(good)
    rng = random.Random(4)
    http = httpx.Client(base_url=office.url, timeout=30)
    client = SyncClient(good, settings=FAST)

    # a batch the stolen laptop sent before it was revoked is still imported
    before_revocation = build_batch(make_payload(2, seed=900), identity=stolen)
    with SyncClient(stolen, settings=FAST) as thief:
        assert thief.send_batch(before_revocation).status == ReceiptStatus.STORED
    office.cli("devices", "revoke", "laptop-stolen")

    base = genuine.new()  # the batch all flips and cuts are made from
    data = base.data
    foreign = EncryptionPrivateKey.generate().public_key()
    office_kid = good.current_office_key_id

    def sealed_elsewhere(identity: DeviceIdentity) -> BuiltBatch:
        return build_batch(
            make_payload(1, seed=rng.randrange(10**6)),
            identity=replace(
                identity,
                office_encryption_keys={foreign.key_id: foreign},
                current_office_key_id=foreign.key_id,
            ),
        )

    def specials() -> list[tuple[str, bytes, str]]:
        """(label, bytes, expected receiver reason or "stored")."""
        fresh = build_batch(make_payload(1, seed=rng.randrange(10**6)), identity=good)
        elsewhere = sealed_elsewhere(good)
        disguised = forge.rebuild(
            elsewhere.data,
            header={"office_key_id": office_kid},
            recipient_kids=[office_kid, good.recovery_public_key.key_id],  # type: ignore[union-attr]
            key=good.signing_key(),
        )
        other_key = other.signing_key()
        return [
            (
                "resigned-unregistered-key",
                forge.resign(fresh.data, keys.generate_signing_key()),
                "bad_signature",
            ),
            ("resigned-other-device", forge.resign(fresh.data, other_key), "bad_signature"),
            (
                "reheadered-as-other-device",
                forge.rebuild(
                    fresh.data,
                    header={
                        "device_id": other.device_id,
                        "device_key_id": other.key_id,
                        "batch_id": str(uuid.uuid4()),
                    },
                    key=other_key,
                ),
                "stored",
            ),
            ("sealed-to-foreign-office-key", elsewhere.data, "unknown_office_key"),
            ("foreign-key-disguised-as-office-key", disguised, "stored"),
            (
                "revoked-device",
                build_batch(make_payload(1, seed=rng.randrange(10**6)), identity=stolen).data,
                "revoked",
            ),
            (
                "unregistered-device",
                build_batch(make_payload(1, seed=rng.randrange(10**6)), identity=pending).data,
                "not_registered",
            ),
            (
                "unknown-device",
                build_batch(make_payload(1, seed=rng.randrange(10**6)), identity=stranger).data,
                "unknown_device",
            ),
            ("oversized", data + bytes(9 * 1024 * 1024), "too_large"),
        ]

    flipped = list(
        forge.flips(
            data, every_byte=scale.flip_every_byte, per_class=scale.flips_per_class, rng=rng
        )
    )
    cuts = forge.truncations(data, count=scale.truncations, rng=rng)
    reasons_by_class: dict[str, Counter[str]] = {}
    refused = stored_hostile = good_sent = 0

    # -- 1. over HTTP ---------------------------------------------------------------------
    def post(label: str, body: bytes, expected: str | None = None) -> None:
        nonlocal refused, stored_hostile, good_sent
        response = http.post("/v1/batches", content=body)
        if expected == "stored":
            assert response.status_code == 200, (label, response.text)
            stored_hostile += 1
            return
        assert 400 <= response.status_code < 500, (label, response.status_code, response.text)
        reason = response.json()["error"]
        assert reason in RECEIVER_REASONS, (label, reason)
        if expected is not None:
            assert reason == expected, (label, reason)
        refused += 1
        if len(refused_log) < 5 or refused % 50 == 0:  # the queue keeps flowing meanwhile
            assert client.send_batch(genuine.new()).status == ReceiptStatus.STORED
            good_sent += 1
        refused_log.append(label)
        reasons_by_class.setdefault(label.split(":")[0], Counter())[reason] += 1

    refused_log: list[str] = []
    with Stopwatch() as over_http:
        for name, position, body in flipped:
            expected = {"magic": "bad_magic", "version": "unsupported_version"}.get(name)
            if name in SIGNATURE_ONLY:
                expected = "bad_signature"
            post(f"{name}:{position}", body, expected)
        for length in cuts:
            post(f"truncated:{length}", data[:length])
        special_list = specials()
        for label, body, expected in special_list:
            post(f"special:{label}", body, expected)
        # the genuine batch after all its forged copies; then replays of it
        first = client.send_batch(base)
        assert first.status == ReceiptStatus.STORED
        assert client.send_batch(base).raw == first.raw, "a resend gets the same receipt"
        good_sent += 1
        other_content = build_batch(make_payload(1, seed=5), identity=good, batch_id=base.batch_id)
        post("special:same-batch-id-other-content", other_content.data, "batch_id_conflict")
    http_requests = len(flipped) + len(cuts) + len(special_list) + 1

    result = office.cli("import")
    statuses = central_batches(office)
    assert all(statuses[b] == "imported" for b in genuine.batches), result.stdout
    assert statuses[before_revocation.batch_id] == "imported"
    hostile_stored = [b for b in statuses if b not in genuine.batches]
    assert len(hostile_stored) == 1 + stored_hostile  # + the pre-revocation batch
    assert (
        sorted(statuses[b] for b in hostile_stored if b != before_revocation.batch_id)
        == ["quarantined"] * stored_hostile
    )
    notes = _quarantine_notes(office)
    assert all(reason in QUARANTINE_REASONS for reason in notes.values()), notes
    assert set(notes.values()) == {"wrong_key"}, "re-headered and disguised copies cannot open"

    # -- 2. on a USB folder -------------------------------------------------------------
    stick = tmp_path / "stick"
    stick.mkdir()
    hostile_files: dict[str, str] = {}  # file name -> class
    folder_genuine: dict[str, str] = {}
    sequence = 0

    def put(label: str, body: bytes) -> None:
        nonlocal sequence
        sequence += 1
        name = f"{sequence:06d}-{label.replace(':', '-')}.ibatch"
        (stick / name).write_bytes(body)
        hostile_files[name] = label.split(":")[0]
        if sequence % 40 == 0:
            put_genuine()

    def put_genuine() -> None:
        nonlocal sequence
        sequence += 1
        batch = genuine.new()
        (stick / f"{sequence:06d}-genuine.ibatch").write_bytes(batch.data)
        folder_genuine[batch.batch_id] = batch.sha384

    fresh_base = genuine.new()  # not sent yet: flips first, the genuine file after them
    del genuine.batches[fresh_base.batch_id]
    for name, position, body in forge.flips(
        fresh_base.data, every_byte=scale.flip_every_byte, per_class=scale.flips_per_class, rng=rng
    ):
        put(f"{name}:{position}", body)
    for length in forge.truncations(fresh_base.data, count=scale.truncations, rng=rng):
        put(f"truncated:{length}", fresh_base.data[:length])
    for label, body, _expected in specials():
        put(f"special:{label}", body)
    put(
        "special:replay-of-an-imported-batch-id-other-bytes",
        build_batch(make_payload(1, seed=6), identity=good, batch_id=base.batch_id).data,
    )
    genuine.batches[fresh_base.batch_id] = fresh_base
    sequence += 1
    (stick / f"{sequence:06d}-genuine.ibatch").write_bytes(fresh_base.data)
    folder_genuine[fresh_base.batch_id] = fresh_base.sha384
    (stick / "999998-replay-of-imported.ibatch").write_bytes(base.data)
    put_genuine()

    with Stopwatch() as over_folder:
        result = office.cli("import", "--from-dir", str(stick))
    notes = _quarantine_notes(office)
    missing = sorted(set(hostile_files) - set(notes))
    # a file whose exact bytes were quarantined before has no second note: none here
    assert missing == [], f"hostile files not quarantined: {missing[:10]}"
    folder_reasons: dict[str, Counter[str]] = {}
    for name, kind in hostile_files.items():
        assert notes[name] in QUARANTINE_REASONS, (name, notes[name])
        folder_reasons.setdefault(kind, Counter())[notes[name]] += 1
        if kind in SIGNATURE_ONLY:
            assert notes[name] == "bad_signature", (name, notes[name])
    assert "999998-replay-of-imported.ibatch" not in notes
    assert "schon importiert" in result.stdout

    # -- 3. the queue keeps flowing: genuine batches after all of it --------------------
    last = genuine.new()
    assert client.send_batch(last).status == ReceiptStatus.STORED
    office.cli("import")
    client.close()
    http.close()

    rows = central_rows(office)
    pairs = Counter((r[0], r[1]) for r in rows)
    expected_refs = genuine.refs() | {tuple(r) for r in before_revocation.records}
    assert set(pairs) == expected_refs, "only genuine records may reach the database"
    assert all(n == 1 for n in pairs.values())
    for record_id, revision, batch_id in rows:
        origin = genuine.batches.get(batch_id) or before_revocation
        assert (record_id, revision) in {tuple(r) for r in origin.records}
    found = read_receipts(stick, identity=good, expected=folder_genuine)
    assert found.invalid == []
    imported = {r.batch_id for r in found.receipts if r.status == ReceiptStatus.IMPORTED}
    assert imported == set(folder_genuine) | {base.batch_id}

    test = "hostile batches"
    figures.add("3", test, "batch size (2 recipients)", len(data), "bytes")
    figures.add("3", test, "byte flips (positions)", len(flipped))
    figures.add("3", test, "byte position classes", len(forge.regions(data)))
    figures.add("3", test, "truncations", len(cuts))
    figures.add(
        "3", test, "replays, re-signed, re-sealed, revoked/unknown devices", len(special_list) + 3
    )
    figures.add("3", test, "HTTP requests refused with a reason", refused)
    figures.add(
        "3", test, "validly signed forgeries stored, then quarantined (wrong_key)", stored_hostile
    )
    figures.add("3", test, "files on the USB folder quarantined with a reason", len(hostile_files))
    figures.add("3", test, "genuine batches interleaved, all imported", len(genuine.batches))
    figures.add("3", test, "hostile records imported", 0)
    figures.add(
        "3",
        test,
        "receiver time per hostile request",
        over_http.seconds / max(http_requests, 1) * 1000,
        "ms",
    )
    figures.add(
        "3",
        test,
        "importer time per hostile file",
        over_folder.seconds / max(len(hostile_files), 1) * 1000,
        "ms",
    )
    for kind in sorted(reasons_by_class):
        spread = ", ".join(f"{r} {n}" for r, n in reasons_by_class[kind].most_common())
        figures.add("3", test, f"receiver reasons: {kind}", spread)
    for kind in sorted(folder_reasons):
        spread = ", ".join(f"{r} {n}" for r, n in folder_reasons[kind].most_common())
        figures.add("3", test, f"quarantine reasons: {kind}", spread)
