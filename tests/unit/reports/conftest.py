"""Fixtures of the report tests: the shipped interview and the default organisation."""

from __future__ import annotations

import pytest

from intake_app.core.forms import Form, OrganisationConfig, load_organisation, load_shipped_forms


@pytest.fixture(scope="session", params=["2026.1", "2026.3"])
def form(request: pytest.FixtureRequest) -> Form:
    """The shipped intake interview, in its oldest and its newest version (2026.3 is
    2026.2 with two questions of a plan step added, so 2026.2 adds nothing here but time;
    its own questions are covered by tests/unit/forms/test_forms_2026_2.py)."""
    return load_shipped_forms().get("intake", request.param)


@pytest.fixture(scope="session")
def organisation() -> OrganisationConfig:
    """The shipped default organisation (GDPR, seven languages)."""
    return load_organisation()
