"""The outcome statistics sheet as a PDF/A-2b (docs/central-office.md §6; the device's
overview sheet appends the same blocks).

Built from a :class:`~intake_app.figures.summary.Summary`: its cells are already hidden
where small, so nothing here can show more than the summary does. reportlab is loaded
with this module only, when something is printed (docs/architecture.md, "Imports inside
functions").
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime
from typing import Any

from babel.dates import format_datetime
from reportlab.lib.colors import HexColor
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from intake_app.i18n import translator
from intake_app.pdf import fonts
from intake_app.pdf.canvas import ArchiveCanvas

from .sheet_text import label, legend, number, period_text
from .summary import Block, Summary

PRIMARY = HexColor("#1f5f73")
RULE = HexColor("#b7c4c9")
SHADE = HexColor("#eef3f5")
WIDTH = A4[0] - 36 * mm


def _styles(size: float) -> dict[str, ParagraphStyle]:
    fonts.register_fonts()
    base = {"fontName": fonts.LATIN, "fontSize": size, "leading": size * 1.3}
    return {
        "title": ParagraphStyle(
            "title", fontName=fonts.LATIN_BOLD, fontSize=17, leading=21, textColor=PRIMARY
        ),
        "heading": ParagraphStyle(
            "heading",
            fontName=fonts.LATIN_BOLD,
            fontSize=11.5,
            leading=15,
            textColor=PRIMARY,
            spaceBefore=4,
            spaceAfter=3,
        ),
        "note": ParagraphStyle("note", **{**base, "fontSize": 8.5, "leading": 11}),
        "cell": ParagraphStyle("cell", **base),
        "head": ParagraphStyle("head", **{**base, "fontName": fonts.LATIN_BOLD}),
        "head_right": ParagraphStyle(
            "head_right",
            **{**base, "fontName": fonts.LATIN_BOLD, "alignment": 2, "splitLongWords": 0},
        ),
    }


def block_table(block: Block, tr: Callable[[str], str], lang: str) -> Table:
    """One block as a table: the label column, then the numbers right-aligned."""
    columns = len(block.header)
    size = 8.5 if columns <= 4 else 7
    styles = _styles(size)
    label_width = 70 * mm if columns <= 4 else 34 * mm
    number_width = min(32 * mm, (WIDTH - label_width) / max(1, columns - 1))
    rows: list[list[Any]] = [
        [Paragraph(fonts.markup(label(tr, block.header[0])), styles["head"])]
        + [
            Paragraph(fonts.markup(label(tr, head)), styles["head_right"])
            for head in block.header[1:]
        ]
    ]
    commands: list[tuple[Any, ...]] = [
        ("FONT", (0, 0), (-1, -1), fonts.LATIN, size),
        ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, PRIMARY),
        ("LINEBELOW", (0, 1), (-1, -1), 0.25, RULE),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    for index, row in enumerate(block.rows, start=1):
        rows.append(
            [Paragraph(fonts.markup(label(tr, row.label)), styles["cell"])]
            + [number(cell, lang) for cell in row.cells]
        )
        if row.total:
            commands += [
                ("FONT", (1, index), (-1, index), fonts.LATIN_BOLD, size),
                ("BACKGROUND", (0, index), (-1, index), SHADE),
            ]
    return Table(
        rows,
        colWidths=[label_width] + [number_width] * (columns - 1),
        repeatRows=1,
        hAlign="LEFT",
        style=TableStyle(commands),
    )


def sheet_story(summary: Summary, *, lang: str) -> list[Flowable]:
    """The blocks of the sheet with their titles and the legend (no page title)."""
    tr = translator(lang)
    styles = _styles(8.5)
    story: list[Flowable] = [
        Paragraph(fonts.markup(legend(tr, summary.min_count)), styles["note"]),
        Spacer(1, 3 * mm),
    ]
    for block in summary.blocks:
        story.append(CondPageBreak(40 * mm))
        story.append(
            KeepTogether(
                [
                    Paragraph(fonts.markup(label(tr, block.title)), styles["heading"]),
                    block_table(block, tr, lang),
                    Spacer(1, 4 * mm),
                ]
            )
        )
    return story


def sheet_pdf(
    summary: Summary,
    *,
    scope: str,
    printed_by: str,
    generated: datetime,
    lang: str = "de",
) -> bytes:
    """The sheet on its own, A4, PDF/A-2b: title, scope, period (the reporting period
    asked for, both days inclusive, else the months of the cases), then every block."""
    tr = translator(lang)
    styles = _styles(8.5)
    pattern = "dd.MM.yyyy HH:mm" if lang == "de" else "dd/MM/yyyy HH:mm"
    when = format_datetime(
        generated.astimezone(), pattern, locale="de_DE" if lang == "de" else "en_GB"
    )
    title = tr("Ergebnisse der Begleitung")
    period = period_text(tr, summary, lang)
    story: list[Flowable] = [
        Paragraph(fonts.markup(title), styles["title"]),
        Paragraph(fonts.markup(scope), styles["heading"]),
        Paragraph(
            fonts.markup(
                tr(
                    "{period} · Stand: {when} · erstellt von {user} · anonymisierte Zahlen, "
                    "keine personenbezogenen Daten"
                ).format(period=period, when=when, user=printed_by)
            ),
            styles["note"],
        ),
        Spacer(1, 4 * mm),
        *sheet_story(summary, lang=lang),
    ]
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=f"{title} {scope}".strip(),
        author=printed_by,
        subject=title,
        creator="Intake",
        lang=lang,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
    )

    def footer(canvas: Any, _doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(fonts.LATIN, 8)
        canvas.drawString(18 * mm, 10 * mm, tr("Seite {page}").format(page=canvas.getPageNumber()))
        canvas.drawRightString(A4[0] - 18 * mm, 10 * mm, f"Intake · {when}")
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer, canvasmaker=ArchiveCanvas)
    return buffer.getvalue()
