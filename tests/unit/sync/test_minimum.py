"""The statistics minimum: what a record without the central office purpose keeps."""

from __future__ import annotations

import json

from intake_app.sync.minimum import statistics_groups, statistics_record
from tests.unit.sync.factories import make_record


def test_the_minimum_keeps_no_name_birth_date_or_free_text() -> None:
    record = make_record(family_name="Kanarienname")
    record["answers"].update(
        nationalities=["SY", "IQ"],
        gender="female",
        phone="0231 99",
        referrals=[
            {
                "service": "other",
                "service_name": "Verein X",
                "date": "2026-11-02",
                "purpose": "Beratung",
                "outcome": "open",
            }
        ],
    )
    reduced = statistics_record(record)
    text = json.dumps(reduced, ensure_ascii=False)
    for canary in ("Kanarienname", "Amal", "1990-04-01", "0231 99", "Verein X", "Beratung", "SY"):
        assert canary not in text
    assert reduced["scope"] == "statistics"
    assert set(reduced["answers"]) == {
        "intake_date",
        "gender",
        "residence_document",
        "goal_type",
        "referrals",
    }
    assert reduced["answers"]["referrals"] == [
        {"service": "other", "date": "2026-11-02", "outcome": "open"}
    ]
    assert reduced["groups"] == statistics_groups(record["answers"])
    assert reduced["groups"]["nationality_group"] == "third_country"
    assert set(reduced["consent"]) == {"date", "purposes"}
    assert statistics_record(reduced) == reduced  # reducing twice changes nothing
    for name in ("id", "revision", "site", "counsellor", "created_at", "finalised_at"):
        assert reduced[name] == record[name]


def test_groups_follow_the_intake_date() -> None:
    answers = {"birth_date": "2001-06-30", "intake_date": "2026-06-29"}
    assert statistics_groups(answers)["age_group"] == "under 25"
    answers["intake_date"] = "2026-06-30"
    assert statistics_groups(answers)["age_group"] == "25-34"
    assert statistics_groups({})["age_group"] == "unknown"
    assert statistics_groups({"nationalities": ["PL", "UA"]})["nationality_group"] == "eu"
