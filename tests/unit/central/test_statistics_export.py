"""``export --statistics`` and ``--events`` over the hand-counted cases of test_outcomes,
sent to a real office (docs/central-office.md §6)."""

from __future__ import annotations

import csv
import io
import json
import uuid
from pathlib import Path
from typing import Any

from intake_app.central.export import export_events, export_statistics
from intake_app.sync.batch import build_batch
from tests.unit.central.harness import Central
from tests.unit.central.test_importer import payload_of, receive
from tests.unit.central.test_outcomes import TWELVE
from tests.unit.sync.factories import make_record


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text("utf-8-sig"))))


def load_cases(central: Central, cases: list[Any], *, consent: bool = True) -> list[str]:
    """Send each hand-counted case as a finalised record with its case events."""
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
