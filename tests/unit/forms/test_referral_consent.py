"""Consent binds referrals: the chosen purpose must name the recipient and cover the data."""

from __future__ import annotations

import copy
import random
from datetime import date
from typing import Any

import pytest

from intake_app.core.forms import Form, evaluate, load_organisation
from intake_app.core.forms.errors import FormLoadError
from intake_app.core.forms.referral_consent import purpose_choices, referral_problems
from intake_app.demo.data import generate
from tests.unit.forms.formkit import refugee_nurse

ORGANISATION = load_organisation()
TODAY = date(2026, 3, 10)
PATH = "referrals[0].consent_purpose"


def _answers(**referral: Any) -> dict[str, Any]:
    answers = copy.deepcopy(refugee_nurse())
    answers["referrals"][0].update(referral)
    return answers


def _errors(form: Form, answers: dict[str, Any], lang: str = "de") -> list[str]:
    state = evaluate(form, answers, today=TODAY, lang=lang, organisation=ORGANISATION)
    return state.errors.get(PATH, [])


def test_the_nurse_referral_is_covered(intake_form: Form) -> None:
    state = evaluate(intake_form, refugee_nurse(), today=TODAY, organisation=ORGANISATION)
    assert PATH not in state.errors
    assert state.complete


def test_a_granted_purpose_for_another_recipient_does_not_cover(intake_form: Form) -> None:
    # central_office is granted, but names only the programme's central office
    answers = _answers(service="mbe", consent_purpose="central_office")
    errors = _errors(intake_form, answers)
    assert errors[0] == (
        "Migrationsberatung für Erwachsene (MBE) gehört nicht zu den Empfängern der "
        "Einwilligung „Weitergabe an die Zentralstelle des Programms“ (Empfänger: "
        "Zentralstelle des Landesprogramms Arbeitsmarktintegration NRW (Beispiel), "
        "Düsseldorf)."
    )
    assert errors[-1] == (
        "Keine Einwilligung dieser Stelle nennt Migrationsberatung für Erwachsene (MBE) als "
        "Empfänger; dorthin dürfen keine Daten weitergegeben werden."
    )
    assert not evaluate(intake_form, answers, today=TODAY, organisation=ORGANISATION).complete


def test_data_outside_the_purpose_are_named(intake_form: Form) -> None:
    answers = _answers(data_passed=["identity", "education", "residence"])
    assert _errors(intake_form, answers) == [
        "Die Einwilligung „Anerkennungsberatung“ deckt diese Daten nicht ab: Aufenthaltsstatus.",
        # only the datum no consent allows is named, not the covered ones (new-user report)
        "Auch keine andere Einwilligung dieser Stelle erlaubt die Weitergabe von "
        "„Aufenthaltsstatus“ an IQ-Anerkennungsberatung; bitte diese Angaben abwählen.",
    ]
    assert _errors(intake_form, answers, lang="en")[-1] == (
        "No other consent of this service allows passing on “Residence status” to IQ "
        "recognition counselling either; please untick these data."
    )
    # without the datum, the transfer is covered
    assert _errors(intake_form, _answers(data_passed=["identity", "education"])) == []


def test_the_missing_consent_is_named(intake_form: Form) -> None:
    answers = _answers()
    answers["consent"]["purposes"]["recognition_counselling"]["granted"] = False
    answers["referrals"][0]["consent_purpose"] = "central_office"
    errors = _errors(intake_form, answers)
    assert errors[-1] == "Es fehlt die Einwilligung „Anerkennungsberatung“."
    english = _errors(intake_form, answers, lang="en")
    assert english[-1] == "The consent “Recognition counselling” is missing."


def test_a_withdrawal_blocks_new_referrals_but_not_earlier_ones(intake_form: Form) -> None:
    answers = _answers(date="2026-03-02")
    answers["consent"]["purposes"]["recognition_counselling"]["withdrawn_on"] = "2026-03-05"
    assert _errors(intake_form, answers) == []  # made before the withdrawal: lawful
    later = copy.deepcopy(answers)
    later["referrals"][0]["date"] = "2026-03-06"
    assert _errors(intake_form, later) == [
        "Die Einwilligung „Anerkennungsberatung“ wurde am 05.03.2026 widerrufen; seitdem "
        "dürfen dafür keine Daten mehr weitergegeben werden."
    ]
    choices = purpose_choices(later["consent"], ORGANISATION, referral=later["referrals"][0])
    assert "recognition_counselling" not in [choice.id for choice in choices]


def test_no_data_passed_needs_no_consent(intake_form: Form) -> None:
    answers = _answers(service="debt_counselling", data_passed=[])
    answers["referrals"][0].pop("consent_purpose")
    state = evaluate(intake_form, answers, today=TODAY, organisation=ORGANISATION)
    assert not any(path.startswith("referrals[0]") for path in state.errors)


def test_other_service_matches_a_recipient_by_name() -> None:
    answers = _answers(
        service="other",
        service_name="IQ Netzwerk NRW – Anerkennungsberatung Musterstadt",
    )
    referral = answers["referrals"][0]
    assert referral_problems(referral, answers["consent"], ORGANISATION, today=TODAY) == []
    referral["service_name"] = "Bildungswerk Beispiel"
    problems = referral_problems(
        referral, answers["consent"], ORGANISATION, today=TODAY, recipient="Bildungswerk"
    )
    assert problems[0].startswith("Bildungswerk gehört nicht zu den Empfängern")


def test_the_picker_lists_granted_purposes_by_german_name() -> None:
    answers = refugee_nurse()
    consent = answers["consent"]
    consent["purposes"]["employer_service"]["granted"] = False
    choices = purpose_choices(consent, ORGANISATION, referral=answers["referrals"][0], on=TODAY)
    assert [(c.label, c.covers) for c in choices] == [
        ("Weitergabe an die Zentralstelle des Programms", False),
        ("Sprachkurszuweisung durch das Jobcenter", False),
        ("Anerkennungsberatung", True),
    ]
    assert choices[0].problems[0].startswith("diese Stelle gehört nicht")
    english = purpose_choices(consent, ORGANISATION, on=TODAY, lang="en")
    assert english[-1].label == "Recognition counselling"


def test_before_the_consent_nothing_may_be_passed_on() -> None:
    answers = _answers(date="2026-03-01")
    assert referral_problems(
        answers["referrals"][0], answers["consent"], ORGANISATION, today=TODAY
    )[0] == (
        "Die Vermittlung (01.03.2026) liegt vor der Einwilligung vom 02.03.2026; bis dahin "
        "durften keine Daten weitergegeben werden."
    )


def test_without_any_consent_the_referral_says_so() -> None:
    answers = _answers()
    problems = referral_problems(
        answers["referrals"][0], None, ORGANISATION, today=TODAY, recipient="Jobcenter"
    )
    assert problems == [
        "Es ist noch keine Einwilligung erfasst. Ohne Einwilligung dürfen keine Daten an "
        "Jobcenter weitergegeben werden."
    ]


def test_recipient_services_are_validated(tmp_path: Any) -> None:
    from intake_app.assets import resource

    text = resource("config", "organisation-default.yaml").read_text(encoding="utf-8")
    broken = text.replace("services: [jobcenter]", "services: [Job Center!]")
    path = tmp_path / "org.yaml"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(FormLoadError) as caught:
        load_organisation(path)
    assert "ist keine Kennung einer Stelle" in str(caught.value)


def test_demo_referrals_are_covered_by_their_consent(intake_form: Form) -> None:
    rng = random.Random(7)
    referrals = 0
    for number in range(60):
        answers, complete = generate(
            intake_form,
            organisation=ORGANISATION,
            rng=rng,
            today=TODAY,
            complete=True,
            case_number=f"DEMO-{number}",
        )
        assert complete
        for referral in answers.get("referrals") or []:
            referrals += 1
            assert referral_problems(referral, answers["consent"], ORGANISATION, today=TODAY) == []
    assert referrals >= 3
