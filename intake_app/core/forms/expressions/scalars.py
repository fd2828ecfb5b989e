"""Dates and numbers as the expression language holds them, shared by the checker, the
evaluator and the built-in functions (which build on this module, not on each other)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Context, Decimal, DivisionByZero, InvalidOperation, Overflow
from typing import Any

from intake_app.core.forms.errors import ExpressionError
from intake_app.i18n import _

MAX_MAGNITUDE = 10**15
DECIMAL_CONTEXT = Context(
    prec=28, Emax=999, Emin=-999, traps=[InvalidOperation, DivisionByZero, Overflow]
)
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_date_literal(text: str) -> date | None:
    """``'2024-01-31'`` as a date, or None when it is not a valid ISO date."""
    if not _DATE_RE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def is_number(value: Any) -> bool:
    """True for ``int`` (not ``bool``) and finite ``Decimal``."""
    kind = type(value)
    return kind is int or (kind is Decimal and value.is_finite())


def check_magnitude(value: int | Decimal) -> int | Decimal:
    """Return ``value`` unless it is too large for a form (a guard against blow-ups)."""
    if not -MAX_MAGNITUDE <= value <= MAX_MAGNITUDE:
        raise ExpressionError(_("Eine Zahl liegt außerhalb des erlaubten Bereichs (±10^15)."))
    return value
