"""The supervisor's overview (numbers open their lists) and erasure from the record view."""

from __future__ import annotations

import re

import pytest
from PySide6.QtCharts import QStackedBarSeries
from PySide6.QtWidgets import QDialog
from pytestqt.qtbot import QtBot

from intake_app.demo.data import add_synthetic_intakes
from intake_app.storage.records import RecordQuery
from intake_app.ui.erase_dialog import EraseDialog
from intake_app.ui.mainwindow import MainWindow
from intake_app.ui.overview import OverviewPage
from intake_app.ui.record_page import RecordPage
from tests.conftest import COUNSELLOR, SUPERVISOR, ProfileFixture
from tests.helpers.opening import open_record_now, overview_now, wait_done


@pytest.fixture
def supervisor_window(qtbot, profile: ProfileFixture):  # type: ignore[no-untyped-def]
    ws = profile.sign_in(SUPERVISOR)
    add_synthetic_intakes(ws, count=25, seed=8)
    window = MainWindow(ws, autolock_minutes=30)
    qtbot.addWidget(window)
    window.resize(1366, 768)
    window.show()
    yield window
    window.shutdown_pages()
    ws.close()


def test_overview_tiles_open_matching_lists(qtbot: QtBot, supervisor_window: MainWindow) -> None:
    window = supervisor_window
    window.actions_["overview"].trigger()
    page = window.overview
    assert isinstance(page, OverviewPage) and window.stack.currentWidget() is page
    wait_done(page.loading)  # counted in the background
    overview = page.overview
    assert overview is not None and sum(overview.by_status.values()) == 25
    series = page.chart.series()
    assert series and isinstance(series[0], QStackedBarSeries)
    assert series[0].count() == 3  # draft, complete, closed
    cases = window.cases
    assert cases is not None
    for key, expected in (
        ("open_referrals", overview.records_with_open_referrals),
        ("recognition_pending", overview.recognition_pending),
        ("expiring", overview.expiring_permits),
        ("draft", overview.by_status.get("draft", 0)),
    ):
        overview_now(window)
        page.tiles[key].click()
        assert window.stack.currentWidget() is cases
        assert cases.model.total == expected, key
    # the overview filter can be removed again
    overview_now(window)
    page.tiles["open_referrals"].click()
    assert cases.special_button.isVisible()
    cases.special_button.click()
    assert cases.model.total == 25


def test_counsellor_has_no_overview(qtbot: QtBot, profile: ProfileFixture) -> None:
    ws = profile.sign_in(COUNSELLOR)
    try:
        window = MainWindow(ws, autolock_minutes=30)
        qtbot.addWidget(window)
        assert not window.actions_["overview"].isVisible()
        window.close()
    finally:
        ws.close()


def test_erase_from_the_record_view(qtbot, supervisor_window: MainWindow, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    window = supervisor_window
    ws = window.ws
    record_id = ws.records.list(RecordQuery(status="complete"), limit=1)[0].id
    open_record_now(window, record_id)
    page = window.record_page
    assert isinstance(page, RecordPage)
    buttons = {b.text().replace("&", ""): b for b in page.findChildren(type(page.back_button))}
    assert "Löschen …" in buttons and "Auskunft exportieren …" in buttons

    def confirm(dialog: EraseDialog) -> int:
        ok = dialog.buttons.buttons()[0]
        assert not ok.isEnabled()  # nothing happens without the explicit confirmation
        dialog.confirm.setChecked(True)
        dialog.reason_box.setCurrentIndex(dialog.reason_box.findData("request"))
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(EraseDialog, "exec", confirm)
    buttons["Löschen …"].click()
    qtbot.waitUntil(lambda: window.record_page is None, timeout=20_000)  # in the background
    assert ws.records.id_for_case_number("nonexistent") is None
    assert record_id not in {s.id for s in ws.records.list(RecordQuery(), limit=100)}


def test_overview_sheet_has_numbers_and_no_names(
    qtbot: QtBot, supervisor_window: MainWindow
) -> None:
    import io

    from pypdf import PdfReader

    from intake_app.reports.overview_sheet import overview_pdf

    ws = supervisor_window.ws
    overview = ws.lifecycle.overview()
    data = overview_pdf(overview, site="Köln", printed_by="Sabine", lang="de")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    assert "Übersicht des Standorts" in text and "Köln" in text
    assert "Anerkennungsverfahren offen" in text
    names = {s.family_name for s in ws.records.list(RecordQuery(), limit=100)}
    assert not any(name and name in text for name in names)


def test_printing_is_installed_for_supervisors(qtbot: QtBot, supervisor_window: MainWindow) -> None:
    assert supervisor_window.printing is not None
    assert "print" in supervisor_window.actions_
    record_id = supervisor_window.ws.records.list(RecordQuery(status="complete"), limit=1)[0].id
    open_record_now(supervisor_window, record_id)
    page = supervisor_window.record_page
    assert isinstance(page, RecordPage)
    texts = {b.text() for b in page.findChildren(type(page.back_button))}
    assert "Zusammenfassung drucken …" in texts and "Einwilligungsbogen drucken …" in texts


def close_cases(ws) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Close seven of the finalised cases: six for employment (permanent, 39 hours), one
    because the person moved away. Returns the counts by hand."""
    from datetime import date

    from intake_app.core.followup import check_closure

    ids = [s.id for s in ws.records.list(RecordQuery(status="complete"), limit=100)]
    assert len(ids) >= 7
    today = date.today()
    for record_id in ids[:6]:
        ws.records.close_case(
            record_id,
            check_closure(
                on=today, reason="employment", kldb="81302", hours=39, contract="permanent"
            ),
        )
    ws.records.close_case(ids[6], check_closure(on=today, reason="moved_away"))
    return {"cases": len(ids), "closed": 7}


def test_overview_shows_the_outcomes_with_small_cells_hidden(
    qtbot: QtBot, supervisor_window: MainWindow
) -> None:
    from intake_app.figures.summary import build_summary

    window = supervisor_window
    counted = close_cases(window.ws)
    window.actions_["overview"].trigger()
    page = window.overview
    assert isinstance(page, OverviewPage)
    wait_done(page.loading)  # counted in the background
    page.tabs.setCurrentIndex(1)
    view = page.outcome_view
    reasons = view.tables["reasons"]

    def column(table, index: int = 1) -> dict[str, str]:  # type: ignore[no-untyped-def]
        return {
            table.item(r, 0).text(): table.item(r, index).text() for r in range(table.rowCount())
        }

    # 7 closed: 6 for employment would give the one who moved away away with the total
    assert column(reasons)["Arbeitsaufnahme"] == "x"
    assert column(reasons)["Umgezogen"] == "<5"
    assert column(reasons)["Insgesamt"] == "7"
    assert column(reasons)["Studium"] == "0"
    months = column(view.tables["months"])
    assert months["Insgesamt"] == str(counted["cases"])  # finalised intakes, no drafts
    assert column(view.tables["months"], 2)["Insgesamt"] == "7"
    # what the window shows is the summary of the site's facts, cell by cell
    summary = build_summary(window.ws.lifecycle.outcome_facts())
    for block in summary.blocks:
        table = view.tables[block.key]
        assert table.rowCount() == len(block.rows)
        for r, row in enumerate(block.rows):
            items = [table.item(r, c + 1) for c in range(len(row.cells))]
            assert tuple(i.text() if i else "" for i in items) == tuple(
                cell.replace(".", ",") for cell in row.cells
            )
    assert "weniger als 5" in view.legend.text()
    # the printed overview carries the same figures
    import io

    from pypdf import PdfReader

    from intake_app.reports.overview_sheet import overview_pdf

    assert page.overview is not None
    data = overview_pdf(page.overview, site="Köln", printed_by="Sabine", outcomes=page.outcomes)
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    assert "Ergebnisse der Begleitung" in text and "Gründe für das Fallende" in text
    assert re.search(r"Arbeitsaufnahme\s+x\s", text) and re.search(r"Umgezogen\s+<5\s", text)
