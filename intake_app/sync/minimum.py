"""The pseudonymous minimum of a record: what the programme's statistics need, nothing more.

A record revision travels in one of two scopes (docs/batch-format.md §5, docs/security.md,
"What reaches the central office"):

- ``central_office``: the person granted the purpose "transfer to the central office" (and
  has not withdrawn it); the device sends the answers of the data categories that purpose
  names, plus this minimum;
- ``statistics``: without that purpose only this minimum travels, and the office reduces a
  record it holds to it when the purpose is withdrawn later.

The minimum is: the intake date, gender, the kind of residence document, the goal type,
each referral's service, date and outcome, and two groups worked out on the device (age
group at the intake, nationality group), so that neither the date of birth nor the
nationalities leave it. No names, contact details, dates of birth or free text. The
consent keeps only its date, organisation, text version and the purposes' states (what the
office needs to respect them). Device and office share this module, so both reduce a
record the same way.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import date
from typing import Any

SCOPE_CENTRAL_OFFICE = "central_office"
SCOPE_STATISTICS = "statistics"
SCOPES = (SCOPE_CENTRAL_OFFICE, SCOPE_STATISTICS)
#: Answers (single values) the statistics count.
STATISTICS_ANSWERS = ("intake_date", "gender", "residence_document", "goal_type")
#: Of each referral: what the outcome figures count.
REFERRAL_FIELDS = ("service", "date", "outcome")
#: Of the consent: what the office needs to respect the purposes.
CONSENT_FIELDS = ("date", "organisation", "text_version")
PURPOSE_FIELDS = ("granted", "withdrawn_on", "date")
GROUP_NAMES = ("age_group", "nationality_group")
#: EU member states (ISO 3166-1 alpha-2): the nationality group "eu".
EU = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split()
)
_LIMIT = 100


def _day(value: object) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def age_group(birth: date | None, on: date | None) -> str:
    """The age group at ``on`` ("under 25", "25-34", …, "55 and over", "unknown")."""
    if birth is None or on is None:
        return "unknown"
    age = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    if age < 25:
        return "under 25"
    if age < 35:
        return "25-34"
    if age < 45:
        return "35-44"
    if age < 55:
        return "45-54"
    return "55 and over"


def nationality_group(value: object) -> str:
    """``eu``, ``third_country``, ``stateless_or_unclear`` or ``unknown``."""
    codes = [str(c).upper() for c in value] if isinstance(value, list) else []
    if not codes:
        return "unknown"
    if any(code in EU for code in codes):
        return "eu"
    if set(codes) <= {"STATELESS", "UNCLEAR", "XX"}:
        return "stateless_or_unclear"
    return "third_country"


def statistics_groups(answers: Mapping[str, Any], *, created_at: object = None) -> dict[str, str]:
    """The groups of a record, worked out from the full answers (on the device)."""
    intake = _day(answers.get("intake_date")) or _day(created_at)
    return {
        "age_group": age_group(_day(answers.get("birth_date")), intake),
        "nationality_group": nationality_group(answers.get("nationalities")),
    }


def statistics_answers(answers: Mapping[str, Any]) -> dict[str, Any]:
    """The answers of the minimum (plain short values only; free text never)."""
    result: dict[str, Any] = {
        name: answers[name][:_LIMIT]
        for name in STATISTICS_ANSWERS
        if isinstance(answers.get(name), str)
    }
    referrals = answers.get("referrals")
    items = [
        {name: item[name][:_LIMIT] for name in REFERRAL_FIELDS if isinstance(item.get(name), str)}
        for item in (referrals if isinstance(referrals, list) else [])
        if isinstance(item, dict)
    ]
    if items:
        result["referrals"] = items
    return result


def minimal_consent(consent: Any) -> dict[str, Any]:
    """Date, organisation, text version and each purpose's state: nothing else."""
    if not isinstance(consent, Mapping):
        return {}
    result: dict[str, Any] = {name: consent[name] for name in CONSENT_FIELDS if name in consent}
    purposes = consent.get("purposes")
    if isinstance(purposes, Mapping):
        result["purposes"] = {
            str(name): {key: state[key] for key in PURPOSE_FIELDS if key in state}
            for name, state in purposes.items()
            if isinstance(state, Mapping)
        }
    return result


def groups_of(record: Mapping[str, Any]) -> dict[str, str]:
    """The groups a record carries; worked out from its answers for a record sent before
    devices sent them (docs/batch-format.md §5)."""
    sent = record.get("groups")
    answers = record.get("answers") if isinstance(record.get("answers"), Mapping) else {}
    assert isinstance(answers, Mapping)
    computed = statistics_groups(answers, created_at=record.get("created_at"))
    if not isinstance(sent, Mapping):
        return computed
    return {
        name: str(sent[name])[:_LIMIT] if isinstance(sent.get(name), str) else computed[name]
        for name in GROUP_NAMES
    }


def statistics_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """``record`` reduced to the minimum (scope ``statistics``); ids, revision, form, site,
    counsellor and times stay. Reducing twice gives the same record."""
    result = copy.deepcopy(dict(record))
    answers = record.get("answers") if isinstance(record.get("answers"), Mapping) else {}
    assert isinstance(answers, Mapping)
    result["groups"] = groups_of(record)
    result["answers"] = statistics_answers(answers)
    result["consent"] = minimal_consent(record.get("consent"))
    result["scope"] = SCOPE_STATISTICS
    return result
