"""The consent sheet: German beside the client's language, empty boxes, signatures."""

from __future__ import annotations

import dataclasses
import re
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from reportlab.platypus import Flowable, Table

from intake_app.core.forms import Form, OrganisationConfig
from intake_app.core.forms.model import LocalText
from intake_app.reports.consent_sheet import (
    SHEET_LANGUAGES,
    SHEET_TEXTS,
    build_consent_sheet,
    consent_sheet_story,
)
from intake_app.reports.flowables import SideBySide, TickBox
from tests.unit.reports import pdfcheck
from tests.unit.reports import reportkit as kit


@pytest.fixture(scope="module")
def answers(form: Form, organisation: OrganisationConfig) -> dict[str, Any]:
    return kit.rich_answers(form, organisation)


def sheet_text(
    form: Form, organisation: OrganisationConfig, answers: dict[str, Any], client: str | None
) -> str:
    data = build_consent_sheet(
        kit.source(form, answers), ctx=kit.context(organisation), client_lang=client
    )
    return "\n".join(pdfcheck.texts(data))


def rtl_parts(text: str) -> list[str]:
    """The Arabic-script stretches of a text (between Latin words and brackets)."""
    return [part.strip() for part in re.findall(r"[\u0600-\u06ff][\u0600-\u06ff\u200c ،]*", text)]


def words(text: str, count: int = 4) -> str:
    """The first words of a text (a line break may follow any later word)."""
    return " ".join(text.split()[:count])


@pytest.mark.parametrize("client", ["en", "uk", "ru", "tr"])
def test_german_beside_a_left_to_right_language(
    form: Form, organisation: OrganisationConfig, answers: dict[str, Any], client: str
) -> None:
    text = sheet_text(form, organisation, answers, client)
    for lang in ("de", client):
        assert words(organisation.text("consent_intro", lang)) in text
        assert words(organisation.text("refusal_no_effect", lang)) in text
        for purpose in organisation.purposes:
            assert purpose.label(lang) in text
        assert SHEET_TEXTS["yes"][lang] in text
        assert SHEET_TEXTS["sign_person"][lang] in text


@pytest.mark.parametrize("client", ["ar", "fa"])
def test_german_beside_a_right_to_left_language(
    form: Form, organisation: OrganisationConfig, answers: dict[str, Any], client: str
) -> None:
    text = sheet_text(form, organisation, answers, client)
    assert words(organisation.text("consent_intro", "de")) in text
    lines = {line.strip() for line in text.split("\n")}
    # one-line texts in Arabic script come back as configured (logical order, the typed
    # letters); pypdf has no paragraph direction, so a Latin word in such a line
    # ("(Jobcenter)") is read at the visual start: check the Arabic parts on their own
    for purpose in organisation.purposes:
        for part in rtl_parts(purpose.label(client)):
            assert part in text, part
    assert SHEET_TEXTS["sign_person"][client] in lines
    assert SHEET_TEXTS["yes"][client].rstrip(".") in text


def test_the_consent_language_is_the_default(
    form: Form, organisation: OrganisationConfig, answers: dict[str, Any]
) -> None:
    text = sheet_text(form, organisation, dict(answers), None)  # consent given in Arabic
    assert organisation.purpose("central_office").label("ar") in text


def test_german_only_when_the_consent_was_in_german(
    form: Form, organisation: OrganisationConfig, answers: dict[str, Any]
) -> None:
    german = dict(answers, consent=kit.consent(organisation, art9=True, language="de"))
    story = consent_sheet_story(
        kit.source(form, german), ctx=kit.context(organisation), client_lang="de"
    )
    blocks = [f for f in story if isinstance(f, SideBySide)]
    assert blocks and all(len(block.columns) == 1 for block in blocks)


def _walk(flowables: list[Any]) -> Iterator[Flowable]:
    for item in flowables:
        if isinstance(item, (list, tuple)):
            yield from _walk(list(item))
        elif isinstance(item, SideBySide):
            for column in item.columns:
                yield from _walk(column)
        elif isinstance(item, Table):
            for row in item._cellvalues:
                yield from _walk(list(row))
        elif isinstance(item, Flowable):
            yield item


def test_the_person_ticks_the_boxes_and_the_record_stands_apart(
    form: Form, organisation: OrganisationConfig, answers: dict[str, Any]
) -> None:
    story = consent_sheet_story(
        kit.source(form, answers), ctx=kit.context(organisation), client_lang="tr"
    )
    boxes = [f.checked for f in _walk(story) if isinstance(f, TickBox)]
    # yes/no per purpose and Art. 9, once in German and once in Turkish, none pre-ticked
    assert len(boxes) == (len(organisation.purpose_ids) + 1) * 4
    assert not any(boxes)
    text = sheet_text(form, organisation, answers, "tr")
    recorded = text[text.index("Erfasste Entscheidungen – nur für die Beratungsstelle") :]
    for purpose in organisation.purposes:
        granted = answers["consent"]["purposes"][purpose.id]["granted"]
        line = next(line for line in recorded.splitlines() if purpose.label("de") in line)
        assert line.endswith("nicht erteilt" if not granted else "erteilt"), line
    assert "Gesundheitsangabe auf Ausdrucken verlangt am" in " ".join(recorded.split())
    # the recorded block follows the signatures
    assert text.index(SHEET_TEXTS["sign_person"]["de"]) < text.index("Erfasste Entscheidungen")


def test_an_undecided_sheet_has_empty_boxes(
    form: Form, organisation: OrganisationConfig, answers: dict[str, Any]
) -> None:
    blank = dict(answers, consent={"language": "uk"})
    story = consent_sheet_story(kit.source(form, blank), ctx=kit.context(organisation))
    boxes = [f.checked for f in _walk(story) if isinstance(f, TickBox)]
    assert boxes and not any(boxes)


def test_signature_lines(
    form: Form, organisation: OrganisationConfig, answers: dict[str, Any]
) -> None:
    text = sheet_text(form, organisation, answers, "ru")
    for key in ("place_date", "sign_person", "sign_counsellor", "sign_interpreter"):
        assert SHEET_TEXTS[key]["de"] in text and SHEET_TEXTS[key]["ru"] in text
    guardian = dict(
        answers,
        consent=dict(
            answers["consent"],
            given_by="guardian",
            guardian_name="Petrenko Iryna",
            interpreter=False,
        ),
    )
    text = sheet_text(form, organisation, guardian, "ru")
    assert SHEET_TEXTS["sign_guardian"]["de"] in text
    assert "Petrenko Iryna" in text
    assert SHEET_TEXTS["sign_interpreter"]["de"] not in text
    assert words(organisation.text("minors", "de")) in text


def test_withdrawal_is_noted(
    form: Form, organisation: OrganisationConfig, answers: dict[str, Any]
) -> None:
    consent = kit.consent(organisation, art9=True)
    consent["purposes"]["central_office"]["withdrawn_on"] = kit.TODAY.isoformat()
    text = sheet_text(form, organisation, dict(answers, consent=consent), "en")
    recorded = text[text.index("Erfasste Entscheidungen") :]
    assert "widerrufen am" in recorded


def test_fonts_embedded_and_pages_numbered(
    form: Form, organisation: OrganisationConfig, answers: dict[str, Any]
) -> None:
    data = build_consent_sheet(
        kit.source(form, answers), ctx=kit.context(organisation), client_lang="fa"
    )
    for page, name, font in pdfcheck.fonts_of(data):
        assert pdfcheck.is_embedded(font), f"page {page}: {name}"
    pages = pdfcheck.texts(data)
    for number, text in enumerate(pages, start=1):
        assert f"Seite {number} von {len(pages)}" in text
        assert "Vertraulich – personenbezogene Daten" in text


def test_every_client_language_has_every_fixed_word() -> None:
    for key, texts in SHEET_TEXTS.items():
        assert set(texts) == set(SHEET_LANGUAGES), key
        assert all(value.strip() for value in texts.values()), key


def test_joint_controller_and_art13_information(
    form: Form, organisation: OrganisationConfig, answers: dict[str, Any]
) -> None:
    text = " ".join(sheet_text(form, organisation, answers, "en").split())
    joint = organisation.joint_controllers[0]
    assert "Gemeinsam verantwortliche Stellen" in text and "Joint controllers" in text
    assert "Landesdatenbank Kommunales Integrationsmanagement (KIM)" in joint.name
    assert " ".join(joint.name.split()[:4]) in text
    assert "Datenschutzgesetz Nordrhein-Westfalen (DSG NRW)" in text
    assert "(TIntG NRW)" in text
    # Art. 20 only for what is passed on with consent; what follows from not answering
    assert "für die Daten, die wir mit Ihrer Einwilligung weitergeben, außerdem" in text
    assert "Sie müssen keine Angaben machen." in text


def _born(years: int) -> str:
    day = kit.TODAY - timedelta(days=20)
    return day.replace(year=day.year - years).isoformat()


def test_the_note_for_15_to_17_rests_on_understanding_not_on_section_36(
    organisation: OrganisationConfig,
) -> None:
    german = " ".join(organisation.text("minors_15_17", "de").split())
    assert "müssen nicht unterschreiben" not in german
    assert "Art. 7 und 8 DSGVO" in german and "verstehen" in german
    assert "Sorgeberechtigten zu informieren" in german
    # § 36 SGB I only for applications for benefits, with both halves of it
    assert "Anträge auf Sozialleistungen" in german and "einschränken (§ 36 SGB I)" in german
    digits = {"fa": ("۷", "۸", "۳۶"), "ar": ("7", "8", "36")}
    for lang in ("en", "ar", "uk", "ru", "tr", "fa"):
        text = organisation.text("minors_15_17", lang)
        for number in digits.get(lang, ("7", "8", "36")):
            assert number in text, (lang, number)
        assert "SGB I" in text or "الضمان الاجتماعي" in text, lang
    for lang in ("de", "en", "ar", "uk", "ru", "tr", "fa"):
        under_15 = organisation.text("minors", lang)
        assert "1629" in under_15 or "۱۶۲۹" in under_15, lang
        assert "36" not in under_15 and "۳۶" not in under_15, lang


def test_a_note_for_persons_aged_15_to_17(
    form: Form, organisation: OrganisationConfig, answers: dict[str, Any]
) -> None:
    note = words(organisation.text("minors_15_17", "de"), 6)
    young = dict(answers, birth_date=_born(16))
    text = " ".join(sheet_text(form, organisation, young, "fa").split())
    assert note in text
    # § 36 SGB I in Dari/Farsi is "ماده ۳۶" (article), not "بند" (clause); poppler keeps the
    # digits of a right-to-left line in reading order
    assert "ماده ۳۶" in organisation.text("minors_15_17", "fa")
    data = build_consent_sheet(
        kit.source(form, young), ctx=kit.context(organisation), client_lang="fa"
    )
    poppler = subprocess.run(
        ["pdftotext", "-", "-"], input=data, capture_output=True, check=True
    ).stdout.decode()
    assert "۳۶" in poppler and "ماده" in poppler and "بند ۳۶" not in poppler
    adult = dict(answers, birth_date=_born(18))
    assert note not in " ".join(sheet_text(form, organisation, adult, "fa").split())


def test_client_labels_ask_for_family_and_given_name_and_arabic_lists_use_arabic_commas(
    form: Form, organisation: OrganisationConfig, answers: dict[str, Any]
) -> None:
    text = sheet_text(form, organisation, answers, "ar")
    assert "Familienname, Vorname" in text
    assert "اسم العائلة" in text
    purpose = organisation.purpose("jobcenter_language_course")
    arabic = [organisation.category_label(c, "ar") for c in purpose.data_categories]
    parts = " ".join(rtl_parts(text))
    assert "،" in parts
    assert all(label.split()[0] in parts for label in arabic)
    assert not any(f"{label}," in text for label in arabic)


def _render(data: bytes, tmp: Path) -> bytes:
    pdf = tmp / "sheet.pdf"
    pdf.write_bytes(data)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "2", str(pdf), str(tmp / "page")],
        check=True,
    )
    return b"".join(path.read_bytes() for path in sorted(tmp.glob("page*.png")))


def test_a_dari_sheet_shows_no_stray_strokes(
    form: Form, organisation: OrganisationConfig, answers: dict[str, Any], tmp_path: Path
) -> None:
    """Every ZWNJ of a Dari/Farsi sheet is invisible: the pages look exactly as with an
    invisible zero-width space in its place (which shapes the same), and the text still
    reads back with the ZWNJ."""
    source = kit.source(form, answers)
    data = build_consent_sheet(source, ctx=kit.context(organisation), client_lang="fa")
    assert "\u200c" in "".join(pdfcheck.texts(data))
    spaced = dataclasses.replace(
        organisation,
        texts={
            key: LocalText(
                {lang: value.replace("\u200c", "\u200b") for lang, value in text.texts.items()}
            )
            for key, text in organisation.texts.items()
        },
        purposes=tuple(
            dataclasses.replace(
                purpose,
                label_text=LocalText(
                    {k: v.replace("\u200c", "\u200b") for k, v in purpose.label_text.texts.items()}
                ),
                description_text=LocalText(
                    {
                        k: v.replace("\u200c", "\u200b")
                        for k, v in purpose.description_text.texts.items()
                    }
                ),
            )
            for purpose in organisation.purposes
        ),
        _purposes={},
    )
    ctx = dataclasses.replace(kit.context(organisation), organisation=spaced)
    reference = build_consent_sheet(source, ctx=ctx, client_lang="fa")
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    assert _render(data, first) == _render(reference, second)


def test_a_name_in_arabic_script_is_joined_with_the_arabic_comma(
    form: Form, organisation: OrganisationConfig, answers: dict[str, Any]
) -> None:
    from intake_app.reports.common import person_name

    assert person_name({"family_name": "کریمی", "given_names": "احمد"}) == "کریمی، احمد"
    assert person_name({"family_name": "Karimi", "given_names": "Ahmad"}) == "Karimi, Ahmad"
    dari = {k: v for k, v in answers.items() if k not in ("family_name_latin", "given_names_latin")}
    dari.update(family_name="کریمی", given_names="احمد")
    text = sheet_text(form, organisation, dari, "fa")
    line = next(line for line in text.splitlines() if "کریمی" in line)
    assert "احمد" in line and "،" in line
    assert "," not in line.split("/")[-1], line


def test_a_zero_width_joiner_on_a_dari_sheet_joins_and_stays_invisible(
    form: Form, organisation: OrganisationConfig, answers: dict[str, Any], tmp_path: Path
) -> None:
    """U+200D after a letter gives it its joining form ("ه‍" as in the abbreviation
    „ه‍.ش“) and draws nothing itself: the page looks exactly as with the joined letter
    written directly, and not as with the letter standing alone."""
    base = {k: v for k, v in answers.items() if k not in ("family_name_latin", "given_names_latin")}

    def page(given: str, folder: str) -> bytes:
        source = kit.source(form, dict(base, family_name="کریمی", given_names=given))
        data = build_consent_sheet(source, ctx=kit.context(organisation), client_lang="fa")
        (tmp_path / folder).mkdir()
        return _render(data, tmp_path / folder)

    joined = page("احمد ه\u200d", "zwj")
    assert joined == page("احمد \ufeeb", "initial")  # heh in its joining (initial) form
    assert joined != page("احمد \ufee9", "isolated")  # the test sees a wrong form
