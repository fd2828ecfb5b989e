"""Evaluation of expressions by walking the syntax tree (no ``eval``, no code generation).

Null semantics (documented in ``docs/forms.md``): an unanswered or hidden question is
*null*. Arithmetic and comparisons with null give null; ``and``/``or``/``not`` follow
three-valued (Kleene) logic, so ``false and null`` is false and ``true or null`` is true.
Functions say what they do with null. Where the engine needs a decision, null counts as
"no": a relevance, a conditional ``required`` or a choice filter that is null is false,
and a constraint that is null is not violated.

Whatever tree and values it gets, the evaluator raises nothing but
:class:`ExpressionError`; type errors that the checker prevents are checked again here,
because trees can also be built by code.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Protocol

from intake_app.core.forms.errors import ExpressionError
from intake_app.core.forms.expressions.functions import FUNCTIONS
from intake_app.core.forms.expressions.nodes import (
    Binary,
    Binding,
    Call,
    ListLiteral,
    Literal,
    Logical,
    Name,
    Node,
    SelfRef,
    Unary,
)
from intake_app.core.forms.expressions.scalars import (
    DECIMAL_CONTEXT,
    check_magnitude,
    is_number,
)
from intake_app.i18n import _

MAX_TEXT_LENGTH = 10_000
MAX_TREE_DEPTH = 200
MAX_DAYS = 3_000_000


class Environment(Protocol):
    """What the evaluator needs from its surroundings (the engine, or a test)."""

    today: date
    #: the setting ``records.expiry_warning_days`` (``expiry_warning_days()``)
    expiry_warning_days: int

    def value(self, binding: Binding, context: tuple[int, ...]) -> Any:
        """The run-time value of a bound question at ``context`` (None when null)."""
        ...

    def item_count(self, binding: Binding, context: tuple[int, ...]) -> int:
        """How many items the repeat group ``binding`` has at ``context``."""
        ...

    def choice_value(self) -> Any:
        """The value of the choice being filtered."""
        ...

    def choice_tags(self) -> tuple[str, ...]:
        """The tags of the choice being filtered."""
        ...


def _type_error(op: str, left: Any, right: Any = None) -> ExpressionError:
    return ExpressionError(
        _("„{op}“ lässt sich nicht auf diese Werte anwenden ({left}, {right}).").format(
            op=op, left=type(left).__name__, right=type(right).__name__
        )
    )


def strict_equal(left: Any, right: Any) -> bool:
    """Equality without Python's ``True == 1``; numbers compare by value."""
    if is_number(left) and is_number(right):
        return bool(left == right)
    if type(left) is not type(right):
        raise _type_error("=", left, right)
    return bool(left == right)


class Evaluator:
    """Evaluates trees against one :class:`Environment`."""

    __slots__ = ("env",)

    def __init__(self, env: Environment) -> None:
        self.env = env

    def evaluate(self, node: Node, context: tuple[int, ...] = ()) -> Any:
        """The value of ``node`` at ``context`` (an index path into repeat groups)."""
        if not isinstance(node, Node):
            raise ExpressionError(_("Kein gültiger Ausdruck."))
        if node.depth > MAX_TREE_DEPTH:
            raise ExpressionError(_("Der Ausdruck ist zu tief verschachtelt."))
        try:
            return self.eval(node, context)
        except ExpressionError:
            raise
        except (TypeError, ValueError, ArithmeticError, RecursionError) as error:
            # Defence in depth: the checks below should make this unreachable.
            raise ExpressionError(
                _("Der Ausdruck lässt sich nicht auswerten: {problem}").format(problem=error)
            ) from None

    def eval(self, node: Node, context: tuple[int, ...]) -> Any:
        """Evaluate a sub-tree (used by the function table)."""
        handler = _DISPATCH.get(type(node))
        if handler is None:
            raise ExpressionError(_("Kein gültiger Ausdruck."))
        return handler(self, node, context)

    def condition(self, node: Node, context: tuple[int, ...]) -> bool | None:
        """Evaluate a condition; raise unless the result is true, false or null."""
        value = self.eval(node, context)
        if value is None or type(value) is bool:
            return value
        raise ExpressionError(_("Eine Bedingung ergab keinen Wahrheitswert."))

    def repeat_items(self, node: Node, context: tuple[int, ...]) -> tuple[int, tuple[int, ...]]:
        """Number of items of the repeat group named by ``node`` and the prefix for them."""
        if not isinstance(node, Name) or node.binding is None or node.binding.kind != "question":
            raise ExpressionError(_("Hier wird eine Wiederholungsgruppe erwartet."))
        binding = node.binding
        if len(context) < binding.depth:
            raise ExpressionError(_("Die Wiederholungsgruppe liegt außerhalb des Kontexts."))
        prefix = context[: binding.depth]
        count = self.env.item_count(binding, prefix)
        if type(count) is not int or count < 0:
            raise ExpressionError(_("Ungültige Anzahl von Einträgen."))
        return count, prefix

    # -- node kinds ---------------------------------------------------------------------
    def _literal(self, node: Literal, context: tuple[int, ...]) -> Any:
        value = node.value
        if is_number(value):
            return check_magnitude(value)
        if value is None or type(value) in (bool, str, date):
            return value
        raise ExpressionError(_("Ungültiger Wert im Ausdruck."))

    def _list(self, node: ListLiteral, context: tuple[int, ...]) -> tuple[Any, ...]:
        return tuple(self.eval(item, context) for item in node.items)

    def _name(self, node: Name, context: tuple[int, ...]) -> Any:
        binding = node.binding
        if binding is None:
            raise ExpressionError(
                _("„{name}“ ist nicht zugeordnet (Ausdruck nicht geprüft).").format(name=node.name)
            )
        return self._bound(binding, context)

    def _self(self, node: SelfRef, context: tuple[int, ...]) -> Any:
        if node.binding is None:
            raise ExpressionError(_("„.“ ist hier nicht zugeordnet."))
        return self._bound(node.binding, context)

    def _bound(self, binding: Binding, context: tuple[int, ...]) -> Any:
        if binding.kind == "question":
            if len(context) < binding.depth:
                raise ExpressionError(_("Die Frage liegt außerhalb des Kontexts."))
            return self.env.value(binding, context[: binding.depth])
        if binding.kind == "choice":
            return self.env.choice_value()
        if binding.kind == "choice_tags":
            return self.env.choice_tags()
        raise ExpressionError(_("Unbekannte Zuordnung."))

    def _unary(self, node: Unary, context: tuple[int, ...]) -> Any:
        value = self.eval(node.operand, context)
        if value is None:
            return None
        if node.op == "not":
            if type(value) is bool:
                return not value
            raise _type_error("not", value)
        if node.op == "-" and is_number(value):
            return -value
        raise _type_error(node.op, value)

    def _logical(self, node: Logical, context: tuple[int, ...]) -> bool | None:
        stop = node.op == "or"  # the value that decides the result at once
        if node.op not in ("and", "or") or not node.operands:
            raise ExpressionError(_("Ungültige Verknüpfung."))
        result: bool | None = not stop
        for operand in node.operands:
            value = self.eval(operand, context)
            if value is stop:
                return stop
            if value is None:
                result = None
            elif type(value) is not bool:
                raise _type_error(node.op, value)
        return result

    def _binary(self, node: Binary, context: tuple[int, ...]) -> Any:
        op = node.op
        left = self.eval(node.left, context)
        right = self.eval(node.right, context)
        if op in ("in", "not in"):
            if left is None or right is None:
                return None
            if type(right) not in (tuple, list):
                raise _type_error(op, left, right)
            found = any(item is not None and strict_equal(left, item) for item in right)
            return found if op == "in" else not found
        if left is None or right is None:
            return None
        handler = _BINARY.get(op)
        if handler is None:
            raise ExpressionError(_("Unbekannter Operator „{op}“.").format(op=op))
        return handler(left, right)


def _compare_order(op: str) -> Callable[[Any, Any], bool]:
    def compare(left: Any, right: Any) -> bool:
        comparable = (is_number(left) and is_number(right)) or (
            type(left) is date and type(right) is date
        )
        if not comparable:
            raise _type_error(op, left, right)
        if op == "<":
            return bool(left < right)
        if op == "<=":
            return bool(left <= right)
        if op == ">":
            return bool(left > right)
        return bool(left >= right)

    return compare


def _number_op(op: str, left: Any, right: Any) -> int | Decimal:
    if type(left) is int and type(right) is int and op != "/":
        if op == "+":
            return check_magnitude(left + right)
        if op == "-":
            return check_magnitude(left - right)
        return check_magnitude(left * right)
    a, b = Decimal(left), Decimal(right)
    if op == "/" and b == 0:
        raise ExpressionError(_("Division durch null."))
    if op == "+":
        result = DECIMAL_CONTEXT.add(a, b)
    elif op == "-":
        result = DECIMAL_CONTEXT.subtract(a, b)
    elif op == "*":
        result = DECIMAL_CONTEXT.multiply(a, b)
    else:
        result = DECIMAL_CONTEXT.divide(a, b)
    return check_magnitude(result)


def shift_date(day: date, days: Any) -> date:
    """``day`` plus ``days`` whole days, with a clear error outside the calendar."""
    if type(days) is not int:
        raise ExpressionError(_("Zu einem Datum lassen sich nur ganze Tage addieren."))
    if abs(days) > MAX_DAYS:
        raise ExpressionError(_("Das Datum liegt außerhalb des gültigen Bereichs."))
    try:
        return day + timedelta(days=days)
    except OverflowError:
        raise ExpressionError(_("Das Datum liegt außerhalb des gültigen Bereichs.")) from None


def _plus(left: Any, right: Any) -> Any:
    if is_number(left) and is_number(right):
        return _number_op("+", left, right)
    if type(left) is date:
        return shift_date(left, right)
    if type(right) is date:
        return shift_date(right, left)
    if type(left) is str and type(right) is str:
        if len(left) + len(right) > MAX_TEXT_LENGTH:
            raise ExpressionError(_("Der Text wird zu lang."))
        return left + right
    raise _type_error("+", left, right)


def _minus(left: Any, right: Any) -> Any:
    if is_number(left) and is_number(right):
        return _number_op("-", left, right)
    if type(left) is date and type(right) is date:
        return (left - right).days
    if type(left) is date:
        if type(right) is not int:
            raise _type_error("-", left, right)
        return shift_date(left, -right)
    raise _type_error("-", left, right)


def _arith(op: str) -> Callable[[Any, Any], Any]:
    def apply(left: Any, right: Any) -> Any:
        if is_number(left) and is_number(right):
            return _number_op(op, left, right)
        raise _type_error(op, left, right)

    return apply


def _equal(left: Any, right: Any) -> bool:
    return strict_equal(left, right)


def _not_equal(left: Any, right: Any) -> bool:
    return not strict_equal(left, right)


_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "+": _plus,
    "-": _minus,
    "*": _arith("*"),
    "/": _arith("/"),
    "=": _equal,
    "!=": _not_equal,
    "<": _compare_order("<"),
    "<=": _compare_order("<="),
    ">": _compare_order(">"),
    ">=": _compare_order(">="),
}


def _call(evaluator: Evaluator, node: Call, context: tuple[int, ...]) -> Any:
    spec = FUNCTIONS.get(node.name)
    if spec is None:
        raise ExpressionError(_("Unbekannte Funktion „{name}“.").format(name=node.name))
    if not spec.min_args <= len(node.args) <= spec.max_args:
        raise ExpressionError(
            _("Falsche Anzahl von Argumenten für {name}().").format(name=node.name)
        )
    return spec.run(evaluator, node, context)


_DISPATCH: dict[type, Callable[[Evaluator, Any, tuple[int, ...]], Any]] = {
    Literal: Evaluator._literal,
    ListLiteral: Evaluator._list,
    Name: Evaluator._name,
    SelfRef: Evaluator._self,
    Unary: Evaluator._unary,
    Logical: Evaluator._logical,
    Binary: Evaluator._binary,
    Call: _call,
}
