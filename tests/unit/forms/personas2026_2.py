"""People for version 2026.2 of the interview: the four typical people of ``formkit``
migrated from 2026.1 and completed with the new questions, plus personas for legal
situations the 2026.1 people do not cover (EU citizen, § 25 (2) subsidiary protection,
§ 23 admission, § 60c and § 60d, family reunification, Westbalkanregelung, § 16g, a
Dublin case, § 24 continued by regulation).

(A module with a unique name, not ``conftest``, so that tests can import it safely.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from formkit import PERSONAS, _base, consent

from intake_app.core.forms import Form, migrate_answers

#: New required answers per 2026.1 persona, added after migration.
COMPLETIONS: dict[str, dict[str, Any]] = {
    "refugee_nurse": {
        "benefit_system": "sgb2",
        "benefit_body": "Jobcenter Dortmund",
        "passport_status": "passport_expired",
        "identity_clarified": "yes",
        "integration_course_basis": "entitlement",
        "integration_course_voucher_date": "2024-02-01",
        "employment_status": "jobseeking",
    },
    "student_16b": {
        "benefit_system": "none",
        "passport_status": "national_passport",
        "integration_course_basis": "none",
        "employment_status": "school_study",
        "residence_obligation": False,
    },
    "duldung_no_documents": {
        "benefit_system": "asylblg",
        "benefit_body": "Sozialamt Dortmund",
        "passport_status": "no_passport_procuring",
        "identity_clarified": "no",
        "has_german_certificate": False,
        "integration_course_basis": "admission",
        "integration_course_waiting": True,
        "employment_status": "unemployed",
    },
    "ukrainian_24_children": {
        "benefit_system": "sgb2",
        "benefit_body": "Jobcenter Dortmund",
        "passport_status": "national_passport",
        "residence_continued": False,
        "integration_course_basis": "entitlement",
        "employment_status": "jobseeking",
    },
}


def migrated(name: str, old: Form, new: Form) -> dict[str, Any]:
    """A 2026.1 persona migrated to 2026.2 and completed with the new questions."""
    answers = migrate_answers(PERSONAS[name](), old, new).answers
    answers.update(COMPLETIONS[name])
    return answers


def _new_base() -> dict[str, Any]:
    answers = _base()
    answers.update(
        {
            "consent": consent(),
            "benefit_system": "sgb2",
            "benefit_body": "Jobcenter Dortmund",
            "passport_status": "national_passport",
            "integration_course_basis": "none",
            "employment_status": "unemployed",
            "has_german_certificate": False,
        }
    )
    return answers


def eu_citizen() -> dict[str, Any]:
    """A Polish warehouse worker in a mini-job: EU freedom of movement, no residence title."""
    answers = _new_base()
    answers.update(
        {
            "access_route": "jobcenter",
            "family_name": "Wiśniewska",
            "given_names": "Agnieszka",
            "birth_date": "1985-06-12",
            "gender": "female",
            "nationalities": ["PL"],
            "birth_country": "PL",
            "languages": [{"language": "pol", "mother_tongue": True}],
            "phone": "+49 176 5550123",
            "preferred_channel": "sms_messenger",
            "contact_language": "pol",
            "entry_date": "2023-04-01",
            "residence_document": "eu_freizuegigkeit",
            "passport_status": "national_id",
            "employment_status": "marginal",
            "employment_hours": 10,
            "driving_licence": "eu",
            "driving_licence_classes": ["B"],
            "target_occupation": "51312",
        }
    )
    return answers


def subsidiary_25_2() -> dict[str, Any]:
    """An Afghan man with subsidiary protection, a Wohnsitzauflage and a CE licence."""
    answers = _new_base()
    answers.update(
        {
            "interpreter_used": True,
            "interpreter_language": "prs",
            "consent": consent(language="fa", interpreter=True),
            "family_name": "Rahimi",
            "given_names": "Farid",
            "birth_date": "1994-02-01",
            "gender": "male",
            "nationalities": ["AF"],
            "birth_country": "AF",
            "languages": [
                {"language": "prs", "mother_tongue": True},
                {"language": "pus", "mother_tongue": False, "level": "B1"},
            ],
            "contact_language": "prs",
            "entry_date": "2021-11-15",
            "residence_document": "aufenthaltserlaubnis",
            "legal_basis": "25_2_subsidiary",
            "residence_valid_from": "2025-06-01",
            "residence_valid_until": "2026-05-31",
            "work_permission": "erwerbstaetigkeit_erlaubt",
            "residence_obligation": True,
            "residence_obligation_place": "Gelsenkirchen",
            "passport_status": "travel_document_foreigners",
            "identity_clarified": "yes",
            "pending_applications": ["extension"],
            "pending_applications_note": "Verlängerung am 2026-02-20 beantragt",
            "integration_course_basis": "obligation",
            "integration_course_voucher_date": "2022-03-01",
            "integration_course": "general",
            "integration_course_status": "completed",
            "driving_licence": "foreign",
            "driving_licence_classes": ["B", "C", "CE"],
            "driving_licence_code95": False,
            "target_occupation": "52122",
        }
    )
    return answers


def admission_23() -> dict[str, Any]:
    """An Afghan teacher admitted under § 23 (2); Lehramt recognition at the district
    government (the state authority), not a chamber."""
    answers = _new_base()
    answers.update(
        {
            "consent": consent(language="fa"),
            "family_name": "Ahmadi",
            "given_names": "Zahra",
            "birth_date": "1990-09-01",
            "gender": "female",
            "nationalities": ["AF"],
            "birth_country": "IR",
            "languages": [
                {"language": "pes", "mother_tongue": True},
                {"language": "eng", "mother_tongue": False, "level": "B2"},
            ],
            "email": "z.ahmadi@example.org",
            "preferred_channel": "email",
            "entry_date": "2024-05-10",
            "residence_document": "aufenthaltserlaubnis",
            "legal_basis": "23",
            "residence_valid_from": "2024-05-20",
            "residence_valid_until": "2027-05-19",
            "work_permission": "erwerbstaetigkeit_erlaubt",
            "residence_obligation": True,
            "residence_obligation_place": "Bochum",
            "german_listening": "B1",
            "german_reading": "B1",
            "german_speaking": "B1",
            "german_writing": "B1",
            "has_german_certificate": True,
            "german_certificates": [
                {"certificate_type": "dtz", "certificate_level": "B1", "certificate_seen": True}
            ],
            "integration_course_basis": "entitlement",
            "integration_course_voucher_date": "2024-06-01",
            "integration_course": "general",
            "integration_course_status": "completed",
            "employment_status": "jobseeking",
            "qualifications": [
                {
                    "isced_level": "6",
                    "qualification_title": "Bachelor of Education (Mathematik)",
                    "qualification_country": "AF",
                    "certificate_held": "original",
                    "translation_available": True,
                    "field_text": "Lehramt Mathematik",
                    "field_kldb": "84124",
                    "regulated": "yes",
                    "reference_occupation": "Lehrerin Sekundarstufe I",
                    "recognition_status": "applied",
                    "recognition_body": "state_authority",
                    "recognition_applied_on": "2025-11-03",
                    "recognition_documents_deadline": "2026-04-30",
                    "recognition_funding": ["recognition_grant"],
                }
            ],
            "goal_type": "employment",
            "target_occupation": "84124",
        }
    )
    return answers


def ausbildungsduldung_60c() -> dict[str, Any]:
    """A Guinean trainee carpenter with an Ausbildungsduldung (§ 60c)."""
    answers = _new_base()
    answers.update(
        {
            "consent": consent(language="de"),
            "family_name": "Camara",
            "given_names": "Mamadou",
            "birth_date": "2003-03-15",
            "gender": "male",
            "nationalities": ["GN"],
            "birth_country": "GN",
            "languages": [
                {"language": "fuf", "mother_tongue": True},
                {"language": "fra", "mother_tongue": False, "level": "B2"},
            ],
            "entry_date": "2019-08-20",
            "residence_document": "ausbildungsduldung",
            "residence_valid_from": "2024-08-01",
            "residence_valid_until": "2027-07-31",
            "work_permission": "other_wording",
            "work_permission_text": "Nur Ausbildung zum Tischler bei Holzbau Schmitz GmbH erlaubt",
            "residence_obligation": True,
            "residence_obligation_place": "Hagen",
            "passport_status": "national_passport",
            "identity_clarified": "yes",
            "benefit_system": "none",
            "german_listening": "B1",
            "german_reading": "B1",
            "german_speaking": "B1",
            "german_writing": "A2",
            "employment_status": "training",
            "employment_hours": 39,
            "goal_type": "vocational_training",
            "target_occupation": "22342",
        }
    )
    return answers


def beschaeftigungsduldung_60d() -> dict[str, Any]:
    """An Iraqi warehouse worker with a Beschäftigungsduldung (§ 60d)."""
    answers = _new_base()
    answers.update(
        {
            "consent": consent(language="ar"),
            "family_name": "Hassan",
            "given_names": "Ali",
            "birth_date": "1989-12-01",
            "gender": "male",
            "nationalities": ["IQ"],
            "birth_country": "IQ",
            "languages": [
                {"language": "ara", "mother_tongue": True},
                {"language": "kmr", "mother_tongue": True},
            ],
            "entry_date": "2016-01-10",
            "residence_document": "beschaeftigungsduldung",
            "residence_valid_from": "2025-02-01",
            "residence_valid_until": "2027-07-31",
            "work_permission": "beschaeftigung_erlaubt",
            "residence_obligation": False,
            "passport_status": "national_passport",
            "identity_clarified": "yes",
            "benefit_system": "none",
            "employment_status": "employed",
            "employment_hours": 38,
            "goal_type": "employment",
            "target_occupation": "51312",
        }
    )
    return answers


def family_reunification_30() -> dict[str, Any]:
    """A Turkish wife joined her husband (§ 30); the extension is pending (§ 81 (4))."""
    answers = _new_base()
    answers.update(
        {
            "consent": consent(language="tr"),
            "family_name": "Yılmaz",
            "given_names": "Elif",
            "birth_date": "1997-05-05",
            "gender": "female",
            "nationalities": ["TR"],
            "birth_country": "TR",
            "languages": [{"language": "tur", "mother_tongue": True}],
            "entry_date": "2024-09-01",
            "residence_document": "fiktionsbescheinigung",
            "fiktion_paragraph": "81_4",
            "legal_basis": "30",
            "residence_valid_from": "2025-09-01",
            "residence_valid_until": "2026-06-01",
            "work_permission": "erwerbstaetigkeit_erlaubt",
            "residence_obligation": False,
            "pending_applications": ["extension"],
            "german_listening": "A2",
            "german_reading": "A2",
            "german_speaking": "A1",
            "german_writing": "A1",
            "has_german_certificate": True,
            "german_certificates": [
                {"certificate_type": "goethe", "certificate_level": "A1", "certificate_seen": True}
            ],
            "integration_course_basis": "obligation",
            "integration_course_voucher_date": "2024-10-15",
            "integration_course_waiting": True,
            "benefit_system": "none",
            "employment_status": "not_seeking",
            "goal_type": "employment",
            "target_occupation": "83112",
            "has_children": True,
            "children": [{"child_birth_month": "2025-03", "child_in_household": True}],
            "household_size": 3,
            "childcare_issue": True,
        }
    )
    return answers


def westbalkan_19c() -> dict[str, Any]:
    """A Kosovar scaffolder under the Westbalkanregelung (§ 19c with § 26 (2) BeschV)."""
    answers = _new_base()
    answers.update(
        {
            "family_name": "Krasniqi",
            "given_names": "Arben",
            "birth_date": "1992-10-10",
            "gender": "male",
            "nationalities": ["XK"],
            "birth_country": "YUCS",
            "languages": [
                {"language": "sqi", "mother_tongue": True},
                {"language": "srp", "mother_tongue": False, "level": "B1"},
            ],
            "entry_date": "2025-04-01",
            "residence_document": "aufenthaltserlaubnis",
            "legal_basis": "19c_westbalkan",
            "residence_valid_from": "2025-04-01",
            "residence_valid_until": "2027-03-31",
            "work_permission": "other_wording",
            "work_permission_text": "Beschäftigung nur als Gerüstbauer bei Firma X erlaubt",
            "residence_obligation": False,
            "benefit_system": "none",
            "employment_status": "employed",
            "employment_hours": 40,
            "goal_type": "employment",
            "target_occupation": "32162",
            "driving_licence": "foreign",
            "driving_licence_classes": ["B"],
        }
    )
    return answers


def trainee_16g() -> dict[str, Any]:
    """A young Nigerian nursing trainee with an Ausbildungsaufenthaltserlaubnis (§ 16g)."""
    answers = _new_base()
    answers.update(
        {
            "family_name": "Okafor",
            "given_names": "Chidinma",
            "birth_date": "2002-07-30",
            "gender": "female",
            "nationalities": ["NG"],
            "birth_country": "NG",
            "languages": [
                {"language": "ibo", "mother_tongue": True},
                {"language": "eng", "mother_tongue": False, "level": "C1"},
            ],
            "entry_date": "2020-02-01",
            "residence_document": "aufenthaltserlaubnis",
            "legal_basis": "16g",
            "residence_valid_from": "2025-09-01",
            "residence_valid_until": "2028-08-31",
            "work_permission": "other_wording",
            "work_permission_text": "Ausbildung zur Pflegefachfrau erlaubt",
            "residence_obligation": False,
            "benefit_system": "none",
            "german_listening": "B2",
            "german_reading": "B2",
            "german_speaking": "B2",
            "german_writing": "B1",
            "has_german_certificate": True,
            "german_certificates": [
                {"certificate_type": "dtb", "certificate_level": "B2", "certificate_seen": True}
            ],
            "employment_status": "training",
            "employment_hours": 38,
            "goal_type": "vocational_training",
            "target_occupation": "81302",
        }
    )
    return answers


def dublin_gestattung() -> dict[str, Any]:
    """An Eritrean asylum seeker with an Aufenthaltsgestattung in the Dublin procedure."""
    answers = _new_base()
    answers.update(
        {
            "interpreter_used": True,
            "interpreter_language": "tir",
            "consent": consent(interpreter=True),
            "family_name": "Ghebremedhin",
            "given_names": "Senait",
            "birth_date": "2000-01-01",
            "gender": "female",
            "nationalities": ["ER"],
            "birth_country": "ER",
            "languages": [{"language": "tir", "mother_tongue": True}],
            "entry_date": "2025-12-01",
            "residence_document": "aufenthaltsgestattung",
            "asylum_stage": "dublin",
            "residence_valid_from": "2026-01-10",
            "residence_valid_until": "2026-04-09",
            "work_permission": "erwerbstaetigkeit_nicht_gestattet",
            "residence_obligation": True,
            "residence_obligation_place": "Unna (Landeseinrichtung)",
            "passport_status": "no_passport_unreasonable",
            "identity_clarified": "unclear",
            "benefit_system": "asylblg",
            "benefit_body": "Bezirksregierung Arnsberg",
            "german_listening": "none",
            "german_reading": "none",
            "german_speaking": "none",
            "german_writing": "none",
            "latin_literate": False,
            "employment_status": "not_allowed",
            "target_occupation": "63302",
        }
    )
    del answers["has_german_certificate"]
    return answers


def ukrainian_continued() -> dict[str, Any]:
    """A Ukrainian whose § 24 permit printed 4 March 2026 continues by regulation."""
    answers = _new_base()
    answers.update(
        {
            "consent": consent(language="uk"),
            "family_name": "Shevchenko",
            "given_names": "Iryna",
            "birth_date": "1979-01-20",
            "gender": "female",
            "nationalities": ["UA"],
            "birth_country": "SUHH",
            "languages": [{"language": "ukr", "mother_tongue": True}],
            "entry_date": "2022-03-10",
            "residence_document": "aufenthaltserlaubnis",
            "legal_basis": "24",
            "residence_valid_from": "2024-03-04",
            "residence_valid_until": "2026-03-04",
            "residence_continued": True,
            "residence_continued_until": "2027-03-04",
            "work_permission": "erwerbstaetigkeit_erlaubt",
            "residence_obligation": False,
            "employment_status": "employed",
            "employment_hours": 30,
            "target_occupation": "72213",
        }
    )
    return answers


NEW_PERSONAS: dict[str, Callable[[], dict[str, Any]]] = {
    "eu_citizen": eu_citizen,
    "subsidiary_25_2": subsidiary_25_2,
    "admission_23": admission_23,
    "ausbildungsduldung_60c": ausbildungsduldung_60c,
    "beschaeftigungsduldung_60d": beschaeftigungsduldung_60d,
    "family_reunification_30": family_reunification_30,
    "westbalkan_19c": westbalkan_19c,
    "trainee_16g": trainee_16g,
    "dublin_gestattung": dublin_gestattung,
    "ukrainian_continued": ukrainian_continued,
}
