"""The built-in functions: how each is checked at load time and evaluated at run time.

Each entry names its arguments for messages and documentation. Functions that evaluate
an expression once per item of a repeat group (``count``, ``any``, ``all``, ``sum``,
``min``, ``max`` with a group as first argument) check that expression in the group's
scope, so it can name the group's questions directly.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from intake_app.core.forms.errors import ExpressionError
from intake_app.core.forms.expressions.helpers import (
    add_months,
    consent_part,
    full_years,
    is_latin_text,
)
from intake_app.core.forms.expressions.nodes import Call, Literal
from intake_app.core.forms.expressions.scalars import (
    DECIMAL_CONTEXT,
    check_magnitude,
    is_number,
    parse_date_literal,
)
from intake_app.core.forms.expressions.types import (
    BOOL,
    DATE,
    INTEGER,
    NUMBER,
    TEXT,
    Kind,
    Type,
)
from intake_app.core.records import EXPIRY_WARNING_DAYS
from intake_app.i18n import _

if TYPE_CHECKING:
    from intake_app.core.forms.expressions.checker import Checker, Scope
    from intake_app.core.forms.expressions.evaluator import Evaluator

Context = tuple[int, ...]
MAX_PATTERN_LENGTH = 300
MAX_MATCH_LENGTH = 2000


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """One built-in function."""

    name: str
    min_args: int
    max_args: int
    signature: str
    check: Callable[[Checker, Call, Scope], Type]
    run: Callable[[Evaluator, Call, Context], Any]

    def check_arity(self, checker: Checker, node: Call) -> None:
        """Raise when ``node`` has too few or too many arguments."""
        count = len(node.args)
        if self.min_args <= count <= self.max_args:
            return
        raise checker.error(
            _("{name}() bekommt {count} Argument(e), erwartet: {signature}.").format(
                name=self.name, count=count, signature=self.signature
            ),
            node,
        )


def suggest(name: str) -> str:
    """A "did you mean" hint for an unknown function name."""
    close = difflib.get_close_matches(name, list(FUNCTIONS), n=1)
    return _(" Meinten Sie „{name}“?").format(name=close[0]) if close else ""


# -- shared helpers ---------------------------------------------------------------------


def _arg(checker: Checker, node: Call, index: int, scope: Scope, kind: Kind) -> Type:
    """Check argument ``index`` is of ``kind`` (text literals become dates or levels)."""
    arg = node.args[index]
    actual = checker.check(arg, scope)
    if kind in (Kind.DATE, Kind.CEFR) and _is_text_literal(arg):
        node.args[index] = checker.coerce(arg, Type(kind))
        return Type(kind)
    checker.require(
        arg,
        actual,
        kind,
        _("Argument {n} von {name}() muss {expected} sein").format(
            n=index + 1, name=node.name, expected=Type(kind).describe()
        ),
    )
    return actual


def _repeat_scope(checker: Checker, node: Call, scope: Scope) -> Scope:
    """The scope of the group named by the first argument (which must be a repeat group)."""
    group = checker.check(node.args[0], scope)
    checker.require(
        node.args[0],
        group,
        Kind.REPEAT,
        _("Argument 1 von {name}() muss eine Wiederholungsgruppe sein").format(name=node.name),
    )
    inner = scope.inside(group.repeat or "")
    if isinstance(inner, str):
        raise checker.error(inner, node.args[0])
    return inner


def _is_text_literal(node: Any) -> bool:
    return isinstance(node, Literal) and isinstance(node.value, str)


def _date(value: Any) -> date | None:
    if value is None:
        return None
    if type(value) is not date:
        raise ExpressionError(_("Hier wird ein Datum erwartet."))
    return value


def _int(value: Any) -> int | None:
    if value is None:
        return None
    if type(value) is not int:
        raise ExpressionError(_("Hier wird eine ganze Zahl erwartet."))
    return value


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if type(value) is not str:
        raise ExpressionError(_("Hier wird ein Text erwartet."))
    return value


# -- checks ------------------------------------------------------------------------------


def _check_today(checker: Checker, node: Call, scope: Scope) -> Type:
    return DATE


def _check_age(checker: Checker, node: Call, scope: Scope) -> Type:
    for index in range(len(node.args)):
        _arg(checker, node, index, scope, Kind.DATE)
    return INTEGER


def _check_date(checker: Checker, node: Call, scope: Scope) -> Type:
    _arg(checker, node, 0, scope, Kind.TEXT)
    arg = node.args[0]
    if isinstance(arg, Literal) and isinstance(arg.value, str):
        if parse_date_literal(arg.value) is None:
            raise checker.error(
                _("„{text}“ ist kein gültiges Datum; schreiben Sie JJJJ-MM-TT.").format(
                    text=arg.value
                ),
                arg,
            )
    return DATE


def _check_date_part(checker: Checker, node: Call, scope: Scope) -> Type:
    _arg(checker, node, 0, scope, Kind.DATE)
    return INTEGER


def _check_add_months(checker: Checker, node: Call, scope: Scope) -> Type:
    _arg(checker, node, 0, scope, Kind.DATE)
    months = _arg(checker, node, 1, scope, Kind.NUMBER)
    if not months.integer:
        raise checker.error(_("add_months() braucht eine ganze Zahl von Monaten."), node.args[1])
    return DATE


def _check_count(checker: Checker, node: Call, scope: Scope) -> Type:
    first = checker.check(node.args[0], scope)
    if first.kind is Kind.LIST and len(node.args) == 1:
        return INTEGER
    if first.kind is not Kind.REPEAT:
        raise checker.error(
            _(
                "count() zählt die Einträge einer Wiederholungsgruppe oder die gewählten Werte "
                "einer Mehrfachauswahl, nicht {found}."
            ).format(found=first.describe()),
            node.args[0],
        )
    if len(node.args) == 2:
        inner = _repeat_scope(checker, node, scope)
        checker.check_condition(node.args[1], inner)
    return INTEGER


def _check_quantifier(checker: Checker, node: Call, scope: Scope) -> Type:
    inner = _repeat_scope(checker, node, scope)
    checker.check_condition(node.args[1], inner)
    return BOOL


def _check_sum(checker: Checker, node: Call, scope: Scope) -> Type:
    inner = _repeat_scope(checker, node, scope)
    value = checker.check(node.args[1], inner)
    checker.require(node.args[1], value, Kind.NUMBER, _("sum() addiert nur Zahlen"))
    return INTEGER if value.integer else NUMBER


_ORDERED = (Kind.NUMBER, Kind.DATE, Kind.CEFR)


def _check_extreme(checker: Checker, node: Call, scope: Scope) -> Type:
    first = checker.check(node.args[0], scope)
    if first.kind is Kind.REPEAT:
        node.extra = "group"
        if len(node.args) != 2:
            raise checker.error(
                _("{name}(gruppe, ausdruck) braucht genau zwei Argumente.").format(name=node.name),
                node,
            )
        inner = _repeat_scope(checker, node, scope)
        value = checker.check(node.args[1], inner)
        if value.kind not in _ORDERED:
            raise checker.error(
                _("{name}() vergleicht nur Zahlen, Daten und Sprachniveaus, nicht {found}.").format(
                    name=node.name, found=value.describe()
                ),
                node.args[1],
            )
        return value
    types = [first] + [checker.check(arg, scope) for arg in node.args[1:]]
    target = next(
        (
            t
            for t, a in zip(types, node.args, strict=True)
            if not (isinstance(a, Literal) and isinstance(a.value, str))
        ),
        types[0],
    )
    if target.kind not in _ORDERED:
        raise checker.error(
            _("{name}() vergleicht nur Zahlen, Daten und Sprachniveaus, nicht {found}.").format(
                name=node.name, found=target.describe()
            ),
            node,
        )
    integer = True
    for index, arg in enumerate(node.args):
        node.args[index] = checker.coerce(arg, target)
        actual = target if _is_text_literal(arg) else types[index]
        if actual.kind is not target.kind:
            raise checker.error(
                _(
                    "{name}(): alle Argumente müssen vom selben Typ sein ({first} und {other})."
                ).format(name=node.name, first=target.describe(), other=actual.describe()),
                arg,
            )
        integer = integer and actual.integer
    if target.kind is Kind.NUMBER:
        return INTEGER if integer else NUMBER
    return target


def _check_selected(checker: Checker, node: Call, scope: Scope) -> Type:
    options = checker.check(node.args[0], scope)
    checker.require(
        node.args[0],
        options,
        Kind.LIST,
        _("Argument 1 von selected() muss eine Mehrfachauswahl sein"),
    )
    item = options.item or TEXT
    value = checker.check(node.args[1], scope)
    node.args[1] = checker.coerce(node.args[1], item)
    if value.kind is not item.kind and not (
        isinstance(node.args[1], Literal) and item.kind in (Kind.DATE, Kind.CEFR)
    ):
        raise checker.error(
            _("selected(): der Wert muss {expected} sein, gefunden wurde {found}.").format(
                expected=item.describe(), found=value.describe()
            ),
            node.args[1],
        )
    return BOOL


def _check_len(checker: Checker, node: Call, scope: Scope) -> Type:
    value = checker.check(node.args[0], scope)
    if value.kind not in (Kind.TEXT, Kind.LIST):
        raise checker.error(
            _("len() misst Texte und Listen, nicht {found}.").format(found=value.describe()),
            node.args[0],
        )
    return INTEGER


def _check_answered(checker: Checker, node: Call, scope: Scope) -> Type:
    if checker.check(node.args[0], scope).kind is Kind.REPEAT:
        node.extra = "group"
    return BOOL


def _same_type(checker: Checker, node: Call, scope: Scope, args: list[int]) -> Type:
    types = {index: checker.check(node.args[index], scope) for index in args}
    target = next((types[i] for i in args if not _is_text_literal(node.args[i])), types[args[0]])
    integer = True
    for index in args:
        literal = _is_text_literal(node.args[index])
        node.args[index] = checker.coerce(node.args[index], target)
        actual = types[index]
        if literal and target.kind in (Kind.DATE, Kind.CEFR):
            actual = target
        if actual.kind is not target.kind:
            raise checker.error(
                _("{name}(): die Werte müssen vom selben Typ sein ({first} und {other}).").format(
                    name=node.name, first=target.describe(), other=actual.describe()
                ),
                node.args[index],
            )
        integer = integer and actual.integer
    if target.kind is Kind.NUMBER:
        return INTEGER if integer else NUMBER
    if target.kind is Kind.TEXT and any(types[i].domain != target.domain for i in args):
        return TEXT
    return target


def _check_coalesce(checker: Checker, node: Call, scope: Scope) -> Type:
    return _same_type(checker, node, scope, list(range(len(node.args))))


def _check_if(checker: Checker, node: Call, scope: Scope) -> Type:
    checker.check_condition(node.args[0], scope)
    return _same_type(checker, node, scope, [1, 2])


def _check_matches(checker: Checker, node: Call, scope: Scope) -> Type:
    _arg(checker, node, 0, scope, Kind.TEXT)
    pattern = node.args[1]
    if not (isinstance(pattern, Literal) and isinstance(pattern.value, str)):
        raise checker.error(
            _("Das Muster von matches() muss als Text in Anführungszeichen dastehen."), pattern
        )
    if len(pattern.value) > MAX_PATTERN_LENGTH:
        raise checker.error(
            _("Das Muster ist zu lang (höchstens {n} Zeichen).").format(n=MAX_PATTERN_LENGTH),
            pattern,
        )
    try:
        node.extra = re.compile(pattern.value)
    except re.error as error:
        raise checker.error(
            _("Das Muster von matches() ist ungültig: {problem}.").format(problem=error), pattern
        ) from None
    return BOOL


def _check_text_to_bool(checker: Checker, node: Call, scope: Scope) -> Type:
    _arg(checker, node, 0, scope, Kind.TEXT)
    return BOOL


def _check_number(checker: Checker, node: Call, scope: Scope) -> Type:
    value = _arg(checker, node, 0, scope, Kind.TEXT)
    if value.domain and all(item.isdigit() for item in value.domain):
        return INTEGER
    return NUMBER


def _check_round(checker: Checker, node: Call, scope: Scope) -> Type:
    value = _arg(checker, node, 0, scope, Kind.NUMBER)
    if len(node.args) == 1:
        return INTEGER
    digits = node.args[1]
    if not (isinstance(digits, Literal) and type(digits.value) is int and 0 <= digits.value <= 10):
        raise checker.error(
            _("Die Stellen von round() müssen eine feste ganze Zahl von 0 bis 10 sein."), digits
        )
    return INTEGER if digits.value == 0 or value.integer else NUMBER


def _check_consented(checker: Checker, node: Call, scope: Scope) -> Type:
    _arg(checker, node, 0, scope, Kind.CONSENT)
    if len(node.args) > 1:
        _arg(checker, node, 1, scope, Kind.TEXT)
    return BOOL


# -- run ---------------------------------------------------------------------------------


def _run_today(ev: Evaluator, node: Call, ctx: Context) -> date:
    return ev.env.today


def _check_warning_days(checker: Checker, node: Call, scope: Scope) -> Type:
    return INTEGER


def _run_warning_days(ev: Evaluator, node: Call, ctx: Context) -> int:
    return int(getattr(ev.env, "expiry_warning_days", EXPIRY_WARNING_DAYS))


def _run_age(ev: Evaluator, node: Call, ctx: Context) -> int | None:
    born = _date(ev.eval(node.args[0], ctx))
    on = _date(ev.eval(node.args[1], ctx)) if len(node.args) > 1 else ev.env.today
    if born is None or on is None:
        return None
    return full_years(born, on)


def _run_date(ev: Evaluator, node: Call, ctx: Context) -> date | None:
    text = _text(ev.eval(node.args[0], ctx))
    return None if text is None else parse_date_literal(text)


def _date_part(part: str) -> Callable[[Evaluator, Call, Context], int | None]:
    def run(ev: Evaluator, node: Call, ctx: Context) -> int | None:
        day = _date(ev.eval(node.args[0], ctx))
        return None if day is None else int(getattr(day, part))

    return run


def _run_add_months(ev: Evaluator, node: Call, ctx: Context) -> date | None:
    day = _date(ev.eval(node.args[0], ctx))
    months = _int(ev.eval(node.args[1], ctx))
    if day is None or months is None:
        return None
    return add_months(day, months)


def _items(ev: Evaluator, node: Call, ctx: Context) -> list[Context]:
    count, prefix = ev.repeat_items(node.args[0], ctx)
    return [(*prefix, index) for index in range(count)]


def _run_count(ev: Evaluator, node: Call, ctx: Context) -> int:
    if len(node.args) == 1:
        value = ev.eval(node.args[0], ctx)
        if value is None:
            return 0
        if type(value) is int and value >= 0:
            return value  # a repeat group evaluates to its number of items
        if type(value) in (tuple, list):
            return len(value)
        raise ExpressionError(_("count() braucht eine Gruppe oder eine Liste."))
    return sum(1 for item in _items(ev, node, ctx) if ev.condition(node.args[1], item) is True)


def _run_any(ev: Evaluator, node: Call, ctx: Context) -> bool:
    return any(ev.condition(node.args[1], item) is True for item in _items(ev, node, ctx))


def _run_all(ev: Evaluator, node: Call, ctx: Context) -> bool:
    return all(ev.condition(node.args[1], item) is True for item in _items(ev, node, ctx))


def _run_sum(ev: Evaluator, node: Call, ctx: Context) -> int | Decimal:
    total: int | Decimal = 0
    for item in _items(ev, node, ctx):
        value = ev.eval(node.args[1], item)
        if value is None:
            continue
        if not is_number(value):
            raise ExpressionError(_("sum() addiert nur Zahlen."))
        total = check_magnitude(
            total + value
            if type(total) is int and type(value) is int
            else DECIMAL_CONTEXT.add(Decimal(total), Decimal(value))
        )
    return total


def _ordered(values: list[Any]) -> list[Any]:
    present = [value for value in values if value is not None]
    if not present:
        return present
    if all(is_number(value) for value in present) or all(type(v) is date for v in present):
        return present
    raise ExpressionError(_("min() und max() vergleichen nur Werte desselben Typs."))


def _extreme(pick: Callable[[list[Any]], Any]) -> Callable[[Evaluator, Call, Context], Any]:
    def run(ev: Evaluator, node: Call, ctx: Context) -> Any:
        if len(node.args) == 2 and _is_group(ev, node, ctx):
            values = [ev.eval(node.args[1], item) for item in _items(ev, node, ctx)]
        else:
            values = [ev.eval(arg, ctx) for arg in node.args]
        present = _ordered(values)
        return pick(present) if present else None

    return run


def _is_group(ev: Evaluator, node: Call, ctx: Context) -> bool:
    return node.extra == "group"


def _run_selected(ev: Evaluator, node: Call, ctx: Context) -> bool:
    options = ev.eval(node.args[0], ctx)
    value = ev.eval(node.args[1], ctx)
    if options is None or value is None:
        return False
    if type(options) not in (tuple, list):
        raise ExpressionError(_("selected() braucht eine Mehrfachauswahl."))
    return any(type(item) is type(value) and item == value for item in options)


def _run_len(ev: Evaluator, node: Call, ctx: Context) -> int:
    value = ev.eval(node.args[0], ctx)
    if value is None:
        return 0
    if type(value) in (str, tuple, list):
        return len(value)
    raise ExpressionError(_("len() misst Texte und Listen."))


def _run_answered(ev: Evaluator, node: Call, ctx: Context) -> bool:
    value = ev.eval(node.args[0], ctx)
    if value is None:
        return False
    if type(value) in (str, tuple, list, dict):
        return len(value) > 0
    if node.extra == "group" and type(value) is int:
        return value > 0
    return True


def _run_coalesce(ev: Evaluator, node: Call, ctx: Context) -> Any:
    for arg in node.args:
        value = ev.eval(arg, ctx)
        if value is not None:
            return value
    return None


def _run_if(ev: Evaluator, node: Call, ctx: Context) -> Any:
    chosen = node.args[1] if ev.condition(node.args[0], ctx) is True else node.args[2]
    return ev.eval(chosen, ctx)


def _run_matches(ev: Evaluator, node: Call, ctx: Context) -> bool | None:
    text = _text(ev.eval(node.args[0], ctx))
    if text is None:
        return None
    pattern = node.extra
    if not isinstance(pattern, re.Pattern):
        raw = node.args[1]
        if not (isinstance(raw, Literal) and isinstance(raw.value, str)):
            raise ExpressionError(_("Das Muster von matches() muss ein fester Text sein."))
        try:
            pattern = re.compile(raw.value[:MAX_PATTERN_LENGTH])
        except re.error:
            raise ExpressionError(_("Das Muster von matches() ist ungültig.")) from None
    if len(text) > MAX_MATCH_LENGTH:
        return False
    return pattern.fullmatch(text) is not None


def _run_latin(ev: Evaluator, node: Call, ctx: Context) -> bool | None:
    text = _text(ev.eval(node.args[0], ctx))
    return None if text is None else is_latin_text(text)


def _run_number(ev: Evaluator, node: Call, ctx: Context) -> int | Decimal | None:
    text = _text(ev.eval(node.args[0], ctx))
    if text is None:
        return None
    cleaned = text.strip().replace(",", ".")
    if not cleaned or len(cleaned) > 40:
        return None
    if cleaned.lstrip("-").isdigit() and cleaned.isascii():
        return check_magnitude(int(cleaned))
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    return check_magnitude(value) if value.is_finite() else None


def _run_round(ev: Evaluator, node: Call, ctx: Context) -> int | Decimal | None:
    value = ev.eval(node.args[0], ctx)
    digits = ev.eval(node.args[1], ctx) if len(node.args) > 1 else 0
    if value is None:
        return None
    if not is_number(value) or type(digits) is not int or not 0 <= digits <= 10:
        raise ExpressionError(_("round() braucht eine Zahl und 0 bis 10 Stellen."))
    if type(value) is int:
        return value
    quantum = Decimal(1).scaleb(-digits)
    rounded = value.quantize(quantum, rounding=ROUND_HALF_UP, context=DECIMAL_CONTEXT)
    return int(rounded) if digits == 0 else rounded


def _run_consented(ev: Evaluator, node: Call, ctx: Context) -> bool:
    consent = ev.eval(node.args[0], ctx)
    if len(node.args) == 1:
        return consent_part(consent, None, ev.env.today)
    purpose = _text(ev.eval(node.args[1], ctx))
    return purpose is not None and consent_part(consent, purpose, ev.env.today)


def _run_art9(ev: Evaluator, node: Call, ctx: Context) -> bool:
    return consent_part(ev.eval(node.args[0], ctx), None, ev.env.today)


_MANY = 64

FUNCTIONS: dict[str, FunctionSpec] = {
    spec.name: spec
    for spec in (
        FunctionSpec("today", 0, 0, "today()", _check_today, _run_today),
        FunctionSpec(
            "expiry_warning_days",
            0,
            0,
            "expiry_warning_days()",
            _check_warning_days,
            _run_warning_days,
        ),
        FunctionSpec("age", 1, 2, "age(datum[, stichtag])", _check_age, _run_age),
        FunctionSpec("date", 1, 1, "date('JJJJ-MM-TT')", _check_date, _run_date),
        FunctionSpec("year", 1, 1, "year(datum)", _check_date_part, _date_part("year")),
        FunctionSpec("month", 1, 1, "month(datum)", _check_date_part, _date_part("month")),
        FunctionSpec("day", 1, 1, "day(datum)", _check_date_part, _date_part("day")),
        FunctionSpec(
            "add_months", 2, 2, "add_months(datum, monate)", _check_add_months, _run_add_months
        ),
        FunctionSpec(
            "count",
            1,
            2,
            "count(gruppe[, bedingung]) oder count(mehrfachauswahl)",
            _check_count,
            _run_count,
        ),
        FunctionSpec("any", 2, 2, "any(gruppe, bedingung)", _check_quantifier, _run_any),
        FunctionSpec("all", 2, 2, "all(gruppe, bedingung)", _check_quantifier, _run_all),
        FunctionSpec("sum", 2, 2, "sum(gruppe, zahl)", _check_sum, _run_sum),
        FunctionSpec(
            "min",
            1,
            _MANY,
            "min(a, b, …) oder min(gruppe, ausdruck)",
            _check_extreme,
            _extreme(min),
        ),
        FunctionSpec(
            "max",
            1,
            _MANY,
            "max(a, b, …) oder max(gruppe, ausdruck)",
            _check_extreme,
            _extreme(max),
        ),
        FunctionSpec(
            "selected", 2, 2, "selected(mehrfachauswahl, wert)", _check_selected, _run_selected
        ),
        FunctionSpec("len", 1, 1, "len(text oder liste)", _check_len, _run_len),
        FunctionSpec("answered", 1, 1, "answered(frage)", _check_answered, _run_answered),
        FunctionSpec("coalesce", 2, _MANY, "coalesce(a, b, …)", _check_coalesce, _run_coalesce),
        FunctionSpec("if", 3, 3, "if(bedingung, dann, sonst)", _check_if, _run_if),
        FunctionSpec("matches", 2, 2, "matches(text, 'muster')", _check_matches, _run_matches),
        FunctionSpec("latin", 1, 1, "latin(text)", _check_text_to_bool, _run_latin),
        FunctionSpec("number", 1, 1, "number(text)", _check_number, _run_number),
        FunctionSpec("round", 1, 2, "round(zahl[, stellen])", _check_round, _run_round),
        FunctionSpec(
            "consented", 2, 2, "consented(einwilligung, 'zweck')", _check_consented, _run_consented
        ),
        FunctionSpec(
            "art9_consented", 1, 1, "art9_consented(einwilligung)", _check_consented, _run_art9
        ),
    )
}
