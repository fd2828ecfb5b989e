"""Outcome figures of the programme from records and their case events (docs/central-office.md §6).

One computation for both sides: the office counts the records it holds
(``central/export.py``), a device the records of the site its user can read
(``storage/lifecycle.py``, the supervisor's overview).

Every figure is a count in a cell (period, dimension, value); nothing names a person. The
facts of one case are read from its latest revision with its small updates applied (a
referral's outcome as it stands now) and its case events (closing, reopening):

- ``cases_opened`` by month of the intake; ``cases_closed`` by month of the (last) closing;
- ``closure_reason`` by month of closing;
- ``days_to_first_referral`` (from the intake to the first referral's date) and
  ``days_to_work_or_training`` (from the intake to a closing for employment, training,
  study or self-employment), in bands of days, by month of the intake or the closing;
- ``referral_outcome``: every referral by service and its current outcome;
- ``opened_by_<group>`` and ``work_or_training_by_<group>`` for the groups gender, age
  group (at intake), residence group and nationality group.

A case that was reopened counts as closed only if it was closed again after that.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

#: Closing reasons that count as work or training (the integration outcome).
WORK_OR_TRAINING = ("employment", "training", "study", "self_employment")
#: Bands of days for the durations (upper bounds, inclusive).
DAY_BANDS = ((30, "0-30"), (90, "31-90"), (180, "91-180"), (365, "181-365"))
#: EU member states (ISO 3166-1 alpha-2): the nationality group "eu".
EU = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split()
)
RESIDENCE_GROUPS = {
    "aufenthaltserlaubnis": "residence_permit",
    "blaue_karte": "residence_permit",
    "visum": "residence_permit",
    "fiktionsbescheinigung": "residence_permit",
    "niederlassungserlaubnis": "settled",
    "daueraufenthalt_eu": "settled",
    "aufenthaltsgestattung": "asylum_procedure",
    "duldung": "tolerated",
    "duldung_60a": "tolerated",
    "duldung_60b": "tolerated",
    "ausbildungsduldung": "tolerated",
    "beschaeftigungsduldung": "tolerated",
    "eu_freizuegigkeit": "eu_free_movement",
}
GROUPS = ("gender", "age_group", "residence_group", "nationality_group")


def _day(value: object) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _month(day: date | None) -> str:
    return day.isoformat()[:7] if day else ""


def band(days: int) -> str:
    """The band of a duration in days ("0-30", …, "over 365")."""
    for limit, name in DAY_BANDS:
        if days <= limit:
            return name
    return "over 365"


def age_group(birth: date | None, on: date | None) -> str:
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
    codes = [str(c).upper() for c in value] if isinstance(value, list) else []
    if not codes:
        return "unknown"
    if any(code in EU for code in codes):
        return "eu"
    if set(codes) <= {"STATELESS", "UNCLEAR", "XX"}:
        return "stateless_or_unclear"
    return "third_country"


def residence_group(value: object) -> str:
    return RESIDENCE_GROUPS.get(str(value), "none_or_unclear") if value else "none_or_unclear"


def current_answers(answers: Mapping[str, Any], events: Iterable[Mapping[str, Any]]) -> dict:
    """The answers with the small updates of the events applied, in order."""
    result = copy.deepcopy(dict(answers))
    groups = {"referral": "referrals", "plan_step": "plan_steps", "recognition": "qualifications"}
    for event in events:
        if event.get("kind") != "update":
            continue
        data = event.get("data") or {}
        changes = data.get("changes") or {}
        group = groups.get(str(data.get("target")))
        holder: Any = result
        if group is not None:
            items = result.get(group)
            index = data.get("index")
            if not isinstance(items, list) or not isinstance(index, int):
                continue
            if not 0 <= index < len(items) or not isinstance(items[index], dict):
                continue
            holder = items[index]
        for name, pair in changes.items():
            if isinstance(pair, list) and len(pair) == 2:
                holder[name] = pair[1]
    return result


def case_facts(document: Mapping[str, Any], events: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """What the figures count about one case (no id, no name)."""
    answers = document.get("answers") if isinstance(document.get("answers"), dict) else {}
    assert isinstance(answers, dict)
    answers = current_answers(answers, events)
    intake = _day(answers.get("intake_date")) or _day(document.get("created_at"))
    closed_on = closure = None
    for event in sorted(events, key=lambda e: (str(e.get("occurred_on")), str(e.get("at", "")))):
        if event.get("kind") == "closure":
            closed_on, closure = _day(event.get("occurred_on")), event.get("data") or {}
        elif event.get("kind") == "reopening":
            closed_on = closure = None
    referrals = [r for r in answers.get("referrals") or [] if isinstance(r, dict)]
    referral_days = [d for d in (_day(r.get("date")) for r in referrals) if d is not None]
    site = document.get("site")
    return {
        "site": site[:100] if isinstance(site, str) else "",
        "intake": intake,
        "closed_on": closed_on,
        "reason": str(closure.get("reason")) if closure else None,
        "contract": str(closure.get("contract") or "") if closure else "",
        "hours": closure.get("hours")
        if closure and isinstance(closure.get("hours"), int)
        else None,
        "first_referral": min(referral_days) if referral_days else None,
        "referrals": [(str(r.get("service", "")), str(r.get("outcome") or "")) for r in referrals],
        "gender": str(answers.get("gender") or "unknown"),
        "age_group": age_group(_day(answers.get("birth_date")), intake),
        "residence_group": residence_group(answers.get("residence_document")),
        "nationality_group": nationality_group(answers.get("nationalities")),
    }


def outcome_counts(cases: Iterable[Mapping[str, Any]]) -> Counter[tuple[str, str, str, str]]:
    """Counts keyed by (site, month, dimension, value) over the facts of every case."""
    counts: Counter[tuple[str, str, str, str]] = Counter()
    for case in cases:
        _add_case(counts, case)
    return counts


def _add_case(counts: Counter[tuple[str, str, str, str]], case: Mapping[str, Any]) -> None:
    site = case["site"]
    local: Counter[tuple[str, str, str]] = Counter()
    _count_case(local, case)
    for (month, dimension, value), n in local.items():
        counts[(site, month, dimension, value)] += n


def _count_case(counts: Counter[tuple[str, str, str]], case: Mapping[str, Any]) -> None:
    intake, closed_on, reason = case["intake"], case["closed_on"], case["reason"]
    counts[(_month(intake), "cases_opened", "")] += 1
    for group in GROUPS:
        counts[(_month(intake), f"opened_by_{group}", case[group])] += 1
    if case["first_referral"] is not None and intake is not None:
        days = max(0, (case["first_referral"] - intake).days)
        counts[(_month(intake), "days_to_first_referral", band(days))] += 1
    for service, outcome in case["referrals"]:
        counts[(_month(intake), "referral_outcome", f"{service} / {outcome}")] += 1
    if closed_on is None:
        return
    counts[(_month(closed_on), "cases_closed", "")] += 1
    counts[(_month(closed_on), "closure_reason", reason or "")] += 1
    if reason in WORK_OR_TRAINING:
        if intake is not None:
            days = max(0, (closed_on - intake).days)
            counts[(_month(closed_on), "days_to_work_or_training", band(days))] += 1
        for group in GROUPS:
            counts[(_month(closed_on), f"work_or_training_by_{group}", case[group])] += 1


def events_by_record(rows: Iterable[Any]) -> dict[str, list[dict[str, Any]]]:
    """Case event rows of the central database grouped by record id, oldest first."""
    result: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        result.setdefault(row.record_id, []).append(
            {
                "kind": row.kind,
                "occurred_on": row.occurred_on,
                "at": row.recorded_at or "",
                "data": json.loads(row.data),
            }
        )
    for events in result.values():
        events.sort(key=lambda e: (e["occurred_on"], e["at"]))
    return result
