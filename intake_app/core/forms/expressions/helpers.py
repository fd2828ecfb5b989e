"""Calendar, script and consent helpers used by the built-in functions."""

from __future__ import annotations

import calendar
import unicodedata
from datetime import date
from typing import Any

from intake_app.core.forms.errors import ExpressionError
from intake_app.core.forms.expressions.scalars import parse_date_literal
from intake_app.i18n import _


def full_years(born: date, on: date) -> int:
    """Completed years between two dates (an age)."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months; the day is clipped to the month's end."""
    if abs(months) > 12 * 5000:
        raise ExpressionError(_("Das Datum liegt außerhalb des gültigen Bereichs."))
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise ExpressionError(_("Das Datum liegt außerhalb des gültigen Bereichs."))
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def consent_part(value: Any, purpose: str | None, today: date) -> bool:
    """True when ``purpose`` (or the Art. 9 consent) is granted and not withdrawn by today."""
    if not isinstance(value, dict):
        return False
    if purpose is None:
        part = value.get("art9")
    else:
        purposes = value.get("purposes")
        part = purposes.get(purpose) if isinstance(purposes, dict) else None
    if not isinstance(part, dict) or part.get("granted") is not True:
        return False
    withdrawn = part.get("withdrawn_on")
    if withdrawn is None:
        return True
    day = parse_date_literal(withdrawn) if isinstance(withdrawn, str) else None
    return day is not None and day > today


def is_latin_text(text: str) -> bool:
    """True when every letter of ``text`` belongs to the Latin script."""
    for char in text:
        if char.isalpha() and not unicodedata.name(char, "").startswith("LATIN"):
            return False
    return True
