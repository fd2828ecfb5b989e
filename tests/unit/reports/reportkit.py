"""Records for the report tests: a full intake of an invented person, as stored answers.

(A module with a unique name, not ``conftest``, so the UI tests can import it too.)
"""

from __future__ import annotations

import io
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pypdf import PdfReader

from intake_app.core.forms import Form, OrganisationConfig, load_shipped_forms
from intake_app.demo.data import complete_answers
from intake_app.reports.common import PrintContext, RecordSource

TODAY = date.today()
PRINTED_AT = datetime.now(UTC).astimezone()
RECORD_ID = "3f2a7c1e-5b7d-4c3e-9a1f-0123456789ab"
ARABIC_FAMILY = "الحسن"
ARABIC_GIVEN = "ليلى"
CYRILLIC_FAMILY = "Шевченко"
CYRILLIC_GIVEN = "Олена"
HEALTH_LABEL_DE = "Gesundheitliche Einschränkung"
HEALTH_LABEL_EN = "Health limitation"
INTERNAL_NOTE = "Interne Notiz Kanarienvogel 7311"
DEBTS_NOTE = "Schuldennotiz Zaunkönig 4482"


def consent(
    organisation: OrganisationConfig,
    *,
    art9: bool,
    language: str = "ar",
    refused: tuple[str, ...] = ("employer_service",),
) -> dict[str, Any]:
    """A complete consent block: every purpose decided, Art. 9 as asked."""
    return {
        "date": (TODAY - timedelta(days=20)).isoformat(),
        "language": language,
        "interpreter": True,
        "interpreter_language": "apc",
        "given_by": "person",
        "organisation": organisation.id,
        "text_version": organisation.text_version,
        "purposes": {
            pid: {"granted": pid not in refused, "withdrawn_on": None}
            for pid in organisation.purpose_ids
        },
        "art9": {
            "granted": art9,
            "withdrawn_on": None,
            # the person asked for the health flag on printouts (the Art. 9 text's promise)
            "print_requested_on": (TODAY - timedelta(days=20)).isoformat() if art9 else None,
        },
    }


def rich_answers(
    form: Form,
    organisation: OrganisationConfig,
    *,
    art9: bool = True,
    arabic: bool = True,
    expiring_in: int = 23,
) -> dict[str, Any]:
    """A recognised refugee with a nursing degree, two jobs, referrals and next steps."""
    intake = TODAY - timedelta(days=20)
    answers: dict[str, Any] = {
        "case_number": "KM01-2026-00042",
        "intake_date": intake.isoformat(),
        "counsellor_name": "Anna Beispiel",
        "office_site": "Köln-Mülheim",
        "access_route": "jobcenter",
        "counselling_form": "in_person",
        "interpreter_used": True,
        "interpreter_language": "apc",
        "consent": consent(organisation, art9=art9),
        "family_name": ARABIC_FAMILY if arabic else CYRILLIC_FAMILY,
        "given_names": ARABIC_GIVEN if arabic else CYRILLIC_GIVEN,
        "family_name_latin": "Al-Hassan" if arabic else "Shevchenko",
        "given_names_latin": "Layla" if arabic else "Olena",
        "birth_date": TODAY.replace(year=TODAY.year - 34).isoformat(),
        "gender": "female",
        "nationalities": ["SY"] if arabic else ["UA"],
        "birth_country": "SY" if arabic else "UA",
        "languages": [
            {"language": "ara" if arabic else "ukr", "mother_tongue": True},
            {"language": "eng", "mother_tongue": False, "level": "B1"},
        ],
        "municipality": "Köln",
        "municipality_ags": "05315000",
        "household_size": 3,
        "has_children": True,
        "children": [
            {
                "child_birth_date": (TODAY - timedelta(days=2400)).isoformat(),
                "child_in_household": True,
            }
        ],
        "residence_document": "aufenthaltserlaubnis",
        "legal_basis": "25_2_refugee" if arabic else "24",
        "residence_valid_from": (TODAY - timedelta(days=700)).isoformat(),
        "residence_valid_until": (TODAY + timedelta(days=expiring_in)).isoformat(),
        "work_permission": "erwerbstaetigkeit_gestattet",
        "residence_obligation": True,
        "residence_obligation_place": "Köln",
        "german_listening": "B1",
        "german_reading": "A2",
        "german_speaking": "B1",
        "german_writing": "A2",
        "has_german_certificate": False,
        "integration_course": "general",
        "integration_course_status": "running",
        "job_language_course": "none",
        "latin_literate": True,
        "school_years": 12,
        "qualifications": [
            {
                "isced_level": "6",
                "qualification_title": "Bachelor Krankenpflege",
                "qualification_country": "SY",
                "qualification_years": "4",
                "certificate_held": "copy",
                "translation_available": True,
                "field_text": "Krankenpflege",
                "regulated": "yes",
                "reference_occupation": "Pflegefachfrau",
                "recognition_status": "applied",
                "recognition_body": "state_authority",
                "recognition_applied_on": (TODAY - timedelta(days=60)).isoformat(),
                "recognition_grant": True,
            }
        ],
        "has_work_experience": True,
        "work_experience": [
            {
                "job_kldb": "81302",
                "job_title": "Krankenschwester im Stadtkrankenhaus",
                "job_country": "SY",
                "job_from": "2014-09-01",
                "job_current": False,
                "job_to": "2021-06-30",
                "job_sector": "health_social",
            },
        ],
        "goal_type": "employment",
        "target_occupation": "81302",
        "childcare_issue": True,
        "childcare_note": "Kita-Platz ab Herbst beantragt",
        "care_relatives": False,
        "housing_issue": False,
        "debts": True,
        "debts_note": DEBTS_NOTE,
        "transport_issue": False,
        "legal_risk": False,
        "documents_missing": True,
        "documents_missing_note": "Zeugnis der Oberschule fehlt",
        "existing_contacts": ["jobcenter", "iq"],
        "referrals": [
            {
                "service": "iq_recognition",
                "date": (TODAY - timedelta(days=15)).isoformat(),
                "purpose": "Anerkennung Pflege prüfen",
                "data_passed": ["identity", "education"],
                "consent_purpose": "recognition_counselling",
                "outcome": "appointment_made",
            },
            {
                "service": "language_course",
                "date": (TODAY - timedelta(days=10)).isoformat(),
                "purpose": "Berufssprachkurs B2",
                "outcome": "completed",
            },
        ],
        "plan_steps": [
            {
                "step": "Übersetzung der Zeugnisse einreichen",
                "deadline": (TODAY + timedelta(days=14)).isoformat(),
                "responsible": "person",
            },
            {
                "step": "Termin IQ-Beratung wahrnehmen",
                "deadline": (TODAY + timedelta(days=30)).isoformat(),
                "responsible": "person",
            },
        ],
        "next_appointment": (TODAY + timedelta(days=21)).isoformat(),
        "counsellor_notes": INTERNAL_NOTE,
    }
    if art9:
        answers["health_limitation"] = True
    if form.version != "2026.1":
        # the same person, moved to the newer version as a stored record would be
        registry = load_shipped_forms()
        answers = registry.upgrade(answers, form.id, "2026.1", form.version).answers
    state = complete_answers(
        form, answers, organisation=organisation, rng=random.Random(7), today=TODAY
    )
    assert state.complete, (state.missing_required, state.errors)
    return answers


def source(
    form: Form,
    answers: dict[str, Any],
    *,
    status: str = "complete",
    record_id: str = RECORD_ID,
    case_number: str = "KM01-2026-00042",
) -> RecordSource:
    """A record snapshot as the service would read it."""
    return RecordSource(
        record_id=record_id,
        case_number=case_number,
        status=status,
        revision=1,
        form=form,
        answers=answers,
        finalised_at=PRINTED_AT - timedelta(days=19),
        owner_name="berater",
    )


def context(organisation: OrganisationConfig, *, lang: str = "de") -> PrintContext:
    """Printed by a supervisor now."""
    return PrintContext(
        organisation=organisation, printed_by="Leitung Beispiel", printed_at=PRINTED_AT, lang=lang
    )


def pdf_text(data: bytes) -> list[str]:
    """The text of each page as pypdf extracts it."""
    return [page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages]
