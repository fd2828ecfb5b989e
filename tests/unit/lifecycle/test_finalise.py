"""Finalising is one operation with its completeness check, whoever calls it.

The window, the command line, the self-test and the demo data all go through
``RecordService.finalise``, and it asks the form engine itself: a record with a required
answer missing is refused and nothing changes.
"""

from __future__ import annotations

import random
from datetime import date

import pytest
from sqlalchemy import func, select

from intake_app.app import Workspace
from intake_app.core.forms.engine import evaluate
from intake_app.demo.data import generate
from intake_app.errors import ValidationError
from intake_app.i18n import current_language, set_language
from intake_app.storage.models import OutboxItem, RecordRevision
from tests.conftest import COUNSELLOR, ProfileFixture


def _counts(ws: Workspace, record_id: str) -> tuple[int, int]:
    with ws.db.read() as session:
        outbox = session.scalars(
            select(func.count()).where(OutboxItem.record_id == record_id)
        ).one()
        revisions = session.scalars(
            select(func.count()).where(RecordRevision.record_id == record_id)
        ).one()
    return int(outbox), int(revisions)


def test_an_incomplete_record_is_refused_and_stays_a_draft(profile: ProfileFixture) -> None:
    ws = profile.sign_in(COUNSELLOR)
    try:
        form = ws.current_form()
        answers = {"family_name": "Muster", "given_names": "Erika"}
        row = ws.records.create(form_id=form.id, form_version=form.version, answers=answers)
        with pytest.raises(ValidationError) as caught:
            ws.records.finalise(row.id, answers=answers)
        message = str(caught.value)
        assert "kann noch nicht abgeschlossen werden" in message
        state = evaluate(form, answers, organisation=ws.organisation)
        first_missing = form.question(state.missing_required[0].question_id).label("de")
        assert f"„{first_missing}“" in message  # names what is missing
        record = ws.records.get(row.id)
        assert record.status == "draft"
        assert _counts(ws, row.id) == (0, 0)  # no revision, nothing queued to send
    finally:
        ws.close()


def test_a_complete_record_is_finalised_and_queued(profile: ProfileFixture) -> None:
    ws = profile.sign_in(COUNSELLOR)
    try:
        form = ws.current_form()
        for seed in range(20):
            row = ws.records.create(form_id=form.id, form_version=form.version)
            answers, complete = generate(
                form,
                organisation=ws.organisation,
                rng=random.Random(seed),
                today=date.today(),
                complete=True,
                case_number=row.case_number,
            )
            if complete:
                break
        assert complete
        record = ws.records.finalise(row.id, answers=answers)
        assert record.status == "complete"
        assert _counts(ws, row.id) == (1, 1)
    finally:
        ws.close()


def test_the_refusal_is_in_english_too(profile: ProfileFixture) -> None:
    ws = profile.sign_in(COUNSELLOR)
    before = current_language()
    try:
        form = ws.current_form()
        answers = {"family_name": "Muster", "given_names": "Erika"}
        row = ws.records.create(form_id=form.id, form_version=form.version, answers=answers)
        set_language("en")
        with pytest.raises(ValidationError) as caught:
            ws.records.finalise(row.id, answers=answers)
        message = str(caught.value)
        assert message.startswith("The record cannot be finalised yet")
        state = evaluate(form, answers, organisation=ws.organisation)
        first_missing = form.question(state.missing_required[0].question_id).label("en")
        assert f"„{first_missing}“" in message
        assert ws.records.get(row.id).status == "draft"
    finally:
        set_language(before)
        ws.close()


def test_a_wrong_answer_is_refused_and_named(profile: ProfileFixture) -> None:
    """Complete but for one answer the form calls wrong: refused, the question named."""
    ws = profile.sign_in(COUNSELLOR)
    try:
        form = ws.current_form()
        row = ws.records.create(form_id=form.id, form_version=form.version)
        for seed in range(20):
            answers, complete = generate(
                form,
                organisation=ws.organisation,
                rng=random.Random(seed),
                today=date.today(),
                complete=True,
                case_number=row.case_number,
            )
            if complete:
                break
        assert complete
        answers["case_number"] = "not a case number"
        with pytest.raises(ValidationError) as caught:
            ws.records.finalise(row.id, answers=answers)
        assert f"„{form.question('case_number').label('de')}“" in str(caught.value)
        assert _counts(ws, row.id) == (0, 0)
    finally:
        ws.close()
