"""Page layout shared by the summary and the consent sheet: A4, styles, header and footer.

Every page carries the header (title, case number, counsellor, date, "Vertraulich –
personenbezogene Daten") and the footer (printed by, time, profile, form id and version,
record id, a QR code of the record id, "Seite x von y"). Page numbers count per record,
also inside a combined batch PDF, so each record's pages can be filed on their own; they
are drawn when the document is saved, once the number of pages is known.
"""

from __future__ import annotations

import copy
import gc
import io
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from reportlab.lib.colors import Color, HexColor, white
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import BaseDocTemplate, Flowable, Frame, PageTemplate, TableStyle

from intake_app.pdf import fonts, pdfa
from intake_app.reports.flowables import draw_qr

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN_X = 18 * mm
MARGIN_TOP = 27 * mm
MARGIN_BOTTOM = 29 * mm
QR_SIZE = 15 * mm
#: Lines of text in the footer (who printed and when, the profile, the record).
FOOTER_LINES = 4
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN_X

# The program's palette (ui/style.py), chosen for contrast; highlights also carry words,
# so they survive a black-and-white printer.
PRIMARY = HexColor("#0b5c75")
ACCENT = HexColor("#c2410c")
DANGER = HexColor("#b91c1c")
TEXT = HexColor("#1f2933")
MUTED = HexColor("#52606d")
BORDER = HexColor("#c5ced6")
SHADE = HexColor("#eef3f6")
WARN_FILL = HexColor("#fff4e5")
DANGER_FILL = HexColor("#fde8e8")


def table_style(commands: list[tuple[Any, ...]]) -> TableStyle:
    """A table style whose plain-text cells use the embedded font (reportlab's default,
    Helvetica, is not embedded and would be the one font a reader must substitute)."""
    return TableStyle([("FONT", (0, 0), (-1, -1), fonts.LATIN, 8.5), *commands])


@dataclass(frozen=True, slots=True)
class Styles:
    """Paragraph styles of the printouts (built once fonts are registered)."""

    title: ParagraphStyle
    heading: ParagraphStyle
    subheading: ParagraphStyle
    body: ParagraphStyle
    body_rtl: ParagraphStyle
    bold: ParagraphStyle
    bold_rtl: ParagraphStyle
    label: ParagraphStyle
    cell: ParagraphStyle
    cell_rtl: ParagraphStyle
    small: ParagraphStyle
    note: ParagraphStyle


def make_styles(*, size: float = 9.0) -> Styles:
    """The styles, scaled from a base font size."""
    fonts.register_fonts()

    def style(name: str, **kw: Any) -> ParagraphStyle:
        base: dict[str, Any] = {
            "fontName": fonts.LATIN,
            "fontSize": size,
            "leading": size * 1.35,
            "textColor": TEXT,
            "alignment": TA_LEFT,
            "splitLongWords": 1,
        }
        base.update(kw)
        return ParagraphStyle(name, **base)

    return Styles(
        title=style(
            "title",
            fontName=fonts.LATIN_BOLD,
            fontSize=size * 1.7,
            leading=size * 2.1,
            textColor=PRIMARY,
            spaceAfter=2,
        ),
        heading=style(
            "heading",
            fontName=fonts.LATIN_BOLD,
            fontSize=size * 1.25,
            leading=size * 1.6,
            textColor=PRIMARY,
            spaceBefore=9,
            spaceAfter=3,
            keepWithNext=1,
        ),
        subheading=style(
            "subheading",
            fontName=fonts.LATIN_BOLD,
            fontSize=size,
            leading=size * 1.4,
            spaceBefore=5,
            spaceAfter=2,
            keepWithNext=1,
        ),
        body=style("body"),
        body_rtl=style("body_rtl", leading=size * 1.6),
        bold=style("bold", fontName=fonts.LATIN_BOLD),
        bold_rtl=style("bold_rtl", fontName=fonts.LATIN_BOLD, leading=size * 1.6),
        label=style("label", fontSize=size * 0.92, leading=size * 1.25, textColor=MUTED),
        cell=style("cell", fontSize=size * 0.95, leading=size * 1.27),
        cell_rtl=style("cell_rtl", fontSize=size * 0.95, leading=size * 1.55),
        small=style("small", fontSize=size * 0.82, leading=size * 1.1, textColor=MUTED),
        note=style(
            "note",
            fontSize=size * 0.9,
            leading=size * 1.25,
            textColor=MUTED,
            spaceBefore=2,
            spaceAfter=2,
        ),
    )


@dataclass(frozen=True, slots=True)
class PageInfo:
    """What the header and footer of one record's pages say (already translated)."""

    record_id: str
    title: str
    subtitle: str
    confidential: str
    printed: str
    reference: str
    page_of: str  # "Seite {page} von {pages}"


class RecordStart(Flowable):  # type: ignore[misc]
    """An invisible marker at the start of each record in the story.

    The document template reads it after drawing, so the header and footer of the page
    (drawn at the end of the page) belong to the right record.
    """

    def __init__(self, info: PageInfo, index: int) -> None:
        super().__init__()
        self.info = info
        self.index = index
        self.width = self.height = 0

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        return 0, 0

    def draw(self) -> None:
        return None


def draw_text(
    canv: Canvas,
    x: float,
    y: float,
    text: str,
    *,
    size: float,
    bold: bool = False,
    color: Color = TEXT,
    align: str = "left",
) -> float:
    """Draw one line of left-to-right text in any script; returns its width."""
    shown = fonts.visual(text, rtl=False)
    width = fonts.text_width(shown, size, bold=bold)
    if align == "right":
        x -= width
    canv.setFillColor(color)
    line = canv.beginText(x, y)
    for font, run in fonts.font_runs(shown, bold=bold):
        line.setFont(font, size)
        line.textOut(run)
    canv.drawText(line)
    return width


def _fit(text: str, *, size: float, bold: bool, width: float) -> str:
    """Shorten ``text`` with an ellipsis until it fits ``width``."""
    if fonts.text_width(fonts.visual(text, rtl=False), size, bold=bold) <= width:
        return text
    while text and fonts.text_width(fonts.visual(text + "…", rtl=False), size, bold=bold) > width:
        text = text[:-1]
    return text + "…"


def _split(text: str, *, size: float, width: float) -> list[str]:
    """One footer text on as many lines as it needs, broken after " · " (who and when,
    then the profile) and, where a part is still too long, between words, so nothing is
    cut off with an ellipsis."""

    def fits(line: str) -> bool:
        return fonts.text_width(fonts.visual(line, rtl=False), size) <= width

    lines: list[str] = []
    for part in text.split(" · "):
        if lines and fits(f"{lines[-1]} · {part}"):
            lines[-1] = f"{lines[-1]} · {part}"
            continue
        line = ""
        for word in part.split(" "):
            if line and not fits(f"{line} {word}"):
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        lines.append(line)
    return lines


def draw_header_footer(canv: Canvas, info: PageInfo) -> None:
    """Header and footer of one page (page numbers follow in :class:`PagedCanvas`).

    They are the same on every page of a record, so they are drawn once per record as a
    form XObject (with the record's QR code) and placed on each of its pages.
    """
    forms: dict[PageInfo, str] | None = getattr(canv, "intake_forms", None)
    if forms is None:
        forms = canv.intake_forms = {}
    name = forms.get(info)
    if name is None:
        name = forms[info] = f"IntakePage{len(forms)}"
        canv.beginForm(name)
        _draw_header_footer(canv, info)
        canv.endForm()
    canv.doForm(name)


def _draw_header_footer(canv: Canvas, info: PageInfo) -> None:
    canv.saveState()
    top = PAGE_HEIGHT - 12 * mm
    left, right = MARGIN_X, PAGE_WIDTH - MARGIN_X
    # the confidentiality mark, boxed at the top right
    label_size = 8.5
    label_width = fonts.text_width(info.confidential, label_size, bold=True)
    pad = 2.2 * mm
    canv.setFillColor(DANGER)
    canv.roundRect(
        right - label_width - 2 * pad,
        top - 2.2 * mm,
        label_width + 2 * pad,
        5.6 * mm,
        1.2 * mm,
        stroke=0,
        fill=1,
    )
    draw_text(
        canv,
        right - pad,
        top - 0.6 * mm,
        info.confidential,
        size=label_size,
        bold=True,
        color=white,
        align="right",
    )
    title_room = right - left - label_width - 2 * pad - 5 * mm
    draw_text(
        canv,
        left,
        top,
        _fit(info.title, size=9.5, bold=True, width=title_room),
        size=9.5,
        bold=True,
        color=PRIMARY,
    )
    draw_text(
        canv,
        left,
        top - 5.2 * mm,
        _fit(info.subtitle, size=8.3, bold=False, width=right - left),
        size=8.3,
        color=TEXT,
    )
    canv.setStrokeColor(BORDER)
    canv.setLineWidth(0.7)
    canv.line(left, top - 7.8 * mm, right, top - 7.8 * mm)
    # footer
    base = MARGIN_BOTTOM - 5 * mm
    canv.line(left, base, right, base)
    text_room = right - left - QR_SIZE - 32 * mm
    lines = [*_split(info.printed, size=7.6, width=text_room), info.reference]
    for number, line in enumerate(lines[:FOOTER_LINES]):
        draw_text(
            canv,
            left,
            base - (4.2 + 3.4 * number) * mm,
            _fit(line, size=7.6, bold=False, width=text_room),
            size=7.6,
            color=MUTED,
        )
    draw_qr(canv, info.record_id, x=right - QR_SIZE, y=base - 2 * mm - QR_SIZE, size=QR_SIZE)
    canv.restoreState()


class PagedCanvas(Canvas):  # type: ignore[misc]
    """A canvas that holds its pages until :meth:`save`, then writes "Seite x von y"
    per record (the classic reportlab recipe, extended to several records)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # the embedded font from the start: reportlab's default Helvetica is not embedded
        fonts.register_fonts()
        if not kwargs.get("initialFontName"):
            kwargs["initialFontName"] = fonts.LATIN
            kwargs["initialFontSize"] = 9
        super().__init__(*args, **kwargs)
        self._held: list[dict[str, Any]] = []
        self.intake_run = -1
        self.intake_info: PageInfo | None = None

    def showPage(self) -> None:
        self._held.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        totals = Counter(state["intake_run"] for state in self._held)
        seen: Counter[int] = Counter()
        for state in self._held:
            self.__dict__.update(state)
            run = state["intake_run"]
            seen[run] += 1
            info: PageInfo | None = state["intake_info"]
            if info is not None:
                label = info.page_of.format(page=seen[run], pages=totals[run])
                draw_text(
                    self,
                    PAGE_WIDTH - MARGIN_X - QR_SIZE - 3 * mm,
                    MARGIN_BOTTOM - 9.5 * mm,
                    label,
                    size=9,
                    bold=True,
                    color=TEXT,
                    align="right",
                )
            Canvas.showPage(self)
        self._held = []
        lang = getattr(self._doc.Catalog, "Lang", None)
        pdfa.apply(self, lang=str(getattr(lang, "s", lang) or "de"))
        Canvas.save(self)


_ATOMS = (int, float, str, bool, type(None))


class _BodyFrame(Frame):  # type: ignore[misc]
    """The page's frame, copied cheaply: reportlab deep-copies the frame each time it
    measures a heading kept with what follows (``keepWithNext``); a frame holds mostly
    numbers, so only its other attributes are copied deeply (the same copy, without
    ``copy.deepcopy`` visiting every number)."""

    def __deepcopy__(self, memo: dict[int, Any]) -> _BodyFrame:
        clone = copy.copy(self)
        for key, value in self.__dict__.items():
            if type(value) not in _ATOMS:
                setattr(clone, key, copy.deepcopy(value, memo))
        return clone


class IntakeDocTemplate(BaseDocTemplate):  # type: ignore[misc]
    """A4 with one frame; header and footer per record; a hook per record started.

    Args:
        on_record: called with the record's index when its first flowable is laid out
            (progress and cancel of a batch; may raise to stop the build).
    """

    def __init__(
        self,
        buffer: io.BytesIO,
        *,
        title: str,
        author: str,
        lang: str,
        on_record: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__(
            buffer,
            pagesize=A4,
            leftMargin=MARGIN_X,
            rightMargin=MARGIN_X,
            topMargin=MARGIN_TOP,
            bottomMargin=MARGIN_BOTTOM,
            title=title,
            author=author,
            subject=title,
            creator="Intake",
            lang=lang,
            invariant=False,
        )
        frame = _BodyFrame(
            MARGIN_X,
            MARGIN_BOTTOM,
            CONTENT_WIDTH,
            PAGE_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM,
            id="body",
            leftPadding=0,
            rightPadding=0,
            topPadding=0,
            bottomPadding=0,
        )
        self.addPageTemplates([PageTemplate(id="page", frames=[frame], onPageEnd=self._decorate)])
        self.current: PageInfo | None = None
        self.run = -1
        self._on_record = on_record

    def afterFlowable(self, flowable: Flowable) -> None:
        if isinstance(flowable, RecordStart):
            self.current = flowable.info
            self.run += 1
            if self._on_record is not None:
                self._on_record(flowable.index)

    def _decorate(self, canv: Canvas, _doc: BaseDocTemplate) -> None:
        if self.current is None:
            return
        canv.intake_run = self.run
        canv.intake_info = self.current
        draw_header_footer(canv, self.current)


def render(
    story: list[Flowable],
    *,
    title: str,
    author: str,
    lang: str,
    on_record: Callable[[int], None] | None = None,
) -> tuple[bytes, int]:
    """Lay out ``story`` (which starts each record with a :class:`RecordStart`).

    Returns:
        the PDF bytes and the number of pages.
    """
    buffer = io.BytesIO()
    doc = IntakeDocTemplate(buffer, title=title, author=author, lang=lang, on_record=on_record)
    with collector_paused():
        doc.build(story, canvasmaker=PagedCanvas)
    return buffer.getvalue(), int(doc.page)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector paused while a printout is laid out.

    Laying out allocates many small objects (flowables, their lines, the page's
    operators) that all live until the PDF is written; the collector's passes over them
    found nothing to free and were about a tenth of the time of a batch. Cycles made
    meanwhile are collected once it runs again. If the collector was already paused (a
    printout built inside another), it stays paused."""
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()
