"""Recursive-descent parser of the expression language.

Grammar (lowest precedence first; see ``docs/forms.md``)::

    expression     := or_expr
    or_expr        := and_expr ("or" and_expr)*
    and_expr       := not_expr ("and" not_expr)*
    not_expr       := "not" not_expr | comparison
    comparison     := additive [ compare_op additive | ["not"] "in" additive ]
    compare_op     := "=" | "==" | "!=" | "<" | "<=" | ">" | ">="
    additive       := multiplicative (("+" | "-") multiplicative)*
    multiplicative := unary (("*" | "/") unary)*
    unary          := "-" unary | primary
    primary        := NUMBER | STRING | "true" | "false" | "." | NAME
                    | NAME "(" [expression ("," expression)*] ")"
                    | "(" expression ")" | "[" [expression ("," expression)*] "]"

Comparisons do not chain (``a < b < c`` is an error that says how to write it).
Nesting is limited so that no input can exhaust the stack.
"""

from __future__ import annotations

from decimal import Decimal

from intake_app.core.forms.errors import ExpressionError
from intake_app.core.forms.expressions.lexer import Token, TokenKind, tokenize
from intake_app.core.forms.expressions.nodes import (
    Binary,
    Call,
    ListLiteral,
    Literal,
    Logical,
    Name,
    Node,
    SelfRef,
    Unary,
)
from intake_app.i18n import _

MAX_DEPTH = 48
MAX_ARGUMENTS = 64
MAX_LIST_ITEMS = 200

_COMPARE = frozenset({"=", "==", "!=", "<", "<=", ">", ">="})


def parse(source: str) -> Node:
    """Parse ``source`` into a syntax tree.

    Raises:
        ExpressionError: with the column of the first problem.
    """
    tokens = tokenize(source)
    parser = _Parser(source, tokens)
    if tokens[0].kind is TokenKind.END:
        raise ExpressionError(_("Der Ausdruck ist leer."), column=1, source=source)
    node = parser.expression()
    token = parser.peek()
    if token.kind is not TokenKind.END:
        raise parser.unexpected(token, _("das Ende des Ausdrucks oder ein Operator"))
    return node


def _describe(token: Token) -> str:
    if token.kind is TokenKind.END:
        return _("das Ende des Ausdrucks")
    if token.kind is TokenKind.STRING:
        return _("den Text „{text}“").format(text=token.text[:30])
    return f"„{token.text}“"


class _Parser:
    """State of one parse: the tokens and the current position and nesting."""

    def __init__(self, source: str, tokens: list[Token]) -> None:
        self.source = source
        self.tokens = tokens
        self.position = 0
        self.nesting = 0

    # -- helpers -------------------------------------------------------------------------
    def peek(self) -> Token:
        return self.tokens[self.position]

    def advance(self) -> Token:
        token = self.tokens[self.position]
        if token.kind is not TokenKind.END:
            self.position += 1
        return token

    def error(self, message: str, column: int) -> ExpressionError:
        return ExpressionError(message, column=column, source=self.source)

    def unexpected(self, token: Token, expected: str) -> ExpressionError:
        return self.error(
            _("Unerwartet: {found}; erwartet wurde {expected}.").format(
                found=_describe(token), expected=expected
            ),
            token.column,
        )

    def is_keyword(self, word: str) -> bool:
        token = self.peek()
        return token.kind is TokenKind.KEYWORD and token.text == word

    def is_op(self, *ops: str) -> bool:
        token = self.peek()
        return token.kind is TokenKind.OP and token.text in ops

    def enter(self, column: int) -> None:
        self.nesting += 1
        if self.nesting > MAX_DEPTH:
            raise self.error(
                _(
                    "Der Ausdruck ist zu tief verschachtelt (höchstens {n} Ebenen); "
                    "teilen Sie ihn auf berechnete Fragen auf."
                ).format(n=MAX_DEPTH),
                column,
            )

    def leave(self) -> None:
        self.nesting -= 1

    def checked(self, node: Node) -> Node:
        if node.depth > MAX_DEPTH:
            raise self.error(
                _(
                    "Der Ausdruck ist zu tief verschachtelt (höchstens {n} Ebenen); "
                    "teilen Sie ihn auf berechnete Fragen auf."
                ).format(n=MAX_DEPTH),
                node.column,
            )
        return node

    # -- grammar -------------------------------------------------------------------------
    def expression(self) -> Node:
        self.enter(self.peek().column)
        try:
            return self.or_expr()
        finally:
            self.leave()

    def or_expr(self) -> Node:
        first = self.and_expr()
        operands = [first]
        while self.is_keyword("or"):
            self.advance()
            operands.append(self.and_expr())
        if len(operands) == 1:
            return first
        return self.checked(Logical("or", operands, first.column))

    def and_expr(self) -> Node:
        first = self.not_expr()
        operands = [first]
        while self.is_keyword("and"):
            self.advance()
            operands.append(self.not_expr())
        if len(operands) == 1:
            return first
        return self.checked(Logical("and", operands, first.column))

    def not_expr(self) -> Node:
        if self.is_keyword("not"):
            token = self.advance()
            self.enter(token.column)
            try:
                operand = self.not_expr()
            finally:
                self.leave()
            return self.checked(Unary("not", operand, token.column))
        return self.comparison()

    def comparison(self) -> Node:
        left = self.additive()
        token = self.peek()
        op: str | None = None
        if token.kind is TokenKind.OP and token.text in _COMPARE:
            self.advance()
            op = "=" if token.text == "==" else token.text
        elif self.is_keyword("in"):
            self.advance()
            op = "in"
        elif self.is_keyword("not") and self.tokens[self.position + 1].text == "in":
            self.advance()
            self.advance()
            op = "not in"
        if op is None:
            return left
        right = self.additive()
        after = self.peek()
        if (after.kind is TokenKind.OP and after.text in _COMPARE) or (
            after.kind is TokenKind.KEYWORD and after.text == "in"
        ):
            raise self.error(
                _("Vergleiche lassen sich nicht verketten; schreiben Sie z. B. „a < b and b < c“."),
                after.column,
            )
        return self.checked(Binary(op, left, right, token.column))

    def additive(self) -> Node:
        node = self.multiplicative()
        while self.is_op("+", "-"):
            token = self.advance()
            node = self.checked(Binary(token.text, node, self.multiplicative(), token.column))
        return node

    def multiplicative(self) -> Node:
        node = self.unary()
        while self.is_op("*", "/"):
            token = self.advance()
            node = self.checked(Binary(token.text, node, self.unary(), token.column))
        return node

    def unary(self) -> Node:
        if self.is_op("-"):
            token = self.advance()
            self.enter(token.column)
            try:
                operand = self.unary()
            finally:
                self.leave()
            if isinstance(operand, Literal) and type(operand.value) in (int, Decimal):
                return Literal(-operand.value, token.column)
            return self.checked(Unary("-", operand, token.column))
        if self.is_op("+"):
            raise self.error(
                _("Ein Vorzeichen „+“ ist nicht nötig; lassen Sie es weg."), self.peek().column
            )
        return self.primary()

    def primary(self) -> Node:
        token = self.peek()
        kind = token.kind
        if kind is TokenKind.NUMBER:
            self.advance()
            value: int | Decimal = Decimal(token.text) if "." in token.text else int(token.text)
            return Literal(value, token.column)
        if kind is TokenKind.STRING:
            self.advance()
            return Literal(token.text, token.column)
        if kind is TokenKind.KEYWORD and token.text in ("true", "false"):
            self.advance()
            return Literal(token.text == "true", token.column)
        if kind is TokenKind.DOT:
            self.advance()
            return SelfRef(token.column)
        if kind is TokenKind.NAME:
            self.advance()
            if self.peek().kind is TokenKind.LPAREN:
                self.advance()
                args = self.sequence(TokenKind.RPAREN, MAX_ARGUMENTS, _("„)“"))
                return self.checked(Call(token.text, args, token.column))
            return Name(token.text, token.column)
        if kind is TokenKind.LPAREN:
            self.advance()
            self.enter(token.column)
            try:
                node = self.expression()
            finally:
                self.leave()
            closing = self.peek()
            if closing.kind is not TokenKind.RPAREN:
                raise self.unexpected(
                    closing, _("„)“ zur Klammer in Spalte {column}").format(column=token.column)
                )
            self.advance()
            return node
        if kind is TokenKind.LBRACKET:
            self.advance()
            items = self.sequence(TokenKind.RBRACKET, MAX_LIST_ITEMS, _("„]“"))
            return self.checked(ListLiteral(items, token.column))
        if kind is TokenKind.KEYWORD:
            raise self.error(
                _("„{word}“ ist ein reserviertes Wort und kann hier nicht stehen.").format(
                    word=token.text
                ),
                token.column,
            )
        raise self.unexpected(token, _("ein Wert, eine Frage oder „(“"))

    def sequence(self, closing: TokenKind, limit: int, closing_text: str) -> list[Node]:
        """Parse comma-separated expressions up to ``closing`` (already past the opener)."""
        items: list[Node] = []
        if self.peek().kind is closing:
            self.advance()
            return items
        start = self.peek().column
        self.enter(start)
        try:
            while True:
                items.append(self.expression())
                if len(items) > limit:
                    raise self.error(_("Zu viele Einträge (höchstens {n}).").format(n=limit), start)
                token = self.peek()
                if token.kind is TokenKind.COMMA:
                    self.advance()
                    continue
                if token.kind is closing:
                    self.advance()
                    return items
                raise self.unexpected(token, _("„,“ oder {closing}").format(closing=closing_text))
        finally:
            self.leave()
