"""``export --statistics`` and ``--events`` over the hand-counted cases of test_outcomes,
sent to a real office (docs/central-office.md §6)."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pikepdf

from intake_app.central.export import (
    export_events,
    export_statistics,
    export_statistics_pdf,
    statistics,
    statistics_tables,
)
from intake_app.figures.outcomes import Period
from intake_app.sync.batch import build_batch
from tests.unit.central.harness import Central
from tests.unit.central.test_importer import payload_of, receive
from tests.unit.central.test_outcomes import TWELVE
from tests.unit.sync.factories import erasure, make_record


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text("utf-8-sig"))))


def load_cases(
    central: Central, cases: list[Any], *, consent: bool = True, erase: tuple[int, ...] = ()
) -> list[str]:
    """Send each hand-counted case as a finalised record with its case events; then erase
    the cases at the indexes ``erase`` (the office keeps their anonymised rows)."""
    records, instructions = [], []
    for document, events in cases:
        record = make_record(central_consent=consent)
        record["site"] = document["site"]
        record["answers"] = dict(document["answers"])
        record["created_at"] = f"{document['answers']['intake_date']}T09:00:00Z"
        record["finalised_at"] = f"{document['answers']['intake_date']}T10:00:00Z"
        records.append(record)
        for event in events:
            instructions.append(
                {
                    "type": "case_event",
                    "record_id": record["id"],
                    "event_id": str(uuid.uuid4()),
                    "kind": event["kind"],
                    "occurred_on": event["occurred_on"],
                    "data": event["data"],
                    "recorded_at": f"{event['occurred_on']}T12:00:00Z",
                }
            )
    identity = central.enrol()
    receive(
        central, build_batch(payload_of(*records, instructions=instructions), identity=identity)
    )
    if erase:
        erasures = [erasure(records[i]["id"]) for i in erase]
        receive(central, build_batch(payload_of(instructions=erasures), identity=identity))
    central.importer().run()
    return [r["id"] for r in records]


def test_statistics_csv_hides_small_cells_by_default(central: Central, tmp_path: Path) -> None:
    load_cases(central, TWELVE)
    out = tmp_path / "stats.csv"
    export_statistics(central.engine, out)
    rows = {(r["month"], r["dimension"], r["value"]): r["count"] for r in _rows(out)}
    assert {r["site"] for r in _rows(out)} == {"Bielefeld"}
    # January: 10 cases (9 women, 1 man): the 9 would give the man away
    assert rows[("2026-01", "opened_by_gender", "male")] == "<5"
    assert rows[("2026-01", "opened_by_gender", "female")] == "x"
    # the sheet's 12 cases less February's 2 would give January's 10 away, and with it
    # every January figure that equals it (intakes, third-country nationals)
    assert rows[("2026-02", "cases_opened", "")] == "<5"
    assert rows[("2026-01", "cases_opened", "")] == "x"
    assert rows[("2026-01", "intakes", "")] == "x"
    assert rows[("2026-01", "opened_by_nationality_group", "third_country")] == "x"
    assert rows[("2026-01", "opened_by_age_group", "35-44")] == "x"
    assert rows[("2026-01", "residence_document", "aufenthaltserlaubnis")] == "x"
    assert rows[("2026-01", "residence_document", "duldung")] == "<5"
    assert rows[("2026-01", "referral_outcome", "jobcenter / started")] == "x"
    assert rows[("2026-01", "days_to_first_referral", "0-30")] == "9"
    # March: 9 closed for employment; the sheet hides the 9 (10 for work or training less
    # one training), so March hides it too
    assert rows[("2026-03", "closure_reason", "employment")] == "x"
    assert rows[("2026-03", "cases_closed", "")] == "x"
    assert rows[("2026-06", "closure_reason", "training")] == "<5"
    # medians over the whole period: 10 days to the first referral (11 cases), 59 to work
    assert rows[("", "median_days_to_first_referral", "10")] == "11"
    assert rows[("", "median_days_to_work_or_training", "59")] == "10"
    assert not any(c.isdigit() and 0 < int(c) < 5 for c in rows.values())

    export_statistics(central.engine, out, min_count=1)
    rows = {(r["month"], r["dimension"], r["value"]): r["count"] for r in _rows(out)}
    assert rows[("2026-01", "opened_by_gender", "female")] == "9"
    assert rows[("2026-01", "opened_by_gender", "male")] == "1"
    assert rows[("2026-02", "cases_opened", "")] == "2"
    assert "x" not in rows.values() and "<1" not in rows.values()

    export_statistics(central.engine, out, min_count=12)
    rows = {(r["month"], r["dimension"], r["value"]): r["count"] for r in _rows(out)}
    # too few cases for a median: neither the median nor the number is shown
    assert rows[("", "median_days_to_work_or_training", "")] == "<12"


def test_event_details_are_exported_with_consent(central: Central, tmp_path: Path) -> None:
    granted = load_cases(central, TWELVE[:1])[0]
    refused = load_cases(central, TWELVE[1:2], consent=False)[0]
    out = tmp_path / "events.csv"
    assert export_events(central.engine, out) == (3, 1)
    rows = _rows(out)
    mine = [r for r in rows if r["record_id"] == granted]
    assert [r["kind"] for r in mine] == ["update", "closure"]
    assert json.loads(mine[0]["details"]) == {
        "target": "referral",
        "index": 0,
        "changes": {"outcome": ["open", "started"]},
    }
    assert json.loads(mine[1]["details"]) == {"reason": "employment", "kldb": "81302"}
    assert mine[1]["occurred_on"] == "2026-03-15"
    theirs = [r for r in rows if r["record_id"] == refused]
    assert [(r["kind"], r["details"]) for r in theirs] == [("closure", "withheld")]


def _layout_text(path: Path) -> str:
    done = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    )
    return done.stdout


def _row(text: str, label: str, *cells: str) -> bool:
    """A line of the sheet: the label, then the cells in order, separated by spaces."""
    pattern = re.escape(label) + "".join(r"\s+" + re.escape(cell) for cell in cells) + r"\s*$"
    return re.search(pattern, text, re.MULTILINE) is not None


def test_statistics_sheet_pdf_reads_back(central: Central, tmp_path: Path) -> None:
    """Every block of the sheet, read back from the PDF, with the hand-counted figures
    (test_outcomes) hidden as the CSV hides them."""
    load_cases(central, TWELVE)
    out = tmp_path / "sheet.pdf"
    summary = export_statistics_pdf(central.engine, out)
    text = _layout_text(out)
    titles = [
        "Fälle je Monat",
        "Gründe für das Fallende",
        "Arbeit oder Ausbildung: Vertrag",
        "Arbeit oder Ausbildung: Wochenstunden",
        "Dauer in Tagen (Median)",
        "Vermittlungen nach Stelle und Ergebnis",
        "Geschlecht",
        "Altersgruppe beim Erstgespräch",
        "Aufenthaltsgruppe",
        "Staatsangehörigkeitsgruppe",
    ]
    assert [b.title for b in summary.blocks] == titles
    for title in titles:
        assert title in text
    assert "Zeitraum: 2026-01 bis 2026-06" in text and "Alle Standorte" in text
    # months
    assert _row(text, "2026-01", "x", "0") and _row(text, "2026-02", "<5", "0")
    assert _row(text, "2026-03", "0", "x") and _row(text, "2026-05", "0", "<5")
    assert _row(text, "Insgesamt", "12", "11")
    # reasons, contract, hours
    assert _row(text, "Arbeitsaufnahme", "x") and _row(text, "Umgezogen", "<5")
    assert _row(text, "Insgesamt", "11")
    assert _row(text, "Unbefristet", "x") and _row(text, "Vollzeit (ab 35 Stunden)", "x")
    assert _row(text, "Insgesamt", "10")
    # medians: 10 days (11 cases) to the first referral, 59 days (10 cases) to work
    assert _row(text, "Vom Erstgespräch bis zur ersten Vermittlung", "10", "11")
    assert _row(text, "Vom Erstgespräch bis zu Arbeit oder Ausbildung", "59", "10")
    # referrals by service and outcome
    assert _row(text, "Jobcenter", "0", "0", "x", "0", "<5", "0", "x")
    assert _row(text, "IQ-Anerkennungsberatung", "0", "0", "0", "<5", "0", "0", "<5")
    assert _row(text, "Insgesamt", "0", "0", "x", "<5", "<5", "0", "11")
    # groups
    assert _row(text, "weiblich", "x", "10") and _row(text, "männlich", "<5", "0")
    assert _row(text, "35 bis 44", "x", "x") and _row(text, "unter 25", "<5", "0")
    assert _row(text, "Aufenthaltserlaubnis, Visum, Fiktion", "x", "x")
    assert _row(text, "Drittstaat", "x", "x") and _row(text, "EU-Staat", "<5", "<5")
    assert _row(text, "Insgesamt", "12", "10")
    # no count from 1 to 4 stands in a cell anywhere on the sheet
    body = "\n".join(line for line in text.splitlines() if not line.startswith("Seite "))
    assert re.findall(r"\s([1-4])(?=\s*$|\s{2})", body, re.MULTILINE) == []
    # PDF/A-2b like every printout
    with pikepdf.open(out) as pdf:
        assert str(pdf.Root.Lang) == "de" and len(pdf.Root.OutputIntents) == 1
        meta = pdf.open_metadata()
        assert meta["{http://www.aiim.org/pdfa/ns/id/}part"] == "2"
        assert meta["{http://www.aiim.org/pdfa/ns/id/}conformance"] == "B"
    # in English, with every count shown when the office asks for it
    export_statistics_pdf(central.engine, out, min_count=1, lang="en")
    text = _layout_text(out)
    assert "Cases per month" in text and "Referrals by service and outcome" in text
    assert _row(text, "2026-01", "10", "0") and _row(text, "2026-02", "2", "0")
    assert _row(text, "male", "1", "0")


def test_the_csv_and_the_sheet_give_nothing_away_together(central: Central, tmp_path: Path) -> None:
    """Every figure of the sheet is a sum of CSV cells: where one of the two is hidden,
    at least one more cell of that sum is hidden as well."""
    load_cases(central, TWELVE)
    tables = statistics_tables(central.engine)
    hidden = tables.hidden
    sheet = tables.sheet
    checked = 0
    for key in sheet.cells:
        if not (isinstance(key, tuple) and key[0] in ("reason", "opened_by", "work_by")):
            continue
        dimension = {
            "reason": "closure_reason",
            "opened_by": f"opened_by_{key[1]}" if key[0] == "opened_by" else "",
            "work_by": f"work_or_training_by_{key[1]}" if key[0] == "work_by" else "",
        }[key[0]]
        value = key[1] if key[0] == "reason" else key[2]
        parts = [k for k in tables.counts if k[2] == dimension and k[3] == value]
        members = [key, *parts]
        if any(m in hidden for m in members):
            assert sum(1 for m in members if m in hidden) >= 2, (key, parts)
            checked += 1
    assert checked >= 5


def test_a_reporting_period_on_the_command_line(
    sqlite_central: Central, tmp_path: Path, capsys: Any
) -> None:
    """``--from``/``--to`` for the CSV and the sheet: the second quarter of the twelve
    cases as counted by hand (test_outcomes.Q2_BY_HAND); bad or reversed days are refused
    with exit code 2 and nothing is written."""
    from intake_app.central.cli import main
    from tests.unit.central.test_outcomes import Q2_BY_HAND

    load_cases(sqlite_central, TWELVE)
    home = str(sqlite_central.home.root)
    out, pdf = tmp_path / "q2.csv", tmp_path / "q2.pdf"
    quarter = ["--from", "2026-04-01", "--to", "2026-06-30"]
    both = ["--out", str(out), "--pdf", str(pdf)]
    code = main(["--home", home, "export", "--statistics", *both, "--min-count", "1", *quarter])
    assert code == 0, capsys.readouterr().err
    rows = {(r["month"], r["dimension"], r["value"]): r["count"] for r in _rows(out)}
    outcomes = {k: int(v) for k, v in rows.items() if not k[1].startswith("median_")}
    assert outcomes == Q2_BY_HAND
    # no intake in the quarter: none of the intake dimensions; 140 days to training
    assert rows[("", "median_days_to_work_or_training", "140")] == "1"
    text = _layout_text(pdf)
    assert "Zeitraum: 01.04.2026 bis 30.06.2026" in text
    assert _row(text, "2026-04", "0", "0") and _row(text, "2026-06", "0", "1")
    assert _row(text, "Insgesamt", "0", "2")
    code = main(["--home", home, "export", "--statistics", "--pdf", str(pdf), "--lang", "en"])
    assert code == 0 and "Period: 2026-01 to 2026-06" in _layout_text(pdf)
    code = main(
        ["--home", home, "export", "--statistics", "--pdf", str(pdf), "--lang", "en", *quarter]
    )
    assert code == 0 and "Period: 01/04/2026 to 30/06/2026" in _layout_text(pdf)
    capsys.readouterr()

    before = out.read_bytes()
    refused = [
        ["--from", "2026-13-01"],
        ["--to", "30.06.2026"],
        ["--from", "2026-4-1"],
        ["--from", "2026-07-01", "--to", "2026-06-30"],
    ]
    for days in refused:
        code = main(["--home", home, "export", "--statistics", "--out", str(out), *days])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1, (days, err)
        if "2026-07-01" in days:
            assert "endet vor seinem Anfang" in err and "ends before it starts" in err
        else:
            assert "JJJJ-MM-TT" in err and "YYYY-MM-DD" in err and days[1] in err
    assert out.read_bytes() == before
    code = main(["--home", home, "export", "--events", "--out", str(out), *quarter])
    assert code == 2 and "--statistics" in capsys.readouterr().err
    assert out.read_bytes() == before


def test_erased_records_count_in_a_period_by_whole_months(central: Central) -> None:
    """An erased record's anonymised row keeps only the month of its intake: it counts in
    a period holding that whole month, and not in one that starts within it."""
    from datetime import date

    load_cases(central, TWELVE, erase=(1,))  # R2, opened 25 January
    january = ("Bielefeld", "2026-01")

    def counts(period: Period) -> tuple[int, int]:
        got = statistics(central.engine, period)
        return got[(*january, "intakes", "")], got[(*january, "cases_opened", "")]

    # R1 (10 January), the eight alike (15 January) and R2, erased
    assert counts(Period()) == (10, 9)
    assert counts(Period(date(2026, 1, 1), date(2026, 3, 31))) == (10, 9)
    assert counts(Period(None, date(2026, 1, 31))) == (10, 9)
    # from 11 January: not R1, and R2's row cannot tell whether it lies in the period
    assert counts(Period(date(2026, 1, 11), date(2026, 3, 31))) == (8, 8)
    assert counts(Period(date(2026, 2, 1), None)) == (0, 0)
