"""A light table for the printouts: cells at fixed column widths, drawn straight onto
the canvas.

The summary's tables are simple: fixed column widths, cells aligned at the top, thin
rules below the rows, an optional box, background fills per cell, a heading row that
repeats on the next page, and rows whose first cell runs across the whole width.
reportlab's ``Table`` can do far more and pays for it on every cell and every page (it
recomputes all row heights at each wrap and split, and draws every cell in its own
graphics state); it was the largest part of the time of a summary.

:class:`Grid` lays out the same way as ``Table`` with the same commands (heights, padding,
the place of every cell's first line, the rules and fills), so the page looks the same.
Its row heights are computed once (the column widths are fixed), one-line texts of all
cells are set in one text object, and a table taller than the room left on a page is
split between rows, its heading rows repeated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

from reportlab.lib.colors import Color
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable

from intake_app.reports.flowables import LineWriter, TextLine

#: The height of an empty cell: reportlab's ``Table`` gives an empty string one line of
#: the table's font (8.5 pt, leading 1.2), so rows keep the height they had.
EMPTY_CELL = 8.5 * 1.2

Cell: TypeAlias = "Flowable | Sequence[Flowable] | str | None"


@dataclass(slots=True)
class _Row:
    cells: list[tuple[Flowable, ...]]
    wide: bool = False
    fills: list[tuple[int, int, Color]] = field(default_factory=list)
    height: float = -1.0
    #: the height of each flowable of each cell, once wrapped
    sizes: list[list[float]] = field(default_factory=list)


def _flowables(cell: Cell) -> tuple[Flowable, ...]:
    if cell is None or isinstance(cell, str):
        return ()
    if isinstance(cell, Flowable):
        return (cell,)
    return tuple(cell)


@dataclass(frozen=True, slots=True)
class GridStyle:
    """Padding, rules and fills of a :class:`Grid` (the same for all its cells).

    Attributes:
        padding: left, right, top and bottom padding of every cell.
        rule: width and colour of the rule below each row (None: no rules).
        rule_last: whether the last row has a rule too.
        box: width and colour of a frame around the whole table (None: no frame).
        background: a fill behind every cell.
        header_fill: a fill behind the first row.
        repeat: heading rows repeated at the top of each page the table runs onto.
    """

    padding: tuple[float, float, float, float] = (3.0, 3.0, 2.2, 2.6)
    rule: tuple[float, Color] | None = None
    rule_last: bool = True
    box: tuple[float, Color] | None = None
    background: Color | None = None
    header_fill: Color | None = None
    repeat: int = 0


class Grid(Flowable):  # type: ignore[misc]
    """A table of flowables at fixed column widths (see the module docstring).

    Args:
        rows: the cells of each row: a flowable, a list of flowables, or ``""``.
        widths: the width of each column.
        style: padding, rules and fills.
        wide: rows whose first cell spans all columns (their other cells are ignored).
        fills: ``(row, first column, last column, colour)`` backgrounds, drawn in order
            above the style's own.
    """

    def __init__(
        self,
        rows: Sequence[Sequence[Cell]],
        widths: Sequence[float],
        style: GridStyle,
        *,
        wide: Sequence[int] = (),
        fills: Sequence[tuple[int, int, int, Color]] = (),
        _rows: list[_Row] | None = None,
        _open: tuple[bool, bool] = (False, False),
    ) -> None:
        super().__init__()
        self.widths = list(widths)
        self.style = style
        #: continued from the page before, continued on the next page
        self.open_top, self.open_bottom = _open
        if _rows is not None:
            self.rows = _rows
        else:
            wide_rows = set(wide)
            self.rows = [
                _Row([_flowables(cell) for cell in row], wide=index in wide_rows)
                for index, row in enumerate(rows)
            ]
            for row, first, last, color in fills:
                self.rows[row].fills.append((first, last, color))
        self.positions = [0.0]
        for width in self.widths:
            self.positions.append(self.positions[-1] + width)
        self.width = self.positions[-1]
        self.height = 0.0

    # -- layout --------------------------------------------------------------------------

    def _cell_width(self, row: _Row, column: int) -> float:
        left, right, _top, _bottom = self.style.padding
        width = self.width if row.wide else self.widths[column]
        return width - left - right

    def _row_height(self, row: _Row) -> float:
        if row.height >= 0:
            return row.height
        _left, _right, top, bottom = self.style.padding
        canv = getattr(self, "canv", None)
        tallest = 0.0
        cells = row.cells[:1] if row.wide else row.cells
        row.sizes = []
        for column, cell in enumerate(cells):
            sizes: list[float] = []
            row.sizes.append(sizes)
            if not cell:
                tallest = max(tallest, EMPTY_CELL)
                continue
            width = self._cell_width(row, column)
            total = 0.0
            for flowable in cell:
                if type(flowable) is TextLine:  # needs no canvas to measure
                    _w, h = flowable.wrap(width, 72000)
                else:
                    _w, h = flowable.wrapOn(canv, width, 72000)
                sizes.append(h)
                total += h + flowable.getSpaceBefore() + flowable.getSpaceAfter()
            total -= cell[0].getSpaceBefore() + cell[-1].getSpaceAfter()
            tallest = max(tallest, total)
        row.height = tallest + top + bottom
        return row.height

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        self.height = sum(self._row_height(row) for row in self.rows)
        return self.width, self.height

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:
        """Between rows, as reportlab's ``Table``: nothing when no row beyond the
        heading fits, the heading rows again at the top of the rest."""
        used = 0.0
        fit = 0
        for row in self.rows:
            height = self._row_height(row)
            if used + height > availHeight:
                break
            used += height
            fit += 1
        repeat = self.style.repeat
        if fit <= repeat:
            return []
        if fit == len(self.rows):
            return [self]
        first = Grid(
            (), self.widths, self.style, _rows=self.rows[:fit], _open=(self.open_top, True)
        )
        rest = Grid(
            (),
            self.widths,
            self.style,
            _rows=[*self.rows[:repeat], *self.rows[fit:]],
            _open=(True, self.open_bottom),
        )
        return [first, rest]

    # -- drawing -------------------------------------------------------------------------

    def draw(self) -> None:
        canv: Canvas = self.canv
        style = self.style
        left, _right, top, _bottom = style.padding
        heights = [self._row_height(row) for row in self.rows]
        tops = [self.height]
        for height in heights:
            tops.append(tops[-1] - height)
        canv.saveState()
        # backgrounds: the whole table, the heading row, then each cell's fill
        if style.background is not None:
            canv.setFillColor(style.background)
            canv.rect(0, 0, self.width, self.height, stroke=0, fill=1)
        if style.header_fill is not None and self.rows:
            canv.setFillColor(style.header_fill)
            canv.rect(0, tops[1], self.width, heights[0], stroke=0, fill=1)
        for index, row in enumerate(self.rows):
            for first, last, color in row.fills:
                canv.setFillColor(color)
                x0 = self.positions[first]
                x1 = self.positions[min(last + 1, len(self.widths))]
                canv.rect(x0, tops[index + 1], x1 - x0, heights[index], stroke=0, fill=1)
        # cells: one-line texts into one text object, anything else drawn on its own
        # (which closes the text object first: the content keeps the reading order,
        # label before value, which is the order text extraction reads back)
        writer = LineWriter(canv)
        for index, row in enumerate(self.rows):
            cells = row.cells[:1] if row.wide else row.cells
            for column, cell in enumerate(cells):
                if not cell:
                    continue
                x = self.positions[column] + left
                y = tops[index] - top + cell[0].getSpaceBefore()
                for flowable, h in zip(cell, row.sizes[column], strict=True):
                    y -= flowable.getSpaceBefore() + h
                    if type(flowable) is TextLine and flowable.direct:
                        flowable.write(writer, x, y)
                    else:
                        writer.flush()
                        flowable.drawOn(canv, x, y)
                    y -= flowable.getSpaceAfter()
        writer.flush()
        # rules above everything, as reportlab draws them; where a table runs onto the
        # next page, the frame stays open at the break and the rule below the last row
        # of the page comes again above the first row of the next (as in reportlab)
        canv.setLineCap(1)
        if style.box is not None:
            canv.setLineWidth(style.box[0])
            canv.setStrokeColor(style.box[1])
            edges: list[tuple[float, float, float, float]] = [
                (0, self.height, 0, 0),
                (self.width, self.height, self.width, 0),
            ]
            if not self.open_top or style.repeat:
                edges.append((0, self.height, self.width, self.height))
            if not self.open_bottom:
                edges.append((0, 0, self.width, 0))
            canv.lines(edges)
        if style.rule is not None:
            count = len(self.rows) if style.rule_last else len(self.rows) - 1
            rules = [(0, y, self.width, y) for y in tops[1 : count + 1]]
            if self.open_top and len(self.rows) > style.repeat:
                rules.insert(0, (0, tops[style.repeat], self.width, tops[style.repeat]))
            if rules:
                canv.setLineWidth(style.rule[0])
                canv.setStrokeColor(style.rule[1])
                canv.lines(rules)
        canv.restoreState()
