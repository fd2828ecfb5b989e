"""The organisation file's hand-over purpose (``handover: true``) and the device's consent
check before a hand-over is asked for (docs/security.md, "Hand-over through the office")."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from intake_app.core.forms import load_organisation
from intake_app.core.forms.errors import FormLoadError
from intake_app.core.handover import HandoverRefused, check_handover, handover_targets
from tests.e2e.test_handover_devices import PURPOSE, with_handover_purpose

DAY = date(2026, 12, 1)


def consent(**state: object) -> dict[str, object]:
    return {"date": "2026-11-20", "purposes": {PURPOSE: {"granted": True, **state}}}


def test_the_sites_of_the_hand_over_purpose_are_the_targets(tmp_path: Path) -> None:
    with_handover_purpose(tmp_path)
    organisation = load_organisation(tmp_path / "organisation.yaml")
    assert [(t.purpose.id, t.recipient.id) for t in handover_targets(organisation)] == [
        (PURPOSE, "site_bonn"),
        (PURPOSE, "site_aachen"),
    ]
    # the shipped file has none: no hand-over is offered there
    assert handover_targets(load_organisation()) == []
    assert check_handover(consent(), organisation, "site_bonn", on=DAY).recipient.id == (
        "site_bonn"
    )


@pytest.mark.parametrize(
    ("given", "recipient", "reason"),
    [
        (consent(granted=False), "site_bonn", "no_consent"),
        ({"purposes": {}}, "site_bonn", "no_consent"),
        (consent(withdrawn_on="2026-11-30"), "site_bonn", "consent_withdrawn"),
        # a referral recipient of another purpose is no site to hand a case to
        (consent(), "jobcenter_musterstadt", "unknown_recipient"),
    ],
)
def test_refused_with_the_reason(
    tmp_path: Path, given: dict[str, object], recipient: str, reason: str
) -> None:
    with_handover_purpose(tmp_path)
    organisation = load_organisation(tmp_path / "organisation.yaml")
    with pytest.raises(HandoverRefused) as refused:
        check_handover(given, organisation, recipient, on=DAY)
    assert refused.value.reason == reason


def test_a_withdrawal_dated_later_still_allows_it_until_then(tmp_path: Path) -> None:
    with_handover_purpose(tmp_path)
    organisation = load_organisation(tmp_path / "organisation.yaml")
    check_handover(consent(withdrawn_on="2026-12-05"), organisation, "site_bonn", on=DAY)


def test_handover_must_be_true_or_false(tmp_path: Path) -> None:
    with_handover_purpose(tmp_path)
    path = tmp_path / "organisation.yaml"
    path.write_text(path.read_text("utf-8").replace("handover: true", "handover: vielleicht"))
    with pytest.raises(FormLoadError, match="handover"):
        load_organisation(path)
