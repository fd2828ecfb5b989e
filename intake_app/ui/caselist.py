"""The case list page: search as you type, filters, sorting, open a record.

Signals: ``open_requested(str)`` with a record id; ``new_requested()``.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from intake_app.core.permissions import Actor, Permission
from intake_app.i18n import _, ngettext
from intake_app.storage.records import COUNT_CAP, RecordQuery, RecordService
from intake_app.storage.site_records import SiteRecords
from intake_app.ui.caselist_model import CaseListModel

SEARCH_DELAY_MS = 150


class CaseListPage(QWidget):
    """Search, filter and open records. Signals: ``open_requested(str)``, ``new_requested()``."""

    open_requested = Signal(str)
    new_requested = Signal()

    def __init__(self, records: RecordService | SiteRecords, actor: Actor) -> None:
        super().__init__()
        self._actor = actor
        supervisor = actor.can(Permission.VIEW_SITE_RECORDS)
        self.model = CaseListModel(records, show_owner=supervisor, parent=self)

        self.search = QLineEdit()
        self.search.setPlaceholderText(_("Suchen: Name (jede Schrift), Aktenzeichen, Geburtsdatum"))
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName(_("Suche in den Akten"))
        self.status = QComboBox()
        self.status.setAccessibleName(_("Nach Status filtern"))
        for label, value in (
            (_("Alle Status"), None),
            (_("Entwürfe"), "draft"),
            (_("Abgeschlossen"), "complete"),
            (_("Übermittelt"), "delivered"),
            (_("Fall beendet"), "closed"),
        ):
            self.status.addItem(label, value)
        self.owner = QComboBox()
        self.owner.setAccessibleName(_("Nach Beratung filtern"))
        self.owner.addItem(_("Alle Beratenden"), None)
        if supervisor:
            owners: list[tuple[int, str]] = records.owners()
            for owner_id, name in owners:
                self.owner.addItem(name, owner_id)
        self.owner.setVisible(supervisor)
        self.expiring = QCheckBox(
            # the filter shows permits that ran out as well (as the overview's card says)
            _("Aufenthalt abgelaufen oder läuft ab ({n} Tage)").format(
                n=records.expiry_warning_days
            )
        )
        self.expiring.setAccessibleName(
            _("Nur abgelaufene und bald ablaufende Aufenthaltstitel zeigen")
        )
        self.new_button = QPushButton(_("&Neue Aufnahme"))
        self.new_button.setObjectName("primary")
        self.new_button.setVisible(actor.can(Permission.CREATE_RECORD))
        self.count_label = QLabel()
        self.count_label.setObjectName("muted")
        self.special: str | None = None
        self.special_button = QPushButton()
        self.special_button.setToolTip(_("Filter aus der Übersicht entfernen"))
        self.special_button.hide()
        self.special_button.clicked.connect(self.clear_special)

        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setAccessibleName(_("Liste der Aufnahmen"))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(CaseListModel.UPDATED, Qt.SortOrder.DescendingOrder)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setAccessibleName(_("Spalten der Aktenliste; Klick sortiert"))
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(CaseListModel.NAME, QHeaderView.ResizeMode.Stretch)
        header.setHighlightSections(False)
        # widths from the font, so they grow with a larger font setting
        metrics = self.table.fontMetrics()
        for column, sample in (
            (CaseListModel.BIRTH, "00.00.0000 "),
            (CaseListModel.STATUS, _("Entwurf (Revision 2)")),
            (CaseListModel.UPDATED, "00.00.0000 00:00 "),
            (CaseListModel.SYNC, _("wartet auf Übermittlung")),
            (CaseListModel.CASE, "ABCD-2026-00000 "),
            (CaseListModel.OWNER, "Sabine Leitner-Hoff"),
            (CaseListModel.RESIDENCE, "00.00.0000 "),
        ):
            title = str(self.model.headerData(column, Qt.Orientation.Horizontal))
            width = max(metrics.horizontalAdvance(sample), metrics.horizontalAdvance(title) + 24)
            self.table.setColumnWidth(column, width + 16)
        self.table.setColumnHidden(CaseListModel.OWNER, not supervisor)

        filters = QHBoxLayout()
        filters.addWidget(self.search, 3)
        filters.addWidget(self.status, 1)
        filters.addWidget(self.owner, 1)
        filters.addWidget(self.expiring)
        filters.addWidget(self.special_button)
        filters.addStretch(0)
        filters.addWidget(self.new_button)
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.count_label)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SEARCH_DELAY_MS)
        self._timer.timeout.connect(self.apply_filters)
        self.search.textChanged.connect(self._timer.start)
        self.search.returnPressed.connect(self._on_search_return)
        self.status.currentIndexChanged.connect(self.apply_filters)
        self.owner.currentIndexChanged.connect(self.apply_filters)
        self.expiring.toggled.connect(self.apply_filters)
        self.table.activated.connect(self._on_activated)
        self.new_button.clicked.connect(self.new_requested)
        self.model.total_changed.connect(self._on_total)
        find = QShortcut(QKeySequence("Ctrl+F"), self)
        find.activated.connect(self.search.setFocus)
        self._on_total(self.model.total)

    def current_query(self) -> RecordQuery:
        """The query the filters describe (sorting kept from the table header)."""
        old = self.model.query
        return RecordQuery(
            search=self.search.text(),
            status=self.status.currentData(),
            owner_id=self.owner.currentData(),
            sort=old.sort,
            descending=old.descending,
            expiring_only=self.expiring.isChecked(),
            special=self.special,
        )

    def has_filters(self) -> bool:
        """True while any search text or filter narrows the list."""
        return bool(
            self.search.text().strip()
            or self.status.currentData()
            or self.owner.currentData()
            or self.expiring.isChecked()
            or self.special
        )

    def apply_query(self, query: RecordQuery) -> None:
        """Show the list a number of the overview stands for."""
        for widget in (self.search, self.status, self.owner, self.expiring):
            widget.blockSignals(True)
        self.search.setText(query.search)
        self.status.setCurrentIndex(max(0, self.status.findData(query.status)))
        self.owner.setCurrentIndex(max(0, self.owner.findData(query.owner_id)))
        self.expiring.setChecked(query.expiring_only)
        for widget in (self.search, self.status, self.owner, self.expiring):
            widget.blockSignals(False)
        self.special = query.special
        labels = {
            "open_referrals": _("Offene Vermittlungen"),
            "recognition_pending": _("Anerkennung offen"),
            "not_delivered": _("Nicht übermittelt"),
        }
        self.special_button.setText(f"{labels.get(query.special or '', '')}  ✕")
        self.special_button.setVisible(bool(query.special))
        header = self.table.horizontalHeader()
        header.blockSignals(True)
        if query.sort in CaseListModel.SORT_KEYS:
            header.setSortIndicator(
                CaseListModel.SORT_KEYS.index(query.sort),
                Qt.SortOrder.DescendingOrder if query.descending else Qt.SortOrder.AscendingOrder,
            )
        header.blockSignals(False)
        self.model.set_query(query)

    def clear_special(self) -> None:
        """Remove the overview's filter."""
        self.special = None
        self.special_button.hide()
        self.apply_filters()

    def apply_filters(self) -> None:
        self._timer.stop()
        self.model.set_query(self.current_query())

    def selected_ids(self) -> list[str]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self.model.summary(row).id for row in rows]

    def refresh(self) -> None:
        """Reload, keeping filters and sorting (after a record was saved or finalised)."""
        self.model.refresh()

    def show_record(self, record_id: str | None) -> None:
        """Select the row of ``record_id`` and scroll it into view, when the list has
        loaded it; otherwise show the top of the list."""
        row = self.model.row_of(record_id) if record_id else -1
        if row < 0:
            self.table.scrollToTop()
            return
        self.table.selectRow(row)
        self.table.scrollTo(self.model.index(row, 0))

    def _on_total(self, total: int) -> None:
        if self.model.total_is_capped:
            self.count_label.setText(
                _("mehr als {n} Aufnahmen – bitte die Suche eingrenzen").format(
                    n=f"{COUNT_CAP:,}".replace(",", ".")
                )
            )
            return
        self.count_label.setText(
            ngettext("{n} Aufnahme", "{n} Aufnahmen", total).format(
                n=f"{total:,}".replace(",", ".")
            )
        )

    def _on_search_return(self) -> None:
        self.apply_filters()
        if self.model.rowCount() == 1:
            self.open_requested.emit(self.model.summary(0).id)
        elif self.model.rowCount():
            self.table.setFocus()
            self.table.selectRow(0)

    def _on_activated(self, index: QModelIndex) -> None:
        if index.isValid():
            self.open_requested.emit(self.model.summary(index.row()).id)
