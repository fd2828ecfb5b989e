"""The supervisor's overview: what needs action, each number opening its list, a chart;
and, on a second tab, the programme's outcome figures of the site's cases
(``figures/summary.py``, the office's own computation, small cells hidden).

Signals: ``list_requested(object)`` with a :class:`RecordQuery` for the case list;
``print_requested()``.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCharts import (
    QBarCategoryAxis,
    QBarSet,
    QChart,
    QChartView,
    QStackedBarSeries,
    QValueAxis,
)
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QMouseEvent, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from intake_app.app import Workspace
from intake_app.core.formats import format_timestamp
from intake_app.core.records import RecordStatus
from intake_app.figures.disclosure import MIN_COUNT
from intake_app.figures.sheet_text import legend, number
from intake_app.figures.summary import Block, Summary, build_summary
from intake_app.i18n import _, current_language, ngettext
from intake_app.storage.lifecycle import Overview
from intake_app.storage.records import RecordQuery
from intake_app.ui import style
from intake_app.ui.a11y import LiveLabel
from intake_app.ui.errors import show_error
from intake_app.ui.ops import Cancelled, CancelToken, Operation, run_op
from intake_app.ui.widgets import heading

MONTHS_SHOWN = 12


class NumberTile(QFrame):
    """A big number with its meaning; clicking it (or Enter/Space) opens the matching list.

    A frame with labels rather than a push button: the layout sizes it from the wrapped
    text, so it grows with larger fonts. Signals: ``clicked()``.
    """

    clicked = Signal()

    def __init__(self, label: str, *, warn: bool = False) -> None:
        super().__init__()
        self.setObjectName("tile")
        self.label = label
        self.warn = warn
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setAccessibleDescription(_("Öffnet die passende Liste"))
        self.setStyleSheet(
            "QFrame#tile { background: white; "
            f"border: 1px solid {style.BORDER}; border-radius: 10px; }}"
            f"QFrame#tile:hover {{ border: 2px solid {style.PRIMARY}; }}"
            f"QFrame#tile:focus {{ border: 2px solid {style.PRIMARY}; }}"
        )
        self.number = QLabel()
        self.number.setTextFormat(Qt.TextFormat.RichText)
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.detail = QLabel()
        self.detail.setObjectName("muted")
        self.detail.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 10, 14, 10)
        layout.setSpacing(2)
        for widget in (self.number, self.caption, self.detail):
            widget.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
            layout.addWidget(widget)
        self.set_value(0)

    def set_value(self, value: int, *, detail: str = "") -> None:
        colour = style.ACCENT if self.warn and value else style.TEXT
        size = round((self.font().pointSizeF() or 10) * 2.2)
        number = f"{value:,}".replace(",", ".")
        self.number.setText(
            f"<span style='font-size:{size}pt; font-weight:600; color:{colour}'>{number}</span>"
        )
        self.caption.setText(self.label)
        self.detail.setText(detail)
        self.detail.setVisible(bool(detail))
        self.setAccessibleName(f"{self.label}: {number}" + (f", {detail}" if detail else ""))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(
            event.position().toPoint()
        ):
            self.clicked.emit()
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.clicked.emit()
            return
        super().keyPressEvent(event)

    def click(self) -> None:
        """Act as if clicked (keyboard users, tests)."""
        self.clicked.emit()


class OverviewPage(QWidget):
    """Numbers, chart and print. Signals: ``list_requested(object)``, ``print_requested()``."""

    list_requested = Signal(object)
    print_requested = Signal()

    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        self.ws = workspace
        self.overview: Overview | None = None
        #: the count running in the background (None when none is)
        self.loading: Operation | None = None
        self.title = heading(_("Übersicht des Standorts"))
        self.generated = LiveLabel(role=_("Stand der Übersicht"))
        self.generated.setObjectName("muted")
        self.refresh_button = QPushButton(_("&Aktualisieren"))
        self.print_button = QPushButton(_("&Drucken …"))
        self.back_button = QPushButton(_("Zur Liste"))
        head = QHBoxLayout()
        titles = QVBoxLayout()
        titles.addWidget(self.title)
        titles.addWidget(self.generated)
        head.addLayout(titles, 1)
        head.addWidget(self.refresh_button)
        head.addWidget(self.print_button)
        head.addWidget(self.back_button)

        self.tiles = {
            "draft": NumberTile(_("Entwürfe")),
            "complete": NumberTile(_("Abgeschlossen, Fall läuft")),
            "closed": NumberTile(_("Fälle beendet")),
            "not_delivered": NumberTile(_("Noch nicht übermittelt"), warn=True),
            "open_referrals": NumberTile(_("Offene Vermittlungen"), warn=True),
            "expiring": NumberTile(
                _("Aufenthaltstitel abgelaufen oder in {n} Tagen ablaufend").format(
                    n=workspace.expiry_warning_days
                ),
                warn=True,
            ),
            "recognition_pending": NumberTile(_("Anerkennungsverfahren offen"), warn=True),
        }
        grid = QGridLayout()
        grid.setSpacing(12)
        for index, tile in enumerate(self.tiles.values()):
            grid.addWidget(tile, index // 4, index % 4)
        queries = {
            "draft": RecordQuery(status=RecordStatus.DRAFT.value),
            "complete": RecordQuery(status=RecordStatus.COMPLETE.value),
            "closed": RecordQuery(status=RecordStatus.CLOSED.value),
            "not_delivered": RecordQuery(special="not_delivered"),
            "open_referrals": RecordQuery(special="open_referrals"),
            "expiring": RecordQuery(expiring_only=True, sort="residence", descending=False),
            "recognition_pending": RecordQuery(special="recognition_pending"),
        }
        for key, tile in self.tiles.items():
            tile.clicked.connect(lambda q=queries[key]: self.list_requested.emit(q))

        self.chart = QChart()
        self.chart.setTitle(_("Aufnahmen je Monat"))
        self.chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        self.chart.setAnimationOptions(QChart.AnimationOption.NoAnimation)
        self.chart_view = QChartView(self.chart)
        self.chart_view.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.chart_view.setMinimumHeight(260)
        self.chart_view.setAccessibleName(_("Diagramm: Aufnahmen je Monat nach Status"))
        self.removed_label = QLabel()
        self.removed_label.setObjectName("muted")
        self.removed_label.setWordWrap(True)

        self.outcomes: Summary | None = None
        self.outcome_view = OutcomeView()
        work = QWidget()
        work_layout = QVBoxLayout(work)
        work_layout.setContentsMargins(0, 6, 0, 0)
        work_layout.addLayout(grid)
        work_layout.addWidget(self.chart_view, 1)
        work_layout.addWidget(self.removed_label)
        self.tabs = QTabWidget()
        self.tabs.addTab(work, _("Arbeits&stand"))
        self.tabs.addTab(self.outcome_view, _("&Ergebnisse"))
        self.tabs.setAccessibleName(_("Übersicht: Arbeitsstand und Ergebnisse"))

        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addWidget(self.tabs, 1)
        self.refresh_button.clicked.connect(self.refresh)
        self.print_button.clicked.connect(self.print_requested)
        self.print_button.setEnabled(False)  # until the first count is there
        self.refresh()

    def refresh(self) -> Operation | None:
        """Count again through the background helper (the overview reads every record of
        the site; docs/architecture.md, "Background work"); the numbers change when the
        count is done. None while a count is running already."""
        if self.loading is not None:
            return None
        lifecycle = self.ws.lifecycle
        self.refresh_button.setEnabled(False)
        self.generated.setText(_("Die Übersicht wird berechnet …"))

        def work(_token: CancelToken) -> tuple[Overview, Summary]:
            # the outcome figures too: the office's computation over the site's cases
            outcomes = build_summary(lifecycle.outcome_facts(), min_count=MIN_COUNT)
            return lifecycle.overview(), outcomes

        def done(result: tuple[Overview, Summary]) -> None:
            if shiboken6.isValid(self):
                self.loading = None
                self.refresh_button.setEnabled(True)
                self.show_overview(*result)

        def failed(exc: BaseException) -> None:
            if not shiboken6.isValid(self):
                return
            self.loading = None
            self.refresh_button.setEnabled(True)
            if isinstance(exc, Cancelled):
                self.generated.setText(_("Nicht aktualisiert."))
            else:
                self.generated.setText(str(exc))
                show_error(self, exc)

        self.loading = run_op(
            None,
            work,
            on_success=done,
            on_failure=failed,
            label=_("Übersicht berechnen"),
            progress=self,
            progress_text=_("Die Übersicht wird berechnet …"),
        )
        return self.loading

    def show_overview(self, overview: Overview, outcomes: Summary | None = None) -> None:
        """Show the numbers and the chart of ``overview`` and the ``outcomes`` (GUI
        thread)."""
        self.overview = overview
        self.print_button.setEnabled(True)
        self.generated.setText(
            _("Stand: {when}").format(
                when=format_timestamp(overview.generated_at, current_language())
            )
        )
        for status in ("draft", "complete", "closed"):
            self.tiles[status].set_value(overview.by_status.get(status, 0))
        self.tiles["not_delivered"].set_value(overview.not_delivered)
        records = overview.records_with_open_referrals
        self.tiles["open_referrals"].set_value(
            overview.open_referrals,
            detail=ngettext("in {n} Akte", "in {n} Akten", records).format(n=records)
            if records
            else "",
        )
        self.tiles["expiring"].set_value(overview.expiring_permits)
        self.tiles["recognition_pending"].set_value(overview.recognition_pending)
        removed = overview.removed_for_statistics
        self.removed_label.setText(
            ngettext(
                "Nach Ablauf der Aufbewahrung oder auf Antrag gelöscht: {n} Akte; für die "
                "Statistik bleibt nur ein anonymer Eintrag.",
                "Nach Ablauf der Aufbewahrung oder auf Antrag gelöscht: {n} Akten; für die "
                "Statistik bleibt nur ein anonymer Eintrag.",
                removed,
            ).format(n=removed)
        )
        self._fill_chart(overview)
        if outcomes is not None:
            self.outcomes = outcomes
            self.outcome_view.show_summary(outcomes)

    def _fill_chart(self, overview: Overview) -> None:
        self.chart.removeAllSeries()
        for axis in self.chart.axes():
            self.chart.removeAxis(axis)
        months = consecutive_months(overview.by_month)[-MONTHS_SHOWN:]
        series = QStackedBarSeries()
        colours = {"draft": "#8fb3bf", "complete": style.PRIMARY, "closed": style.MUTED}
        for status in ("draft", "complete", "closed"):
            bar = QBarSet(RecordStatus(status).label)
            bar.setColor(QColor(colours[status]))
            for _month, counts in months:
                bar.append(counts.get(status, 0))
            series.append(bar)
        self.chart.addSeries(series)
        axis_x = QBarCategoryAxis()
        axis_x.append([_month_label(month) for month, _counts in months])
        self.chart.addAxis(axis_x, Qt.AlignmentFlag.AlignBottom)
        series.attachAxis(axis_x)
        axis_y = QValueAxis()
        axis_y.setLabelFormat("%d")
        top = max((sum(c.values()) for _m, c in months), default=1)
        step, ticks = whole_number_ticks(top)
        axis_y.setRange(0, step * (ticks - 1))
        axis_y.setTickCount(ticks)
        self.chart.addAxis(axis_y, Qt.AlignmentFlag.AlignLeft)
        series.attachAxis(axis_y)


class OutcomeView(QScrollArea):
    """The outcome figures: one small read-only table per block, two side by side, the
    legend of ``<5`` and ``x`` above them."""

    def __init__(self) -> None:
        super().__init__()
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.tables: dict[str, QTableWidget] = {}
        self.legend = QLabel()
        self.legend.setObjectName("muted")
        self.legend.setWordWrap(True)
        inner = QWidget()
        self.grid = QGridLayout(inner)
        self.grid.setSpacing(14)
        self.grid.addWidget(self.legend, 0, 0, 1, 2)
        self.setWidget(inner)

    def show_summary(self, summary: Summary) -> None:
        lang = current_language()
        self.legend.setText(legend(_, summary.min_count))
        row, column = 1, 0
        for block in summary.blocks:
            table = self.tables.get(block.key)
            wide = block.key == "referrals"  # the table of referrals takes a whole row
            if wide and column:
                row, column = row + 1, 0
            if table is None:
                table = _block_table()
                self.tables[block.key] = table
                box = QWidget()
                box_layout = QVBoxLayout(box)
                box_layout.setContentsMargins(0, 0, 0, 0)
                title = QLabel(f"<b>{_(block.title)}</b>")
                title.setBuddy(table)
                box_layout.addWidget(title)
                box_layout.addWidget(table)
                box_layout.addStretch(1)
                self.grid.addWidget(box, row, column, 1, 2 if wide else 1)
            if wide:
                row += 1
            else:
                row, column = (row + 1, 0) if column else (row, 1)
            _fill_table(table, block, lang)


def _block_table() -> QTableWidget:
    table = QTableWidget()
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    table.verticalHeader().setVisible(False)
    table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
    table.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    table.setAlternatingRowColors(True)
    return table


def _fill_table(table: QTableWidget, block: Block, lang: str) -> None:
    table.setAccessibleName(_(block.title))
    table.setColumnCount(len(block.header))
    table.setRowCount(len(block.rows))
    table.setHorizontalHeaderLabels([_(h) if h else "" for h in block.header])
    for row_index, row in enumerate(block.rows):
        label = QTableWidgetItem(_(row.label) if row.label else "")
        font = label.font()
        font.setBold(row.total)
        label.setFont(font)
        table.setItem(row_index, 0, label)
        for column, cell in enumerate(row.cells, start=1):
            item = QTableWidgetItem(number(cell, lang))
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            item.setFont(font)
            table.setItem(row_index, column, item)
    header = table.horizontalHeader()
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    for column in range(1, len(block.header)):
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
    table.resizeRowsToContents()
    height = header.height() + sum(table.rowHeight(r) for r in range(table.rowCount()))
    table.setFixedHeight(height + 2 * table.frameWidth() + 2)


def whole_number_ticks(top: int, most: int = 6) -> tuple[int, int]:
    """A step (1, 2, 5, 10, 20, 50 …) and a tick count so that every tick of an axis from
    0 to at least ``top`` is a whole number of intakes: the labels read what the bars show
    (with "%d" labels, ticks at 1.4, 2.8 … would be printed as 1, 2 …)."""
    top = max(1, top)
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            step = factor * magnitude
            ticks = -(-top // step) + 1
            if ticks <= most:
                return step, ticks
        magnitude *= 10


def consecutive_months(
    by_month: list[tuple[str, dict[str, int]]],
) -> list[tuple[str, dict[str, int]]]:
    """Every month from the first to the last, months without intakes as empty bars, so
    that neighbouring bars are neighbouring months."""
    if not by_month:
        return []
    counts = dict(by_month)
    try:
        year, month = (int(part) for part in by_month[0][0].split("-"))
        last_year, last_month = (int(part) for part in by_month[-1][0].split("-"))
    except ValueError:
        return list(by_month)
    result: list[tuple[str, dict[str, int]]] = []
    while (year, month) <= (last_year, last_month):
        key = f"{year:04d}-{month:02d}"
        result.append((key, counts.get(key, {})))
        month += 1
        if month > 12:
            year, month = year + 1, 1
    return result


def _month_label(month: str) -> str:
    if len(month) == 7:
        return f"{month[5:7]}/{month[2:4]}"
    return month
