"""Versions: a record keeps its form version, and migration drops nothing silently."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from formkit import FIXTURES, PERSONAS, TODAY, refugee_nurse
from hypothesis import given, settings
from hypothesis import strategies as st

from intake_app.assets import form_path
from intake_app.core.forms import (
    Form,
    FormLoadError,
    check_files,
    check_succession,
    evaluate,
    load_form,
    load_organisation,
    load_registry,
    migrate_answers,
)
from intake_app.errors import NotFound, ValidationError

V2 = FIXTURES / "intake-2026.2.yaml"


@pytest.fixture(scope="module")
def v2() -> Form:
    return load_form(V2)


def _leaves(value: Any, prefix: str = "") -> dict[str, Any]:
    """Every scalar (or consent block) by path, to compare what went in and came out."""
    if isinstance(value, dict) and not ("purposes" in value and "date" in value):
        result: dict[str, Any] = {}
        for key, item in value.items():
            result.update(_leaves(item, f"{prefix}.{key}" if prefix else key))
        return result
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        result = {}
        for index, item in enumerate(value):
            result.update(_leaves(item, f"{prefix}[{index}]"))
        return result
    return {prefix: value}


def test_fixture_is_a_valid_successor(intake_form: Form, v2: Form) -> None:
    assert v2.previous_version == intake_form.version
    assert check_files([form_path("intake-2026.1.yaml"), V2]) == []
    assert check_succession(intake_form, v2) == []
    assert v2.renames == {
        "office_site": "service_point",
        "qualifications.qualification_years": "qualifications.programme_years",
    }
    assert v2.removals == ("debts", "debts_note", "lid_test")


def test_migration_keeps_everything(intake_form: Form, v2: Form) -> None:
    answers = refugee_nurse()
    answers["counselling_form"] = "email"
    answers["debts"] = True
    answers["debts_note"] = "Ratenzahlung"
    answers["stray_old_key"] = "from an older program"
    result = migrate_answers(answers, intake_form, v2)
    migrated = result.answers
    assert migrated["service_point"] == "Dortmund-Nord" and "office_site" not in migrated
    assert migrated["qualifications"][0]["programme_years"] == "4"
    assert "qualification_years" not in migrated["qualifications"][0]
    assert migrated["counselling_form"] == "written"
    assert result.retired == {
        "debts": True,
        "debts_note": "Ratenzahlung",
        "lid_test": "passed",
        "stray_old_key": "from an older program",
    }
    assert (result.form_id, result.version) == ("intake", "2026.2")
    assert len(result.notes) == 7
    assert any("„stray_old_key“" in note and "nicht erwähnt" in note for note in result.notes)
    # nothing dropped: every old value is in the new answers or retired (recodes aside)
    before = _leaves(answers)
    del before["counselling_form"]
    after = set(map(repr, _leaves(migrated).values())) | set(map(repr, result.retired.values()))
    for path, value in before.items():
        assert repr(value) in after, path
    assert answers["office_site"] == "Dortmund-Nord"  # the input is not changed


@pytest.mark.parametrize("name", sorted(PERSONAS))
def test_migrated_personas_are_valid_under_the_new_version(
    intake_form: Form, v2: Form, name: str
) -> None:
    result = migrate_answers(PERSONAS[name](), intake_form, v2)
    state = evaluate(v2, result.answers, today=TODAY, organisation=load_organisation())
    assert state.errors == {}
    assert state.unknown_answers == []
    assert state.complete
    assert "debts" in result.retired


def test_record_opens_under_its_own_version(intake_form: Form, v2: Form) -> None:
    registry = load_registry([form_path("intake-2026.1.yaml"), V2])
    assert registry.versions("intake") == ["2026.1", "2026.2"]
    assert registry.latest("intake").version == "2026.2"
    old = registry.get("intake", "2026.1")
    state = evaluate(old, refugee_nurse(), today=TODAY)
    assert state.errors == {} and state.unknown_answers == []
    with pytest.raises(NotFound):
        registry.get("intake", "1999.1")
    upgraded = registry.upgrade(refugee_nurse(), "intake", "2026.1")
    assert upgraded.version == "2026.2" and upgraded.answers["service_point"]
    assert "lid_test" in upgraded.retired


def test_same_version_is_a_no_op(intake_form: Form) -> None:
    answers = refugee_nurse()
    result = migrate_answers(answers, intake_form, intake_form)
    assert result.answers == answers and result.retired == {} and result.notes == []


def test_only_direct_successors_migrate(intake_form: Form, v2: Form) -> None:
    with pytest.raises(ValidationError, match="keinen direkten Übergang"):
        migrate_answers({}, v2, intake_form)


def test_rename_onto_an_existing_answer_retires_the_old_one(intake_form: Form, v2: Form) -> None:
    answers = {"office_site": "alt", "service_point": "neu"}
    result = migrate_answers(answers, intake_form, v2)
    assert result.answers["service_point"] == "neu"
    assert result.retired == {"office_site": "alt"}


def test_removed_answers_inside_repeats_are_retired(write_form: Callable[..., Path]) -> None:
    head = "form: pair\ntitle: {de: P, en: P}\n"
    v1 = write_form(
        head
        + """version: "1"
sections:
  - id: s
    label: {de: S, en: S}
    questions:
      - id: jobs
        type: repeat
        label: {de: J, en: J}
        questions:
          - {id: title, type: text, label: {de: T, en: T}}
          - {id: wage, type: integer, label: {de: L, en: W}}
""",
        "v1.yaml",
    )
    v2 = write_form(
        head
        + """version: "2"
previous_version: "1"
changes:
  - remove: jobs.wage
sections:
  - id: s
    label: {de: S, en: S}
    questions:
      - id: jobs
        type: repeat
        label: {de: J, en: J}
        questions:
          - {id: title, type: text, label: {de: T, en: T}}
""",
        "v2.yaml",
    )
    result = migrate_answers(
        {"jobs": [{"title": "a", "wage": 10}, {"title": "b"}, {"title": "c", "wage": 30}]},
        load_form(v1),
        load_form(v2),
    )
    assert result.answers == {"jobs": [{"title": "a"}, {"title": "b"}, {"title": "c"}]}
    assert result.retired == {"jobs[0].wage": 10, "jobs[2].wage": 30}


SUCCESSION_V1 = """form: pair
version: "1"
title: {de: P, en: P}
sections:
  - id: s
    label: {de: S, en: S}
    questions:
      - {id: keep, type: text, label: {de: K, en: K}}
      - {id: dropped, type: text, label: {de: D, en: D}}
      - id: kind
        type: choice
        label: {de: A, en: K}
        choices:
          - {value: a, label: {de: A, en: A}}
"""
SUCCESSION_V2 = """form: pair
version: "2"
previous_version: "1"
changes:
  - rename: never_existed
    to: fresh
  - recode: kind
    values: {zz: a}
title: {de: P, en: P}
sections:
  - id: s
    label: {de: S, en: S}
    questions:
      - {id: keep, type: text, label: {de: K, en: K}}
      - {id: fresh, type: text, label: {de: F, en: F}}
      - id: kind
        type: choice
        label: {de: A, en: K}
        choices:
          - {value: a, label: {de: A, en: A}}
"""


def test_undeclared_changes_are_reported(write_form: Callable[..., Path]) -> None:
    v1 = write_form(SUCCESSION_V1, "p1.yaml")
    v2 = write_form(SUCCESSION_V2, "p2.yaml")
    lines = check_files([v1, v2])
    assert any(
        "„rename: never_existed“: diese Frage gibt es in Version 1 nicht" in line for line in lines
    ), lines
    assert any("„recode“: „zz“ ist in Version 1 keine Auswahl" in line for line in lines)
    assert any("Frage „dropped“: die Frage „dropped“ aus Version 1 fehlt" in line for line in lines)
    with pytest.raises(FormLoadError):
        load_registry([v1, v2])


def test_missing_previous_version_is_reported(write_form: Callable[..., Path]) -> None:
    v2 = write_form(
        SUCCESSION_V2.replace("  - rename: never_existed\n    to: fresh\n", "")
        .replace("  - recode: kind\n    values: {zz: a}\n", "")
        .replace("changes:\n", ""),
        "p2.yaml",
    )
    with pytest.raises(FormLoadError, match="alte Versionen müssen mitgeliefert bleiben"):
        load_registry([v2])


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_property_nothing_is_lost(intake_form: Form, v2: Form, data: st.DataObject) -> None:
    ids = [q.id for q in intake_form if not q.repeat_chain] + ["junk", "x1"]
    answers = data.draw(
        st.dictionaries(
            st.sampled_from(ids),
            st.one_of(st.text(min_size=1, max_size=5), st.integers(), st.booleans()),
            max_size=15,
        )
    )
    result = migrate_answers(answers, intake_form, v2)
    renames = v2.renames
    for key, value in answers.items():
        target = renames.get(key, key)
        kept = result.answers.get(target) is not None or target in result.answers
        assert kept or result.retired.get(key) == value, key
