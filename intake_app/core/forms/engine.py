"""The form engine: given a form and answers, what is visible, wrong, computed and missing.

Plain Python, no Qt. :func:`evaluate` takes a snapshot of the answers and returns a
:class:`FormState`; the UI calls it after every change. Everything is computed lazily
and memoised per call, so each expression runs at most once per question and item.

Answer paths name one answer: ``"birth_date"``, ``"languages[1].level"`` (the second
item of the group ``languages``), ``"a[0].b[2].c"`` for nested groups. An *index path*
is the tuple of item indexes, e.g. ``(1,)`` for ``languages[1]``.

Rules the engine applies (see ``docs/forms.md``):

* A question is visible when its section, its enclosing groups and its own ``relevant``
  are; a relevance that is null (unknown) counts as false. Hidden questions are null in
  expressions, are never required, are not validated, and their stored answers are
  listed in ``hidden_answers`` (they must not be printed or exported).
* ``required`` (or a ``required`` condition that is true) makes an unanswered visible
  question *missing*; missing answers are not errors, they block ``complete``.
* ``errors`` holds invalid values, violated constraints, choices the filter excludes, and
  repeat groups with too few or too many items.
"""

from __future__ import annotations

import enum
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from intake_app.core.forms.consent import CONSENT_LANGUAGES, validate_consent
from intake_app.core.forms.errors import ExpressionError
from intake_app.core.forms.expressions import Binding, CompiledExpression, Evaluator
from intake_app.core.forms.expressions.types import CEFR_LEVELS
from intake_app.core.forms.model import Choice, Form, Question, QuestionType, Section
from intake_app.core.forms.referral_consent import (
    CONSENT_PURPOSE,
    OTHER_SERVICE,
    REFERRALS,
    SERVICE,
    SERVICE_NAME,
    referral_problems,
)
from intake_app.core.forms.values import is_empty, to_json, to_runtime
from intake_app.core.records import EXPIRY_WARNING_DAYS
from intake_app.i18n import N_, translator

Context = tuple[int, ...]
MSG_FILTERED = N_("Diese Auswahl passt nicht zu den bisherigen Angaben; bitte prüfen.")
MSG_TOO_FEW = N_("Bitte mindestens {n} Einträge erfassen.")
MSG_TOO_MANY = N_("Höchstens {n} Einträge sind möglich.")
MSG_ITEM = N_("Ein Eintrag dieser Gruppe ist beschädigt.")


@dataclass(frozen=True, slots=True)
class MissingAnswer:
    """A visible required question without an answer."""

    path: str
    section_id: str
    question_id: str


def answer_path(question: Question, context: Context) -> str:
    """The answer path of ``question`` at ``context``."""
    parts = [
        f"{group}[{index}]" for group, index in zip(question.repeat_chain, context, strict=True)
    ]
    parts.append(question.id)
    return ".".join(parts)


class _Run:
    """One evaluation: the :class:`Environment` of the expressions plus memo tables."""

    def __init__(
        self,
        form: Form,
        answers: Mapping[str, Any],
        *,
        today: date,
        lang: str,
        purposes: tuple[str, ...] | None,
        languages: tuple[str, ...],
        organisation: Any = None,
        expiry_warning_days: int = EXPIRY_WARNING_DAYS,
    ) -> None:
        self.form = form
        self.organisation = organisation
        self.answers = answers if isinstance(answers, Mapping) else {}
        self.today = today
        self.expiry_warning_days = expiry_warning_days
        self.lang = lang
        self.tr = translator(lang)
        self.purposes = purposes
        self.languages = languages
        # the evaluator sees the run through a weak proxy: no reference cycle, so a
        # finished evaluation is freed at once, not by the cycle collector
        self.evaluator = Evaluator(weakref.proxy(self))
        self.sections = {section.id: section for section in form.sections}
        self._visible: dict[tuple[str, Context], bool] = {}
        self._section_visible: dict[str, bool] = {}
        self._values: dict[tuple[str, Context], Any] = {}
        self._converted: dict[tuple[str, Context], tuple[Any, str | None]] = {}
        self._choices: dict[tuple[str, Context], list[Choice]] = {}
        self._busy: set[tuple[str, Context]] = set()
        self._choice: Choice | None = None
        self.problems: list[str] = []

    # -- Environment protocol --------------------------------------------------------------
    def value(self, binding: Binding, context: Context) -> Any:
        return self.question_value(self.form.question(binding.qid), context)

    def item_count(self, binding: Binding, context: Context) -> int:
        group = self.form.question(binding.qid)
        if not self.visible(group, context):
            return 0
        return len(self.items(group, context))

    def choice_value(self) -> Any:
        return self._choice.value if self._choice else None

    def choice_tags(self) -> tuple[str, ...]:
        return self._choice.tags if self._choice else ()

    # -- raw answers -----------------------------------------------------------------------
    def container(self, chain: tuple[str, ...], context: Context) -> Mapping[str, Any] | None:
        """The dict that holds the answers of questions with ``chain`` at ``context``."""
        node: Any = self.answers
        for group, index in zip(chain, context, strict=False):
            items = node.get(group) if isinstance(node, Mapping) else None
            if not isinstance(items, list) or not 0 <= index < len(items):
                return None
            node = items[index]
        return node if isinstance(node, Mapping) else None

    def raw(self, question: Question, context: Context) -> Any:
        holder = self.container(question.repeat_chain, context)
        return holder.get(question.id) if holder is not None else None

    def items(self, group: Question, context: Context) -> list[Any]:
        raw = self.raw(group, context)
        return raw[: group.max or 100] if isinstance(raw, list) else []

    # -- visibility ------------------------------------------------------------------------
    def section_visible(self, section: Section) -> bool:
        known = self._section_visible.get(section.id)
        if known is None:
            known = self._relevant(section.relevant, (), f"section {section.id}")
            self._section_visible[section.id] = known
        return known

    def visible(self, question: Question, context: Context) -> bool:
        key = (question.id, context)
        known = self._visible.get(key)
        if known is not None:
            return known
        if len(context) != question.depth:
            return False
        self._enter(key)
        try:
            result = self.section_visible(self.sections[question.section_id])
            if result and question.repeat_chain:
                group = self.form.question(question.repeat_chain[-1])
                result = self.visible(group, context[:-1]) and context[-1] < len(
                    self.items(group, context[:-1])
                )
            if result:
                result = self._relevant(question.relevant, context, question.id)
        finally:
            self._busy.discard(key)
        self._visible[key] = result
        return result

    def _relevant(
        self, expression: CompiledExpression | None, context: Context, where: str
    ) -> bool:
        if expression is None:
            return True
        try:
            return self.evaluator.condition(expression.tree, context) is True
        except ExpressionError as error:
            self.problems.append(f"{where}: relevant: {error}")
            return True  # fail open: a broken rule must not hide a question for good

    def _enter(self, key: tuple[str, Context]) -> None:
        if key in self._busy:
            raise ExpressionError(f"circular dependency at {key[0]}")
        self._busy.add(key)

    # -- values ------------------------------------------------------------------------------
    def converted(self, question: Question, context: Context) -> tuple[Any, str | None]:
        key = (question.id, context)
        known = self._converted.get(key)
        if known is None:
            known = to_runtime(question, self.raw(question, context), self.tr)
            self._converted[key] = known
        return known

    def question_value(self, question: Question, context: Context) -> Any:
        key = (question.id, context)
        if key in self._values:
            return self._values[key]
        if not self.visible(question, context):
            value = None
        elif question.calculate is not None:
            self._enter(key)
            try:
                value = self._calculate(question, context)
            finally:
                self._busy.discard(key)
        elif question.type is QuestionType.REPEAT:
            value = len(self.items(question, context))
        elif question.type is QuestionType.CONSENT:
            raw = self.raw(question, context)
            value = raw if isinstance(raw, Mapping) and raw else None
        else:
            value = self.converted(question, context)[0]
        self._values[key] = value
        return value

    def _calculate(self, question: Question, context: Context) -> Any:
        assert question.calculate is not None
        try:
            value = self.evaluator.evaluate(question.calculate.tree, context)
        except ExpressionError as error:
            self.problems.append(f"{answer_path(question, context)}: calculate: {error}")
            return None
        return self._fit(question, value, context)

    def _fit(self, question: Question, value: Any, context: Context) -> Any:
        """Coerce a calculated value to the question's type (None when it does not fit)."""
        if value is None:
            return None
        qtype = question.type
        fits = {
            QuestionType.INTEGER: lambda v: (
                type(v) is int or (type(v) is Decimal and v == v.to_integral_value())
            ),
            QuestionType.DECIMAL: lambda v: type(v) in (int, Decimal),
            QuestionType.TEXT: lambda v: type(v) is str,
            QuestionType.LONG_TEXT: lambda v: type(v) is str,
            QuestionType.DATE: lambda v: type(v) is date,
            QuestionType.YES_NO: lambda v: type(v) is bool,
            QuestionType.CHOICE: lambda v: type(v) is str and question.choice(v) is not None,
            QuestionType.CEFR: lambda v: type(v) is int and 0 <= v < len(CEFR_LEVELS),
        }.get(qtype)
        if fits is None or not fits(value):
            self.problems.append(
                f"{answer_path(question, context)}: calculate: {value!r} does not fit {qtype.value}"
            )
            return None
        if qtype is QuestionType.INTEGER:
            return int(value)
        if qtype is QuestionType.DECIMAL:
            return Decimal(value)
        return value

    # -- choices ---------------------------------------------------------------------------
    def choices_for(self, question: Question, context: Context) -> list[Choice]:
        key = (question.id, context)
        known = self._choices.get(key)
        if known is not None:
            return known
        if question.choice_filter is None:
            result = list(question.choices)
        else:
            result = []
            tree = question.choice_filter.tree
            for choice in question.choices:
                self._choice = choice
                try:
                    keep = self.evaluator.condition(tree, context) is True
                except ExpressionError as error:
                    self.problems.append(f"{question.id}: choice_filter: {error}")
                    keep = True
                finally:
                    self._choice = None
                if keep:
                    result.append(choice)
        self._choices[key] = result
        return result


class _Status(enum.Enum):
    """How an answer stands: missing, present but wrong, or fine."""

    EMPTY = "empty"
    INVALID = "invalid"
    OK = "ok"


@dataclass(slots=True)
class _Tally:
    answered: int = 0
    total: int = 0


@dataclass(slots=True)
class FormState:
    """The result of :func:`evaluate` for one snapshot of answers.

    Attributes:
        errors: answer path -> messages in the requested language.
        computed: answer path -> value of each visible calculated question (JSON form).
        missing_required: visible required questions without an answer, in form order.
        hidden_answers: paths of stored answers whose question is hidden (not to be
            printed or exported).
        unknown_answers: paths of stored answers the form has no question for.
        problems: run-time failures of the form's own expressions (for the log).
    """

    form: Form
    lang: str
    today: date
    errors: dict[str, list[str]] = field(default_factory=dict)
    computed: dict[str, Any] = field(default_factory=dict)
    missing_required: list[MissingAnswer] = field(default_factory=list)
    hidden_answers: list[str] = field(default_factory=list)
    unknown_answers: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    required_paths: set[str] = field(default_factory=set)
    _run: _Run | None = field(default=None, repr=False)
    _tallies: dict[str, _Tally] = field(default_factory=dict, repr=False)
    _visible_paths: list[tuple[str, Question, Context]] = field(default_factory=list, repr=False)

    @property
    def expiry_warning_days(self) -> int:
        """The warning period this evaluation used (``expiry_warning_days()``)."""
        return self._run.expiry_warning_days if self._run is not None else EXPIRY_WARNING_DAYS

    def visible(self, qid: str, index_path: Context = ()) -> bool:
        """Whether question ``qid`` is shown at ``index_path`` (False for unknown ids)."""
        question = self.form.get(qid)
        if question is None or self._run is None:
            return False
        return self._run.visible(question, tuple(index_path))

    def required(self, qid: str, index_path: Context = ()) -> bool:
        """Whether visible question ``qid`` counts as required now (static or by condition)."""
        question = self.form.get(qid)
        if question is None:
            return False
        return answer_path(question, tuple(index_path)) in self.required_paths

    def section_visible(self, section_id: str) -> bool:
        """Whether the section is shown at all."""
        assert self._run is not None
        return self._run.section_visible(self.form.section(section_id))

    def section_completion(self, section_id: str) -> tuple[int, int]:
        """``(answered_required, total_required)`` for the visible questions of a section."""
        tally = self._tallies.get(section_id)
        return (tally.answered, tally.total) if tally else (0, 0)

    @property
    def complete(self) -> bool:
        """True when nothing required is missing and no answer has an error."""
        return not self.missing_required and not self.errors

    def choices_for(self, qid: str, index_path: Context = ()) -> list[Choice]:
        """The choices of ``qid`` that its choice filter allows at ``index_path``."""
        question = self.form.question(qid)
        assert self._run is not None
        return self._run.choices_for(question, tuple(index_path))

    def value(self, qid: str, index_path: Context = ()) -> Any:
        """The effective value (answer or computed; None when hidden) in stored JSON form."""
        question = self.form.question(qid)
        assert self._run is not None
        value = self._run.question_value(question, tuple(index_path))
        if question.type is QuestionType.REPEAT:
            return value
        return to_json(question, value)

    def item_count(self, qid: str, index_path: Context = ()) -> int:
        """Number of items of the repeat group ``qid`` (0 when hidden)."""
        assert self._run is not None
        return self._run.item_count(Binding("question", qid), tuple(index_path))

    def visible_paths(
        self, section_id: str | None = None
    ) -> Iterator[tuple[str, Question, Context]]:
        """``(path, question, index_path)`` of every visible question, in form order."""
        for path, question, context in self._visible_paths:
            if section_id is None or question.section_id == section_id:
                yield path, question, context


def _known_ids(form: Form) -> dict[str, frozenset[str]]:
    """The answer keys the form knows: ``""`` -> the top-level question ids, a repeat
    group's id -> its children's ids (once per form version, see ``Form.derived``)."""

    def make(form: Form) -> dict[str, frozenset[str]]:
        known = {
            "": frozenset(
                question.id for section in form.sections for question in section.questions
            )
        }
        for question in form.iter_questions():
            if question.type is QuestionType.REPEAT:
                known[question.id] = frozenset(child.id for child in question.children)
        return known

    return form.derived("engine.known_ids", make)


class _Walker:
    """The full pass of :func:`evaluate` that fills a :class:`FormState`."""

    def __init__(self, run: _Run, state: FormState) -> None:
        self.run = run
        self.state = state
        self.tr: Callable[[str], str] = run.tr

    def error(self, path: str, message: str) -> None:
        self.state.errors.setdefault(path, []).append(message)

    def walk(self) -> None:
        for section in self.run.form.sections:
            self.state._tallies[section.id] = _Tally()
            holder = self.run.answers
            if not self.run.section_visible(section):
                for question in section.questions:
                    self._note_hidden(question, (), holder)
                continue
            self.questions(section.questions, (), holder, section.id)
        self._unknown(self.run.answers, _known_ids(self.run.form)[""], "")

    def _unknown(
        self, holder: Mapping[str, Any] | None, known: frozenset[str], prefix: str
    ) -> None:
        if holder is None:
            return
        for key, value in holder.items():
            if key not in known and not is_empty(value):
                self.state.unknown_answers.append(f"{prefix}{key}")

    def _note_hidden(
        self, question: Question, context: Context, holder: Mapping[str, Any] | None
    ) -> None:
        if holder is not None and question.answerable and not is_empty(holder.get(question.id)):
            self.state.hidden_answers.append(answer_path(question, context))

    def questions(
        self,
        questions: tuple[Question, ...],
        context: Context,
        holder: Mapping[str, Any] | None,
        section_id: str,
    ) -> None:
        run = self.run
        for question in questions:
            if not run.visible(question, context):
                self._note_hidden(question, context, holder)
                continue
            path = answer_path(question, context)
            self.state._visible_paths.append((path, question, context))
            if question.type is QuestionType.NOTE:
                continue
            if question.calculate is not None:
                value = run.question_value(question, context)
                if value is not None:
                    self.state.computed[path] = to_json(question, value)
                continue
            required = question.required or (
                question.required_if is not None
                and self._condition(question.required_if, context, path) is True
            )
            if question.type is QuestionType.REPEAT:
                status = self.repeat(question, context, path, section_id)
            elif question.type is QuestionType.CONSENT:
                status = self.consent(question, context, path)
            else:
                status = self.answer(question, context, path)
            if required:
                self.state.required_paths.add(path)
                tally = self.state._tallies[section_id]
                tally.total += 1
                if status is _Status.OK:
                    tally.answered += 1
                elif status is _Status.EMPTY:
                    self.state.missing_required.append(MissingAnswer(path, section_id, question.id))

    def _condition(
        self, expression: CompiledExpression, context: Context, where: str
    ) -> bool | None:
        try:
            return self.run.evaluator.condition(expression.tree, context)
        except ExpressionError as error:
            self.run.problems.append(f"{where}: {error}")
            return None

    def answer(self, question: Question, context: Context, path: str) -> _Status:
        value, problem = self.run.converted(question, context)
        if problem:
            self.error(path, problem)
        if value is None:
            return _Status.INVALID if problem else _Status.EMPTY
        if question.choice_filter is not None:
            allowed = {choice.value for choice in self.run.choices_for(question, context)}
            chosen = value if isinstance(value, tuple) else (value,)
            if any(item not in allowed for item in chosen):
                self.error(path, self.tr(MSG_FILTERED))
        for constraint in question.constraints:
            if self._condition(constraint.expression, context, f"{path}: constraint") is False:
                self.error(path, constraint.message(self.run.lang))
        if (
            self.run.organisation is not None
            and question.id == CONSENT_PURPOSE
            and question.parent_id == REFERRALS
        ):
            self._referral_consent(question, context, path)
        return _Status.INVALID if path in self.state.errors else _Status.OK

    def _referral_consent(self, question: Question, context: Context, path: str) -> None:
        """The consent a referral names must cover its recipient and data on its date.

        With the organisation known, this check replaces the form's own constraint on
        the field: it judges on the referral's date (a referral made before a
        withdrawal stays lawful) and says which consent is missing.
        """
        run = self.run
        item = run.container(question.repeat_chain, context)
        if item is None:
            return
        consent = next(
            (
                run.answers.get(q.id)
                for section in run.form.sections
                for q in section.questions
                if q.type is QuestionType.CONSENT
            ),
            None,
        )
        recipient = ""
        service = item.get(SERVICE)
        if service == OTHER_SERVICE and isinstance(item.get(SERVICE_NAME), str):
            recipient = str(item[SERVICE_NAME]).strip()
        elif isinstance(service, str):
            service_question = run.form.get(SERVICE)
            choice = service_question.choice(service) if service_question else None
            recipient = choice.label(run.lang) if choice else service
        problems = referral_problems(
            item,
            consent,
            run.organisation,
            today=run.today,
            tr=self.tr,
            lang=run.lang,
            recipient=recipient,
        )
        self.state.errors.pop(path, None)
        for problem in problems:
            self.error(path, problem)

    def repeat(self, group: Question, context: Context, path: str, section_id: str) -> _Status:
        raw = self.run.raw(group, context)
        if raw is not None and not isinstance(raw, list):
            self.error(path, self.tr(N_("Die Einträge dieser Gruppe sind beschädigt.")))
            return _Status.INVALID
        items = raw or []
        count = len(items)
        if group.max is not None and count > group.max:
            self.error(path, self.tr(MSG_TOO_MANY).format(n=group.max))
        if group.min and 0 < count < group.min:
            self.error(path, self.tr(MSG_TOO_FEW).format(n=group.min))
        known = _known_ids(self.run.form)[group.id]
        for index, item in enumerate(items[: group.max or 100]):
            item_context = (*context, index)
            item_path = f"{path}[{index}]"
            if not isinstance(item, Mapping):
                self.error(item_path, self.tr(MSG_ITEM))
                continue
            self.questions(group.children, item_context, item, section_id)
            self._unknown(item, known, f"{item_path}.")
        if count == 0:
            return _Status.EMPTY
        return _Status.INVALID if path in self.state.errors else _Status.OK

    def consent(self, question: Question, context: Context, path: str) -> _Status:
        raw = self.run.raw(question, context)
        complete, problems = validate_consent(
            raw,
            tr=self.tr,
            today=self.run.today,
            purposes=self.run.purposes,
            languages=self.run.languages,
        )
        for problem in problems:
            self.error(path, problem)
        if problems:
            return _Status.INVALID
        return _Status.OK if complete else _Status.EMPTY


def evaluate(
    form: Form,
    answers: Mapping[str, Any],
    *,
    today: date | None = None,
    lang: str = "de",
    organisation: Any = None,
    expiry_warning_days: int | None = None,
) -> FormState:
    """Evaluate ``answers`` against ``form``.

    Args:
        form: a loaded form.
        answers: the stored answers (plain JSON, keyed by question id).
        today: the date for ``today()`` and age calculations (default: today).
        lang: language of the messages and labels (``de`` or ``en``).
        organisation: an ``OrganisationConfig``; when given, the consent block must decide
            each of its purposes and use one of its languages.
        expiry_warning_days: the setting ``records.expiry_warning_days``, returned by the
            form's ``expiry_warning_days()`` (default: the setting's default).
    """
    day = today or date.today()
    purposes = tuple(organisation.purpose_ids) if organisation is not None else None
    languages = tuple(organisation.languages) if organisation is not None else CONSENT_LANGUAGES
    run = _Run(
        form,
        answers,
        today=day,
        lang=lang,
        purposes=purposes,
        languages=languages,
        organisation=organisation,
        expiry_warning_days=expiry_warning_days or EXPIRY_WARNING_DAYS,
    )
    state = FormState(form, lang, day, _run=run)
    _Walker(run, state).walk()
    state.problems = run.problems
    return state


def _default(question: Question, today: date) -> Any:
    if question.default == "today" and question.type is QuestionType.DATE:
        return today.isoformat()
    return question.default


def initial_answers(form: Form, *, today: date | None = None) -> dict[str, Any]:
    """Answers for a new record: the defaults of the top-level questions."""
    day = today or date.today()
    return {
        question.id: _default(question, day)
        for section in form.sections
        for question in section.questions
        if question.default is not None
    }


def new_item(form: Form, group_id: str, *, today: date | None = None) -> dict[str, Any]:
    """A new item for the repeat group ``group_id`` with its children's defaults."""
    day = today or date.today()
    group = form.question(group_id)
    return {child.id: _default(child, day) for child in group.children if child.default is not None}
