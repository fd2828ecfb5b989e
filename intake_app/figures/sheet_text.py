"""The words around the outcome figures, the same on paper and on screen (no reportlab
here: the window imports this at start)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .summary import Summary


def number(text: str, lang: str) -> str:
    """A shown cell in the reader's language: ``12.5`` is ``12,5`` in German."""
    return text.replace(".", ",") if lang == "de" else text


def label(tr: Callable[[str], str], text: str) -> str:
    """A message id translated (an empty text stays empty: gettext would give the
    catalog's header)."""
    return tr(text) if text else ""


def legend(tr: Callable[[str], str], min_count: int) -> str:
    """What ``0``, ``<5``, ``x`` and ``–`` mean (``–`` stands only for a median)."""
    return tr(
        "„0“: kein Fall. „<{n}“: weniger als {n} Fälle, nicht gezeigt. „x“: nicht gezeigt, "
        "damit sich ein kleiner Wert nicht aus einer Summe errechnen lässt. „–“ als Median: "
        "kein Median, da weniger als {n} Fälle (ein Median wird erst ab {n} Fällen gezeigt)."
    ).format(n=min_count)


def day_text(day: date, lang: str) -> str:
    """A day as the reader writes it: ``31.03.2026``, in English ``31/03/2026``."""
    return day.strftime("%d.%m.%Y" if lang == "de" else "%d/%m/%Y")


def period_text(tr: Callable[[str], str], summary: Summary, lang: str) -> str:
    """The period a sheet counts: the one asked for (both days inclusive), else the
    months of its cases."""
    period = summary.period
    if period.start is not None and period.end is not None:
        text = tr("Zeitraum: {first} bis {last}").format(
            first=day_text(period.start, lang), last=day_text(period.end, lang)
        )
    elif period.start is not None:
        text = tr("Zeitraum: ab {first}").format(first=day_text(period.start, lang))
    elif period.end is not None:
        text = tr("Zeitraum: bis {last}").format(last=day_text(period.end, lang))
    elif summary.first_month:
        return tr("Zeitraum: {first} bis {last}").format(
            first=summary.first_month, last=summary.last_month
        )
    else:
        return tr("Keine Fälle")
    return text if summary.cases else " · ".join((text, tr("Keine Fälle")))
