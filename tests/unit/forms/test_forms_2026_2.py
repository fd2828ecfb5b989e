"""Version 2026.2 of the interview: legal bases and options against the law, the new
questions, the migration from 2026.1, and typical people walked through the form."""

from __future__ import annotations

from typing import Any

import pytest
from formkit import PERSONAS, TODAY
from personas2026_2 import NEW_PERSONAS, migrated

from intake_app.core.forms import (
    Form,
    check_succession,
    evaluate,
    load_organisation,
    load_shipped_forms,
    migrate_answers,
)
from intake_app.core.records import index_fields

ORGANISATION = load_organisation()
REGISTRY = load_shipped_forms()
OLD = REGISTRY.get("intake", "2026.1")
NEW = REGISTRY.get("intake", "2026.2")

AE, FB, NE, BK, VISA = (
    "aufenthaltserlaubnis",
    "fiktionsbescheinigung",
    "niederlassungserlaubnis",
    "blaue_karte",
    "visum",
)

#: Legal bases as the statutes have them (AufenthG, BeschV; December 2025): the value, a
#: fragment its label must contain, and the documents it can appear on. A basis with no
#: visa in the statute (granted in Germany only) must not carry "visum".
LEGAL_BASES: dict[str, tuple[str, set[str]]] = {
    "16a": ("§ 16a", {AE, FB, VISA}),
    "16b": ("§ 16b", {AE, FB, VISA}),
    "16d": ("§ 16d", {AE, FB, VISA}),
    "16f": ("§ 16f", {AE, FB, VISA}),
    # § 16g (from 1 March 2024): for persons obliged to leave, granted in Germany only
    "16g": ("§ 16g", {AE, FB}),
    "17": ("§ 17", {AE, FB, VISA}),
    "18a": ("§ 18a", {AE, FB, VISA}),
    "18b": ("§ 18b", {AE, FB, VISA}),
    "18g": ("§ 18g", {BK, FB, VISA}),
    "19c": ("§ 19c", {AE, FB, VISA}),
    "19c_westbalkan": ("§ 26 Abs. 2 BeschV", {AE, FB, VISA}),
    "19d": ("§ 19d", {AE, FB}),
    # § 20 since 1 June 2024: job search following a stay in Germany, granted in Germany
    "20": ("im Anschluss an Aufenthalte im Bundesgebiet", {AE, FB}),
    "20a": ("§ 20a", {AE, FB, VISA}),
    "21": ("§ 21", {AE, FB, VISA}),
    "22": ("§ 22", {AE, FB, VISA}),
    "23": ("§ 23", {AE, FB, VISA}),
    "23a": ("§ 23a", {AE, FB}),
    "24": ("§ 24", {AE, FB}),
    "25_1": ("§ 25 Abs. 1", {AE, FB}),
    "25_2_refugee": ("§ 25 Abs. 2", {AE, FB}),
    "25_2_subsidiary": ("§ 25 Abs. 2", {AE, FB}),
    "25_3": ("§ 25 Abs. 3", {AE, FB}),
    "25_4": ("§ 25 Abs. 4 ", {AE, FB}),
    "25_4a": ("§ 25 Abs. 4a", {AE, FB}),
    "25_4b": ("§ 25 Abs. 4b", {AE, FB}),
    "25_5": ("§ 25 Abs. 5", {AE, FB}),
    "25a": ("§ 25a", {AE, FB}),
    "25b": ("§ 25b", {AE, FB}),
    "104c": ("§ 104c", {AE, FB}),
    "28": ("§ 28", {AE, FB, VISA}),
    "29": ("§ 29", {AE, FB, VISA}),
    "30": ("§ 30", {AE, FB, VISA}),
    "31": ("§ 31", {AE, FB}),
    "32": ("§ 32", {AE, FB, VISA}),
    "33": ("§ 33", {AE, FB}),
    "34": ("§ 34", {AE, FB}),
    "36": ("§ 36", {AE, FB, VISA}),
    "38a": ("§ 38a", {AE, FB, VISA}),
    "9": ("§ 9", {NE, FB}),
    "18c": ("§ 18c", {NE, FB}),
    "26_3": ("§ 26 Abs. 3", {NE, FB}),
    "26_4": ("§ 26 Abs. 4", {NE, FB}),
    "28_2": ("§ 28 Abs. 2", {NE, FB}),
    "35": ("§ 35", {NE, FB}),
    "other": ("Andere", {AE, BK, NE, FB, VISA}),
    "unclear": ("Unklar", {AE, BK, NE, FB, VISA}),
}

ANKUNFT, GESTATTUNG, DULDUNG, DULDUNG_60B, NONE = (
    "ankunftsnachweis",
    "aufenthaltsgestattung",
    "duldung",
    "duldung_60b",
    "keines_unklar",
)

#: Asylum stages and the documents a person at that stage can hold (AsylG §§ 55, 63, 63a,
#: 67, 71; AufenthG §§ 25, 60a): before the application only the Ankunftsnachweis, the
#: Aufenthaltsgestattung only once the application is made (§ 63 Abs. 1 AsylG), none after
#: a final rejection; protection granted and the title applied for: usually a
#: Fiktionsbescheinigung (§ 25 Abs. 1 Satz 3, Abs. 2 Satz 2 AufenthG).
ASYLUM_STAGES: dict[str, set[str]] = {
    "no_application": {DULDUNG, DULDUNG_60B, NONE},
    "arrival_certificate": {ANKUNFT, NONE},
    "application_filed": {GESTATTUNG, NONE},
    "dublin": {GESTATTUNG, DULDUNG, DULDUNG_60B, NONE},
    "hearing_done": {GESTATTUNG, NONE},
    "protection_granted_title_applied": {GESTATTUNG, FB, NONE},
    "appeal_pending": {GESTATTUNG, DULDUNG, DULDUNG_60B, NONE},
    "rejected_final": {DULDUNG, DULDUNG_60B, NONE},
    "follow_up_application": {GESTATTUNG, DULDUNG, DULDUNG_60B, NONE},
    "unclear": {ANKUNFT, GESTATTUNG, DULDUNG, DULDUNG_60B, NONE},
}


def state_of(answers: dict[str, Any], **kwargs: Any) -> Any:
    return evaluate(NEW, answers, today=TODAY, organisation=ORGANISATION, **kwargs)


# -- the option lists against the law -------------------------------------------------------


def test_legal_bases_match_the_table_of_the_law() -> None:
    question = NEW.question("legal_basis")
    offered = {choice.value: choice for choice in question.choices}
    assert set(offered) == set(LEGAL_BASES)
    for value, (fragment, documents) in LEGAL_BASES.items():
        choice = offered[value]
        assert fragment in choice.label("de"), value
        assert set(choice.tags) == documents, value


def test_104c_label_says_deadline_and_no_extension() -> None:
    choice = NEW.question("legal_basis").choice("104c")
    assert choice is not None
    label = choice.label("de")
    assert "31.12.2025" in label
    assert "nicht verlängerbar" in label


def test_a_visa_offers_no_basis_granted_in_germany_only() -> None:
    state = state_of({"residence_document": "visum"})
    offered = {choice.value for choice in state.choices_for("legal_basis")}
    assert "20a" in offered and "21" in offered and "19c_westbalkan" in offered
    for granted_here in ("20", "16g", "24", "25_2_refugee", "104c", "19d"):
        assert granted_here not in offered, granted_here


def test_a_visa_for_section_20_is_an_error() -> None:
    state = state_of({"residence_document": "visum", "legal_basis": "20"})
    assert "legal_basis" in state.errors


def test_asylum_stages_match_the_documents() -> None:
    question = NEW.question("asylum_stage")
    assert {choice.value: set(choice.tags) for choice in question.choices} == ASYLUM_STAGES
    state = state_of({"residence_document": "aufenthaltsgestattung"})
    offered = {choice.value for choice in state.choices_for("asylum_stage")}
    assert "no_application" not in offered and "rejected_final" not in offered
    assert "arrival_certificate" not in offered
    assert {"dublin", "follow_up_application", "protection_granted_title_applied"} <= offered
    state = state_of({"residence_document": "ankunftsnachweis"})
    offered = {choice.value for choice in state.choices_for("asylum_stage")}
    assert offered == {"arrival_certificate", "unclear"}
    assert "ankunftsnachweis" in {c.value for c in NEW.question("residence_document").choices}
    state = state_of({"residence_document": "duldung"})
    offered = {choice.value for choice in state.choices_for("asylum_stage")}
    assert {"no_application", "rejected_final", "dublin"} <= offered


def test_protection_granted_with_a_fiktionsbescheinigung() -> None:
    state = state_of({"residence_document": "fiktionsbescheinigung"})
    assert state.visible("asylum_stage")
    offered = {choice.value for choice in state.choices_for("asylum_stage")}
    assert offered == {"protection_granted_title_applied"}
    assert not state.required("asylum_stage")
    state = state_of(
        {
            "residence_document": "fiktionsbescheinigung",
            "legal_basis": "25_2_refugee",
            "asylum_stage": "protection_granted_title_applied",
        }
    )
    assert "asylum_stage" not in state.errors
    assert state_of({"residence_document": "aufenthaltsgestattung"}).required("asylum_stage")
    wrong = state_of(
        {"residence_document": "aufenthaltsgestattung", "asylum_stage": "arrival_certificate"}
    )
    assert "asylum_stage" in wrong.errors


def test_work_permissions_are_document_wordings_without_hints() -> None:
    choices = {c.value: c.label("de") for c in NEW.question("work_permission").choices}
    assert choices["beschaeftigung_erlaubt"] == "„Beschäftigung erlaubt“"
    assert choices["beschaeftigung_nicht_erlaubt"] == "„Beschäftigung nicht erlaubt“"
    assert choices["erwerbstaetigkeit_erlaubt"] == "„Erwerbstätigkeit erlaubt“"
    assert choices["erwerbstaetigkeit_gestattet"] == "„Erwerbstätigkeit gestattet“"
    for value, label in choices.items():
        if label.startswith("„"):
            # a document wording is the quote and nothing else
            assert label.endswith("“"), value


def test_residence_obligation_is_asked_whenever_a_document_is_present() -> None:
    for document in NEW.question("residence_document").choice_values:
        state = state_of({"residence_document": document, "legal_basis": "other"})
        expected = document not in ("eu_freizuegigkeit", "keines_unklar")
        assert state.visible("residence_obligation") is expected, document
    # § 12 (2) conditions on § 25 (5): asked (2026.1 did not ask)
    answers = {"residence_document": "aufenthaltserlaubnis", "legal_basis": "25_5"}
    assert state_of(answers).visible("residence_obligation")
    assert not evaluate(OLD, answers, today=TODAY).visible("residence_obligation")


@pytest.mark.parametrize(
    ("document", "until", "note", "shown"),
    [
        ("aufenthaltsgestattung", "2026-07-02", "gestattung_too_long", False),
        ("aufenthaltsgestattung", "2026-07-03", "gestattung_too_long", True),
        ("duldung", "2026-07-02", "duldung_too_long", False),
        ("duldung", "2026-09-01", "duldung_too_long", True),
        ("duldung_60b", "2026-09-01", "duldung_too_long", True),
        ("ausbildungsduldung", "2028-09-01", "duldung_too_long", False),
    ],
)
def test_plausibility_warnings_for_long_validity(
    document: str, until: str, note: str, shown: bool
) -> None:
    answers = {
        "residence_document": document,
        "residence_valid_from": "2026-01-02",
        "residence_valid_until": until,
    }
    state = state_of(answers)
    assert state.visible(note) is shown
    # a warning, not an error: the dates stay as the document has them
    assert "residence_valid_until" not in state.errors


def test_german_certificate_is_asked_unless_every_skill_is_none() -> None:
    skills = ("german_listening", "german_reading", "german_speaking", "german_writing")
    one_none = dict(zip(skills, ("A1", "none", "A2", "none"), strict=True))
    assert state_of(one_none).visible("has_german_certificate")
    assert not evaluate(OLD, one_none, today=TODAY).visible("has_german_certificate")
    all_none = dict.fromkeys(skills, "none")
    assert not state_of(all_none).visible("has_german_certificate")
    types = NEW.question("certificate_type").choice_values
    assert "dtb" in types and "fachsprachpruefung" in types


def test_isced_0_fits_adults() -> None:
    choice = NEW.question("isced_level").choice("0")
    assert choice is not None
    label = choice.label("de")
    assert "weniger als Primarbereich" in label and "kein Abschluss" in label
    assert "Frühkindlich" not in label


def test_legal_risk_warns_against_criminal_data() -> None:
    for qid in ("legal_risk", "legal_risk_note"):
        assert "Art. 10 DSGVO" in NEW.question(qid).help("de")
        assert "Art. 10 GDPR" in NEW.question(qid).help("en")


def test_section_24_continued_by_regulation_is_not_expiring() -> None:
    answers = NEW_PERSONAS["ukrainian_continued"]()
    state = state_of(answers)
    assert state.visible("residence_continued")
    assert state.computed["residence_days_left"] == 367
    assert state.computed["residence_expiring"] is False
    assert index_fields(answers).residence_valid_until == "2027-03-04"
    answers["residence_continued"] = False
    del answers["residence_continued_until"]
    state = state_of(answers)
    assert state.computed["residence_expiring"] is True
    assert index_fields(answers).residence_valid_until == "2026-03-04"
    # only § 24 asks
    answers["legal_basis"] = "25_3"
    assert not state_of(answers).visible("residence_continued")


def test_children_are_recorded_by_year_and_month() -> None:
    item = {"child_birth_month": "2019-05", "child_in_household": True}
    answers = {"has_children": True, "children": [item]}
    state = state_of(answers)
    assert "children[0].child_birth_month" not in state.errors
    assert state.computed["children[0].child_age"] == 6
    assert NEW.get("child_birth_date") is None
    for bad in ("2019-5", "05/2019", "2019-13", "2027-01"):
        item["child_birth_month"] = bad
        assert "children[0].child_birth_month" in state_of(answers).errors, bad


# -- the new questions ------------------------------------------------------------------------


def test_new_questions_exist_with_their_options() -> None:
    benefits = NEW.question("benefit_system").choice_values
    assert set(benefits) >= {"sgb2", "sgb3", "asylblg", "sgb12", "none"}
    for qid in (
        "entry_date",
        "phone",
        "email",
        "preferred_channel",
        "contact_language",
        "employment_status",
        "employment_hours",
        "recognition_notice_date",
        "recognition_documents_deadline",
        "compensation_measure_end",
        "recognition_funding",
        "fiktion_paragraph",
        "pending_applications",
        "passport_status",
        "integration_course_basis",
        "integration_course_voucher_date",
        "integration_course_waiting",
        "driving_licence_classes",
        "driving_licence_code95",
    ):
        assert NEW.get(qid) is not None, qid
    funding = NEW.question("recognition_funding").choice_values
    assert {"placement_budget", "recognition_grant", "self"} <= set(funding)
    classes = NEW.question("driving_licence_classes").choice_values
    assert {"B", "C", "CE", "D"} <= set(classes)


def test_code_95_is_asked_for_truck_and_bus_classes_only() -> None:
    answers: dict[str, Any] = {"driving_licence": "foreign", "driving_licence_classes": ["B"]}
    assert not state_of(answers).visible("driving_licence_code95")
    answers["driving_licence_classes"] = ["B", "CE"]
    assert state_of(answers).visible("driving_licence_code95")


def test_contact_channel_needs_its_contact_detail() -> None:
    state = state_of({"preferred_channel": "email"})
    assert "preferred_channel" in state.errors
    state = state_of({"preferred_channel": "email", "email": "a@b.de"})
    assert "preferred_channel" not in state.errors
    assert "email" in state_of({"email": "kein-at-zeichen"}).errors
    assert "phone" in state_of({"phone": "abc"}).errors


def test_section_81_5a_is_asked_on_top_of_3_or_4() -> None:
    fresh = state_of({"residence_document": "fiktionsbescheinigung"})
    offered = {choice.value for choice in fresh.choices_for("fiktion_paragraph")}
    assert offered == {"81_3_1", "81_3_2", "81_4", "unclear"}
    assert fresh.visible("fiktion_81_5a")
    assert NEW.question("fiktion_81_5a").type.value == "yes_no"
    both = state_of(
        {
            "residence_document": "fiktionsbescheinigung",
            "fiktion_paragraph": "81_4",
            "fiktion_81_5a": True,
        }
    )
    assert "fiktion_paragraph" not in both.errors and "fiktion_81_5a" not in both.errors
    assert not both.visible("fiktion_paragraph_5a_recorded")
    # a record that chose (5a) as the subsection keeps its answer and is asked to check it
    earlier = state_of(
        {"residence_document": "fiktionsbescheinigung", "fiktion_paragraph": "81_5a"}
    )
    assert "fiktion_paragraph" not in earlier.errors
    assert earlier.visible("fiktion_paragraph_5a_recorded")
    assert not state_of({"residence_document": "duldung"}).visible("fiktion_81_5a")


def test_fiktion_paragraph_only_for_a_fiktionsbescheinigung() -> None:
    assert state_of({"residence_document": "fiktionsbescheinigung"}).visible("fiktion_paragraph")
    assert not state_of({"residence_document": "duldung"}).visible("fiktion_paragraph")


# -- migration from 2026.1 --------------------------------------------------------------------


def _leaves(value: Any, prefix: str = "") -> dict[str, Any]:
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


def test_2026_2_is_a_valid_successor() -> None:
    assert NEW.previous_version == "2026.1"
    assert check_succession(OLD, NEW) == []


@pytest.mark.parametrize("name", sorted(PERSONAS))
def test_migration_from_2026_1_loses_nothing(name: str) -> None:
    before = PERSONAS[name]()
    result = migrate_answers(before, OLD, NEW)
    after = _leaves(result.answers)
    for path, value in _leaves(before).items():
        if path in after:
            assert after[path] == value, path
        else:
            # only the children's full birth dates move: to the archive, and as YYYY-MM
            assert result.retired[path] == value, path
            assert path.endswith("child_birth_date"), path
            assert after[path.replace("child_birth_date", "child_birth_month")] == value[:7]


def test_children_dates_migrate_to_year_and_month() -> None:
    result = migrate_answers(PERSONAS["ukrainian_24_children"](), OLD, NEW)
    assert [c["child_birth_month"] for c in result.answers["children"]] == ["2015-09", "2021-02"]
    assert result.retired == {
        "children[0].child_birth_date": "2015-09-01",
        "children[1].child_birth_date": "2021-02-10",
    }
    assert any("archiviert" in note for note in result.notes)
    assert REGISTRY.upgrade(PERSONAS["ukrainian_24_children"](), "intake", "2026.1").retired


# -- walking people through the form ----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PERSONAS))
def test_typical_people_complete_the_new_version(name: str) -> None:
    answers = migrated(name, OLD, NEW)
    state = state_of(answers)
    assert state.errors == {}, name
    assert [m.path for m in state.missing_required] == [], name
    assert state.problems == []
    assert state.complete


@pytest.mark.parametrize("name", sorted(NEW_PERSONAS))
def test_new_personas_complete_the_new_version(name: str) -> None:
    state = state_of(NEW_PERSONAS[name]())
    assert state.errors == {}, name
    assert [m.path for m in state.missing_required] == [], name
    assert state.problems == []
    assert state.complete
    assert state.hidden_answers == [] or all(
        not path.startswith(("residence", "legal_basis")) for path in state.hidden_answers
    )


def test_migrated_people_without_the_new_answers_are_incomplete_not_broken() -> None:
    answers = migrate_answers(PERSONAS["refugee_nurse"](), OLD, NEW).answers
    state = state_of(answers)
    assert state.errors == {}
    missing = {m.path for m in state.missing_required}
    assert missing == {
        "benefit_system",
        "passport_status",
        "integration_course_basis",
        "employment_status",
    }


def test_persona_specifics() -> None:
    eu = state_of(NEW_PERSONAS["eu_citizen"]())
    for qid in ("work_permission", "residence_obligation", "residence_valid_until"):
        assert not eu.visible(qid), qid
    dublin = state_of(NEW_PERSONAS["dublin_gestattung"]())
    assert dublin.visible("asylum_stage")
    assert not dublin.visible("has_german_certificate")
    family = state_of(NEW_PERSONAS["family_reunification_30"]())
    assert family.visible("fiktion_paragraph")
    # born in March 2025: counted from 1 March, so one year on 2 March 2026
    assert family.computed["children[0].child_age"] == 1
    subsidiary = state_of(NEW_PERSONAS["subsidiary_25_2"]())
    assert subsidiary.visible("driving_licence_code95")


def test_form_keeps_version_1_for_old_records() -> None:
    assert isinstance(OLD, Form) and OLD.version == "2026.1"
    assert OLD.get("child_birth_date") is not None
    # 2026.2 stays for its records beside its successors (2026.3, see test_forms_2026_3.py)
    assert REGISTRY.versions("intake")[:2] == ["2026.1", "2026.2"]
    assert NEW.previous_version == "2026.1"


def test_printed_labels_of_version_2026_1_are_correct() -> None:
    old = REGISTRY.get("intake", "2026.1")
    permissions = {c.value: c.label("de") for c in old.question("work_permission").choices}
    assert all("auch „erlaubt“" not in label for label in permissions.values())
    assert permissions["erwerbstaetigkeit_gestattet"] == "Erwerbstätigkeit erlaubt oder gestattet"
    bases = {c.value: c.label("de") for c in old.question("legal_basis").choices}
    assert "im Anschluss an Aufenthalte im Bundesgebiet" in bases["20"]
    assert "31.12.2025" in bases["104c"] and "nicht verlängerbar" in bases["104c"]
