"""Realistic synthetic intakes for the demo profile, tests and benchmarks.

Every person is invented. Given and family names are combined per country and gender,
written in the script of the person's documents (Arabic, Dari, Cyrillic, Turkish, Latin)
with a Latin transliteration, and no name is used twice in one run. Each persona is a
typical legal situation with what goes with it: the documents' validity periods
(an Aufenthaltsgestattung or Duldung for three or six months, § 60d for 30 months …),
the benefits system, the integration-course access, coherent qualifications (a teacher's
recognition at the district government, a carpenter's at the chamber of crafts), and
consent and interpreter languages that fit the person. The form engine checks every
record; whatever a persona leaves open is filled with plausible values until the form is
complete.
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
from intake_app.core.forms.referral_consent import granted_on, recipient_matches
from intake_app.demo.users import DEMO_USERS


@dataclass(frozen=True, slots=True)
class Name:
    family: str
    given: str
    family_latin: str = ""
    given_latin: str = ""
    gender: str = "female"


# (native, Latin) pairs; Latin-only names give "" as native. Given names per gender.
_FAMILY: dict[str, list[tuple[str, str]]] = {
    "SY": [
        ("الحسن", "Al-Hassan"),
        ("خليل", "Khalil"),
        ("حداد", "Haddad"),
        ("العلي", "Al-Ali"),
        ("ناصر", "Nasser"),
        ("الأحمد", "Al-Ahmad"),
        ("شيخو", "Sheikho"),
        ("درويش", "Darwish"),
    ],
    "IQ": [
        ("Xelîl", "Khalil"),
        ("Ehmed", "Ahmed"),
        ("Mûsa", "Musa"),
        ("Silêman", "Sulaiman"),
        ("Qasim", "Qasim"),
    ],
    # Iraq: Kurmanji (Badini) names in Latin script, Sorani names in Arabic script (as
    # Sorani is written), Iraqi Arabic names in Arabic script: the name fits the language
    "IQ-ckb": [
        ("ئەحمەد", "Ahmad"),
        ("کەریم", "Karim"),
        ("عەزیز", "Aziz"),
        ("مەحموود", "Mahmud"),
        ("ڕەسووڵ", "Rasul"),
    ],
    "IQ-acm": [
        ("الجبوري", "Al-Jubouri"),
        ("العبيدي", "Al-Obaidi"),
        ("الساعدي", "Al-Saadi"),
        ("التميمي", "Al-Tamimi"),
    ],
    "AF": [
        ("احمدی", "Ahmadi"),
        ("حیدری", "Haidari"),
        ("رحیمی", "Rahimi"),
        ("نوری", "Nuri"),
        ("صدیقی", "Sediqi"),
        ("کریمی", "Karimi"),
        ("هاشمی", "Hashimi"),
    ],
    "UA": [
        ("Шевченко", "Shevchenko"),
        ("Коваленко", "Kovalenko"),
        ("Бондаренко", "Bondarenko"),
        ("Мельник", "Melnyk"),
        ("Ткаченко", "Tkachenko"),
        ("Кравченко", "Kravchenko"),
        ("Олійник", "Oliinyk"),
    ],
    "ER": [
        ("", "Tesfay"),
        ("", "Gebremedhin"),
        ("", "Haile"),
        ("", "Kidane"),
        ("", "Berhane"),
        ("", "Woldu"),
    ],
    "TR": [
        ("", "Yılmaz"),
        ("", "Öztürk"),
        ("", "Kaya"),
        ("", "Çelik"),
        ("", "Demir"),
        ("", "Aydın"),
    ],
    "IR": [("رضایی", "Rezaei"), ("محمدی", "Mohammadi"), ("حسینی", "Hosseini"), ("کاظمی", "Kazemi")],
    "IN": [("", "Sharma"), ("", "Reddy"), ("", "Iyer"), ("", "Patel"), ("", "Nair")],
    "NG": [("", "Okafor"), ("", "Adeyemi"), ("", "Eze"), ("", "Balogun"), ("", "Nwosu")],
    "GN": [("", "Diallo"), ("", "Bah"), ("", "Camara"), ("", "Barry"), ("", "Sow")],
    "PL": [("", "Nowak"), ("", "Kowalczyk"), ("", "Wiśniewski"), ("", "Lewandowski")],
    "RO": [("", "Popescu"), ("", "Ionescu"), ("", "Dumitru"), ("", "Stan")],
    "XK": [("", "Krasniqi"), ("", "Gashi"), ("", "Berisha"), ("", "Hoxha")],
    "AL": [("", "Shehu"), ("", "Dervishi"), ("", "Kola"), ("", "Leka")],
}
_GIVEN: dict[str, dict[str, list[tuple[str, str]]]] = {
    "SY": {
        "female": [("ليلى", "Layla"), ("رنا", "Rana"), ("سلمى", "Salma"), ("نور", "Nour")],
        "male": [("عمر", "Omar"), ("محمد", "Mohammad"), ("خالد", "Khaled"), ("يوسف", "Yousef")],
    },
    "IQ": {
        "female": [("Rojîn", "Rojin"), ("Nalîn", "Nalin"), ("Hêvî", "Hevi")],
        "male": [("Dilşad", "Dilshad"), ("Azad", "Azad"), ("Şêrko", "Sherko")],
    },
    "IQ-ckb": {
        "female": [("ژیان", "Zhian"), ("شیلان", "Shilan"), ("نازدار", "Nazdar")],
        "male": [("ئاوات", "Awat"), ("هێمن", "Hemin"), ("ڕێباز", "Rebaz")],
    },
    "IQ-acm": {
        "female": [("زينب", "Zainab"), ("هدى", "Huda"), ("مريم", "Maryam")],
        "male": [("علي", "Ali"), ("حسين", "Hussein"), ("مصطفى", "Mustafa")],
    },
    "AF": {
        "female": [
            ("فرشته", "Fereshta"),
            ("زهرا", "Zahra"),
            ("مریم", "Maryam"),
            ("نرگس", "Narges"),
        ],
        "male": [("مصطفی", "Mustafa"), ("علی", "Ali"), ("احمد", "Ahmad"), ("جواد", "Jawad")],
    },
    "UA": {
        "female": [
            ("Олена", "Olena"),
            ("Ірина", "Iryna"),
            ("Оксана", "Oksana"),
            ("Наталія", "Nataliia"),
        ],
        "male": [
            ("Андрій", "Andrii"),
            ("Дмитро", "Dmytro"),
            ("Олег", "Oleh"),
            ("Сергій", "Serhii"),
        ],
    },
    "ER": {
        "female": [("", "Selam"), ("", "Mebrat"), ("", "Helen"), ("", "Senait")],
        "male": [("", "Yonas"), ("", "Dawit"), ("", "Samuel"), ("", "Filmon")],
    },
    "TR": {
        "female": [("", "Zeynep"), ("", "Elif"), ("", "Ayşe"), ("", "Merve")],
        "male": [("", "Emre"), ("", "Murat"), ("", "Burak"), ("", "Kemal")],
    },
    "IR": {
        "female": [("سارا", "Sara"), ("لیلا", "Leila"), ("شیرین", "Shirin")],
        "male": [("رضا", "Reza"), ("امیر", "Amir"), ("حسین", "Hossein")],
    },
    "IN": {
        "female": [("", "Priya"), ("", "Ananya"), ("", "Divya")],
        "male": [("", "Arjun"), ("", "Rahul"), ("", "Vikram")],
    },
    "NG": {
        "female": [("", "Chiamaka"), ("", "Ngozi"), ("", "Funmilayo")],
        "male": [("", "Tunde"), ("", "Emeka"), ("", "Chinedu")],
    },
    "GN": {
        "female": [("", "Fatoumata"), ("", "Mariama"), ("", "Aissatou")],
        "male": [("", "Mamadou"), ("", "Alpha"), ("", "Ibrahima")],
    },
    "PL": {
        "female": [("", "Agnieszka"), ("", "Katarzyna"), ("", "Magdalena")],
        "male": [("", "Piotr"), ("", "Tomasz"), ("", "Paweł")],
    },
    "RO": {
        "female": [("", "Ioana"), ("", "Elena"), ("", "Andreea")],
        "male": [("", "Andrei"), ("", "Mihai"), ("", "Florin")],
    },
    "XK": {
        "female": [("", "Arta"), ("", "Blerta"), ("", "Drita")],
        "male": [("", "Arben"), ("", "Besnik"), ("", "Driton")],
    },
    "AL": {
        "female": [("", "Erjona"), ("", "Klea"), ("", "Anisa")],
        "male": [("", "Ergys"), ("", "Klodian"), ("", "Gentian")],
    },
}
#: Female forms of Polish family names ending in -ski.
_FEMININE = {"Wiśniewski": "Wiśniewska", "Lewandowski": "Lewandowska"}

#: Languages (ISO 639-3) per country: mother tongues to pick from, and the consent
#: language (a client language of the organisation, else German) that fits them.
MOTHER_TONGUES: dict[str, tuple[str, ...]] = {
    "SY": ("apc", "apc", "kmr"),
    "IQ": ("kmr", "ckb", "acm"),
    "AF": ("prs", "prs", "pus", "haz"),
    "UA": ("ukr", "ukr", "rus"),
    "ER": ("tir",),
    "TR": ("tur", "tur", "kmr"),
    "IR": ("pes",),
    "IN": ("hin", "tel", "tam", "mal"),
    "NG": ("yor", "ibo", "pcm"),
    "GN": ("fuf", "sus", "man"),
    "PL": ("pol",),
    "RO": ("ron",),
    "XK": ("sqi",),
    "AL": ("sqi",),
}
CONSENT_LANGUAGE: dict[str, str] = {
    "apc": "ar",
    "acm": "ar",
    "ara": "ar",
    "prs": "fa",
    "pes": "fa",
    "haz": "fa",
    "ukr": "uk",
    "rus": "ru",
    "tur": "tr",
}
#: Second languages by country: a Kurdish speaker from Syria also speaks Arabic …
SECOND_LANGUAGE: dict[str, str] = {
    "SY": "ara",
    "IQ": "ara",
    "AF": "prs",
    "UA": "rus",
    "ER": "ara",
    "TR": "tur",
    "IR": "eng",
    "IN": "eng",
    "NG": "eng",
    "GN": "fra",
    "PL": "eng",
    "RO": "eng",
    "XK": "srp",
    "AL": "ita",
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
    ("Gelsenkirchen", "05513000"),
    ("Hagen", "05914000"),
]
#: Occupations used by the filler for any other occupation question.
OCCUPATIONS = ["51312", "63302", "54101", "52122", "29302", "82102", "83112", "25212"]


@dataclass(frozen=True, slots=True)
class Qualification:
    """A qualification with where it is recognised (coherent pairs only)."""

    title: str
    isced: str
    kldb: str
    regulated: str
    body: str  # recognition body for this kind of qualification
    reference: str


QUALIFICATIONS = {
    "nurse": Qualification(
        "Bachelor of Nursing", "6", "81302", "yes", "state_authority", "Pflegefachfrau/-mann"
    ),
    "teacher": Qualification(
        "Lehramt Mathematik (Sekundarstufe)",
        "6",
        "84124",
        "yes",
        "state_authority",
        "Lehrkraft Sekundarstufe I",
    ),
    "doctor": Qualification(
        "Doctor of Medicine", "7", "81404", "yes", "state_authority", "Arzt/Ärztin"
    ),
    "electrician": Qualification(
        "Elektroinstallateur (Berufsschule)", "3", "26212", "no", "hwk", "Elektroniker/in"
    ),
    "carpenter": Qualification("Tischler (Lehre)", "3", "22342", "no", "hwk", "Tischler/in"),
    "mechanic": Qualification(
        "Kfz-Mechaniker (Berufsschule)", "3", "25212", "no", "hwk", "Kfz-Mechatroniker/in"
    ),
    "cook": Qualification("Koch (Berufsschule)", "3", "29302", "no", "ihk_fosa", "Koch/Köchin"),
    "it": Qualification(
        "Bachelor of Computer Science", "6", "43104", "no", "zab", "Informatiker/in (Hochschule)"
    ),
    "business": Qualification(
        "Bachelor of Business Administration", "6", "72213", "no", "zab", "Betriebswirt/in"
    ),
}


@dataclass(frozen=True, slots=True)
class Persona:
    """A typical residence situation and what usually goes with it."""

    key: str
    countries: tuple[str, ...]
    document: str
    legal_basis: str | None
    work_permission: str
    goal: str
    months_valid: tuple[int, ...]  # validity periods the document is issued for
    benefit: str
    employment: tuple[str, ...]
    course_basis: str
    qualifications: tuple[str, ...] = ()
    asylum_stages: tuple[str, ...] = ()
    obligation: bool = False  # Wohnsitzauflage usual


PERSONAS = (
    Persona(
        "refugee", ("SY", "AF", "ER", "IQ"), "aufenthaltserlaubnis", "25_2_refugee",
        "erwerbstaetigkeit_erlaubt", "employment", (36,), "sgb2",
        ("unemployed", "jobseeking", "marginal"), "entitlement",
        ("nurse", "teacher", "electrician", "business", ""), obligation=True,
    ),
    Persona(
        "subsidiary", ("SY", "AF", "ER"), "aufenthaltserlaubnis", "25_2_subsidiary",
        "erwerbstaetigkeit_erlaubt", "employment", (12, 24), "sgb2",
        ("unemployed", "jobseeking"), "entitlement", ("mechanic", "cook", ""), obligation=True,
    ),
    Persona(
        "admission_23", ("AF",), "aufenthaltserlaubnis", "23", "erwerbstaetigkeit_erlaubt",
        "employment", (36,), "sgb2", ("jobseeking",), "entitlement",
        ("teacher", "doctor", "it"), obligation=True,
    ),
    Persona(
        "ukraine_24", ("UA",), "aufenthaltserlaubnis", "24", "erwerbstaetigkeit_erlaubt",
        "employment", (24,), "sgb2", ("jobseeking", "employed", "marginal"), "entitlement",
        ("teacher", "business", "nurse", "it", "electrician"),
    ),
    Persona(
        "asylum", ("SY", "AF", "ER", "TR", "IR"), "aufenthaltsgestattung", None,
        "beschaeftigung_mit_erlaubnis", "entry_qualification", (3, 6), "asylblg",
        ("not_allowed", "jobseeking"), "admission", ("", "mechanic"),
        asylum_stages=("application_filed", "hearing_done", "dublin", "appeal_pending"),
        obligation=True,
    ),
    Persona(
        "duldung", ("AF", "IQ", "NG", "GN"), "duldung", None, "beschaeftigung_mit_erlaubnis",
        "vocational_training", (3, 6), "asylblg", ("unemployed", "jobseeking"), "admission",
        ("", "carpenter"), asylum_stages=("rejected_final", "follow_up_application"),
        obligation=True,
    ),
    Persona(
        "ausbildungsduldung", ("GN", "AF", "NG"), "ausbildungsduldung", None,
        "beschaeftigung_erlaubt", "vocational_training", (24, 36), "none", ("training",),
        "none", ("",), obligation=True,
    ),
    Persona(
        "beschaeftigungsduldung", ("IQ", "AF"), "beschaeftigungsduldung", None,
        "beschaeftigung_erlaubt", "employment", (30,), "none", ("employed",), "none", ("",),
    ),
    Persona(
        "student", ("IN", "NG", "TR"), "aufenthaltserlaubnis", "16b", "other_wording", "study",
        (24,), "none", ("school_study",), "none", ("it", "business"),
    ),
    Persona(
        "blue_card", ("IN", "TR", "IR"), "blaue_karte", "18g", "erwerbstaetigkeit_erlaubt",
        "employment", (48,), "none", ("employed",), "none", ("it", "doctor"),
    ),
    Persona(
        "family_30", ("TR", "SY", "XK"), "aufenthaltserlaubnis", "30",
        "erwerbstaetigkeit_erlaubt", "employment", (12, 36), "none",
        ("not_seeking", "jobseeking"), "obligation", ("", "cook", "nurse"),
    ),
    Persona(
        "westbalkan", ("XK", "AL"), "aufenthaltserlaubnis", "19c_westbalkan", "other_wording",
        "employment", (24,), "none", ("employed",), "none", ("carpenter", "electrician", ""),
    ),
    Persona(
        "eu_citizen", ("PL", "RO"), "eu_freizuegigkeit", None, "", "employment", (), "sgb2",
        ("marginal", "unemployed"), "none", ("mechanic", "cook", ""),
    ),
)  # fmt: skip

#: Wordings of "other_wording" per persona (the text in the supplementary sheet).
_WORDINGS = {
    "student": "Beschäftigung bis zu 140 ganze oder 280 halbe Tage im Jahr erlaubt",
    "westbalkan": "Beschäftigung nur bei der im Zusatzblatt genannten Firma erlaubt",
}
_GERMAN = {  # (lowest, highest) CEFR index per persona: 0 none … 4 B2
    "refugee": (1, 3),
    "subsidiary": (1, 3),
    "admission_23": (1, 3),
    "ukraine_24": (1, 3),
    "asylum": (0, 1),
    "duldung": (0, 2),
    "ausbildungsduldung": (2, 3),
    "beschaeftigungsduldung": (2, 3),
    "student": (3, 4),
    "blue_card": (1, 3),
    "family_30": (1, 2),
    "westbalkan": (1, 2),
    "eu_citizen": (0, 2),
}
_LEVELS = ["none", "A1", "A2", "B1", "B2"]
#: Ages (lowest, highest) per persona where they differ from 19–52.
_AGES = {"ausbildungsduldung": (18, 26), "student": (19, 30), "blue_card": (25, 52)}
#: The lowest age at which a qualification of an ISCED level is usually finished.
_MIN_AGE_FOR_LEVEL = {"3": 19, "4": 20, "5": 21, "6": 22, "7": 24, "8": 27}


def _pick(rng: random.Random, seq: list[Any] | tuple[Any, ...]) -> Any:
    return seq[rng.randrange(len(seq))]


def _date_between(rng: random.Random, start: date, end: date) -> str:
    span = max((end - start).days, 0)
    return (start + timedelta(days=rng.randint(0, span))).isoformat()


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, 28))


def _name(rng: random.Random, country: str, used: set[tuple[str, str]] | None) -> Name:
    for _attempt in range(40):
        gender = _pick(rng, ["female", "male"])
        family_native, family_latin = _pick(rng, _FAMILY[country])
        given_native, given_latin = _pick(rng, _GIVEN[country][gender])
        if gender == "female":
            family_latin = _FEMININE.get(family_latin, family_latin)
        if used is None or (family_latin, given_latin) not in used:
            break
    if used is not None:
        used.add((family_latin, given_latin))
    if family_native or given_native:
        return Name(
            family_native or family_latin,
            given_native or given_latin,
            family_latin,
            given_latin,
            gender,
        )
    return Name(family_latin, given_latin, gender=gender)


def _validity(rng: random.Random, persona: Persona, intake: date, entry: date) -> dict[str, Any]:
    """Document dates that fit the document: issued before the interview, for one of
    the periods it is issued for. A § 24 permit printed with 4 March 2026 continues by
    regulation where that date has passed."""
    if not persona.months_valid:
        return {}
    months = _pick(rng, persona.months_valid)
    earliest = max(entry, intake - timedelta(days=months * 30 - 7))
    start = date.fromisoformat(_date_between(rng, earliest, intake))
    answers: dict[str, Any] = {
        "residence_valid_from": start.isoformat(),
        "residence_valid_until": (_add_months(start, months) - timedelta(days=1)).isoformat(),
    }
    if persona.legal_basis == "24":
        answers["residence_valid_until"] = "2026-03-04"
        answers["residence_valid_from"] = min(start, date(2025, 3, 4)).isoformat()
        answers["residence_continued"] = intake >= date(2025, 12, 1)
        if answers["residence_continued"]:
            answers["residence_continued_until"] = "2027-03-04"
    return answers


def persona_answers(
    rng: random.Random, *, today: date, used_names: set[tuple[str, str]] | None = None
) -> tuple[dict[str, Any], Persona]:
    """The characteristic answers of one invented person (interview on ``today``)."""
    persona = _pick(rng, PERSONAS)
    country = _pick(rng, persona.countries)
    mother = _pick(rng, MOTHER_TONGUES[country])
    name = _name(
        rng, f"{country}-{mother}" if f"{country}-{mother}" in _FAMILY else country, used_names
    )
    kind = _pick(rng, persona.qualifications) if persona.qualifications else ""
    # the age fits the document and the degree: no Blue Card at 16, no doctorate at 20
    low, high = _AGES.get(persona.key, (19, 52))
    if kind:
        low = max(low, _MIN_AGE_FOR_LEVEL.get(QUALIFICATIONS[kind].isced, 19))
        low = max(low, 27 if kind == "doctor" else low)
    age = rng.randint(low, max(low, high))
    birth = today.replace(year=today.year - age) - timedelta(days=rng.randint(0, 360))
    if used_names is not None:
        # no near-twins: one family name is not born twice in the same year in one run
        family = name.family_latin or name.family
        while (f"born:{family}", str(birth.year)) in used_names:
            birth = birth.replace(year=birth.year - 1, day=min(birth.day, 28))
            age += 1
        used_names.add((f"born:{family}", str(birth.year)))
    years_here = {"eu_citizen": (1, 6), "westbalkan": (0, 2), "asylum": (0, 1)}.get(
        persona.key, (1, 8)
    )
    entry = today - timedelta(days=rng.randint(years_here[0] * 365 + 30, years_here[1] * 365 + 90))
    town, ags = _pick(rng, MUNICIPALITIES)
    second = SECOND_LANGUAGE[country]
    low, high = _GERMAN[persona.key]
    levels = [_LEVELS[rng.randint(low, high)] for _skill in range(4)]
    interpreter = levels[2] in ("none", "A1") and mother not in ("eng", "fra")
    answers: dict[str, Any] = {
        "family_name": name.family,
        "given_names": name.given,
        "birth_date": birth.isoformat(),
        "gender": name.gender,
        "nationalities": [country],
        "birth_country": country if country != "XK" or age < 30 else "YUCS",
        "municipality": town,
        "municipality_ags": ags,
        "household_size": rng.randint(1, 5),
        "entry_date": entry.isoformat() if persona.key != "eu_citizen" else None,
        "residence_document": persona.document,
        "work_permission": persona.work_permission or None,
        "work_permission_text": _WORDINGS.get(persona.key),
        "benefit_system": persona.benefit,
        "benefit_body": {
            "sgb2": f"Jobcenter {town}",
            "asylblg": f"Sozialamt {town}",
        }.get(persona.benefit),
        "employment_status": _pick(rng, persona.employment),
        "integration_course_basis": persona.course_basis,
        "goal_type": persona.goal,
        "languages": [
            {"language": mother, "mother_tongue": True},
            {
                "language": second if second != mother else "eng",
                "mother_tongue": False,
                "level": _pick(rng, ["A2", "B1", "B2"]),
            },
        ],
        "german_listening": levels[0],
        "german_reading": levels[1],
        "german_speaking": levels[2],
        "german_writing": levels[3],
        "latin_literate": country not in ("SY", "AF", "IQ", "IR", "ER") or rng.random() < 0.6,
        "access_route": _pick(rng, ["self", "jobcenter", "family_friends", "auslaenderbehoerde"]),
        "counselling_form": "in_person",
        "interpreter_used": interpreter,
        "interpreter_language": mother if interpreter else None,
        "contact_language": mother if interpreter else "deu",
        "phone": f"+49 1{rng.randint(51, 79)} {rng.randint(1000000, 9999999)}",
        "preferred_channel": _pick(rng, ["phone", "sms_messenger", "letter"]),
        "mobility": _pick(rng, ["local", "commute_60", "nrw"]),
        "next_appointment": (today + timedelta(days=rng.randint(7, 30))).isoformat(),
    }
    answers["has_children"] = age >= 24 and rng.random() < 0.4
    if answers["has_children"]:
        # one to three children, at least 15 months apart, the first at 20 or later
        born = birth + timedelta(days=rng.randint(20 * 365, max(20 * 365, (age - 1) * 365)))
        children: list[dict[str, Any]] = []
        while born < today - timedelta(days=60) and len(children) < 3:
            children.append({"child_birth_month": born.isoformat()[:7], "child_in_household": True})
            born += timedelta(days=rng.randint(15 * 30, 48 * 30))
        answers["children"] = children
        answers["has_children"] = bool(children)
        answers["household_size"] = len(children) + rng.randint(1, 2)
    if name.family_latin:
        answers["family_name_latin"] = name.family_latin
        answers["given_names_latin"] = name.given_latin
    if persona.asylum_stages:
        answers["asylum_stage"] = _pick(rng, persona.asylum_stages)
    if persona.legal_basis:
        answers["legal_basis"] = persona.legal_basis
    answers.update(_validity(rng, persona, today, entry))
    if persona.document not in ("eu_freizuegigkeit", "keines_unklar"):
        answers["residence_obligation"] = persona.obligation and rng.random() < 0.8
        if answers["residence_obligation"]:
            answers["residence_obligation_place"] = town
    answers["passport_status"] = {
        "refugee": "refugee_travel_document",
        "subsidiary": "travel_document_foreigners",
        "duldung": "no_passport_procuring",
        "asylum": _pick(rng, ["national_passport", "no_passport_unreasonable"]),
        "eu_citizen": "national_id",
    }.get(persona.key, "national_passport")
    if persona.employment and answers["employment_status"] in (
        "employed",
        "marginal",
        "training",
    ):
        answers["employment_hours"] = {"marginal": 10, "training": 39}.get(
            answers["employment_status"], rng.choice([30, 38, 40])
        )
    if persona.course_basis != "none":
        answers["integration_course_voucher_date"] = _date_between(rng, entry, today)
        # a literacy course only for someone without a vocational or higher qualification
        # who does not read the Latin alphabet
        answers["integration_course"] = (
            "literacy"
            if levels[2] == "none" and not kind and not answers["latin_literate"]
            else "general"
        )
        answers["integration_course_status"] = (
            "completed" if levels[2] in ("B1", "B2") else _pick(rng, ["running", "not_started"])
        )
    else:
        answers["integration_course"] = "none"
    answers["job_language_course"] = "none"
    answers["has_german_certificate"] = levels[2] in ("B1", "B2") and rng.random() < 0.7
    if answers["has_german_certificate"]:
        answers["german_certificates"] = [
            {
                "certificate_type": _pick(rng, ["dtz", "telc", "goethe"])
                if persona.key != "student"
                else "testdaf",
                "certificate_level": "B1",
                "certificate_seen": True,
            }
        ]
    _qualification(rng, answers, persona, kind, country, today)
    return {k: v for k, v in answers.items() if v is not None}, persona


def _qualification(
    rng: random.Random,
    answers: dict[str, Any],
    persona: Persona,
    kind: str,
    country: str,
    today: date,
) -> None:
    if not kind:
        level, title = _pick(rng, [("1", "Grundschule"), ("2", "Mittelschule")])
        answers["qualifications"] = [
            {
                "isced_level": level,
                "qualification_title": title,
                "qualification_country": country,
                "certificate_held": _pick(rng, ["copy", "none"]),
            }
        ]
        answers["target_occupation"] = _pick(rng, OCCUPATIONS)
        answers["has_work_experience"] = rng.random() < 0.6
        if answers["has_work_experience"]:
            answers["work_experience"] = [_job(rng, answers["target_occupation"], country, today)]
        return
    q = QUALIFICATIONS[kind]
    status = (
        _pick(rng, ["advised", "applied", "decided"]) if q.regulated == "yes" else "not_started"
    )
    if persona.key == "student":
        status = "decided"
    item: dict[str, Any] = {
        "isced_level": q.isced,
        "qualification_title": q.title,
        "qualification_country": country,
        "certificate_held": _pick(rng, ["original", "original", "copy"]),
        "translation_available": rng.random() < 0.6,
        "field_kldb": q.kldb,
        "regulated": q.regulated,
        "reference_occupation": q.reference,
        "recognition_status": status,
    }
    if status in ("advised", "applied", "decided"):
        item["recognition_body"] = q.body
        item["recognition_funding"] = [
            "placement_budget" if answers.get("benefit_system") == "sgb2" else "recognition_grant"
        ]
    if status in ("applied", "decided"):
        item["recognition_applied_on"] = _date_between(
            rng, today - timedelta(days=300), today - timedelta(days=60)
        )
    if status == "applied":
        item["recognition_documents_deadline"] = (
            today + timedelta(days=rng.randint(14, 90))
        ).isoformat()
    if status == "decided":
        item["recognition_notice_date"] = _date_between(
            rng, date.fromisoformat(item.get("recognition_applied_on", today.isoformat())), today
        )
        item["recognition_outcome"] = "full" if persona.key == "student" else "partial"
        if item["recognition_outcome"] == "partial":
            item["compensation_measure"] = "adaptation_course"
            item["compensation_measure_end"] = (
                today + timedelta(days=rng.randint(90, 300))
            ).isoformat()
    answers["qualifications"] = [item]
    answers["target_occupation"] = q.kldb
    answers["has_work_experience"] = True
    answers["work_experience"] = [_job(rng, q.kldb, country, today)]
    if q.regulated == "yes" and status != "decided":
        answers["referrals"] = [
            {
                "service": "iq_recognition",
                "date": _date_between(rng, today - timedelta(days=30), today),
                "purpose": "Anerkennungsberatung",
                "data_passed": ["identity", "education"],
                "consent_purpose": "recognition_counselling",
                "outcome": _pick(rng, ["open", "appointment_made", "completed"]),
            }
        ]


def _job(rng: random.Random, kldb: str, country: str, today: date) -> dict[str, Any]:
    start = today - timedelta(days=rng.randint(6 * 365, 12 * 365))
    return {
        "job_kldb": kldb,
        "job_country": country,
        "job_from": start.isoformat(),
        "job_current": False,
        "job_to": (start + timedelta(days=rng.randint(365, 5 * 365))).isoformat(),
    }


def _fit(form: Form, answers: dict[str, Any]) -> dict[str, Any]:
    """Only the answers ``form`` has questions for (a persona knows every version)."""

    def fit(holder: dict[str, Any]) -> dict[str, Any]:
        kept: dict[str, Any] = {}
        for key, value in holder.items():
            question = form.get(key)
            if question is None:
                continue
            if question.type is QuestionType.REPEAT and isinstance(value, list):
                value = [fit(item) if isinstance(item, dict) else item for item in value]
            kept[key] = value
        return kept

    if form.get("child_birth_date") is not None:
        for child in answers.get("children", []):
            if "child_birth_month" in child:
                child["child_birth_date"] = child.pop("child_birth_month") + "-01"
    return fit(answers)


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
    if question.id == "child_birth_month":
        return _date_between(rng, today - timedelta(days=15 * 365), today)[:7]
    if kind in (QuestionType.TEXT, QuestionType.LONG_TEXT):
        return _pick(
            rng, ["siehe Gesprächsnotiz", "liegt vor", "wird nachgereicht", "mit Person besprochen"]
        )
    return None


def consent_answer(
    organisation: Any,
    *,
    today: date,
    language: str,
    rng: random.Random,
    interpreter_language: str | None = None,
    needed: tuple[str, ...] = (),
    refuse_central: bool = False,
) -> dict[str, Any]:
    """A complete consent block: every purpose decided (those in ``needed`` granted),
    Art. 9 decided; read in ``language`` (German where the organisation has no text in
    it), with an interpreter when ``interpreter_language`` is given."""
    purposes = {
        pid: {
            "granted": (not refuse_central)
            if pid == "central_office"
            else pid in needed or rng.random() < 0.8,
            "withdrawn_on": None,
        }
        for pid in organisation.purpose_ids
    }
    return {
        "date": today.isoformat(),
        "language": language if language in organisation.languages else "de",
        "interpreter": interpreter_language is not None,
        "interpreter_language": interpreter_language,
        "organisation": organisation.id,
        "text_version": organisation.text_version,
        "purposes": purposes,
        "art9": {"granted": rng.random() < 0.3, "withdrawn_on": None},
    }


def _bind_referrals(answers: dict[str, Any], organisation: Any, *, today: date) -> None:
    """Give each referral a consent that covers it, as a counsellor would: dated on or
    after the consent, the data passed within a granted purpose naming the service, or
    no data passed at all (only the service's address given to the person)."""
    consent = answers.get("consent")
    for referral in answers.get("referrals") or []:
        referral["date"] = max(referral.get("date") or "", (consent or {}).get("date") or "")
        referral["date"] = referral["date"] or today.isoformat()
        referral.pop("consent_purpose", None)
        for purpose in organisation.purposes:
            if granted_on(consent, purpose.id, today) and recipient_matches(
                purpose, referral.get("service")
            ):
                wanted = dict.fromkeys(["identity", *referral.get("data_passed", [])])
                referral["data_passed"] = [c for c in wanted if c in purpose.data_categories]
                referral["consent_purpose"] = purpose.id
                break
        else:
            referral["data_passed"] = []


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
                    consent_answer(organisation, today=today, language="de", rng=rng),
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
    used_names: set[tuple[str, str]] | None = None,
    central_refusals: float = 0.0,
) -> tuple[dict[str, Any], bool]:
    """One invented intake: (answers, is_complete). Drafts stop part-way.

    ``used_names`` (Latin family and given name) keeps one run free of apparent
    duplicates: a name in it is not given to a second person. ``central_refusals`` is the
    share of people who refuse the transfer to the central office (their records stay on
    the device).
    """
    answers, _persona = persona_answers(rng, today=today, used_names=used_names)
    answers["case_number"] = case_number
    answers["counsellor_name"] = counsellor
    answers.setdefault("intake_date", today.isoformat())
    mother = answers["languages"][0]["language"]
    interpreter = answers.get("interpreter_language")
    needed = tuple(
        str(referral.get("consent_purpose")) for referral in answers.get("referrals", [])
    )
    answers["consent"] = consent_answer(
        organisation,
        today=today,
        language=CONSENT_LANGUAGE.get(mother, "de"),
        rng=rng,
        interpreter_language=interpreter if isinstance(interpreter, str) else None,
        needed=needed,
        refuse_central=central_refusals > 0 and rng.random() < central_refusals,
    )
    _bind_referrals(answers, organisation, today=today)
    answers = _fit(form, answers)
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
                ws, count=share, seed=seed + created, progress=progress, central_refusals=0.12
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
    central_refusals: float = 0.0,
) -> int:
    """Create ``count`` synthetic intakes owned by the workspace's user."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not security
    form = workspace.current_form()
    organisation = workspace.organisation
    today = date.today()
    counsellor = workspace.actor.display_name or workspace.actor.username
    used_names: set[tuple[str, str]] = set()
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
            used_names=used_names,
            central_refusals=central_refusals,
        )
        workspace.records.save(row.id, answers=answers)
        if is_complete and wants_complete:
            workspace.records.finalise(row.id, answers=answers)
        if progress is not None:
            progress(index + 1, count)
    return count
