"""What of a record a consent purpose covers: the answers of the data categories it names.

Each question of a form belongs to a data category of the organisation file
(``data_category`` on the section, the repeat group or the question; docs/forms.md). An
answer may go to the recipient of a purpose only when (docs/security.md, "What reaches the
central office"):

- the purpose is granted and not withdrawn on the day (the referral check's
  :func:`~intake_app.core.forms.referral_consent.granted_on`);
- its question has a data category and the purpose names it (the referral check's
  :func:`~intake_app.core.forms.referral_consent.uncovered_categories`);
- the question is not an internal note (``internal: true``);
- for a special category (Art. 9 GDPR): the separate Art. 9 consent is in force as well,
  and the purpose names the special category explicitly. The shipped purposes name none,
  as the Art. 9 text promises ("not passed on unless I ask for it").

Everything else stays: a question without a category, an answer the form does not know.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from intake_app.core.forms.consent import art9_granted
from intake_app.core.forms.model import Form, Question, QuestionType
from intake_app.core.forms.organisation import ConsentPurpose, OrganisationConfig
from intake_app.core.forms.referral_consent import granted_on, uncovered_categories


def purpose_in_force(
    consent: Any, organisation: OrganisationConfig | None, purpose_id: str, *, on: date
) -> ConsentPurpose | None:
    """The purpose when the organisation knows it and it is granted (not withdrawn) on
    ``on``; else None (nothing of the categories may go)."""
    if organisation is None:
        return None
    try:
        purpose = organisation.purpose(purpose_id)
    except KeyError:
        return None
    return purpose if granted_on(consent, purpose_id, on) else None


def _may_go(question: Question, purpose: ConsentPurpose, consent: Any, on: date) -> bool:
    if question.internal or question.data_category is None:
        return False
    if uncovered_categories(purpose, (question.data_category,)):
        return False
    return not question.special_category or art9_granted(consent, on=on)


def covered_answers(
    form: Form,
    answers: Mapping[str, Any],
    purpose: ConsentPurpose,
    consent: Any,
    *,
    on: date,
) -> dict[str, Any]:
    """The answers whose questions ``purpose`` covers (repeat items keep their covered
    fields). ``purpose`` must be in force (:func:`purpose_in_force`)."""
    result: dict[str, Any] = {}
    for key, value in answers.items():
        if key not in form:
            continue
        question = form.question(key)
        if question.parent_id is not None or not _may_go(question, purpose, consent, on):
            continue
        if question.type == QuestionType.REPEAT:
            items = _items(question, value, purpose, consent, on)
            if items is not None:
                result[key] = items
        else:
            result[key] = value
    return result


def _items(
    group: Question, value: Any, purpose: ConsentPurpose, consent: Any, on: date
) -> list[dict[str, Any]] | None:
    if not isinstance(value, list):
        return None
    children = {child.id: child for child in group.children}
    items = []
    for item in value:
        if not isinstance(item, Mapping):
            continue
        kept: dict[str, Any] = {}
        for name, answer in item.items():
            child = children.get(name)
            if child is None or not _may_go(child, purpose, consent, on):
                continue
            if child.type == QuestionType.REPEAT:
                nested = _items(child, answer, purpose, consent, on)
                if nested is not None:
                    kept[name] = nested
            else:
                kept[name] = answer
        items.append(kept)
    return items
