"""The case list as a Qt table model over the record repository, fetched lazily.

Rows come from :meth:`RecordService.list` a page at a time (``canFetchMore`` /
``fetchMore``), so 100,000 records open as fast as 100. Sorting and filtering re-run the
query in SQL (an index or the FTS5 search table does the work), never in Python.

Signals: ``total_changed(int)`` with the number of matching records.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor

from intake_app.core.formats import format_timestamp
from intake_app.core.records import RecordStatus, SyncState, display_name, expiry_state
from intake_app.i18n import _, current_language
from intake_app.storage.records import COUNT_CAP, RecordQuery, RecordService, RecordSummary
from intake_app.storage.site_records import SiteRecords
from intake_app.ui import style

#: Rows read when the list scrolls on.
PAGE_SIZE = 200
#: Rows read when the list (re)loads: more than the tallest window shows (Qt asks for the
#: next page itself while the last row is in view). A search at every keystroke reads
#: this page from every store a supervisor reads; a smaller one is the larger part of
#: what a keystroke costs there (docs/architecture.md, "The case list and its search").
FIRST_PAGE = 60

Index = QModelIndex | QPersistentModelIndex

#: The roles this model answers (see :meth:`CaseListModel.data`); filled in below.
_ROLES: frozenset[int] = frozenset()

#: The roles whose answer depends on the residence permit's expiry.
_EXPIRY_ROLES = frozenset(
    {
        Qt.ItemDataRole.BackgroundRole,
        Qt.ItemDataRole.ForegroundRole,
        Qt.ItemDataRole.ToolTipRole,
        Qt.ItemDataRole.AccessibleTextRole,
    }
)


def babel_locale() -> str:
    """The Babel locale for dates and numbers in the current language."""
    return "de_DE" if current_language() == "de" else "en_GB"


def format_iso_date(value: str | None) -> str:
    """ "1990-04-01" -> "01.04.1990" (German) or "01/04/1990" (English)."""
    if not value:
        return ""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return value
    # what Babel writes for the patterns "dd.MM.yyyy" and "dd/MM/yyyy", without its
    # pattern parser on every painted cell
    sep = "." if current_language() == "de" else "/"
    return f"{day.day:02d}{sep}{day.month:02d}{sep}{day.year:04d}"


class CaseListModel(QAbstractTableModel):
    """Records visible to the signed-in user. Signals: ``total_changed(int)``."""

    total_changed = Signal(int)

    NAME, BIRTH, STATUS, UPDATED, SYNC, CASE, OWNER, RESIDENCE = range(8)
    SORT_KEYS = (
        "name",
        "birth_date",
        "status",
        "updated",
        "sync",
        "case_number",
        "owner",
        "residence",
    )
    RecordIdRole = Qt.ItemDataRole.UserRole + 1
    StatusRole = Qt.ItemDataRole.UserRole + 2

    def __init__(
        self, records: RecordService | SiteRecords, *, show_owner: bool, parent: Any = None
    ) -> None:
        super().__init__(parent)
        self._records = records
        self._show_owner = show_owner
        self._rows: list[RecordSummary] = []
        #: per loaded row: the texts of its columns and its expiry state, made when the
        #: row is first painted (a repaint asks for every cell and role again)
        self._shown: dict[int, tuple[tuple[str, ...], str | None]] = {}
        self._total = 0
        self._exhausted = True
        self._query = RecordQuery()
        self._today = date.today()
        self._warning_days = self._records.expiry_warning_days
        self.refresh()

    # -- querying ----------------------------------------------------------------------

    @property
    def query(self) -> RecordQuery:
        return self._query

    @property
    def total(self) -> int:
        """Matching records (counted up to COUNT_CAP + 1)."""
        return self._total

    @property
    def total_is_capped(self) -> bool:
        """True when there are more matches than were counted."""
        return self._total > COUNT_CAP

    def set_query(self, query: RecordQuery) -> None:
        """Run a new search / filter / sort and start again from the first page."""
        self._query = query
        self._reload()

    def refresh(self) -> None:
        """Reload from the database (after a save elsewhere), settings included."""
        self._warning_days = self._records.expiry_warning_days
        self._records.forget_searches()
        self._reload()

    def _reload(self) -> None:
        self.beginResetModel()
        self._today = date.today()
        self._shown = {}
        # the first page first: when it is not full, it is every match, and its length
        # is the count; only a full page asks for a count (capped at COUNT_CAP)
        self._rows = self._records.list(self._query, offset=0, limit=FIRST_PAGE)
        self._exhausted = len(self._rows) < FIRST_PAGE
        self._total = len(self._rows) if self._exhausted else self._records.count(self._query)
        self.endResetModel()
        self.total_changed.emit(self._total)

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008
        return (
            not parent.isValid()
            and not self._exhausted
            and (len(self._rows) < self._total or self.total_is_capped)
        )

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008
        if parent.isValid():
            return
        more = self._records.list(self._query, offset=len(self._rows), limit=PAGE_SIZE)
        self._exhausted = len(more) < PAGE_SIZE
        if not more:
            return
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(more) - 1)
        self._rows.extend(more)
        self.endInsertRows()

    # -- model API ---------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else 8

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or role != Qt.ItemDataRole.DisplayRole:
            return None
        titles = (
            _("Name"),
            _("Geburtsdatum"),
            _("Status"),
            _("Letzte Änderung"),
            _("Übermittlung"),
            _("Aktenzeichen"),
            _("Beratung"),
            _("Aufenthalt bis"),
        )
        return titles[section] if 0 <= section < len(titles) else None

    def summary(self, row: int) -> RecordSummary:
        return self._rows[row]

    def row_of(self, record_id: str) -> int:
        """The row showing ``record_id`` among the loaded rows, or -1."""
        for row, summary in enumerate(self._rows):
            if summary.id == record_id:
                return row
        return -1

    def _row_texts(self, row: int) -> tuple[tuple[str, ...], str | None]:
        shown = self._shown.get(row)
        if shown is None:
            item = self._rows[row]
            shown = (
                tuple(self._display(item, column) for column in range(8)),
                expiry_state(
                    item.residence_valid_until,
                    today=self._today,
                    warning_days=self._warning_days,
                ),
            )
            self._shown[row] = shown
        return shown

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role not in _ROLES:  # most roles a repaint asks for (font, alignment …)
            return None
        row = index.row()
        if not index.isValid() or not (0 <= row < len(self._rows)):
            return None
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._row_texts(row)[0][column]
        if role == self.RecordIdRole:
            return self._rows[row].id
        if role == self.StatusRole:
            return self._rows[row].status.value
        if role not in _EXPIRY_ROLES:
            return None
        texts, expiry = self._row_texts(row)
        if role == Qt.ItemDataRole.BackgroundRole and expiry:
            return QBrush(QColor(style.HIGHLIGHT_ROW))
        if role == Qt.ItemDataRole.ForegroundRole and column == self.RESIDENCE and expiry:
            return QBrush(QColor(style.DANGER if expiry == "expired" else style.ACCENT))
        if role == Qt.ItemDataRole.ToolTipRole and expiry:
            return (
                _("Aufenthaltstitel abgelaufen")
                if expiry == "expired"
                else _("Aufenthaltstitel läuft in den nächsten {n} Tagen ab").format(
                    n=self._warning_days
                )
            )
        if role == Qt.ItemDataRole.AccessibleTextRole:
            text = texts[column]
            if column == self.RESIDENCE and expiry:
                state = _("läuft bald ab") if expiry == "soon" else _("abgelaufen")
                text = f"{text} ({state})"
            return text
        return None

    def _display(self, item: RecordSummary, column: int) -> str:
        if column == self.NAME:
            return display_name(item)
        if column == self.BIRTH:
            return format_iso_date(item.birth_date)
        if column == self.STATUS:
            status = item.status.label
            if item.status is RecordStatus.DRAFT and item.revision > 1:
                status = _("{status} (Revision {n})").format(status=status, n=item.revision)
            return status
        if column == self.UPDATED:
            return format_timestamp(item.updated_at, current_language())
        if column == self.SYNC:
            return SyncState(item.sync_state).label
        if column == self.CASE:
            return item.case_number
        if column == self.OWNER:
            return item.owner_name
        if column == self.RESIDENCE:
            return format_iso_date(item.residence_valid_until)
        return ""

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(self.SORT_KEYS):
            return
        self.set_query(
            RecordQuery(
                search=self._query.search,
                status=self._query.status,
                owner_id=self._query.owner_id,
                sort=self.SORT_KEYS[column],
                descending=order == Qt.SortOrder.DescendingOrder,
                expiring_only=self._query.expiring_only,
            )
        )

    @property
    def show_owner(self) -> bool:
        return self._show_owner


_ROLES = frozenset(
    {
        Qt.ItemDataRole.DisplayRole,
        CaseListModel.RecordIdRole,
        CaseListModel.StatusRole,
        *_EXPIRY_ROLES,
    }
)
