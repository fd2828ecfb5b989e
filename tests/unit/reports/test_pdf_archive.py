"""Printouts for the file: PDF/A-2b declared and kept, titled for their kind, no raw codes,
no empty pages, footers whole, and a first page a supervisor reads at a glance."""

from __future__ import annotations

import io
import re
import subprocess
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pikepdf
import pytest

from intake_app.assets import resource
from intake_app.core.forms import Form, OrganisationConfig
from intake_app.reports.batch import Document, render_documents
from intake_app.reports.layout import PageInfo, draw_header_footer
from intake_app.reports.overview_sheet import overview_pdf
from intake_app.storage.lifecycle import Overview
from tests.unit.reports import pdfcheck
from tests.unit.reports import reportkit as kit

PDF_NS = "{http://www.aiim.org/pdfa/ns/id/}"
DC = "{http://purl.org/dc/elements/1.1/}"
#: Stored codes that must never reach paper.
RAW_CODES = re.compile(
    r"\b(record_created|record_read|record_finalised|pending|appointment_made|"
    r"aufenthaltserlaubnis|erwerbstaetigkeit_gestattet|central_office|"
    r"recognition_counselling|jobcenter_language_course|iq_recognition)\b"
)


@pytest.fixture(scope="module")
def sources(form: Form, organisation: OrganisationConfig) -> list[Any]:
    out = []
    for index, arabic in enumerate((True, False)):
        answers = kit.rich_answers(form, organisation, arabic=arabic)
        out.append(
            kit.source(
                form,
                answers,
                record_id=str(uuid.UUID(int=index + 1)),
                case_number=f"KM01-2026-{index + 1:05d}",
            )
        )
    return out


def _overview() -> bytes:
    overview = Overview(
        by_status={"draft": 3, "complete": 1234, "closed": 7},
        by_month=[("2026-10", {"draft": 1, "complete": 600}), ("2026-11", {"complete": 634})],
        open_referrals=12,
        records_with_open_referrals=9,
        expiring_permits=4,
        recognition_pending=5,
        not_delivered=2,
        removed_for_statistics=1,
    )
    return overview_pdf(
        overview, site="Köln-Mülheim", printed_by="Leitung", lang="de", outcomes=_outcomes()
    )


def _outcomes() -> Any:
    from intake_app.figures.outcomes import case_facts
    from intake_app.figures.summary import build_summary
    from tests.unit.central.test_outcomes import TWELVE

    return build_summary(case_facts(doc, events) for doc, events in TWELVE)


def _outcome_sheet() -> bytes:
    from datetime import UTC, datetime

    from intake_app.figures.sheet import sheet_pdf

    return sheet_pdf(
        _outcomes(),
        scope="Alle Standorte",
        printed_by="intake-central",
        generated=datetime(2026, 12, 6, tzinfo=UTC),
    )


@pytest.fixture(scope="module")
def documents(sources: list[Any], organisation: OrganisationConfig) -> dict[str, bytes]:
    ctx = kit.context(organisation)
    return {
        "summary": render_documents(sources[:1], ctx=ctx).data,
        "summaries": render_documents(sources, ctx=ctx).data,
        "sheet": render_documents(
            sources[:1], ctx=ctx, document=Document.CONSENT_SHEET, client_lang="fa"
        ).data,
        "sheets": render_documents(sources, ctx=ctx, document=Document.CONSENT_SHEET).data,
        "overview": _overview(),
        "outcomes": _outcome_sheet(),
    }


KINDS = ("summary", "summaries", "sheet", "sheets", "overview", "outcomes")


@pytest.mark.parametrize("kind", KINDS)
def test_pdfa_2b_metadata_output_intent_language(documents: dict[str, bytes], kind: str) -> None:
    check_pdfa_2b(documents[kind])


def test_the_access_export_is_pdfa_2b_with_fonts_embedded(profile: Any) -> None:
    from intake_app.reports.access import access_pdf
    from tests.conftest import COUNSELLOR, SUPERVISOR
    from tests.unit.reports.test_service import add_record

    ws = profile.sign_in(COUNSELLOR)
    try:
        record_id = add_record(ws)
    finally:
        ws.close()
    ws = profile.sign_in(SUPERVISOR)
    try:
        data = access_pdf(ws, ws.lifecycle.person_export(record_id))
    finally:
        ws.close()
    check_pdfa_2b(data)
    pdf = pikepdf.open(io.BytesIO(data))
    assert "Auskunft" in str(pdf.docinfo.Title)
    for number, page in enumerate(pdf.pages, start=1):
        for name, font in page.Resources.get("/Font", {}).items():
            descriptor = font.get("/FontDescriptor")
            assert descriptor is not None, f"page {number}: {name}"
            assert any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))


def check_pdfa_2b(data: bytes) -> None:
    """XMP metadata of PDF/A-2b, the sRGB output intent, the document language."""
    pdf = pikepdf.open(io.BytesIO(data))
    root = pdf.Root
    assert str(root.Lang) == "de"
    assert pdf.trailer.get("/Encrypt") is None
    intents = root.OutputIntents
    assert len(intents) == 1
    intent = intents[0]
    assert intent.S == pikepdf.Name.GTS_PDFA1
    assert str(intent.OutputConditionIdentifier) == "sRGB IEC61966-2.1"
    profile = intent.DestOutputProfile
    assert int(profile.N) == 3
    assert profile.read_bytes() == resource("color", "sRGB.icc").read_bytes()
    assert profile.read_bytes()[16:20] == b"RGB "
    meta = pdf.open_metadata()
    assert meta[f"{PDF_NS}part"] == "2" and meta[f"{PDF_NS}conformance"] == "B"
    info = pdf.docinfo
    assert meta[f"{DC}title"] == str(info.Title)
    assert meta[f"{DC}creator"] == [str(info.Author)]
    assert meta["{http://ns.adobe.com/pdf/1.3/}Producer"] == str(info.Producer)
    # the XMP stream stays unfiltered, readable by archive tools
    assert "/Filter" not in root.Metadata.stream_dict


@pytest.mark.parametrize("kind", KINDS)
def test_every_font_is_embedded(documents: dict[str, bytes], kind: str) -> None:
    pdf = pikepdf.open(io.BytesIO(documents[kind]))
    seen = 0
    for number, page in enumerate(pdf.pages, start=1):
        fonts: Any = page.Resources.get("/Font", {})
        for name, font in fonts.items():
            seen += 1
            descriptor = font.get("/FontDescriptor")
            assert descriptor is not None, f"page {number}: {name} {font.get('/BaseFont')}"
            assert any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3")), (
                f"page {number}: {name} {font.get('/BaseFont')} not embedded"
            )
    assert seen


def test_each_pdf_is_titled_for_its_kind(documents: dict[str, bytes]) -> None:
    def title(kind: str) -> str:
        with pikepdf.open(io.BytesIO(documents[kind])) as pdf:
            return str(pdf.docinfo.Title)

    assert title("summary").endswith("Zusammenfassung KM01-2026-00001")
    assert title("summaries") == "2 Zusammenfassungen"
    assert title("sheet") == "Einwilligungserklärung KM01-2026-00001"
    assert title("sheets") == "2 Einwilligungserklärungen"
    assert title("overview") == "Übersicht des Standorts Köln-Mülheim"
    assert title("outcomes") == "Ergebnisse der Begleitung Alle Standorte"


@pytest.mark.parametrize("kind", ("summaries", "sheets", "outcomes"))
def test_no_raw_codes_no_empty_pages(documents: dict[str, bytes], kind: str) -> None:
    pages = pdfcheck.texts(documents[kind])
    for number, text in enumerate(pages, start=1):
        assert not RAW_CODES.search(text), (number, RAW_CODES.search(text))
        body = [
            line
            for line in text.splitlines()
            if line.strip()
            and not line.startswith(("Gedruckt von", "Formular ", "Fallnummer ", "Seite "))
            and "Vertraulich" not in line
            and "Zusammenfassung" not in line
            and "Einwilligungserklärung" not in line
        ]
        assert body, f"page {number} of {kind} is empty"
    assert "Offen – offen" not in "\n".join(pages)


def test_footer_breaks_instead_of_cutting(tmp_path: Path) -> None:
    from reportlab.pdfgen.canvas import Canvas

    from intake_app.reports.layout import PAGE_HEIGHT, PAGE_WIDTH

    name = "Dr. Maximiliane Sophie Beispielberaterin-Mustermann (Standortleitung Köln-Mülheim)"
    info = PageInfo(
        record_id=str(uuid.UUID(int=5)),
        title="Zusammenfassung",
        subtitle="Fallnummer X",
        confidential="Vertraulich – personenbezogene Daten",
        printed=f"Gedruckt von {name} am 05.12.2026, 12:00 · Profil: mit besonderen "
        "Kategorien (Art. 9)",
        reference="Formular intake 2026.1 · Akte 00000000-0000-0000-0000-000000000005",
        page_of="Seite {page} von {pages}",
    )
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(PAGE_WIDTH, PAGE_HEIGHT))
    draw_header_footer(canvas, info)
    canvas.showPage()
    canvas.save()
    text = " ".join(pdfcheck.texts(buffer.getvalue())[0].split())
    assert name in text
    assert "Profil: mit besonderen Kategorien (Art. 9)" in text
    assert "…" not in text


def test_the_first_page_reads_at_a_glance(
    form: Form, organisation: OrganisationConfig, documents: dict[str, bytes]
) -> None:
    first = " ".join(pdfcheck.texts(documents["summary"])[0].split())
    overview = first[: first.index("A. Fall und Verwaltung")]
    assert "Aufenthaltserlaubnis" in overview and "gültig bis" in overview
    assert "läuft in 23 Tagen ab" in overview
    assert "Erwerbstätigkeit" in overview
    assert "Hören B1" in overview and "Schreiben A2" in overview
    assert "Anerkennung" in overview and "Beantragt" in overview
    assert "IQ-Anerkennungsberatung – Termin vereinbart (vermittelt am" in overview
    assert "fällig am" in overview
    assert "Nächster Termin" in overview
    assert "Einwilligung (Umfang)" in overview
    assert "nicht erteilt: Vermittlung über den Arbeitgeber-Service" in overview


def test_an_overdue_appointment_is_marked(form: Form, organisation: OrganisationConfig) -> None:
    answers = kit.rich_answers(form, organisation)
    answers["next_appointment"] = (kit.TODAY - timedelta(days=3)).isoformat()
    answers["intake_date"] = (kit.TODAY - timedelta(days=20)).isoformat()
    data = render_documents([kit.source(form, answers)], ctx=kit.context(organisation)).data
    first = " ".join(pdfcheck.texts(data)[0].split())
    date = (kit.TODAY - timedelta(days=3)).strftime("%d.%m.%Y")
    assert f"Nächster Termin {date} – überfällig" in first


def test_rendered_pages_are_not_blank(documents: dict[str, bytes], tmp_path: Path) -> None:
    """Rendered with poppler at 60 dpi: every page of the overview sheet has ink."""
    path = tmp_path / "overview.pdf"
    path.write_bytes(documents["overview"])
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(path), str(tmp_path / "p")], check=True)
    images = sorted(tmp_path.glob("p*.png"))
    assert images
    for image in images:
        assert image.stat().st_size > 2000
