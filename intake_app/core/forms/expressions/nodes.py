"""The syntax tree of the expression language.

Nodes are small slotted classes. The parser builds them; the checker fills in
``binding`` on names (which question or special value a name refers to) and may replace
text literals by the typed values they stand for (``'B1'`` compared with a CEFR level,
``'2024-01-01'`` compared with a date). The evaluator only reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Binding:
    """What a name means at run time.

    Attributes:
        kind: ``"question"`` (an answer or computed value), ``"choice"`` (the value of the
            choice being filtered) or ``"choice_tags"`` (its tags).
        qid: the question id for ``"question"``.
        depth: how many repeat groups enclose the question (its index path length).
    """

    kind: str
    qid: str = ""
    depth: int = 0


class Node:
    """Base of all nodes; ``column`` is 1-based, ``depth`` the height of the subtree."""

    __slots__ = ("column", "depth")

    def __init__(self, column: int, depth: int = 1) -> None:
        self.column = column
        self.depth = depth

    def children(self) -> tuple[Node, ...]:
        """The direct sub-expressions."""
        return ()


class Literal(Node):
    """A number, text, true/false, or (after checking) a date or CEFR rank."""

    __slots__ = ("value",)

    def __init__(self, value: Any, column: int) -> None:
        super().__init__(column)
        self.value = value

    def __repr__(self) -> str:
        return f"Literal({self.value!r})"


class ListLiteral(Node):
    """``[a, b, c]``, used on the right of ``in``."""

    __slots__ = ("items",)

    def __init__(self, items: list[Node], column: int) -> None:
        super().__init__(column, 1 + max((item.depth for item in items), default=0))
        self.items = items

    def children(self) -> tuple[Node, ...]:
        return tuple(self.items)

    def __repr__(self) -> str:
        return f"ListLiteral({self.items!r})"


class Name(Node):
    """A question id, or ``choice``/``choice_tags`` inside a choice filter."""

    __slots__ = ("binding", "name")

    def __init__(self, name: str, column: int) -> None:
        super().__init__(column)
        self.name = name
        self.binding: Binding | None = None

    def __repr__(self) -> str:
        return f"Name({self.name!r})"


class SelfRef(Node):
    """``.``: the value of the question the expression belongs to."""

    __slots__ = ("binding",)

    def __init__(self, column: int) -> None:
        super().__init__(column)
        self.binding: Binding | None = None

    def __repr__(self) -> str:
        return "SelfRef()"


class Unary(Node):
    """``not x`` or ``-x``."""

    __slots__ = ("op", "operand")

    def __init__(self, op: str, operand: Node, column: int) -> None:
        super().__init__(column, operand.depth + 1)
        self.op = op
        self.operand = operand

    def children(self) -> tuple[Node, ...]:
        return (self.operand,)

    def __repr__(self) -> str:
        return f"Unary({self.op!r}, {self.operand!r})"


class Binary(Node):
    """Arithmetic, comparison or membership: ``+ - * / = != < <= > >= in`` and ``not in``."""

    __slots__ = ("left", "op", "right")

    def __init__(self, op: str, left: Node, right: Node, column: int) -> None:
        super().__init__(column, max(left.depth, right.depth) + 1)
        self.op = op
        self.left = left
        self.right = right

    def children(self) -> tuple[Node, ...]:
        return (self.left, self.right)

    def __repr__(self) -> str:
        return f"Binary({self.op!r}, {self.left!r}, {self.right!r})"


class Logical(Node):
    """``a and b and c`` or ``a or b`` (n-ary, so long chains stay shallow)."""

    __slots__ = ("op", "operands")

    def __init__(self, op: str, operands: list[Node], column: int) -> None:
        super().__init__(column, 1 + max(operand.depth for operand in operands))
        self.op = op
        self.operands = operands

    def children(self) -> tuple[Node, ...]:
        return tuple(self.operands)

    def __repr__(self) -> str:
        return f"Logical({self.op!r}, {self.operands!r})"


class Call(Node):
    """A function call ``name(arg, ...)``."""

    __slots__ = ("args", "extra", "name")

    def __init__(self, name: str, args: list[Node], column: int) -> None:
        super().__init__(column, 1 + max((arg.depth for arg in args), default=0))
        self.name = name
        self.args = args
        self.extra: Any = None  # set by the checker, e.g. a compiled pattern for matches()

    def children(self) -> tuple[Node, ...]:
        return tuple(self.args)

    def __repr__(self) -> str:
        return f"Call({self.name!r}, {self.args!r})"


def walk(node: Node) -> list[Node]:
    """All nodes of the tree, parents before children (iterative, no recursion limit)."""
    result: list[Node] = []
    stack = [node]
    while stack:
        current = stack.pop()
        result.append(current)
        stack.extend(reversed(current.children()))
    return result
