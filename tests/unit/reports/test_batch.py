"""Many records in one PDF: page numbers per record, progress, cancel."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from intake_app.core.forms import Form, OrganisationConfig
from intake_app.reports.batch import Cancelled, Document, render_documents
from intake_app.reports.profiles import Profile
from tests.unit.reports import pdfcheck
from tests.unit.reports import reportkit as kit


@pytest.fixture(scope="module")
def sources(form: Form, organisation: OrganisationConfig) -> list[Any]:
    out = []
    for index, arabic in enumerate((True, False, True)):
        answers = kit.rich_answers(form, organisation, arabic=arabic, art9=index != 2)
        out.append(
            kit.source(
                form,
                answers,
                record_id=str(uuid.UUID(int=index + 1)),
                case_number=f"KM01-2026-{index + 1:05d}",
            )
        )
    return out


def test_one_pdf_with_page_numbers_per_record(
    sources: list[Any], organisation: OrganisationConfig
) -> None:
    rendered = render_documents(sources, ctx=kit.context(organisation))
    pages = pdfcheck.texts(rendered.data)
    assert rendered.pages == len(pages)
    assert rendered.record_ids == tuple(s.record_id for s in sources)
    starts = [index for index, text in enumerate(pages) if "Seite 1 von" in text]
    assert len(starts) == 3
    ends = [*starts[1:], len(pages)]
    for record, (start, end) in enumerate(zip(starts, ends, strict=True)):
        total = end - start
        for offset, text in enumerate(pages[start:end], start=1):
            assert f"Seite {offset} von {total}" in text
            assert f"Akte {sources[record].record_id}" in text
            assert f"Fallnummer KM01-2026-{record + 1:05d}" in text


def test_profile_in_force_per_record(sources: list[Any], organisation: OrganisationConfig) -> None:
    rendered = render_documents(sources, ctx=kit.context(organisation), profile=Profile.SPECIAL)
    assert [r.profile for r in rendered.records] == [
        Profile.SPECIAL,
        Profile.SPECIAL,
        Profile.STANDARD,
    ]
    assert rendered.requested_profile is Profile.SPECIAL


def test_progress_counts_up_to_the_total(
    sources: list[Any], organisation: OrganisationConfig
) -> None:
    seen: list[tuple[int, int, str]] = []
    render_documents(
        sources,
        ctx=kit.context(organisation),
        progress=lambda done, total, text: seen.append((done, total, text)),
    )
    dones = [done for done, _total, _text in seen]
    assert dones == sorted(dones)
    assert seen[-1][0] == seen[-1][1] == 6
    assert any("wird vorbereitet" in text for *_rest, text in seen)
    assert any("Seiten werden gesetzt" in text for *_rest, text in seen)


@pytest.mark.parametrize("stop_at", [0, 4])
def test_cancel_stops_with_nothing_produced(
    sources: list[Any], organisation: OrganisationConfig, stop_at: int
) -> None:
    calls = {"n": 0}

    def cancelled() -> bool:
        calls["n"] += 1
        return calls["n"] > stop_at

    with pytest.raises(Cancelled):
        render_documents(sources, ctx=kit.context(organisation), cancelled=cancelled)


def test_consent_sheets_in_a_batch(sources: list[Any], organisation: OrganisationConfig) -> None:
    rendered = render_documents(
        sources[:2],
        ctx=kit.context(organisation),
        document=Document.CONSENT_SHEET,
        client_lang="uk",
    )
    text = "\n".join(pdfcheck.texts(rendered.data))
    assert text.count(organisation.purpose("central_office").label("uk")) == 2
    assert rendered.client_lang == "uk"
