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


def test_the_outcomes_of_a_period_chosen_by_keyboard(
    qtbot: QtBot, supervisor_window: MainWindow
) -> None:
    """The period list above the outcome figures: reached with Alt+Z, chosen with the
    arrow keys; the figures are those of the period, cell by cell; a period of one's own
    ending before it starts is refused with a message and changes nothing."""
    import io
    from datetime import date

    from pypdf import PdfReader
    from PySide6.QtCore import QDate, Qt
    from PySide6.QtWidgets import QLabel

    from intake_app.figures.outcomes import Period
    from intake_app.figures.summary import build_summary
    from intake_app.reports.overview_sheet import overview_pdf

    window = supervisor_window
    close_cases(window.ws)
    window.actions_["overview"].trigger()
    page = window.overview
    assert isinstance(page, OverviewPage)
    wait_done(page.loading)
    page.tabs.setCurrentIndex(1)
    view = page.outcome_view
    chooser = view.chooser
    facts = window.ws.lifecycle.outcome_facts()

    def shown() -> dict[str, list[tuple[str, ...]]]:
        return {
            key: [
                tuple(
                    item.text() if (item := table.item(r, c)) else ""
                    for c in range(1, table.columnCount())
                )
                for r in range(table.rowCount())
            ]
            for key, table in view.tables.items()
        }

    def expected(period: Period) -> dict[str, list[tuple[str, ...]]]:
        summary = build_summary(facts, period=period)
        return {
            b.key: [tuple(c.replace(".", ",") for c in row.cells) for row in b.rows]
            for b in summary.blocks
        }

    assert page.outcomes is not None and page.outcomes.period == Period()
    everything = shown()
    assert everything == expected(Period())
    # every field has a name and a label with a mnemonic that reaches it
    buddies = {label.buddy(): label.text() for label in view.findChildren(QLabel) if label.buddy()}
    assert buddies[chooser.choice] == "&Zeitraum:"
    assert chooser.choice.accessibleName() == "Zeitraum der Ergebnisse"
    assert chooser.start.accessibleName() and chooser.end.accessibleName()
    window.activateWindow()
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(chooser.choice.hasFocus)
    # down once: this year, with the seven cases closed today
    qtbot.keyClick(chooser.choice, Qt.Key.Key_Down)
    year = date.today().year
    this_year = Period(date(year, 1, 1), date(year, 12, 31))
    assert chooser.choice.currentText() == f"Dieses Jahr ({year})"
    assert page.outcomes.period == this_year
    assert shown() == expected(this_year)
    assert shown()["months"][-1][1] == "7"
    assert view.shown_period.text() == f"Zeitraum: 01.01.{year} bis 31.12.{year}"
    assert page.overview is not None
    data = overview_pdf(page.overview, site="Köln", printed_by="Sabine", outcomes=page.outcomes)
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    assert f"Zeitraum: 01.01.{year} bis 31.12.{year}" in text
    # down again: last year, when nothing was closed
    qtbot.keyClick(chooser.choice, Qt.Key.Key_Down)
    last_year = Period(date(year - 1, 1, 1), date(year - 1, 12, 31))
    assert page.outcomes.period == last_year and shown() == expected(last_year)
    assert shown()["months"][-1][1] == "0"

    # a period of one's own: from the first intake on
    qtbot.keyClick(chooser.choice, Qt.Key.Key_End)
    assert chooser.start.isVisible() and chooser.apply_button.isVisible()
    first = min(f["intake"] for f in facts if f["intake"] is not None)
    chooser.start.setDate(QDate(first.year, first.month, first.day))
    chooser.end.setDate(QDate(first.year, first.month, first.day).addDays(-1))
    before = page.outcomes
    qtbot.mouseClick(chooser.apply_button, Qt.MouseButton.LeftButton)
    assert chooser.error.isVisible() and "endet vor seinem Anfang" in chooser.error.text()
    assert page.outcomes is before
    chooser.end.setDate(QDate(date.today().year + 1, 12, 31))
    chooser.end.setFocus()
    qtbot.keyClick(chooser.end, Qt.Key.Key_Return)
    assert not chooser.error.isVisible()
    own = Period(first, date(date.today().year + 1, 12, 31))
    assert page.outcomes.period == own
    assert shown() == expected(own)
    # from the first intake on: every case, the totals as without a period
    assert shown()["months"][-1][0] == everything["months"][-1][0]
