"""The in-memory form: sections, questions, choices, version changes.

Objects are built by the loader (``schema.py`` and ``linking.py``) and must be treated as
read-only afterwards; the engine and the UI only read them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from intake_app.core.forms.expressions import CompiledExpression

T = TypeVar("T")

#: Languages every label must have (interface languages).
REQUIRED_LANGUAGES: tuple[str, ...] = ("de", "en")
#: The main client languages; Dari speakers read the Persian ("fa") texts.
CLIENT_LANGUAGES: tuple[str, ...] = ("ar", "uk", "ru", "tr", "fa")


class QuestionType(enum.StrEnum):
    """The kinds of questions a form may contain."""

    TEXT = "text"
    LONG_TEXT = "long_text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATE = "date"
    YES_NO = "yes_no"
    CHOICE = "choice"
    MULTI_CHOICE = "multi_choice"
    REFERENCE = "reference"
    CEFR = "cefr"
    REPEAT = "repeat"
    NOTE = "note"
    CONSENT = "consent"


@dataclass(frozen=True, slots=True)
class LocalText:
    """A text in several languages; German is always present and is the fallback."""

    texts: Mapping[str, str]

    def get(self, lang: str = "de") -> str:
        """The text in ``lang``, else German."""
        text = self.texts.get(lang)
        if text:
            return text
        return self.texts.get("de") or next(iter(self.texts.values()), "")

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages this text is available in."""
        return tuple(self.texts)


@dataclass(frozen=True, slots=True)
class Choice:
    """One possible answer of a choice question (or an extra entry of a reference list)."""

    value: str
    label_text: LocalText
    tags: tuple[str, ...] = ()
    line: int = 0

    def label(self, lang: str = "de") -> str:
        """The label in ``lang``."""
        return self.label_text.get(lang)


@dataclass(frozen=True, slots=True)
class Constraint:
    """A rule an answer must satisfy, with the message shown when it does not."""

    expression: CompiledExpression
    message_text: LocalText
    line: int = 0

    def message(self, lang: str = "de") -> str:
        """The message in ``lang``."""
        return self.message_text.get(lang)


@dataclass(slots=True)
class Question:
    """One question (or note, consent block, repeat group) of a form.

    ``repeat_chain`` holds the ids of the enclosing repeat groups (outermost first); its
    length is the length of the index path that addresses one answer of this question.
    """

    id: str
    type: QuestionType
    label_text: LocalText
    help_text: LocalText | None = None
    required: bool = False
    required_if: CompiledExpression | None = None
    relevant: CompiledExpression | None = None
    constraints: tuple[Constraint, ...] = ()
    calculate: CompiledExpression | None = None
    default: Any = None
    choices: tuple[Choice, ...] = ()
    choice_filter: CompiledExpression | None = None
    value_set: str | None = None
    reference: str | None = None
    multiple: bool = False
    special_category: bool = False
    print: bool = True
    #: the organisation's data category the answer belongs to (docs/security.md, "What
    #: reaches the central office"); inherited from the repeat group or the section
    data_category: str | None = None
    #: an internal note of the counselling service: never passed on
    internal: bool = False
    children: tuple[Question, ...] = ()
    min: Any = None
    max: Any = None
    max_length: int | None = None
    client_facing: bool = False
    item_label_text: LocalText | None = None
    section_id: str = ""
    repeat_chain: tuple[str, ...] = ()
    line: int = 0
    _choice_index: dict[str, Choice] = field(default_factory=dict, repr=False)

    def label(self, lang: str = "de") -> str:
        """The question text in ``lang``."""
        return self.label_text.get(lang)

    def help(self, lang: str = "de") -> str:
        """The help text in ``lang`` ('' when there is none)."""
        return self.help_text.get(lang) if self.help_text else ""

    def item_label(self, lang: str = "de") -> str:
        """For repeat groups: what one item is called ("Abschluss"); else the label."""
        return self.item_label_text.get(lang) if self.item_label_text else self.label(lang)

    @property
    def client_languages(self) -> tuple[str, ...]:
        """Client languages (beyond German and English) the label is available in."""
        return tuple(lang for lang in self.label_text.texts if lang not in REQUIRED_LANGUAGES)

    @property
    def parent_id(self) -> str | None:
        """The innermost enclosing repeat group, or None at the top level."""
        return self.repeat_chain[-1] if self.repeat_chain else None

    @property
    def depth(self) -> int:
        """Number of enclosing repeat groups."""
        return len(self.repeat_chain)

    @property
    def answerable(self) -> bool:
        """Whether the person answers it (not a note, not calculated)."""
        return self.type is not QuestionType.NOTE and self.calculate is None

    def choice(self, value: str) -> Choice | None:
        """The choice with ``value`` (including extra choices of reference lists)."""
        if not self._choice_index and self.choices:
            self._choice_index = {choice.value: choice for choice in self.choices}
        return self._choice_index.get(value)

    @property
    def choice_values(self) -> tuple[str, ...]:
        """All choice values in order."""
        return tuple(choice.value for choice in self.choices)

    def walk(self) -> Iterator[Question]:
        """This question and all nested questions, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(slots=True)
class Section:
    """A section of the interview (a page of the wizard)."""

    id: str
    label_text: LocalText
    questions: tuple[Question, ...]
    help_text: LocalText | None = None
    relevant: CompiledExpression | None = None
    line: int = 0
    data_category: str | None = None

    def label(self, lang: str = "de") -> str:
        """The section title in ``lang``."""
        return self.label_text.get(lang)

    def help(self, lang: str = "de") -> str:
        """The section's help text in ``lang``."""
        return self.help_text.get(lang) if self.help_text else ""

    def walk(self) -> Iterator[Question]:
        """All questions of the section including repeat children."""
        for question in self.questions:
            yield from question.walk()


class ChangeKind(enum.StrEnum):
    """What a version change does to answers given under the previous version."""

    RENAME = "rename"
    REMOVE = "remove"
    RECODE = "recode"
    # a full date becomes "YYYY-MM" under a new id; the full date is retired
    YEAR_MONTH = "year_month"


@dataclass(frozen=True, slots=True)
class FormChange:
    """One declared difference from the previous version.

    ``question`` and ``to`` are paths: ``"office_site"`` or ``"qualifications.field"``
    for a question inside a repeat group (the path of the *previous* version for
    ``question``, of this version for ``to``).
    """

    kind: ChangeKind
    question: str
    to: str | None = None
    values: Mapping[str, str] = field(default_factory=dict)
    note: LocalText | None = None
    line: int = 0


@dataclass(slots=True)
class Form:
    """A validated, linked interview definition."""

    id: str
    version: str
    title_text: LocalText
    sections: tuple[Section, ...]
    client_languages: tuple[str, ...] = ()
    previous_version: str | None = None
    changes: tuple[FormChange, ...] = ()
    description_text: LocalText | None = None
    source: str = ""
    _index: dict[str, Question] = field(default_factory=dict, repr=False)
    _sections: dict[str, Section] = field(default_factory=dict, repr=False)
    _derived: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.reindex()

    def reindex(self) -> None:
        """Rebuild the lookup tables (the loader calls this after building)."""
        self._index = {question.id: question for question in self.iter_questions()}
        self._sections = {section.id: section for section in self.sections}
        self._derived = {}

    def derived(self, name: str, make: Callable[[Form], T]) -> T:
        """What ``make`` computes from this form version, computed once: the engine and
        the printouts ask the same of the form for every record (which ids a section
        holds, which section has the consent block). Forms are read-only once loaded."""
        try:
            return cast(T, self._derived[name])
        except KeyError:
            value = self._derived[name] = make(self)
            return value

    def title(self, lang: str = "de") -> str:
        """The form's title in ``lang``."""
        return self.title_text.get(lang)

    def iter_questions(self) -> Iterator[Question]:
        """All questions in order, repeat children right after their group."""
        for section in self.sections:
            yield from section.walk()

    def __iter__(self) -> Iterator[Question]:
        return self.iter_questions()

    def __contains__(self, qid: object) -> bool:
        return qid in self._index

    def question(self, qid: str) -> Question:
        """The question with id ``qid``; raises ``KeyError`` for unknown ids."""
        try:
            return self._index[qid]
        except KeyError:
            raise KeyError(f"form {self.id} {self.version} has no question {qid!r}") from None

    def get(self, qid: str) -> Question | None:
        """The question with id ``qid`` or None."""
        return self._index.get(qid)

    def section(self, section_id: str) -> Section:
        """The section with ``section_id``; raises ``KeyError`` for unknown ids."""
        return self._sections[section_id]

    @property
    def key(self) -> tuple[str, str]:
        """``(id, version)``, as stored with every record."""
        return (self.id, self.version)

    @property
    def renames(self) -> dict[str, str]:
        """Old path -> new path for every declared rename."""
        return {c.question: c.to for c in self.changes if c.kind is ChangeKind.RENAME and c.to}

    @property
    def removals(self) -> tuple[str, ...]:
        """Paths of the previous version that this version removed."""
        return tuple(c.question for c in self.changes if c.kind is ChangeKind.REMOVE)

    def path_of(self, question: Question) -> str:
        """The schema path of ``question``: ``"qualifications.field"`` inside repeats."""
        return ".".join((*question.repeat_chain, question.id))
