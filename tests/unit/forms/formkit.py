"""Shared data of the form tests: a fixed date, a consent answer, four typical people.

(A module with a unique name, not ``conftest``, so that tests can import it safely.)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

TODAY = date(2026, 3, 2)
FIXTURES = Path(__file__).parent / "fixtures"


def consent(
    *,
    art9: bool = False,
    purposes: dict[str, bool] | None = None,
    language: str = "de",
    interpreter: bool = False,
) -> dict[str, Any]:
    """A complete consent answer for the default organisation."""
    decided = purposes or {
        "central_office": True,
        "jobcenter_language_course": True,
        "recognition_counselling": True,
        "employer_service": False,
    }
    return {
        "date": "2026-03-02",
        "language": language,
        "interpreter": interpreter,
        "interpreter_language": "ara" if interpreter else None,
        "given_by": "person",
        "organisation": "musterstadt_municipal",
        "text_version": "2026-01",
        "purposes": {
            name: {"granted": granted, "withdrawn_on": None} for name, granted in decided.items()
        },
        "art9": {"granted": art9, "withdrawn_on": None},
    }


def _base() -> dict[str, Any]:
    return {
        "case_number": "DO-2026-0042",
        "intake_date": "2026-03-02",
        "counsellor_name": "Anna Beispiel",
        "office_site": "Dortmund-Nord",
        "access_route": "jobcenter",
        "counselling_form": "in_person",
        "interpreter_used": False,
        "municipality": "Dortmund",
        "municipality_ags": "05913000",
        "household_size": 1,
        "has_children": False,
        "german_listening": "A2",
        "german_reading": "A2",
        "german_speaking": "A2",
        "german_writing": "A1",
        "has_german_certificate": False,
        "integration_course": "none",
        "job_language_course": "none",
        "latin_literate": True,
        "has_work_experience": False,
        "goal_type": "employment",
        "childcare_issue": False,
        "care_relatives": False,
        "housing_issue": False,
        "debts": False,
        "transport_issue": False,
        "legal_risk": False,
        "documents_missing": False,
    }


def refugee_nurse() -> dict[str, Any]:
    """A recognised refugee (§ 25 (2)) with a Syrian nursing degree that needs recognition."""
    answers = _base()
    answers.update(
        {
            "interpreter_used": True,
            "interpreter_language": "ara",
            "consent": consent(art9=True, interpreter=True, language="ar"),
            "family_name": "الحسن",
            "given_names": "ليلى",
            "family_name_latin": "Al-Hassan",
            "given_names_latin": "Layla",
            "birth_date": "1992-07-14",
            "gender": "female",
            "nationalities": ["SY"],
            "birth_country": "SY",
            "languages": [
                {"language": "ara", "mother_tongue": True},
                {"language": "eng", "mother_tongue": False, "level": "B1"},
            ],
            "residence_document": "aufenthaltserlaubnis",
            "legal_basis": "25_2_refugee",
            "residence_valid_from": "2024-01-10",
            "residence_valid_until": "2026-05-01",
            "work_permission": "erwerbstaetigkeit_gestattet",
            "residence_obligation": True,
            "residence_obligation_place": "Dortmund",
            "german_listening": "B1",
            "german_reading": "B1",
            "german_speaking": "B1",
            "german_writing": "A2",
            "has_german_certificate": True,
            "german_certificates": [
                {
                    "certificate_type": "dtz",
                    "certificate_level": "B1",
                    "certificate_date": "2025-06-20",
                    "certificate_seen": True,
                }
            ],
            "integration_course": "general",
            "integration_course_status": "completed",
            "lid_test": "passed",
            "job_language_course": "special_recognition",
            "job_language_course_status": "running",
            "job_language_course_office": "bamf",
            "qualifications": [
                {
                    "isced_level": "6",
                    "qualification_title": "Bachelor of Nursing",
                    "qualification_country": "SY",
                    "qualification_years": "4",
                    "certificate_held": "original",
                    "translation_available": True,
                    "field_text": "Gesundheits- und Krankenpflege",
                    "field_kldb": "81302",
                    "regulated": "yes",
                    "reference_occupation": "Pflegefachfrau",
                    "recognition_status": "advised",
                    "recognition_body": "state_authority",
                    "recognition_grant": True,
                }
            ],
            "has_work_experience": True,
            "work_experience": [
                {
                    "job_kldb": "81302",
                    "job_title": "Krankenschwester",
                    "job_country": "SY",
                    "job_from": "2014-09-01",
                    "job_current": False,
                    "job_to": "2019-06-30",
                    "job_sector": "health_social",
                }
            ],
            "target_occupation": "81302",
            "health_limitation": False,
            "existing_contacts": ["jobcenter", "iq"],
            "referrals": [
                {
                    "service": "iq_recognition",
                    "date": "2026-03-02",
                    "purpose": "Anerkennung Pflegefachfrau",
                    "data_passed": ["identity", "education"],
                    "consent_purpose": "recognition_counselling",
                    "outcome": "appointment_made",
                }
            ],
            "next_appointment": "2026-03-20",
        }
    )
    return answers


def student_16b() -> dict[str, Any]:
    """A student with a residence permit under § 16b."""
    answers = _base()
    answers.update(
        {
            "access_route": "self",
            "consent": consent(
                purposes={
                    "central_office": True,
                    "jobcenter_language_course": False,
                    "recognition_counselling": False,
                    "employer_service": True,
                }
            ),
            "family_name": "Nguyen",
            "given_names": "Minh Anh",
            "birth_date": "2001-11-03",
            "gender": "male",
            "nationalities": ["VN"],
            "birth_country": "VN",
            "languages": [
                {"language": "vie", "mother_tongue": True},
                {"language": "eng", "mother_tongue": False, "level": "C1"},
            ],
            "residence_document": "aufenthaltserlaubnis",
            "legal_basis": "16b",
            "residence_valid_from": "2025-10-01",
            "residence_valid_until": "2027-09-30",
            "work_permission": "other_wording",
            "work_permission_text": "Beschäftigung bis zu 140 ganze Tage im Jahr gestattet",
            "german_listening": "B2",
            "german_reading": "C1",
            "german_speaking": "B2",
            "german_writing": "B2",
            "has_german_certificate": True,
            "german_certificates": [
                {"certificate_type": "testdaf", "certificate_level": "B2", "certificate_seen": True}
            ],
            "qualifications": [
                {
                    "isced_level": "3",
                    "qualification_title": "Bằng tốt nghiệp THPT",
                    "qualification_country": "VN",
                    "certificate_held": "copy",
                    "regulated": "no",
                    "recognition_status": "decided",
                    "recognition_body": "zab",
                    "recognition_outcome": "full",
                }
            ],
            "goal_type": "study",
            "existing_contacts": ["school_university"],
            "school_name": "TU Dortmund",
        }
    )
    return answers


def duldung_no_documents() -> dict[str, Any]:
    """A person with a Duldung (§ 60a), no passport and no certificates."""
    answers = _base()
    answers.update(
        {
            "access_route": "auslaenderbehoerde",
            "consent": consent(
                purposes={
                    "central_office": True,
                    "jobcenter_language_course": False,
                    "recognition_counselling": False,
                    "employer_service": False,
                }
            ),
            "family_name": "Tesfaye",
            "given_names": "Abel",
            "birth_date": "1998-01-01",
            "gender": "male",
            "nationalities": ["unclear"],
            "birth_country": "ER",
            "languages": [
                {"language": "tir", "mother_tongue": True},
                {"language": "ara", "mother_tongue": False, "level": "A2"},
            ],
            "residence_document": "duldung",
            "asylum_stage": "rejected_final",
            "residence_valid_from": "2026-01-15",
            "residence_valid_until": "2026-04-15",
            "work_permission": "beschaeftigung_mit_erlaubnis",
            "residence_obligation": True,
            "residence_obligation_place": "Dortmund",
            "german_listening": "A1",
            "german_reading": "none",
            "german_speaking": "A1",
            "german_writing": "none",
            "latin_literate": False,
            "qualifications": [
                {
                    "isced_level": "3",
                    "qualification_title": "Secondary school",
                    "qualification_country": "ER",
                    "certificate_held": "none",
                    "regulated": "unclear",
                    "recognition_status": "not_started",
                    "qualification_analysis": True,
                }
            ],
            "has_work_experience": True,
            "work_experience": [
                {
                    "job_kldb": "32122",
                    "job_country": "ER",
                    "job_from": "2016-03-01",
                    "job_current": False,
                    "job_to": "2019-12-31",
                    "job_sector": "construction",
                }
            ],
            "target_occupation": "32122",
            "legal_risk": True,
            "legal_risk_note": "Duldung läuft im April ab",
            "documents_missing": True,
            "documents_missing_note": "Pass, Schulzeugnis",
        }
    )
    return answers


def ukrainian_24_children() -> dict[str, Any]:
    """A Ukrainian woman under § 24 with two children."""
    answers = _base()
    answers.update(
        {
            "access_route": "family_friends",
            "consent": consent(language="uk"),
            "family_name": "Коваленко",
            "given_names": "Олена",
            "family_name_latin": "Kovalenko",
            "given_names_latin": "Olena",
            "birth_date": "1988-04-22",
            "gender": "female",
            "nationalities": ["UA"],
            "birth_country": "UA",
            "languages": [
                {"language": "ukr", "mother_tongue": True},
                {"language": "rus", "mother_tongue": True},
            ],
            "household_size": 3,
            "has_children": True,
            "children": [
                {"child_birth_date": "2015-09-01", "child_in_household": True},
                {"child_birth_date": "2021-02-10", "child_in_household": True},
            ],
            "residence_document": "aufenthaltserlaubnis",
            "legal_basis": "24",
            "residence_valid_from": "2024-03-04",
            "residence_valid_until": "2027-03-04",
            "work_permission": "erwerbstaetigkeit_gestattet",
            "residence_obligation": False,
            "german_listening": "A2",
            "german_reading": "A2",
            "german_speaking": "A1",
            "german_writing": "A1",
            "integration_course": "general",
            "integration_course_status": "running",
            "qualifications": [
                {
                    "isced_level": "7",
                    "qualification_title": "Магістр економіки",
                    "qualification_country": "UA",
                    "certificate_held": "original",
                    "translation_available": False,
                    "field_text": "Wirtschaft",
                    "field_kldb": "72213",
                    "regulated": "no",
                    "recognition_status": "not_started",
                }
            ],
            "has_work_experience": True,
            "work_experience": [
                {
                    "job_kldb": "72213",
                    "job_country": "UA",
                    "job_from": "2012-09-01",
                    "job_current": False,
                    "job_to": "2022-02-23",
                }
            ],
            "target_occupation": "72213",
            "childcare_issue": True,
            "childcare_note": "Kita-Platz für die Jüngere fehlt",
            "existing_contacts": ["jobcenter"],
            "customer_number": "123A456789",
        }
    )
    return answers


PERSONAS: dict[str, Callable[[], dict[str, Any]]] = {
    "refugee_nurse": refugee_nurse,
    "student_16b": student_16b,
    "duldung_no_documents": duldung_no_documents,
    "ukrainian_24_children": ukrainian_24_children,
}
