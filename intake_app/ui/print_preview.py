"""The print preview: a PDF shown from memory, printed through the system dialog.

The PDF is not written to disk for the preview: the bytes go into a ``QBuffer`` that
``QPdfDocument`` reads, and closing the dialog closes the document and drops the buffer.
Printing itself is ``ui/print_system.py`` (the vector PDF to CUPS).

Signals: :class:`PdfPreviewDialog` ``print_requested()``, ``save_requested()``,
``options_changed()``.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtPdf import QPdfDocument
from PySide6.QtPdfWidgets import QPdfView
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from intake_app.i18n import _, ngettext

log = logging.getLogger("intake.ui")


class MemoryPdf:
    """A ``QPdfDocument`` over bytes held in memory (no temporary file)."""

    def __init__(self, data: bytes) -> None:
        self._bytes = QByteArray(data)
        self._buffer = QBuffer()
        self._buffer.setData(self._bytes)
        self._buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        self.document = QPdfDocument()
        self.document.load(self._buffer)

    @property
    def ok(self) -> bool:
        """Whether the document loaded."""
        return self.document.status() == QPdfDocument.Status.Ready

    @property
    def page_count(self) -> int:
        return self.document.pageCount()

    def close(self) -> None:
        """Close the document and release the bytes."""
        self.document.close()
        self._buffer.close()
        self._buffer.setData(QByteArray())
        self._bytes.clear()


class PdfPreviewDialog(QDialog):
    """Shows a PDF with buttons to print and to save it, and the options of the document.

    Signals: ``print_requested()``, ``save_requested()``, ``options_changed()`` (a combo
    box changed; the owner builds the PDF again and calls :meth:`show_pdf`).
    """

    print_requested = Signal()
    save_requested = Signal()
    options_changed = Signal()

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setWindowFlag(Qt.WindowType.WindowMaximizeButtonHint, True)
        self.resize(900, 1000)
        self._pdf: MemoryPdf | None = None
        self._empty = QPdfDocument(self)  # shown after closing (the view needs a document)
        self.view = QPdfView(self)
        self.view.setPageMode(QPdfView.PageMode.MultiPage)
        self.view.setZoomMode(QPdfView.ZoomMode.FitToWidth)
        self.view.setAccessibleName(_("Vorschau des Dokuments"))
        self.options = QHBoxLayout()
        self.options.setContentsMargins(0, 0, 0, 0)
        self.pages_label = QLabel()
        self.pages_label.setObjectName("muted")
        self.busy_label = QLabel(_("Wird neu erstellt …"))
        self.busy_label.setObjectName("muted")
        self.busy_label.hide()
        self.print_button = QPushButton(_("&Drucken …"))
        self.print_button.setObjectName("primary")
        self.save_button = QPushButton(_("Als PDF &speichern …"))
        self.close_button = QPushButton(_("Schließen"))
        top = QHBoxLayout()
        top.addLayout(self.options)
        top.addStretch(1)
        top.addWidget(self.busy_label)
        top.addWidget(self.pages_label)
        buttons = QHBoxLayout()
        buttons.addWidget(self.print_button)
        buttons.addWidget(self.save_button)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        layout.addLayout(buttons)
        self.print_button.clicked.connect(self.print_requested)
        self.save_button.clicked.connect(self.save_requested)
        self.close_button.clicked.connect(self.reject)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Print), self, self.print_button.click)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Save), self, self.save_button.click)

    def add_option(self, label: str, items: list[tuple[str, str]], current: str) -> QComboBox:
        """Add a labelled choice (language, profile) above the view."""
        caption = QLabel(label)
        combo = QComboBox()
        for text, value in items:
            combo.addItem(text, value)
        index = combo.findData(current)
        combo.setCurrentIndex(max(0, index))
        combo.setAccessibleName(label.replace("&", "").rstrip(":"))
        caption.setBuddy(combo)
        self.options.addWidget(caption)
        self.options.addWidget(combo)
        combo.currentIndexChanged.connect(self._on_option_changed)
        return combo

    def _on_option_changed(self, _index: int) -> None:
        self.options_changed.emit()

    def set_busy(self, busy: bool) -> None:
        """Grey out the actions while the document is being built again."""
        self.busy_label.setVisible(busy)
        for widget in (self.print_button, self.save_button):
            widget.setEnabled(not busy)

    def show_pdf(self, data: bytes) -> None:
        """Replace the shown document with ``data``."""
        old = self._pdf
        self._pdf = MemoryPdf(data)
        self.view.setDocument(self._pdf.document)
        if old is not None:
            old.close()
        count = self._pdf.page_count
        self.pages_label.setText(ngettext("{n} Seite", "{n} Seiten", count).format(n=count))
        self.set_busy(False)

    @property
    def document(self) -> QPdfDocument | None:
        """The document shown (for tests and accessibility tools)."""
        return self._pdf.document if self._pdf is not None else None

    def done(self, result: int) -> None:
        """Close: drop the document from memory."""
        self.view.setDocument(self._empty)
        if self._pdf is not None:
            self._pdf.close()
            self._pdf = None
        super().done(result)
