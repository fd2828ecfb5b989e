"""Dates and moments in the reader's language ("01.04.1990" / "01/04/1990").

The lowest layer of ``core`` (Babel only): the form engine's messages, the displayed
answers (``core/display.py``) and the printouts all format dates here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache

from babel.dates import format_date, format_datetime


def babel_locale(lang: str) -> str:
    """Babel locale for a language code."""
    return {"de": "de_DE", "en": "en_GB"}.get(lang, lang)


def format_iso_date(value: str | None, lang: str = "de") -> str:
    """ "1990-04-01" -> "01.04.1990" (de) / "01/04/1990" (en); other text unchanged."""
    if not value:
        return ""
    if type(value) is str:
        return _cached_iso_date(value, lang)
    return _iso_date(value, lang)


def _iso_date(value: str, lang: str) -> str:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return str(value)
    pattern = "dd.MM.yyyy" if lang == "de" else "dd/MM/yyyy"
    return format_date(day, pattern, locale=babel_locale(lang))


#: :func:`format_iso_date` made once per date and language: a batch of printouts shows
#: the same dates (interview days, deadlines) many times, and Babel parses the locale
#: and builds the text anew on every call.
_cached_iso_date = lru_cache(maxsize=4096)(_iso_date)


def format_timestamp(moment: datetime | None, lang: str = "de") -> str:
    """A moment in local time: "24.11.2026 17:30" (de) / "24/11/2026 17:30" (en)."""
    if moment is None:
        return "–"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    pattern = "dd.MM.yyyy HH:mm" if lang == "de" else "dd/MM/yyyy HH:mm"
    return format_datetime(moment.astimezone(), pattern, locale=babel_locale(lang))
