"""The consent answer: validation, withdrawal, and what may be passed on."""

from __future__ import annotations

from datetime import date

from formkit import TODAY, consent

from intake_app.core.forms import art9_granted, granted_purposes, withdraw
from intake_app.core.forms.consent import validate_consent


def tr(message: str) -> str:
    return message


def test_complete_consent() -> None:
    complete, errors = validate_consent(consent(), tr=tr, today=TODAY)
    assert complete and errors == []


def test_incomplete_consent_is_not_an_error() -> None:
    value = consent()
    del value["interpreter"]
    assert validate_consent(value, tr=tr, today=TODAY) == (False, [])
    assert validate_consent(None, tr=tr, today=TODAY) == (False, [])
    purposes = (
        "central_office",
        "jobcenter_language_course",
        "recognition_counselling",
        "employer_service",
        "new_purpose",
    )
    assert validate_consent(consent(), tr=tr, today=TODAY, purposes=purposes) == (False, [])


def test_invalid_consent() -> None:
    value = consent()
    value["date"] = "2026-04-01"
    value["language"] = "xx"
    value["interpreter"] = "ja"
    value["given_by"] = "neighbour"
    value["extra"] = 1
    value["purposes"]["central_office"] = {"granted": "yes"}
    value["purposes"]["employer_service"]["withdrawn_on"] = "2026-05-01"
    complete, errors = validate_consent(value, tr=tr, today=TODAY)
    assert not complete
    assert len(errors) == 7
    assert any("Zukunft" in error for error in errors)
    assert any("employer_service" in error and "erteilt war" in error for error in errors)


def test_withdrawal_stops_passing_on() -> None:
    value = consent()
    assert granted_purposes(value, on=TODAY) == {
        "central_office",
        "jobcenter_language_course",
        "recognition_counselling",
    }
    value = withdraw(value, "jobcenter_language_course", on=date(2026, 3, 10))
    assert "jobcenter_language_course" in granted_purposes(value, on=date(2026, 3, 9))
    assert "jobcenter_language_course" not in granted_purposes(value, on=date(2026, 3, 10))
    assert validate_consent(value, tr=tr, today=date(2026, 3, 10)) == (True, [])
    assert granted_purposes(None) == frozenset()


def test_art9_withdrawal() -> None:
    value = consent(art9=True)
    assert art9_granted(value, on=TODAY)
    value = withdraw(value, "art9", on=TODAY)
    assert not art9_granted(value, on=TODAY)
    assert not art9_granted(consent(art9=False), on=TODAY)


def test_withdrawing_a_refused_purpose_is_refused() -> None:
    value = consent()
    try:
        withdraw(value, "employer_service", on=TODAY)
    except KeyError as error:
        assert error.args == ("employer_service",)
    else:
        raise AssertionError("withdrawing a refused purpose must fail")
