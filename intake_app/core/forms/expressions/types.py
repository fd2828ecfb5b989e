"""Static types of the expression language and the run-time values that belong to them.

==========  =====================================  ===================================
type        written in a form as                   run-time value
==========  =====================================  ===================================
bool        yes/no answers, comparisons            ``True`` / ``False``
number      integer and decimal answers, ``1.5``    ``int`` or ``decimal.Decimal``
text        text, choice and reference answers     ``str``
date        date answers, ``today()``              ``datetime.date``
cefr        CEFR answers (``'B1'`` literals)       ``int`` rank 0 (none) … 6 (C2)
list        multiple choice, ``[...]`` literals    ``tuple``
repeat      repeat groups (only for functions)     ``int`` (number of items)
consent     the consent block (only for functions) ``dict``
==========  =====================================  ===================================

Every type may also be *null* at run time (``None``): an unanswered or hidden question.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from intake_app.i18n import N_, _

CEFR_LEVELS: tuple[str, ...] = ("none", "A1", "A2", "B1", "B2", "C1", "C2")
CEFR_RANK: dict[str, int] = {level: rank for rank, level in enumerate(CEFR_LEVELS)}


class Kind(enum.Enum):
    """The kinds of values."""

    BOOL = "bool"
    NUMBER = "number"
    TEXT = "text"
    DATE = "date"
    CEFR = "cefr"
    LIST = "list"
    REPEAT = "repeat"
    CONSENT = "consent"


_KIND_NAMES = {
    Kind.BOOL: N_("ein Wahrheitswert (ja/nein)"),
    Kind.NUMBER: N_("eine Zahl"),
    Kind.TEXT: N_("ein Text"),
    Kind.DATE: N_("ein Datum"),
    Kind.CEFR: N_("ein Sprachniveau (GER)"),
    Kind.LIST: N_("eine Liste"),
    Kind.REPEAT: N_("eine Wiederholungsgruppe"),
    Kind.CONSENT: N_("eine Einwilligung"),
}


@dataclass(frozen=True, slots=True)
class Type:
    """A static type.

    Attributes:
        kind: the kind of value.
        integer: for numbers: known to be a whole number.
        domain: for text (and list items): the only values possible (choice values).
        owner: the question whose choices form ``domain`` (for messages).
        item: for lists: the type of the items.
        repeat: for repeat groups: the group's question id.
    """

    kind: Kind
    integer: bool = False
    domain: frozenset[str] | None = None
    owner: str | None = None
    item: Type | None = None
    repeat: str | None = None

    def describe(self) -> str:
        """The type in words for error messages."""
        if self.kind is Kind.NUMBER and self.integer:
            return _("eine ganze Zahl")
        if self.kind is Kind.LIST and self.item is not None:
            return _("eine Liste ({item})").format(item=self.item.describe())
        return _(_KIND_NAMES[self.kind])


BOOL = Type(Kind.BOOL)
NUMBER = Type(Kind.NUMBER)
INTEGER = Type(Kind.NUMBER, integer=True)
TEXT = Type(Kind.TEXT)
DATE = Type(Kind.DATE)
CEFR = Type(Kind.CEFR)
CONSENT = Type(Kind.CONSENT)
TEXT_LIST = Type(Kind.LIST, item=TEXT)


def list_of(item: Type) -> Type:
    """A list type with ``item`` items."""
    return Type(Kind.LIST, item=item)
