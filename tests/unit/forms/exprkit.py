"""Helpers for expression tests: a tiny scope and environment without a form file."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from intake_app.core.forms.expressions import (
    Binding,
    CompiledExpression,
    Evaluator,
    compile_expression,
)
from intake_app.core.forms.expressions.types import (
    BOOL,
    CEFR,
    CONSENT,
    DATE,
    INTEGER,
    NUMBER,
    TEXT,
    Kind,
    Type,
    list_of,
)
from intake_app.core.records import EXPIRY_WARNING_DAYS

DAY = date(2026, 3, 2)

#: name -> (type, repeat depth); "items" is a repeat group with child "n" and "flag".
TYPES: dict[str, tuple[Type, int]] = {
    "b": (BOOL, 0),
    "c": (BOOL, 0),
    "i": (INTEGER, 0),
    "d": (NUMBER, 0),
    "t": (TEXT, 0),
    "dt": (DATE, 0),
    "lvl": (CEFR, 0),
    "doc": (Type(Kind.TEXT, domain=frozenset({"ae", "duldung"}), owner="doc"), 0),
    "multi": (list_of(Type(Kind.TEXT, domain=frozenset({"x", "y", "z"}), owner="multi")), 0),
    "consent": (CONSENT, 0),
    "items": (Type(Kind.REPEAT, repeat="items"), 0),
    "n": (INTEGER, 1),
    "flag": (BOOL, 1),
}


@dataclass
class MiniScope:
    """A scope over :data:`TYPES`; ``chain`` is the repeat context."""

    chain: tuple[str, ...] = ()
    self_name: str | None = None
    choice: Type | None = None

    def lookup(self, name: str) -> tuple[Type, Binding] | str:
        if name not in TYPES:
            return f"unknown question {name}"
        kind, depth = TYPES[name]
        if depth > len(self.chain):
            return f"{name} is inside a group"
        return kind, Binding("question", name, depth)

    def lookup_self(self) -> tuple[Type, Binding] | str:
        if self.self_name is None:
            return "no self here"
        return self.lookup(self.self_name)

    def inside(self, repeat_qid: str) -> MiniScope | str:
        if repeat_qid != "items":
            return "not a group"
        return MiniScope(("items",), self.self_name, self.choice)

    def choice_type(self) -> Type | None:
        return self.choice


@dataclass
class MiniEnv:
    """Values for :data:`TYPES`; ``items`` is a list of dicts with ``n`` and ``flag``."""

    values: dict[str, Any] = field(default_factory=dict)
    items: list[dict[str, Any]] = field(default_factory=list)
    today: date = DAY
    choice: tuple[Any, tuple[str, ...]] = (None, ())
    expiry_warning_days: int = EXPIRY_WARNING_DAYS

    def value(self, binding: Binding, context: tuple[int, ...]) -> Any:
        if binding.qid == "items":
            return len(self.items)
        if binding.depth == 1:
            return self.items[context[0]].get(binding.qid)
        return self.values.get(binding.qid)

    def item_count(self, binding: Binding, context: tuple[int, ...]) -> int:
        return len(self.items)

    def choice_value(self) -> Any:
        return self.choice[0]

    def choice_tags(self) -> tuple[str, ...]:
        return self.choice[1]


def compiled(source: str, *, condition: bool = False, **scope: Any) -> CompiledExpression:
    """Compile ``source`` against :class:`MiniScope`."""
    return compile_expression(source, MiniScope(**scope), condition=condition)


def run(
    source: str, env: MiniEnv | None = None, context: tuple[int, ...] = (), **scope: Any
) -> Any:
    """Compile and evaluate ``source``."""
    expression = compiled(source, **scope)
    return Evaluator(env or MiniEnv()).evaluate(expression.tree, context)
