"""The outcome figures against a small data set counted by hand (docs/central-office.md §6)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from intake_app.core.forms import load_shipped_forms
from intake_app.figures.disclosure import hidden_cells
from intake_app.figures.outcomes import (
    RESIDENCE_GROUPS,
    Period,
    case_facts,
    outcome_counts,
    residence_group,
)
from intake_app.figures.sheet_text import legend
from intake_app.figures.summary import GROUP_VALUES, build_summary


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


# -- the sheet and small cells -------------------------------------------------------------

#: eight more cases alike: intake 15 January, referred to the Jobcenter after 10 days
#: (started), a permanent full-time job after 59 days (15 March)
ALIKE = (
    _doc(
        "2026-01-15",
        gender="female",
        birth_date="1990-01-01",
        residence_document="aufenthaltserlaubnis",
        nationalities=["SY"],
        referrals=[{"service": "jobcenter", "date": "2026-01-25", "outcome": "started"}],
    ),
    [_ev("closure", "2026-03-15", reason="employment", contract="permanent", hours=39)],
)
TWELVE = [*CASES, *[ALIKE] * 8]


def _sheet(
    cases: list[Any], min_count: int, period: Period | None = None
) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
    summary = build_summary(
        (case_facts(d, e) for d, e in cases), min_count=min_count, period=period
    )
    return {b.key: [(r.label, r.cells) for r in b.rows] for b in summary.blocks}


def test_the_sheet_of_four_cases_unsuppressed() -> None:
    sheet = _sheet(CASES, 1)
    assert sheet["months"] == [
        ("2026-01", ("2", "0")),
        ("2026-02", ("2", "0")),
        ("2026-03", ("0", "1")),
        ("2026-04", ("0", "0")),
        ("2026-05", ("0", "1")),
        ("2026-06", ("0", "1")),
        ("Insgesamt", ("4", "3")),
    ]
    reasons = dict(sheet["reasons"])
    assert (reasons["Arbeitsaufnahme"], reasons["Ausbildung"], reasons["Umgezogen"]) == (
        ("1",),
        ("1",),
        ("1",),
    )
    assert reasons["Insgesamt"] == ("3",) and reasons["Studium"] == ("0",)
    # to the first referral: 10, 95 and 0 days; to work or training: 64 and 140 days
    assert sheet["durations"] == [
        ("Vom Erstgespräch bis zur ersten Vermittlung", ("10", "3")),
        ("Vom Erstgespräch bis zu Arbeit oder Ausbildung", ("102", "2")),
    ]
    assert sheet["referrals"] == [
        ("Jobcenter", ("0", "0", "1", "0", "1", "0", "2")),
        ("IQ-Anerkennungsberatung", ("0", "0", "0", "1", "0", "0", "1")),
        ("Insgesamt", ("0", "0", "1", "1", "1", "0", "3")),
    ]
    assert dict(sheet["by_gender"])["weiblich"] == ("3", "2")
    assert dict(sheet["by_age_group"])["unbekannt"] == ("1", "1")
    assert dict(sheet["by_nationality_group"])["EU-Staat"] == ("1", "1")


def test_the_sheet_of_twelve_cases_hides_small_cells_and_what_gives_them_away() -> None:
    """Counted by hand: 12 cases, 11 closed (9 employment, 1 training, 1 moved away)."""
    sheet = _sheet(TWELVE, 5)
    # January's 10 would give away February's 2 with the total of 12
    assert sheet["months"] == [
        ("2026-01", ("x", "0")),
        ("2026-02", ("<5", "0")),
        ("2026-03", ("0", "9")),
        ("2026-04", ("0", "0")),
        ("2026-05", ("0", "<5")),
        ("2026-06", ("0", "<5")),
        ("Insgesamt", ("12", "11")),
    ]
    reasons = dict(sheet["reasons"])
    # work or training (10, shown below) less training (1) would give employment away
    assert reasons["Arbeitsaufnahme"] == ("x",) and reasons["Ausbildung"] == ("<5",)
    assert reasons["Umgezogen"] == ("<5",) and reasons["Insgesamt"] == ("11",)
    assert sheet["contracts"][0] == ("Unbefristet", ("x",))
    assert dict(sheet["contracts"])["ohne Angabe"] == ("<5",)
    assert sheet["hours"] == [
        ("Vollzeit (ab 35 Stunden)", ("x",)),
        ("Teilzeit (unter 35 Stunden)", ("0",)),
        ("ohne Angabe", ("<5",)),
        ("Insgesamt", ("10",)),
    ]
    # days to the first referral: 0, 10 (nine times), 95; to work: 59 (eight times), 64, 140
    assert sheet["durations"] == [
        ("Vom Erstgespräch bis zur ersten Vermittlung", ("10", "11")),
        ("Vom Erstgespräch bis zu Arbeit oder Ausbildung", ("59", "10")),
    ]
    assert sheet["referrals"] == [
        ("Jobcenter", ("0", "0", "x", "0", "<5", "0", "x")),
        ("IQ-Anerkennungsberatung", ("0", "0", "0", "<5", "0", "0", "<5")),
        ("Insgesamt", ("0", "0", "x", "<5", "<5", "0", "11")),
    ]
    assert dict(sheet["by_gender"])["weiblich"] == ("x", "10")
    assert dict(sheet["by_gender"])["männlich"] == ("<5", "0")
    assert dict(sheet["by_age_group"])["35 bis 44"] == ("9", "x")
    assert dict(sheet["by_age_group"])["unbekannt"] == ("<5", "<5")
    assert dict(sheet["by_residence_group"])["Aufenthaltserlaubnis, Visum, Fiktion"] == ("9", "x")
    assert dict(sheet["by_nationality_group"])["Drittstaat"] == ("x", "x")
    assert dict(sheet["by_nationality_group"])["Insgesamt"] == ("12", "10")


def test_no_hidden_cell_can_be_recomputed_from_a_sum_line() -> None:
    summary = build_summary((case_facts(d, e) for d, e in TWELVE), min_count=5)
    for block in summary.blocks:
        if block.key == "durations":
            continue
        columns = len(block.rows[0].cells)
        total = next(r for r in block.rows if r.total)
        parts = [r for r in block.rows if not r.total]
        lines = [[r.cells[i] for r in parts] + [total.cells[i]] for i in range(columns)]
        if block.key == "referrals":
            lines += [list(r.cells) for r in block.rows]
        for line in lines:
            hidden = sum(1 for cell in line[:-1] if not cell.isdigit())
            assert hidden != 1 or not line[-1].isdigit(), (block.key, line)


def test_hiding_small_cells() -> None:
    cells = {"total": 12, "a": 10, "b": 2, "c": 0}
    assert hidden_cells(cells, [("total", ["a", "b", "c"])]) == {"b": "<5", "a": "x"}
    assert hidden_cells(cells, [("total", ["a", "b", "c"])], min_count=1) == {}
    # two small parts hide each other; a sum of small parts is itself small
    assert hidden_cells({"t": 4, "a": 2, "b": 2}, [("t", ["a", "b"])]) == {
        "t": "<5",
        "a": "<5",
        "b": "<5",
    }
    # no other part to hide: the sum goes
    assert hidden_cells(
        {"t": 7, "a": 3, "b": 0, "u": 20, "v": 13}, [("t", ["a", "b"]), ("u", ["t", "v"])]
    ) == {
        "a": "<5",
        "t": "x",
        "v": "x",
    }


# -- a reporting period --------------------------------------------------------------------

Q1, Q2 = Period(date(2026, 1, 1), date(2026, 3, 31)), Period(date(2026, 4, 1), date(2026, 6, 30))

#: The second quarter of the twelve cases, counted by hand: nothing was opened; R2 was
#: closed (moved away, 2 May) and its referral dated 30 April counts (under the month of
#: its intake, January); R4 was closed for training on 30 June, 140 days after its
#: intake (its referral of 10 February does not count); R1, R3 and the eight alike have
#: nothing in the quarter (closed 15 March, reopened 1 March, closed 15 March).
Q2_BY_HAND = {
    ("2026-05", "cases_closed", ""): 1,
    ("2026-06", "cases_closed", ""): 1,
    ("2026-05", "closure_reason", "moved_away"): 1,
    ("2026-06", "closure_reason", "training"): 1,
    ("2026-06", "days_to_work_or_training", "91-180"): 1,
    ("2026-01", "referral_outcome", "iq_recognition / completed"): 1,
    ("2026-06", "work_or_training_by_gender", "female"): 1,
    ("2026-06", "work_or_training_by_age_group", "unknown"): 1,
    ("2026-06", "work_or_training_by_residence_group", "none_or_unclear"): 1,
    ("2026-06", "work_or_training_by_nationality_group", "eu"): 1,
}


def test_a_quarter_counts_what_lies_in_it_by_hand() -> None:
    counts = outcome_counts((case_facts(d, e) for d, e in TWELVE), Q2)
    assert {(m, d, v): n for (_s, m, d, v), n in counts.items()} == Q2_BY_HAND
    # without a period, or with one holding every day, everything as before
    everything = outcome_counts(case_facts(d, e) for d, e in TWELVE)
    wide = outcome_counts((case_facts(d, e) for d, e in TWELVE), Period(date(2000, 1, 1), None))
    assert everything == wide
    assert outcome_counts((case_facts(d, e) for d, e in CASES), Period()) == outcome_counts(
        case_facts(d, e) for d, e in CASES
    )


def test_the_sheet_of_a_quarter() -> None:
    sheet = _sheet(TWELVE, 1, Q2)
    # every month of the quarter, with cases or without
    assert sheet["months"] == [
        ("2026-04", ("0", "0")),
        ("2026-05", ("0", "1")),
        ("2026-06", ("0", "1")),
        ("Insgesamt", ("0", "2")),
    ]
    reasons = dict(sheet["reasons"])
    assert reasons["Umgezogen"] == ("1",) and reasons["Ausbildung"] == ("1",)
    assert reasons["Arbeitsaufnahme"] == ("0",) and reasons["Insgesamt"] == ("2",)
    assert dict(sheet["contracts"])["ohne Angabe"] == ("1",)
    # no case opened in the quarter: no days to a first referral; 140 days to training
    assert sheet["durations"] == [
        ("Vom Erstgespräch bis zur ersten Vermittlung", ("–", "0")),
        ("Vom Erstgespräch bis zu Arbeit oder Ausbildung", ("140", "1")),
    ]
    assert sheet["referrals"] == [
        ("IQ-Anerkennungsberatung", ("0", "0", "0", "1", "0", "0", "1")),
        ("Insgesamt", ("0", "0", "0", "1", "0", "0", "1")),
    ]
    assert dict(sheet["by_gender"])["weiblich"] == ("0", "1")
    assert dict(sheet["by_gender"])["Insgesamt"] == ("0", "1")
    # the first quarter: all twelve opened, R1 and the eight alike closed on 15 March;
    # the referrals of January and February (nine started, one declined), not R2's of April
    sheet = _sheet(TWELVE, 1, Q1)
    assert sheet["months"] == [
        ("2026-01", ("10", "0")),
        ("2026-02", ("2", "0")),
        ("2026-03", ("0", "9")),
        ("Insgesamt", ("12", "9")),
    ]
    assert sheet["referrals"] == [
        ("Jobcenter", ("0", "0", "9", "0", "1", "0", "10")),
        ("Insgesamt", ("0", "0", "9", "0", "1", "0", "10")),
    ]
    # days to the first referral with the cases opened: 0, 10 (nine times), 95 (R2's, of
    # April, as the records stand now)
    assert sheet["durations"][0] == ("Vom Erstgespräch bis zur ersten Vermittlung", ("10", "11"))
    # small cells are hidden in a period as everywhere
    hidden = _sheet(TWELVE, 5, Q2)
    assert hidden["months"][-1] == ("Insgesamt", ("0", "<5"))
    assert dict(hidden["reasons"])["Umgezogen"] == ("<5",)


def test_both_days_of_a_period_are_in_it() -> None:
    closed_on_15_march = 9  # R1 and the eight alike
    one_day = Period(date(2026, 3, 15), date(2026, 3, 15))
    counts = outcome_counts((case_facts(d, e) for d, e in TWELVE), one_day)
    assert counts[("Bielefeld", "2026-03", "cases_closed", "")] == closed_on_15_march
    before = Period(date(2026, 1, 10), date(2026, 3, 14))
    counts = outcome_counts((case_facts(d, e) for d, e in TWELVE), before)
    assert counts[("Bielefeld", "2026-03", "cases_closed", "")] == 0
    assert counts[("Bielefeld", "2026-01", "cases_opened", "")] == 10  # from R1's 10 January
    after = Period(date(2026, 1, 11), None)
    counts = outcome_counts((case_facts(d, e) for d, e in TWELVE), after)
    assert counts[("Bielefeld", "2026-01", "cases_opened", "")] == 9  # not R1
    assert counts[("Bielefeld", "2026-03", "cases_closed", "")] == 9
    # a case without a date counts only without a period
    undated = case_facts({"site": "Bielefeld", "answers": {}}, [])
    assert outcome_counts([undated])[("Bielefeld", "", "cases_opened", "")] == 1
    assert not outcome_counts([undated], Q1)
    # whole months (the rows of erased records keep only the month)
    assert Q1.holds_month("2026-01") and Q1.holds_month("2026-03")
    assert not Q1.holds_month("2026-04") and not Q1.holds_month("")
    assert not Period(date(2026, 1, 2), date(2026, 3, 31)).holds_month("2026-01")
    assert Period(None, date(2024, 2, 29)).holds_month("2024-02")
    assert not Period(None, date(2024, 2, 28)).holds_month("2024-02")
    with pytest.raises(ValueError):
        Period(date(2026, 4, 1), date(2026, 3, 31))


# -- residence groups ----------------------------------------------------------------------


def test_every_residence_document_of_the_shipped_forms_has_a_group() -> None:
    """An option the figures do not know would be counted as "none or unclear"."""
    checked = set()
    for form in load_shipped_forms():
        question = form.get("residence_document")
        if question is None:
            continue
        for value in question.choice_values:
            assert value in RESIDENCE_GROUPS, (form.key, value)
            checked.add(value)
    assert "ankunftsnachweis" in checked and len(checked) >= 14
    assert set(RESIDENCE_GROUPS.values()) <= set(GROUP_VALUES["residence_group"])


def test_the_arrival_certificate_is_in_the_asylum_procedure() -> None:
    assert residence_group("ankunftsnachweis") == "asylum_procedure"
    assert residence_group("aufenthaltsgestattung") == "asylum_procedure"
    assert residence_group("keines_unklar") == "none_or_unclear"
    assert residence_group("") == residence_group(None) == "none_or_unclear"
    assert residence_group("unknown_document") == "none_or_unclear"
    facts = case_facts(_doc("2026-03-02", residence_document="ankunftsnachweis"), [])
    sheet = build_summary([facts], min_count=1)
    groups = dict((r.label, r.cells) for r in sheet.block("by_residence_group").rows)
    assert groups["Im Asylverfahren (Gestattung, Ankunftsnachweis)"] == ("1", "0")
    assert groups["Kein Dokument oder ungeklärt"] == ("0", "0")


def test_a_median_of_too_few_cases_reads_as_no_median() -> None:
    """A hidden count's median read "<5", like "under 5 days": it reads "–", which the
    legend explains as "no median" (and "0" as "no case")."""
    sheet = _sheet(TWELVE, 5, Q2)
    assert sheet["durations"] == [
        ("Vom Erstgespräch bis zur ersten Vermittlung", ("–", "0")),
        ("Vom Erstgespräch bis zu Arbeit oder Ausbildung", ("–", "<5")),
    ]
    text = legend(lambda s: s, 5)
    assert "„0“: kein Fall" in text and "„–“ als Median: kein Median" in text
    assert "„–“: kein Fall" not in text


def test_current_answers_apply_updates_and_leave_the_record_alone() -> None:
    """The updates of a case apply in order to a copy: the stored answers stay as they
    are, whatever the figures do with theirs."""
    from intake_app.figures.outcomes import current_answers

    answers = {
        "residence_document": "duldung_60a",
        "referrals": [{"service": "jobcenter", "outcome": "open"}, {"service": "iq"}],
    }
    events = [
        {
            "kind": "update",
            "data": {
                "target": "referral",
                "index": 0,
                "changes": {"outcome": ["open", "accepted"]},
            },
        },
        {"kind": "contact", "data": {}},
        {
            "kind": "update",
            "data": {
                "target": "referral",
                "index": 0,
                "changes": {"outcome": ["accepted", "started"]},
            },
        },
        {
            "kind": "update",
            "data": {
                "target": "residence",
                "index": None,
                "changes": {"residence_document": ["duldung_60a", "aufenthaltserlaubnis"]},
            },
        },
    ]
    result = current_answers(answers, events)
    assert result["referrals"][0]["outcome"] == "started"
    assert result["residence_document"] == "aufenthaltserlaubnis"
    assert result["referrals"][1] is answers["referrals"][1]  # unchanged items are shared
    assert answers == {
        "residence_document": "duldung_60a",
        "referrals": [{"service": "jobcenter", "outcome": "open"}, {"service": "iq"}],
    }
