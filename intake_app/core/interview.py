"""One interview in progress: the answers being edited, their evaluation, navigation.

Plain Python, no Qt: the interview window is a thin view over an
:class:`InterviewSession`, and tests drive the session directly. Answers are addressed
by question id plus an *index path* (the item indexes of the enclosing repeat groups),
the same addressing the form engine uses.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from intake_app.core.forms import Form, FormState, Section, evaluate
from intake_app.core.forms.engine import answer_path, new_item
from intake_app.core.forms.model import Question
from intake_app.core.forms.values import is_empty

IndexPath = tuple[int, ...]


@dataclass(frozen=True, slots=True)
class SectionStatus:
    """How far a section is: required answers given, required in total, errors."""

    answered: int
    total: int
    errors: int
    visible: bool

    @property
    def done(self) -> bool:
        return self.visible and self.answered >= self.total and not self.errors


class InterviewSession:
    """The answers of one record while it is edited, with the form's verdict on them.

    Args:
        form: the form the record is given under.
        answers: the stored answers (copied; the session owns its working copy).
        organisation: the consent configuration (its purposes must all be decided).
        lang: language of messages and labels.
        today: the date for ``today()`` (tests fix it).
        expiry_warning_days: the setting ``records.expiry_warning_days``.
    """

    def __init__(
        self,
        *,
        form: Form,
        answers: dict[str, Any],
        organisation: Any = None,
        lang: str = "de",
        today: date | None = None,
        expiry_warning_days: int | None = None,
    ) -> None:
        self.form = form
        self.expiry_warning_days = expiry_warning_days
        self.answers: dict[str, Any] = copy.deepcopy(answers)
        self.organisation = organisation
        self.lang = lang
        self.today = today
        self.changes = 0
        self.state: FormState = self.evaluate()

    # -- evaluation --------------------------------------------------------------------

    def evaluate(self) -> FormState:
        """Re-run the form engine over the current answers."""
        self.state = evaluate(
            self.form,
            self.answers,
            today=self.today,
            lang=self.lang,
            organisation=self.organisation,
            expiry_warning_days=self.expiry_warning_days,
        )
        return self.state

    def set_language(self, lang: str) -> None:
        """Switch the language of messages (labels are read per language by the view)."""
        self.lang = lang
        self.evaluate()

    # -- reading and writing answers ---------------------------------------------------

    def _container(self, question: Question, index_path: IndexPath, *, create: bool) -> Any:
        holder: Any = self.answers
        for group, index in zip(question.repeat_chain, index_path, strict=True):
            items = holder.get(group) if isinstance(holder, dict) else None
            if not isinstance(items, list) or index >= len(items):
                if not create:
                    return None
                raise IndexError(f"{group}[{index}] does not exist")
            holder = items[index]
            if not isinstance(holder, dict):
                if not create:
                    return None
                holder = items[index] = {}
        return holder

    def get(self, qid: str, index_path: IndexPath = ()) -> Any:
        """The stored answer of ``qid`` at ``index_path`` (None when unanswered)."""
        question = self.form.question(qid)
        holder = self._container(question, tuple(index_path), create=False)
        return holder.get(qid) if isinstance(holder, dict) else None

    def set(self, qid: str, index_path: IndexPath, value: Any) -> FormState:
        """Store one answer (an empty value removes it) and re-evaluate."""
        question = self.form.question(qid)
        holder = self._container(question, tuple(index_path), create=True)
        if is_empty(value) and not isinstance(value, bool):
            if qid not in holder:
                return self.state
            del holder[qid]
        else:
            if holder.get(qid) == value:
                return self.state
            holder[qid] = copy.deepcopy(value)
        self.changes += 1
        return self.evaluate()

    def items(self, group_id: str, index_path: IndexPath = ()) -> list[dict[str, Any]]:
        """The stored items of a repeat group (an empty list when none)."""
        value = self.get(group_id, index_path)
        return value if isinstance(value, list) else []

    def add_item(self, group_id: str, index_path: IndexPath = ()) -> int:
        """Append an item (with its defaults) to a repeat group; return its index."""
        group = self.form.question(group_id)
        holder = self._container(group, tuple(index_path), create=True)
        items = holder.get(group_id)
        if not isinstance(items, list):
            items = holder[group_id] = []
        items.append(new_item(self.form, group_id, today=self.today))
        self.changes += 1
        self.evaluate()
        return len(items) - 1

    def remove_item(self, group_id: str, index_path: IndexPath, index: int) -> None:
        """Remove one item of a repeat group (the later items move up)."""
        group = self.form.question(group_id)
        holder = self._container(group, tuple(index_path), create=True)
        items = holder.get(group_id)
        if isinstance(items, list) and 0 <= index < len(items):
            del items[index]
            if not items:
                del holder[group_id]
            self.changes += 1
            self.evaluate()

    # -- verdicts ----------------------------------------------------------------------

    def path(self, qid: str, index_path: IndexPath = ()) -> str:
        """The answer path ("languages[1].level") of ``qid`` at ``index_path``."""
        return answer_path(self.form.question(qid), tuple(index_path))

    def errors(self, qid: str, index_path: IndexPath = ()) -> list[str]:
        """Messages for one answer (empty when it is fine)."""
        return self.state.errors.get(self.path(qid, index_path), [])

    def is_missing(self, qid: str, index_path: IndexPath = ()) -> bool:
        """Whether the answer is required, visible and not given."""
        path = self.path(qid, index_path)
        return any(m.path == path for m in self.state.missing_required)

    def is_required(self, qid: str, index_path: IndexPath = ()) -> bool:
        """Whether the question counts as required now (static or by its condition)."""
        return self.state.required(qid, tuple(index_path))

    @property
    def complete(self) -> bool:
        return self.state.complete

    # -- sections and navigation -------------------------------------------------------

    def sections(self) -> list[Section]:
        """Every section of the form, in order."""
        return list(self.form.sections)

    def visible_sections(self) -> list[Section]:
        """The sections shown for the current answers."""
        return [s for s in self.form.sections if self.state.section_visible(s.id)]

    def section_status(self, section_id: str) -> SectionStatus:
        """Progress and errors of one section."""
        answered, total = self.state.section_completion(section_id)
        errors = sum(
            1
            for path, question, _ctx in self.state.visible_paths(section_id)
            if path in self.state.errors
        )
        return SectionStatus(answered, total, errors, self.state.section_visible(section_id))

    def neighbour(self, section_id: str, step: int) -> str | None:
        """The visible section ``step`` places after (or before) ``section_id``."""
        visible = [s.id for s in self.visible_sections()]
        if section_id not in visible:
            return visible[0] if visible else None
        index = visible.index(section_id) + step
        return visible[index] if 0 <= index < len(visible) else None

    def first_problem(self) -> tuple[str, str] | None:
        """(section id, answer path) of the first missing or wrong answer."""
        for path, question, _ctx in self.state.visible_paths():
            if path in self.state.errors:
                return question.section_id, path
        if self.state.missing_required:
            first = self.state.missing_required[0]
            return first.section_id, first.path
        return None

    def visible_questions(self, section_id: str) -> Iterator[tuple[str, Question, IndexPath]]:
        """(path, question, index path) of every visible question in a section."""
        for path, question, context in self.state.visible_paths(section_id):
            yield path, question, tuple(context)

    def answers_for_storage(self) -> dict[str, Any]:
        """A copy of the answers to save."""
        return copy.deepcopy(self.answers)
