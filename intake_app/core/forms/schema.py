"""Structure of a form file: from located YAML to :class:`Form` objects.

This module checks everything that does not need the expression language: keys, types,
ids, labels in the required languages, choices and value sets, repeat groups, version
changes. Expressions are collected as :class:`PendingExpression` and compiled by
``linking.py`` once every question is known.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from intake_app.core.forms.model import (
    CLIENT_LANGUAGES,
    REQUIRED_LANGUAGES,
    Choice,
    Form,
    LocalText,
    Question,
    QuestionType,
    Section,
)
from intake_app.core.forms.reference import REFERENCE_NAMES
from intake_app.core.forms.schema_changes import read_changes
from intake_app.core.forms.schema_common import (
    ID_RE,
    LANGUAGE_RE,
    Issues,
    Reader,
    parse_bool,
    suggestion,
)
from intake_app.core.forms.yamlload import YMap, YText, line_of
from intake_app.i18n import _

VERSION_RE = re.compile(r"[0-9]+(\.[0-9]+){0,3}")
MAX_REPEAT_DEPTH = 3
MAX_REPEAT_ITEMS = 100

TOP_KEYS = (
    "form",
    "version",
    "title",
    "description",
    "client_languages",
    "previous_version",
    "changes",
    "include",
    "value_sets",
    "sections",
)
SECTION_KEYS = ("id", "label", "help", "relevant", "data_category", "questions")
COMMON_KEYS = (
    "id",
    "type",
    "label",
    "help",
    "relevant",
    "print",
    "special_category",
    "client_facing",
    "data_category",
    "internal",
)
_ANSWER = ("required", "constraint", "constraint_message", "constraints", "default")
TYPE_KEYS: dict[QuestionType, tuple[str, ...]] = {
    QuestionType.TEXT: (*_ANSWER, "calculate", "max_length"),
    QuestionType.LONG_TEXT: (*_ANSWER, "calculate", "max_length"),
    QuestionType.INTEGER: (*_ANSWER, "calculate", "min", "max"),
    QuestionType.DECIMAL: (*_ANSWER, "calculate", "min", "max"),
    QuestionType.DATE: (*_ANSWER, "calculate"),
    QuestionType.YES_NO: (*_ANSWER, "calculate"),
    QuestionType.CHOICE: (*_ANSWER, "calculate", "choices", "choice_filter"),
    QuestionType.MULTI_CHOICE: (*_ANSWER, "choices", "choice_filter"),
    QuestionType.REFERENCE: (*_ANSWER, "reference", "multiple", "extra_choices"),
    QuestionType.CEFR: (*_ANSWER, "calculate"),
    QuestionType.REPEAT: ("required", "questions", "min", "max", "item_label"),
    QuestionType.NOTE: (),
    QuestionType.CONSENT: ("required",),
}
DEFAULT_MAX_LENGTH = {QuestionType.TEXT: 300, QuestionType.LONG_TEXT: 5000}


@dataclass(slots=True)
class PendingExpression:
    """An expression found in the file, compiled later by the linker.

    ``field`` is one of ``relevant``, ``required_if``, ``calculate``, ``choice_filter``,
    ``constraint``; ``key`` is how the file wrote it (for messages).
    """

    owner: Question | Section
    field: str
    source: YText
    key: str
    message: LocalText | None = None


@dataclass(frozen=True, slots=True)
class ValueSet:
    """Named choices shared by several questions (possibly from an included file)."""

    name: str
    choices: tuple[Choice, ...]
    source: str | None = None
    file: str | None = None


IncludeLoader = Callable[[str, int], tuple[str, Any] | None]
"""Given an include path and its line: ``(file label, located YAML)`` or None if reported."""


class FormBuilder:
    """Turns the located YAML of one form file into a :class:`Form` plus pending expressions."""

    def __init__(self, issues: Issues, *, include: IncludeLoader | None = None) -> None:
        self.issues = issues
        self.read = Reader(issues)
        self.include = include
        self.pending: list[PendingExpression] = []
        self.value_sets: dict[str, ValueSet] = {}
        self.languages: tuple[str, ...] = REQUIRED_LANGUAGES
        self.client_languages: tuple[str, ...] = ()
        self.seen_ids: dict[str, int] = {}
        self.broken_ids: set[str] = set()  # questions dropped after a reported problem

    # -- top level -------------------------------------------------------------------------
    def build(self, tree: Any) -> Form | None:
        """Validate ``tree``; return the form (possibly with issues recorded) or None."""
        if tree is None:
            self.issues.add(
                0,
                None,
                _(
                    "Die Datei ist leer; eine Formulardatei beginnt mit "
                    "„form:“, „version:“, „title:“ und „sections:“."
                ),
            )
            return None
        if not isinstance(tree, YMap):
            self.issues.add(
                line_of(tree, 1),
                None,
                _(
                    "Eine Formulardatei muss eine Zuordnung sein, die mit „form:“ "
                    "beginnt, keine Liste und kein einzelner Text."
                ),
            )
            return None
        read = self.read
        read.keys(tree, TOP_KEYS, None, _("der Formulardatei"))
        form_id = read.identifier(tree, "form", None, _("Die Formulardatei"))
        version = self._version(tree, "version", required=True)
        previous = self._version(tree, "previous_version", required=False)
        self.client_languages = self._client_languages(tree)
        self.languages = REQUIRED_LANGUAGES + self.client_languages
        if tree.get("title") is None:
            read.add(tree.line, None, _("„title“ fehlt; bitte einen Titel mit de und en angeben."))
        title = read.local_text(tree, "title", None, languages=self.languages)
        description = read.local_text(tree, "description", None, languages=self.languages)
        for path in self._includes(tree):
            self._load_include(*path)
        if tree.get("value_sets") is not None:
            self._value_sets(tree["value_sets"], tree.line_of("value_sets"), None)
        changes = read_changes(self.read, tree, previous, self.languages)
        sections = self._sections(tree) or []
        # With problems recorded, a placeholder form still lets the linker check the
        # expressions, so one run reports as much as possible; the loader then refuses it.
        return Form(
            form_id or "invalid",
            version or "0",
            title or LocalText({"de": "?"}),
            tuple(sections),
            client_languages=self.client_languages,
            previous_version=previous,
            changes=tuple(changes),
            description_text=description,
        )

    def _version(self, tree: YMap, key: str, *, required: bool) -> str | None:
        value = tree.get(key)
        if value is None:
            if required:
                self.read.add(
                    tree.line,
                    None,
                    _('„{key}“ fehlt; bitte eine Versionsnummer wie "2026.1" angeben.').format(
                        key=key
                    ),
                )
            return None
        if not isinstance(value, YText) or not VERSION_RE.fullmatch(value.strip()):
            self.read.add(
                tree.line_of(key),
                None,
                _(
                    "„{key}“: „{value}“ ist keine Versionsnummer; schreiben Sie Zahlen mit "
                    'Punkten, z. B. "2026.1".'
                ).format(key=key, value=value),
            )
            return None
        return value.strip()

    def _client_languages(self, tree: YMap) -> tuple[str, ...]:
        value = tree.get("client_languages")
        if value is None:
            return ()
        items = self.read.sequence(
            value, tree.line_of("client_languages"), None, _("„client_languages“")
        )
        result: list[str] = []
        for index, item in enumerate(items or ()):
            if (
                not isinstance(item, YText)
                or not LANGUAGE_RE.fullmatch(item)
                or item in (REQUIRED_LANGUAGES)
            ):
                self.read.add(
                    items.line_of(index) if items else 0,
                    None,
                    _(
                        "„client_languages“: „{lang}“ ist kein Sprachcode (ISO 639-1, "
                        "z. B. {examples})."
                    ).format(lang=item, examples=", ".join(CLIENT_LANGUAGES)),
                )
                continue
            result.append(str(item))
        return tuple(dict.fromkeys(result))

    # -- includes and value sets -----------------------------------------------------------
    def _includes(self, tree: YMap) -> list[tuple[str, int]]:
        value = tree.get("include")
        if value is None:
            return []
        items = self.read.sequence(value, tree.line_of("include"), None, _("„include“"))
        result = []
        for index, item in enumerate(items or ()):
            line = items.line_of(index) if items else 0
            if not isinstance(item, YText) or not item.endswith((".yaml", ".yml")):
                self.read.add(
                    line, None, _("„include“: „{path}“ ist keine YAML-Datei.").format(path=item)
                )
                continue
            result.append((str(item), line))
        return result

    def _load_include(self, path: str, line: int) -> None:
        if self.include is None:
            self.read.add(line, None, _("„include“ ist hier nicht möglich."))
            return
        loaded = self.include(path, line)
        if loaded is None:
            return
        label, tree = loaded
        reader = Reader(self.issues, label)
        mapping = reader.mapping(tree, 1, None, _("Eine Wertelisten-Datei"))
        if mapping is None:
            return
        reader.keys(
            mapping,
            ("value_sets", "source", "licence", "description"),
            None,
            _("einer Wertelisten-Datei"),
        )
        source = reader.text(mapping, "source", None)
        if mapping.get("value_sets") is None:
            reader.add(mapping.line, None, _("„value_sets“ fehlt in der Wertelisten-Datei."))
            return
        self._value_sets(mapping["value_sets"], mapping.line_of("value_sets"), label, source=source)

    def _value_sets(
        self, value: Any, line: int, file: str | None, *, source: str | None = None
    ) -> None:
        reader = Reader(self.issues, file)
        sets = reader.mapping(value, line, None, _("„value_sets“"))
        for name, body in (sets or {}).items():
            set_line = sets.line_of(name) if sets else line
            if not ID_RE.fullmatch(name):
                reader.add(
                    set_line,
                    None,
                    _(
                        "„{name}“ ist kein gültiger Name für eine Werteliste "
                        "(Kleinbuchstaben, Ziffern, _)."
                    ).format(name=name),
                )
                continue
            if name in self.value_sets:
                reader.add(
                    set_line,
                    None,
                    _("Die Werteliste „{name}“ ist doppelt definiert.").format(name=name),
                )
                continue
            entry = reader.mapping(
                body, set_line, None, _("Die Werteliste „{name}“").format(name=name)
            )
            if entry is None:
                continue
            reader.keys(
                entry, ("choices", "source"), None, _("der Werteliste „{name}“").format(name=name)
            )
            if entry.get("choices") is None:
                reader.add(
                    entry.line,
                    None,
                    _("Der Werteliste „{name}“ fehlen „choices“.").format(name=name),
                )
                continue
            choices = reader.choices(
                entry["choices"], entry.line_of("choices"), None, languages=self.languages
            )
            if choices is not None:
                self.value_sets[name] = ValueSet(
                    name, choices, reader.text(entry, "source", None) or source, file
                )

    # -- sections and questions ------------------------------------------------------------
    def _sections(self, tree: YMap) -> list[Section] | None:
        value = tree.get("sections")
        if value is None:
            self.read.add(
                tree.line,
                None,
                _("„sections“ fehlt; ein Formular braucht mindestens einen Abschnitt mit Fragen."),
            )
            return None
        items = self.read.sequence(value, tree.line_of("sections"), None, _("„sections“"))
        if items is None:
            return None
        sections: list[Section] = []
        section_ids: dict[str, int] = {}
        for index, item in enumerate(items):
            entry = self.read.mapping(item, items.line_of(index), None, _("Ein Abschnitt"))
            if entry is None:
                continue
            section = self._section(entry)
            if section is None:
                continue
            if section.id in section_ids:
                self.read.add(
                    entry.line_of("id"),
                    None,
                    _("Der Abschnitt „{id}“ steht doppelt (zuerst in Zeile {first}).").format(
                        id=section.id, first=section_ids[section.id]
                    ),
                )
                continue
            section_ids[section.id] = entry.line_of("id")
            sections.append(section)
        if not sections and not self.issues:
            self.read.add(items.line, None, _("Das Formular hat keinen Abschnitt."))
        return sections

    def _section(self, entry: YMap) -> Section | None:
        read = self.read
        read.keys(entry, SECTION_KEYS, None, _("einem Abschnitt"))
        section_id = read.identifier(entry, "id", None, _("Ein Abschnitt"))
        if entry.get("label") is None:
            read.add(
                entry.line, None, _("Dem Abschnitt „{id}“ fehlt „label“.").format(id=section_id)
            )
        label = read.local_text(entry, "label", None, languages=self.languages)
        help_text = read.local_text(entry, "help", None, languages=self.languages)
        questions = self._questions(entry, section_id or "", (), None)
        category = self._category(entry, None)
        if section_id is None or label is None:
            return None
        _inherit_category(questions, category)
        section = Section(
            section_id, label, tuple(questions), help_text, line=entry.line, data_category=category
        )
        self._expression(entry, "relevant", section, "relevant", None)
        return section

    def _category(self, entry: YMap, qid: str | None) -> str | None:
        if entry.get("data_category") is None:
            return None
        return self.read.identifier(entry, "data_category", qid, _("„data_category“"))

    def _questions(
        self, entry: YMap, section_id: str, chain: tuple[str, ...], owner: str | None
    ) -> list[Question]:
        value = entry.get("questions")
        if value is None:
            self.read.add(entry.line, owner, _("„questions“ fehlt; bitte Fragen eintragen."))
            return []
        items = self.read.sequence(value, entry.line_of("questions"), owner, _("„questions“"))
        result = []
        for index, item in enumerate(items or ()):
            question_entry = self.read.mapping(
                item, items.line_of(index) if items else 0, owner, _("Eine Frage")
            )
            if question_entry is None:
                continue
            question = self._question(question_entry, section_id, chain)
            if question is not None:
                result.append(question)
        if items is not None and not items:
            self.read.add(items.line, owner, _("„questions“ ist leer; bitte Fragen eintragen."))
        return result

    def _question(self, entry: YMap, section_id: str, chain: tuple[str, ...]) -> Question | None:
        read = self.read
        qid = read.identifier(entry, "id", None, _("Eine Frage"))
        if qid is not None:
            if qid in self.seen_ids:
                read.add(
                    entry.line_of("id"),
                    qid,
                    _(
                        "die Kennung steht doppelt (zuerst in Zeile {first}); jede Frage "
                        "braucht eine eigene Kennung."
                    ).format(first=self.seen_ids[qid]),
                )
                qid = None
            else:
                self.seen_ids[qid] = entry.line_of("id")
        qtype = self._type(entry, qid)
        allowed = COMMON_KEYS + (TYPE_KEYS[qtype] if qtype else ())
        for key in entry:
            if key in allowed:
                continue
            owners = [t.value for t, keys in TYPE_KEYS.items() if key in keys]
            if owners and qtype is not None:
                read.add(
                    entry.line_of(key),
                    qid,
                    _(
                        "„{key}“ gibt es bei Typ „{type}“ nicht (nur bei: {owners}); entfernen "
                        "Sie es oder ändern Sie den Typ."
                    ).format(key=key, type=qtype.value, owners=", ".join(owners)),
                )
            elif not owners:
                read.add(
                    entry.line_of(key),
                    qid,
                    _("unbekannter Schlüssel „{key}“.{suggest} Erlaubt sind: {allowed}.").format(
                        key=key,
                        suggest=suggestion(key, allowed),
                        allowed=", ".join(sorted(allowed)),
                    ),
                )
        if entry.get("label") is None:
            read.add(
                entry.line, qid, _("„label“ fehlt; bitte den Fragetext auf de und en angeben.")
            )
        client_facing = read.boolean(entry, "client_facing", qid, False)
        required_languages = REQUIRED_LANGUAGES + (self.client_languages if client_facing else ())
        label = read.local_text(
            entry, "label", qid, languages=self.languages, required=required_languages
        )
        help_text = read.local_text(
            entry, "help", qid, languages=self.languages, required=required_languages
        )
        if qid is None or qtype is None:
            if qid is not None:
                self.broken_ids.add(qid)
            return None
        question = Question(
            qid,
            qtype,
            label or LocalText({"de": qid}),
            help_text,
            section_id=section_id,
            repeat_chain=chain,
            line=entry.line,
            client_facing=client_facing,
        )
        question.special_category = read.boolean(entry, "special_category", qid, False)
        question.print = read.boolean(entry, "print", qid, not question.special_category)
        question.data_category = self._category(entry, qid)
        question.internal = read.boolean(entry, "internal", qid, False)
        self._type_details(entry, question)
        self._expressions(entry, question)
        return question

    def _type(self, entry: YMap, qid: str | None) -> QuestionType | None:
        raw = entry.get("type")
        names = [t.value for t in QuestionType]
        if raw is None:
            self.read.add(
                entry.line,
                qid,
                _("„type“ fehlt; möglich sind: {types}.").format(types=", ".join(names)),
            )
            return None
        try:
            return QuestionType(str(raw).strip())
        except ValueError:
            self.read.add(
                entry.line_of("type"),
                qid,
                _("unbekannter Typ „{type}“.{suggest} Möglich sind: {types}.").format(
                    type=raw, suggest=suggestion(str(raw), names), types=", ".join(names)
                ),
            )
            return None

    def _type_details(self, entry: YMap, question: Question) -> None:
        read, qid, qtype = self.read, question.id, question.type
        if qtype in (QuestionType.CHOICE, QuestionType.MULTI_CHOICE):
            question.choices, question.value_set = self._question_choices(entry, qid)
        elif qtype is QuestionType.REFERENCE:
            self._reference(entry, question)
        elif qtype is QuestionType.REPEAT:
            self._repeat(entry, question)
        if qtype in (QuestionType.INTEGER, QuestionType.DECIMAL):
            question.min = self._number_bound(entry, "min", question)
            question.max = self._number_bound(entry, "max", question)
            if (
                question.min is not None
                and question.max is not None
                and question.min > question.max
            ):
                read.add(
                    entry.line_of("min"),
                    qid,
                    _("„min“ ({low}) ist größer als „max“ ({high}).").format(
                        low=question.min, high=question.max
                    ),
                )
        if qtype in DEFAULT_MAX_LENGTH:
            question.max_length = (
                read.integer(entry, "max_length", qid, minimum=1, maximum=100_000)
                or DEFAULT_MAX_LENGTH[qtype]
            )
        if qtype not in (QuestionType.NOTE,):
            question.required = (
                read.boolean(entry, "required", qid, False)
                if parse_required(entry.get("required"))
                else False
            )
        if entry.get("default") is not None:
            question.default = entry["default"]  # typed and checked by the linker

    def _number_bound(self, entry: YMap, key: str, question: Question) -> Any:
        value = entry.get(key)
        if value is None:
            return None
        text = str(value).strip() if isinstance(value, YText) else ""
        number: int | Decimal | None
        try:
            number = Decimal(text) if question.type is QuestionType.DECIMAL else int(text)
        except (ValueError, InvalidOperation):
            number = None
        if (
            number is None
            or (isinstance(number, Decimal) and not number.is_finite())
            or not (-(10**12) <= number <= 10**12)
        ):
            self.read.add(
                entry.line_of(key),
                question.id,
                _("„{key}“ muss eine Zahl sein, nicht „{value}“.").format(key=key, value=value),
            )
            return None
        return number

    def _question_choices(self, entry: YMap, qid: str) -> tuple[tuple[Choice, ...], str | None]:
        value = entry.get("choices")
        if value is None:
            self.read.add(
                entry.line,
                qid,
                _(
                    "„choices“ fehlt: eine Auswahlliste oder der Name "
                    "einer Werteliste (value_sets)."
                ),
            )
            return (), None
        if isinstance(value, YText):
            value_set = self.value_sets.get(str(value))
            if value_set is None:
                self.read.add(
                    entry.line_of("choices"),
                    qid,
                    _(
                        "unbekannte Werteliste „{name}“.{suggest} Definieren Sie sie unter "
                        "„value_sets“ oder binden Sie sie mit „include“ ein."
                    ).format(name=value, suggest=suggestion(str(value), self.value_sets)),
                )
                return (), None
            return value_set.choices, value_set.name
        return self.read.choices(
            value, entry.line_of("choices"), qid, languages=self.languages
        ) or (), None

    def _reference(self, entry: YMap, question: Question) -> None:
        raw = entry.get("reference")
        if raw is None:
            self.read.add(
                entry.line,
                question.id,
                _("„reference“ fehlt; möglich sind: {names}.").format(
                    names=", ".join(REFERENCE_NAMES)
                ),
            )
        elif str(raw) not in REFERENCE_NAMES:
            self.read.add(
                entry.line_of("reference"),
                question.id,
                _("unbekannte Referenzliste „{name}“.{suggest} Möglich sind: {names}.").format(
                    name=raw,
                    suggest=suggestion(str(raw), REFERENCE_NAMES),
                    names=", ".join(REFERENCE_NAMES),
                ),
            )
        else:
            question.reference = str(raw)
        question.multiple = self.read.boolean(entry, "multiple", question.id, False)
        if entry.get("extra_choices") is not None:
            question.choices = (
                self.read.choices(
                    entry["extra_choices"],
                    entry.line_of("extra_choices"),
                    question.id,
                    languages=self.languages,
                )
                or ()
            )

    def _repeat(self, entry: YMap, question: Question) -> None:
        read, qid = self.read, question.id
        chain = (*question.repeat_chain, qid)
        if len(chain) > MAX_REPEAT_DEPTH:
            read.add(
                entry.line,
                qid,
                _(
                    "Wiederholungsgruppen dürfen höchstens {n} Ebenen tief geschachtelt sein."
                ).format(n=MAX_REPEAT_DEPTH),
            )
            return
        question.min = read.integer(entry, "min", qid, minimum=0, maximum=MAX_REPEAT_ITEMS)
        question.max = read.integer(entry, "max", qid, minimum=1, maximum=MAX_REPEAT_ITEMS)
        if question.min is not None and question.max is not None and question.min > question.max:
            read.add(
                entry.line_of("min"),
                qid,
                _(
                    "„min“ ({low}) ist größer als „max“ ({high}); die Gruppe könnte nie "
                    "vollständig sein."
                ).format(low=question.min, high=question.max),
            )
        if question.max is None:
            question.max = MAX_REPEAT_ITEMS
        question.item_label_text = read.local_text(
            entry, "item_label", qid, languages=self.languages
        )
        question.children = tuple(self._questions(entry, question.section_id, chain, qid))

    # -- expressions ---------------------------------------------------------------------
    def _expressions(self, entry: YMap, question: Question) -> None:
        read, qid = self.read, question.id
        self._expression(entry, "relevant", question, "relevant", qid)
        self._expression(entry, "calculate", question, "calculate", qid)
        self._expression(entry, "choice_filter", question, "choice_filter", qid)
        required = entry.get("required")
        if required is not None and not parse_required(required):
            self._expression(entry, "required", question, "required_if", qid)
        if entry.get("constraint") is not None:
            if entry.get("constraint_message") is None:
                read.add(
                    entry.line_of("constraint"),
                    qid,
                    _(
                        "zu „constraint“ fehlt „constraint_message“ (de und en), die Meldung "
                        "für die Beraterin oder den Berater."
                    ),
                )
            else:
                message = read.local_text(
                    entry, "constraint_message", qid, languages=self.languages
                )
                self._expression(entry, "constraint", question, "constraint", qid, message)
        elif entry.get("constraint_message") is not None:
            read.add(
                entry.line_of("constraint_message"),
                qid,
                _("„constraint_message“ ohne „constraint“; ergänzen oder entfernen."),
            )
        if entry.get("constraints") is not None:
            items = read.sequence(
                entry["constraints"], entry.line_of("constraints"), qid, _("„constraints“")
            )
            for index, item in enumerate(items or ()):
                rule = read.mapping(
                    item,
                    items.line_of(index) if items else 0,
                    qid,
                    _("Eine Regel unter „constraints“"),
                )
                if rule is None:
                    continue
                read.keys(rule, ("check", "message"), qid, _("einer Regel"))
                if not read.require(rule, "check", qid, _("der Regel {n}").format(n=index + 1)):
                    continue
                if not read.require(rule, "message", qid, _("der Regel {n}").format(n=index + 1)):
                    continue
                message = read.local_text(rule, "message", qid, languages=self.languages)
                self._expression(
                    rule,
                    "check",
                    question,
                    "constraint",
                    qid,
                    message,
                    key_label=f"constraints[{index + 1}]",
                )
        if entry.get("calculate") is not None and entry.get("default") is not None:
            read.add(
                entry.line_of("default"),
                qid,
                _("eine berechnete Frage hat keinen „default“; entfernen Sie ihn."),
            )

    def _expression(
        self,
        entry: YMap,
        key: str,
        owner: Question | Section,
        field: str,
        qid: str | None,
        message: LocalText | None = None,
        *,
        key_label: str | None = None,
    ) -> None:
        value = entry.get(key)
        if value is None:
            return
        label = key_label or key
        if not isinstance(value, YText) or not value.strip():
            self.read.add(
                entry.line_of(key),
                qid,
                _(
                    "„{key}“ muss ein Ausdruck als Text sein, z. B. „{key}: age(birth_date) >= 18“."
                ).format(key=label),
            )
            return
        if field == "constraint" and message is None:
            return
        self.pending.append(PendingExpression(owner, field, value, label, message))


def parse_required(value: Any) -> bool:
    """True when ``required`` is a plain yes/no (not an expression)."""
    if value is None:
        return True
    return parse_bool(value) is not None or not isinstance(value, YText)


def _inherit_category(
    questions: list[Question] | tuple[Question, ...], category: str | None
) -> None:
    """A question without its own data category has its repeat group's, else its
    section's (docs/forms.md, "Data categories")."""
    for question in questions:
        if question.data_category is None:
            question.data_category = category
        _inherit_category(question.children, question.data_category)
