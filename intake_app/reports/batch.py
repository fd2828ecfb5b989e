"""Many records in one PDF: summaries (or consent sheets) one after another.

Each record starts on a new page and keeps its own header, footer and page numbers
("Seite 2 von 4" counts within the record), so the printed stack can be split and
filed per person. The work reports progress and stops at the next record when the
caller asks it to cancel; nothing is written anywhere, the result is bytes.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from intake_app.errors import IntakeError
from intake_app.i18n import N_, _
from intake_app.reports.common import PrintContext, RecordSource
from intake_app.reports.profiles import Profile, redaction_for

if TYPE_CHECKING:
    from reportlab.platypus import Flowable

Progress = Callable[[int, int, str], None]
CancelCheck = Callable[[], bool]

MSG_PREPARING = N_("Akte {n} von {total} wird vorbereitet …")
MSG_LAYOUT = N_("Seiten werden gesetzt: Akte {n} von {total} …")
MSG_BATCH_TITLE = N_("{n} Zusammenfassungen")
MSG_BATCH_SHEETS = N_("{n} Einwilligungserklärungen")


class Document(enum.StrEnum):
    """Which printout (stored in audit entries by value)."""

    SUMMARY = "summary"
    CONSENT_SHEET = "consent_sheet"


class Cancelled(IntakeError):
    """The person printing cancelled a batch; nothing was produced."""

    def __init__(self) -> None:
        super().__init__(_("Abgebrochen."))


@dataclass(frozen=True, slots=True)
class RenderedRecord:
    """One record in a rendered PDF and the profile it was printed under."""

    record_id: str
    profile: Profile
    case_number: str = ""


@dataclass(frozen=True, slots=True)
class RenderedPdf:
    """A finished PDF in memory and what it contains (for the audit entries)."""

    data: bytes
    document: Document
    lang: str
    requested_profile: Profile
    records: tuple[RenderedRecord, ...]
    pages: int = 0
    client_lang: str = ""

    @property
    def record_ids(self) -> tuple[str, ...]:
        """The records, in the order they are printed."""
        return tuple(record.record_id for record in self.records)


def document_title(
    document: Document, sources: Sequence[RecordSource], *, tr: Callable[[str], str], lang: str
) -> str:
    """The PDF's title (what a viewer's title bar and an archive show) for its kind."""
    # Deferred: the layout modules load reportlab, needed only when printing
    # (docs/architecture.md, "Imports inside functions").
    from intake_app.reports.consent_sheet import MSG_SHEET_TITLE
    from intake_app.reports.summary import MSG_TITLE

    if document is Document.CONSENT_SHEET:
        if len(sources) == 1:
            return f"{tr(MSG_SHEET_TITLE)} {sources[0].case_number}"
        return tr(MSG_BATCH_SHEETS).format(n=len(sources))
    if len(sources) == 1:
        return f"{sources[0].form.title(lang)} – {tr(MSG_TITLE)} {sources[0].case_number}"
    return tr(MSG_BATCH_TITLE).format(n=len(sources))


def render_documents(
    sources: Sequence[RecordSource],
    *,
    ctx: PrintContext,
    document: Document = Document.SUMMARY,
    profile: Profile = Profile.STANDARD,
    client_lang: str | None = None,
    progress: Progress | None = None,
    cancelled: CancelCheck | None = None,
    step_offset: int = 0,
    total_steps: int | None = None,
) -> RenderedPdf:
    """Lay out ``sources`` into one PDF.

    Args:
        progress: called with ``(done, total, text)`` as records are prepared and set.
        cancelled: polled between records; True stops the work with :class:`Cancelled`.
        step_offset, total_steps: where this work sits in a larger progress count (the
            service loads the records first).

    Raises:
        Cancelled: ``cancelled()`` returned True.
    """
    # Deferred: reportlab and the layout modules load when the first document is printed,
    # not at start-up (docs/architecture.md, "Imports inside functions").
    from reportlab.platypus import PageBreak

    from intake_app.reports.consent_sheet import client_language, consent_sheet_story
    from intake_app.reports.layout import collector_paused, make_styles, render
    from intake_app.reports.summary import summary_story

    count = len(sources)
    total = total_steps if total_steps is not None else 2 * count
    tr = ctx.tr

    def check() -> None:
        if cancelled is not None and cancelled():
            raise Cancelled

    def on_record(index: int) -> None:
        check()
        if progress is not None:
            progress(
                step_offset + count + index, total, tr(MSG_LAYOUT).format(n=index + 1, total=count)
            )

    title = document_title(document, sources, tr=tr, lang=ctx.lang)
    styles = make_styles() if document is Document.SUMMARY else make_styles(size=8.6)
    story: list[Flowable] = []
    rendered: list[RenderedRecord] = []
    # one pause of the collector for making the story and laying it out: the layout
    # consumes the story, so the collector finds little left when it runs again
    with collector_paused():
        for index, source in enumerate(sources):
            check()
            if progress is not None:
                text = tr(MSG_PREPARING).format(n=index + 1, total=count)
                progress(step_offset + index, total, text)
            if story:
                story.append(PageBreak())
            if document is Document.SUMMARY:
                story.extend(
                    summary_story(source, ctx=ctx, profile=profile, index=index, styles=styles)
                )
                effective = redaction_for(profile, source.answers, on=ctx.today).effective
            else:
                story.extend(
                    consent_sheet_story(
                        source, ctx=ctx, client_lang=client_lang, index=index, styles=styles
                    )
                )
                effective = Profile.STANDARD
            rendered.append(RenderedRecord(source.record_id, effective, source.case_number))
        data, pages = render(
            story,
            title=title,
            author=ctx.organisation.name(ctx.lang),
            lang=ctx.lang,
            on_record=on_record,
        )
    check()
    if progress is not None:
        progress(total, total, "")
    client = ""
    if document is Document.CONSENT_SHEET and sources:
        client = client_language(sources[0], ctx, client_lang)
    return RenderedPdf(
        data=data,
        document=document,
        lang=ctx.lang,
        requested_profile=profile,
        records=tuple(rendered),
        pages=pages,
        client_lang=client,
    )
