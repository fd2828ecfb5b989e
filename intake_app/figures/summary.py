"""The outcome figures as a sheet: blocks of small tables, small cells hidden.

Built from the facts of :func:`intake_app.figures.outcomes.case_facts`, the same on the
office (``intake-central export --statistics --pdf``) and on the device (the supervisor's
overview and its printout). Every cell and every sum that is shown is one key of one
table of counts; :mod:`intake_app.figures.disclosure` hides the small ones and whatever
would give them away, over all blocks at once (the cases closed appear in several blocks
and are hidden in all or none).

Texts are German message ids (``N_``); whoever shows a sheet translates them (an empty
text stays empty). Numbers are strings as shown: a count, ``<5``, ``x``, or a median.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from intake_app.i18n import N_

from .disclosure import MIN_COUNT, SECONDARY, hidden_cells, primary
from .outcomes import GROUPS, WORK_OR_TRAINING, Period, in_period

REASONS = {
    "employment": N_("Arbeitsaufnahme"),
    "training": N_("Ausbildung"),
    "study": N_("Studium"),
    "self_employment": N_("Selbstständigkeit"),
    "moved_away": N_("Umgezogen"),
    "unreachable": N_("Nicht mehr erreichbar"),
    "other_service": N_("Andere Stelle hat übernommen"),
    "ended_by_person": N_("Von der Person beendet"),
    "other": N_("Sonstiges"),
}
CONTRACTS = {
    "permanent": N_("Unbefristet"),
    "fixed_term": N_("Befristet"),
    "agency": N_("Zeitarbeit"),
    "marginal": N_("Minijob"),
    "apprenticeship": N_("Ausbildungsvertrag"),
    "": N_("ohne Angabe"),
}
HOURS = {
    "full": N_("Vollzeit (ab 35 Stunden)"),
    "part": N_("Teilzeit (unter 35 Stunden)"),
    "": N_("ohne Angabe"),
}
SERVICES = {
    "jobcenter": N_("Jobcenter"),
    "agentur": N_("Agentur für Arbeit"),
    "iq_recognition": N_("IQ-Anerkennungsberatung"),
    "iq_qualification": N_("IQ-Qualifizierung"),
    "recognition_body": N_("Anerkennungsstelle"),
    "language_course": N_("Sprachkursträger"),
    "mbe": N_("Migrationsberatung für Erwachsene (MBE)"),
    "jmd": N_("Jugendmigrationsdienst (JMD)"),
    "debt_counselling": N_("Schuldnerberatung"),
    "chamber": N_("Kammer (IHK, HWK)"),
    "employer": N_("Arbeitgeber"),
    "other": N_("Andere Stelle"),
}
REFERRAL_OUTCOMES = {
    "open": N_("Offen"),
    "appointment_made": N_("Termin vereinbart"),
    "started": N_("Begonnen"),
    "completed": N_("Abgeschlossen"),
    "declined": N_("Abgelehnt"),
    "no_response": N_("Keine Rückmeldung"),
    "": N_("ohne Angabe"),
}
GROUP_TITLES = {
    "gender": N_("Geschlecht"),
    "age_group": N_("Altersgruppe beim Erstgespräch"),
    "residence_group": N_("Aufenthaltsgruppe"),
    "nationality_group": N_("Staatsangehörigkeitsgruppe"),
}
GROUP_VALUES = {
    "gender": {
        "female": N_("weiblich"),
        "male": N_("männlich"),
        "diverse": N_("divers"),
        "not_stated": N_("keine Angabe"),
        "unknown": N_("unbekannt"),
    },
    "age_group": {
        "under 25": N_("unter 25"),
        "25-34": N_("25 bis 34"),
        "35-44": N_("35 bis 44"),
        "45-54": N_("45 bis 54"),
        "55 and over": N_("55 und älter"),
        "unknown": N_("unbekannt"),
    },
    "residence_group": {
        "residence_permit": N_("Aufenthaltserlaubnis, Visum, Fiktion"),
        "settled": N_("Niederlassungserlaubnis, Daueraufenthalt"),
        "asylum_procedure": N_("Im Asylverfahren (Gestattung, Ankunftsnachweis)"),
        "tolerated": N_("Duldung"),
        "eu_free_movement": N_("EU-Freizügigkeit"),
        "none_or_unclear": N_("Kein Dokument oder ungeklärt"),
    },
    "nationality_group": {
        "eu": N_("EU-Staat"),
        "third_country": N_("Drittstaat"),
        "stateless_or_unclear": N_("Staatenlos oder ungeklärt"),
        "unknown": N_("unbekannt"),
    },
}
TOTAL = N_("Insgesamt")
#: A period of up to this many months shows every month of it (else those with cases).
MONTHS_OF_A_PERIOD = 36
FULL_TIME_HOURS = 35


@dataclass(frozen=True, slots=True)
class Row:
    """One line of a block: its label (a message id or a value such as a month) and the
    cells as shown."""

    label: str
    cells: tuple[str, ...]
    total: bool = False


@dataclass(frozen=True, slots=True)
class Block:
    """One small table: its title, the column heads and the rows (message ids)."""

    key: str
    title: str
    header: tuple[str, ...]
    rows: tuple[Row, ...]


@dataclass(frozen=True, slots=True)
class Summary:
    """The whole sheet: the blocks, how many cases it counts and the threshold used;
    ``first_month`` to ``last_month`` are the months shown, ``period`` the reporting
    period asked for (``Period()``: every case)."""

    blocks: tuple[Block, ...]
    cases: int
    min_count: int
    first_month: str = ""
    last_month: str = ""
    period: Period = field(default_factory=Period)
    #: how many cells are hidden as small (``<N``) and as giving one away (``x``)
    hidden: dict[str, int] = field(default_factory=dict)

    def block(self, key: str) -> Block:
        return next(b for b in self.blocks if b.key == key)


def median_days(values: Sequence[int]) -> str:
    """The median of whole days as shown: ``12`` or ``12.5`` (the reader's locale turns the
    point into a comma)."""
    middle = statistics.median(values)
    return str(int(middle)) if float(middle).is_integer() else f"{middle:.1f}"


def site_durations(cases: Sequence[Mapping[str, Any]]) -> dict[str, list[int]]:
    """Days from the intake to the first referral (``n_referral``) and to a closing for work
    or training (``n_work``), one value per case that has it."""
    return {
        "n_referral": [
            max(0, (c["first_referral"] - c["intake"]).days)
            for c in cases
            if c["first_referral"] is not None and c["intake"] is not None
        ],
        "n_work": [
            max(0, (c["closed_on"] - c["intake"]).days)
            for c in cases
            if c["closed_on"] is not None
            and c["reason"] in WORK_OR_TRAINING
            and c["intake"] is not None
        ],
    }


def _months(first: str, last: str) -> list[str]:
    if not first or not last:
        return []
    year, month = int(first[:4]), int(first[5:7])
    result = []
    while (year, month) <= (int(last[:4]), int(last[5:7])):
        result.append(f"{year:04d}-{month:02d}")
        month += 1
        if month > 12:
            year, month = year + 1, 1
    return result


def _hours(value: Any) -> str:
    if not isinstance(value, int):
        return ""
    return "full" if value >= FULL_TIME_HOURS else "part"


def _ordered(known: Mapping[str, str], found: Counter[str], *, all_known: bool = True) -> list[str]:
    """The known values in their order (all of them, or those found; the empty value only
    when found), then any other value found."""
    present = {key for key, count in found.items() if count}
    keys = [k for k in known if k in present or (all_known and k != "")]
    return keys + sorted(present - set(known))


class SheetCells:
    """Cells, sum lines and the layout that refers to them by key (no key is a tuple of
    four, so that the office can hide them together with its CSV's cells)."""

    def __init__(self) -> None:
        self.cases = 0
        self.first_month = self.last_month = ""
        self.period = Period()
        self.cells: dict[Hashable, int] = {}
        self.lines: list[tuple[Hashable, list[Hashable]]] = []
        self.layout: list[tuple[str, str, tuple[str, ...], list[tuple[str, list[Any], bool]]]] = []

    def cell(self, key: Hashable, value: int) -> Hashable:
        self.cells[key] = value
        return key

    def line(self, total: Hashable, parts: Sequence[Hashable]) -> None:
        self.lines.append((total, list(parts)))


def build_summary(
    facts: Iterable[Mapping[str, Any]],
    *,
    min_count: int = MIN_COUNT,
    period: Period | None = None,
) -> Summary:
    """The sheet over the facts of every case counted (one site's, or the office's), of
    what lies in ``period`` (``figures/outcomes.py``; none: every case)."""
    sheet = sheet_cells(facts, period)
    return render(sheet, hidden_cells(sheet.cells, sheet.lines, min_count=min_count), min_count)


def sheet_cells(facts: Iterable[Mapping[str, Any]], period: Period | None = None) -> SheetCells:
    """Every count of the sheet with its sum lines, nothing hidden yet."""
    period = period or Period()
    cases = in_period(facts, period)
    b = SheetCells()
    b.period = period
    b.cases = len(cases)
    opened_cases = [c for c in cases if c.get("opened", True)]
    opened = Counter(_month(c["intake"]) for c in opened_cases)
    closed_cases = [c for c in cases if c["closed_on"] is not None]
    closed = Counter(_month(c["closed_on"]) for c in closed_cases)
    work = [c for c in closed_cases if c["reason"] in WORK_OR_TRAINING]
    all_months = sorted(m for m in set(opened) | set(closed) if m)
    span = list(all_months)
    if period.start is not None and period.end is not None:
        first, last = _month(period.start), _month(period.end)
        if len(_months(first, last)) <= MONTHS_OF_A_PERIOD:
            # a quarter or a year shows each of its months, with cases or without
            span = [m for m in span if first <= m <= last] + [first, last]
    months = _months(min(span), max(span)) if span else []
    if "" in opened or "" in closed:
        months.append("")
    opened_total = b.cell(("opened", "*"), len(opened_cases))
    closed_total = b.cell(("closed", "*"), len(closed_cases))
    work_total = b.cell(("work", "*"), len(work))

    # 1. cases opened and closed per month
    rows: list[tuple[str, list[Any], bool]] = []
    for month in months:
        rows.append(
            (
                month or N_("ohne Datum"),
                [
                    b.cell(("opened", month), opened[month]),
                    b.cell(("closed", month), closed[month]),
                ],
                False,
            )
        )
    rows.append((TOTAL, [opened_total, closed_total], True))
    b.line(opened_total, [("opened", m) for m in months])
    b.line(closed_total, [("closed", m) for m in months])
    b.layout.append(
        ("months", N_("Fälle je Monat"), (N_("Monat"), N_("eröffnet"), N_("beendet")), rows)
    )

    # 2. closing reasons
    reasons = Counter(str(c["reason"] or "") for c in closed_cases)
    keys = _ordered(REASONS, reasons)
    rows = [(REASONS.get(r, r), [b.cell(("reason", r), reasons[r])], False) for r in keys]
    rows.append((TOTAL, [closed_total], True))
    b.line(closed_total, [("reason", r) for r in keys])
    b.line(work_total, [("reason", r) for r in WORK_OR_TRAINING])
    b.layout.append(("reasons", N_("Gründe für das Fallende"), (N_("Grund"), N_("Fälle")), rows))

    # 3. the outcome of work or training: contract and weekly hours
    contracts = Counter(str(c.get("contract") or "") for c in work)
    keys = _ordered(CONTRACTS, contracts)
    rows = [(CONTRACTS.get(k, k), [b.cell(("contract", k), contracts[k])], False) for k in keys]
    rows.append((TOTAL, [work_total], True))
    b.line(work_total, [("contract", k) for k in keys])
    b.layout.append(
        (
            "contracts",
            N_("Arbeit oder Ausbildung: Vertrag"),
            (N_("Vertrag"), N_("Fälle")),
            rows,
        )
    )
    hours = Counter(_hours(c.get("hours")) for c in work)
    keys = _ordered(HOURS, hours)
    rows = [(HOURS[k], [b.cell(("hours", k), hours[k])], False) for k in keys]
    rows.append((TOTAL, [work_total], True))
    b.line(work_total, [("hours", k) for k in keys])
    b.layout.append(
        (
            "hours",
            N_("Arbeit oder Ausbildung: Wochenstunden"),
            (N_("Umfang"), N_("Fälle")),
            rows,
        )
    )

    # 4. durations (median days)
    durations_of = site_durations(cases)
    to_referral, to_work = durations_of["n_referral"], durations_of["n_work"]
    n_referral = b.cell(("n_referral",), len(to_referral))
    n_work = b.cell(("n_work",), len(to_work))
    # the cases with a duration to work are (nearly always) those closed for work: one is
    # hidden where the other is
    b.line(n_work, [work_total])
    b.line(work_total, [n_work])
    durations = [
        (N_("Vom Erstgespräch bis zur ersten Vermittlung"), to_referral, n_referral),
        (N_("Vom Erstgespräch bis zu Arbeit oder Ausbildung"), to_work, n_work),
    ]
    b.layout.append(
        (
            "durations",
            N_("Dauer in Tagen (Median)"),
            (N_("Zeitraum"), N_("Median (Tage)"), N_("Fälle")),
            [(label, [("median", values, key), key], False) for label, values, key in durations],
        )
    )

    # 5. referrals by service and outcome
    referrals = Counter((s, o) for c in cases for s, o in c["referrals"])
    services = _ordered(
        SERVICES, Counter(s for c in cases for s, _o in c["referrals"]), all_known=False
    )
    outcomes = _ordered(REFERRAL_OUTCOMES, Counter(o for c in cases for _s, o in c["referrals"]))
    grand = b.cell(("ref", "*", "*"), sum(referrals.values()))
    rows = []
    for service in services:
        cells = [b.cell(("ref", service, o), referrals[(service, o)]) for o in outcomes]
        row_total = b.cell(("ref", service, "*"), sum(referrals[(service, o)] for o in outcomes))
        b.line(row_total, cells)
        rows.append((SERVICES.get(service, service), [*cells, row_total], False))
    column_totals = []
    for outcome in outcomes:
        key = b.cell(("ref", "*", outcome), sum(referrals[(s, outcome)] for s in services))
        b.line(key, [("ref", s, outcome) for s in services])
        column_totals.append(key)
    b.line(grand, column_totals)
    b.line(grand, [("ref", s, "*") for s in services])
    rows.append((TOTAL, [*column_totals, grand], True))
    b.layout.append(
        (
            "referrals",
            N_("Vermittlungen nach Stelle und Ergebnis"),
            (N_("Stelle"), *(REFERRAL_OUTCOMES.get(o, o) for o in outcomes), N_("Summe")),
            rows,
        )
    )

    # 6. breakdowns by group: cases opened, and closed for work or training
    for group in GROUPS:
        opened_by = Counter(str(c[group]) for c in opened_cases)
        work_by = Counter(str(c[group]) for c in work)
        known = GROUP_VALUES[group]
        keys = _ordered(known, opened_by)
        rows = []
        for value in keys:
            rows.append(
                (
                    known.get(value, value),
                    [
                        b.cell(("opened_by", group, value), opened_by[value]),
                        b.cell(("work_by", group, value), work_by[value]),
                    ],
                    False,
                )
            )
        rows.append((TOTAL, [opened_total, work_total], True))
        b.line(opened_total, [("opened_by", group, v) for v in keys])
        b.line(work_total, [("work_by", group, v) for v in keys])
        b.layout.append(
            (
                f"by_{group}",
                GROUP_TITLES[group],
                (GROUP_TITLES[group], N_("eröffnet"), N_("in Arbeit oder Ausbildung")),
                rows,
            )
        )

    b.first_month = min(span) if span else ""
    b.last_month = max(span) if span else ""
    return b


def render(b: SheetCells, hidden: Mapping[Hashable, str], min_count: int) -> Summary:
    """The sheet as shown, with the cells ``hidden`` (:func:`disclosure.hidden_cells`)."""

    def show(item: Any) -> str:
        if isinstance(item, tuple) and item and item[0] == "median":
            _tag, values, count_key = item
            if not values or count_key in hidden:
                # no median: no case, or too few to show one ("<5" is a count, so a
                # median read "<5" looked like "under 5 days"); the legend says so
                return "–"
            return median_days(values)
        return hidden.get(item, str(b.cells[item]))

    blocks = tuple(
        Block(
            key=key,
            title=title,
            header=header,
            rows=tuple(
                Row(label, tuple(show(i) for i in items), total) for label, items, total in rows
            ),
        )
        for key, title, header, rows in b.layout
    )
    counted = Counter(v for k, v in hidden.items() if k in b.cells)
    return Summary(
        blocks=blocks,
        cases=b.cases,
        min_count=min_count,
        first_month=b.first_month,
        last_month=b.last_month,
        period=b.period,
        hidden={
            "small": counted.get(primary(min_count), 0),
            "secondary": counted.get(SECONDARY, 0),
        },
    )


def _month(day: Any) -> str:
    return day.isoformat()[:7] if day is not None else ""
