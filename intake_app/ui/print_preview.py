"""The print preview: a PDF shown from memory, printed through the system dialog.

The PDF never touches the disk: the bytes go into a ``QBuffer`` that ``QPdfDocument``
reads, and closing the dialog closes the document and drops the buffer. Printing renders
each page into an image at the printer's resolution (at most 300 dpi) and paints it
onto the ``QPrinter``, one page per step, so a long batch can be cancelled.

Signals: :class:`PdfPreviewDialog` ``print_requested()``, ``save_requested()``,
``options_changed()``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRect, QSize, Qt, Signal
from PySide6.QtGui import QImage, QKeySequence, QPainter, QShortcut
from PySide6.QtPdf import QPdfDocument, QPdfDocumentRenderOptions
from PySide6.QtPdfWidgets import QPdfView
from PySide6.QtPrintSupport import QPrinter
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

MAX_PRINT_DPI = 300


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


def paint_pages(
    data: bytes,
    printer: QPrinter,
    *,
    step: Callable[[int, int], bool] | None = None,
) -> int:
    """Paint the pages of a PDF onto ``printer``; returns the number of pages painted.

    Honours the page range chosen in the print dialog. ``step(done, total)`` is called
    before each page; returning False aborts the job (``printer.abort()``).
    """
    pdf = MemoryPdf(data)
    try:
        if not pdf.ok:
            raise RuntimeError(f"PDF could not be loaded: {pdf.document.status()}")
        count = pdf.page_count
        first, last = 1, count
        if printer.printRange() == QPrinter.PrintRange.PageRange and printer.fromPage() > 0:
            first = max(1, printer.fromPage())
            last = min(count, printer.toPage() or count)
        pages = list(range(first - 1, last))
        dpi = min(printer.resolution(), MAX_PRINT_DPI)
        painter = QPainter()
        if not painter.begin(printer):
            raise RuntimeError("the printer could not be opened")
        painted = 0
        try:
            target_area = printer.pageLayout().paintRectPixels(printer.resolution())
            for index, page in enumerate(pages):
                if step is not None and not step(index, len(pages)):
                    printer.abort()
                    return painted
                if index:
                    printer.newPage()
                size = pdf.document.pagePointSize(page)
                image_size = QSize(round(size.width() * dpi / 72), round(size.height() * dpi / 72))
                image = pdf.document.render(page, image_size, QPdfDocumentRenderOptions())
                painter.drawImage(_fit(image, target_area), image)
                painted += 1
        finally:
            painter.end()
        if step is not None:
            step(len(pages), len(pages))
        return painted
    finally:
        pdf.close()


def _fit(image: QImage, area: QRect) -> QRect:
    """The largest rectangle of ``image``'s shape inside ``area``, centred at the top."""
    scale = min(area.width() / image.width(), area.height() / image.height())
    width, height = round(image.width() * scale), round(image.height() * scale)
    return QRect(area.x() + (area.width() - width) // 2, area.y(), width, height)


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
