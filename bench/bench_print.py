"""Printing a batch of 20 summary pages: what goes to the printer, and how long it takes.

Compares, in one run, the vector PDF that goes to CUPS (docs/architecture.md,
"Printing"), the page images where there is no CUPS (grey, 150 dpi), and the former way
(every page as a 300 dpi colour image). Sizes are of the print job as Qt's PDF engine
writes it (what a print-to-file job holds).

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_print.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtPrintSupport import QPrinter
from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from intake_app.core.forms import load_shipped_forms  # noqa: E402
from intake_app.ui.print_system import new_printer, paint_pages  # noqa: E402
from tests.ui.test_printing import twenty_pages  # noqa: E402


def raster(data: bytes, folder: Path, name: str, *, dpi: int, grey: bool) -> tuple[int, float]:
    printer = new_printer()
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    target = folder / name
    printer.setOutputFileName(str(target))
    started = time.perf_counter()
    paint_pages(data, printer, dpi=dpi, grey=grey)
    return target.stat().st_size, time.perf_counter() - started


def main() -> None:
    app = QApplication.instance() or QApplication([])
    form = load_shipped_forms().get("intake", "2026.1")
    data = twenty_pages(form)
    with tempfile.TemporaryDirectory() as folder:
        old_size, old_time = raster(data, Path(folder), "old.pdf", dpi=300, grey=False)
        new_size, new_time = raster(data, Path(folder), "new.pdf", dpi=150, grey=True)
    vector = len(data)
    print(f"20 pages, vector PDF to CUPS:   {vector / 1024:9.0f} KB")
    print(f"20 pages, 150 dpi grey images:  {new_size / 1024:9.0f} KB  {new_time:6.2f} s")
    print(f"20 pages, 300 dpi colour images:{old_size / 1024:9.0f} KB  {old_time:6.2f} s")
    print(f"size: 300 dpi colour / vector = {old_size / vector:.0f}x")
    print(f"size: 300 dpi colour / 150 dpi grey = {old_size / new_size:.1f}x")
    print(f"time: 300 dpi colour / 150 dpi grey = {old_time / new_time:.1f}x")
    del app


if __name__ == "__main__":
    main()
