"""Answers as people read them: labels of choices, dates in the local format, Ja/Nein.

Shared by the review page, the record view and the printed summary, so an answer reads
the same on screen and on paper. Hidden answers are never shown: rows come from the
engine's visible paths.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.numbers import format_decimal

from intake_app.core.formats import babel_locale, format_iso_date
from intake_app.core.forms import Form, FormState
from intake_app.core.forms.model import Question, QuestionType
from intake_app.core.forms.reference import reference_list
from intake_app.i18n import N_, translator

CEFR_NONE = N_("keine Kenntnisse")


def _reference_label(question: Question, code: str, lang: str) -> str:
    extra = question.choice(code)
    if extra is not None:
        return extra.label(lang)
    if question.reference:
        try:
            return reference_list(question.reference).label(code, lang)
        except KeyError:
            return code
    return code


def format_value(question: Question, value: Any, lang: str = "de") -> str:
    """One answer as text in ``lang`` (empty string for no answer)."""
    tr = translator(lang)
    if value is None or value == "" or value == []:
        return ""
    kind = question.type
    if kind is QuestionType.YES_NO:
        return tr("Ja") if value else tr("Nein")
    if kind is QuestionType.DATE:
        return format_iso_date(str(value), lang)
    if kind is QuestionType.DECIMAL:
        try:
            return format_decimal(Decimal(str(value)), locale=babel_locale(lang))
        except (InvalidOperation, ValueError):
            return str(value)
    if kind is QuestionType.INTEGER:
        return str(value)
    if kind is QuestionType.CHOICE:
        choice = question.choice(str(value))
        return choice.label(lang) if choice else str(value)
    if kind is QuestionType.MULTI_CHOICE:
        values = value if isinstance(value, list) else [value]
        labels = []
        for item in values:
            choice = question.choice(str(item))
            labels.append(choice.label(lang) if choice else str(item))
        return ", ".join(labels)
    if kind is QuestionType.REFERENCE:
        values = value if isinstance(value, list) else [value]
        return ", ".join(_reference_label(question, str(code), lang) for code in values)
    if kind is QuestionType.CEFR:
        return tr(CEFR_NONE) if value == "none" else str(value)
    if kind is QuestionType.CONSENT:
        return consent_summary(value, lang)
    return str(value)


def consent_summary(value: Any, lang: str = "de") -> str:
    """A one-line summary of a consent block: date, language, granted purposes."""
    tr = translator(lang)
    if not isinstance(value, dict):
        return ""
    purposes = value.get("purposes") or {}
    granted = [
        pid
        for pid, state in purposes.items()
        if isinstance(state, dict) and state.get("granted") and not state.get("withdrawn_on")
    ]
    withdrawn = [
        pid
        for pid, state in purposes.items()
        if isinstance(state, dict) and state.get("granted") and state.get("withdrawn_on")
    ]
    parts = [
        tr("erteilt am {date}").format(date=format_iso_date(value.get("date"), lang))
        if value.get("date")
        else tr("noch nicht erteilt"),
        tr("{n} von {total} Zwecken").format(n=len(granted), total=len(purposes)),
    ]
    if withdrawn:
        parts.append(tr("{n} widerrufen").format(n=len(withdrawn)))
    return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class AnswerRow:
    """One line of a review or printout."""

    section_id: str
    path: str
    question: Question
    label: str
    text: str
    depth: int
    is_group_item: bool = False


def answer_rows(
    form: Form,
    state: FormState,
    lang: str = "de",
    *,
    include_empty: bool = False,
    include_special: bool = True,
) -> Iterator[AnswerRow]:
    """Visible answers in form order (repeat items as headed sub-rows).

    Args:
        include_empty: also yield visible questions without an answer.
        include_special: False leaves out special-category (Art. 9) questions.
    """
    seen_items: set[str] = set()
    for path, question, context in state.visible_paths():
        if not include_special and question.special_category:
            continue
        if question.type is QuestionType.NOTE:
            continue
        # a heading row for each repeat item the first time one of its answers appears
        for depth, (group, index) in enumerate(zip(question.repeat_chain, context, strict=True)):
            key = ".".join(path.split(".")[: depth + 1])
            if key not in seen_items:
                seen_items.add(key)
                group_q = form.question(group)
                yield AnswerRow(
                    section_id=question.section_id,
                    path=key,
                    question=group_q,
                    label=f"{group_q.item_label(lang)} {index + 1}",
                    text="",
                    depth=depth,
                    is_group_item=True,
                )
        if question.type is QuestionType.REPEAT:
            continue
        value = state.value(question.id, context)
        text = format_value(question, value, lang)
        if not text and not include_empty:
            continue
        yield AnswerRow(
            section_id=question.section_id,
            path=path,
            question=question,
            label=question.label(lang),
            text=text,
            depth=len(context),
        )
