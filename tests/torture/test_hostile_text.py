"""Item 6: hostile text in every free-text field survives the database, the PDF, the batch
and the central export unchanged.

For each sample (Arabic, Persian with ZWNJ, Pashto, Cyrillic, Tigrinya in Ge'ez script,
emoji, control characters, bidi overrides, combining marks, SQL and markup fragments,
spreadsheet formulas, leading/trailing whitespace, line breaks, BOM and noncharacters, and
1 MB of mixed text — 200 KB in the bounded run) one complete intake is created: the
required answers are filled validly, and every visible free-text answer (a text question
without a check of its own, top level and inside repeat groups: names, notes, job titles)
holds the sample. The big sample is longer than a whole intake may be: every repeat group
with free text gets as many entries as the form allows, and the free-text answers hold
consecutive parts of the big text, each as long as the answer may be (the largest intake
the form accepts, about 80 KB of text). Every record is complete by the form's own rules,
so it is finalised like any other (finalising refuses what the form refuses), sent to a
real office (``intake-central serve``), imported and exported. Then, per sample:

* database: a fresh sign-in reads exactly the saved answers; searching for the text does
  not fail and finds the record; ``integrity_check`` is ok;
* PDF: the printed summary shows the text: every printable character (letters, marks,
  digits, punctuation, symbols, emoji) is in the PDF's text; short samples appear
  contiguously (compared after NFKC, without whitespace and without non-printing
  characters, which a printout cannot show);
* batch: the central database holds exactly the sample in every field;
* export: the CSV cell is exactly the sample (with the documented ``'`` in front of
  ``= + - @ TAB CR`` at its start and in front of ``= + - @`` after a character a
  spreadsheet may split on), repeat groups as their exact JSON.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import random
import re
import shutil
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from intake_app.central import db as central_db
from intake_app.core.forms import Form, Question, evaluate
from intake_app.core.forms.organisation import CENTRAL_OFFICE
from intake_app.core.forms.transfer import covered_answers, purpose_in_force
from intake_app.core.records import fts_query
from intake_app.demo.data import generate
from intake_app.storage.profile import Profile
from intake_app.storage.records import RecordQuery
from tests.conftest import COUNSELLOR, ProfileFixture
from tests.e2e.conftest import FAST, Office, _start
from tests.torture.conftest import SCALE, Figures, Stopwatch, enrol_profile

pytestmark = [pytest.mark.torture, pytest.mark.e2e]


def _big(size: int) -> str:
    """``size`` bytes (UTF-8) of mixed scripts, markup, quotes, control characters, emoji."""
    rng = random.Random(6)
    pieces = [
        "Keupstraße ",
        "الحسن ",
        "Шевченко ",
        "می‌خواهم ",
        "<b>&amp;</b> ",
        "'; --",
        '"',
        "\t",
        "\n",
        "\r\n",
        "😀",
        "🇸🇾",
        "Mu\u0308ller ",
        "ተስፋይ ",
        "=1+1 ",
        "\x00",
        "\x1b[0m",
    ]
    out: list[str] = []
    length = 0
    while length < size:
        piece = rng.choice(pieces)
        out.append(piece)
        length += len(piece.encode("utf-8"))
    return "".join(out)


SAMPLES: dict[str, str] = {
    "arabic": "عبد الرحمن بن خالد الزهراني",
    "persian_zwnj": "می‌خواهم کار کنم",
    "pashto": "ښځه ګل",
    "cyrillic": "Олександра Шевченко-Ковальчук ЁёЇїЄєҐґ",
    "tigrinya_geez": "ተስፋይ ገብረሂወት",
    "emoji": "👩🏽‍🔬 Ärztin 🇸🇾➡️🇩🇪 ❤️‍🔥 😀",
    "control": "A\x00B\x01C\x07\x08\x0b\x0c\x1b[31mrot\x1b[0m\x7f\u0085 Ende",
    "bidi_override": "\u202eabc\u202c \u200f\u200e\u2066x\u2069 Name",
    "combining": "Mu\u0308ller Z\u0337\u0322a\u0338l\u0335g\u0334o",
    "sql": "'; DROP TABLE records; -- \" OR 1=1 /* */ UNION SELECT * FROM users",
    "markup": (
        "<script>alert('x')</script> <b>fett</b> &amp; &lt; <para> <font name='x'> ]]> "
        "{{7*7}} ${jndi:ldap://x} %s %n"
    ),
    "formula": '=HYPERLINK("http://evil.example","klick")',
    "formula_plus": "+49 221 1234567",
    "whitespace": "  Anfang und Ende  \t\r\n",
    "newlines": "Zeile 1\r\nZeile 2\nZeile 3\r",
    "specials": "\ufeffBOM \uffff \ufffd \u00a0 \u2028 x\u0301",
    "big": _big(SCALE.hostile_big_bytes),
}
ISSUE_FLAGS = (
    "childcare_issue",
    "care_relatives",
    "housing_issue",
    "debts",
    "transport_issue",
    "legal_risk",
    "documents_missing",
)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _set(answers: dict[str, Any], path: str, value: Any) -> None:
    """Set the answer at ``a[0].b`` style ``path``."""
    holder: Any = answers
    parts = path.split(".")
    for part in parts[:-1]:
        name, _sep, index = part.partition("[")
        holder = holder[name][int(index.rstrip("]"))]
    holder[parts[-1]] = value


def _get(answers: dict[str, Any], path: str) -> Any:
    holder: Any = answers
    parts = path.split(".")
    for part in parts[:-1]:
        name, _sep, index = part.partition("[")
        holder = holder[name][int(index.rstrip("]"))]
    return holder[parts[-1]]


def free_text_paths(form: Form, answers: dict[str, Any]) -> list[tuple[str, Question]]:
    """(path, question) of every visible, answerable free-text question: text without a
    check of its own (a postcode, a phone number or a case number has one)."""
    state = evaluate(form, answers)
    return [
        (path, question)
        for path, question, _context in state.visible_paths()
        if question.type.value in ("text", "long_text")
        and question.answerable
        and not question.constraints
    ]


def _printed(question: Question) -> bool:
    return question.print and not question.special_category


@dataclass
class World:
    """Everything the per-sample tests look at, built once for the module."""

    profile: ProfileFixture
    form: Form
    records: dict[str, str]  # sample -> record id
    answers: dict[str, dict[str, Any]]  # sample -> answers as saved
    paths: dict[str, list[tuple[str, bool, str]]]  # sample -> (field, printed, its text)
    central: dict[str, dict[str, Any]]  # record id -> central document
    csv_rows: dict[str, dict[str, str]]  # record id -> export row
    seconds: dict[str, float]
    travels: dict[str, set[str]]  # sample -> answers the central-office consent covers


def _valid_answers(form: Form, organisation: Any, case_number: str) -> dict[str, Any]:
    """Complete synthetic answers with work experience and referrals (so that repeat
    groups hold text too) and every issue note asked."""
    for seed in range(40):
        answers, complete = generate(
            form,
            organisation=organisation,
            rng=random.Random(seed),
            today=date.today(),
            complete=True,
            case_number=case_number,
            counsellor=COUNSELLOR,
        )
        if complete and answers.get("work_experience") and answers.get("referrals"):
            break
    else:
        pytest.fail("no complete synthetic intake with work experience and referrals")
    for flag in ISSUE_FLAGS:
        answers[flag] = True
    answers["consent"]["purposes"]["central_office"]["granted"] = True
    answers["consent"]["purposes"]["central_office"]["withdrawn_on"] = None
    return answers


def _fill_groups(form: Form, organisation: Any, answers: dict[str, Any]) -> None:
    """Repeat every entry of a group with free text up to the most entries the form
    allows (as long as the intake stays complete)."""
    for group in list(answers):
        items = answers[group]
        if group not in form or not isinstance(items, list) or not items:
            continue
        question = form.question(group)
        if not any(child.type.value in ("text", "long_text") for child in question.children):
            continue
        before = items
        answers[group] = [copy.deepcopy(items[0]) for _ in range(int(question.max or 1))]
        if not evaluate(form, answers, organisation=organisation).complete:
            answers[group] = before


def _answers_for(
    form: Form, organisation: Any, case_number: str, sample: str, name: str
) -> tuple[dict[str, Any], list[tuple[str, bool, str]]]:
    answers = _valid_answers(form, organisation, case_number)
    rest = sample
    if name == "big":
        _fill_groups(form, organisation, answers)
    placed: list[tuple[str, bool, str]] = []
    for path, question in free_text_paths(form, answers):
        limit = question.max_length or len(sample)
        if name == "big":
            # the next part of the big text, as much as the answer may hold
            text, rest = rest[:limit], rest[limit:]
            if not text.strip():
                continue
        elif len(sample) <= limit:
            text = sample
        else:
            continue  # longer than the answer may be: the form would refuse it
        _set(answers, path, text)
        placed.append((path, _printed(question), text))
    # a field the sample hides is neither exported nor printed (a Latin-script name hides
    # its transliteration): check only the fields that stay visible
    visible = {path for path, _question in free_text_paths(form, answers)}
    state = evaluate(form, answers, organisation=organisation)
    assert state.complete, (
        f"{name}: the intake is not complete: {state.errors} "
        f"{[m.path for m in state.missing_required]}"
    )
    return answers, [entry for entry in placed if entry[0] in visible]


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, _profile_template: ProfileFixture
) -> Iterator[World]:
    root = tmp_path_factory.mktemp("hostile-text")
    shutil.copytree(_profile_template.profile.root, root / "profile")
    profile = ProfileFixture(Profile(root / "profile"), _profile_template.recovery_key)
    seconds: dict[str, float] = {}
    starter = _start(root / "office", database_url=f"sqlite:///{root / 'office' / 'central.db'}")
    office: Office = next(starter)
    try:
        enrol_profile(profile, office, root / "enrol", "laptop-hostile-text")
        ws = profile.sign_in(COUNSELLOR)
        records: dict[str, str] = {}
        saved: dict[str, dict[str, Any]] = {}
        paths: dict[str, list[tuple[str, bool, str]]] = {}
        travels: dict[str, set[str]] = {}
        try:
            form = ws.current_form()
            with Stopwatch() as watch:
                for name, sample in SAMPLES.items():
                    row = ws.records.create(form_id=form.id, form_version=form.version)
                    answers, where = _answers_for(
                        form, ws.organisation, row.case_number, sample, name
                    )
                    assert where, f"no text field visible for {name}"
                    ws.records.save(row.id, answers=answers)
                    ws.records.finalise(row.id, answers=answers)
                    records[name], saved[name], paths[name] = row.id, answers, where
                    purpose = purpose_in_force(
                        answers["consent"], ws.organisation, CENTRAL_OFFICE, on=date.today()
                    )
                    assert purpose is not None  # the synthetic person granted it
                    travels[name] = set(
                        covered_answers(form, answers, purpose, answers["consent"], on=date.today())
                    )
            seconds["database"] = watch.seconds
            with Stopwatch() as watch:
                result = ws.sync.send(settings=FAST)
            seconds["send"] = watch.seconds
            assert result.records_delivered == len(SAMPLES)
        finally:
            ws.close()
        with Stopwatch() as watch:
            office.cli("import")
        seconds["import"] = watch.seconds
        out = root / "export.csv"
        with Stopwatch() as watch:
            office.cli("export", "--out", str(out))
        seconds["export"] = watch.seconds
        csv.field_size_limit(sys.maxsize)  # the reader's own limit (128 KiB), not the file's
        with out.open(encoding="utf-8-sig", newline="") as handle:
            csv_rows = {row["record_id"]: row for row in csv.DictReader(handle)}
        central = {
            r[0]: json.loads(r[1])
            for r in office.rows(
                sa.select(central_db.records.c.record_id, central_db.records.c.document)
            )
        }
        yield World(profile, form, records, saved, paths, central, csv_rows, seconds, travels)
    finally:
        next(starter, None)


# -- database ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SAMPLES))
def test_database_keeps_hostile_text(world: World, name: str) -> None:
    ws = world.profile.sign_in(COUNSELLOR)
    try:
        record = ws.records.get(world.records[name])
        assert record.answers == world.answers[name]
        for path, _printed, text in world.paths[name]:
            assert _get(record.answers, path) == text, path
        search = _get(record.answers, "family_name")[:100]
        found = ws.records.list(RecordQuery(search=search), limit=100)
        if fts_query(search) is not None:
            assert world.records[name] in {s.id for s in found}, "search does not find it"
        assert ws.db.integrity_check() == ["ok"]
    finally:
        ws.close()


# -- PDF ---------------------------------------------------------------------------------

NON_PRINTING = {"Cc", "Cf", "Cn", "Cs", "Co", "Zs", "Zl", "Zp"}


#: A bracket inside right-to-left text is shown as its mirror image (Unicode bidi rule L4):
#: an "[" between Arabic letters is drawn, and read back, as "]".
MIRRORED = str.maketrans("])}>»›", "[({<«‹")


def printable(text: str) -> str:
    """What a printout can show: NFKC, without whitespace and non-printing characters,
    brackets counted alike whichever way the text runs."""
    text = unicodedata.normalize("NFKC", text).translate(MIRRORED)
    return "".join(c for c in text if unicodedata.category(c) not in NON_PRINTING)


@pytest.mark.parametrize("name", list(SAMPLES))
def test_pdf_shows_hostile_text(world: World, name: str, figures: Figures) -> None:
    from intake_app.reports.service import ReportService

    assert any(printed for _path, printed, _text in world.paths[name]), "no printed field"
    ws = world.profile.sign_in(COUNSELLOR)
    try:
        with Stopwatch() as watch:
            rendered = ReportService(ws).summary(world.records[name])
    finally:
        ws.close()
    pages = PdfReader(io.BytesIO(rendered.data)).pages
    raw = "".join(page.extract_text() or "" for page in pages)
    shown = printable(raw)
    if name == "big":  # every printed part of the big text, each shown once
        wanted = printable("".join(t for _path, printed, t in world.paths[name] if printed))
    else:
        wanted = printable(SAMPLES[name])
    missing = Counter(wanted) - Counter(shown)
    assert not missing, (
        f"characters of the answer are not in the PDF: {sorted(missing)[:20]} "
        f"(glyphs the fonts lack come out as {raw.count(chr(0))} NUL characters)"
    )
    if len(SAMPLES[name]) < 2000 and name != "bidi_override":
        assert wanted in shown, "the answer is not shown as written"
    if name == "big":
        figures.add(
            "6",
            "hostile text",
            f"PDF of the {sum(len(t.encode()) for _p, _r, t in world.paths['big']):,}-byte record",
            len(pages),
            "pages",
        )
        figures.add("6", "hostile text", "PDF rendering of the big record", watch.seconds, "s")


# -- batch and central office ------------------------------------------------------------


def _top(path: str) -> str:
    return path.split(".", 1)[0].split("[", 1)[0]


@pytest.mark.parametrize("name", list(SAMPLES))
def test_batch_carries_hostile_text_to_the_central_database(world: World, name: str) -> None:
    """Text the central-office consent covers arrives unchanged; text it does not cover
    (case administration, internal notes) never leaves the device (docs/security.md,
    "What reaches the central office")."""
    document = world.central[world.records[name]]
    for path, _printed, text in world.paths[name]:
        if _top(path) in world.travels[name]:
            assert _get(document["answers"], path) == text, path
        else:
            assert _top(path) not in document["answers"], path


def test_hostile_text_reaches_the_central_database_at_all(world: World) -> None:
    travelled = [
        path
        for name, paths in world.paths.items()
        for path, _printed, _text in paths
        if _top(path) in world.travels[name]
    ]
    assert len(travelled) >= len(SAMPLES)


def _guarded(text: str) -> str:
    """The CSV cell that docs/central-office.md promises for ``text``: a ``'`` before
    ``= + - @`` after any ``,`` ``;`` tab, line break or ``|`` (spaces between allowed) and
    at the start of the cell; nothing else changed."""
    text = re.sub(r"([,;\t\r\n|])( *)(?=[=+\-@])", r"\1\2'", text)
    if text.startswith(FORMULA_START) or text.lstrip(" ").startswith(("=", "+", "-", "@")):
        return "'" + text
    return text


@pytest.mark.parametrize("name", list(SAMPLES))
def test_central_export_keeps_hostile_text(world: World, name: str, figures: Figures) -> None:
    row = world.csv_rows[world.records[name]]
    assert row["personal_data"] == "yes"
    for path, _printed, sample in world.paths[name]:
        if _top(path) not in world.travels[name]:
            assert not any(key.startswith(f"answers.{_top(path)}") for key in row), path
            continue
        if "[" in path:  # inside a repeat group: the whole group is one JSON cell
            group = path.split("[", 1)[0]
            cell = row[f"answers.{group}"]
            assert not cell.startswith("'")
            group_json = json.dumps(world.answers[name][group], ensure_ascii=False, sort_keys=True)
            assert cell == _guarded(group_json), path
        else:
            assert row[f"answers.{path}"] == _guarded(sample), path
    if name == "big":
        for stage, seconds in sorted(world.seconds.items()):
            figures.add(
                "6", "hostile text", f"{stage} of {len(SAMPLES)} hostile records", seconds, "s"
            )
        figures.add("6", "hostile text", "samples", len(SAMPLES))
        figures.add(
            "6",
            "hostile text",
            "text fields per record (visible, top level and in repeat groups)",
            max(len(p) for n, p in world.paths.items() if n != "big"),
        )


def test_samples_are_hostile_enough() -> None:
    """The samples hold what the issue names (so that passing means something)."""
    text = "".join(SAMPLES.values())
    assert re.search("[\u0600-\u06ff]", text) and re.search("[\u0400-\u04ff]", text)
    assert re.search("[\U0001f300-\U0001faff]", text) and "\x00" in text
    assert len(SAMPLES["big"].encode("utf-8")) >= SCALE.hostile_big_bytes
    assert "DROP TABLE" in text and "<script>" in text
