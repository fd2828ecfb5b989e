"""The counsellor's day driven as a person does: mouse clicks on links, the mouse wheel,
Tab sequences and key presses on real widgets (no calls into the page's methods)."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from datetime import date

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QStandardItemModel, QTextCursor, QTextDocument, QWheelEvent
from PySide6.QtWidgets import QApplication, QComboBox, QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from intake_app.core.display import answer_rows
from intake_app.ui.interview.inputs import (
    ComboChoiceInput,
    MultiChoiceInput,
    RadioChoiceInput,
    TextInput,
    YesNoInput,
)
from intake_app.ui.interview.page import REVIEW, InterviewPage
from intake_app.ui.interview.section_view import QuestionRow
from intake_app.ui.mainwindow import MainWindow
from tests.conftest import COUNSELLOR, ProfileFixture


@pytest.fixture
def window(qtbot: QtBot, profile: ProfileFixture, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(
        QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes)
    )
    ws = profile.sign_in(COUNSELLOR)
    win = MainWindow(ws, autolock_minutes=30)
    qtbot.addWidget(win)
    win.resize(1366, 768)
    win.show()
    win.activateWindow()
    qtbot.waitExposed(win)
    yield win
    win.shutdown_pages()
    ws.close()


def _focus_target(row: QuestionRow) -> QWidget:
    """The widget that takes the focus for a question's answer."""
    assert row.input is not None
    return row.input.focus_target()


def _new_by_keyboard(qtbot: QtBot, window: MainWindow) -> InterviewPage:  # type: ignore[no-untyped-def]
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    page = window.record_page
    assert isinstance(page, InterviewPage)
    QApplication.processEvents()
    return page


def _click_link(qtbot: QtBot, browser, text: str) -> None:  # type: ignore[no-untyped-def]
    """Click with the mouse on the link whose text is ``text`` in a QTextBrowser."""
    document = browser.document()
    found = document.find(text, 0, QTextDocument.FindFlag.FindCaseSensitively)
    while not found.isNull():
        probe = QTextCursor(found)
        probe.setPosition(found.selectionStart() + 1)
        if probe.charFormat().isAnchor():
            break
        found = document.find(text, found, QTextDocument.FindFlag.FindCaseSensitively)
    assert not found.isNull(), f"no link {text!r} on the page"
    cursor = QTextCursor(found)
    cursor.setPosition(found.selectionStart() + 1)
    browser.ensureCursorVisible()
    browser.setTextCursor(cursor)
    browser.ensureCursorVisible()
    rect = browser.cursorRect(cursor)
    point = rect.center()
    qtbot.mouseMove(browser.viewport(), point)
    qtbot.mouseClick(browser.viewport(), Qt.MouseButton.LeftButton, pos=point)


def _focus(qtbot: QtBot, widget: QWidget) -> None:  # type: ignore[no-untyped-def]
    widget.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is not None)


def test_review_links_jump_to_the_question(qtbot: QtBot, window: MainWindow) -> None:
    page = _new_by_keyboard(qtbot, window)
    qtbot.keyClick(page, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert page.current_section() == REVIEW
    qtbot.waitUntil(lambda: page.review.isVisible())
    # the link of a missing answer: a click opens its section with the question focused
    label = page.session.form.question("family_name").label("de")
    _click_link(qtbot, page.review, label)
    assert page.current_section() == "person"
    row = page.views["person"].rows[("family_name", ())]
    assert QApplication.focusWidget() is _focus_target(row)
    # the heading of a section links to the section
    qtbot.keyClick(page, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    rows = list(answer_rows(page.session.form, page.session.state, "de", include_special=True))
    section = rows[0].section_id
    _click_link(qtbot, page.review, page.session.form.section(section).label("de"))
    assert page.current_section() == section


def _wheel(widget: QWidget, steps: int = -3) -> None:
    """Turn the mouse wheel over ``widget`` (negative: towards the user, page down)."""
    centre = QPointF(widget.rect().center())
    event = QWheelEvent(
        centre,
        QPointF(widget.mapToGlobal(widget.rect().center())),
        QPoint(0, 0),
        QPoint(0, 120 * steps),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def test_wheel_over_a_drop_down_scrolls_the_page(qtbot: QtBot, window: MainWindow) -> None:
    window.resize(1000, 600)
    page = _new_by_keyboard(qtbot, window)
    _select_section(qtbot, page, "language")
    QApplication.processEvents()
    view = page.views["language"]
    row = view.rows[("integration_course", ())]
    assert isinstance(row.input, ComboChoiceInput)
    combo = row.input.combo
    page.nav.setFocus()
    bar = view.verticalScrollBar()
    assert bar.maximum() > 0, "the section must be longer than the window for this test"
    before = bar.value()
    _wheel(combo)
    line_edit = combo.lineEdit()
    assert line_edit is not None
    _wheel(line_edit)
    assert combo.currentIndex() == 0
    assert page.session.get("integration_course", ()) is None
    assert bar.value() > before  # the page scrolled instead
    # a field with the focus does not take the wheel either: the page scrolls on
    qtbot.mouseClick(line_edit, Qt.MouseButton.LeftButton)
    assert combo.hasFocus() or line_edit.hasFocus()
    bar.setValue(0)
    _wheel(combo)
    _wheel(line_edit)
    assert combo.currentIndex() == 0
    assert page.session.get("integration_course", ()) is None
    assert bar.value() > 0
    # the keyboard still changes the focused field
    qtbot.keyClick(combo, Qt.Key.Key_Down)
    assert combo.currentIndex() > 0


def test_wheel_over_a_focused_chosen_answer_keeps_it(qtbot: QtBot, window: MainWindow) -> None:
    """A drop-down whose answer was chosen keeps the focus; the wheel over it scrolls and
    neither changes nor clears the answer (report: a passport answer cleared by the wheel)."""
    window.resize(1000, 600)
    page = _new_by_keyboard(qtbot, window)
    _select_section(qtbot, page, "language")
    QApplication.processEvents()
    view = page.views["language"]
    combo = view.rows[("integration_course", ())].input.combo  # type: ignore[union-attr]
    combo.setFocus(Qt.FocusReason.MouseFocusReason)
    qtbot.keyClick(combo, Qt.Key.Key_Down)
    chosen = page.session.get("integration_course", ())
    index = combo.currentIndex()
    assert chosen is not None and index > 0
    assert combo.hasFocus()
    bar = view.verticalScrollBar()
    for steps in (3, -3, 3):  # up clears an answer of the first item, down moves on
        bar.setValue(bar.maximum() // 2)
        middle = bar.value()
        _wheel(combo, steps)
        assert combo.currentIndex() == index
        assert page.session.get("integration_course", ()) == chosen
        assert bar.value() != middle  # the page scrolled


def _select_section(qtbot: QtBot, page: InterviewPage, section_id: str) -> None:  # type: ignore[no-untyped-def]
    """Choose a section in the section list with the keyboard."""
    page.nav.setFocus()
    qtbot.keyClick(page.nav, Qt.Key.Key_Home)
    for _ in range(page.nav.count()):
        if page.current_section() == section_id:
            return
        qtbot.keyClick(page.nav, Qt.Key.Key_Down)
    assert page.current_section() == section_id


def test_value_fields_never_take_the_focus_from_the_wheel(qtbot: QtBot, window: MainWindow) -> None:
    page = _new_by_keyboard(qtbot, window)
    for section in page.session.sections():
        page.show_section(section.id)
    offenders = [
        f"{type(w).__name__} {w.objectName()}"
        for w in window.findChildren(QComboBox)
        if w.focusPolicy() == Qt.FocusPolicy.WheelFocus
    ]
    assert offenders == []


def test_a_new_intake_starts_on_its_first_question(qtbot: QtBot, window: MainWindow) -> None:
    page = _new_by_keyboard(qtbot, window)
    section = page.current_section()
    view = page.views[section]
    first = next(
        row
        for (qid, path), row in view.rows.items()
        if row.isVisible() and row.input is not None and page.session.get(qid, path) in (None, "")
    )
    assert QApplication.focusWidget() is _focus_target(first)


def _tab_walk(
    qtbot: QtBot, start: QWidget, stop: AbstractSet[QWidget], limit: int = 400
) -> list[QWidget]:
    """Press Tab from ``start`` until a widget of ``stop`` has the focus; the focus path."""
    start.setFocus(Qt.FocusReason.TabFocusReason)
    first = QApplication.focusWidget()
    assert first is not None, "nothing took the focus"
    path = [first]
    for _ in range(limit):
        qtbot.keyClick(path[-1], Qt.Key.Key_Tab)
        focus = QApplication.focusWidget()
        assert focus is not None, f"Tab left the window after {path[-5:]}"
        path.append(focus)
        if focus in stop:
            return path
    raise AssertionError(f"Tab never reached the navigation buttons: {path[-5:]}")


@pytest.mark.parametrize("fill_some", [False, True])
def test_tab_goes_through_every_section_then_to_the_navigation(
    qtbot: QtBot, window: MainWindow, fill_some: bool
) -> None:
    page = _new_by_keyboard(qtbot, window)
    if fill_some:  # repeat items added after the section was built
        _select_section(qtbot, page, "person")
        group = page.views["person"].groups[("languages", ())]
        qtbot.mouseClick(group.add_button, Qt.MouseButton.LeftButton)
        QApplication.processEvents()
    for section in [s.id for s in page.session.visible_sections()]:
        _select_section(qtbot, page, section)
        QApplication.processEvents()
        view = page.views[section]
        chain = [w for w in view.focus_chain() if w.isVisibleTo(page) and w.isEnabled()]
        assert chain, section
        stop = {page.prev_button, page.next_button}
        path = _tab_walk(qtbot, chain[0], stop)
        fields = path[:-1]
        outside = [w for w in fields if not view.isAncestorOf(w)]
        assert outside == [], f"{section}: Tab left the form early: {outside}"
        # every question of the section is on the way, in reading order
        positions = [fields.index(w) for w in chain if w in fields]
        assert positions == sorted(positions), section
        missing = [w for w in chain if w not in fields and not _radio_sibling(w, fields)]
        assert missing == [], f"{section}: {missing}"


def _radio_sibling(widget: QWidget, fields: list[QWidget]) -> bool:
    """An exclusive radio button that Tab passes as a group (arrows move inside it)."""
    group = getattr(widget, "group", lambda: None)()
    return group is not None and any(w in group.buttons() for w in fields)


def test_tab_from_a_new_repeat_item_stays_in_the_form(qtbot: QtBot, window: MainWindow) -> None:
    page = _new_by_keyboard(qtbot, window)
    _select_section(qtbot, page, "person")
    view = page.views["person"]
    group = view.groups[("languages", ())]
    qtbot.mouseClick(group.add_button, Qt.MouseButton.LeftButton)
    first = _focus_target(view.rows[("language", (0,))])
    assert QApplication.focusWidget() is first
    # Tab on from the new item's first field: into the item, then the next question
    street = _focus_target(view.rows[("address_street", ())])
    path = _tab_walk(qtbot, first, {street, page.language_button, page.back_button})
    assert path[-1] is street
    # typing a space in the field types a space and nothing else
    qtbot.keyClicks(street, "Hauptstr 1")
    qtbot.keyClick(street, Qt.Key.Key_Space)
    assert window.record_page is page
    assert page.current_section() == "person"
    assert page.session.get("address_street", ()) == "Hauptstr 1 "


def test_radio_clear_button_is_no_tab_stop_and_space_keeps_the_answer(
    qtbot: QtBot, window: MainWindow
) -> None:
    page = _new_by_keyboard(qtbot, window)
    _select_section(qtbot, page, "person")
    view = page.views["person"]
    radio = view.rows[("gender", ())].input
    assert isinstance(radio, RadioChoiceInput)
    button = next(iter(radio.buttons.values()))
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    chosen = page.session.get("gender", ())
    assert chosen is not None
    assert radio.clear_button.isVisible()
    # Tab from the chosen answer does not stop on the clear button; Space there keeps it
    button.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.keyClick(button, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is not radio.clear_button
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Space)
    assert page.session.get("gender", ()) == chosen
    # the keyboard way to "no answer": Delete on the chosen button
    button.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.keyClick(button, Qt.Key.Key_Delete)
    assert page.session.get("gender", ()) is None
    assert not button.isChecked()


def test_yes_no_clear_button_is_no_tab_stop(qtbot: QtBot, window: MainWindow) -> None:
    page = _new_by_keyboard(qtbot, window)
    for section in page.session.sections():
        page.show_section(section.id)
    for view in page.views.values():
        for row in view.rows.values():
            if isinstance(row.input, (YesNoInput, RadioChoiceInput)):
                assert not row.input.clear_button.focusPolicy() & Qt.FocusPolicy.TabFocus


def test_referral_consent_is_chosen_by_purpose_name(qtbot: QtBot, window: MainWindow) -> None:
    page = _new_by_keyboard(qtbot, window)
    org = page.ws.organisation
    # consent recorded for every purpose but the second
    refused = org.purposes[1]
    page.session.set(
        "consent",
        (),
        {
            "date": date.today().isoformat(),
            "language": "de",
            "interpreter": False,
            "purposes": {
                p.id: {"granted": p.id != refused.id, "withdrawn_on": None} for p in org.purposes
            },
            "art9": {"granted": False, "withdrawn_on": None},
        },
    )
    _select_section(qtbot, page, "plan")
    view = page.views["plan"]
    group = view.groups[("referrals", ())]
    qtbot.mouseClick(group.add_button, Qt.MouseButton.LeftButton)
    passed = view.rows[("data_passed", (0,))].input
    assert isinstance(passed, MultiChoiceInput)
    qtbot.mouseClick(next(iter(passed.boxes.values())), Qt.MouseButton.LeftButton)
    QApplication.processEvents()
    row = view.rows[("consent_purpose", (0,))]
    assert row.isVisible()
    combo = _focus_target(row)
    assert isinstance(combo, QComboBox)
    offered = [combo.itemText(i) for i in range(1, combo.count())]
    # by name; a purpose without consent is marked and cannot be chosen
    assert offered == [
        p.label("de") if p is not refused else f"{p.label('de')} – keine Einwilligung"
        for p in org.purposes
    ]
    assert not set(offered) & set(org.purpose_ids)
    model = combo.model()
    assert isinstance(model, QStandardItemModel)
    assert not model.item(2).isEnabled()
    assert model.item(1).isEnabled()
    # chosen with the keyboard as a person does: the id is stored, the name is shown
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key.Key_Down)
    QApplication.processEvents()
    stored = page.session.get("consent_purpose", (0,))
    assert stored == org.purposes[0].id
    assert combo.currentText() == org.purposes[0].label("de")


def _x_of(browser, text: str) -> int:  # type: ignore[no-untyped-def]
    """Where ``text`` starts on screen (its leftmost pixel) in a QTextBrowser."""
    found = browser.document().find(text)
    assert not found.isNull(), text
    start = QTextCursor(found)
    start.setPosition(found.selectionStart())
    end = QTextCursor(found)
    end.setPosition(found.selectionEnd())
    return min(browser.cursorRect(start).x(), browser.cursorRect(end).x())


def test_arabic_values_stand_beside_their_labels(qtbot: QtBot, window: MainWindow) -> None:
    page = _new_by_keyboard(qtbot, window)
    _select_section(qtbot, page, "person")
    for qid, text in (("family_name", "الحسن"), ("given_names", "ليلى")):
        field = page.views["person"].rows[(qid, ())].input
        assert isinstance(field, TextInput)
        edit = field.edit
        edit.setFocus()
        QApplication.sendEvent(edit, _input_method(text))  # typed through an input method
    assert page.session.get("family_name", ()) == "الحسن"
    qtbot.keyClick(page, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    review = page.review
    qtbot.waitUntil(review.isVisible)
    latin = _x_of(review, page.case_number)
    arabic = _x_of(review, "الحسن")
    assert abs(arabic - latin) < 40, (latin, arabic)
    # the header shows the name where a Latin name would stand, family name first
    assert page.name_label.alignment() & Qt.AlignmentFlag.AlignAbsolute
    # (a left-to-right mark first: laid out left to right although it starts in Arabic)
    assert page.name_label.text() == "\u200eالحسن, ليلى"


def _input_method(text: str):  # type: ignore[no-untyped-def]
    from PySide6.QtGui import QInputMethodEvent

    event = QInputMethodEvent()
    event.setCommitString(text)
    return event


def test_arabic_consent_text_is_right_aligned(qtbot: QtBot, window: MainWindow) -> None:
    from intake_app.ui.interview.consent import ConsentInput

    page = _new_by_keyboard(qtbot, window)
    _select_section(qtbot, page, "consent_section")
    consent = page.views["consent_section"].rows[("consent", ())].input
    assert isinstance(consent, ConsentInput)
    consent.language.setFocus()
    index = consent.language.findData("ar")
    for _ in range(index):
        qtbot.keyClick(consent.language, Qt.Key.Key_Down)
    assert consent.language.currentData() == "ar"
    labels = [label for label, _kind, _key in consent._client_labels]
    assert labels
    for label in labels:
        assert label.layoutDirection() == Qt.LayoutDirection.RightToLeft
        alignment = label.alignment()
        assert alignment & Qt.AlignmentFlag.AlignRight
        assert alignment & Qt.AlignmentFlag.AlignAbsolute  # not mirrored back to the left


def test_a_late_search_result_does_not_pull_back_from_the_overview(
    qtbot: QtBot, profile: ProfileFixture
) -> None:
    from intake_app.ui.overview import OverviewPage
    from tests.conftest import SUPERVISOR

    ws = profile.sign_in(SUPERVISOR)
    try:
        win = MainWindow(ws, autolock_minutes=30)
        qtbot.addWidget(win)
        win.show()
        assert win.cases is not None
        win.stack.setCurrentWidget(win.cases)
        qtbot.keyClicks(win.cases.search, "Me")  # starts the search a moment later
        win.actions_["overview"].trigger()
        qtbot.wait(1000)
        assert isinstance(win.stack.currentWidget(), OverviewPage)
        win.show_list()
        assert win.stack.currentWidget() is win.cases
    finally:
        ws.close()
