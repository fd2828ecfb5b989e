"""Version 2026.3 of the interview: each plan step has a status and the date it was
reached; everything else is 2026.2, so a record of 2026.2 moves on with nothing lost."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from formkit import PERSONAS, TODAY
from personas2026_2 import NEW_PERSONAS

from intake_app.assets import form_path
from intake_app.cli import main
from intake_app.core.forms import (
    check_files,
    evaluate,
    load_organisation,
    load_shipped_forms,
    migrate_answers,
    new_item,
)
from intake_app.core.forms.model import QuestionType
from intake_app.i18n import set_language

ORGANISATION = load_organisation()
REGISTRY = load_shipped_forms()
V2 = REGISTRY.get("intake", "2026.2")
V3 = REGISTRY.get("intake", "2026.3")
STEPS = [
    {"step": "Zeugnisse übersetzen lassen", "deadline": "2026-03-20", "responsible": "person"},
    {"step": "Termin IQ-Beratung", "responsible": "counsellor"},
]


def _ids(form: Any) -> dict[str, QuestionType]:
    return {question.id: question.type for question in form}


def test_the_new_file_passes_the_check_with_its_predecessor(
    capsys: pytest.CaptureFixture[str],
) -> None:
    files = [Path(form_path("intake-2026.2.yaml")), Path(form_path("intake-2026.3.yaml"))]
    assert check_files(files) == []
    assert main(["forms", "check", *map(str, files)]) == 0
    assert capsys.readouterr().err == ""


def test_it_follows_2026_2_and_only_adds_the_step_status() -> None:
    assert REGISTRY.latest("intake") is V3
    assert V3.previous_version == "2026.2"
    old, new = _ids(V2), _ids(V3)
    # nothing renamed, removed or retyped: every 2026.2 id keeps its type
    assert {qid: new.get(qid) for qid in old} == old
    assert set(new) - set(old) == {"status", "status_date"}
    for qid in ("status", "status_date"):
        assert V3.question(qid).parent_id == "plan_steps"


def test_the_status_choices_and_their_default() -> None:
    status = V3.question("status")
    assert status.type is QuestionType.CHOICE
    assert [(c.value, c.label("de"), c.label("en")) for c in status.choices] == [
        ("open", "Offen", "Open"),
        ("in_progress", "In Arbeit", "In progress"),
        ("done", "Erledigt", "Done"),
        ("dropped", "Entfallen", "Dropped"),
    ]
    assert V3.question("status_date").type is QuestionType.DATE
    # a new step starts open; the date is left to the counsellor
    assert new_item(V3, "plan_steps", today=TODAY) == {"status": "open"}


@pytest.mark.parametrize("name", sorted(NEW_PERSONAS))
def test_a_2026_2_record_moves_to_2026_3_unchanged(name: str) -> None:
    answers = {**NEW_PERSONAS[name](), "plan_steps": [dict(step) for step in STEPS]}
    assert evaluate(V2, answers, today=TODAY, organisation=ORGANISATION).errors == {}
    result = migrate_answers(answers, V2, V3)
    assert result.answers == answers
    assert result.retired == {} and result.notes == []
    state = evaluate(V3, result.answers, today=TODAY, organisation=ORGANISATION)
    assert state.errors == {} and state.unknown_answers == []
    assert state.complete
    # a moved step has no status (unknown), not a made-up "open"
    assert all("status" not in step for step in result.answers["plan_steps"])


def test_2026_1_records_reach_2026_3_through_2026_2() -> None:
    result = REGISTRY.upgrade(PERSONAS["ukrainian_24_children"](), "intake", "2026.1")
    assert result.version == "2026.3"
    assert set(result.retired) == {
        "children[0].child_birth_date",
        "children[1].child_birth_date",
    }


def _step_errors(step: dict[str, Any]) -> list[str]:
    answers = {**NEW_PERSONAS["eu_citizen"](), "plan_steps": [step]}
    state = evaluate(V3, answers, today=TODAY, organisation=ORGANISATION)
    return state.errors.get("plan_steps[0].status_date", [])


def test_a_status_date_in_the_future_is_refused_in_german_and_english() -> None:
    today = {"step": "Bewerbung", "status": "done", "status_date": TODAY.isoformat()}
    assert _step_errors(today) == []
    future = {**today, "status_date": (TODAY + timedelta(days=1)).isoformat()}
    (message,) = _step_errors(future)
    assert "in der Zukunft" in message
    try:
        set_language("en")
        answers = {**NEW_PERSONAS["eu_citizen"](), "plan_steps": [future]}
        state = evaluate(V3, answers, today=TODAY, organisation=ORGANISATION, lang="en")
        (english,) = state.errors["plan_steps[0].status_date"]
        assert "in the future" in english
    finally:
        set_language("de")


def test_a_status_date_needs_a_status() -> None:
    (message,) = _step_errors({"step": "Bewerbung", "status_date": TODAY.isoformat()})
    assert "ohne Stand" in message
