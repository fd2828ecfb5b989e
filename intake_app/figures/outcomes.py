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

**A reporting period** (:class:`Period`, from and to days, both inclusive; none: every
case) selects, for each figure, by the day that figure is counted under
(docs/central-office.md §6, "Reporting period"):

- the figures of the cases opened (``cases_opened``, ``opened_by_<group>``,
  ``days_to_first_referral``): the cases whose intake lies in the period;
- the figures of the closings (``cases_closed``, ``closure_reason``, contract and hours,
  ``days_to_work_or_training``, ``work_or_training_by_<group>``): the cases whose
  (last) closing lies in the period;
- ``referral_outcome``: the referrals dated in the period (a referral without a date by
  its case's intake), under the month of its case's intake as without a period.

A case counts in a period when any of the three does; a case or referral without a day
counts only without a period. Durations and outcomes are taken as the records stand now.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from intake_app.sync.minimum import age_group, groups_of, nationality_group

#: Closing reasons that count as work or training (the integration outcome).
WORK_OR_TRAINING = ("employment", "training", "study", "self_employment")
#: Bands of days for the durations (upper bounds, inclusive).
DAY_BANDS = ((30, "0-30"), (90, "31-90"), (180, "91-180"), (365, "181-365"))
RESIDENCE_GROUPS = {
    "aufenthaltserlaubnis": "residence_permit",
    "blaue_karte": "residence_permit",
    "visum": "residence_permit",
    "fiktionsbescheinigung": "residence_permit",
    "niederlassungserlaubnis": "settled",
    "daueraufenthalt_eu": "settled",
    # the Ankunftsnachweis (§ 63a AsylG) is held before the asylum application is made:
    # in the asylum procedure like the Aufenthaltsgestattung (forms/reference/residence-2026.2.yaml)
    "ankunftsnachweis": "asylum_procedure",
    "aufenthaltsgestattung": "asylum_procedure",
    "duldung": "tolerated",
    "duldung_60a": "tolerated",
    "duldung_60b": "tolerated",
    "ausbildungsduldung": "tolerated",
    "beschaeftigungsduldung": "tolerated",
    "eu_freizuegigkeit": "eu_free_movement",
    "keines_unklar": "none_or_unclear",
}
GROUPS = ("gender", "age_group", "residence_group", "nationality_group")


@dataclass(frozen=True, slots=True)
class Period:
    """A reporting period: ``start`` to ``end``, both days inclusive; an end left open
    reaches as far as the records do. ``Period()`` is every case, as without a period."""

    start: date | None = None
    end: date | None = None

    def __post_init__(self) -> None:
        if self.start is not None and self.end is not None and self.start > self.end:
            raise ValueError("the period ends before it starts")

    @property
    def everything(self) -> bool:
        return self.start is None and self.end is None

    def holds(self, day: date | None) -> bool:
        """Whether ``day`` lies in the period (no day: only when the period is everything)."""
        if self.everything:
            return True
        if day is None:
            return False
        return (self.start is None or self.start <= day) and (self.end is None or day <= self.end)

    def holds_month(self, month: str | None) -> bool:
        """Whether the whole month ``YYYY-MM`` lies in the period (for rows that keep only
        the month, such as the anonymised row of an erased record)."""
        if self.everything:
            return True
        first = _day(f"{month}-01") if month else None
        if first is None:
            return False
        following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
        return self.holds(first) and self.holds(following - timedelta(days=1))


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


def intake_day(document: Mapping[str, Any]) -> date | None:
    """The day of a record's intake: the answer, else the day the record was made."""
    answers = document.get("answers") if isinstance(document.get("answers"), dict) else {}
    assert isinstance(answers, dict)
    return _day(answers.get("intake_date")) or _day(document.get("created_at"))


def residence_group(value: object) -> str:
    return RESIDENCE_GROUPS.get(str(value), "none_or_unclear") if value else "none_or_unclear"


def current_answers(answers: Mapping[str, Any], events: Iterable[Mapping[str, Any]]) -> dict:
    """The answers with the small updates of the events applied, in order.

    ``answers`` is never changed: what an update changes is copied first (the top level,
    and the changed item of a repeat group), the rest is shared. A case without updates
    costs no copy of its answers (a deep copy of every case's answers was most of the
    time of the statistics export)."""
    result = dict(answers)
    groups = {"referral": "referrals", "plan_step": "plan_steps", "recognition": "qualifications"}
    copied: set[tuple[str, int]] = set()
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
            if (group, index) not in copied:
                items = list(items)
                items[index] = copy.deepcopy(items[index])
                result[group] = items
                copied.add((group, index))
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
    intake = intake_day({"answers": answers, "created_at": document.get("created_at")})
    closed_on = closure = None
    for event in sorted(events, key=lambda e: (str(e.get("occurred_on")), str(e.get("at", "")))):
        if event.get("kind") == "closure":
            closed_on, closure = _day(event.get("occurred_on")), event.get("data") or {}
        elif event.get("kind") == "reopening":
            closed_on = closure = None
    referrals = [r for r in answers.get("referrals") or [] if isinstance(r, dict)]
    referral_days = [d for d in (_day(r.get("date")) for r in referrals) if d is not None]
    site = document.get("site")
    groups = _groups(document, intake)
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
        "referral_days": [_day(r.get("date")) for r in referrals],
        "opened": True,
        "gender": str(answers.get("gender") or "unknown"),
        # worked out on the device, so a record without the central office purpose
        # carries neither date of birth nor nationalities (intake_app/sync/minimum.py)
        "age_group": groups["age_group"],
        "residence_group": residence_group(answers.get("residence_document")),
        "nationality_group": groups["nationality_group"],
    }


def _groups(document: Mapping[str, Any], intake: date | None) -> dict[str, str]:
    answers = document.get("answers") if isinstance(document.get("answers"), dict) else {}
    assert isinstance(answers, dict)
    if "birth_date" in answers or "nationalities" in answers:
        # the full answers are here: the groups follow from them
        return {
            "age_group": age_group(_day(answers.get("birth_date")), intake),
            "nationality_group": nationality_group(answers.get("nationalities")),
        }
    return groups_of(document)


def in_period(
    cases: Iterable[Mapping[str, Any]], period: Period | None = None
) -> list[dict[str, Any]]:
    """The facts of the cases that count in ``period``, each with only what lies in it
    (see the module's docstring): ``opened`` says whether the intake does, a closing
    outside the period is left out, and so are the referrals dated outside it."""
    if period is None or period.everything:
        return [dict(case) for case in cases]
    result = []
    for case in cases:
        intake = case["intake"]
        opened = period.holds(intake)
        closed = case["closed_on"] is not None and period.holds(case["closed_on"])
        days = case.get("referral_days") or [None] * len(case["referrals"])
        kept = [
            (referral, day)
            for referral, day in zip(case["referrals"], days, strict=True)
            if period.holds(day or intake)
        ]
        if not (opened or closed or kept):
            continue
        view = dict(case)
        view["opened"] = opened
        view["referrals"] = [referral for referral, _day in kept]
        view["referral_days"] = [day for _referral, day in kept]
        if not opened:
            # the days to the first referral count with the cases opened in the period
            view["first_referral"] = None
        if not closed:
            view.update(closed_on=None, reason=None, contract="", hours=None)
        result.append(view)
    return result


def outcome_counts(
    cases: Iterable[Mapping[str, Any]], period: Period | None = None
) -> Counter[tuple[str, str, str, str]]:
    """Counts keyed by (site, month, dimension, value) over the facts of every case (of
    what lies in ``period``)."""
    counts: Counter[tuple[str, str, str, str]] = Counter()
    for case in in_period(cases, period):
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
    if case.get("opened", True):
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
