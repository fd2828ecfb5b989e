"""The record page asks for a hand-over to another site (docs/security.md, "Hand-over
through the office"): the dialog lists the sites of the organisation file's hand-over
purpose, a consented case is queued and shows in the timeline, a case without consent is
refused with the reason and nothing is queued."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QDialog
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from intake_app.i18n import set_language
from intake_app.storage.models import OutboxItem
from intake_app.ui.crash_dialog import CrashDialog
from intake_app.ui.record_page import HandoverDialog, RecordPage
from tests.conftest import COUNSELLOR, ProfileFixture
from tests.e2e.test_handover_devices import consented_case, with_handover_purpose


def _choose(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    def run(dialog: HandoverDialog) -> int:
        index = dialog.recipient.findText(name)
        assert index >= 0, [dialog.recipient.itemText(i) for i in range(dialog.recipient.count())]
        dialog.recipient.setCurrentIndex(index)
        dialog.buttons.buttons()[0].click()
        assert dialog.result() == QDialog.DialogCode.Accepted
        return int(dialog.result())

    monkeypatch.setattr(HandoverDialog, "exec", run)


def _handover_items(ws) -> list[OutboxItem]:  # type: ignore[no-untyped-def]
    with ws.db.read() as session:
        return list(session.scalars(select(OutboxItem).where(OutboxItem.kind == "handover")).all())


def test_a_hand_over_is_asked_for_from_the_record_page(
    qtbot: QtBot, profile: ProfileFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_handover_purpose(profile.profile.root)
    shown: list[CrashDialog] = []

    def capture(dialog: CrashDialog) -> int:
        shown.append(dialog)
        return 0

    monkeypatch.setattr(CrashDialog, "exec", capture)
    ws = profile.sign_in(COUNSELLOR)
    try:
        refused_id = consented_case(ws, granted=False)
        record_id = consented_case(ws)
        # without consent: refused with the reason, nothing queued
        page = RecordPage(ws, refused_id)
        qtbot.addWidget(page)
        assert not page.handover_button.isHidden()
        _choose(monkeypatch, "Beratungsstelle Bonn (Beispiel)")
        page.handover_button.click()
        assert len(shown) == 1 and "nicht zugestimmt" in shown[0].message.what
        assert _handover_items(ws) == []
        # with consent: queued, and the timeline says so
        page = RecordPage(ws, record_id)
        qtbot.addWidget(page)
        page.handover_button.click()
        assert len(shown) == 1
        (item,) = _handover_items(ws)
        assert item.record_id == record_id and '"site_bonn"' in item.payload
        assert any(
            "Beratungsstelle Bonn (Beispiel) angefragt" in line for line in page.history_lines()
        )
        set_language("en")
        try:
            assert any("hand-over to" in line.lower() for line in page.history_lines())
        finally:
            set_language("de")
        # a second request while the first is on its way is refused
        page.handover_button.click()
        assert len(shown) == 2 and "schon unterwegs" in shown[1].message.what
    finally:
        ws.close()


def test_no_hand_over_button_without_a_hand_over_purpose(
    qtbot: QtBot, profile: ProfileFixture
) -> None:
    ws = profile.sign_in(COUNSELLOR)
    try:
        from tests.unit.followup.test_updates import case_with_plan

        page = RecordPage(ws, case_with_plan(ws))
        qtbot.addWidget(page)
        assert page.handover_button.isHidden()
    finally:
        ws.close()
