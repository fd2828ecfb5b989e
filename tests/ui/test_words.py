"""Words on screen: plurals, the administrator's start page, placeholders that follow the
question language, chart labels that read what the bars show."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit, QSpinBox
from pytestqt.qtbot import QtBot

from intake_app.core.settings import SETTINGS
from intake_app.demo.data import add_synthetic_intakes
from intake_app.ui.interview.inputs import DateInput
from intake_app.ui.interview.page import InterviewPage
from intake_app.ui.interview.pickers import ReferenceInput
from intake_app.ui.mainwindow import MainWindow
from intake_app.ui.overview import consecutive_months, whole_number_ticks
from intake_app.ui.settings_fields import SettingField
from tests.conftest import ADMIN, COUNSELLOR, ProfileFixture


def test_one_minute_is_singular(qtbot: QtBot) -> None:
    spec = next(s for s in SETTINGS if s.key == "security.autolock_minutes")
    field = SettingField(spec, 10)
    spin = field.input
    assert isinstance(spin, QSpinBox)
    qtbot.addWidget(spin)
    spin.show()
    assert spin.text() == "10 Minuten"
    spin.setFocus()
    line = spin.findChild(QLineEdit)
    qtbot.keyClick(line, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(line, "1")
    qtbot.keyClick(line, Qt.Key.Key_Return)
    assert spin.value() == 1
    assert spin.text() == "1 Minute"


def test_administrator_is_not_told_there_are_no_intakes(
    qtbot: QtBot, profile: ProfileFixture
) -> None:
    counsellor = profile.sign_in(COUNSELLOR)
    add_synthetic_intakes(counsellor, count=3, seed=4)
    counsellor.close()
    ws = profile.sign_in(ADMIN)
    try:
        window = MainWindow(ws, autolock_minutes=30)
        qtbot.addWidget(window)
        window.show()
        assert window.stack.currentWidget() is window.empty
        assert window.empty.title.text() == "Verwaltung"
        assert "Noch keine Aufnahmen" not in {
            w.text() for w in window.empty.findChildren(type(window.empty.title))
        }
    finally:
        ws.close()


def test_search_placeholder_follows_the_question_language(
    qtbot: QtBot, profile: ProfileFixture
) -> None:
    ws = profile.sign_in(COUNSELLOR)
    try:
        window = MainWindow(ws, autolock_minutes=30)
        qtbot.addWidget(window)
        window.show()
        window.actions_["new_intake"].trigger()
        page = window.record_page
        assert isinstance(page, InterviewPage)
        page.show_section("person")
        picker = page.views["person"].rows[("nationalities", ())].input
        assert isinstance(picker, ReferenceInput)
        assert picker.edit.placeholderText() == "Tippen zum Suchen …"
        qtbot.mouseClick(page.language_button, Qt.MouseButton.LeftButton)
        assert page.session.lang == "en"
        assert picker.edit.placeholderText() == "Type to search …"
        birth = page.views["person"].rows[("birth_date", ())].input
        assert isinstance(birth, DateInput)
        assert birth.edit.placeholderText() == "DD.MM.YYYY"
        window.shutdown_pages()
    finally:
        ws.close()


def test_chart_ticks_are_whole_numbers_and_months_have_no_gaps() -> None:
    for top in range(0, 400):
        step, ticks = whole_number_ticks(top)
        assert 2 <= ticks <= 6
        assert step * (ticks - 1) >= max(top, 1)
        assert step in {f * 10**k for f in (1, 2, 5) for k in range(4)}
    assert whole_number_ticks(7) == (2, 5)  # 0, 2, 4, 6, 8: labels read the bars
    months = consecutive_months([("2025-11", {"draft": 1}), ("2026-02", {"complete": 2})])
    assert [m for m, _c in months] == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert months[1][1] == {}
