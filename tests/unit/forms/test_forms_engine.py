"""Engine mechanics on small forms: visibility, validation, repeats, completeness."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from formkit import TODAY

from intake_app.core.forms import (
    Form,
    evaluate,
    initial_answers,
    load_form,
    load_organisation,
    new_item,
)

FORM = """
form: engine_demo
version: "1"
title: {de: Demo, en: Demo}
sections:
  - id: main
    label: {de: Haupt, en: Main}
    questions:
      - id: mode
        type: choice
        label: {de: Modus, en: Mode}
        required: true
        default: simple
        choices:
          - {value: simple, label: {de: Einfach, en: Simple}}
          - {value: full, label: {de: Voll, en: Full}}
      - id: amount
        type: decimal
        label: {de: Betrag, en: Amount}
        min: 0
        max: 1000
      - id: count_people
        type: integer
        label: {de: Personen, en: People}
        required: mode = 'full'
      - id: since
        type: date
        label: {de: Seit, en: Since}
      - id: agree
        type: yes_no
        label: {de: Zustimmung, en: Agreement}
      - id: tags
        type: multi_choice
        label: {de: Merkmale, en: Tags}
        choices:
          - {value: a, label: {de: A, en: A}}
          - {value: b, label: {de: B, en: B}}
          - {value: c, label: {de: C, en: C}}
        choice_filter: choice != 'c' or mode = 'full'
      - id: country
        type: reference
        reference: country
        label: {de: Land, en: Country}
      - id: name
        type: text
        label: {de: Name, en: Name}
        max_length: 5
      - id: fragile
        type: text
        label: {de: Zerbrechlich, en: Fragile}
        relevant: 1 / (count_people - count_people) > 0
      - id: households
        type: repeat
        label: {de: Haushalte, en: Households}
        required: true
        min: 2
        max: 3
        questions:
          - id: size
            type: integer
            label: {de: Größe, en: Size}
            required: true
            default: "1"
          - id: members
            type: repeat
            label: {de: Mitglieder, en: Members}
            questions:
              - id: member_age
                type: integer
                label: {de: Alter, en: Age}
                required: true
              - id: member_school
                type: text
                label: {de: Schule, en: School}
                relevant: member_age < 18 and size > 1
          - id: adults
            type: integer
            label: {de: Erwachsene, en: Adults}
            calculate: count(members, member_age >= 18)
      - id: total_size
        type: integer
        label: {de: Summe, en: Total}
        calculate: sum(households, size)
  - id: extra
    label: {de: Extra, en: Extra}
    relevant: mode = 'full'
    questions:
      - id: remark
        type: text
        label: {de: Bemerkung, en: Remark}
        required: true
"""


@pytest.fixture
def demo(write_form: Callable[[str], Path]) -> Form:
    return load_form(write_form(FORM))


def good() -> dict[str, object]:
    return {
        "mode": "simple",
        "households": [
            {
                "size": 2,
                "members": [{"member_age": 40}, {"member_age": 10, "member_school": "GS Nord"}],
            },
            {"size": 1, "members": [{"member_age": 70}]},
        ],
    }


def test_complete_record(demo: Form) -> None:
    state = evaluate(demo, good(), today=TODAY)
    assert state.errors == {} and state.missing_required == []
    assert state.complete
    assert state.computed == {"households[0].adults": 1, "households[1].adults": 1, "total_size": 3}
    # mode, households, two sizes, three member ages
    assert state.section_completion("main") == (7, 7)
    assert state.section_completion("extra") == (0, 0)
    assert not state.section_visible("extra")


def test_nested_repeat_paths_and_visibility(demo: Form) -> None:
    state = evaluate(demo, good(), today=TODAY)
    assert state.visible("member_school", (0, 1))
    assert not state.visible("member_school", (0, 0))
    assert not state.visible("member_school", (5, 0))  # no such item
    assert not state.visible("member_school", (0,))  # wrong index path length
    assert not state.visible("no_such_question")
    paths = [path for path, _question, _context in state.visible_paths()]
    assert "households[0].members[1].member_school" in paths
    assert "households[1].members[0].member_school" not in paths


def test_repeat_min_max_and_missing(demo: Form) -> None:
    answers = good()
    answers["households"] = [{"size": 1, "members": []}]
    state = evaluate(demo, answers, today=TODAY)
    assert state.errors == {"households": ["Bitte mindestens 2 Einträge erfassen."]}
    answers["households"] = [{"size": 1}] * 4
    state = evaluate(demo, answers, today=TODAY)
    assert state.errors == {"households": ["Höchstens 3 Einträge sind möglich."]}
    answers["households"] = []
    state = evaluate(demo, answers, today=TODAY)
    assert [m.path for m in state.missing_required] == ["households"]


def test_children_missing_inside_items(demo: Form) -> None:
    answers = good()
    answers["households"][1]["members"] = [{}]  # type: ignore[index]
    answers["households"][0]["size"] = None  # type: ignore[index]
    state = evaluate(demo, answers, today=TODAY)
    assert [m.path for m in state.missing_required] == [
        "households[0].size",
        "households[1].members[0].member_age",
    ]


def test_conditional_required_and_section_relevance(demo: Form) -> None:
    answers = good()
    answers["mode"] = "full"
    state = evaluate(demo, answers, today=TODAY)
    assert [m.path for m in state.missing_required] == ["count_people", "remark"]
    assert state.section_visible("extra")
    answers["mode"] = "simple"
    answers["remark"] = "bleibt gespeichert"
    state = evaluate(demo, answers, today=TODAY)
    assert state.hidden_answers == ["remark"]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("amount", "abc", "Bitte eine Zahl eingeben, z. B. 12,5."),
        ("amount", "1000.5", "Der Wert darf höchstens 1000 sein."),
        ("amount", -1, "Der Wert muss mindestens 0 sein."),
        ("count_people", "3", "Bitte eine ganze Zahl eingeben."),
        ("count_people", True, "Bitte eine ganze Zahl eingeben."),
        ("count_people", 2.5, "Bitte eine ganze Zahl eingeben."),
        ("since", "2024-02-30", "Bitte ein gültiges Datum angeben (JJJJ-MM-TT)."),
        ("since", "20240101", "Bitte ein gültiges Datum angeben (JJJJ-MM-TT)."),
        ("agree", "yes", "Bitte Ja oder Nein wählen."),
        ("mode", "other", "„other“ ist keine gültige Auswahl."),
        ("tags", ["a", "a"], "„a“ ist doppelt ausgewählt."),
        ("tags", "a", "Bitte eine Liste von Auswahlen angeben."),
        (
            "country",
            "Germany",
            "„Germany“ ist in der Liste nicht enthalten; bitte aus der Liste wählen.",
        ),
        ("name", "zu lang", "Der Text ist zu lang (höchstens 5 Zeichen)."),
        ("households", {"size": 1}, "Die Einträge dieser Gruppe sind beschädigt."),
    ],
)
def test_invalid_values(demo: Form, key: str, value: object, message: str) -> None:
    answers = good()
    answers[key] = value
    state = evaluate(demo, answers, today=TODAY)
    assert state.errors == {key: [message]}
    assert not state.complete


def test_valid_value_forms(demo: Form) -> None:
    answers = good()
    answers.update(
        {
            "amount": "12,5",
            "count_people": 3.0,
            "since": "2024-02-29",
            "agree": False,
            "tags": ["a", "b"],
            "country": "XK",
            "name": "",
        }
    )
    state = evaluate(demo, answers, today=TODAY)
    assert state.errors == {}
    assert state.value("amount") == "12.5"
    assert state.value("since") == "2024-02-29"
    assert state.value("name") is None


def test_choice_filter(demo: Form) -> None:
    state = evaluate(demo, good(), today=TODAY)
    assert [c.value for c in state.choices_for("tags")] == ["a", "b"]
    answers = good() | {"mode": "full", "tags": ["c"]}
    state = evaluate(demo, answers, today=TODAY)
    assert [c.value for c in state.choices_for("tags")] == ["a", "b", "c"]
    assert "tags" not in state.errors
    answers["mode"] = "simple"
    state = evaluate(demo, answers, today=TODAY)
    assert state.errors["tags"] == [
        "Diese Auswahl passt nicht zu den bisherigen Angaben; bitte prüfen."
    ]


def test_unknown_answers_are_reported(demo: Form) -> None:
    answers = good()
    answers["stray"] = "x"
    answers["households"][0]["stray_child"] = 1  # type: ignore[index]
    state = evaluate(demo, answers, today=TODAY)
    assert state.unknown_answers == ["households[0].stray_child", "stray"]


def test_runtime_expression_failure_is_logged_not_raised(demo: Form) -> None:
    answers = good() | {"count_people": 2}
    state = evaluate(demo, answers, today=TODAY)
    assert state.visible("fragile")  # fails open
    assert any("Division durch null" in problem for problem in state.problems)


def test_garbage_top_level_answers(demo: Form) -> None:
    state = evaluate(demo, "not a dict", today=TODAY)  # type: ignore[arg-type]
    assert [m.path for m in state.missing_required] == ["mode", "households"]


def test_defaults(demo: Form) -> None:
    assert initial_answers(demo, today=TODAY) == {"mode": "simple"}
    assert new_item(demo, "households", today=TODAY) == {"size": 1}


def test_english_messages(demo: Form) -> None:
    answers = good() | {"count_people": "x"}
    state = evaluate(demo, answers, today=TODAY, lang="en")
    assert state.lang == "en"
    # The English gettext catalog is added separately; German is the fallback.
    assert len(state.errors["count_people"]) == 1


CONSENT_FORM = """
form: consent_demo
version: "1"
title: {de: Demo, en: Demo}
sections:
  - id: main
    label: {de: Haupt, en: Main}
    questions:
      - id: consent
        type: consent
        required: true
        label: {de: Einwilligung, en: Consent}
      - id: health
        type: yes_no
        special_category: true
        label: {de: Gesundheit, en: Health}
        relevant: art9_consented(consent)
        required: true
"""


def test_consent_block_with_organisation(write_form: Callable[[str], Path]) -> None:
    form = load_form(write_form(CONSENT_FORM))
    organisation = load_organisation()
    consent: dict[str, Any] = {
        "date": "2026-03-01",
        "language": "tr",
        "interpreter": False,
        "purposes": {"central_office": {"granted": True, "withdrawn_on": None}},
        "art9": {"granted": True, "withdrawn_on": None},
    }
    state = evaluate(
        form, {"consent": consent, "health": False}, today=TODAY, organisation=organisation
    )
    assert [m.path for m in state.missing_required] == ["consent"]  # 3 purposes undecided
    for purpose in organisation.purpose_ids:
        consent["purposes"].setdefault(purpose, {"granted": False, "withdrawn_on": None})
    state = evaluate(
        form, {"consent": consent, "health": False}, today=TODAY, organisation=organisation
    )
    assert state.complete
    consent["purposes"]["made_up"] = {"granted": True, "withdrawn_on": None}
    state = evaluate(
        form, {"consent": consent, "health": False}, today=TODAY, organisation=organisation
    )
    assert state.errors == {
        "consent": ["Der Zweck „made_up“ gehört nicht zur Einwilligungserklärung dieser Stelle."]
    }


def test_special_category_not_printed_by_default(write_form: Callable[[str], Path]) -> None:
    form = load_form(write_form(CONSENT_FORM))
    assert form.question("health").print is False
    assert form.question("consent").print is True
