"""Data minimisation seen from the office: what a record leaves in its database.

Records are finalised on a real device profile with and without the ``central_office``
purpose (and with the Art. 9 consent), sent to a real receiver on 127.0.0.1 and imported;
then every table of the office database (SQLite and PostgreSQL) is read back and searched
for canary values the person's answers carried (docs/security.md, "What reaches the
central office").
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from intake_app.app import Workspace
from intake_app.central import db as central_db
from tests.conftest import COUNSELLOR, ProfileFixture
from tests.e2e.conftest import FAST, Office
from tests.e2e.test_device_sync import central_records, enrol_device, finalised

pytestmark = pytest.mark.e2e

PHONE = "+49 176 5550987"
EMAIL = "kanarienvogel.mail@example.org"
INTERNAL_NOTE = "Kanarienvogel interne Notiz"
DEBTS_NOTE = "Kanarienvogel Schuldennotiz"
BIRTH_DATES = {"granted": "1987-03-14", "refused": "1961-11-29", "withdrawn": "1999-07-08"}


def _names(case: str) -> tuple[str, str]:
    return f"Kanarienfamilie{case.capitalize()}", f"Kanarienvorname{case.capitalize()}"


def _prepare(ws: Workspace, record_id: str, case: str) -> None:
    """A new revision with the canary answers and the consent of ``case``."""
    ws.records.start_revision(record_id, reason="Angaben ergänzt")
    answers = dict(ws.records.get(record_id).answers)
    family, given = _names(case)
    answers.update(
        family_name=family,
        given_names=given,
        birth_date=BIRTH_DATES[case],
        phone=PHONE,
        email=EMAIL,
        counsellor_notes=INTERNAL_NOTE,
        debts=True,
        debts_note=DEBTS_NOTE,
        health_limitation=True,
    )
    consent = dict(answers["consent"])
    consent["art9"] = {"granted": True, "withdrawn_on": None}
    purposes = dict(consent["purposes"])
    purposes["central_office"] = {"granted": case != "refused", "withdrawn_on": None}
    consent["purposes"] = purposes
    answers["consent"] = consent
    # a referral passing data under the central office purpose would need it granted
    answers["referrals"] = [
        r for r in answers.get("referrals") or [] if r.get("consent_purpose") != "central_office"
    ]
    ws.records.save(record_id, answers=answers)
    ws.records.finalise(record_id, answers=answers)


def _expected_group(case: str, document: dict[str, Any]) -> str:
    born = date.fromisoformat(BIRTH_DATES[case])
    intake = date.fromisoformat(document["answers"]["intake_date"])
    age = intake.year - born.year - ((intake.month, intake.day) < (born.month, born.day))
    bands = ((25, "under 25"), (35, "25-34"), (45, "35-44"), (55, "45-54"))
    return next((name for limit, name in bands if age < limit), "55 and over")


def _database_text(office: Office) -> str:
    """Every value of every table of the office database, as one text."""
    parts: list[str] = []
    for table in central_db.metadata.sorted_tables:
        for row in office.rows(sa.select(table)):
            parts.extend(str(value) for value in row)
    return "\n".join(parts)


def _statistics(office: Office, tmp_path: Path) -> dict[tuple[str, str], int]:
    out = tmp_path / "statistics.csv"
    office.cli("export", "--statistics", "--min-count", "1", "--out", str(out))
    counts: dict[tuple[str, str], int] = {}
    with out.open(encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            key = (row["dimension"], row["value"])
            counts[key] = counts.get(key, 0) + int(row["count"])
    return counts


@pytest.fixture(params=["sqlite", "postgresql"])
def any_office(request: pytest.FixtureRequest) -> Office:
    office: Any = request.getfixturevalue("office" if request.param == "sqlite" else "pg_office")
    return office


def test_the_office_holds_only_what_the_consent_covers(
    profile: ProfileFixture, any_office: Office, tmp_path: Path
) -> None:
    office = any_office
    enrol_device(profile, office, tmp_path)
    ws = profile.sign_in(COUNSELLOR)
    try:
        ids = finalised(ws, 3, seed=21)
        cases = dict(zip(("granted", "refused", "withdrawn"), ids, strict=True))
        for case, record_id in cases.items():
            _prepare(ws, record_id, case)
        sent = ws.sync.send(settings=FAST)
        assert sent.records_delivered == 3
        office.cli("import")

        documents = {rid: doc for rid, _rev, doc in central_records(office)}
        assert set(documents) == set(ids)
        granted = documents[cases["granted"]]
        # with the purpose: the categories it names (identity …) arrive
        assert granted["scope"] == "central_office"
        assert granted["answers"]["family_name"] == _names("granted")[0]
        assert granted["answers"]["birth_date"] == BIRTH_DATES["granted"]
        assert documents[cases["withdrawn"]]["answers"]["family_name"] == _names("withdrawn")[0]
        refused = documents[cases["refused"]]
        assert refused["scope"] == "statistics"
        assert refused["groups"]["age_group"] == _expected_group("refused", refused)

        # the purpose withdrawn after sending: the office drops what it held
        ws.records.withdraw_consent(
            cases["withdrawn"], purpose="central_office", withdrawn_on=date.today()
        )
        again = ws.sync.send(settings=FAST)
        assert again.instructions_delivered == 1
        office.cli("import")
    finally:
        ws.close()

    text = _database_text(office)
    never = [PHONE, EMAIL, INTERNAL_NOTE, DEBTS_NOTE, "health_limitation", "debts_note"]
    never += [*_names("refused"), BIRTH_DATES["refused"]]
    never += [*_names("withdrawn"), BIRTH_DATES["withdrawn"]]
    assert [canary for canary in never if canary in text] == []
    assert _names("granted")[0] in text  # the search does see what is there

    withdrawn = {rid: doc for rid, _rev, doc in central_records(office)}[cases["withdrawn"]]
    assert withdrawn["scope"] == "statistics"
    assert withdrawn["groups"]["age_group"] == _expected_group("withdrawn", withdrawn)

    counts = _statistics(office, tmp_path)
    assert counts[("intakes", "")] == 3
    assert counts[("cases_opened", "")] == 3
    assert sum(n for (dim, _v), n in counts.items() if dim == "opened_by_age_group") == 3
    assert counts.get(("opened_by_age_group", "unknown"), 0) == 0
    assert sum(n for (dim, _v), n in counts.items() if dim == "opened_by_gender") == 3

    out = tmp_path / "records.csv"
    office.cli("export", "--out", str(out))
    with out.open(encoding="utf-8-sig") as handle:
        rows = {row["record_id"]: row for row in csv.DictReader(handle)}
    assert rows[cases["granted"]]["personal_data"] == "yes"
    assert rows[cases["granted"]]["data_scope"] == "central_office"
    assert rows[cases["refused"]]["personal_data"] == "withheld"
    assert rows[cases["refused"]]["data_scope"] == "statistics"
    assert rows[cases["withdrawn"]]["personal_data"] == "withheld"
    assert not any(name.startswith(("answers.phone", "answers.email")) for name in rows[ids[0]])
