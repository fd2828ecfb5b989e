"""Which answers a consent purpose covers: by the data categories of the shipped form and
the default organisation file (docs/security.md, "What reaches the central office")."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import pytest

from intake_app.core.forms import load_organisation, load_shipped_forms
from intake_app.core.forms.model import Form
from intake_app.core.forms.organisation import CENTRAL_OFFICE, OrganisationConfig
from intake_app.core.forms.transfer import covered_answers, purpose_in_force

DAY = date(2026, 3, 10)


@pytest.fixture(scope="module")
def form() -> Form:
    return load_shipped_forms().get("intake", "2026.2")


@pytest.fixture(scope="module")
def org() -> OrganisationConfig:
    return load_organisation(None)


def _consent(*, central: bool = True, art9: bool = True, withdrawn: str | None = None) -> dict:
    return {
        "date": "2026-03-02",
        "purposes": {CENTRAL_OFFICE: {"granted": central, "withdrawn_on": withdrawn}},
        "art9": {"granted": art9, "withdrawn_on": None},
    }


ANSWERS: dict[str, Any] = {
    "family_name": "Haddad",
    "birth_date": "1990-04-01",
    "phone": "0231 123456",
    "email": "a@example.org",
    "residence_document": "aufenthaltserlaubnis",
    "health_limitation": True,
    "debts": True,
    "debts_note": "Kredit",
    "housing_note": "zu klein",
    "counsellor_notes": "intern",
    "case_number": "2026-17",
    "consent": _consent(),
    "unknown_key": "x",
    "referrals": [{"service": "jobcenter", "service_name": "JC", "outcome": "open"}],
}


def test_the_central_office_purpose_covers_its_categories_only(
    form: Form, org: OrganisationConfig
) -> None:
    consent = _consent()
    purpose = purpose_in_force(consent, org, CENTRAL_OFFICE, on=DAY)
    assert purpose is not None
    sent = covered_answers(form, ANSWERS, purpose, consent, on=DAY)
    assert set(sent) == {
        "family_name",
        "birth_date",
        "residence_document",
        "debts",
        "housing_note",
        "referrals",
    }
    assert sent["referrals"] == [{"service": "jobcenter", "service_name": "JC", "outcome": "open"}]


def test_a_special_category_needs_a_purpose_naming_it_and_the_art9_consent(
    form: Form, org: OrganisationConfig
) -> None:
    base = org.purpose(CENTRAL_OFFICE)
    with_health = dataclasses.replace(base, data_categories=(*base.data_categories, "health"))
    assert "health_limitation" in covered_answers(form, ANSWERS, with_health, _consent(), on=DAY)
    assert "health_limitation" not in covered_answers(
        form, ANSWERS, with_health, _consent(art9=False), on=DAY
    )
    assert "health_limitation" not in covered_answers(form, ANSWERS, base, _consent(), on=DAY)


def test_without_the_purpose_in_force_nothing_is_covered(org: OrganisationConfig) -> None:
    assert purpose_in_force(_consent(central=False), org, CENTRAL_OFFICE, on=DAY) is None
    withdrawn = _consent(withdrawn="2026-03-05")
    assert purpose_in_force(withdrawn, org, CENTRAL_OFFICE, on=DAY) is None
    assert purpose_in_force(_consent(), None, CENTRAL_OFFICE, on=DAY) is None
    assert purpose_in_force(_consent(), org, "no_such_purpose", on=DAY) is None


def test_every_question_of_the_shipped_forms_is_placed(form: Form) -> None:
    registry = load_shipped_forms()
    assert registry.versions("intake") == ["2026.1", "2026.2", "2026.3"]
    for version in registry.versions("intake"):
        shipped = registry.get("intake", version)
        categories = {q.id: q.data_category for q in shipped}
        assert categories["address_street"] == categories["municipality"] == "contact"
        assert categories.get("phone", "contact") == categories.get("email", "contact")
        assert categories.get("phone", "contact") == "contact"
        assert categories["family_name"] == categories["birth_date"] == "identity"
        assert categories["health_limitation"] == "health"
        assert categories["service"] == "goals"  # a repeat child has its group's category
        assert {q.id for q in shipped if q.internal} == {"counsellor_notes", "debts_note"}
    # a plan step's status (2026.3) belongs to the plan, like the step itself
    newest = {q.id: q.data_category for q in registry.get("intake", "2026.3")}
    assert newest["status"] == newest["status_date"] == newest["step"] == "goals"
