"""The access request PDF (Art. 15): everything stored, including what summaries leave out."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from intake_app.reports.access import access_pdf, export_person
from tests.conftest import COUNSELLOR, SUPERVISOR, ProfileFixture
from tests.unit.reports import pdfcheck
from tests.unit.reports import reportkit as kit
from tests.unit.reports.test_service import add_record


def test_access_pdf_holds_everything(profile: ProfileFixture, tmp_path: Path) -> None:
    ws = profile.sign_in(COUNSELLOR)
    try:
        record_id = add_record(ws)
    finally:
        ws.close()
    ws = profile.sign_in(SUPERVISOR)
    try:
        document = ws.lifecycle.person_export(record_id)
        pages = pdfcheck.texts(access_pdf(ws, document))
        text = "\n".join(pages)
        assert "Auskunft nach Art. 15 DSGVO" in text
        assert kit.HEALTH_LABEL_DE in text  # special categories belong to the person too
        assert kit.INTERNAL_NOTE in text and kit.DEBTS_NOTE in text
        assert "Abgeschlossene Revisionen" in text and "Akte abgeschlossen" in text
        # codes are shown by their meaning, never raw
        for code in ("record_created", "record_finalised", "record_read", "pending"):
            assert code not in text, code
        # purposes, recipients, retention, rights and source, in German and English
        flat = " ".join(text.split())
        org = ws.organisation
        for lang in ("de", "en"):
            for purpose in org.purposes:
                assert purpose.label(lang) in flat
            for key in ("retention", "rights", "data_source"):
                assert " ".join(org.text(key, lang).split()[:6]) in flat, (key, lang)
        for words in ("Speicherdauer", "Storage period", "Ihre Rechte", "Your rights"):
            assert words in flat
        assert "Herkunft der Daten" in flat and "Source of the data" in flat
        assert org.purposes[1].recipients[0].name.split(" (")[0] in flat
        assert org.joint_controllers[0].name.split(" (")[0] in flat
        for number, page in enumerate(pages, start=1):
            assert f"Seite {number} von {len(pages)}" in page
        written = export_person(ws, record_id, tmp_path / "auskunft")
        assert sorted(p.suffix for p in written) == [".json", ".pdf"]
        assert written[1].read_bytes().startswith(b"%PDF")
    finally:
        ws.close()


def test_access_pdf_follows_the_warning_period_setting(profile: ProfileFixture) -> None:
    ws = profile.sign_in(COUNSELLOR)
    try:
        form = ws.current_form()
        answers = kit.rich_answers(form, ws.organisation, expiring_in=100)
        record_id = ws.records.create(
            form_id=form.id, form_version=form.version, answers=answers
        ).id
        ws.records.finalise(record_id, answers=answers)
    finally:
        ws.close()
    ws = profile.sign_in(SUPERVISOR)
    try:
        document = ws.lifecycle.person_export(record_id)
        assert "läuft in" not in "\n".join(pdfcheck.texts(access_pdf(ws, document)))
    finally:
        ws.close()
    admin = profile.sign_in()
    try:
        admin.settings.put("records.expiry_warning_days", 120)
    finally:
        admin.close()
    ws = profile.sign_in(SUPERVISOR)
    try:
        document = ws.lifecycle.person_export(record_id)
        text = "\n".join(pdfcheck.texts(access_pdf(ws, document)))
        # counted from today: a run across midnight sees one day less than at the start
        days = (date.fromisoformat(answers["residence_valid_until"]) - date.today()).days
        assert days in (99, 100)
        assert f"läuft in {days} Tagen ab" in text
    finally:
        ws.close()
