"""A real Intake process that uses a profile the way a counsellor's day does, then waits.

    python -m tests.torture.helpers.inuse PROFILE USER PASSWORD STICK EXPORT CANARIES_JSON

With the log at DEBUG in the profile's ``logs`` folder it signs in, makes a daily backup,
creates intakes whose names and answers are the canaries (Latin, Arabic, Cyrillic), saves
them many times, searches for them, opens and finalises them, renders a summary PDF for the
screen and saves one where the user chose (``EXPORT``, outside the profile), writes the
outbox as batches to ``STICK`` (a USB folder), and prints ``ready``. Then it keeps the
database open — with its WAL — until it is killed.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    profile_dir, user, password, stick, export, canaries_json = argv
    canaries = json.loads(canaries_json)
    from intake_app.app import Workspace
    from intake_app.logs import setup_logging
    from intake_app.reports.service import Output, ReportService
    from intake_app.storage.backup import BackupReason, create_backup
    from intake_app.storage.profile import Profile
    from intake_app.storage.records import RecordQuery

    profile = Profile(Path(profile_dir))
    setup_logging(profile.logs_dir, level=logging.DEBUG)
    ws = Workspace.sign_in(profile, username=user, password=password)
    create_backup(ws, reason=BackupReason.DAILY)
    ids = []
    for family, given in canaries["names"]:
        record_id = ws.new_intake()
        answers = dict(ws.records.get(record_id).answers)
        for n in range(12):
            answers.update(
                family_name=family,
                given_names=given,
                family_name_latin=canaries["latin"],
                housing_issue=True,
                housing_note=f"{canaries['answer']} {n}",
                address_street=canaries["street"],
                counsellor_notes=canaries["answer"],
            )
            ws.records.save(record_id, answers=answers)
        ids.append(record_id)
    for family, _given in canaries["names"]:
        ws.records.list(RecordQuery(search=family), limit=10)
    for record_id in ids:
        ws.records.open(record_id)
    # finalise what the demo generator completes: the same canaries in complete records
    from intake_app.demo.data import generate

    form = ws.current_form()
    import random
    from datetime import date

    for index, (family, given) in enumerate(canaries["names"]):
        row = ws.records.create(form_id=form.id, form_version=form.version)
        answers, complete = generate(
            form,
            organisation=ws.organisation,
            rng=random.Random(index),
            today=date.today(),
            complete=True,
            case_number=row.case_number,
            counsellor=user,
        )
        answers.update(family_name=family, given_names=given, address_street=canaries["street"])
        ws.records.save(row.id, answers=answers)
        if complete:
            ws.records.finalise(row.id, answers=answers)
            ids.append(row.id)
    reports = ReportService(ws)
    preview = reports.summary(ids[-1])
    reports.record_output(preview, output=Output.PREVIEW)
    reports.save(reports.summary(ids[-1]), Path(export) / "zusammenfassung.pdf")
    ws.sync.write_to_folder(Path(stick))
    print("ready", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
