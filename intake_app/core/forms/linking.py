"""Second pass of loading: compile expressions against the form and check cross-references.

Here the form's questions are all known, so the linker can resolve names in expressions,
check types, type the defaults, verify declared version changes against this version,
refuse circular relevance/calculations, and apply the privacy rules (a special-category
question is only shown with the Art. 9 consent).
"""

from __future__ import annotations

from typing import Any

from intake_app.core.forms.errors import ExpressionError
from intake_app.core.forms.expressions import Binding, compile_expression
from intake_app.core.forms.expressions.nodes import Call, walk
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
from intake_app.core.forms.model import (
    ChangeKind,
    Constraint,
    Form,
    Question,
    QuestionType,
    Section,
)
from intake_app.core.forms.reference import reference_list
from intake_app.core.forms.schema import PendingExpression
from intake_app.core.forms.schema_common import Issues, suggestion
from intake_app.core.forms.schema_common import parse_bool as parse_yes_no
from intake_app.core.forms.values import to_runtime
from intake_app.core.forms.yamlload import YList, YText
from intake_app.i18n import _

_SIMPLE_TYPES = {
    QuestionType.TEXT: TEXT,
    QuestionType.LONG_TEXT: TEXT,
    QuestionType.INTEGER: INTEGER,
    QuestionType.DECIMAL: NUMBER,
    QuestionType.DATE: DATE,
    QuestionType.YES_NO: BOOL,
    QuestionType.CEFR: CEFR,
    QuestionType.CONSENT: CONSENT,
}


def question_type(question: Question) -> Type:
    """The expression-language type of a question's value."""
    simple = _SIMPLE_TYPES.get(question.type)
    if simple is not None:
        return simple
    if question.type is QuestionType.REPEAT:
        return Type(Kind.REPEAT, repeat=question.id)
    domain: frozenset[str] = frozenset(question.choice_values)
    if question.type is QuestionType.REFERENCE and question.reference:
        domain = domain | reference_list(question.reference).codes()
    item = Type(Kind.TEXT, domain=domain, owner=question.id)
    if question.type is QuestionType.MULTI_CHOICE or (
        question.type is QuestionType.REFERENCE and question.multiple
    ):
        return list_of(item)
    return item


class FormScope:
    """Resolves names for expressions of one question (or section) of a form."""

    def __init__(
        self,
        form: Form,
        owner: Question | None,
        chain: tuple[str, ...],
        *,
        self_allowed: bool,
        choice_of: Question | None = None,
        broken: frozenset[str] = frozenset(),
    ) -> None:
        self.form = form
        self.broken = broken
        self.hit_broken = False
        self.owner = owner
        self.chain = chain
        self.self_allowed = self_allowed
        self.choice_of = choice_of

    def lookup(self, name: str) -> tuple[Type, Binding] | str:
        question = self.form.get(name)
        if question is None and name in self.broken:
            self.hit_broken = True  # already reported where the question is defined
            return _("„{name}“ ist fehlerhaft definiert.").format(name=name)
        if question is None:
            return _("unbekannte Frage „{name}“.{suggest}").format(
                name=name, suggest=suggestion(name, [q.id for q in self.form])
            )
        if question.type is QuestionType.NOTE:
            return _("„{name}“ ist ein Hinweis und hat keinen Wert.").format(name=name)
        chain = question.repeat_chain
        if self.chain[: len(chain)] != chain:
            group = next(
                g
                for index, g in enumerate(chain)
                if index >= len(self.chain) or self.chain[index] != g
            )
            return _(
                "„{name}“ gehört zur Wiederholungsgruppe „{group}“ und hat dort je Eintrag "
                "eine Antwort; nutzen Sie z. B. any({group}, …), count({group}, …) oder "
                "sum({group}, …)."
            ).format(name=name, group=group)
        return question_type(question), Binding("question", question.id, len(chain))

    def lookup_self(self) -> tuple[Type, Binding] | str:
        if not self.self_allowed or self.owner is None:
            return _("„.“ (die eigene Antwort) gibt es nur in constraint und choice_filter.")
        return self.lookup(self.owner.id)

    def inside(self, repeat_qid: str) -> FormScope | str:
        group = self.form.get(repeat_qid)
        if group is None or group.type is not QuestionType.REPEAT:
            return _("„{name}“ ist keine Wiederholungsgruppe.").format(name=repeat_qid)
        inner = FormScope(
            self.form,
            self.owner,
            (*group.repeat_chain, group.id),
            self_allowed=self.self_allowed,
            choice_of=self.choice_of,
            broken=self.broken,
        )
        inner.hit_broken = self.hit_broken
        return inner

    def choice_type(self) -> Type | None:
        if self.choice_of is None:
            return None
        return Type(
            Kind.TEXT, domain=frozenset(self.choice_of.choice_values), owner=self.choice_of.id
        )


def _position(source: YText, error: ExpressionError) -> tuple[int, int | None]:
    """File line and column of an expression error (columns count in the file's line)."""
    if error.column is None:
        return source.line, None
    return source.locate(error.column)


class Linker:
    """Compiles the pending expressions of a built form and checks cross-references."""

    def __init__(self, form: Form, issues: Issues, *, broken: frozenset[str] = frozenset()) -> None:
        self.form = form
        self.issues = issues
        self.broken = broken

    def link(self, pending: list[PendingExpression]) -> None:
        """Run every check; problems go to ``issues``."""
        for item in pending:
            self._compile(item)
        for question in self.form:
            self._check_question(question)
        self._check_changes()
        self._check_cycles()

    # -- expressions -----------------------------------------------------------------------
    def _compile(self, item: PendingExpression) -> None:
        owner = item.owner
        question = owner if isinstance(owner, Question) else None
        chain = question.repeat_chain if question else ()
        field = item.field
        scope = FormScope(
            self.form,
            question,
            chain,
            self_allowed=field in ("constraint", "choice_filter"),
            choice_of=question if field == "choice_filter" else None,
            broken=self.broken,
        )
        qid = question.id if question else None
        try:
            compiled = compile_expression(item.source, scope, condition=field != "calculate")
        except ExpressionError as error:
            if scope.hit_broken:
                return
            line, column = _position(item.source, error)
            where = _(" (Spalte {column})").format(column=column) if column else ""
            prefix = "" if question else _("Abschnitt „{id}“: ").format(id=owner.id)
            self.issues.add(line, qid, f"{prefix}{item.key}: {error.message}{where}")
            return
        if field == "relevant":
            owner.relevant = compiled
        elif field == "required_if" and question:
            question.required_if = compiled
        elif field == "choice_filter" and question:
            question.choice_filter = compiled
        elif field == "constraint" and question and item.message is not None:
            question.constraints = (
                *question.constraints,
                Constraint(compiled, item.message, item.source.line),
            )
        elif field == "calculate" and question:
            problem = _calculation_mismatch(question, compiled.type)
            if problem:
                self.issues.add(item.source.line, qid, problem)
                return
            question.calculate = compiled

    # -- per question ------------------------------------------------------------------------
    def _check_question(self, question: Question) -> None:
        qid = question.id
        if question.type is QuestionType.CONSENT and question.repeat_chain:
            self.issues.add(
                question.line,
                qid,
                _("ein Einwilligungsblock gehört nicht in eine Wiederholungsgruppe."),
            )
        if question.calculate is not None and (question.required or question.required_if):
            self.issues.add(
                question.line,
                qid,
                _("eine berechnete Frage wird automatisch ausgefüllt; entfernen Sie „required“."),
            )
        if question.special_category and not self._guarded_by_art9(question):
            self.issues.add(
                question.line,
                qid,
                _(
                    "besondere Kategorie (Art. 9 DSGVO): die Frage darf nur mit der "
                    "gesonderten Einwilligung erscheinen; ergänzen Sie z. B. "
                    "„relevant: art9_consented(consent)“."
                ),
            )
        if question.default is not None:
            question.default = self._default(question, question.default)

    def _guarded_by_art9(self, question: Question) -> bool:
        expressions = [question.relevant] + [
            self.form.get(g).relevant  # type: ignore[union-attr]
            for g in question.repeat_chain
        ]
        section = next((s for s in self.form.sections if s.id == question.section_id), None)
        if section is not None:
            expressions.append(section.relevant)
        for expression in expressions:
            if expression is None:
                continue
            if any(
                isinstance(node, Call) and node.name == "art9_consented"
                for node in walk(expression.tree)
            ):
                return True
        return False

    def _default(self, question: Question, raw: Any) -> Any:
        qid, qtype = question.id, question.type
        line = getattr(raw, "line", question.line)
        value: Any = raw
        if qtype in (QuestionType.REPEAT, QuestionType.NOTE, QuestionType.CONSENT):
            return None  # the schema already refuses the key for these types
        if isinstance(raw, YList):
            value = [str(item) for item in raw]
        elif isinstance(raw, YText):
            text = str(raw).strip()
            if qtype is QuestionType.INTEGER and text.lstrip("-").isdigit() and len(text) < 16:
                value = int(text)
            elif qtype is QuestionType.YES_NO:
                value = parse_yes_no(raw)
            elif qtype is QuestionType.DATE and text == "today":
                return "today"
            elif qtype in (QuestionType.MULTI_CHOICE,) or (
                qtype is QuestionType.REFERENCE and question.multiple
            ):
                value = [text]
            else:
                value = text
        runtime, problem = to_runtime(question, value, _)
        if problem or runtime is None:
            hint = _(" (für Datumsfragen auch „today“)") if qtype is QuestionType.DATE else ""
            self.issues.add(
                line,
                qid,
                _("„default“: {problem}{hint}").format(
                    problem=problem or _("ungültiger Wert"), hint=hint
                ),
            )
            return None
        return value

    # -- version changes ---------------------------------------------------------------------
    def _resolve(self, path: str) -> Question | None:
        parts = path.split(".")
        question = self.form.get(parts[-1])
        if question is None or question.repeat_chain != tuple(parts[:-1]):
            return None
        return question

    def _check_changes(self) -> None:
        seen: dict[str, int] = {}
        for change in self.form.changes:
            if change.question in seen and change.kind is not ChangeKind.RECODE:
                self.issues.add(
                    change.line,
                    None,
                    _("„{path}“ wird mehrfach geändert (zuerst in Zeile {first}).").format(
                        path=change.question, first=seen[change.question]
                    ),
                )
                continue
            if change.kind is not ChangeKind.RECODE:
                seen[change.question] = change.line
            if change.kind is ChangeKind.RENAME:
                if self._resolve(change.to or "") is None:
                    self.issues.add(
                        change.line,
                        None,
                        _(
                            "„rename: {old}“: die neue Kennung „{new}“ gibt es in "
                            "diesem Formular nicht."
                        ).format(old=change.question, new=change.to),
                    )
                if self._resolve(change.question) is not None:
                    self.issues.add(
                        change.line,
                        None,
                        _(
                            "„rename: {old}“: die alte Kennung gibt es in diesem "
                            "Formular noch; eine umbenannte Frage muss die neue "
                            "Kennung tragen."
                        ).format(old=change.question),
                    )
            elif change.kind is ChangeKind.YEAR_MONTH:
                target = self._resolve(change.to or "")
                if target is None or target.type is not QuestionType.TEXT:
                    self.issues.add(
                        change.line,
                        None,
                        _(
                            "„year_month: {old}“: „{new}“ muss eine Textfrage dieses "
                            "Formulars sein (sie bekommt JJJJ-MM)."
                        ).format(old=change.question, new=change.to),
                    )
                if self._resolve(change.question) is not None:
                    self.issues.add(
                        change.line,
                        None,
                        _(
                            "„year_month: {old}“: die alte Frage gibt es in diesem "
                            "Formular noch; löschen Sie sie oder die Änderung."
                        ).format(old=change.question),
                    )
            elif change.kind is ChangeKind.REMOVE:
                if self._resolve(change.question) is not None:
                    self.issues.add(
                        change.line,
                        None,
                        _(
                            "„remove: {path}“: die Frage gibt es in diesem Formular "
                            "noch; löschen Sie sie oder die Änderung."
                        ).format(path=change.question),
                    )
            else:
                self._check_recode(change.question, change.values, change.line)

    def _check_recode(self, path: str, values: Any, line: int) -> None:
        question = self._resolve(path)
        if question is None or question.type not in (
            QuestionType.CHOICE,
            QuestionType.MULTI_CHOICE,
        ):
            self.issues.add(
                line,
                None,
                _(
                    "„recode: {path}“: eine Auswahlfrage mit dieser Kennung "
                    "gibt es in diesem Formular nicht."
                ).format(path=path),
            )
            return
        for old, new in values.items():
            if question.choice(new) is None:
                self.issues.add(
                    line,
                    question.id,
                    _(
                        "„recode“: der neue Wert „{new}“ (für „{old}“) ist keine "
                        "Auswahl dieser Frage."
                    ).format(new=new, old=old),
                )

    # -- cycles ------------------------------------------------------------------------------
    def _dependencies(self) -> dict[str, set[str]]:
        sections: dict[str, Section] = {s.id: s for s in self.form.sections}
        graph: dict[str, set[str]] = {}
        for question in self.form:
            deps: set[str] = set(question.repeat_chain)
            for expression in (question.relevant, question.calculate):
                if expression is not None:
                    deps |= expression.references
            section = sections.get(question.section_id)
            if section is not None and section.relevant is not None:
                deps |= section.relevant.references
            graph[question.id] = deps
        return graph

    def _check_cycles(self) -> None:
        graph = self._dependencies()
        state: dict[str, int] = {}  # 1 = on the stack, 2 = done
        reported: set[frozenset[str]] = set()
        for start in graph:
            if state.get(start):
                continue
            stack: list[tuple[str, list[str]]] = [(start, sorted(graph[start]))]
            path = [start]
            state[start] = 1
            while stack:
                node, pending = stack[-1]
                if not pending:
                    stack.pop()
                    path.pop()
                    state[node] = 2
                    continue
                nxt = pending.pop()
                if nxt not in graph:
                    continue
                if state.get(nxt) == 1:
                    cycle = [*path[path.index(nxt) :], nxt]
                    key = frozenset(cycle)
                    if key not in reported:
                        reported.add(key)
                        question = self.form.question(nxt)
                        self.issues.add(
                            question.line,
                            nxt,
                            _(
                                "Relevanz oder Berechnung hängen im Kreis voneinander "
                                "ab: {cycle}. Eine Frage kann nicht (auch nicht über "
                                "andere) von sich selbst abhängen."
                            ).format(cycle=" → ".join(cycle)),
                        )
                    continue
                if state.get(nxt) == 2:
                    continue
                state[nxt] = 1
                path.append(nxt)
                stack.append((nxt, sorted(graph[nxt])))


def _calculation_mismatch(question: Question, actual: Type) -> str | None:
    if question.type in (
        QuestionType.REPEAT,
        QuestionType.NOTE,
        QuestionType.CONSENT,
        QuestionType.MULTI_CHOICE,
        QuestionType.REFERENCE,
    ):
        return _("Fragen vom Typ „{type}“ können nicht berechnet werden.").format(
            type=question.type.value
        )
    expected = question_type(question)
    ok = actual.kind is expected.kind and (
        expected.kind is not Kind.NUMBER or not expected.integer or actual.integer
    )
    if ok and expected.domain is not None and actual.domain is not None:
        ok = actual.domain <= expected.domain
    if ok:
        return None
    hint = _(" Runden Sie mit round(…).") if expected.kind is Kind.NUMBER else ""
    return _(
        "„calculate“ ergibt {actual}, die Frage vom Typ „{type}“ braucht aber {expected}.{hint}"
    ).format(
        actual=actual.describe(), type=question.type.value, expected=expected.describe(), hint=hint
    )
