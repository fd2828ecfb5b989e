"""Handing a PDF to the system's printing (docs/architecture.md, "Printing").

Where the system has CUPS (Linux, macOS), the vector PDF goes to it as it is, with
``lp``: A4 paper, the copies and the page range chosen in the print dialog. The PDF is
written to a private temporary file (mode 0600) for ``lp`` to read and removed as soon as
``lp`` has handed it to the print system; nothing but that random file name appears in
the command line (no names, no case numbers). Only where there is no such path (Windows)
are the pages rasterised onto the printer: at 150 dpi in grey (a grey print job), so that
a batch of 20 pages stays well under 5 MB (bench/bench_print.py).

Everything here runs in the background worker (``ui/ops.py``); a ``QPrinter`` may be
painted on outside the GUI thread.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QRect, QSize
from PySide6.QtGui import QImage, QPageLayout, QPageSize, QPainter
from PySide6.QtPdf import QPdfDocumentRenderOptions
from PySide6.QtPrintSupport import QPrinter

from intake_app.atomic import atomic_write_bytes
from intake_app.errors import IntakeError
from intake_app.i18n import _
from intake_app.ui.print_preview import MemoryPdf

#: the resolution pages are rasterised at where the PDF cannot go to the printer as it is
RASTER_DPI = 150
#: the most ``lp`` may take to hand a job to CUPS
LP_TIMEOUT_S = 60


@dataclass(frozen=True, slots=True)
class PrintRequest:
    """What the print dialog asked for.

    ``printer``: the queue ("" for the system's default); ``first``/``last``: the page
    range (1-based, both None for all pages); ``to_file``: Qt's "print to file (PDF)".
    """

    printer: str = ""
    copies: int = 1
    first: int | None = None
    last: int | None = None
    to_file: Path | None = None

    def pages(self, count: int) -> range:
        """The 0-based page numbers to print out of ``count``."""
        first = max(1, self.first or 1)
        last = min(count, self.last or count)
        return range(first - 1, last)


@dataclass(frozen=True, slots=True)
class PrintResult:
    """What was sent: the pages of one copy, the copies, and the print system's job."""

    pages: int
    copies: int
    job: str = ""
    how: str = "cups"  # "cups", "file" or "raster"


def new_printer() -> QPrinter:
    """A printer set to A4 portrait, as every printout of Intake is laid out."""
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    printer.setPageOrientation(QPageLayout.Orientation.Portrait)
    return printer


def request_from(printer: QPrinter, pages: int) -> PrintRequest:
    """Read the choices of a print dialog from ``printer``."""
    first: int | None = None
    last: int | None = None
    if printer.printRange() == QPrinter.PrintRange.PageRange and printer.fromPage() > 0:
        first = printer.fromPage()
        last = printer.toPage() or None
        if pages and last is not None:  # pages: 0 when the count is not known here
            last = min(pages, last)
    to_file = None
    if printer.outputFormat() == QPrinter.OutputFormat.PdfFormat and printer.outputFileName():
        to_file = Path(printer.outputFileName())
    return PrintRequest(
        printer=printer.printerName(),
        copies=max(1, printer.copyCount()),
        first=first,
        last=last,
        to_file=to_file,
    )


def lp_command() -> str | None:
    """The CUPS ``lp`` command, or None where there is none (Windows)."""
    if sys.platform == "win32":
        return None
    return shutil.which("lp")


def send(
    data: bytes,
    request: PrintRequest,
    printer: QPrinter,
    *,
    step: Callable[[int, int], bool] | None = None,
) -> PrintResult:
    """Print ``data`` as ``request`` says: to a file, to CUPS, or rasterised onto
    ``printer``. Raises :class:`IntakeError` with a message for the user."""
    if request.to_file is not None:
        return write_pages(data, request)
    lp = lp_command()
    if lp is not None:
        return send_to_cups(data, request, lp=lp)
    painted = paint_pages(data, printer, request, step=step)
    return PrintResult(pages=painted, copies=request.copies, how="raster")


def page_count(data: bytes) -> int:
    # Deferred: pypdf is needed only when printing.
    from pypdf import PdfReader

    return len(PdfReader(io.BytesIO(data)).pages)


def write_pages(data: bytes, request: PrintRequest) -> PrintResult:
    """ "Print to file": the chosen pages of the vector PDF, written atomically."""
    # Deferred: pypdf is needed only when printing.
    from pypdf import PdfReader, PdfWriter

    assert request.to_file is not None
    reader = PdfReader(io.BytesIO(data))
    wanted = request.pages(len(reader.pages))
    if len(wanted) != len(reader.pages):
        writer = PdfWriter()
        for index in wanted:
            writer.add_page(reader.pages[index])
        buffer = io.BytesIO()
        writer.write(buffer)
        data = buffer.getvalue()
    try:
        atomic_write_bytes(request.to_file, data)
    except OSError as exc:
        raise IntakeError(
            _("Die Datei {path} kann nicht geschrieben werden: {reason}").format(
                path=request.to_file, reason=exc.strerror or exc
            )
        ) from exc
    return PrintResult(pages=len(wanted), copies=1, how="file")


_JOB = re.compile(r"request id is (\S+)")


def send_to_cups(data: bytes, request: PrintRequest, *, lp: str) -> PrintResult:
    """Hand the vector PDF to CUPS with ``lp``: A4, copies, page range."""
    count = page_count(data)
    pages = request.pages(count)
    if not pages:
        raise IntakeError(_("Der gewählte Seitenbereich enthält keine Seite."))
    args = [lp, "-o", "media=A4", "-n", str(request.copies), "-t", "Intake"]
    if request.printer:
        args += ["-d", request.printer]
    if len(pages) != count:
        args += ["-P", f"{pages.start + 1}-{pages.stop}"]
    handle, name = tempfile.mkstemp(prefix="intake-print-", suffix=".pdf")
    try:
        os.fchmod(handle, 0o600)  # mkstemp's mode already; said here because it matters
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        env = dict(os.environ, LC_ALL="C", LANG="C")  # lp's answer is read below
        try:
            # the arguments are fixed words, numbers, the queue the user chose and the
            # temporary file's name; no shell
            done = subprocess.run(  # noqa: S603
                [*args, "--", name],
                capture_output=True,
                text=True,
                timeout=LP_TIMEOUT_S,
                env=env,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise IntakeError(
                _("Das Drucksystem (CUPS) antwortet nicht: {reason}").format(reason=exc)
            ) from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
    if done.returncode != 0:
        reason = (done.stderr or done.stdout).strip().splitlines()
        raise IntakeError(
            _("Der Drucker hat den Auftrag nicht angenommen: {reason}").format(
                reason=reason[-1] if reason else done.returncode
            )
        )
    match = _JOB.search(done.stdout)
    return PrintResult(pages=len(pages), copies=request.copies, job=match.group(1) if match else "")


def paint_pages(
    data: bytes,
    printer: QPrinter,
    request: PrintRequest | None = None,
    *,
    step: Callable[[int, int], bool] | None = None,
    dpi: int = RASTER_DPI,
    grey: bool = True,
) -> int:
    """Rasterise the pages of a PDF onto ``printer`` (grey, ``dpi``); the pages painted.

    For systems without CUPS. ``step(done, total)`` is called before each page; returning
    False aborts the job (``printer.abort()``).
    """
    request = request or request_from(printer, 0)
    pdf = MemoryPdf(data)
    try:
        if not pdf.ok:
            raise IntakeError(_("Das Dokument konnte nicht gelesen werden."))
        pages = list(request.pages(pdf.page_count))
        printer.setCopyCount(request.copies)
        if grey:  # the job in grey: the driver (and Qt's own engine) then keeps it small
            printer.setColorMode(QPrinter.ColorMode.GrayScale)
        painter = QPainter()
        if not painter.begin(printer):
            raise IntakeError(_("Der Drucker konnte nicht angesprochen werden."))
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
                if grey:
                    image = image.convertToFormat(QImage.Format.Format_Grayscale8)
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
