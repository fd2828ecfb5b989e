"""A reportlab canvas for a printout to be filed: embedded fonts from the first word and
PDF/A-2b (``pdfa.py``) declared right before the file is written."""

from __future__ import annotations

from typing import Any

from reportlab.pdfgen.canvas import Canvas

from intake_app.pdf import fonts, pdfa


class ArchiveCanvas(Canvas):  # type: ignore[misc]
    """Starts in the embedded font (reportlab's Helvetica is not embedded) and marks the
    file as PDF/A-2b in the document's language."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        fonts.register_fonts()
        if not kwargs.get("initialFontName"):
            kwargs["initialFontName"] = fonts.LATIN
            kwargs["initialFontSize"] = 9
        super().__init__(*args, **kwargs)

    def save(self) -> None:
        lang = getattr(self._doc.Catalog, "Lang", None)
        pdfa.apply(self, lang=str(getattr(lang, "s", lang) or "de"))
        super().save()
