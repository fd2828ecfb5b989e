"""The outcome figures against a small data set counted by hand (docs/central-office.md §6)."""

from __future__ import annotations

from typing import Any

from intake_app.central.outcomes import case_facts, outcome_counts


def _doc(intake: str, **answers: Any) -> dict[str, Any]:
    return {"site": "Bielefeld", "answers": {"intake_date": intake, **answers}}


def _ev(kind: str, on: str, **data: Any) -> dict[str, Any]:
    return {"kind": kind, "occurred_on": on, "at": "", "data": data}


CASES = [
    (  # R1: referred after 10 days, referral started, employment after 64 days
        _doc(
            "2026-01-10",
            gender="female",
            birth_date="1990-05-01",
            residence_document="aufenthaltserlaubnis",
            nationalities=["SY"],
            referrals=[{"service": "jobcenter", "date": "2026-01-20", "outcome": "open"}],
        ),
        [
            _ev(
                "update",
                "2026-02-01",
                target="referral",
                index=0,
                changes={"outcome": ["open", "started"]},
            ),
            _ev("closure", "2026-03-15", reason="employment", kldb="81302"),
        ],
    ),
    (  # R2: referred after 95 days, moved away
        _doc(
            "2026-01-25",
            gender="male",
            birth_date="2003-02-01",
            residence_document="duldung",
            nationalities=["AF"],
            referrals=[{"service": "iq_recognition", "date": "2026-04-30", "outcome": "completed"}],
        ),
        [_ev("closure", "2026-05-02", reason="moved_away")],
    ),
    (  # R3: closed for training, then reopened: open
        _doc(
            "2026-02-03",
            gender="female",
            birth_date="1980-01-01",
            nationalities=["UA"],
            residence_document="aufenthaltsgestattung",
        ),
        [_ev("closure", "2026-02-20", reason="training"), _ev("reopening", "2026-03-01")],
    ),
    (  # R4: referred the same day, training after 140 days
        _doc(
            "2026-02-10",
            gender="female",
            nationalities=["PL"],
            referrals=[{"service": "jobcenter", "date": "2026-02-10", "outcome": "declined"}],
        ),
        [_ev("closure", "2026-06-30", reason="training")],
    ),
]

BY_HAND = {
    ("2026-01", "cases_opened", ""): 2,
    ("2026-02", "cases_opened", ""): 2,
    ("2026-03", "cases_closed", ""): 1,
    ("2026-05", "cases_closed", ""): 1,
    ("2026-06", "cases_closed", ""): 1,
    ("2026-03", "closure_reason", "employment"): 1,
    ("2026-05", "closure_reason", "moved_away"): 1,
    ("2026-06", "closure_reason", "training"): 1,
    ("2026-01", "days_to_first_referral", "0-30"): 1,
    ("2026-01", "days_to_first_referral", "91-180"): 1,
    ("2026-02", "days_to_first_referral", "0-30"): 1,
    ("2026-03", "days_to_work_or_training", "31-90"): 1,
    ("2026-06", "days_to_work_or_training", "91-180"): 1,
    ("2026-01", "referral_outcome", "jobcenter / started"): 1,
    ("2026-01", "referral_outcome", "iq_recognition / completed"): 1,
    ("2026-02", "referral_outcome", "jobcenter / declined"): 1,
    ("2026-01", "opened_by_gender", "female"): 1,
    ("2026-01", "opened_by_gender", "male"): 1,
    ("2026-02", "opened_by_gender", "female"): 2,
    ("2026-01", "opened_by_age_group", "35-44"): 1,
    ("2026-01", "opened_by_age_group", "under 25"): 1,
    ("2026-02", "opened_by_age_group", "45-54"): 1,
    ("2026-02", "opened_by_age_group", "unknown"): 1,
    ("2026-01", "opened_by_residence_group", "residence_permit"): 1,
    ("2026-01", "opened_by_residence_group", "tolerated"): 1,
    ("2026-02", "opened_by_residence_group", "asylum_procedure"): 1,
    ("2026-02", "opened_by_residence_group", "none_or_unclear"): 1,
    ("2026-01", "opened_by_nationality_group", "third_country"): 2,
    ("2026-02", "opened_by_nationality_group", "third_country"): 1,
    ("2026-02", "opened_by_nationality_group", "eu"): 1,
    ("2026-03", "work_or_training_by_gender", "female"): 1,
    ("2026-06", "work_or_training_by_gender", "female"): 1,
    ("2026-03", "work_or_training_by_age_group", "35-44"): 1,
    ("2026-06", "work_or_training_by_age_group", "unknown"): 1,
    ("2026-03", "work_or_training_by_residence_group", "residence_permit"): 1,
    ("2026-06", "work_or_training_by_residence_group", "none_or_unclear"): 1,
    ("2026-03", "work_or_training_by_nationality_group", "third_country"): 1,
    ("2026-06", "work_or_training_by_nationality_group", "eu"): 1,
}


def test_outcome_figures_match_the_hand_count() -> None:
    counts = outcome_counts(case_facts(doc, events) for doc, events in CASES)
    got = {(month, dim, value): n for (site, month, dim, value), n in counts.items()}
    assert {site for site, *_rest in counts} == {"Bielefeld"}
    assert got == BY_HAND
