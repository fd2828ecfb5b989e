"""Realistic synthetic intakes for the demo profile, tests and benchmarks.

Every person is invented. Names come in the scripts people write them in (Arabic, Dari,
Cyrillic, Tigrinya's Latin transliteration, Turkish, Kurdish) with a Latin
transliteration; residence situations follow typical cases (recognised refugee,
§ 24 from Ukraine, Duldung, student under § 16b, Blue Card, asylum procedure). A
generated record answers every section; the form engine checks it, and whatever a
persona leaves open is filled with plausible values until the form is complete.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from intake_app.app import Workspace
from intake_app.core.forms import Form, evaluate, new_item
from intake_app.core.forms.engine import FormState
from intake_app.core.forms.model import Question, QuestionType
from intake_app.core.forms.reference import reference_list

DEMO_USERS: tuple[tuple[str, str, str, str], ...] = (
    # user name, role, display name, password
    ("admin", "admin", "Demo-Administration", "demo-admin-2026"),
    ("leitung", "supervisor", "Sabine Leitner", "demo-leitung-2026"),
    ("beratung", "counsellor", "Jonas Berger", "demo-beratung-2026"),
)


@dataclass(frozen=True, slots=True)
class Name:
    family: str
    given: str
    family_latin: str = ""
    given_latin: str = ""
    gender: str = "female"


NAMES: dict[str, list[Name]] = {
    "SY": [
        Name("الحسن", "ليلى", "Al-Hassan", "Layla"),
        Name("خليل", "عمر", "Khalil", "Omar", "male"),
        Name("حداد", "رنا", "Haddad", "Rana"),
        Name("العلي", "محمد", "Al-Ali", "Mohammad", "male"),
        Name("ناصر", "سلمى", "Nasser", "Salma"),
    ],
    "AF": [
        Name("احمدی", "فرشته", "Ahmadi", "Fereshta"),
        Name("حیدری", "مصطفی", "Haidari", "Mustafa", "male"),
        Name("رحیمی", "زهرا", "Rahimi", "Zahra"),
        Name("نوری", "علی", "Nuri", "Ali", "male"),
    ],
    "UA": [
        Name("Шевченко", "Олена", "Shevchenko", "Olena"),
        Name("Коваленко", "Андрій", "Kovalenko", "Andrii", "male"),
        Name("Бондаренко", "Ірина", "Bondarenko", "Iryna"),
        Name("Мельник", "Алёна", "Melnyk", "Alona"),
        Name("Ткаченко", "Дмитро", "Tkachenko", "Dmytro", "male"),
    ],
    "ER": [
        Name("Tesfay", "Selam"),
        Name("Gebremedhin", "Yonas", gender="male"),
        Name("Haile", "Mebrat"),
    ],
    "TR": [
        Name("Yılmaz", "Zeynep"),
        Name("Öztürk", "Emre", gender="male"),
        Name("Kaya", "Elif"),
        Name("Çelik", "Murat", gender="male"),
    ],
    "IQ": [
        Name("Xelîl", "Rojîn", "Khalil", "Rojin"),
        Name("Ehmed", "Dilşad", "Ahmed", "Dilshad", "male"),
    ],
    "IN": [
        Name("Sharma", "Priya"),
        Name("Reddy", "Arjun", gender="male"),
    ],
    "NG": [
        Name("Okafor", "Chiamaka"),
        Name("Adeyemi", "Tunde", gender="male"),
    ],
}

MOTHER_TONGUE = {
    "SY": "ara",
    "AF": "prs",
    "UA": "ukr",
    "ER": "tir",
    "TR": "tur",
    "IQ": "kmr",
    "IN": "hin",
    "NG": "yor",
}
MUNICIPALITIES = [
    ("Köln", "05315000"),
    ("Düsseldorf", "05111000"),
    ("Dortmund", "05913000"),
    ("Essen", "05113000"),
    ("Bielefeld", "05711000"),
    ("Münster", "05515000"),
    ("Bochum", "05911000"),
    ("Aachen", "05334002"),
]
OCCUPATIONS = [
    "81302",
    "81313",
    "25212",
    "26112",
    "29302",
    "52122",
    "43104",
    "51312",
    "63302",
    "82102",
    "71402",
    "34202",
    "83112",
    "22102",
    "93302",
]


@dataclass(frozen=True, slots=True)
class Persona:
    """A typical residence situation and what usually goes with it."""

    key: str
    countries: tuple[str, ...]
    document: str
    legal_basis: str | None
    work_permission: str
    goal: str


PERSONAS = (
    Persona(
        "refugee",
        ("SY", "AF", "ER", "IQ"),
        "aufenthaltserlaubnis",
        "25_2_refugee",
        "erwerbstaetigkeit_gestattet",
        "employment",
    ),
    Persona(
        "ukraine_24",
        ("UA",),
        "aufenthaltserlaubnis",
        "24",
        "erwerbstaetigkeit_gestattet",
        "employment",
    ),
    Persona(
        "duldung",
        ("AF", "IQ", "NG"),
        "duldung",
        None,
        "beschaeftigung_mit_erlaubnis",
        "vocational_training",
    ),
    Persona(
        "student",
        ("IN", "NG", "TR"),
        "aufenthaltserlaubnis",
        "16b",
        "beschaeftigung_mit_erlaubnis",
        "study",
    ),
    Persona(
        "asylum",
        ("SY", "AF", "ER", "TR"),
        "aufenthaltsgestattung",
        None,
        "beschaeftigung_mit_erlaubnis",
        "entry_qualification",
    ),
    Persona(
        "blue_card",
        ("IN", "TR", "UA"),
        "blaue_karte",
        "18g",
        "erwerbstaetigkeit_gestattet",
        "employment",
    ),
)


def _pick(rng: random.Random, seq: list[Any] | tuple[Any, ...]) -> Any:
    return seq[rng.randrange(len(seq))]


def _date_between(rng: random.Random, start: date, end: date) -> str:
    span = max((end - start).days, 0)
    return (start + timedelta(days=rng.randint(0, span))).isoformat()


def persona_answers(rng: random.Random, *, today: date) -> tuple[dict[str, Any], Persona]:
    """The characteristic answers of one invented person."""
    persona = _pick(rng, PERSONAS)
    country = _pick(rng, persona.countries)
    name = _pick(rng, NAMES[country])
    age = rng.randint(19, 58)
    birth = today.replace(year=today.year - age) - timedelta(days=rng.randint(0, 360))
    town, ags = _pick(rng, MUNICIPALITIES)
    iso3 = reference_list("country").get(country)
    answers: dict[str, Any] = {
        "family_name": name.family,
        "given_names": name.given,
        "birth_date": birth.isoformat(),
        "gender": name.gender,
        "nationalities": [country] if iso3 is not None else [],
        "birth_country": country if iso3 is not None else None,
        "municipality": town,
        "municipality_ags": ags,
        "household_size": rng.randint(1, 6),
        "residence_document": persona.document,
        "work_permission": persona.work_permission,
        "goal_type": persona.goal,
        "target_occupation": _pick(rng, OCCUPATIONS),
        "languages": [
            {"language": MOTHER_TONGUE[country], "mother_tongue": True, "level": "C2"},
            {"language": "eng", "mother_tongue": False, "level": _pick(rng, ["A2", "B1", "B2"])},
        ],
        "german_listening": _pick(rng, ["A1", "A2", "B1", "B2"]),
        "german_reading": _pick(rng, ["A1", "A2", "B1"]),
        "german_speaking": _pick(rng, ["A1", "A2", "B1"]),
        "german_writing": _pick(rng, ["none", "A1", "A2", "B1"]),
        "latin_literate": country not in ("SY", "AF") or rng.random() < 0.6,
        "has_work_experience": True,
        "work_experience": [
            {
                "job_kldb": _pick(rng, OCCUPATIONS),
                "job_country": country,
                "job_from": _date_between(
                    rng, birth + timedelta(days=18 * 365), today - timedelta(days=900)
                ),
                "job_current": False,
                "job_to": _date_between(
                    rng, today - timedelta(days=800), today - timedelta(days=100)
                ),
            }
        ],
        "access_route": _pick(rng, ["self", "jobcenter", "family_friends", "auslaenderbehoerde"]),
        "counselling_form": "in_person",
        "interpreter_used": country not in ("TR", "IN", "NG") and rng.random() < 0.7,
    }
    # education, recognition, contacts, goals and the plan: every section answered
    regulated = persona.key in ("refugee", "ukraine_24", "blue_card") and rng.random() < 0.6
    status = _pick(rng, ["advised", "applied", "decided"]) if regulated else "not_started"
    qualification: dict[str, Any] = {
        "isced_level": _pick(rng, ["3", "4", "6", "7"]),
        "qualification_title": _pick(
            rng,
            [
                "Krankenpflege",
                "Elektrotechnik",
                "Lehramt",
                "Betriebswirtschaft",
                "Tischlerei",
                "Informatik",
            ],
        ),
        "qualification_country": country,
        "certificate_held": _pick(rng, ["original", "copy", "none"]),
        "field_kldb": _pick(rng, OCCUPATIONS),
        "regulated": "yes" if regulated else _pick(rng, ["no", "unclear"]),
        "recognition_status": status,
    }
    if status in ("applied", "decided"):
        qualification["recognition_body"] = _pick(rng, ["ihk_fosa", "hwk", "state_authority"])
        qualification["recognition_applied_on"] = _date_between(
            rng, today - timedelta(days=300), today - timedelta(days=20)
        )
    if status == "decided":
        qualification["recognition_outcome"] = _pick(rng, ["full", "partial"])
        if qualification["recognition_outcome"] == "partial":
            qualification["compensation_measure"] = "adaptation_course"
    answers["qualifications"] = [qualification]
    answers["referrals"] = [
        {
            "service": _pick(rng, ["jobcenter", "iq_recognition", "language_course", "mbe"]),
            "date": _date_between(rng, today - timedelta(days=30), today),
            "purpose": _pick(rng, ["Sprachkurs", "Anerkennungsberatung", "Bewerbungstraining"]),
            "data_passed": ["contact", "language"],
            "consent_purpose": "central_office",
            "outcome": _pick(rng, ["open", "appointment_made", "started", "completed"]),
        }
        for _n in range(rng.randint(0, 2))
    ]
    answers["existing_contacts"] = [_pick(rng, ["jobcenter", "auslaenderbehoerde", "mbe"])]
    answers["mobility"] = _pick(rng, ["local", "commute_60", "nrw"])
    answers["driving_licence"] = _pick(rng, ["none", "foreign", "eu"])
    answers["plan_steps"] = [
        {"step": "Unterlagen für die Anerkennung sammeln", "responsible": "person"}
    ]
    answers["next_appointment"] = (today + timedelta(days=rng.randint(7, 30))).isoformat()
    if name.family_latin:
        answers["family_name_latin"] = name.family_latin
        answers["given_names_latin"] = name.given_latin
    if persona.legal_basis:
        answers["legal_basis"] = persona.legal_basis
    if persona.document not in ("keines_unklar",):
        answers["residence_valid_from"] = _date_between(
            rng, today - timedelta(days=900), today - timedelta(days=30)
        )
        real_today = date.today()  # permits are renewed: most are valid today
        horizon = 50 if rng.random() < 0.12 else 900
        answers["residence_valid_until"] = _date_between(
            rng, real_today + timedelta(days=5), real_today + timedelta(days=horizon)
        )
    return {k: v for k, v in answers.items() if v is not None}, persona


# -- filling what a persona leaves open --------------------------------------------------


def _plausible(
    question: Question, state: FormState, context: tuple[int, ...], rng: random.Random, today: date
) -> Any:
    kind = question.type
    if kind in (QuestionType.CHOICE, QuestionType.MULTI_CHOICE):
        choices = state.choices_for(question.id, context) or list(question.choices)
        if not choices:
            return None
        value = _pick(rng, choices).value
        return [value] if kind is QuestionType.MULTI_CHOICE else value
    if kind is QuestionType.YES_NO:
        return rng.random() < 0.25
    if kind is QuestionType.DATE:
        return _date_between(rng, today - timedelta(days=700), today - timedelta(days=1))
    if kind is QuestionType.INTEGER:
        low = int(question.min) if isinstance(question.min, int) else 0
        return max(low, rng.randint(1, 5))
    if kind is QuestionType.DECIMAL:
        return str(rng.randint(1, 9))
    if kind is QuestionType.CEFR:
        return _pick(rng, ["A1", "A2", "B1"])
    if kind is QuestionType.REFERENCE:
        if question.reference == "country":
            code = "SY"
        elif question.reference == "language":
            code = "ara"
        else:
            code = _pick(rng, OCCUPATIONS)
        return [code] if question.multiple else code
    if kind in (QuestionType.TEXT, QuestionType.LONG_TEXT):
        return _pick(
            rng, ["siehe Gesprächsnotiz", "liegt vor", "wird nachgereicht", "mit Person besprochen"]
        )
    return None


def consent_answer(
    organisation: Any, *, today: date, language: str, rng: random.Random
) -> dict[str, Any]:
    """A complete consent block: every purpose decided, Art. 9 decided."""
    purposes = {
        pid: {"granted": pid == "central_office" or rng.random() < 0.8, "withdrawn_on": None}
        for pid in organisation.purpose_ids
    }
    return {
        "date": today.isoformat(),
        "language": language if language in organisation.languages else "de",
        "interpreter": language not in ("de", "en"),
        "organisation": organisation.id,
        "text_version": organisation.text_version,
        "purposes": purposes,
        "art9": {"granted": rng.random() < 0.3, "withdrawn_on": None},
    }


def _set(answers: dict[str, Any], question: Question, context: tuple[int, ...], value: Any) -> None:
    holder = answers
    for group, index in zip(question.repeat_chain, context, strict=True):
        holder = holder[group][index]
    holder[question.id] = value


def complete_answers(
    form: Form,
    answers: dict[str, Any],
    *,
    organisation: Any,
    rng: random.Random,
    today: date,
    max_rounds: int = 60,
) -> FormState:
    """Fill missing required answers (and replace wrong ones) until the form is complete."""
    state = evaluate(form, answers, today=today, organisation=organisation)
    for _round in range(max_rounds):
        if state.complete:
            break
        changed = False
        for path in list(state.errors):
            for vpath, question, context in state.visible_paths():
                if vpath == path and question.type is not QuestionType.REPEAT:
                    _set(
                        answers, question, context, _plausible(question, state, context, rng, today)
                    )
                    changed = True
        for missing in state.missing_required:
            question = form.question(missing.question_id)
            context = _context_of(missing.path)
            if question.type is QuestionType.REPEAT:
                holder = answers
                for group, index in zip(question.repeat_chain, context, strict=True):
                    holder = holder[group][index]
                holder.setdefault(question.id, []).append(new_item(form, question.id, today=today))
            elif question.type is QuestionType.CONSENT:
                _set(
                    answers,
                    question,
                    context,
                    consent_answer(organisation, today=today, language="ar", rng=rng),
                )
            else:
                _set(answers, question, context, _plausible(question, state, context, rng, today))
            changed = True
        if not changed:
            break
        state = evaluate(form, answers, today=today, organisation=organisation)
    return state


def _context_of(path: str) -> tuple[int, ...]:
    indexes = []
    for part in path.split(".")[:-1]:
        if "[" in part:
            indexes.append(int(part[part.index("[") + 1 : -1]))
    return tuple(indexes)


def generate(
    form: Form,
    *,
    organisation: Any,
    rng: random.Random,
    today: date,
    complete: bool,
    case_number: str = "DEMO-0000-00000",
    counsellor: str = "Demo",
) -> tuple[dict[str, Any], bool]:
    """One invented intake: (answers, is_complete). Drafts stop part-way."""
    answers, _persona = persona_answers(rng, today=today)
    answers["case_number"] = case_number
    answers["counsellor_name"] = counsellor
    answers.setdefault("intake_date", today.isoformat())
    answers["consent"] = consent_answer(
        organisation, today=today, language=_pick(rng, list(organisation.languages)), rng=rng
    )
    if not complete:
        # a draft: the first sections are done, the later ones are still open
        for key in (
            "goal_type",
            "target_occupation",
            "work_experience",
            "has_work_experience",
            "german_writing",
            "latin_literate",
        ):
            if rng.random() < 0.7:
                answers.pop(key, None)
        state = evaluate(form, answers, today=today, organisation=organisation)
        return answers, state.complete
    state = complete_answers(form, answers, organisation=organisation, rng=rng, today=today)
    return answers, state.complete


def fill_demo_profile(
    profile: Any,
    *,
    count: int,
    seed: int = 2026,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Create ``count`` intakes in a demo profile, spread over its demo users."""
    created = 0
    owners = [(name, password) for name, role, _d, password in DEMO_USERS if role != "admin"]
    per_owner = [
        count // len(owners) + (1 if i < count % len(owners) else 0) for i in range(len(owners))
    ]
    for (name, password), share in zip(owners, per_owner, strict=True):
        ws = Workspace.sign_in(profile, username=name, password=password)
        try:
            created += add_synthetic_intakes(
                ws, count=share, seed=seed + created, progress=progress
            )
        finally:
            ws.close()
    return created


def add_synthetic_intakes(
    workspace: Any,
    *,
    count: int,
    seed: int = 2026,
    complete_share: float = 0.6,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Create ``count`` synthetic intakes owned by the workspace's user."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not security
    form = workspace.current_form()
    organisation = workspace.organisation
    today = date.today()
    counsellor = workspace.actor.display_name or workspace.actor.username
    for index in range(count):
        intake_day = today - timedelta(days=rng.randint(0, 330))
        wants_complete = rng.random() < complete_share
        row = workspace.records.create(form_id=form.id, form_version=form.version)
        answers, is_complete = generate(
            form,
            organisation=organisation,
            rng=rng,
            today=intake_day,
            complete=wants_complete,
            case_number=row.case_number,
            counsellor=counsellor,
        )
        workspace.records.save(row.id, answers=answers)
        if is_complete and wants_complete:
            workspace.records.finalise(row.id, answers=answers)
        if progress is not None:
            progress(index + 1, count)
    return count
