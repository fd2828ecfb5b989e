"""Tokenizer of the expression language (hand-written; no regular-expression engine on input).

Tokens carry their 1-based column so that every error can point at the place to fix.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from intake_app.core.forms.errors import ExpressionError
from intake_app.i18n import _

MAX_SOURCE_LENGTH = 4000
MAX_STRING_LENGTH = 1000
MAX_NUMBER_DIGITS = 18


class TokenKind(enum.Enum):
    """Kinds of tokens."""

    NUMBER = "number"
    STRING = "string"
    NAME = "name"
    KEYWORD = "keyword"
    OP = "op"
    DOT = "."
    LPAREN = "("
    RPAREN = ")"
    LBRACKET = "["
    RBRACKET = "]"
    COMMA = ","
    END = "end"


KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false"})

# Longest first so that "<=" wins over "<".
_OPERATORS = ("==", "!=", "<=", ">=", "=", "<", ">", "+", "-", "*", "/")
_SINGLE = {
    "(": TokenKind.LPAREN,
    ")": TokenKind.RPAREN,
    "[": TokenKind.LBRACKET,
    "]": TokenKind.RBRACKET,
    ",": TokenKind.COMMA,
}
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t"}


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its kind, its text (string contents without quotes) and its column."""

    kind: TokenKind
    text: str
    column: int


def _is_name_start(char: str) -> bool:
    return char == "_" or ("a" <= char <= "z") or ("A" <= char <= "Z")


def _is_name_char(char: str) -> bool:
    return _is_name_start(char) or ("0" <= char <= "9")


def tokenize(source: str) -> list[Token]:
    """Split ``source`` into tokens, ending with an ``END`` token.

    Raises:
        ExpressionError: an unknown character, an unterminated string, or input that is
            too long.
    """
    if not isinstance(source, str):
        raise ExpressionError(_("Ein Ausdruck muss Text sein."))
    if len(source) > MAX_SOURCE_LENGTH:
        raise ExpressionError(
            _("Der Ausdruck ist zu lang (höchstens {n} Zeichen).").format(n=MAX_SOURCE_LENGTH),
            source=source[:80],
        )
    tokens: list[Token] = []
    position = 0
    length = len(source)
    while position < length:
        char = source[position]
        column = position + 1
        if char in " \t\r\n":
            position += 1
            continue
        if "0" <= char <= "9":
            end = position
            while end < length and "0" <= source[end] <= "9":
                end += 1
            if end + 1 < length and source[end] == "." and "0" <= source[end + 1] <= "9":
                end += 1
                while end < length and "0" <= source[end] <= "9":
                    end += 1
            text = source[position:end]
            if sum(ch.isdigit() for ch in text) > MAX_NUMBER_DIGITS:
                raise ExpressionError(
                    _("Die Zahl „{text}“ hat zu viele Stellen (höchstens {n}).").format(
                        text=text[:24], n=MAX_NUMBER_DIGITS
                    ),
                    column=column,
                    source=source,
                )
            if end < length and _is_name_start(source[end]):
                raise ExpressionError(
                    _(
                        "Nach der Zahl „{text}“ folgt direkt ein Buchstabe; fehlt ein "
                        "Leerzeichen oder ein Operator?"
                    ).format(text=text),
                    column=end + 1,
                    source=source,
                )
            tokens.append(Token(TokenKind.NUMBER, text, column))
            position = end
            continue
        if _is_name_start(char):
            end = position + 1
            while end < length and _is_name_char(source[end]):
                end += 1
            word = source[position:end]
            if word.lower() in KEYWORDS:
                tokens.append(Token(TokenKind.KEYWORD, word.lower(), column))
            else:
                tokens.append(Token(TokenKind.NAME, word, column))
            position = end
            continue
        if char in "'\"":
            text, position = _read_string(source, position)
            tokens.append(Token(TokenKind.STRING, text, column))
            continue
        if char in _SINGLE:
            tokens.append(Token(_SINGLE[char], char, column))
            position += 1
            continue
        if char == ".":
            tokens.append(Token(TokenKind.DOT, char, column))
            position += 1
            continue
        for operator in _OPERATORS:
            if source.startswith(operator, position):
                tokens.append(Token(TokenKind.OP, operator, column))
                position += len(operator)
                break
        else:
            if char == "$" and position + 1 < length and source[position + 1] == "{":
                hint = _(" Fragen werden ohne ${…} genannt, nur mit ihrer Kennung.")
            elif char == "&" or char == "|":
                hint = _(" Verwenden Sie „and“ bzw. „or“.")
            elif char == "!":
                hint = _(" Verwenden Sie „not“ oder „!=“.")
            else:
                hint = ""
            raise ExpressionError(
                _("Unerwartetes Zeichen „{char}“.").format(char=char) + hint,
                column=column,
                source=source,
            )
    tokens.append(Token(TokenKind.END, "", length + 1))
    return tokens


def _read_string(source: str, start: int) -> tuple[str, int]:
    """Read a quoted string starting at ``start``; return its contents and the next position."""
    quote = source[start]
    parts: list[str] = []
    position = start + 1
    length = len(source)
    while position < length:
        char = source[position]
        if char == quote:
            text = "".join(parts)
            if len(text) > MAX_STRING_LENGTH:
                raise ExpressionError(
                    _("Der Text ist zu lang (höchstens {n} Zeichen).").format(n=MAX_STRING_LENGTH),
                    column=start + 1,
                    source=source,
                )
            return text, position + 1
        if char == "\\":
            if position + 1 >= length:
                break
            escaped = source[position + 1]
            if escaped not in _ESCAPES:
                raise ExpressionError(
                    _(
                        "Unbekannte Escape-Folge „\\{char}“; erlaubt sind \\\\, \\', \\\", "
                        "\\n und \\t."
                    ).format(char=escaped),
                    column=position + 1,
                    source=source,
                )
            parts.append(_ESCAPES[escaped])
            position += 2
            continue
        parts.append(char)
        position += 1
    raise ExpressionError(
        _("Der Text ab hier hat kein schließendes Anführungszeichen ({quote}).").format(
            quote=quote
        ),
        column=start + 1,
        source=source,
    )
