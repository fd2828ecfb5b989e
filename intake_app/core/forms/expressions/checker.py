"""Static checking of parsed expressions against a form, once, at load time.

The checker resolves every name through a :class:`Scope` (which the form loader provides),
infers the type of every sub-expression, turns text literals into dates or CEFR levels
where they are compared with such values, and verifies that choice values written in an
expression exist. Anything wrong raises :class:`ExpressionError` with the column.
"""

from __future__ import annotations

from datetime import date
from typing import Protocol

from intake_app.core.forms.errors import ExpressionError
from intake_app.core.forms.expressions.functions import FUNCTIONS, suggest
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
from intake_app.core.forms.expressions.scalars import parse_date_literal
from intake_app.core.forms.expressions.types import (
    BOOL,
    CEFR_LEVELS,
    CEFR_RANK,
    DATE,
    INTEGER,
    NUMBER,
    TEXT,
    Kind,
    Type,
    list_of,
)
from intake_app.i18n import _

_DOMAIN_LIST_LIMIT = 12


class Scope(Protocol):
    """Resolves names for the checker; provided by the form loader (or by tests)."""

    def lookup(self, name: str) -> tuple[Type, Binding] | str:
        """Type and binding of ``name``, or a message saying why it cannot be used."""
        ...

    def lookup_self(self) -> tuple[Type, Binding] | str:
        """Type and binding of ``.``, or a message saying why it cannot be used here."""
        ...

    def inside(self, repeat_qid: str) -> Scope | str:
        """The scope for expressions evaluated per item of ``repeat_qid``."""
        ...

    def choice_type(self) -> Type | None:
        """The type of ``choice`` inside a choice filter; None elsewhere."""
        ...


def format_domain(domain: frozenset[str]) -> str:
    """A short listing of allowed values for messages."""
    values = sorted(domain)
    if len(values) > _DOMAIN_LIST_LIMIT:
        return ", ".join(values[:_DOMAIN_LIST_LIMIT]) + ", …"
    return ", ".join(values)


class Checker:
    """Checks one expression; ``source`` is only used for error messages."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, message: str, node: Node) -> ExpressionError:
        """An :class:`ExpressionError` pointing at ``node``."""
        return ExpressionError(message, column=node.column, source=self.source)

    # -- entry points ----------------------------------------------------------------------
    def check(self, node: Node, scope: Scope) -> Type:
        """Infer the type of ``node`` (and annotate the tree)."""
        if isinstance(node, Literal):
            return self._literal(node)
        if isinstance(node, Name):
            return self._name(node, scope)
        if isinstance(node, SelfRef):
            found = scope.lookup_self()
            if isinstance(found, str):
                raise self.error(found, node)
            node.binding = found[1]
            return found[0]
        if isinstance(node, Unary):
            return self._unary(node, scope)
        if isinstance(node, Logical):
            for operand in node.operands:
                self.require(
                    operand,
                    self.check(operand, scope),
                    Kind.BOOL,
                    _("„{op}“ verbindet nur Bedingungen").format(op=node.op),
                )
            return BOOL
        if isinstance(node, Binary):
            return self._binary(node, scope)
        if isinstance(node, ListLiteral):
            return self._list(node, scope)
        if isinstance(node, Call):
            spec = FUNCTIONS.get(node.name)
            if spec is None:
                raise self.error(
                    _("Unbekannte Funktion „{name}“.{hint}").format(
                        name=node.name, hint=suggest(node.name)
                    ),
                    node,
                )
            spec.check_arity(self, node)
            return spec.check(self, node, scope)
        raise self.error(_("Unbekannter Ausdruck."), node)

    def check_condition(self, node: Node, scope: Scope) -> None:
        """Check that ``node`` is a condition (true/false)."""
        self.require(
            node,
            self.check(node, scope),
            Kind.BOOL,
            _("Hier wird eine Bedingung erwartet (wahr oder falsch)"),
        )

    # -- helpers used by the function table ---------------------------------------------
    def require(self, node: Node, actual: Type, kind: Kind, what: str) -> None:
        """Raise unless ``actual`` is of ``kind``; ``what`` says what is expected."""
        if actual.kind is not kind:
            raise self.error(
                _("{what}, gefunden wurde {found}.").format(what=what, found=actual.describe()),
                node,
            )

    def coerce(self, node: Node, target: Type) -> Node:
        """Turn a text literal into a value of ``target`` (date, CEFR) or check its choice."""
        if isinstance(node, ListLiteral) and target.kind is not Kind.LIST:
            node.items = [self.coerce(item, target) for item in node.items]
            return node
        if not isinstance(node, Literal) or not isinstance(node.value, str):
            return node
        text = node.value
        if target.kind is Kind.DATE:
            parsed = parse_date_literal(text)
            if parsed is None:
                raise self.error(
                    _(
                        "„{text}“ ist kein gültiges Datum; schreiben Sie JJJJ-MM-TT, "
                        "z. B. '2024-01-31'."
                    ).format(text=text),
                    node,
                )
            return Literal(parsed, node.column)
        if target.kind is Kind.CEFR:
            canonical = {level.lower(): level for level in CEFR_LEVELS}.get(text.lower())
            if canonical is None:
                raise self.error(
                    _("„{text}“ ist kein Sprachniveau; möglich sind: {levels}.").format(
                        text=text, levels=", ".join(CEFR_LEVELS)
                    ),
                    node,
                )
            return Literal(CEFR_RANK[canonical], node.column)
        if target.kind is Kind.TEXT and target.domain is not None and text not in target.domain:
            if target.owner:
                message = _("„{text}“ ist keine Auswahl von „{owner}“; möglich sind: {values}.")
            else:
                message = _("„{text}“ ist hier kein möglicher Wert; möglich sind: {values}.")
            raise self.error(
                message.format(text=text, owner=target.owner, values=format_domain(target.domain)),
                node,
            )
        return node

    def unify(self, left: Node, lt: Type, right: Node, rt: Type) -> tuple[Node, Node, Type, Type]:
        """Coerce literals on either side towards the other side's type."""
        if _is_text_literal(left) and rt.kind in (Kind.DATE, Kind.CEFR, Kind.TEXT):
            left = self.coerce(left, rt)
            lt = rt if rt.kind is not Kind.TEXT else lt
        elif _is_text_literal(right) and lt.kind in (Kind.DATE, Kind.CEFR, Kind.TEXT):
            right = self.coerce(right, lt)
            rt = lt if lt.kind is not Kind.TEXT else rt
        return left, right, lt, rt

    # -- node kinds --------------------------------------------------------------------------
    def _literal(self, node: Literal) -> Type:
        value = node.value
        if isinstance(value, bool):
            return BOOL
        if isinstance(value, int):
            return INTEGER
        if isinstance(value, str):
            return TEXT
        if isinstance(value, date):
            return DATE
        return NUMBER

    def _name(self, node: Name, scope: Scope) -> Type:
        if node.name in ("choice", "choice_tags"):
            choice_type = scope.choice_type()
            if choice_type is None:
                raise self.error(
                    _("„{name}“ gibt es nur in einem choice_filter.").format(name=node.name), node
                )
            if node.name == "choice":
                node.binding = Binding("choice")
                return choice_type
            node.binding = Binding("choice_tags")
            return list_of(TEXT)
        found = scope.lookup(node.name)
        if isinstance(found, str):
            raise self.error(found, node)
        node.binding = found[1]
        return found[0]

    def _unary(self, node: Unary, scope: Scope) -> Type:
        operand = self.check(node.operand, scope)
        if node.op == "not":
            self.require(node.operand, operand, Kind.BOOL, _("„not“ verneint nur Bedingungen"))
            return BOOL
        self.require(node.operand, operand, Kind.NUMBER, _("Ein Minuszeichen braucht eine Zahl"))
        return operand

    def _list(self, node: ListLiteral, scope: Scope) -> Type:
        item_type: Type | None = None
        for item in node.items:
            current = self.check(item, scope)
            if current.kind in (Kind.LIST, Kind.REPEAT, Kind.CONSENT):
                raise self.error(_("Eine Liste kann nur einfache Werte enthalten."), item)
            if item_type is None:
                item_type = current
            elif item_type.kind is not current.kind:
                raise self.error(
                    _(
                        "Alle Einträge einer Liste müssen vom selben Typ sein: {first} und {other}."
                    ).format(first=item_type.describe(), other=current.describe()),
                    item,
                )
            elif item_type.kind is Kind.NUMBER and not current.integer:
                item_type = NUMBER
        return list_of(item_type or TEXT)

    def _binary(self, node: Binary, scope: Scope) -> Type:
        lt = self.check(node.left, scope)
        rt = self.check(node.right, scope)
        op = node.op
        if op in ("in", "not in"):
            return self._membership(node, lt, rt)
        if op in ("=", "!=", "<", "<=", ">", ">="):
            node.left, node.right, lt, rt = self.unify(node.left, lt, node.right, rt)
            if lt.kind in (Kind.LIST, Kind.REPEAT, Kind.CONSENT) or rt.kind in (
                Kind.LIST,
                Kind.REPEAT,
                Kind.CONSENT,
            ):
                found = lt if lt.kind in (Kind.LIST, Kind.REPEAT, Kind.CONSENT) else rt
                raise self.error(
                    _(
                        "„{op}“ vergleicht nur einzelne Werte, nicht {found}; für Mehrfachauswahl "
                        "nutzen Sie selected(frage, 'wert') oder count(…)."
                    ).format(op=op, found=found.describe()),
                    node,
                )
            if lt.kind is not rt.kind:
                raise self.error(
                    _(
                        "„{op}“ braucht zwei Werte desselben Typs, links steht {left}, rechts "
                        "{right}."
                    ).format(op=op, left=lt.describe(), right=rt.describe()),
                    node,
                )
            if op not in ("=", "!=") and lt.kind not in (Kind.NUMBER, Kind.DATE, Kind.CEFR):
                raise self.error(
                    _("„{op}“ ordnet nur Zahlen, Daten und Sprachniveaus, nicht {found}.").format(
                        op=op, found=lt.describe()
                    ),
                    node,
                )
            return BOOL
        return self._arithmetic(node, lt, rt)

    def _membership(self, node: Binary, lt: Type, rt: Type) -> Type:
        if rt.kind is not Kind.LIST:
            raise self.error(
                _(
                    "Rechts von „{op}“ muss eine Liste stehen, z. B. ['a', 'b'] oder eine "
                    "Mehrfachauswahl; gefunden wurde {found}."
                ).format(op=node.op, found=rt.describe()),
                node.right,
            )
        item = rt.item or TEXT
        if isinstance(node.right, ListLiteral):
            if _is_text_literal(node.left) and item.kind is not Kind.TEXT:
                node.left = self.coerce(node.left, item)
                lt = item
            else:
                node.right = self.coerce(node.right, lt)
                if lt.kind in (Kind.DATE, Kind.CEFR):
                    item = lt
        elif _is_text_literal(node.left):
            node.left = self.coerce(node.left, item)
            if item.kind is not Kind.TEXT:
                lt = item
        if lt.kind in (Kind.LIST, Kind.REPEAT, Kind.CONSENT):
            raise self.error(
                _("Links von „{op}“ muss ein einzelner Wert stehen, nicht {found}.").format(
                    op=node.op, found=lt.describe()
                ),
                node.left,
            )
        if isinstance(node.right, ListLiteral) and not node.right.items:
            return BOOL
        if lt.kind is not item.kind:
            raise self.error(
                _("„{op}“: links steht {left}, die Liste enthält aber {right}.").format(
                    op=node.op, left=lt.describe(), right=item.describe()
                ),
                node,
            )
        return BOOL

    def _arithmetic(self, node: Binary, lt: Type, rt: Type) -> Type:
        op = node.op
        lk, rk = lt.kind, rt.kind
        if lk is Kind.NUMBER and rk is Kind.NUMBER:
            if op == "/":
                return NUMBER
            return INTEGER if lt.integer and rt.integer else NUMBER
        if op == "+" and lk is Kind.TEXT and rk is Kind.TEXT:
            return TEXT
        if op in ("+", "-") and lk is Kind.DATE and rk is Kind.NUMBER:
            self._require_days(node.right, rt)
            return DATE
        if op == "+" and lk is Kind.NUMBER and rk is Kind.DATE:
            self._require_days(node.left, lt)
            return DATE
        if op == "-" and lk is Kind.DATE and rk is Kind.DATE:
            return INTEGER
        raise self.error(
            _(
                "„{op}“ passt nicht zu {left} und {right}. Möglich sind Zahl {op} Zahl, "
                "Datum ± ganze Zahl (Tage), Datum − Datum (Tage) und Text + Text."
            ).format(op=op, left=lt.describe(), right=rt.describe()),
            node,
        )

    def _require_days(self, node: Node, actual: Type) -> None:
        if not actual.integer:
            raise self.error(
                _("Zu einem Datum lassen sich nur ganze Tage addieren; runden Sie mit round()."),
                node,
            )


def _is_text_literal(node: Node) -> bool:
    return isinstance(node, Literal) and isinstance(node.value, str)
