"""Exports of the central database: a CSV of the latest revisions, and anonymised counts.

**Records CSV** (``export --out FILE``): one row per record, its highest revision. Consent
is respected: personal data (the answers) are exported only when the ``central_office``
purpose is granted and not withdrawn, neither in the record's own consent state nor by a
later withdrawal instruction, and the device sent more than the statistics minimum;
otherwise the row keeps only administrative columns and says ``personal_data=withheld``.
``data_scope`` says what the device sent (``central_office``, ``statistics`` or ``full``
for records from before the data minimisation; docs/batch-format.md §5): answers the
device withheld (contact details, internal notes, health …) have no column at all.
Each purpose's state is a column. Every cell is quoted, and
text that a spreadsheet would run as a formula gets a ``'`` in front: at the start of the
cell and after every character a spreadsheet may split on (``,``, ``;``, tab, line
break, ``|``), so the file stays text whatever separator Excel or LibreOffice assume
(``--separator ';'`` writes the form German Excel opens directly).

**Case events CSV** (``export --events --out FILE``): one row per case event (contact,
update, closure, reopening; docs/batch-format.md §5) of a record the office holds: record
id, event id, kind, date, and the details as JSON. The details follow the record's
consent like the answers do: without the ``central_office`` purpose they say
``withheld``; kind and date stay (they are what the statistics count).

**Statistics CSV** (``export --statistics``): counts by site and month of intakes,
residence documents, goal types and referral services, over all records including the
anonymised rows that erasures leave behind; and the outcome figures of ``outcomes.py``
(cases opened and closed, closure reasons, days to the first referral and to work or
training, referrals by service and outcome, breakdowns by group) over the records the
office holds. No ids, no names, no free text; small cells are shown as ``<N``.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from intake_app.atomic import atomic_write_bytes
from intake_app.figures.disclosure import MIN_COUNT, hidden_cells
from intake_app.figures.outcomes import (
    GROUPS,
    Period,
    case_facts,
    events_by_record,
    in_period,
    intake_day,
    outcome_counts,
)
from intake_app.figures.summary import (
    SheetCells,
    Summary,
    median_days,
    render,
    sheet_cells,
    site_durations,
)
from intake_app.i18n import N_, translator
from intake_app.sync.minimum import SCOPE_STATISTICS, SCOPES

from .db import case_events, consent_withdrawals, erased_statistics, record_heads
from .db import records as records_table

log = logging.getLogger("intake.central")

FIXED_COLUMNS = (
    "record_id",
    "revision",
    "form_id",
    "form_version",
    "status",
    "site",
    "counsellor",
    "created_at",
    "finalised_at",
    "personal_data",
    "data_scope",
)
CENTRAL_PURPOSE = "central_office"
_MONTH = re.compile(r"^\d{4}-\d{2}")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: A formula character after something a spreadsheet may split a line on.
_SPLIT_FORMULA = re.compile(r"([,;\t\r\n|])([ ]*)(?=[=+\-@])")
SEPARATORS = (",", ";")


def _month(value: object) -> str | None:
    return value[:7] if isinstance(value, str) and _MONTH.match(value) else None


def statistics_row(document: Mapping[str, Any]) -> dict[str, Any]:
    """The anonymised facts of one record that statistics count (no ids, no names)."""
    answers = document.get("answers") if isinstance(document.get("answers"), dict) else {}
    assert isinstance(answers, dict)
    referrals = answers.get("referrals")
    services = sorted(
        {
            str(item["service"])[:100]
            for item in (referrals if isinstance(referrals, list) else [])
            if isinstance(item, dict) and isinstance(item.get("service"), str)
        }
    )

    def short(value: object) -> str | None:
        return value[:100] if isinstance(value, str) else None

    return {
        "site": short(document.get("site")),
        "month": _month(answers.get("intake_date")) or _month(document.get("created_at")),
        "residence_document": short(answers.get("residence_document")),
        "goal_type": short(answers.get("goal_type")),
        "referrals": services,
    }


def _latest_documents(engine: Engine) -> Iterator[dict[str, Any]]:
    """The highest revision of every record, as stored JSON documents."""
    query = (
        sa.select(records_table.c.document)
        .join(
            record_heads,
            (record_heads.c.record_id == records_table.c.record_id)
            & (record_heads.c.revision == records_table.c.revision),
        )
        .order_by(records_table.c.record_id)
    )
    with engine.connect() as conn:
        for row in conn.execution_options(yield_per=500).execute(query):
            yield json.loads(row.document)


def _withdrawals(engine: Engine) -> dict[str, dict[str, tuple[int | None, str]]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(consent_withdrawals)).all()
    result: dict[str, dict[str, tuple[int | None, str]]] = {}
    for row in rows:
        result.setdefault(row.record_id, {})[row.purpose] = (row.revision, row.withdrawn_on)
    return result


def consent_states(
    document: Mapping[str, Any], withdrawals: Mapping[str, tuple[int | None, str]]
) -> dict[str, str]:
    """Each purpose's state: ``granted DATE``, ``withdrawn DATE`` or ``not_granted``.

    A withdrawal instruction applies when it names no revision or this revision or a later
    one; a newer revision carries its own consent state (a renewed consent wins).
    """
    consent = document.get("consent") if isinstance(document.get("consent"), dict) else {}
    assert isinstance(consent, dict)
    purposes = consent.get("purposes") if isinstance(consent.get("purposes"), dict) else {}
    assert isinstance(purposes, dict)
    states: dict[str, str] = {}
    for purpose, state in purposes.items():
        if not isinstance(state, dict):
            continue
        if state.get("withdrawn_on"):
            states[purpose] = f"withdrawn {state['withdrawn_on']}"
        elif state.get("granted") is True:
            states[purpose] = f"granted {state.get('date') or ''}".strip()
        else:
            states[purpose] = "not_granted"
    revision = document.get("revision", 0)
    for purpose, (wrevision, withdrawn_on) in withdrawals.items():
        if wrevision is None or wrevision >= revision:
            states[purpose] = f"withdrawn {withdrawn_on}"
    return states


def personal_data_allowed(states: Mapping[str, str]) -> bool:
    """True only when the central office purpose is granted and not withdrawn."""
    return states.get(CENTRAL_PURPOSE, "not_granted").startswith("granted")


def data_scope(document: Mapping[str, Any]) -> str:
    """What the device sent (docs/batch-format.md §5): ``central_office`` (the answers of
    the purpose's data categories and the minimum), ``statistics`` (the minimum only) or
    ``full`` (a record sent before devices reduced records)."""
    scope = document.get("scope")
    return scope if scope in SCOPES else "full"


def _allowed(document: Mapping[str, Any], states: Mapping[str, str]) -> bool:
    return personal_data_allowed(states) and data_scope(document) != SCOPE_STATISTICS


def _flatten(value: Any, prefix: str, out: dict[str, str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else str(key), out)
    elif isinstance(value, list):
        out[prefix] = json.dumps(value, ensure_ascii=False, sort_keys=True)
    elif isinstance(value, bool):
        out[prefix] = "true" if value else "false"
    elif value is None:
        out[prefix] = ""
    else:
        out[prefix] = str(value)


def _safe_cell(value: str) -> str:
    """Keep spreadsheets from running a cell, or any piece of it, as a formula."""
    value = _SPLIT_FORMULA.sub(r"\1\2'", value)
    if value.startswith(_FORMULA_START) or value.lstrip(" ").startswith(("=", "+", "-", "@")):
        return "'" + value
    return value


def _writer(buffer: io.StringIO, separator: str) -> Any:
    if separator not in SEPARATORS:
        raise ValueError(f"unsupported separator {separator!r}")
    return csv.writer(buffer, delimiter=separator, quoting=csv.QUOTE_ALL, lineterminator="\r\n")


def export_records(engine: Engine, out: Path, *, separator: str = ",") -> tuple[int, int]:
    """Write the records CSV; returns (rows, rows with personal data withheld)."""
    withdrawals = _withdrawals(engine)
    purposes: set[str] = set()
    answer_columns: set[str] = set()
    for document in _latest_documents(engine):
        states = consent_states(document, withdrawals.get(document["id"], {}))
        purposes.update(states)
        if _allowed(document, states):
            flat: dict[str, str] = {}
            _flatten(document.get("answers", {}), "", flat)
            answer_columns.update(flat)
    consent_columns = [f"consent.{p}" for p in sorted(purposes)]
    answers = [f"answers.{c}" for c in sorted(answer_columns)]
    buffer = io.StringIO()
    writer = _writer(buffer, separator)
    # Column names come from what devices sent: guarded like every cell.
    writer.writerow([_safe_cell(c) for c in (*FIXED_COLUMNS, *consent_columns, *answers)])
    rows = withheld = 0
    for document in _latest_documents(engine):
        states = consent_states(document, withdrawals.get(document["id"], {}))
        allowed = _allowed(document, states)
        flat = {}
        if allowed:
            _flatten(document.get("answers", {}), "", flat)
        else:
            withheld += 1
        fixed = {name: document.get(name) for name in FIXED_COLUMNS}
        fixed["record_id"] = document["id"]
        fixed["personal_data"] = "yes" if allowed else "withheld"
        fixed["data_scope"] = data_scope(document)
        cells = [("" if fixed[n] is None else str(fixed[n])) for n in FIXED_COLUMNS]
        cells += [states.get(c[len("consent.") :], "") for c in consent_columns]
        cells += [flat.get(c[len("answers.") :], "") for c in answers]
        writer.writerow([_safe_cell(c) for c in cells])
        rows += 1
    atomic_write_bytes(Path(out), buffer.getvalue().encode("utf-8-sig"))
    log.info("records exported: rows=%d withheld=%d", rows, withheld)
    return rows, withheld


EVENT_COLUMNS = ("record_id", "event_id", "kind", "occurred_on", "recorded_at", "details")


def export_events(engine: Engine, out: Path, *, separator: str = ",") -> tuple[int, int]:
    """Write the case events CSV; returns (rows, rows whose details were withheld)."""
    withdrawals = _withdrawals(engine)
    allowed = {
        document["id"]: _allowed(
            document, consent_states(document, withdrawals.get(document["id"], {}))
        )
        for document in _latest_documents(engine)
    }
    buffer = io.StringIO()
    writer = _writer(buffer, separator)
    writer.writerow(EVENT_COLUMNS)
    rows = withheld = 0
    with engine.connect() as conn:
        events = conn.execute(
            sa.select(case_events).order_by(
                case_events.c.record_id, case_events.c.occurred_on, case_events.c.recorded_at
            )
        ).all()
    for event in events:
        if event.record_id not in allowed:
            continue  # its record has not arrived yet (or was erased)
        details = event.data if allowed[event.record_id] else "withheld"
        withheld += 0 if allowed[event.record_id] else 1
        cells = [
            event.record_id,
            event.event_id,
            event.kind,
            event.occurred_on,
            event.recorded_at or "",
            details,
        ]
        writer.writerow([_safe_cell(str(c)) for c in cells])
        rows += 1
    atomic_write_bytes(Path(out), buffer.getvalue().encode("utf-8-sig"))
    log.info("case events exported: rows=%d withheld=%d", rows, withheld)
    return rows, withheld


def _counts_and_facts(
    engine: Engine, period: Period | None = None
) -> tuple[Counter[tuple[str, str, str, str]], list[dict[str, Any]]]:
    """The counts of the CSV and the facts of the cases that count in ``period``
    (``figures/outcomes.py``; docs/central-office.md §6, "Reporting period")."""
    period = period or Period()
    counts: Counter[tuple[str, str, str, str]] = Counter()

    def add(row: Mapping[str, Any]) -> None:
        site, month = row["site"] or "", row["month"] or ""
        counts[(site, month, "intakes", "")] += 1
        counts[(site, month, "residence_document", row["residence_document"] or "")] += 1
        counts[(site, month, "goal_type", row["goal_type"] or "")] += 1
        for service in row["referrals"]:
            counts[(site, month, "referral", service)] += 1

    for document in _latest_documents(engine):
        if period.holds(intake_day(document)):
            add(statistics_row(document))
    with engine.connect() as conn:
        for row in conn.execute(sa.select(erased_statistics)).all():
            # an erased record's row keeps only the month of its intake: it counts when
            # the whole month lies in the period
            if period.holds_month(row.month):
                data = dict(row._mapping)
                data["referrals"] = json.loads(data["referrals"])
                add(data)
    facts = in_period(outcome_facts(engine), period)
    counts.update(outcome_counts(facts))
    return counts, facts


def outcome_facts(engine: Engine) -> list[dict[str, Any]]:
    """The facts of every record the office holds (``figures/outcomes.py``), as the sheet
    and the outcome dimensions count them."""
    with engine.connect() as conn:
        events = events_by_record(conn.execute(sa.select(case_events)).all())
    return [case_facts(doc, events.get(doc["id"], [])) for doc in _latest_documents(engine)]


def statistics(engine: Engine, period: Period | None = None) -> Counter[tuple[str, str, str, str]]:
    """Counts keyed by (site, month, dimension, value) over live and erased records."""
    return _counts_and_facts(engine, period)[0]


#: Parts that add up to a sum another cell of the same site and month shows
#: (docs/central-office.md §6, "Small cells").
_NOT_WORK = ("moved_away", "unreachable", "other_service", "ended_by_person", "other")


def sum_lines(
    counts: Mapping[tuple[str, str, str, str], int],
) -> list[tuple[tuple[str, str, str, str], list[tuple[str, str, str, str]]]]:
    """Every sum in the statistics CSV with its parts, per site and month."""
    values: dict[tuple[str, str, str], list[str]] = {}
    for site, month, dimension, value in counts:
        values.setdefault((site, month, dimension), []).append(value)
    lines = []

    def parts_of(site: str, month: str, dimension: str) -> list[tuple[str, str, str, str]]:
        return [(site, month, dimension, v) for v in values.get((site, month, dimension), [])]

    for site, month in sorted({(s, m) for s, m, _d, _v in counts}):

        def parts(dimension: str, site: str = site, month: str = month) -> list[Any]:
            return parts_of(site, month, dimension)

        opened = (site, month, "cases_opened", "")
        closed = (site, month, "cases_closed", "")
        intakes = (site, month, "intakes", "")
        not_work = [(site, month, "closure_reason", r) for r in _NOT_WORK]
        for group in GROUPS:
            lines.append((opened, parts(f"opened_by_{group}")))
            lines.append((closed, parts(f"work_or_training_by_{group}") + not_work))
        lines.append((closed, parts("closure_reason")))
        lines.append((closed, parts("days_to_work_or_training") + not_work))
        lines.append((intakes, parts("residence_document")))
        lines.append((intakes, parts("goal_type")))
        # the records referred to a service are, but for a second referral to the same
        # service, the sum of that service's referrals by outcome
        for service in values.get((site, month, "referral"), []):
            outcomes = [
                (site, month, "referral_outcome", v)
                for v in values.get((site, month, "referral_outcome"), [])
                if v.startswith(f"{service} / ")
            ]
            lines.append(((site, month, "referral", service), outcomes))
    return lines


MEDIANS = (
    ("median_days_to_first_referral", "n_referral", "days_to_first_referral"),
    ("median_days_to_work_or_training", "n_work", "days_to_work_or_training"),
)


@dataclass(frozen=True)
class Tables:
    """The statistics CSV's counts and the sheet's, hidden together: what one shows
    cannot give away what the other hides (docs/central-office.md §6, "Small cells")."""

    counts: dict[tuple[str, str, str, str], int]
    durations: dict[str, dict[str, list[int]]]
    sheet: SheetCells
    hidden: dict[Any, str]
    min_count: int

    def summary(self) -> Summary:
        return render(self.sheet, self.hidden, self.min_count)


def statistics_tables(
    engine: Engine, *, min_count: int = MIN_COUNT, period: Period | None = None
) -> Tables:
    """Count everything once (of what lies in ``period``; none: everything) and hide the
    small cells of the CSV and the sheet together."""
    period = period or Period()
    counter, facts = _counts_and_facts(engine, period)
    counts = dict(counter)
    lines: list[tuple[Any, list[Any]]] = list(sum_lines(counter))
    durations = {}
    # grouped once: per site, a scan of every fact and every count grew with sites × cases
    facts_by_site: dict[str, list[dict[str, Any]]] = {}
    for fact in facts:
        facts_by_site.setdefault(fact["site"], []).append(fact)
    keys_by_site_dimension: dict[tuple[str, str], list[Any]] = {}
    for counted in counter:
        keys_by_site_dimension.setdefault((counted[0], counted[2]), []).append(counted)
    for site in sorted(facts_by_site):
        durations[site] = site_durations(facts_by_site[site])
        for dimension, name, bands in MEDIANS:
            if durations[site][name]:
                key = (site, "", dimension, "")
                counts[key] = len(durations[site][name])
                lines.append((key, list(keys_by_site_dimension.get((site, bands), []))))
    sheet = sheet_cells(facts, period)
    lines += sheet.lines
    # the sheet counts the whole period over every site: each of its cells is the sum of
    # the CSV's cells of every site and month
    by_dimension: dict[tuple[str, str], list[Any]] = {}
    by_month_dimension: dict[tuple[str, str], list[Any]] = {}
    by_dimension_only: dict[str, list[Any]] = {}
    for key in counter:
        by_dimension.setdefault((key[2], key[3]), []).append(key)
        by_month_dimension.setdefault((key[1], key[2]), []).append(key)
        by_dimension_only.setdefault(key[2], []).append(key)
    links: dict[Any, tuple[str, str] | None] = {
        ("opened", "*"): ("cases_opened", ""),
        ("closed", "*"): ("cases_closed", ""),
        ("n_referral",): None,
        ("n_work",): None,
    }
    for sheet_key in sheet.cells:
        key = cast(Any, sheet_key)
        parts: list[Any] = []
        tag = key[0] if isinstance(key, tuple) else None
        if key in links:
            link = links[key]
            if link is not None:
                parts = by_dimension.get(link, [])
            else:
                bands = dict((n, b) for _d, n, b in MEDIANS)[key[0]]
                parts = list(by_dimension_only.get(bands, []))
        elif tag in ("opened", "closed") and key[1] != "*":
            parts = list(by_month_dimension.get((key[1], f"cases_{tag}"), []))
        elif tag == "reason":
            parts = by_dimension.get(("closure_reason", key[1]), [])
        elif tag in ("opened_by", "work_by"):
            prefix = "opened_by" if tag == "opened_by" else "work_or_training_by"
            parts = by_dimension.get((f"{prefix}_{key[1]}", key[2]), [])
        elif tag == "ref" and "*" not in key[1:]:
            parts = by_dimension.get(("referral_outcome", f"{key[1]} / {key[2]}"), [])
        if parts:
            lines.append((key, parts))
    cells: dict[Any, int] = {**counts, **sheet.cells}
    # ``intakes`` counts erased records too: the erased of a month are not shown, but may
    # be 0, and then ``intakes`` is ``cases_opened``
    for site, month, dimension, _value in counter:
        if dimension == "intakes":
            opened = counter.get((site, month, "cases_opened", ""), 0)
            erased = (site, month, "erased (not shown)", "")
            cells[erased] = counter[(site, month, "intakes", "")] - opened
            lines.append(
                ((site, month, "intakes", ""), [(site, month, "cases_opened", ""), erased])
            )
    hidden = hidden_cells(cells, lines, min_count=min_count)
    return Tables(counts, durations, sheet, hidden, min_count)


def export_statistics(
    engine: Engine,
    out: Path,
    *,
    min_count: int = MIN_COUNT,
    separator: str = ",",
    period: Period | None = None,
) -> int:
    """Write the statistics CSV of ``period`` (none: everything); counts from 1 to
    ``min_count - 1`` show as ``<min_count``, and a count that would give one of them
    away from a sum as ``x`` (``figures/disclosure.py``). Returns the number of rows."""
    tables = statistics_tables(engine, min_count=min_count, period=period)
    hidden = tables.hidden
    buffer = io.StringIO()
    writer = _writer(buffer, separator)
    writer.writerow(["site", "month", "dimension", "value", "count"])
    rows = 0
    for key, count in sorted(tables.counts.items()):
        site, month, dimension, value = key
        shown = hidden.get(key, str(count))
        if dimension.startswith("median_"):
            # the median of the whole period in ``value``, the cases it is taken over in
            # ``count``; without enough cases neither is shown
            name = next(n for d, n, _b in MEDIANS if d == dimension)
            value = "" if key in hidden else median_days(tables.durations[site][name])
        writer.writerow([_safe_cell(site), month, dimension, _safe_cell(value), shown])
        rows += 1
    atomic_write_bytes(Path(out), buffer.getvalue().encode("utf-8-sig"))
    log.info("statistics exported: rows=%d hidden=%d", rows, len(hidden))
    return rows


def export_statistics_pdf(
    engine: Engine,
    out: Path,
    *,
    min_count: int = MIN_COUNT,
    lang: str = "de",
    period: Period | None = None,
) -> Summary:
    """Write the outcome statistics sheet of every record the office holds (PDF/A-2b), of
    ``period`` (none: everything; its header names it), its cells hidden together with
    the CSV's (:func:`statistics_tables`)."""
    # Deferred: reportlab loads only when a sheet is printed.
    from intake_app.figures.sheet import sheet_pdf

    summary = statistics_tables(engine, min_count=min_count, period=period).summary()
    data = sheet_pdf(
        summary,
        scope=translator(lang)(N_("Alle Standorte (Zentralstelle)")),
        printed_by="intake-central",
        generated=datetime.now(UTC),
        lang=lang,
    )
    atomic_write_bytes(Path(out), data)
    log.info("statistics sheet written: blocks=%d", len(summary.blocks))
    return summary
