"""The expression language of form files: tokenizer, parser, checker and evaluator.

Use :func:`compile_expression` to parse and check an expression once (at form load) and
:class:`Evaluator` to evaluate it as often as needed. See ``docs/forms.md`` for the
language reference.
"""

from __future__ import annotations

from dataclasses import dataclass

from intake_app.core.forms.errors import ExpressionError
from intake_app.core.forms.expressions.checker import Checker, Scope
from intake_app.core.forms.expressions.evaluator import Environment, Evaluator
from intake_app.core.forms.expressions.functions import FUNCTIONS
from intake_app.core.forms.expressions.nodes import Binding, Name, Node, SelfRef, walk
from intake_app.core.forms.expressions.parser import parse
from intake_app.core.forms.expressions.types import Kind, Type

__all__ = [
    "FUNCTIONS",
    "Binding",
    "CompiledExpression",
    "Environment",
    "Evaluator",
    "ExpressionError",
    "Kind",
    "Scope",
    "Type",
    "compile_expression",
    "parse",
]


@dataclass(frozen=True, slots=True)
class CompiledExpression:
    """A parsed and checked expression.

    Attributes:
        source: the text as written in the form.
        tree: the checked syntax tree.
        type: its static type.
        references: ids of the questions it reads (for dependency checks).
    """

    source: str
    tree: Node
    type: Type
    references: frozenset[str]


def compile_expression(source: str, scope: Scope, *, condition: bool = False) -> CompiledExpression:
    """Parse and check ``source`` in ``scope``; with ``condition`` it must be true/false.

    Raises:
        ExpressionError: a syntax error, an unknown name, a type error; with the column.
    """
    tree = parse(source)
    checker = Checker(source)
    if condition:
        checker.check_condition(tree, scope)
        result_type = Type(Kind.BOOL)
    else:
        result_type = checker.check(tree, scope)
    references = frozenset(
        node.binding.qid
        for node in walk(tree)
        if isinstance(node, (Name, SelfRef))
        and node.binding is not None
        and node.binding.kind == "question"
    )
    return CompiledExpression(source, tree, result_type, references)
