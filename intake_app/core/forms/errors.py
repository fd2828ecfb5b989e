"""Errors of the form engine: problems in a form file, and the expression language's one error.

A form file is checked completely before it is used; every problem becomes a
:class:`FormIssue` that names the file, the line, the question and what to fix, and all of
them are raised together in one :class:`FormLoadError`. The expression language raises
nothing but :class:`ExpressionError`, whatever the input.
"""

from __future__ import annotations

from dataclasses import dataclass

from intake_app.errors import ValidationError
from intake_app.i18n import _


@dataclass(frozen=True, slots=True)
class FormIssue:
    """One problem in a form (or organisation) file.

    Attributes:
        file: the file as given to the loader (shown as is).
        line: 1-based line number, 0 when the problem concerns the whole file.
        question_id: the question the problem belongs to, or None.
        message: what is wrong and what to do, in the current language.
    """

    file: str
    line: int
    question_id: str | None
    message: str

    def format(self) -> str:
        """``FILE:LINE: message`` as printed by ``intake-app forms check``."""
        if self.question_id:
            text = _("Frage „{qid}“: {message}").format(qid=self.question_id, message=self.message)
        else:
            text = self.message
        return f"{self.file}:{self.line}: {text}"

    def __str__(self) -> str:
        return self.format()


class FormLoadError(ValidationError):
    """A form file (or an organisation file) is not valid; ``issues`` lists every problem."""

    def __init__(self, issues: list[FormIssue]) -> None:
        self.issues = list(issues)
        if not self.issues:  # pragma: no cover - programming error
            raise ValueError("FormLoadError needs at least one issue")
        first = self.issues[0].format()
        more = len(self.issues) - 1
        if more:
            first += " " + _("(und {n} weitere Probleme)").format(n=more)
        super().__init__(first)


class ExpressionError(ValidationError):
    """The only error the expression parser, checker and evaluator raise.

    Attributes:
        message: the problem without its position.
        column: 1-based column in the expression, when known.
        source: the expression text, when known.
    """

    def __init__(
        self, message: str, *, column: int | None = None, source: str | None = None
    ) -> None:
        self.message = message
        self.column = column
        self.source = source
        if column is None:
            text = message
        else:
            text = _("{message} (Spalte {column})").format(message=message, column=column)
        super().__init__(text)
