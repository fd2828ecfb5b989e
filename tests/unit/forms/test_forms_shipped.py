"""The shipped interview: it passes the check, and typical people walk through it."""

from __future__ import annotations

from pathlib import Path

import pytest
from formkit import (
    PERSONAS,
    TODAY,
    duldung_no_documents,
    refugee_nurse,
    student_16b,
    ukrainian_24_children,
)

from intake_app.assets import form_path, form_resource, iter_files
from intake_app.core.forms import (
    CLIENT_LANGUAGES,
    Form,
    FormState,
    QuestionType,
    check_files,
    evaluate,
    load_organisation,
    load_shipped_forms,
)

ORGANISATION = load_organisation()

#: Ids other parts of the program (statistics, printed summary) rely on, with their types.
CONTRACT = {
    "case_number": "text",
    "intake_date": "date",
    "counsellor_name": "text",
    "family_name": "text",
    "given_names": "text",
    "family_name_latin": "text",
    "given_names_latin": "text",
    "birth_date": "date",
    "gender": "choice",
    "nationalities": "reference",
    "residence_document": "choice",
    "legal_basis": "choice",
    "residence_valid_from": "date",
    "residence_valid_until": "date",
    "work_permission": "choice",
    "residence_obligation": "yes_no",
    "german_listening": "cefr",
    "german_reading": "cefr",
    "german_speaking": "cefr",
    "german_writing": "cefr",
    "qualifications": "repeat",
    "work_experience": "repeat",
    "goal_type": "choice",
    "target_occupation": "reference",
    "referrals": "repeat",
    "next_appointment": "date",
    "consent": "consent",
    "health_limitation": "yes_no",
}


def state_of(form: Form, answers: dict[str, object], lang: str = "de") -> FormState:
    return evaluate(form, answers, today=TODAY, lang=lang, organisation=ORGANISATION)


# -- the file itself ---------------------------------------------------------------------------


def test_every_shipped_form_passes_the_check() -> None:
    files = [form_path(node.name) for node in iter_files(form_resource(), ".yaml")]
    assert files, "no shipped forms"
    assert check_files(files) == []


def test_registry_holds_the_interview(intake_form: Form) -> None:
    registry = load_shipped_forms()
    assert registry.versions("intake") == ["2026.1", "2026.2", "2026.3"]
    assert registry.latest("intake").version == "2026.3"
    assert registry.latest("intake").previous_version == "2026.2"
    assert registry.get("intake", "2026.2").previous_version == "2026.1"
    assert intake_form.title("de") == "Erstgespräch Arbeitsmarktintegration"
    assert intake_form.previous_version is None


def test_contract_ids_and_types(intake_form: Form) -> None:
    for qid, qtype in CONTRACT.items():
        assert intake_form.question(qid).type == QuestionType(qtype), qid
    assert intake_form.question("nationalities").multiple
    assert intake_form.question("nationalities").reference == "country"
    assert intake_form.question("target_occupation").reference == "occupation"
    children = {child.id for child in intake_form.question("referrals").children}
    assert {"service", "date", "purpose", "outcome"} <= children


def test_sections_a_to_j_and_consent(intake_form: Form) -> None:
    labels = [section.label("de") for section in intake_form.sections]
    letters = [label.split(".")[0] for label in labels if label[1:2] == "."]
    assert letters == list("ABCDEFGHIJ")
    assert any(q.type is QuestionType.CONSENT for q in intake_form)
    for question in intake_form:
        assert question.label("de") and question.label_text.texts.get("en"), question.id


def test_client_facing_texts_have_all_client_languages(intake_form: Form) -> None:
    facing = [q for q in intake_form if q.client_facing]
    assert {q.id for q in facing} >= {"consent", "consent_info"}
    for question in facing:
        assert set(question.client_languages) == set(CLIENT_LANGUAGES), question.id
        assert question.label("uk") != question.label("de")


def test_health_is_a_guarded_special_category(intake_form: Form) -> None:
    health = intake_form.question("health_limitation")
    assert health.special_category and not health.print
    assert "art9_consented" in (health.relevant.source if health.relevant else "")
    assert [q.id for q in intake_form if q.special_category] == ["health_limitation"]


def test_legal_basis_tags_name_residence_documents(intake_form: Form) -> None:
    documents = set(intake_form.question("residence_document").choice_values)
    legal_basis = intake_form.question("legal_basis")
    assert legal_basis.choice_filter is not None
    for choice in legal_basis.choices:
        assert choice.tags, choice.value
        assert set(choice.tags) <= documents, choice.value


def test_value_sets_from_reference_files(intake_form: Form) -> None:
    isced = intake_form.question("isced_level")
    assert isced.value_set == "isced2011"
    assert isced.choice_values == tuple(str(level) for level in range(9))
    six = isced.choice("6")
    assert six is not None
    assert six.label("en") == "ISCED 6 – Bachelor's or equivalent level"


@pytest.mark.parametrize("name", sorted(PERSONAS))
def test_personas_are_complete_and_valid(intake_form: Form, name: str) -> None:
    state = state_of(intake_form, PERSONAS[name]())
    assert state.errors == {}
    assert state.missing_required == []
    assert state.unknown_answers == []
    assert state.problems == []
    assert state.complete
    for section in intake_form.sections:
        answered, total = state.section_completion(section.id)
        assert answered == total


# -- a recognised refugee with a foreign nursing degree ----------------------------------------


def test_refugee_nurse_visibility_and_computed_values(intake_form: Form) -> None:
    state = state_of(intake_form, refugee_nurse())
    for qid in (
        "legal_basis",
        "residence_obligation",
        "residence_obligation_place",
        "family_name_latin",
        "given_names_latin",
        "health_limitation",
        "interpreter_language",
    ):
        assert state.visible(qid), qid
    for qid in ("asylum_stage", "work_permission_text", "consent_guardian_note", "children"):
        assert not state.visible(qid), qid
    for qid in (
        "regulated",
        "reference_occupation",
        "recognition_body",
        "recognition_grant",
        "translation_available",
        "field_kldb",
    ):
        assert state.visible(qid, (0,)), qid
    for qid in ("recognition_outcome", "compensation_measure", "qualification_analysis"):
        assert not state.visible(qid, (0,)), qid
    assert state.visible("job_to", (0,))
    assert state.computed == {
        "age_years": 33,
        "children_count": 0,
        "residence_days_left": 60,
        "residence_expiring": False,
        "german_overall": "A2",
        "highest_isced": 6,
        "recognition_pending": True,
        "work_experience[0].job_years": "4.8",
        "total_work_years": "4.8",
        "barriers_count": 0,
        "open_referrals": 1,
    }
    # 60 days left: outside the default warning period (56 days), inside a longer one
    longer = evaluate(intake_form, refugee_nurse(), today=TODAY, expiry_warning_days=60)
    assert longer.computed["residence_expiring"] is True
    assert longer.expiry_warning_days == 60
    shorter = evaluate(intake_form, refugee_nurse(), today=TODAY, expiry_warning_days=59)
    assert shorter.computed["residence_expiring"] is False


def test_refugee_nurse_recognition_decided_needs_outcome(intake_form: Form) -> None:
    answers = refugee_nurse()
    answers["qualifications"][0]["recognition_status"] = "decided"  # type: ignore[index]
    state = state_of(intake_form, answers)
    assert [m.path for m in state.missing_required] == ["qualifications[0].recognition_outcome"]
    assert state.missing_required[0].section_id == "education"
    # isced, title, country, certificate, regulated, status, body (now required), outcome
    assert state.section_completion("education") == (7, 8)
    assert state.computed["recognition_pending"] is False
    assert "qualifications[0].recognition_grant" in state.hidden_answers
    answers["qualifications"][0]["recognition_outcome"] = "partial"  # type: ignore[index]
    state = state_of(intake_form, answers)
    assert state.visible("compensation_measure", (0,))
    assert [m.path for m in state.missing_required] == ["qualifications[0].compensation_measure"]


def test_refugee_nurse_without_art9_consent_hides_health(intake_form: Form) -> None:
    answers = refugee_nurse()
    answers["consent"]["art9"] = {"granted": False, "withdrawn_on": None}  # type: ignore[index]
    state = state_of(intake_form, answers)
    assert not state.visible("health_limitation")
    assert state.hidden_answers == ["health_limitation"]
    assert state.complete


def test_refugee_nurse_referral_needs_consent_for_its_purpose(intake_form: Form) -> None:
    answers = refugee_nurse()
    purposes = answers["consent"]["purposes"]  # type: ignore[index]
    purposes["recognition_counselling"]["withdrawn_on"] = "2026-03-02"
    state = state_of(intake_form, answers)
    assert state.errors == {
        "referrals[0].consent_purpose": [
            "Die Einwilligung „Anerkennungsberatung“ wurde am 02.03.2026 widerrufen; seitdem "
            "dürfen dafür keine Daten mehr weitergegeben werden."
        ]
    }
    assert not state.complete
    english = state_of(intake_form, answers, lang="en")
    assert english.errors["referrals[0].consent_purpose"] == [
        "The consent “Recognition counselling” was withdrawn on 02/03/2026; since then no "
        "data may be passed on for it."
    ]


# -- a student under § 16b -----------------------------------------------------------------------


def test_student_visibility_and_legal_basis_filter(intake_form: Form) -> None:
    state = state_of(intake_form, student_16b())
    assert state.visible("legal_basis") and state.visible("work_permission_text")
    for qid in ("residence_obligation", "asylum_stage", "family_name_latin", "customer_number"):
        assert not state.visible(qid), qid
    assert state.visible("german_certificates")
    assert state.visible("recognition_outcome", (0,))
    offered = [choice.value for choice in state.choices_for("legal_basis")]
    assert "16b" in offered and "24" in offered and "other" in offered
    assert "9" not in offered and "18g" not in offered and "18c" not in offered
    assert state.computed["german_overall"] == "B2"
    assert state.computed["residence_expiring"] is False
    assert state.computed["highest_isced"] == 3
    assert state.computed["recognition_pending"] is False


def test_legal_basis_must_fit_the_document(intake_form: Form) -> None:
    answers = student_16b()
    answers["legal_basis"] = "26_3"  # only on a Niederlassungserlaubnis
    state = state_of(intake_form, answers)
    assert state.errors == {
        "legal_basis": ["Diese Auswahl passt nicht zu den bisherigen Angaben; bitte prüfen."]
    }
    answers["residence_document"] = "niederlassungserlaubnis"
    state = state_of(intake_form, answers)
    assert "legal_basis" not in state.errors
    assert [c.value for c in state.choices_for("legal_basis")] == [
        "9",
        "18c",
        "26_3",
        "26_4",
        "28_2",
        "35",
        "other",
        "unclear",
    ]
    assert not state.visible("residence_valid_until")
    assert "residence_valid_until" in state.hidden_answers
    answers["residence_document"] = "blaue_karte"
    state = state_of(intake_form, answers)
    assert [c.value for c in state.choices_for("legal_basis")] == ["18g", "other", "unclear"]


# -- a person with a Duldung and no documents ----------------------------------------------------


def test_duldung_visibility_and_computed_values(intake_form: Form) -> None:
    state = state_of(intake_form, duldung_no_documents())
    assert not state.visible("legal_basis")
    for qid in (
        "asylum_stage",
        "residence_obligation",
        "residence_valid_until",
        "documents_missing_note",
        "legal_risk_note",
    ):
        assert state.visible(qid), qid
    assert not state.visible("has_german_certificate")
    assert state.hidden_answers == ["has_german_certificate"]
    assert state.visible("qualification_analysis", (0,))
    assert not state.visible("translation_available", (0,))
    assert state.computed["residence_days_left"] == 44
    assert state.computed["residence_expiring"] is True
    assert state.computed["german_overall"] == "none"
    assert state.computed["barriers_count"] == 2
    offered = [choice.value for choice in state.choices_for("existing_contacts")]
    assert "jmd" not in offered  # 28 years old


def test_duldung_errors(intake_form: Form) -> None:
    answers = duldung_no_documents()
    answers["residence_valid_until"] = "2025-12-31"
    answers["nationalities"] = ["unclear", "ER"]
    answers["birth_date"] = "2030-01-01"
    del answers["asylum_stage"]
    state = state_of(intake_form, answers)
    assert state.errors == {
        "birth_date": ["Das Geburtsdatum muss in der Vergangenheit liegen."],
        "nationalities": [
            "„staatenlos“ und „ungeklärt“ können nicht mit einer "
            "Staatsangehörigkeit kombiniert werden."
        ],
        "residence_valid_until": ["„Gültig bis“ liegt vor „gültig ab“."],
    }
    assert [(m.path, m.section_id) for m in state.missing_required] == [
        ("asylum_stage", "residence")
    ]
    assert not state.complete


def test_young_person_is_offered_the_youth_migration_service(intake_form: Form) -> None:
    answers = duldung_no_documents()
    answers["birth_date"] = "2005-06-01"
    state = state_of(intake_form, answers)
    assert "jmd" in [choice.value for choice in state.choices_for("existing_contacts")]
    answers["existing_contacts"] = ["jmd"]
    answers["birth_date"] = "1990-06-01"
    state = state_of(intake_form, answers)
    assert state.errors["existing_contacts"] == [
        "Diese Auswahl passt nicht zu den bisherigen Angaben; bitte prüfen."
    ]


# -- a Ukrainian under § 24 with children -------------------------------------------------------


def test_ukrainian_with_children(intake_form: Form) -> None:
    state = state_of(intake_form, ukrainian_24_children())
    assert state.visible("children") and state.visible("family_name_latin")
    assert state.visible("residence_obligation")
    assert not state.visible("residence_obligation_place")
    assert state.visible("childcare_note") and state.visible("customer_number")
    assert state.visible("regulated", (0,))
    assert not state.visible("level", (0,))  # Ukrainian is a mother tongue
    assert state.item_count("children") == 2
    assert state.value("youngest_child_age") == 5
    assert {key: value for key, value in state.computed.items() if "child" in key} == {
        "children[0].child_age": 10,
        "children[1].child_age": 5,
        "children_count": 2,
        "youngest_child_age": 5,
    }
    assert state.computed["german_overall"] == "A1"
    assert state.computed["highest_isced"] == 7


def test_ukrainian_errors_and_missing(intake_form: Form) -> None:
    answers = ukrainian_24_children()
    answers["customer_number"] = "12345"
    answers["children"] = []
    answers["family_name_latin"] = "Коваленко"
    state = state_of(intake_form, answers, lang="en")
    assert state.errors == {
        "customer_number": ["The customer number looks like 123A456789."],
        "family_name_latin": ["Please use Latin letters only."],
    }
    assert [m.path for m in state.missing_required] == ["children"]
    assert "children_count" in state.computed and state.computed["children_count"] == 0
    assert "youngest_child_age" not in state.computed


def test_fresh_record_lists_required_questions_in_order(intake_form: Form) -> None:
    from intake_app.core.forms import initial_answers

    answers = initial_answers(intake_form, today=TODAY)
    assert answers == {"intake_date": "2026-03-02"}
    state = state_of(intake_form, answers)
    missing = [m.path for m in state.missing_required]
    assert missing[:3] == ["case_number", "counsellor_name", "access_route"]
    assert "consent" in missing and "birth_date" in missing
    assert state.errors == {} and not state.complete
    assert state.section_completion("case") == (1, 6)


def test_shipped_form_path_is_a_real_file() -> None:
    assert Path(form_path("intake-2026.1.yaml")).is_file()


def test_documented_examples_parse() -> None:
    import re

    from intake_app.core.forms.expressions import parse

    docs = Path(__file__).resolve().parents[3] / "docs" / "forms.md"
    text = docs.read_text(encoding="utf-8")
    block = text.split("### Examples", 1)[1].split("### Grammar", 1)[0]
    examples = re.findall(
        r"^(?:relevant|required|constraint|calculate|choice_filter): (.+?)"
        r"(?:\s+#.*)?$",
        block,
        flags=re.MULTILINE,
    )
    assert len(examples) >= 12
    for example in examples:
        source = example.strip()
        if source[0] == '"' and source[-1] == '"':
            source = source[1:-1]
        parse(source)


def test_load_form_from_a_package_resource() -> None:
    from intake_app.core.forms import load_form

    form = load_form(form_resource("intake-2026.1.yaml"))
    assert form.key == ("intake", "2026.1")
    assert len(list(form)) == len(list(load_shipped_forms().get("intake", "2026.1")))
