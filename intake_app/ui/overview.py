"""The supervisor's overview: what needs action, each number opening its list, a chart;
and, on a second tab, the programme's outcome figures of the site's cases
(``figures/summary.py``, the office's own computation, small cells hidden), of a reporting
period chosen above them (every case, this or last year, a quarter, or from/to days;
``figures/outcomes.py`` says what counts in a period).

Signals: ``list_requested(object)`` with a :class:`RecordQuery` for the case list;
``print_requested()``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import shiboken6
from PySide6.QtCharts import (
    QBarCategoryAxis,
    QBarSet,
    QChart,
    QChartView,
    QStackedBarSeries,
    QValueAxis,
)
from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QMouseEvent, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateEdit,
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
from intake_app.figures.outcomes import Period
from intake_app.figures.sheet_text import legend, number, period_text
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
        #: the facts of the site's cases of the last count (no names): a period chosen
        #: is counted from them at once
        self.outcome_facts: list[dict[str, Any]] | None = None
        self.outcome_view = OutcomeView()
        self.outcome_view.period_changed.connect(self._count_period)
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

        period = self.outcome_view.period

        def work(_token: CancelToken) -> tuple[Overview, Summary, list[dict[str, Any]]]:
            # the outcome figures too: the office's computation over the site's cases
            facts = lifecycle.outcome_facts()
            outcomes = build_summary(facts, min_count=MIN_COUNT, period=period)
            return lifecycle.overview(), outcomes, facts

        def done(result: tuple[Overview, Summary, list[dict[str, Any]]]) -> None:
            if shiboken6.isValid(self):
                self.loading = None
                self.refresh_button.setEnabled(True)
                overview, outcomes, facts = result
                self.outcome_facts = facts
                self.show_overview(overview, outcomes)
                if outcomes.period != self.outcome_view.period:
                    # chosen while counting
                    self._count_period(self.outcome_view.period)

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

    def _count_period(self, period: Period) -> None:
        """Show the outcome figures of ``period`` (counted from the facts of the last
        count; printed as shown)."""
        if self.outcome_facts is None:
            return  # the count running counts the period chosen
        self.outcomes = build_summary(self.outcome_facts, min_count=MIN_COUNT, period=period)
        self.outcome_view.show_summary(self.outcomes)

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


def quarter(year: int, number: int) -> Period:
    """The ``number``-th quarter (1 to 4) of ``year``."""
    start = date(year, 3 * number - 2, 1)
    end = date(year + 1, 1, 1) if number == 4 else date(year, 3 * number + 1, 1)
    return Period(start, date.fromordinal(end.toordinal() - 1))


def period_choices(today: date) -> list[tuple[str, Period | None]]:
    """The periods offered: every case, this year, last year, the quarters of this year
    so far and of last year (latest first), and last one's own days (``None``)."""
    choices: list[tuple[str, Period | None]] = [
        (_("Alle Fälle"), Period()),
        (
            _("Dieses Jahr ({year})").format(year=today.year),
            Period(date(today.year, 1, 1), date(today.year, 12, 31)),
        ),
        (
            _("Letztes Jahr ({year})").format(year=today.year - 1),
            Period(date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)),
        ),
    ]
    current = (today.month - 1) // 3 + 1
    for year, first in ((today.year, current), (today.year - 1, 4)):
        for nth in range(first, 0, -1):
            choices.append((_("{n}. Quartal {year}").format(n=nth, year=year), quarter(year, nth)))
    choices.append((_("Eigener Zeitraum (von – bis)"), None))
    return choices


def _qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)


def _day(value: QDate) -> date:
    return date(value.year(), value.month(), value.day())


class PeriodChooser(QWidget):
    """The reporting period of the outcome figures: a list of the usual periods, and two
    days (both inclusive) with a button for a period of one's own. Keyboard: Alt+Z reaches
    the list, Alt+N and Alt+I reach the days, Alt+W applies them.
    Signals: ``changed(object)`` with the :class:`Period` chosen."""

    changed = Signal(object)

    def __init__(self, today: date | None = None) -> None:
        super().__init__()
        today = today or date.today()
        self.period = Period()
        self.choice = QComboBox()
        self.choice.setAccessibleName(_("Zeitraum der Ergebnisse"))
        for text, period in period_choices(today):
            self.choice.addItem(text, period)
        label = QLabel(_("&Zeitraum:"))
        label.setBuddy(self.choice)
        self.start = self._day_edit(date(today.year, 1, 1), _("Erster Tag des Zeitraums"))
        self.end = self._day_edit(today, _("Letzter Tag des Zeitraums"))
        start_label = QLabel(_("vo&n"))
        start_label.setBuddy(self.start)
        end_label = QLabel(_("b&is"))
        end_label.setBuddy(self.end)
        self.apply_button = QPushButton(_("An&wenden"))
        self.apply_button.setAccessibleDescription(
            _("Zeigt die Ergebnisse vom ersten bis zum letzten Tag, beide eingeschlossen")
        )
        self.error = LiveLabel(assertive=True)
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.hide()
        self.own = [start_label, self.start, end_label, self.end, self.apply_button]
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(label)
        row.addWidget(self.choice)
        for widget in self.own:
            row.addWidget(widget)
            widget.setVisible(False)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.error)
        self.choice.currentIndexChanged.connect(self._chosen)
        self.apply_button.clicked.connect(self.apply_days)
        for edit in (self.start, self.end):
            edit.editingFinished.connect(self._edited)

    @staticmethod
    def _day_edit(day: date, name: str) -> QDateEdit:
        edit = QDateEdit(_qdate(day))
        edit.setCalendarPopup(True)
        edit.setDisplayFormat("dd.MM.yyyy" if current_language() == "de" else "dd/MM/yyyy")
        edit.setAccessibleName(name)
        return edit

    def _chosen(self, _index: int) -> None:
        period = self.choice.currentData()
        own = period is None
        for widget in self.own:
            widget.setVisible(own)
        if own:
            self.apply_days()
        else:
            self._set(period)

    def _edited(self) -> None:
        # Enter in a day applies it, as the button does
        if self.choice.currentData() is None and (self.start.hasFocus() or self.end.hasFocus()):
            self.apply_days()

    def apply_days(self) -> bool:
        """Choose the days of the two fields; a period ending before it starts is refused
        with a message (the figures shown stay those of the period named above them)."""
        start, end = _day(self.start.date()), _day(self.end.date())
        if start > end:
            self.error.setText(
                _(
                    "Der Zeitraum endet vor seinem Anfang: „bis“ ({end}) liegt vor „von“ "
                    "({start}). Bitte die Tage prüfen."
                ).format(start=self.start.text(), end=self.end.text())
            )
            self.error.show()
            return False
        self._set(Period(start, end))
        return True

    def _set(self, period: Period) -> None:
        self.error.clear()
        self.error.hide()
        if period != self.period:
            self.period = period
            self.changed.emit(period)


class OutcomeView(QScrollArea):
    """The outcome figures: the period chosen, then one small read-only table per block,
    two side by side, the legend of ``<5`` and ``x`` above them.
    Signals: ``period_changed(object)`` with a :class:`Period`."""

    period_changed = Signal(object)

    def __init__(self, today: date | None = None) -> None:
        super().__init__()
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.tables: dict[str, QTableWidget] = {}
        self.chooser = PeriodChooser(today)
        self.chooser.changed.connect(self.period_changed)
        self.shown_period = LiveLabel(role=_("Zeitraum der gezeigten Ergebnisse"))
        self.shown_period.setWordWrap(True)
        self.legend = QLabel()
        self.legend.setObjectName("muted")
        self.legend.setWordWrap(True)
        inner = QWidget()
        self.grid = QGridLayout(inner)
        self.grid.setSpacing(14)
        self.grid.addWidget(self.chooser, 0, 0, 1, 2)
        self.grid.addWidget(self.shown_period, 1, 0, 1, 2)
        self.grid.addWidget(self.legend, 2, 0, 1, 2)
        self.setWidget(inner)

    @property
    def period(self) -> Period:
        """The period chosen."""
        return self.chooser.period

    def show_summary(self, summary: Summary) -> None:
        lang = current_language()
        self.shown_period.setText(period_text(_, summary, lang))
        self.legend.setText(legend(_, summary.min_count))
        row, column = 3, 0
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
