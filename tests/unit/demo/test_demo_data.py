"""The demo's synthetic intakes: complete under the current interview, varied, and
coherent the way a KIM counsellor would expect (documents, periods, courses, bodies)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from intake_app.app import Workspace
from intake_app.core.forms import evaluate, load_organisation, load_shipped_forms
from intake_app.demo import ensure_demo_profile
from intake_app.demo.data import CONSENT_LANGUAGE, PERSONAS, QUALIFICATIONS, generate
from intake_app.demo.users import DEMO_USERS
from intake_app.errors import PermissionDenied, ProfileError
from intake_app.storage.profile import Profile
from intake_app.storage.record_queries import RecordQuery

ORGANISATION = load_organisation()
FORM = load_shipped_forms().latest("intake")
COUNT = 150


@pytest.fixture(scope="module")
def records() -> list[tuple[date, dict[str, Any], bool]]:
    rng = random.Random(2026)
    used: set[tuple[str, str]] = set()
    result = []
    for _index in range(COUNT):
        day = date(2026, 11, 30) - timedelta(days=rng.randint(0, 330))
        answers, complete = generate(
            FORM, organisation=ORGANISATION, rng=rng, today=day, complete=True, used_names=used
        )
        result.append((day, answers, complete))
    return result


def _months(start: str, end: str) -> float:
    return (date.fromisoformat(end) - date.fromisoformat(start)).days / 30.44


def test_every_record_is_complete_without_errors(records: list[Any]) -> None:
    for day, answers, complete in records:
        state = evaluate(FORM, answers, today=day, organisation=ORGANISATION)
        assert complete and state.complete and state.errors == {}, answers["case_number"]


def test_no_person_appears_twice(records: list[Any]) -> None:
    names = Counter(
        (
            a.get("family_name_latin") or a["family_name"],
            a.get("given_names_latin") or a["given_names"],
        )
        for _d, a, _c in records
    )
    assert names.most_common(1)[0][1] == 1


def test_the_personas_cover_the_legal_situations(records: list[Any]) -> None:
    seen = {(a["residence_document"], a.get("legal_basis")) for _d, a, _c in records}
    for wanted in (
        ("eu_freizuegigkeit", None),
        ("aufenthaltserlaubnis", "25_2_subsidiary"),
        ("aufenthaltserlaubnis", "25_2_refugee"),
        ("aufenthaltserlaubnis", "23"),
        ("aufenthaltserlaubnis", "24"),
        ("aufenthaltserlaubnis", "30"),
        ("aufenthaltserlaubnis", "19c_westbalkan"),
        ("ausbildungsduldung", None),
        ("beschaeftigungsduldung", None),
        ("aufenthaltsgestattung", None),
        ("duldung", None),
    ):
        assert wanted in seen, wanted
    assert len(PERSONAS) >= 13


def test_languages_fit_the_person(records: list[Any]) -> None:
    for _d, answers, _c in records:
        mother = answers["languages"][0]["language"]
        consent = answers["consent"]
        assert consent["language"] == CONSENT_LANGUAGE.get(mother, "de"), mother
        if answers["interpreter_used"]:
            assert answers["interpreter_language"] == mother
            assert consent["interpreter"] and consent["interpreter_language"] == mother
        else:
            assert not consent["interpreter"]


def test_validity_periods_fit_the_document(records: list[Any]) -> None:
    for _d, a, _c in records:
        document = a["residence_document"]
        if document == "eu_freizuegigkeit":
            assert "residence_valid_until" not in a
            continue
        months = _months(a["residence_valid_from"], a["residence_valid_until"])
        if document in ("aufenthaltsgestattung", "duldung"):
            assert months <= 6.05, a
        elif document == "beschaeftigungsduldung":
            assert 29 <= months <= 30.5, a
        elif a.get("legal_basis") == "25_2_refugee":
            assert 35 <= months <= 36.5, a
        elif a.get("legal_basis") == "24":
            assert a["residence_valid_until"] == "2026-03-04"
        assert a["residence_valid_from"] <= a["intake_date"]


def test_combinations_are_coherent(records: list[Any]) -> None:
    by_title = {q.title: q for q in QUALIFICATIONS.values()}
    for _d, a, _c in records:
        if a.get("legal_basis") == "16b":
            assert a["integration_course"] == "none", a
        for item in a.get("qualifications", []):
            qualification = by_title.get(item["qualification_title"])
            if qualification is None:
                continue
            if "Lehramt" in qualification.title or qualification.kldb.startswith("81"):
                # teachers and health professions: the state authority, never a chamber
                assert item.get("recognition_body", "state_authority") == "state_authority"
            assert item["isced_level"] == qualification.isced
        if a["residence_document"] in ("aufenthaltsgestattung", "duldung"):
            assert a["benefit_system"] == "asylblg"
        if a.get("legal_basis") in ("25_2_refugee", "25_2_subsidiary", "23", "24"):
            assert a["benefit_system"] == "sgb2"
        for index, child in enumerate(a.get("children", [])[1:], start=1):
            previous = a["children"][index - 1]["child_birth_month"]
            assert _months(previous + "-01", child["child_birth_month"] + "-01") >= 14


def _age(day: date, answers: dict[str, Any]) -> int:
    born = date.fromisoformat(answers["birth_date"])
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def test_ages_fit_documents_and_degrees(records: list[Any]) -> None:
    minimum = {"6": 22, "7": 24, "8": 27}
    for day, answers, _c in records:
        age = _age(day, answers)
        if answers["residence_document"] == "blaue_karte":
            assert age >= 25, answers["case_number"]
        for item in answers.get("qualifications", []):
            assert age >= minimum.get(item["isced_level"], 0), (item, age)
            if item["qualification_title"] == QUALIFICATIONS["doctor"].title:
                assert age >= 27, age


def test_courses_and_isced_levels_fit_the_qualification(records: list[Any]) -> None:
    fitting = {"Grundschule": "1", "Mittelschule": "2", "Koch (Berufsschule)": "3"}
    for _d, answers, _c in records:
        items = answers.get("qualifications", [])
        for item in items:
            title = item["qualification_title"]
            if title in fitting:
                assert item["isced_level"] == fitting[title], item
        if answers.get("integration_course") == "literacy":
            assert all(item["isced_level"] in ("0", "1", "2") for item in items), items


def test_names_fit_the_language_and_no_near_twins(records: list[Any]) -> None:
    sorani = [a for _d, a, _c in records if a["languages"][0]["language"] == "ckb"]
    assert sorani
    for answers in sorani:  # Sorani is written in Arabic script
        assert any("\u0600" <= char <= "\u06ff" for char in answers["family_name"]), answers
    twins = Counter(
        (a.get("family_name_latin") or a["family_name"], a["birth_date"][:4])
        for _d, a, _c in records
    )
    assert twins.most_common(1)[0][1] == 1


def test_some_people_refuse_the_central_office() -> None:
    rng = random.Random(5)
    refused = 0
    for _index in range(40):
        answers, _complete = generate(
            FORM,
            organisation=ORGANISATION,
            rng=rng,
            today=date(2026, 11, 30),
            complete=True,
            central_refusals=0.3,
        )
        refused += answers["consent"]["purposes"]["central_office"]["granted"] is False
    assert 0 < refused < 40


def test_the_demo_profile_shows_each_role_what_it_may_see(tmp_path: Path) -> None:
    """The README's first steps: the demo supervisor reviews every record of the site (she
    holds a signed site-key grant), the counsellor her own, the administrator none."""
    assert ensure_demo_profile(tmp_path / "demo", records=6)
    profile = Profile(tmp_path / "demo")
    seen: dict[str, int | str] = {}
    for name, role, _display, password in DEMO_USERS:
        ws = Workspace.sign_in(profile, username=name, password=password)
        try:
            seen[role] = len(ws.records.list(RecordQuery()))
        except PermissionDenied:
            seen[role] = "denied"
        finally:
            ws.close()
    assert seen == {"supervisor": 6, "counsellor": 3, "admin": "denied"}


def test_a_start_killed_while_making_the_demo_leaves_no_half_filled_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Made beside its folder and renamed into place when complete: a start that dies while
    filling it leaves no demo profile that opens with records missing, and the next start
    removes what was begun and makes it anew."""
    import intake_app.demo.data as demo_data

    def dies(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt  # as a kill would stop it half-way

    monkeypatch.setattr(demo_data, "fill_demo_profile", dies)
    (tmp_path / "demo" / "logs").mkdir(parents=True)  # the program logs there already
    with pytest.raises(KeyboardInterrupt):
        ensure_demo_profile(tmp_path / "demo", records=6)
    assert not Profile(tmp_path / "demo").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("demo.partial-")]
    monkeypatch.undo()
    assert ensure_demo_profile(tmp_path / "demo", records=6)
    assert [p.name for p in tmp_path.iterdir()] == ["demo"]
    assert (tmp_path / "demo" / "logs").is_dir()
    ws = Workspace.sign_in(
        Profile(tmp_path / "demo"), username="leitung", password="demo-leitung-2026"
    )
    try:
        assert len(ws.records.list(RecordQuery())) == 6
    finally:
        ws.close()


def test_the_demo_is_never_made_in_a_folder_with_other_files(tmp_path: Path) -> None:
    (tmp_path / "Dokumente").mkdir()
    (tmp_path / "Dokumente" / "brief.odt").write_text("nicht löschen", "utf-8")
    with pytest.raises(ProfileError) as refused:
        ensure_demo_profile(tmp_path / "Dokumente", records=0)
    assert "brief.odt" in str(refused.value)
    assert (tmp_path / "Dokumente" / "brief.odt").read_text("utf-8") == "nicht löschen"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Dokumente"]
