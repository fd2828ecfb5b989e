"""Reading PDFs back for the tests: text per page, embedded fonts, the QR code drawn."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

from pypdf import PdfReader
from pypdf.generic import DictionaryObject, IndirectObject

from intake_app.reports.layout import MARGIN_BOTTOM, MARGIN_X, PAGE_WIDTH, QR_SIZE


def reader(data: bytes) -> PdfReader:
    return PdfReader(io.BytesIO(data))


def texts(data: bytes) -> list[str]:
    """The text of every page as pypdf extracts it."""
    return [page.extract_text() or "" for page in reader(data).pages]


def _resolve(obj: object) -> Any:  # pypdf objects: dictionaries, arrays, streams
    return obj.get_object() if isinstance(obj, IndirectObject) else obj


def fonts_of(data: bytes) -> Iterator[tuple[int, str, DictionaryObject]]:
    """``(page number, font name, font dictionary)`` of every font every page uses."""
    for number, page in enumerate(reader(data).pages, start=1):
        resources = _resolve(page.get("/Resources")) or {}
        fonts = _resolve(resources.get("/Font")) or {}
        for name, ref in fonts.items():
            yield number, str(name), _resolve(ref)


def is_embedded(font: DictionaryObject) -> bool:
    """Whether a font's program is in the file (FontFile, FontFile2 or FontFile3)."""
    descriptors = []
    if "/FontDescriptor" in font:
        descriptors.append(_resolve(font["/FontDescriptor"]))
    for descendant in _resolve(font.get("/DescendantFonts")) or []:
        descendant = _resolve(descendant)
        descriptors.append(_resolve(descendant.get("/FontDescriptor")))
    return bool(descriptors) and all(
        any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3"))
        for descriptor in descriptors
    )


_RECT = re.compile(rb"(-?[\d.]+) (-?[\d.]+) (-?[\d.]+) (-?[\d.]+) re")


def qr_modules(data: bytes, page_index: int, count: int) -> list[list[bool]]:
    """The QR code drawn in the footer of a page, read back from its rectangles."""
    page = reader(data).pages[page_index]
    contents = page.get_contents()
    assert contents is not None, "the page draws nothing"
    stream = contents.get_data()
    resources = _resolve(page.get("/Resources")) or {}
    xobjects = _resolve(resources.get("/XObject")) or {}
    for name, ref in xobjects.items():  # forms drawn on this page ("/Name Do")
        form = _resolve(ref)
        if f"{name} Do".encode() in stream and form.get("/Subtype") == "/Form":
            matrix = [float(v) for v in form.get("/Matrix", [1, 0, 0, 1, 0, 0])]
            assert matrix == [1, 0, 0, 1, 0, 0], matrix
            stream += b"\n" + form.get_data()
    left = PAGE_WIDTH - MARGIN_X - QR_SIZE
    bottom_limit = MARGIN_BOTTOM
    cell = QR_SIZE / count
    grid = [[False] * count for _ in range(count)]
    tops = []
    for match in _RECT.finditer(stream):
        x, y, w, h = (float(v) for v in match.groups())
        if x >= left - 0.5 and y < bottom_limit and abs(h - cell) < 0.01:
            tops.append((x, y, w))
    top = max(y for _x, y, _w in tops) + cell
    for x, y, w in tops:
        row = round((top - y) / cell) - 1
        start = round((x - left) / cell)
        for col in range(start, start + round(w / cell)):
            grid[row][col] = True
    return grid
