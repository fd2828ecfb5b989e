"""The device side against a real office on 127.0.0.1: enrol, send, receipts, USB, forms.

The device is a real profile (SQLCipher, outbox, records finalised through the record
service); the office is the real ``intake-central`` command line and receiver process.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from intake_app.app import Workspace
from intake_app.central import db as central_db
from intake_app.cli import main
from intake_app.demo.data import add_synthetic_intakes
from intake_app.errors import PermissionDenied, SyncError
from intake_app.storage.models import OutboxItem, SyncBatch
from intake_app.storage.records import RecordQuery
from intake_app.storage.site_records import SiteRecords
from intake_app.sync import keys
from tests.conftest import ADMIN, ADMIN_PASSWORD, COUNSELLOR, ProfileFixture
from tests.e2e.conftest import FAST, Office

pytestmark = pytest.mark.e2e

SHIPPED_FORMS = Path(__file__).parents[2] / "forms"


def enrol_device(profile: ProfileFixture, office: Office, tmp_path: Path, name: str = "laptop-1"):  # type: ignore[no-untyped-def]
    enrolment = tmp_path / f"{name}.json"
    office.cli("enrol", "--device", name, "--server-url", office.url, "--out", str(enrolment))
    pw = tmp_path / "admin.pw"
    pw.write_text(ADMIN_PASSWORD, "utf-8")
    code = main(
        [
            "--data-dir",
            str(profile.profile.root),
            "--user",
            "admin",
            "--password-file",
            str(pw),
            "enrol",
            str(enrolment),
            "--fingerprint",
            office.fingerprint,
        ]
    )
    assert code == 0


def central_records(office: Office) -> list[tuple[str, int, dict]]:
    rows = office.rows(
        sa.select(
            central_db.records.c.record_id,
            central_db.records.c.revision,
            central_db.records.c.document,
        )
    )
    return [(r[0], r[1], json.loads(r[2])) for r in rows]


def finalised(ws: Workspace, count: int, seed: int = 1) -> list[str]:
    add_synthetic_intakes(ws, count=count, seed=seed, complete_share=1.0)
    return [s.id for s in ws.records.list(RecordQuery(status="complete"), limit=1000)]


def test_deliver_import_and_receipts(
    profile: ProfileFixture, office: Office, tmp_path: Path
) -> None:
    enrol_device(profile, office, tmp_path)
    ws = profile.sign_in(COUNSELLOR)
    try:
        ids = finalised(ws, 4)
        assert len(ids) == 4
        status = ws.sync.status()
        assert status.enrolled and status.registered and status.pending_records == 4
        result = ws.sync.send(settings=FAST)
        assert result.batches_sent == 1 and result.records_delivered == 4
        for record_id in ids:
            assert ws.records.get(record_id).sync_state == "delivered"
        office.cli("import")
        assert sorted(r[0] for r in central_records(office)) == sorted(ids)
        # the next sync collects the importer's receipts; nothing is sent twice
        again = ws.sync.send(settings=FAST)
        assert again.batches_sent == 0
        with ws.db.read() as session:
            states = [b.state for b in session.scalars(select(SyncBatch)).all()]
        assert states == ["imported"]
        assert ws.sync.status().pending == 0
    finally:
        ws.close()


def test_cut_connection_leaves_outbox_and_resend_does_not_duplicate(
    profile: ProfileFixture, office: Office, tmp_path: Path
) -> None:
    enrol_device(profile, office, tmp_path)
    ws = profile.sign_in(COUNSELLOR)
    try:
        ids = finalised(ws, 3)
        with pytest.raises(SyncError):
            ws.sync.send(settings=FAST, server_url="http://127.0.0.1:9")  # nobody listens
        for record_id in ids:
            assert ws.records.get(record_id).sync_state == "pending"  # not delivered
        status = ws.sync.status()
        assert status.pending_records == 3 and status.last_error  # the outbox is as it was
        (built,) = ws.sync.prepare("http")  # the batch as it will go out
        first = ws.sync.send(settings=FAST)
        assert first.records_delivered == 3
        # the same batch once more (as after a lost receipt): same receipt, no duplicate
        with ws.db.write() as session:
            for batch in session.scalars(select(SyncBatch)).all():
                batch.state = "sent"
                batch.receipt = None
                batch.data = built.data  # an answered batch keeps no sealed copy
                session.add(batch)
            for item in session.scalars(select(OutboxItem)).all():
                item.state = "batched"
                session.add(item)
        second = ws.sync.send(settings=FAST)
        assert second.batches_sent == 1
        office.cli("import")
        records = central_records(office)
        assert len(records) == 3 and len({r[0] for r in records}) == 3
    finally:
        ws.close()


def test_usb_round_trip(profile: ProfileFixture, office: Office, tmp_path: Path) -> None:
    enrol_device(profile, office, tmp_path)
    stick = tmp_path / "stick"
    stick.mkdir()
    ws = profile.sign_in(COUNSELLOR)
    try:
        ids = finalised(ws, 2)
        written = ws.sync.write_to_folder(stick)
        assert written.batches_sent == 1 and len(list(stick.glob("*.ibatch"))) == 1
        for record_id in ids:
            assert ws.records.get(record_id).sync_state == "pending"
        office.cli("import", "--from-dir", str(stick))
        assert len(list(stick.glob("*.receipt.json"))) == 1
        back = ws.sync.import_receipts(stick)
        assert back.records_delivered == 2
        assert not list(stick.glob("*.ibatch")), "answered batch files are removed"
        for record_id in ids:
            assert ws.records.get(record_id).sync_state == "delivered"
    finally:
        ws.close()
    assert sorted(r[0] for r in central_records(office)) == sorted(ids)


def test_withdrawal_and_new_revision_reach_the_centre(
    profile: ProfileFixture, office: Office, tmp_path: Path
) -> None:
    from datetime import date

    enrol_device(profile, office, tmp_path)
    ws = profile.sign_in(COUNSELLOR)
    try:
        record_id = finalised(ws, 1, seed=5)[0]
        ws.sync.send(settings=FAST)
        office.cli("import")
        ws.records.withdraw_consent(record_id, purpose="central_office", withdrawn_on=date.today())
        ws.records.start_revision(record_id, reason="Adresse geändert")
        answers = dict(ws.records.get(record_id).answers)
        answers["municipality"] = "Bielefeld"
        ws.records.save(record_id, answers=answers)
        ws.records.finalise(record_id, answers=answers)
        result = ws.sync.send(settings=FAST)
        assert result.records_delivered == 1 and result.instructions_delivered == 1
        office.cli("import")
        revisions = sorted(r[1] for r in central_records(office) if r[0] == record_id)
        assert revisions == [1, 2]
        out = tmp_path / "export.csv"
        office.cli("export", "--out", str(out))
        with out.open(encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
        row = next(r for r in rows if r["record_id"] == record_id)
        assert row["personal_data"] == "withheld"
        assert row["consent.central_office"].startswith("withdrawn")
        assert "Bielefeld" not in json.dumps(row)
    finally:
        ws.close()


def test_hidden_special_category_answers_never_leave_the_device(
    profile: ProfileFixture, office: Office, tmp_path: Path
) -> None:
    enrol_device(profile, office, tmp_path)
    ws = profile.sign_in(COUNSELLOR)
    try:
        record_id = finalised(ws, 1, seed=11)[0]
        ws.records.start_revision(record_id, reason="Test")
        answers = dict(ws.records.get(record_id).answers)
        answers["consent"]["art9"] = {"granted": False, "withdrawn_on": None}
        answers["health_limitation"] = True  # stored, but hidden without Art. 9 consent
        ws.records.save(record_id, answers=answers)
        ws.records.finalise(record_id, answers=answers)
        ws.sync.send(settings=FAST)
        office.cli("import")
        documents = [doc for rid, _rev, doc in central_records(office) if rid == record_id]
        assert documents and all("health_limitation" not in doc["answers"] for doc in documents)
    finally:
        ws.close()


#: The newest shipped version of the interview and the one the office publishes after it.
LATEST, NEXT = "2026.3", "2026.4"


def _next_version(folder: Path) -> Path:
    """Version NEXT of the interview: the shipped LATEST with nothing changed."""
    text = (SHIPPED_FORMS / f"intake-{LATEST}.yaml").read_text(encoding="utf-8")
    head, rest = text.split(f'version: "{LATEST}"\n', 1)
    rest = rest[rest.index("\ntitle:") + 1 :]
    path = folder / f"intake-{NEXT}.yaml"
    path.write_text(
        head + f'version: "{NEXT}"\nprevious_version: "{LATEST}"\nchanges: []\n' + rest,
        encoding="utf-8",
    )
    return path


def test_published_form_is_installed_and_used_for_new_intakes(
    profile: ProfileFixture, office: Office, tmp_path: Path
) -> None:
    enrol_device(profile, office, tmp_path)
    published = _next_version(tmp_path)
    office.cli(
        "forms",
        "publish",
        str(published),
        "--form-id",
        "intake",
        "--form-version",
        NEXT,
    )
    ws = profile.sign_in(COUNSELLOR)
    try:
        assert ws.current_form().version == LATEST
        result = ws.sync.send(settings=FAST)
        assert result.forms_installed == [f"intake {NEXT}"]
        assert ws.current_form().version == NEXT
        record_id = ws.new_intake()
        assert ws.records.get(record_id).form_version == NEXT
    finally:
        ws.close()
    again = profile.sign_in(COUNSELLOR)  # installed forms survive a restart
    try:
        assert again.current_form().version == NEXT
    finally:
        again.close()
    # kept as the bare file (as an older version kept it, or as someone put it there):
    # not used, until the next sync puts the signed document back in its place
    admin = profile.sign_in(ADMIN)
    try:
        with admin.db.write() as session:
            session.execute(
                sa.text("UPDATE installed_forms SET content = :raw WHERE version = :v"),
                {"raw": published.read_bytes(), "v": NEXT},
            )
    finally:
        admin.close()
    again = profile.sign_in(COUNSELLOR)
    try:
        assert again.current_form().version == LATEST
        result = again.sync.send(settings=FAST)
        assert result.forms_installed == [f"intake {NEXT}"]
        assert again.current_form().version == NEXT
        assert again.records.get(record_id).form_version == NEXT
    finally:
        again.close()


def test_sync_without_enrolment_says_so(profile: ProfileFixture) -> None:
    ws = profile.sign_in(COUNSELLOR)
    try:
        with pytest.raises(SyncError) as info:
            ws.sync.send(settings=FAST)
        assert info.value.kind.value == "not_enrolled"
        assert not ws.sync.status().enrolled
    finally:
        ws.close()


def test_sync_window_sends_with_progress(
    qtbot: QtBot,
    profile: ProfileFixture,
    office: Office,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    from intake_app.ui.main import create_application
    from intake_app.ui.mainwindow import MainWindow
    from intake_app.ui.sync_window import SyncWindow

    create_application()
    enrol_device(profile, office, tmp_path)
    ws = profile.sign_in(COUNSELLOR)
    try:
        finalised(ws, 3, seed=21)
        window = MainWindow(ws, autolock_minutes=30)
        qtbot.addWidget(window)
        assert "3 wartend" in window.sync_label.text()
        dialog = SyncWindow(ws, window)
        qtbot.addWidget(dialog)
        dialog.show()
        dialog.changed.connect(window.refresh_sync_status)
        assert dialog.send_button.isEnabled()
        dialog.send_button.click()
        assert dialog.progress.isVisible() or dialog.operation is None
        qtbot.waitUntil(lambda: dialog.operation is None, timeout=30_000)
        assert "zugestellt" in dialog.error_label.text()
        assert dialog.table.rowCount() == 1
        state = dialog.table.item(0, 2)
        assert state is not None and state.text() == "von der Zentrale gespeichert"
        assert "alles übermittelt" in window.sync_label.text()
        window.close()
    finally:
        ws.close()


def test_erasure_reaches_the_central_database_and_is_confirmed(
    profile: ProfileFixture, office: Office, tmp_path: Path
) -> None:
    from intake_app.storage.lifecycle import ErasureReason
    from intake_app.storage.models import Erasure
    from tests.conftest import SUPERVISOR

    enrol_device(profile, office, tmp_path)
    counsellor = profile.sign_in(COUNSELLOR)
    try:
        record_id, other_id = finalised(counsellor, 2, seed=31)
        counsellor.sync.send(settings=FAST)
    finally:
        counsellor.close()
    office.cli("import")
    assert {r[0] for r in central_records(office)} == {record_id, other_id}
    supervisor = profile.sign_in(SUPERVISOR)
    try:
        assert supervisor.lifecycle.erase(record_id, reason=ErasureReason.REQUEST) is True
        sent = supervisor.sync.send(settings=FAST)
        assert sent.instructions_delivered == 1
        office.cli("import")
        assert {r[0] for r in central_records(office)} == {other_id}  # erased centrally
        confirmed = supervisor.sync.send(settings=FAST)  # collects the import receipt
        assert confirmed.erasures_confirmed == 1
        with supervisor.db.read() as session:
            erasure = session.get(Erasure, record_id)
        assert erasure is not None and erasure.confirmed_at is not None
    finally:
        supervisor.close()


def test_offline_registration_through_answer_and_confirmation_files(
    profile: ProfileFixture, office: Office, tmp_path: Path
) -> None:
    enrolment = tmp_path / "offline.json"
    office.cli(
        "enrol", "--device", "laptop-offline", "--server-url", office.url, "--out", str(enrolment)
    )
    pw = tmp_path / "admin.pw"
    pw.write_text(ADMIN_PASSWORD, "utf-8")
    base = ["--data-dir", str(profile.profile.root), "--user", "admin", "--password-file", str(pw)]
    answer = tmp_path / "answer.json"
    assert (
        main(
            [
                *base,
                "enrol",
                str(enrolment),
                "--fingerprint",
                office.fingerprint,
                "--offline",
                "--registration-out",
                str(answer),
            ]
        )
        == 0
    )
    ws = profile.sign_in(COUNSELLOR)
    try:
        status = ws.sync.status()
        assert status.enrolled and not status.registered
    finally:
        ws.close()
    confirmation = tmp_path / "confirmation.json"
    office.cli("register", str(answer), "--out", str(confirmation))
    assert main([*base, "enrol", "--confirmation", str(confirmation)]) == 0
    ws = profile.sign_in(COUNSELLOR)
    try:
        assert ws.sync.status().registered
        finalised(ws, 1, seed=41)
        assert ws.sync.send(settings=FAST).records_delivered == 1
    finally:
        ws.close()


def test_enrolment_file_with_wrong_fingerprint_is_refused(
    profile: ProfileFixture, office: Office, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    enrolment = tmp_path / "e.json"
    office.cli("enrol", "--device", "laptop-x", "--server-url", office.url, "--out", str(enrolment))
    pw = tmp_path / "admin.pw"
    pw.write_text(ADMIN_PASSWORD, "utf-8")
    code = main(
        [
            "--data-dir",
            str(profile.profile.root),
            "--user",
            "admin",
            "--password-file",
            str(pw),
            "enrol",
            str(enrolment),
            "--fingerprint",
            "00" * 16,
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "Fingerabdruck" in err and len(err.strip().splitlines()) == 1
    ws = profile.sign_in(COUNSELLOR)
    try:
        assert not ws.sync.status().enrolled  # nothing changed
    finally:
        ws.close()


def test_erasure_withdraws_a_batch_still_waiting_for_its_receipt(
    profile: ProfileFixture, office: Office, tmp_path: Path
) -> None:
    """A batch without an answer yet (here: on a USB stick not yet taken to the office)
    would be written again by the next sync and carry an erased record. The erasure
    withdraws it: its sealed copy is dropped, the other records go back into the outbox,
    and the centre is told. When the stick's old copy arrives after the erasure, the centre
    keeps the record out."""
    from intake_app.storage.lifecycle import ErasureReason
    from tests.conftest import SUPERVISOR

    enrol_device(profile, office, tmp_path)
    stick = tmp_path / "stick"
    stick.mkdir()
    counsellor = profile.sign_in(COUNSELLOR)
    try:
        erased_id, kept_id = finalised(counsellor, 2, seed=41)
        assert counsellor.sync.write_to_folder(stick).batches_sent == 1
        with counsellor.db.read() as session:
            assert [b.state for b in session.scalars(select(SyncBatch)).all()] == ["sent"]
    finally:
        counsellor.close()
    supervisor = profile.sign_in(SUPERVISOR)
    try:
        # the batch and the outbox are in the counsellor's record store (docs/security.md)
        assert isinstance(supervisor.records, SiteRecords)
        store = supervisor.scope.stores[supervisor.records.store_of(kept_id)]
        assert supervisor.lifecycle.erase(erased_id, reason=ErasureReason.REQUEST) is True
        with store.read() as session:
            (withdrawn,) = session.scalars(select(SyncBatch)).all()
            items = session.scalars(select(OutboxItem)).all()
        assert (withdrawn.state, withdrawn.data) == ("withdrawn", b"")
        assert sorted((i.kind, i.record_id, i.state) for i in items) == sorted(
            [("record", kept_id, "pending"), ("erasure", erased_id, "pending")]
        )
        sent = supervisor.sync.send(settings=FAST)
        assert sent.batches_sent == 1  # the withdrawn batch is not sent again
        office.cli("import")
        assert [r[0] for r in central_records(office)] == [kept_id]
        office.cli("import", "--from-dir", str(stick))  # the old copy arrives late
        assert [r[0] for r in central_records(office)] == [kept_id]
        assert supervisor.sync.send(settings=FAST).erasures_confirmed == 1
    finally:
        supervisor.close()


def test_receipts_fetched_again_are_applied_once(
    profile: ProfileFixture, office: Office, tmp_path: Path
) -> None:
    """The office repeats recent receipts on every sync; the device applies each once (no
    audit entry per repetition) and drops a batch's sealed copy once it is answered."""
    from intake_app.storage import audit

    enrol_device(profile, office, tmp_path)
    ws = profile.sign_in(COUNSELLOR)
    try:
        finalised(ws, 2, seed=43)
        ws.sync.send(settings=FAST)
        office.cli("import")
        ws.sync.send(settings=FAST)  # collects the import receipt

        def receipt_entries() -> int:
            with ws.db.read() as session:
                return sum(1 for e in audit.iter_entries(session) if e.action == "sync_receipt")

        before = receipt_entries()
        assert before == 2  # "stored" on upload, "imported" after the import
        for _ in range(3):
            ws.sync.send(settings=FAST)
        assert receipt_entries() == before
        with ws.db.read() as session:
            (batch,) = session.scalars(select(SyncBatch)).all()
        assert batch.state == "imported" and batch.data == b""
    finally:
        ws.close()


def test_a_record_whose_form_is_missing_stays_on_the_device(
    profile: ProfileFixture, office: Office, tmp_path: Path
) -> None:
    """Which answers may leave is decided by the record's form (skipped questions, special
    categories without consent). Without the form nothing of that record is sent: it stays
    in the outbox with the reason, and the other records go."""
    from intake_app.storage.models import RecordRevision

    enrol_device(profile, office, tmp_path)
    ws = profile.sign_in(COUNSELLOR)
    try:
        orphan_id, other_id = finalised(ws, 2, seed=47)
        with ws.db.write() as session:
            revision = session.scalars(
                select(RecordRevision).where(RecordRevision.record_id == orphan_id)
            ).one()
            revision.form_version = "1999.1"
            session.add(revision)
        result = ws.sync.send(settings=FAST)
        assert result.records_delivered == 1
        with ws.db.read() as session:
            (waiting,) = session.scalars(select(OutboxItem).where(OutboxItem.state == "pending"))
        assert waiting.record_id == orphan_id and waiting.last_error
        office.cli("import")
        assert [r[0] for r in central_records(office)] == [other_id]
    finally:
        ws.close()


def test_a_batch_the_office_refuses_does_not_block_the_next(
    profile: ProfileFixture, strict_office: Office, tmp_path: Path
) -> None:
    """A batch larger than the receiver takes (the office lowered its limit) is refused
    with 413. The records in it go back into the outbox with the reason, and the batches
    after it are still sent and delivered."""
    import base64
    import os

    from intake_app.storage.models import RecordRevision
    from intake_app.ui.sync_window import reason_text

    office = strict_office
    enrol_device(profile, office, tmp_path)
    ws = profile.sign_in(COUNSELLOR)
    try:
        (big_id,) = finalised(ws, 1, seed=51)
        with ws.db.write() as session:  # an answer far beyond the office's limit
            revision = session.scalars(
                select(RecordRevision).where(RecordRevision.record_id == big_id)
            ).one()
            answers = json.loads(revision.answers)
            answers["family_name"] = base64.b64encode(os.urandom(150_000)).decode()
            revision.answers = json.dumps(answers)
            session.add(revision)
        (too_big,) = ws.sync.prepare("http")  # packed before the others
        assert len(too_big.data) > 100_000
        add_synthetic_intakes(ws, count=2, seed=52, complete_share=1.0)
        small_ids = {s.id for s in ws.records.list(RecordQuery(status="complete"), limit=10)} - {
            big_id
        }
        result = ws.sync.send(settings=FAST)
        assert result.records_delivered == 2
        assert result.rejected == [(too_big.batch_id, "too_large")]
        with ws.db.read() as session:
            refused = session.get(SyncBatch, too_big.batch_id)
            (waiting,) = session.scalars(select(OutboxItem).where(OutboxItem.state == "pending"))
        assert refused is not None and (refused.state, refused.data) == ("rejected", b"")
        assert (waiting.record_id, waiting.last_error) == (big_id, "too_large")
        assert reason_text("too_large") == "Der Stapel war größer, als die Zentrale annimmt."
        assert ws.sync.status().pending_records == 1
        office.cli("import")
        assert {r[0] for r in central_records(office)} == small_ids
    finally:
        ws.close()


def test_a_revision_the_importer_refuses_is_not_delivered_after_all(
    profile: ProfileFixture, office: Office, tmp_path: Path
) -> None:
    """A profile copied to a second laptop (a restored backup) sends a record whose id
    already belongs to the first. The receiver's "stored" first counts it as delivered;
    the importer answers "conflict", and then the record is back in the outbox with the
    reason, not delivered, and never purged."""
    import shutil

    from tests.conftest import ProfileFixture as Fixture

    counsellor = profile.sign_in(COUNSELLOR)
    try:
        (record_id,) = finalised(counsellor, 1, seed=61)
    finally:
        counsellor.close()
    copy_root = tmp_path / "copy"
    shutil.copytree(profile.profile.root, copy_root)
    from intake_app.storage.profile import Profile

    second = Fixture(Profile(copy_root), profile.recovery_key)
    enrol_device(profile, office, tmp_path, name="laptop-1")
    enrol_device(second, office, tmp_path, name="laptop-2")
    first_ws = profile.sign_in(COUNSELLOR)
    try:
        assert first_ws.sync.send(settings=FAST).records_delivered == 1
    finally:
        first_ws.close()
    office.cli("import")
    ws = second.sign_in(COUNSELLOR)
    try:
        assert ws.sync.send(settings=FAST).records_delivered == 1  # "stored"
        assert ws.records.get(record_id).sync_state == "delivered"
        office.cli("import")
        ws.sync.send(settings=FAST)  # fetches the import receipt: conflict
        assert ws.records.get(record_id).sync_state == "pending"
        with ws.db.read() as session:
            (item,) = session.scalars(select(OutboxItem))
        assert (item.state, item.last_error) == ("pending", "conflict")
    finally:
        ws.close()


def test_control_characters_in_the_site_name_do_not_block_the_outbox(
    profile: ProfileFixture, office: Office, tmp_path: Path
) -> None:
    """A site name with a pasted tab or a wrongly decoded dash (C1 control) would make
    every batch invalid; it is sent with spaces instead, and the records arrive."""
    from intake_app.storage.models import RecordRow

    enrol_device(profile, office, tmp_path)
    ws = profile.sign_in(COUNSELLOR)
    try:
        (record_id,) = finalised(ws, 1, seed=63)
        with ws.db.write() as session:
            row = session.scalars(select(RecordRow).where(RecordRow.id == record_id)).one()
            row.site = "Köln\tMülheim \x93Nord\x94"
            session.add(row)
        assert ws.sync.send(settings=FAST).records_delivered == 1
    finally:
        ws.close()
    office.cli("import")
    assert office.rows(sa.select(central_db.records.c.site)) == [("Köln Mülheim Nord",)]


def test_enrol_shows_the_fingerprint_and_goes_on_only_when_it_is_confirmed(
    profile: ProfileFixture, office: Office, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    enrolment = tmp_path / "e.json"
    office.cli(
        "enrol", "--device", "laptop-fp", "--server-url", office.url, "--out", str(enrolment)
    )
    pw = tmp_path / "admin.pw"
    pw.write_text(ADMIN_PASSWORD, "utf-8")
    base = ["--data-dir", str(profile.profile.root), "--user", "admin", "--password-file", str(pw)]
    # no --fingerprint and no terminal to ask on: shown, but nothing enrolled
    code = main([*base, "enrol", str(enrolment)])
    captured = capsys.readouterr()
    assert code == 2 and office.fingerprint in captured.out
    ws = profile.sign_in(COUNSELLOR)
    try:
        assert not ws.sync.status().enrolled
    finally:
        ws.close()
    code = main([*base, "enrol", str(enrolment), "--fingerprint", office.fingerprint.lower()])
    assert code == 0
    ws = profile.sign_in(COUNSELLOR)
    try:
        status = ws.sync.status()
        assert status.enrolled and status.registered
        assert keys.format_fingerprint(status.office_fingerprint) == office.fingerprint
    finally:
        ws.close()


def test_a_server_address_given_to_one_sync_does_not_stick(
    profile: ProfileFixture, office: Office, tmp_path: Path
) -> None:
    enrol_device(profile, office, tmp_path)
    admin = profile.sign_in(ADMIN)
    try:
        admin.sync.set_server_url("http://127.0.0.1:9")  # an administrator's choice
    finally:
        admin.close()
    ws = profile.sign_in(COUNSELLOR)
    try:
        finalised(ws, 1, seed=77)
        with pytest.raises(PermissionDenied):
            ws.sync.set_server_url(office.url)
        result = ws.sync.send(settings=FAST, server_url=office.url)
        assert result.records_delivered == 1
        assert ws.sync.status().server_url == "http://127.0.0.1:9"
    finally:
        ws.close()
