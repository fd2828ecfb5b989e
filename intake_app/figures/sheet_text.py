"""The words around the outcome figures, the same on paper and on screen (no reportlab
here: the window imports this at start)."""

from __future__ import annotations

from collections.abc import Callable


def number(text: str, lang: str) -> str:
    """A shown cell in the reader's language: ``12.5`` is ``12,5`` in German."""
    return text.replace(".", ",") if lang == "de" else text


def label(tr: Callable[[str], str], text: str) -> str:
    """A message id translated (an empty text stays empty: gettext would give the
    catalog's header)."""
    return tr(text) if text else ""


def legend(tr: Callable[[str], str], min_count: int) -> str:
    """What ``<5``, ``x`` and ``–`` mean."""
    return tr(
        "„<{n}“: weniger als {n} Fälle, nicht gezeigt. „x“: nicht gezeigt, damit sich "
        "ein kleiner Wert nicht aus einer Summe errechnen lässt. „–“: kein Fall. "
        "Ein Median wird erst ab {n} Fällen gezeigt."
    ).format(n=min_count)
