"""The supervisor's overview as a printable sheet: anonymised numbers, no personal data."""

from __future__ import annotations

import io

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table

from intake_app.core.formats import format_timestamp
from intake_app.core.records import RecordStatus
from intake_app.figures.sheet import sheet_story
from intake_app.figures.sheet_text import period_text
from intake_app.figures.summary import Summary
from intake_app.i18n import translator
from intake_app.pdf import fonts
from intake_app.reports.layout import PagedCanvas, make_styles, table_style
from intake_app.storage.lifecycle import Overview


def overview_pdf(
    overview: Overview,
    *,
    site: str,
    printed_by: str,
    lang: str = "de",
    outcomes: Summary | None = None,
) -> bytes:
    """One or two A4 pages with the overview's numbers and the intakes per month, then the
    outcome figures (``figures/sheet.py``, small cells hidden) when given."""
    tr = translator(lang)
    styles = make_styles(size=10)
    generated = format_timestamp(overview.generated_at, lang)
    story = [
        Paragraph(fonts.markup(tr("Übersicht des Standorts")), styles.title),
        Paragraph(fonts.markup(site or "–"), styles.heading),
        Paragraph(
            fonts.markup(
                tr(
                    "Stand: {when} · gedruckt von {user} · anonymisierte Zahlen, keine "
                    "personenbezogenen Daten"
                ).format(when=generated, user=printed_by)
            ),
            styles.note,
        ),
        Spacer(1, 6 * mm),
    ]
    rows = [
        (tr("Entwürfe"), overview.by_status.get(RecordStatus.DRAFT.value, 0)),
        (tr("Abgeschlossen, Fall läuft"), overview.by_status.get(RecordStatus.COMPLETE.value, 0)),
        (tr("Fälle beendet"), overview.by_status.get(RecordStatus.CLOSED.value, 0)),
        (tr("Noch nicht übermittelt"), overview.not_delivered),
        (tr("Offene Vermittlungen"), overview.open_referrals),
        (tr("Akten mit offenen Vermittlungen"), overview.records_with_open_referrals),
        (
            tr("Aufenthaltstitel abgelaufen oder in {n} Tagen ablaufend").format(
                n=overview.expiry_warning_days
            ),
            overview.expiring_permits,
        ),
        (tr("Anerkennungsverfahren offen"), overview.recognition_pending),
        (tr("Gelöscht (nur anonymer Statistikeintrag)"), overview.removed_for_statistics),
    ]
    numbers = Table(
        [
            [Paragraph(fonts.markup(label), styles.cell), f"{value:,}".replace(",", ".")]
            for label, value in rows
        ],
        colWidths=[120 * mm, 30 * mm],
        style=table_style([("ALIGN", (1, 0), (1, -1), "RIGHT")]),
    )
    story += [
        numbers,
        Spacer(1, 8 * mm),
        Paragraph(fonts.markup(tr("Aufnahmen je Monat")), styles.heading),
    ]
    header = [tr("Monat"), tr("Entwurf"), tr("Abgeschlossen"), tr("Fall beendet"), tr("Summe")]
    month_rows = [header]
    for month, counts in overview.by_month:
        values = [counts.get(s, 0) for s in ("draft", "complete", "closed")]
        month_rows.append([month, *[str(v) for v in values], str(sum(values))])
    months = Table(
        month_rows,
        colWidths=[35 * mm, 28 * mm, 32 * mm, 28 * mm, 25 * mm],
        repeatRows=1,
        style=table_style(
            [
                ("FONTNAME", (0, 0), (-1, 0), fonts.LATIN_BOLD),
                ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
            ]
        ),
    )
    story.append(months)
    if outcomes is not None:
        story += [
            PageBreak(),
            Paragraph(fonts.markup(tr("Ergebnisse der Begleitung")), styles.title),
            Paragraph(fonts.markup(period_text(tr, outcomes, lang)), styles.note),
            *sheet_story(outcomes, lang=lang),
        ]
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=(tr("Übersicht des Standorts") + " " + str(site)).strip(),
        author=printed_by,
        subject=tr("Übersicht des Standorts"),
        creator="Intake",
        lang=lang,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
    )

    def footer(canvas, _doc) -> None:  # type: ignore[no-untyped-def]
        canvas.saveState()
        canvas.setFont(fonts.LATIN, 8)
        canvas.drawString(18 * mm, 10 * mm, tr("Seite {page}").format(page=canvas.getPageNumber()))
        canvas.drawRightString(A4[0] - 18 * mm, 10 * mm, f"Intake · {generated}")
        canvas.restoreState()

    # the paged canvas starts in the embedded font (Helvetica would be the one font not
    # embedded) and marks the file as PDF/A-2b (pdf/pdfa.py)
    doc.build(story, onFirstPage=footer, onLaterPages=footer, canvasmaker=PagedCanvas)
    return buffer.getvalue()
