"""Flowables the PDFs need beyond reportlab's own: right-to-left paragraphs, tick boxes,
QR codes, and one text factory that picks the right paragraph for any script.

:class:`RtlParagraph` breaks a right-to-left text into lines in *logical* order first
and only then puts each line into visual order, so the first words of the text stand on
the first line at the right edge (reordering a whole paragraph before breaking it would
put them on the last line).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import qrcode
from reportlab.lib.colors import Color, black
from reportlab.lib.rl_accel import escapePDF, fp_str
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas
from reportlab.pdfgen.textobject import PDFTextObject
from reportlab.platypus import Flowable, Paragraph

from intake_app.pdf import fonts

#: Plain text that one font draws and a ``Paragraph`` breaks only at spaces (no no-break
#: space, no soft hyphen, no other white space): :class:`TextLine` breaks it itself.
_PLAIN = re.compile(
    "[\u0020-\u007e\u00a1-\u00ac\u00ae-\u024f\u0400-\u04ff"
    "\u2013\u2014\u2018-\u201e\u2022\u2026\u20ac]*"
)

#: Long texts are cut into paragraphs of about this many characters (at a space where
#: possible), so that a very long answer flows over many pages in linear time.
CHUNK = 2000


def _is_bold(style: ParagraphStyle) -> bool:
    return style.fontName in (fonts.LATIN_BOLD, fonts.ARABIC_BOLD)


@lru_cache(maxsize=1024)
def _rtl_lines(
    text: str, size: float, bold: bool, width: float
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Greedy line breaking of right-to-left text on logical words (shaping does not
    cross spaces); returns the logical lines and the same lines in visual order.

    Made once per text, size and width: the consent texts in Arabic and Dari/Farsi are
    the same on every record's sheet, and resolving their directions is the slow part."""
    space = fonts.text_width(" ", size, bold=bold)

    def word_width(word: str) -> float:
        return fonts.text_width(fonts.visual(word, rtl=True), size, bold=bold)

    lines: list[str] = []
    shown: list[str] = []
    for hard in text.split("\n"):
        words = hard.split()
        if not words:
            lines.append("")
            shown.append("")
            continue
        paragraph: list[str] = []
        current: list[str] = []
        used = 0.0
        for word in words:
            measured = word_width(word)
            while measured > width and len(word) > 1:  # a word wider than the column
                cut = max(1, int(len(word) * width / measured) - 1)
                if current:
                    paragraph.append(" ".join(current))
                    current, used = [], 0.0
                paragraph.append(word[:cut])
                word = word[cut:]
                measured = word_width(word)
            extra = measured if not current else used + space + measured
            if current and extra > width:
                paragraph.append(" ".join(current))
                current, used = [word], measured
            else:
                current.append(word)
                used = extra
        paragraph.append(" ".join(current))
        lines.extend(paragraph)
        shown.extend(fonts.visual_lines(paragraph, rtl=True))
    return tuple(lines), tuple(shown)


class RtlParagraph(Flowable):  # type: ignore[misc]
    """A right-to-left paragraph (Arabic, Dari/Farsi), shaped, wrapped and split.

    Args:
        text: the text in logical order (as typed); line breaks are kept.
        style: size, leading and colour (``fontName`` bold or not).
        align: ``"right"`` (the normal for RTL text), ``"left"``, or ``"auto"``: left when
            the text fits on one line (a name in a table), right otherwise.
    """

    def __init__(
        self,
        text: str,
        style: ParagraphStyle,
        *,
        align: str = "right",
        lines: tuple[list[str], list[str]] | None = None,
        lines_width: float | None = None,
    ) -> None:
        super().__init__()
        self.text = text
        self.style = style
        self.align = align
        self._lines: list[str] | None = lines[0] if lines else None
        self._shown: list[str] = lines[1] if lines else []
        self._lines_width = lines_width
        self._avail = 0.0

    def _break(self, width: float) -> tuple[list[str], list[str]]:
        """The logical lines and the same lines in visual order (see :func:`_rtl_lines`)."""
        lines, shown = _rtl_lines(self.text, self.style.fontSize, _is_bold(self.style), width)
        return list(lines), list(shown)

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        if self._lines is None or self._lines_width != availWidth:
            self._lines, self._shown = self._break(availWidth)
            self._lines_width = availWidth
        self._avail = availWidth
        self.width = availWidth
        self.height = len(self._lines) * self.style.leading
        return self.width, self.height

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:
        self.wrap(availWidth, availHeight)
        assert self._lines is not None
        fit = int((availHeight + 1e-6) // self.style.leading)
        if fit >= len(self._lines):
            return [self]
        if fit <= 0:
            return []
        lines, shown = self._lines, self._shown
        return [
            RtlParagraph(
                "\n".join(lines[:fit]),
                self.style,
                align=self.align,
                lines=(lines[:fit], shown[:fit]),
                lines_width=availWidth,
            ),
            RtlParagraph(
                "\n".join(lines[fit:]),
                self.style,
                align=self.align,
                lines=(lines[fit:], shown[fit:]),
                lines_width=availWidth,
            ),
        ]

    def draw(self) -> None:
        assert self._lines is not None
        canv: Canvas = self.canv
        style = self.style
        bold = _is_bold(style)
        size = style.fontSize
        align = self.align
        if align == "auto":
            align = "left" if len(self._lines) <= 1 else "right"
        canv.setFillColor(style.textColor)
        for index, shown in enumerate(self._shown):
            runs = fonts.font_runs(shown, bold=bold)
            total = fonts.text_width(shown, size, bold=bold)
            x = self._avail - total if align == "right" else 0.0
            baseline = self.height - (index + 1) * style.leading + 0.3 * size
            text = canv.beginText(x, baseline)
            for font, run in runs:
                text.setFont(font, size)
                text.textOut(run)
            canv.drawText(text)


def chunks(text: str, size: int = CHUNK) -> list[str]:
    """Cut ``text`` into pieces of at most about ``size`` characters, at line breaks and
    spaces where possible (a long answer becomes many short paragraphs)."""
    pieces: list[str] = []
    for line in text.split("\n"):
        while len(line) > size:
            cut = line.rfind(" ", size // 2, size)
            if cut <= 0:
                cut = size
            pieces.append(line[:cut])
            line = line[cut:].lstrip(" ")
        pieces.append(line)
    return pieces


class TextLine(Flowable):  # type: ignore[misc]
    """Left-to-right text that is drawn directly when it fits on one line, and becomes a
    reportlab ``Paragraph`` only when it must wrap.

    Most answers are short ("Ja", a date, a country); drawing them without the
    paragraph machinery makes a summary several times faster. The result looks the same:
    same font, size, colour and first baseline.

    Args:
        like_paragraph: the baseline one font size below the top, where a reportlab
            ``Paragraph`` puts it (headings that used to be paragraphs); otherwise the
            font's ascent below the top (table cells).
    """

    def __init__(
        self, text: str, style: ParagraphStyle, *, bold: bool = False, like_paragraph: bool = False
    ) -> None:
        super().__init__()
        self.text = text
        self.style = style
        self.bold = bold or _is_bold(style)
        self.like_paragraph = like_paragraph
        self._para: Paragraph | None = None
        self._shown: str | None = None
        self._fits_width = -1.0
        #: the lines of a text that wraps, broken here: (room left, line)
        self._broken: list[tuple[float, str]] | None = None

    def _paragraph(self) -> Paragraph:
        if self._para is None:
            body = "<br/>".join(fonts.markup(line) for line in self.text.split("\n"))
            if self.bold and not _is_bold(self.style):
                body = f"<b>{body}</b>"
            self._para = Paragraph(body, self.style)
        return self._para

    def _fits(self, width: float) -> bool:
        if self._para is not None or "\n" in self.text:
            return False
        if self._shown is None:
            self._shown = fonts.visual(self.text, rtl=False)
            self._fits_width = fonts.text_width(self._shown, self.style.fontSize, bold=self.bold)
        return self._fits_width <= width

    def _break(self, width: float) -> list[tuple[float, str]] | None:
        """Lines as a reportlab ``Paragraph`` breaks them (greedy, spaces may shrink by
        ``style.spaceShrinkage``), for plain text in one font; None for anything else
        (several fonts or directions, a word wider than the column, hyphenation)."""
        style = self.style
        if (
            self._para is not None
            or style.hyphenationLang
            or style.fontName not in (fonts.LATIN, fonts.LATIN_BOLD)
            or _PLAIN.fullmatch(self.text) is None
        ):
            return None
        size = style.fontSize
        space = fonts.text_width(" ", size, bold=self.bold)
        shrink = style.spaceShrinkage * space
        lines: list[tuple[float, str]] = []
        words: list[str] = []
        used = -space
        for word in self.text.split():
            word_width = fonts.text_width(word, size, bold=self.bold)
            wider = used + space + word_width
            if wider > width + shrink * len(words):
                if word_width > width:
                    return None
                if words:
                    lines.append((width - used, " ".join(words)))
                    words, used = [word], word_width
                    continue
            words.append(word)
            used = wider
        if words:
            lines.append((width - used, " ".join(words)))
        return lines

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        self._broken = None
        if self._fits(availWidth):
            self.width, self.height = availWidth, self.style.leading
            return self.width, self.height
        broken = self._break(availWidth)
        if broken:
            self._broken = broken
            self.width, self.height = availWidth, len(broken) * self.style.leading
            return self.width, self.height
        self.width, self.height = self._paragraph().wrap(availWidth, availHeight)
        return self.width, self.height

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:
        if self._fits(availWidth):
            return [self] if availHeight >= self.style.leading else []
        # only a text that does not fit the rest of the page comes here: reportlab's
        # paragraph splits it
        paragraph = self._paragraph()
        paragraph.wrap(availWidth, availHeight)
        return list(paragraph.split(availWidth, availHeight))

    def getSpaceBefore(self) -> float:
        return float(self.style.spaceBefore)

    def getSpaceAfter(self) -> float:
        return float(self.style.spaceAfter)

    @property
    def direct(self) -> bool:
        """Whether the text, as last wrapped, is drawn as one line (not a paragraph)."""
        return self._para is None and self._shown is not None

    def _runs(self) -> tuple[list[tuple[str, str]], float]:
        """The font runs of the line and the baseline's distance below the top."""
        assert self._shown is not None
        size = self.style.fontSize
        runs = fonts.font_runs(self._shown, bold=self.bold)
        if self.like_paragraph:
            return runs, size
        ascent = max((_ascent(font, size) for font, _run in runs), default=size)
        return runs, ascent

    def write(self, writer: LineWriter, x: float, y: float) -> None:
        """Add the text, wrapped at its lower left corner ``(x, y)``, to a text object
        shared with other lines (a table's cells); only when :attr:`direct`."""
        style = self.style
        size = style.fontSize
        if self._broken is not None:
            # as a paragraph sets it: first baseline one font size below the top, spaces
            # of a line that uses the allowed shrinkage narrowed evenly
            font = fonts.LATIN_BOLD if self.bold else fonts.LATIN
            top = y + self.height - size
            for index, (room, line) in enumerate(self._broken):
                spaces = line.count(" ")
                squeeze = room / spaces if room < -1e-8 and spaces else 0.0
                writer.line(
                    x, top - index * style.leading, [(font, line)], size, style.textColor, squeeze
                )
            return
        runs, ascent = self._runs()
        writer.line(x, y + self.height - ascent, runs, size, style.textColor)

    def draw(self) -> None:
        if self._para is not None and self._broken is None:
            self._para.drawOn(self.canv, 0, 0)
            return
        writer = LineWriter(self.canv)
        self.write(writer, 0, 0)
        writer.flush()


@lru_cache(maxsize=256)
def _ascent(font: str, size: float) -> float:
    return float(pdfmetrics.getAscentDescent(font, size)[0])


_FILLS: dict[tuple[float, float, float], str] = {}


def _fill(color: Color) -> str:
    """The fill colour operator for an RGB colour, as reportlab writes it (made once per
    colour: labels and values alternate their colour on every row)."""
    rgb = (color.red, color.green, color.blue)
    op = _FILLS.get(rgb)
    if op is None:
        op = _FILLS[rgb] = f"{fp_str(rgb)} rg"
    return op


@lru_cache(maxsize=64)
def _font_size_ops(size: float) -> str:
    """What reportlab writes after a subset's name when a text object changes font:
    the size and the default leading (1.2 times the size) of ``setFont``."""
    return f"{fp_str(size)} Tf {fp_str(size * 1.2)} TL"


class _Shown:
    """Per document (kept on the canvas): each text in each font as the subset runs and
    text operators reportlab writes for it, and the operators that select a subset at a
    size.

    A label, a heading, "Ja" or a country comes back on every page and record; its
    letters keep their codes for the whole document, so its operators are made once."""

    __slots__ = ("names", "runs")

    def __init__(self) -> None:
        #: font -> text -> ``(subset, text operator)`` runs
        self.runs: dict[str, dict[str, tuple[tuple[int, str], ...]]] = {}
        self.names: dict[tuple[str, int, float], str] = {}


def _shown(canv: Canvas) -> _Shown:
    known: _Shown | None = getattr(canv, "intake_shown", None)
    if known is None or getattr(canv, "intake_shown_doc", None) is not canv._doc:
        known = canv.intake_shown = _Shown()
        canv.intake_shown_doc = canv._doc
    return known


class LineWriter:
    """Sets lines of text into one shared text object: a table's cells (see
    :mod:`grid`) or the lines of one :class:`TextLine`.

    Font and colour are written only when they change, and the text operators of each
    text come from a per-document table (:class:`_Shown`), so the output is what
    reportlab's ``setFont`` and ``textOut`` write, without redoing that work per line.
    """

    __slots__ = ("canv", "color", "font", "shown", "size", "subset", "text")

    def __init__(self, canv: Canvas) -> None:
        self.canv = canv
        self.text: PDFTextObject | None = None
        self.font = ""
        self.size = 0.0
        self.subset = -1
        self.color: Color | None = None
        self.shown = _shown(canv)

    def flush(self) -> None:
        """Put the lines written so far on the canvas."""
        if self.text is not None:
            self.canv.drawText(self.text)
            self.text = None

    def line(
        self,
        x: float,
        y: float,
        runs: list[tuple[str, str]],
        size: float,
        color: Color,
        word_space: float = 0.0,
    ) -> None:
        """One line whose baseline starts at ``(x, y)``: ``runs`` of ``(font, text)``."""
        text = self.text
        start = text is None
        if text is None:
            # the colour set before the text object, which starts at the line's origin
            if type(color) is Color:
                self.canv._code.append(_fill(color))  # what canv.setFillColor(color) writes
                self.canv._fillColorObj = color
            else:
                self.canv.setFillColor(color)
            text = self.text = self.canv.beginText(x, y)
            self.font, self.size, self.color = "", 0.0, color
        code = text._code
        if color is not self.color:
            if type(color) is Color:
                code.append(_fill(color))  # what text.setFillColor(color) writes
            else:
                text.setFillColor(color)
            self.color = color
        if not start:
            if self.canv.bottomup:
                code.append(f"1 0 0 1 {fp_str(x, y)} Tm")  # what text.setTextOrigin writes
            else:
                text.setTextOrigin(x, y)
        if word_space:
            text.setWordSpace(word_space)
        for font, run in runs:
            if font != self.font or size != self.size:
                text.setFont(font, size)
                self.font, self.size, self.subset = font, size, -1
            self._out(text, font, run, size)
        if word_space:
            text.setWordSpace(0)

    def _out(self, text: PDFTextObject, font: str, run: str, size: float) -> None:
        """``text.textOut(run)`` in an embedded font, from the per-document table."""
        shown = self.shown
        table = shown.runs.get(font)
        if table is None:
            table = shown.runs[font] = {}
        ops = table.get(run)
        if ops is None:
            face = pdfmetrics.getFont(font)
            if not face._dynamicFont:
                text.textOut(run)
                return
            doc = self.canv._doc
            if isinstance(face, fonts.ReadableTTFont):
                split = face.splitString(run, doc, remember=False)  # kept here instead
            else:
                split = face.splitString(run, doc)
            ops = table[run] = tuple((sub, f"({escapePDF(chunk)}) Tj") for sub, chunk in split)
        code = text._code
        for subset, op in ops:
            if subset != self.subset:
                select = shown.names.get((font, subset, size))
                if select is None:
                    name = pdfmetrics.getFont(font).getSubsetInternalName(subset, self.canv._doc)
                    select = shown.names[(font, subset, size)] = f"{name} {_font_size_ops(size)}"
                code.append(select)
                self.subset = subset
            code.append(op)


def text_flowable(
    text: str,
    style: ParagraphStyle,
    *,
    rtl_style: ParagraphStyle | None = None,
    align: str = "auto",
    bold: bool = False,
) -> Flowable:
    """A paragraph for ``text`` in any script: RTL-first text as :class:`RtlParagraph`,
    everything else as a :class:`TextLine` (a ``Paragraph`` when it wraps)."""
    if fonts.has_rtl(text) and fonts.base_direction(text) == "R":
        return RtlParagraph(text, rtl_style or style, align=align)
    return TextLine(text, style, bold=bold)


def text_flowables(
    text: str,
    style: ParagraphStyle,
    *,
    rtl_style: ParagraphStyle | None = None,
    align: str = "auto",
) -> list[Flowable]:
    """Like :func:`text_flowable`, but a long text becomes several paragraphs."""
    if len(text) <= CHUNK:
        return [text_flowable(text, style, rtl_style=rtl_style, align=align)]
    return [
        text_flowable(piece or " ", style, rtl_style=rtl_style, align=align)
        for piece in chunks(text)
    ]


def _split_column(
    flowables: Sequence[Flowable], width: float, height: float
) -> tuple[list[Flowable], list[Flowable]]:
    """What of a column fits into ``height`` (splitting the flowable that crosses it)."""
    taken: list[Flowable] = []
    used = 0.0
    for index, flowable in enumerate(flowables):
        _w, h = flowable.wrap(width, height - used)
        if used + h <= height + 1e-6:
            taken.append(flowable)
            used += h
            continue
        parts = flowable.split(width, height - used)
        if len(parts) > 1:
            parts[0].wrap(width, height - used)
            return [*taken, parts[0]], [*parts[1:], *flowables[index + 1 :]]
        return taken, list(flowables[index:])
    return taken, []


class SideBySide(Flowable):  # type: ignore[misc]
    """Columns of flowables next to each other (German beside the client's language),
    split over pages together: each page shows the same part of the text in both.

    Args:
        columns: the flowables of each column.
        widths: the width of each column; ``gap`` lies between them, with a rule.
        keep: blocks up to this height move to the next page whole instead of splitting.
    """

    def __init__(
        self,
        columns: Sequence[Sequence[Flowable]],
        widths: Sequence[float],
        *,
        gap: float = 14.0,
        rule: Color | None = None,
        fill: Color | None = None,
        padding: float = 3.0,
        keep: float = 180.0,
    ) -> None:
        super().__init__()
        self.columns = [list(column) for column in columns]
        self.widths = list(widths)
        self.gap = gap
        self.rule = rule
        self.fill = fill
        self.padding = padding
        self.keep = keep
        self._heights: list[float] = []

    def _inner(self, column: int) -> float:
        return self.widths[column] - (2 * self.padding if self.fill is not None else 0)

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        self._heights = []
        for index, column in enumerate(self.columns):
            width = self._inner(index)
            self._heights.append(sum(f.wrap(width, 1e9)[1] for f in column))
        self.width = sum(self.widths) + self.gap * (len(self.widths) - 1)
        self.height = max(self._heights, default=0.0) + 2 * self.padding
        return self.width, self.height

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:
        room = availHeight - 2 * self.padding
        if room <= 0 or (self.height <= self.keep and self.height > availHeight):
            return []  # a short block moves to the next page whole
        first: list[list[Flowable]] = []
        rest: list[list[Flowable]] = []
        for index, column in enumerate(self.columns):
            head, tail = _split_column(column, self._inner(index), room)
            first.append(head)
            rest.append(tail)
        if not any(first):
            return []
        if not any(rest):
            return [self]
        return [self._like(first), self._like(rest)]

    def _like(self, columns: list[list[Flowable]]) -> SideBySide:
        return SideBySide(
            columns,
            self.widths,
            gap=self.gap,
            rule=self.rule,
            fill=self.fill,
            padding=self.padding,
            keep=self.keep,
        )

    def draw(self) -> None:
        canv: Canvas = self.canv
        if self.fill is not None:
            canv.saveState()
            canv.setFillColor(self.fill)
            canv.rect(0, 0, self.width, self.height, stroke=0, fill=1)
            canv.restoreState()
        x = 0.0
        for index, column in enumerate(self.columns):
            inset = self.padding if self.fill is not None else 0.0
            y = self.height - self.padding
            for flowable in column:
                _w, h = flowable.wrap(self._inner(index), 1e9)
                y -= h
                flowable.drawOn(canv, x + inset, y)
            x += self.widths[index]
            if index < len(self.columns) - 1:
                if self.rule is not None:
                    canv.saveState()
                    canv.setStrokeColor(self.rule)
                    canv.setLineWidth(0.4)
                    mid = x + self.gap / 2
                    canv.line(mid, 0, mid, self.height)
                    canv.restoreState()
                x += self.gap


class TickBox(Flowable):  # type: ignore[misc]
    """A square check box, ticked or empty (fonts have no reliable ballot-box glyph)."""

    def __init__(self, checked: bool, *, size: float = 9.0, color: Color = black) -> None:
        super().__init__()
        self.checked = checked
        self.size = size
        self.color = color
        self.width = self.height = size

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        return self.size, self.size

    def draw(self) -> None:
        draw_tick_box(self.canv, 0, 0, self.size, checked=self.checked, color=self.color)


def draw_tick_box(
    canv: Canvas, x: float, y: float, size: float, *, checked: bool, color: Color = black
) -> None:
    """Draw a box at ``(x, y)`` (lower left), with a cross when ``checked``."""
    canv.saveState()
    canv.setStrokeColor(color)
    canv.setLineWidth(0.8)
    canv.rect(x, y, size, size, stroke=1, fill=0)
    if checked:
        inset = size * 0.2
        canv.setLineWidth(1.2)
        canv.line(x + inset, y + inset, x + size - inset, y + size - inset)
        canv.line(x + inset, y + size - inset, x + size - inset, y + inset)
    canv.restoreState()


#: The mask of every QR code. Any of the eight masks is valid and every reader tries
#: them all; choosing the "best" one means laying the code out eight times and scoring
#: each in pure Python, which was most of the time of a record's footer (a batch draws a
#: new code per record).
QR_MASK = 2


@lru_cache(maxsize=512)
def qr_matrix(data: str) -> tuple[tuple[bool, ...], ...]:
    """The modules of a QR code for ``data`` (error correction M, no quiet zone)."""
    code = qrcode.QRCode(
        border=0, error_correction=qrcode.constants.ERROR_CORRECT_M, mask_pattern=QR_MASK
    )
    code.add_data(data)
    code.make(fit=True)
    return tuple(tuple(bool(cell) for cell in row) for row in code.get_matrix())


def draw_qr(canv: Canvas, data: str, *, x: float, y: float, size: float) -> None:
    """Draw a QR code of ``data`` with its lower left corner at ``(x, y)``.

    Dark modules of a row are merged into one rectangle (fewer drawing operations).
    """
    matrix = qr_matrix(data)
    count = len(matrix)
    cell = size / count
    canv.saveState()
    canv.setFillColor(black)
    path = canv.beginPath()
    for row_index, row in enumerate(matrix):
        top = y + size - (row_index + 1) * cell
        col = 0
        while col < count:
            if not row[col]:
                col += 1
                continue
            start = col
            while col < count and row[col]:
                col += 1
            path.rect(x + start * cell, top, (col - start) * cell, cell)
    canv.drawPath(path, stroke=0, fill=1)
    canv.restoreState()
