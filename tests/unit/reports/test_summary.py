"""The intake summary, read back from the PDF with pypdf."""

from __future__ import annotations

import re
import textwrap
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from intake_app.core.forms import Form, OrganisationConfig, load_form
from intake_app.reports.flowables import qr_matrix
from intake_app.reports.profiles import Profile
from intake_app.reports.summary import build_summary
from tests.unit.reports import pdfcheck
from tests.unit.reports import reportkit as kit

SECTIONS_DE = [
    "Auf einen Blick",
    "A. Fall und Verwaltung",
    "Einwilligung und Datenschutz",
    "B. Person",
    "C. Aufenthaltsstatus",
    "D. Sprache",
    "E. Bildung und Abschlüsse",
    "F. Berufserfahrung",
    "G. Ziele",
    "H. Hindernisse und Rahmenbedingungen",
    "I. Bestehende Kontakte",
    "J. Vermittlungen und Plan",
]


@pytest.fixture(scope="module")
def answers(form: Form, organisation: OrganisationConfig) -> dict[str, Any]:
    return kit.rich_answers(form, organisation)


@pytest.fixture(scope="module")
def standard_pdf(form: Form, organisation: OrganisationConfig, answers: dict[str, Any]) -> bytes:
    return build_summary(kit.source(form, answers), ctx=kit.context(organisation))


@pytest.fixture(scope="module")
def standard_text(standard_pdf: bytes) -> str:
    return "\n".join(pdfcheck.texts(standard_pdf))


def test_every_section_has_its_heading_in_form_order(standard_text: str) -> None:
    positions = [standard_text.find(title) for title in SECTIONS_DE]
    assert -1 not in positions, [t for t, p in zip(SECTIONS_DE, positions, strict=True) if p < 0]
    assert positions == sorted(positions)


@pytest.mark.parametrize(
    "expected",
    [
        # header and consent status
        "Fallnummer KM01-2026-00042",
        "Beratung: Anna Beispiel",
        "Stand: Revision 1",
        "in der Fassung Arabisch",
        "Zentralstelle des Landesprogramms",
        "nicht erteilt",
        # residence and work permission
        "§ 25 Abs. 2 – Flüchtlingseigenschaft",
        # languages, qualifications and recognition (a repeat group as a table)
        "Sprachen (außer Deutsch)",
        "Bachelor Krankenpflege",
        "Pflegefachfrau",
        "Landesbehörde (z. B.",
        # work experience, goals, referrals and next steps
        "Krankenschwester im",
        "Beschäftigung",
        "IQ-Anerkennungsberatung",
        "Termin vereinbart – offen",
        "Übersetzung der Zeugnisse einreichen",
        # circumstances as flags, with their notes
        "Kinderbetreuung fehlt",
        "Kita-Platz ab Herbst beantragt",
    ],
)
def test_content_of_each_section(standard_text: str, expected: str) -> None:
    assert expected in standard_text


def test_work_permission_prints_its_label(form: Form, standard_text: str) -> None:
    choice = form.question("work_permission").choice("erwerbstaetigkeit_gestattet")
    assert choice is not None
    assert choice.label("de") in " ".join(standard_text.split())
    assert "auch „erlaubt“" not in standard_text


def test_a_consent_purpose_id_reads_as_the_purpose(standard_text: str) -> None:
    assert "recognition_counselling" not in standard_text
    assert standard_text.count("Anerkennungsberatung") >= 2


def test_residence_expiry_within_eight_weeks_is_highlighted(standard_text: str) -> None:
    assert "läuft in 23 Tagen ab" in standard_text


def test_expired_permit_says_so(form: Form, organisation: OrganisationConfig) -> None:
    answers = kit.rich_answers(form, organisation, expiring_in=30)
    answers["residence_valid_until"] = (kit.TODAY - timedelta(days=3)).isoformat()
    text = "\n".join(
        pdfcheck.texts(build_summary(kit.source(form, answers), ctx=kit.context(organisation)))
    )
    assert "abgelaufen" in text


def test_a_permit_valid_for_long_is_not_highlighted(
    form: Form, organisation: OrganisationConfig
) -> None:
    answers = kit.rich_answers(form, organisation, expiring_in=400)
    text = "\n".join(
        pdfcheck.texts(build_summary(kit.source(form, answers), ctx=kit.context(organisation)))
    )
    assert "läuft in" not in text and "abgelaufen" not in text


def test_only_answered_and_visible_questions(
    form: Form, organisation: OrganisationConfig, answers: dict[str, Any]
) -> None:
    stale = dict(answers, access_route_other="VERSTECKT-4711")  # hidden: route is jobcenter
    text = "\n".join(
        pdfcheck.texts(build_summary(kit.source(form, stale), ctx=kit.context(organisation)))
    )
    assert "VERSTECKT-4711" not in text
    assert "Welche Beratungsstelle?" not in text
    assert "Straße und Hausnummer" not in text  # not answered
    assert "Kundennummer" not in text  # not answered


def test_internal_notes_are_never_printed(
    form: Form, organisation: OrganisationConfig, answers: dict[str, Any]
) -> None:
    for profile in Profile:
        text = "\n".join(
            pdfcheck.texts(
                build_summary(
                    kit.source(form, answers), ctx=kit.context(organisation), profile=profile
                )
            )
        )
        assert kit.INTERNAL_NOTE not in text
        assert kit.DEBTS_NOTE not in text
        assert "Interne Notiz" not in text


def test_standard_profile_leaves_out_special_categories(standard_text: str) -> None:
    assert kit.HEALTH_LABEL_DE not in standard_text
    assert "Profil: Standard (ohne besondere Kategorien)" in standard_text


def test_special_profile_includes_them_with_art9_consent(
    form: Form, organisation: OrganisationConfig, answers: dict[str, Any]
) -> None:
    text = "\n".join(
        pdfcheck.texts(
            build_summary(
                kit.source(form, answers), ctx=kit.context(organisation), profile=Profile.SPECIAL
            )
        )
    )
    assert kit.HEALTH_LABEL_DE in text
    assert "Profil: mit besonderen Kategorien (Art. 9)" in text


def test_special_profile_without_art9_consent_falls_back(
    form: Form, organisation: OrganisationConfig
) -> None:
    answers = kit.rich_answers(form, organisation, art9=False)
    answers["health_limitation"] = True  # stored, but hidden without the consent
    text = "\n".join(
        pdfcheck.texts(
            build_summary(
                kit.source(form, answers), ctx=kit.context(organisation), profile=Profile.SPECIAL
            )
        )
    )
    assert kit.HEALTH_LABEL_DE not in text
    assert "Besondere Kategorien wurden angefordert" in text
    assert "Profil: Standard" in text


def test_withdrawn_art9_consent_redacts_again(
    form: Form, organisation: OrganisationConfig, answers: dict[str, Any]
) -> None:
    withdrawn = dict(answers)
    withdrawn["consent"] = dict(
        answers["consent"],
        art9={"granted": True, "withdrawn_on": (kit.TODAY - timedelta(days=1)).isoformat()},
    )
    text = "\n".join(
        pdfcheck.texts(
            build_summary(
                kit.source(form, withdrawn), ctx=kit.context(organisation), profile=Profile.SPECIAL
            )
        )
    )
    assert kit.HEALTH_LABEL_DE not in text
    assert "widerrufen am" in text


SPECIAL_FORM = """
form: special_demo
version: "1"
title: {de: Sonderfall, en: Special case}
sections:
  - id: main
    label: {de: Angaben, en: Answers}
    questions:
      - id: consent
        type: consent
        required: true
        label: {de: Einwilligung, en: Consent}
      - id: case_note
        type: text
        label: {de: Allgemeine Notiz, en: General note}
      - id: diagnosis_hint
        type: text
        special_category: true
        label: {de: Gesundheitlicher Hinweis Eisvogel, en: Health hint kingfisher}
        relevant: art9_consented(consent)
      - id: jobs
        type: repeat
        label: {de: Stationen, en: Stations}
        item_label: {de: Station, en: Station}
        questions:
          - id: place
            type: text
            label: {de: Ort, en: Place}
          - id: impairment
            type: text
            special_category: true
            label: {de: Einschränkung Wiedehopf, en: Impairment hoopoe}
            relevant: art9_consented(consent)
"""


def test_no_special_category_text_in_standard_profile(
    tmp_path: Path, organisation: OrganisationConfig
) -> None:
    """A special-category label or answer, top-level or in a repeat group, never appears."""
    path = tmp_path / "special.yaml"
    path.write_text(textwrap.dedent(SPECIAL_FORM), encoding="utf-8")
    special = load_form(path)
    answers = {
        "consent": kit.consent(organisation, art9=True),
        "case_note": "Alles besprochen",
        "diagnosis_hint": "Geheimwort Pirol 9911",
        "jobs": [{"place": "Köln", "impairment": "Geheimwort Stieglitz 2207"}],
    }
    source = kit.source(special, answers)
    standard = "\n".join(pdfcheck.texts(build_summary(source, ctx=kit.context(organisation))))
    for secret in ("Eisvogel", "Pirol 9911", "Wiedehopf", "Stieglitz 2207"):
        assert secret not in standard
    assert "Alles besprochen" in standard and "Köln" in standard
    special_text = "\n".join(
        pdfcheck.texts(
            build_summary(source, ctx=kit.context(organisation), profile=Profile.SPECIAL)
        )
    )
    for secret in ("Eisvogel", "Pirol 9911", "Wiedehopf", "Stieglitz 2207"):
        assert secret in special_text


def test_header_footer_and_page_numbers_on_every_page(form: Form, standard_pdf: bytes) -> None:
    pages = pdfcheck.texts(standard_pdf)
    total = len(pages)
    assert total >= 3
    for number, text in enumerate(pages, start=1):
        assert f"Seite {number} von {total}" in text
        assert "Vertraulich – personenbezogene Daten" in text
        assert "Fallnummer KM01-2026-00042" in text
        assert f"Akte {kit.RECORD_ID}" in text
        assert f"Formular intake {form.version}" in text
        assert "Gedruckt von Leitung Beispiel" in text


def test_qr_code_of_the_record_id_on_every_page(standard_pdf: bytes) -> None:
    expected = [list(row) for row in qr_matrix(kit.RECORD_ID)]
    for index in range(len(pdfcheck.reader(standard_pdf).pages)):
        assert pdfcheck.qr_modules(standard_pdf, index, len(expected)) == expected


def test_every_font_is_embedded(standard_pdf: bytes) -> None:
    seen = list(pdfcheck.fonts_of(standard_pdf))
    assert len({name for _page, name, _font in seen}) >= 3  # Latin, bold, Arabic
    for page, name, font in seen:
        assert pdfcheck.is_embedded(font), f"page {page}: {name} not embedded"


def stands_alone(name: str, text: str) -> bool:
    """Whether ``name`` occurs as a whole (not inside another word, not reordered)."""
    return re.search(rf"(?m)(^|\s){re.escape(name)}(\s|$)", text) is not None


def test_arabic_name_reads_back_as_stored(standard_pdf: bytes) -> None:
    text = "\n".join(pdfcheck.texts(standard_pdf))
    assert stands_alone(kit.ARABIC_FAMILY, text)
    assert stands_alone(kit.ARABIC_GIVEN, text)
    assert f"Familienname {kit.ARABIC_FAMILY}" in text
    assert not any(0xFB50 <= ord(c) <= 0xFDFF or 0xFE70 <= ord(c) <= 0xFEFF for c in text), (
        "presentation forms leaked into the text layer"
    )


def test_cyrillic_name_reads_back_as_stored(form: Form, organisation: OrganisationConfig) -> None:
    answers = kit.rich_answers(form, organisation, arabic=False)
    pages = pdfcheck.texts(build_summary(kit.source(form, answers), ctx=kit.context(organisation)))
    text = "\n".join(pages)
    assert stands_alone(kit.CYRILLIC_FAMILY, text)
    assert stands_alone(kit.CYRILLIC_GIVEN, text)
    assert f"Familienname {kit.CYRILLIC_FAMILY}" in text
    assert "Shevchenko, Olena (Шевченко, Олена)" in "\n".join(pages)


def test_english_on_request(
    form: Form, organisation: OrganisationConfig, answers: dict[str, Any]
) -> None:
    text = "\n".join(
        pdfcheck.texts(
            build_summary(kit.source(form, answers), ctx=kit.context(organisation, lang="en"))
        )
    )
    for label in (
        "A. Case and administration",
        "C. Residence status",
        "Valid until",
        "Initial interview, labour-market integration",
        "Recognition counselling",
    ):
        assert label in text
    assert "Aufenthaltsstatus" not in text
    assert (kit.TODAY + timedelta(days=23)).strftime("%d/%m/%Y") in text


def test_a_draft_is_marked(
    form: Form, organisation: OrganisationConfig, answers: dict[str, Any]
) -> None:
    text = "\n".join(
        pdfcheck.texts(
            build_summary(kit.source(form, answers, status="draft"), ctx=kit.context(organisation))
        )
    )
    assert "Entwurf – noch nicht abgeschlossen" in text


def test_megabyte_answer_wraps_over_pages(
    form: Form, organisation: OrganisationConfig, answers: dict[str, Any]
) -> None:
    words = [f"Wort{index:06d}" for index in range(100_000)]
    huge = " ".join(words)[:1_000_000]
    assert len(huge) == 1_000_000
    long_answers = dict(answers, office_site=huge)
    long_answers["work_experience"] = [
        dict(answers["work_experience"][0], job_title="x" * 250_000)
    ]  # one unbroken word
    started = time.perf_counter()
    data = build_summary(kit.source(form, long_answers), ctx=kit.context(organisation))
    elapsed = time.perf_counter() - started
    pages = pdfcheck.texts(data)
    total = len(pages)
    assert total > 100
    for number, text in enumerate(pages, start=1):
        assert f"Seite {number} von {total}" in text
        assert "Vertraulich – personenbezogene Daten" in text
    joined = "".join(pages)
    assert words[0] in joined and huge.split()[-2] in joined
    assert "J. Vermittlungen und Plan" in pages[-1] or "Nächste Schritte" in joined
    for page in pdfcheck.reader(data).pages:
        assert [round(float(v)) for v in page.mediabox] == [0, 0, 595, 842]
    assert elapsed < 120


def test_nothing_is_written_to_disk(
    form: Form,
    organisation: OrganisationConfig,
    answers: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import tempfile

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    monkeypatch.chdir(tmp_path)
    data = build_summary(kit.source(form, answers), ctx=kit.context(organisation))
    assert data.startswith(b"%PDF")
    assert list(tmp_path.iterdir()) == []


def test_profile_parse_names_the_choices() -> None:
    assert Profile.parse("special_categories") is Profile.SPECIAL
    with pytest.raises(Exception, match="standard, special_categories"):
        Profile.parse("alles")


def test_fixed_texts_follow_the_requested_language(
    form: Form,
    organisation: OrganisationConfig,
    answers: dict[str, Any],
) -> None:
    pages = pdfcheck.texts(
        build_summary(kit.source(form, answers), ctx=kit.context(organisation, lang="en"))
    )
    text = "\n".join(pages)
    for english in (
        "Confidential – personal data",
        "At a glance",
        "Printed by",
        f"Page 1 of {len(pages)}",
        "Case number KM01-2026-00042",
        "expires in 23 days",
        "Purpose and data",
    ):
        assert english in text, english
    for german in (
        "Vertraulich",
        "Seite 1 von",
        "Auf einen Blick",
        "Gedruckt von",
        "läuft in",
        "Zweck und Daten",
    ):
        assert german not in text, german


def test_geez_script_and_missing_glyphs_read_back(
    form: Form, organisation: OrganisationConfig, answers: dict[str, Any]
) -> None:
    """Tigrinya names have their own font; a sign no font has (an emoji) prints as the
    missing-glyph box but still reads back as itself."""
    tigrinya = dict(
        answers,
        family_name="ተስፋይ",
        given_names="ሰላም 😀",
        family_name_latin="Tesfay",
        given_names_latin="Selam",
    )
    data = build_summary(kit.source(form, tigrinya), ctx=kit.context(organisation))
    text = "\n".join(pdfcheck.texts(data))
    assert stands_alone("ተስፋይ", text)
    assert "ሰላም 😀" in text
    assert "\x00" not in text
    for page, name, font in pdfcheck.fonts_of(data):
        assert pdfcheck.is_embedded(font), f"page {page}: {name}"


def test_answers_with_many_lines_leave_the_tables(
    form: Form, organisation: OrganisationConfig, answers: dict[str, Any]
) -> None:
    """A short answer of many lines (here 400) is taller than a page: it must not sit in a
    table row, which cannot run over a page (reportlab would stop with a LayoutError)."""
    lines = "\n".join(f"Zeile {n}" for n in range(400))
    tall = dict(
        answers, office_site=lines, childcare_note=lines, family_name=lines * 20
    )  # the overview shows a glimpse only
    tall["work_experience"] = [dict(answers["work_experience"][0], job_title=lines)]
    data = build_summary(kit.source(form, tall), ctx=kit.context(organisation))
    text = "\n".join(pdfcheck.texts(data))
    assert text.count("Zeile 399") >= 3


def test_the_warning_period_setting_decides_the_highlight(
    form: Form, organisation: OrganisationConfig
) -> None:
    import dataclasses

    answers = kit.rich_answers(form, organisation, expiring_in=100)
    default = kit.context(organisation)
    longer = dataclasses.replace(default, expiry_warning_days=120)
    source = kit.source(form, answers)
    assert "läuft in" not in "\n".join(pdfcheck.texts(build_summary(source, ctx=default)))
    text = "\n".join(pdfcheck.texts(build_summary(source, ctx=longer)))
    assert "läuft in 100 Tagen ab" in text


def test_a_section_24_permit_continued_by_regulation_is_not_highlighted(
    organisation: OrganisationConfig,
) -> None:
    from intake_app.core.forms import load_shipped_forms

    form = load_shipped_forms().get("intake", "2026.2")
    answers = kit.rich_answers(form, organisation, expiring_in=10)
    answers.update(
        {
            "legal_basis": "24",
            "residence_continued": True,
            "residence_continued_until": (kit.TODAY + timedelta(days=365)).isoformat(),
        }
    )
    text = "\n".join(
        pdfcheck.texts(build_summary(kit.source(form, answers), ctx=kit.context(organisation)))
    )
    assert "läuft in" not in text and "abgelaufen" not in text
    # the first page shows the date that counts, next to the printed one
    first = " ".join(
        pdfcheck.texts(build_summary(kit.source(form, answers), ctx=kit.context(organisation)))[
            0
        ].split()
    )
    continued = (kit.TODAY + timedelta(days=365)).strftime("%d.%m.%Y")
    printed = (kit.TODAY + timedelta(days=10)).strftime("%d.%m.%Y")
    assert f"gültig bis {printed}" in first
    assert f"gilt per Verordnung fort bis {continued}" in first
    answers["residence_continued"] = False
    del answers["residence_continued_until"]
    text = "\n".join(
        pdfcheck.texts(build_summary(kit.source(form, answers), ctx=kit.context(organisation)))
    )
    assert "läuft in 10 Tagen ab" in text


def test_plan_steps_print_their_status_and_a_finished_step_is_not_overdue(
    organisation: OrganisationConfig,
) -> None:
    """Form version 2026.3: the status and its date stand in section J; a step done or
    dropped leaves the open items of the first page and its past deadline is no longer
    "überfällig"; a step in progress says so there."""
    from intake_app.core.forms import load_shipped_forms

    form = load_shipped_forms().get("intake", "2026.3")
    answers = kit.rich_answers(form, organisation)
    past = (kit.TODAY - timedelta(days=5)).isoformat()
    answers["plan_steps"] = [
        {
            "step": "Übersetzung der Zeugnisse einreichen",
            "deadline": past,
            "responsible": "person",
            "status": "done",
            "status_date": (kit.TODAY - timedelta(days=6)).isoformat(),
        },
        {
            "step": "Termin IQ-Beratung wahrnehmen",
            "deadline": past,
            "responsible": "person",
            "status": "dropped",
            "status_date": (kit.TODAY - timedelta(days=1)).isoformat(),
        },
    ]

    def pages() -> list[str]:
        pdf = build_summary(kit.source(form, answers), ctx=kit.context(organisation))
        return [" ".join(page.split()) for page in pdfcheck.texts(pdf)]

    text = " ".join(pages())
    assert "Stand" in text and "Erledigt" in text and "Entfallen" in text
    assert (kit.TODAY - timedelta(days=6)).strftime("%d.%m.%Y") in text
    assert "überfällig" not in text
    assert "fällig am" not in pages()[0]
    answers["plan_steps"][1].update(status="in_progress")
    first = pages()[0]
    due = (kit.TODAY - timedelta(days=5)).strftime("%d.%m.%Y")
    assert f"Termin IQ-Beratung wahrnehmen (In Arbeit) – fällig am {due}" in first
    assert "überfällig" in first
    assert "Übersetzung der Zeugnisse einreichen" not in first


def test_a_plan_step_of_2026_2_without_status_stays_open(organisation: OrganisationConfig) -> None:
    from intake_app.core.forms import load_shipped_forms

    form = load_shipped_forms().get("intake", "2026.2")
    answers = kit.rich_answers(form, organisation)
    answers["plan_steps"][0]["deadline"] = (kit.TODAY - timedelta(days=5)).isoformat()
    pdf = build_summary(kit.source(form, answers), ctx=kit.context(organisation))
    first = " ".join(pdfcheck.texts(pdf)[0].split())
    assert "Übersetzung der Zeugnisse einreichen – fällig am" in first
    assert "überfällig" in first
