"""Moving answers from one form version to the next, with nothing dropped silently.

A form file declares what changed since its ``previous_version``: renamed questions
(their answers move to the new id), removed questions (their answers are *retired*:
returned separately, so the caller stores them with the record's history), recoded
choice values, and dates reduced to year and month (``year_month``: the new id gets
``"YYYY-MM"``, the full date is retired). Answers the new version has no question for and
that no change mentions are retired too, with a note. Values are otherwise kept as they
are, even when the new version would reject them; the engine then shows them as errors
for the counsellor.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from intake_app.core.forms.errors import FormIssue
from intake_app.core.forms.model import ChangeKind, Form, FormChange, Question, QuestionType
from intake_app.errors import ValidationError
from intake_app.i18n import _


@dataclass(slots=True)
class MigrationResult:
    """Answers under the new version plus everything that did not carry over.

    Attributes:
        answers: the answers keyed for the new version.
        retired: answer path (of the old version) -> value that has no place in the new one.
        notes: what happened, one sentence per change, in the current language.
        form_id / version: the form the answers now belong to.
    """

    answers: dict[str, Any]
    retired: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    form_id: str = ""
    version: str = ""


def _groups(answers: dict[str, Any], chain: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """Every item dict reached by ``chain`` (group ids) with its path prefix."""
    holders: list[tuple[str, dict[str, Any]]] = [("", answers)]
    for group in chain:
        nxt: list[tuple[str, dict[str, Any]]] = []
        for prefix, holder in holders:
            items = holder.get(group)
            if not isinstance(items, list):
                continue
            for index, item in enumerate(items):
                if isinstance(item, dict):
                    nxt.append((f"{prefix}{group}[{index}].", item))
        holders = nxt
    return holders


def _present(value: Any) -> bool:
    return value is not None and value != "" and value != [] and value != {}


def migrate_answers(answers: Mapping[str, Any], from_form: Form, to_form: Form) -> MigrationResult:
    """Migrate ``answers`` given under ``from_form`` to ``to_form`` (its direct successor).

    Raises:
        ValidationError: when ``to_form`` is not the next version of ``from_form``.
    """
    data: dict[str, Any] = copy.deepcopy(dict(answers))
    result = MigrationResult(data, form_id=to_form.id, version=to_form.version)
    if from_form.key == to_form.key:
        return result
    if from_form.id != to_form.id or to_form.previous_version != from_form.version:
        raise ValidationError(
            _(
                "Von „{a} {va}“ nach „{b} {vb}“ gibt es keinen direkten Übergang; die neue Version "
                "muss „previous_version: {va}“ angeben."
            ).format(a=from_form.id, va=from_form.version, b=to_form.id, vb=to_form.version)
        )
    changes = sorted(to_form.changes, key=lambda change: -change.question.count("."))
    for change in changes:
        if change.kind is ChangeKind.REMOVE:
            _remove(data, change, result)
    for change in changes:
        if change.kind is ChangeKind.RENAME:
            _rename(data, change, result)
        elif change.kind is ChangeKind.YEAR_MONTH:
            _year_month(data, change, result)
    for change in changes:
        if change.kind is ChangeKind.RECODE:
            _recode(data, change, to_form, result)
    _retire_unknown(data, to_form, result)
    return result


def _remove(data: dict[str, Any], change: FormChange, result: MigrationResult) -> None:
    *chain, qid = change.question.split(".")
    for prefix, holder in _groups(data, chain):
        if qid in holder:
            value = holder.pop(qid)
            if _present(value):
                result.retired[f"{prefix}{qid}"] = value
                result.notes.append(
                    _("„{path}“ wurde entfernt; die Antwort ist archiviert.").format(
                        path=f"{prefix}{qid}"
                    )
                )


def _rename(data: dict[str, Any], change: FormChange, result: MigrationResult) -> None:
    *chain, old = change.question.split(".")
    new = (change.to or "").split(".")[-1]
    moved = 0
    for prefix, holder in _groups(data, chain):
        if old not in holder:
            continue
        value = holder.pop(old)
        if new in holder and _present(holder[new]):
            # Both exist: keep the answer under the new id and retire the old one.
            result.retired[f"{prefix}{old}"] = value
            result.notes.append(
                _(
                    "„{old}“ und „{new}“ hatten beide eine Antwort; die unter "
                    "„{old}“ ist archiviert."
                ).format(old=prefix + old, new=prefix + new)
            )
            continue
        holder[new] = value
        moved += 1
    if moved:
        result.notes.append(
            _("„{old}“ heißt jetzt „{new}“ ({n} Antwort(en) übernommen).").format(
                old=change.question, new=change.to, n=moved
            )
        )


def _year_month(data: dict[str, Any], change: FormChange, result: MigrationResult) -> None:
    """Move a date to ``change.to`` as ``"YYYY-MM"``; the full date is retired, not lost."""
    *chain, old = change.question.split(".")
    new = (change.to or "").split(".")[-1]
    moved = archived = 0
    for prefix, holder in _groups(data, chain):
        if old not in holder:
            continue
        value = holder.pop(old)
        if not _present(value):
            continue
        result.retired[f"{prefix}{old}"] = value
        archived += 1
        text = value if isinstance(value, str) else ""
        if len(text) >= 7 and text[:4].isdigit() and text[4] == "-" and text[5:7].isdigit():
            if not _present(holder.get(new)):
                holder[new] = text[:7]
                moved += 1
    if archived:
        result.notes.append(
            _(
                "„{old}“: nur Jahr und Monat stehen jetzt unter „{new}“ ({n} Antwort(en)); "
                "das vollständige Datum ist archiviert."
            ).format(old=change.question, new=change.to, n=moved)
        )


def _recode(
    data: dict[str, Any], change: FormChange, to_form: Form, result: MigrationResult
) -> None:
    *chain, qid = change.question.split(".")
    for prefix, holder in _groups(data, chain):
        value = holder.get(qid)
        if isinstance(value, str) and value in change.values:
            holder[qid] = change.values[value]
        elif isinstance(value, list) and any(item in change.values for item in value):
            holder[qid] = list(dict.fromkeys(change.values.get(item, item) for item in value))
        else:
            continue
        result.notes.append(
            _("„{path}“: Auswahl umgeschlüsselt ({old} → {new}).").format(
                path=prefix + qid, old=value, new=holder[qid]
            )
        )


def _retire_unknown(data: dict[str, Any], form: Form, result: MigrationResult) -> None:
    def visit(holder: dict[str, Any], questions: tuple[Question, ...], prefix: str) -> None:
        known = {question.id: question for question in questions}
        for key in list(holder):
            question = known.get(key)
            if question is None:
                value = holder.pop(key)
                if _present(value):
                    result.retired[prefix + key] = value
                    result.notes.append(
                        _(
                            "„{path}“ gibt es in Version {version} nicht mehr und "
                            "ist in „changes“ nicht erwähnt; die Antwort ist "
                            "archiviert."
                        ).format(path=prefix + key, version=form.version)
                    )
                continue
            if question.type is QuestionType.REPEAT and isinstance(holder[key], list):
                for index, item in enumerate(holder[key]):
                    if isinstance(item, dict):
                        visit(item, question.children, f"{prefix}{key}[{index}].")

    top = tuple(question for section in form.sections for question in section.questions)
    visit(data, top, "")


def _resolve(form: Form, path: str) -> Question | None:
    parts = path.split(".")
    question = form.get(parts[-1])
    if question is None or question.repeat_chain != tuple(parts[:-1]):
        return None
    return question


def check_succession(previous: Form, form: Form) -> list[FormIssue]:
    """Problems in how ``form`` declares its changes from ``previous``.

    Every question of the previous version must still exist (same path), or be renamed or
    removed explicitly; renamed and removed paths must exist in the previous version;
    recoded values must be choices there.
    """
    issues: list[FormIssue] = []
    source = form.source
    declared = {
        change.question
        for change in form.changes
        if change.kind in (ChangeKind.RENAME, ChangeKind.REMOVE, ChangeKind.YEAR_MONTH)
    }
    for change in form.changes:
        old = _resolve(previous, change.question)
        if old is None:
            issues.append(
                FormIssue(
                    source,
                    change.line,
                    None,
                    _("„{kind}: {path}“: diese Frage gibt es in Version {version} nicht.").format(
                        kind=change.kind.value, path=change.question, version=previous.version
                    ),
                )
            )
            continue
        if change.kind is ChangeKind.RECODE:
            for value in change.values:
                if old.choice(value) is None:
                    issues.append(
                        FormIssue(
                            source,
                            change.line,
                            old.id,
                            _("„recode“: „{value}“ ist in Version {version} keine Auswahl.").format(
                                value=value, version=previous.version
                            ),
                        )
                    )
    for question in previous:
        path = previous.path_of(question)
        if question.type is QuestionType.NOTE or path in declared:
            continue
        if _resolve(form, path) is None:
            issues.append(
                FormIssue(
                    source,
                    1,
                    question.id,
                    _(
                        "die Frage „{path}“ aus Version {version} fehlt, ohne dass „changes“ "
                        "sie als umbenannt (rename) oder entfernt (remove) nennt."
                    ).format(path=path, version=previous.version),
                )
            )
    return issues
