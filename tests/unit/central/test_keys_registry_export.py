"""Office key file, device registry, exports and the central schema."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from intake_app.central import db
from intake_app.central.export import export_records, export_statistics
from intake_app.central.keystore import KeyStore, read_recovery_key, write_recovery_key
from intake_app.central.registry import enrol_device, register_device, revoke_device
from intake_app.errors import AuthError, ConflictError, NotFound
from intake_app.sync import keys
from intake_app.sync.batch import build_batch
from intake_app.sync.enrolment import (
    build_registration,
    create_identity,
    read_enrolment,
    read_registration,
)
from intake_app.sync.errors import EnrolmentError
from tests.unit.central.harness import FAST_KDF, PASSPHRASE, Central
from tests.unit.central.test_importer import payload_of, receive
from tests.unit.sync.factories import erasure, make_record, withdrawal

# -- keys ----------------------------------------------------------------------------------


def test_key_file_holds_no_private_key_in_the_clear(tmp_path: Path) -> None:
    store, office = KeyStore.create(tmp_path / "keys.json", passphrase=PASSPHRASE, params=FAST_KDF)
    text = (tmp_path / "keys.json").read_text()
    secret = office.encryption[office.current_encryption_kid].raw
    assert keys.b64(secret) not in text and secret.hex() not in text
    scalar = keys.signing_private_to_bytes(office.signing_key)
    assert keys.b64(scalar) not in text and scalar.hex() not in text
    again = store.unlock(PASSPHRASE)
    assert again.encryption[office.current_encryption_kid].raw == secret
    data = json.loads(text)
    assert data["kdf"]["alg"] == "argon2id"
    assert data["encryption_keys"][0]["private"]["alg"] == "A256GCM"


def test_wrong_passphrase_is_an_auth_error(tmp_path: Path) -> None:
    store, _ = KeyStore.create(tmp_path / "keys.json", passphrase=PASSPHRASE, params=FAST_KDF)
    with pytest.raises(AuthError):
        store.unlock("not the passphrase")


def test_rotation_keeps_old_keys(tmp_path: Path) -> None:
    store, first = KeyStore.create(tmp_path / "keys.json", passphrase=PASSPHRASE, params=FAST_KDF)
    new = store.rotate(passphrase=PASSPHRASE, encryption=True, signing=True)
    after = store.unlock(PASSPHRASE)
    assert after.current_encryption_kid == new[0] != first.current_encryption_kid
    assert set(after.encryption) == {first.current_encryption_kid, new[0]}
    assert after.current_signing_kid == new[1]
    public = store.public_key_set()
    assert public.current_encryption_key_id == new[0]
    assert set(public.signing_keys) == {first.current_signing_kid, new[1]}
    statuses = {row["kid"]: row["status"] for row in store.describe()}
    assert statuses[first.current_encryption_kid] == "retained"


def test_root_importer_and_receiver_keys_are_separate_files_with_own_secrets(
    tmp_path: Path,
) -> None:
    from intake_app.central.keystore import ReceiverKey, RootKey

    store, office = KeyStore.create(tmp_path / "keys.json", passphrase=PASSPHRASE, params=FAST_KDF)
    root_file, root = RootKey.create(
        tmp_path / "root.json", passphrase="the root passphrase", params=FAST_KDF
    )
    receiver_file, receipt = ReceiverKey.create(
        tmp_path / "receiver.json",
        passphrase="the receiver passphrase",
        root_key=root,
        params=FAST_KDF,
    )
    files = [json.loads((tmp_path / n).read_text()) for n in ("keys.json", "root.json")]
    receiver_data = json.loads((tmp_path / "receiver.json").read_text())
    salts = {files[0]["kdf"]["salt"], files[1]["kdf"]["salt"], receiver_data["kdf"]["salt"]}
    assert len(salts) == 3
    # the receiver's file holds one signing key and nothing that decrypts
    assert set(receiver_data) == {
        "format",
        "version",
        "kid",
        "created",
        "public_pem",
        "kdf",
        "private",
        "certificate",
    }
    assert "encryption" not in json.dumps(receiver_data)
    with pytest.raises(AuthError):
        receiver_file.unlock(PASSPHRASE)
    with pytest.raises(AuthError):
        root_file.unlock("the receiver passphrase")
    assert keys.signing_key_id(
        receiver_file.unlock("the receiver passphrase").public_key()
    ) == keys.signing_key_id(receipt.public_key())
    assert root_file.kid == keys.signing_key_id(root.public_key())
    assert office.current_encryption_kid in store.public_key_set().encryption_keys


def test_revoked_receipt_key_leaves_the_key_set(tmp_path: Path) -> None:
    store, office = KeyStore.create(tmp_path / "keys.json", passphrase=PASSPHRASE, params=FAST_KDF)
    receiver = keys.generate_signing_key()
    kid = store.add_receiver_key(receiver.public_key())
    first = store.next_key_set()
    assert kid in first.signing_keys and first.serial == 1
    store.revoke_receipt_key(kid)
    second = store.next_key_set()
    assert kid not in second.signing_keys and second.serial == 2
    with pytest.raises(ConflictError):
        store.revoke_receipt_key(office.current_signing_kid)


def test_key_file_is_not_replaced(tmp_path: Path) -> None:
    KeyStore.create(tmp_path / "keys.json", passphrase=PASSPHRASE, params=FAST_KDF)
    with pytest.raises(ConflictError):
        KeyStore.create(tmp_path / "keys.json", passphrase=PASSPHRASE, params=FAST_KDF)


def test_recovery_key_file(tmp_path: Path) -> None:
    public = write_recovery_key(
        tmp_path / "r.json", passphrase="offline passphrase 1", params=FAST_KDF
    )
    private = read_recovery_key(tmp_path / "r.json", passphrase="offline passphrase 1")
    assert private.public_key() == public
    with pytest.raises(AuthError):
        read_recovery_key(tmp_path / "r.json", passphrase="wrong")
    with pytest.raises(ConflictError):
        write_recovery_key(tmp_path / "r.json", passphrase="x" * 12, params=FAST_KDF)


# -- registry ------------------------------------------------------------------------------


def _enrol(central: Central, name: str, out: Path, **kwargs: object) -> None:
    enrol_device(
        central.engine,
        name=name,
        server_url="https://intake.example.org",
        key_set=central.published_key_set(),
        root_key=central.root_key,
        out=out,
        **kwargs,  # type: ignore[arg-type]
    )


def test_token_is_one_time_and_expires(sqlite_central: Central, tmp_path: Path) -> None:
    _enrol(sqlite_central, "laptop-1", tmp_path / "e.json")
    enrolment = read_enrolment((tmp_path / "e.json").read_bytes())
    first = create_identity(enrolment)
    register_device(
        sqlite_central.engine, read_registration(build_registration(first, token=enrolment.token))
    )
    second = create_identity(enrolment)
    with pytest.raises(EnrolmentError) as info:
        register_device(
            sqlite_central.engine,
            read_registration(build_registration(second, token=enrolment.token)),
        )
    assert info.value.reason == "token_used"
    _enrol(sqlite_central, "laptop-2", tmp_path / "f.json")
    late = read_enrolment((tmp_path / "f.json").read_bytes())
    identity = create_identity(late)
    with pytest.raises(EnrolmentError) as info:
        register_device(
            sqlite_central.engine,
            read_registration(build_registration(identity, token=late.token)),
            now=datetime.now(UTC) + timedelta(days=8),
        )
    assert info.value.reason == "expired"
    with pytest.raises(EnrolmentError) as info:
        register_device(
            sqlite_central.engine, read_registration(build_registration(identity, token="x" * 43))
        )
    assert info.value.reason == "token_invalid"


def test_enrolling_again_replaces_a_pending_token(sqlite_central: Central, tmp_path: Path) -> None:
    _enrol(sqlite_central, "laptop-1", tmp_path / "old.json")
    _enrol(sqlite_central, "laptop-1", tmp_path / "new.json")
    old, new = (read_enrolment((tmp_path / f).read_bytes()) for f in ("old.json", "new.json"))
    assert old.device_id == new.device_id
    with pytest.raises(EnrolmentError):
        register_device(
            sqlite_central.engine,
            read_registration(build_registration(create_identity(old), token=old.token)),
        )
    register_device(
        sqlite_central.engine,
        read_registration(build_registration(create_identity(new), token=new.token)),
    )
    with pytest.raises(ConflictError):
        _enrol(sqlite_central, "laptop-1", tmp_path / "third.json")
    assert not (tmp_path / "third.json").exists()


def test_existing_output_file_is_not_overwritten(sqlite_central: Central, tmp_path: Path) -> None:
    out = tmp_path / "e.json"
    out.write_text("keep me")
    with pytest.raises(ConflictError):
        _enrol(sqlite_central, "laptop-1", out)
    assert out.read_text() == "keep me"
    assert sqlite_central.count(db.devices) == 0


def test_revoke(sqlite_central: Central) -> None:
    sqlite_central.enrol("laptop-9")
    assert revoke_device(sqlite_central.engine, "laptop-9").status == "revoked"
    with pytest.raises(NotFound):
        revoke_device(sqlite_central.engine, "laptop-unknown")


# -- exports -------------------------------------------------------------------------------


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text("utf-8-sig"))))


def test_export_respects_consent(central: Central, tmp_path: Path) -> None:
    identity = central.enrol()
    granted = make_record(family_name="Granted")
    refused = make_record(family_name="Refused", central_consent=False)
    withdrawn = make_record(family_name="Withdrawn", revision=2)
    renewed = make_record(family_name="Renewed", revision=1)
    renewed_later = dict(make_record(record_id=renewed["id"], family_name="Renewed", revision=2))
    formula = make_record(family_name='=HYPERLINK("http://x")')
    receive(
        central,
        build_batch(
            payload_of(
                granted,
                refused,
                withdrawn,
                renewed,
                renewed_later,
                formula,
                instructions=[
                    withdrawal(withdrawn["id"], revision=2),
                    withdrawal(renewed["id"], revision=1),
                ],
            ),
            identity=identity,
        ),
    )
    central.importer().run()
    out = tmp_path / "export.csv"
    rows, withheld = export_records(central.engine, out)
    assert (rows, withheld) == (5, 2)
    by_name = {r["answers.family_name"]: r for r in _rows(out) if r["personal_data"] == "yes"}
    assert set(by_name) == {"Granted", "Renewed", '\'=HYPERLINK("http://x")'}
    assert by_name["Granted"]["consent.central_office"] == "granted 2026-11-20"
    withheld_rows = [r for r in _rows(out) if r["personal_data"] == "withheld"]
    assert {r["record_id"] for r in withheld_rows} == {refused["id"], withdrawn["id"]}
    assert all(r["answers.family_name"] == "" for r in withheld_rows)
    assert "Refused" not in out.read_text("utf-8-sig") and "Withdrawn" not in out.read_text(
        "utf-8-sig"
    )
    assert {r["revision"] for r in _rows(out) if r["record_id"] == renewed["id"]} == {"2"}


def test_statistics_count_everything_anonymously(central: Central, tmp_path: Path) -> None:
    identity = central.enrol()
    records = [make_record(family_name=f"Person {i}") for i in range(6)]
    for record in records:
        record["site"] = "Bielefeld"
        record["answers"]["residence_document"] = "duldung_60a"
    receive(central, build_batch(payload_of(*records), identity=identity))
    receive(
        central,
        build_batch(payload_of(instructions=[erasure(records[0]["id"])]), identity=identity),
    )
    central.importer().run()
    out = tmp_path / "stats.csv"
    export_statistics(central.engine, out)
    rows = {
        (r["dimension"], r["value"]): r["count"] for r in _rows(out) if r["site"] == "Bielefeld"
    }
    assert rows[("intakes", "")] == "6"  # the erased person still counts, anonymously
    assert rows[("residence_document", "duldung_60a")] == "6"
    text = out.read_text("utf-8-sig")
    assert "Person" not in text and records[1]["id"] not in text
    export_statistics(central.engine, out, min_count=10)
    assert {r["count"] for r in _rows(out)} == {"<10"}


# -- schema --------------------------------------------------------------------------------


def test_migrations_match_the_tables(central: Central) -> None:
    with central.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), db.metadata) == []
    db.check_schema(central.engine)
    db.upgrade(central.engine)  # running it again changes nothing


def test_empty_database_is_refused(tmp_path: Path) -> None:
    from intake_app.errors import KnownError

    with pytest.raises(KnownError) as info:
        db.open_database(f"sqlite:///{tmp_path / 'empty.db'}")
    assert info.value.kind == "schema"


def test_unsupported_database_url(tmp_path: Path) -> None:
    from intake_app.errors import UsageError

    with pytest.raises(UsageError):
        db.create_db_engine("mysql://localhost/x")
    with pytest.raises(UsageError):
        db.create_db_engine("::not a url::")


def test_record_rows_keep_whole_documents(central: Central) -> None:
    identity = central.enrol()
    record = make_record()
    record["case_number"] = "K-2026-0001"  # a field this version does not know is kept
    receive(central, build_batch(payload_of(record), identity=identity))
    central.importer().run()
    with central.engine.connect() as conn:
        document = conn.execute(sa.select(db.records.c.document)).scalar_one()
    assert json.loads(document)["case_number"] == "K-2026-0001"
    assert uuid.UUID(json.loads(document)["id"])
