"""The consent sheet: German beside the client's language, ticks as recorded, signatures."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from reportlab.platypus import Flowable, Table

from intake_app.core.forms import Form, OrganisationConfig
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


def test_purposes_are_ticked_as_recorded(
    form: Form, organisation: OrganisationConfig, answers: dict[str, Any]
) -> None:
    story = consent_sheet_story(
        kit.source(form, answers), ctx=kit.context(organisation), client_lang="tr"
    )
    boxes = [f.checked for f in _walk(story) if isinstance(f, TickBox)]
    expected: list[bool] = []
    for pid in [*organisation.purpose_ids, "art9"]:
        part = answers["consent"]["art9"] if pid == "art9" else answers["consent"]["purposes"][pid]
        # yes/no, once in German and once in Turkish
        expected += [part["granted"], not part["granted"]] * 2
    assert boxes == expected
    assert any(boxes) and boxes.count(True) == len(boxes) // 2


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
        answers, consent=dict(answers["consent"], given_by="guardian", interpreter=False)
    )
    text = sheet_text(form, organisation, guardian, "ru")
    assert SHEET_TEXTS["sign_guardian"]["de"] in text
    assert SHEET_TEXTS["sign_interpreter"]["de"] not in text
    assert words(organisation.text("minors", "de")) in text


def test_withdrawal_is_noted(
    form: Form, organisation: OrganisationConfig, answers: dict[str, Any]
) -> None:
    consent = kit.consent(organisation, art9=True)
    consent["purposes"]["central_office"]["withdrawn_on"] = kit.TODAY.isoformat()
    text = sheet_text(form, organisation, dict(answers, consent=consent), "en")
    assert "widerrufen am" in text


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
