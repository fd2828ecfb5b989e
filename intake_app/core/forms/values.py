"""Answers as stored (plain JSON) and as the expression language sees them.

Stored answers are JSON-able: text -> ``str``; integer -> ``int``; decimal -> a decimal
string such as ``"12.5"`` (numbers are accepted too); date -> ``"YYYY-MM-DD"``; yes/no ->
``bool``; choice -> its value; multiple choice -> ``list[str]``; reference -> its code
(a list of codes with ``multiple: true``); CEFR -> ``"none"``, ``"A1"`` … ``"C2"``;
repeat -> ``list[dict]`` keyed by child id; consent -> see ``consent.py``. ``None`` or a
missing key means unanswered; so does an empty text or list.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from intake_app.core.forms.expressions.scalars import MAX_MAGNITUDE, parse_date_literal
from intake_app.core.forms.expressions.types import CEFR_LEVELS, CEFR_RANK
from intake_app.core.forms.model import Question, QuestionType
from intake_app.core.forms.reference import reference_list
from intake_app.i18n import N_

Translate = Callable[[str], str]
_DECIMAL_RE = re.compile(r"-?[0-9]{1,15}([.,][0-9]{1,10})?")

MSG_TEXT = N_("Bitte einen Text eingeben.")
MSG_TOO_LONG = N_("Der Text ist zu lang (höchstens {n} Zeichen).")
MSG_INTEGER = N_("Bitte eine ganze Zahl eingeben.")
MSG_DECIMAL = N_("Bitte eine Zahl eingeben, z. B. 12,5.")
MSG_MIN = N_("Der Wert muss mindestens {min} sein.")
MSG_MAX = N_("Der Wert darf höchstens {max} sein.")
MSG_DATE = N_("Bitte ein gültiges Datum angeben (JJJJ-MM-TT).")
MSG_YES_NO = N_("Bitte Ja oder Nein wählen.")
MSG_CHOICE = N_("„{value}“ ist keine gültige Auswahl.")
MSG_MULTI = N_("Bitte eine Liste von Auswahlen angeben.")
MSG_DUPLICATE = N_("„{value}“ ist doppelt ausgewählt.")
MSG_REFERENCE = N_("„{value}“ ist in der Liste nicht enthalten; bitte aus der Liste wählen.")
MSG_CEFR = N_("Bitte ein Sprachniveau wählen: none, A1, A2, B1, B2, C1 oder C2.")
MSG_REPEAT = N_("Die Einträge dieser Gruppe sind beschädigt (erwartet wird eine Liste).")


def is_empty(raw: Any) -> bool:
    """True when ``raw`` counts as unanswered."""
    if raw is None:
        return True
    if isinstance(raw, str):
        return not raw.strip()
    if isinstance(raw, (list, tuple, dict)):
        return len(raw) == 0
    return False


def _number(raw: Any) -> Decimal | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return Decimal(raw) if abs(raw) <= MAX_MAGNITUDE else None
    if isinstance(raw, float):
        if raw != raw or raw in (float("inf"), float("-inf")) or abs(raw) > MAX_MAGNITUDE:
            return None
        return Decimal(repr(raw))
    if isinstance(raw, str) and _DECIMAL_RE.fullmatch(raw.strip()):
        try:
            return Decimal(raw.strip().replace(",", "."))
        except InvalidOperation:  # pragma: no cover - excluded by the pattern
            return None
    return None


def _range(question: Question, value: int | Decimal, tr: Translate) -> str | None:
    if question.min is not None and value < question.min:
        return tr(MSG_MIN).format(min=question.min)
    if question.max is not None and value > question.max:
        return tr(MSG_MAX).format(max=question.max)
    return None


def _codes(question: Question) -> frozenset[str]:
    codes = reference_list(question.reference).codes() if question.reference else frozenset()
    if question.choices:
        codes = codes | frozenset(question.choice_values)
    return codes


def to_runtime(question: Question, raw: Any, tr: Translate) -> tuple[Any, str | None]:
    """Convert a stored answer to its run-time value; ``(None, message)`` when invalid.

    Some invalid answers still have a usable value (a text that is too long); then both
    are returned. Repeat groups and consent blocks are handled by the engine.
    """
    if is_empty(raw):
        return None, None
    qtype = question.type
    if qtype in (QuestionType.TEXT, QuestionType.LONG_TEXT):
        if not isinstance(raw, str):
            return None, tr(MSG_TEXT)
        limit = question.max_length or 0
        if limit and len(raw) > limit:
            return raw, tr(MSG_TOO_LONG).format(n=limit)
        return raw, None
    if qtype is QuestionType.INTEGER:
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            return None, tr(MSG_INTEGER)
        if isinstance(raw, float):
            if not raw.is_integer():
                return None, tr(MSG_INTEGER)
            raw = int(raw)
        if abs(raw) > MAX_MAGNITUDE:
            return None, tr(MSG_INTEGER)
        return raw, _range(question, raw, tr)
    if qtype is QuestionType.DECIMAL:
        number = _number(raw)
        if number is None:
            return None, tr(MSG_DECIMAL)
        return number, _range(question, number, tr)
    if qtype is QuestionType.DATE:
        day = parse_date_literal(raw) if isinstance(raw, str) else None
        return (day, None) if day is not None else (None, tr(MSG_DATE))
    if qtype is QuestionType.YES_NO:
        return (raw, None) if isinstance(raw, bool) else (None, tr(MSG_YES_NO))
    if qtype is QuestionType.CHOICE:
        if isinstance(raw, str) and question.choice(raw) is not None:
            return raw, None
        return None, tr(MSG_CHOICE).format(value=_short(raw))
    if qtype is QuestionType.MULTI_CHOICE:
        return _multi(raw, frozenset(question.choice_values), tr, MSG_CHOICE)
    if qtype is QuestionType.REFERENCE:
        codes = _codes(question)
        if question.multiple:
            return _multi(raw, codes, tr, MSG_REFERENCE)
        if isinstance(raw, str) and raw in codes:
            return raw, None
        return None, tr(MSG_REFERENCE).format(value=_short(raw))
    if qtype is QuestionType.CEFR:
        if isinstance(raw, str) and raw in CEFR_RANK:
            return CEFR_RANK[raw], None
        return None, tr(MSG_CEFR)
    return None, None


def _multi(
    raw: Any, allowed: frozenset[str], tr: Translate, message: str
) -> tuple[Any, str | None]:
    if not isinstance(raw, (list, tuple)):
        return None, tr(MSG_MULTI)
    seen: list[str] = []
    for item in raw:
        if not isinstance(item, str) or item not in allowed:
            return None, tr(message).format(value=_short(item))
        if item in seen:
            return None, tr(MSG_DUPLICATE).format(value=item)
        seen.append(item)
    return tuple(seen), None


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:39] + "…"


def to_json(question: Question | None, value: Any) -> Any:
    """A run-time value as it would be stored (for computed values)."""
    if value is None:
        return None
    if question is not None and question.type is QuestionType.CEFR and type(value) is int:
        return CEFR_LEVELS[value] if 0 <= value < len(CEFR_LEVELS) else None
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        text = (
            format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")
        )
        return text
    if isinstance(value, tuple):
        return list(value)
    return value
