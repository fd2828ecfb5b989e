"""The rules of every screen, applied to the dialogs of a case after the intake (contact,
update, closing, reopening, consent withdrawal) and to the key dialogs (hand-over within
the site, access to every record): driven through the real widgets with Tab, the mouse
wheel and typing; what a screen reader reads through Qt's accessibility interface."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from functools import partial

import pytest
from PySide6.QtCore import QPoint, QPointF, QSettings, QSize, Qt
from PySide6.QtGui import QAccessible, QColor, QFontMetrics, QInputMethodEvent, QWheelEvent
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QWidget,
)
from pytestqt.qtbot import QtBot

from intake_app.app import Workspace
from intake_app.ui.a11y import LiveLabel
from intake_app.ui.followup_dialogs import (
    CloseCaseDialog,
    ContactDialog,
    ReopenDialog,
    UpdateDialog,
)
from intake_app.ui.key_dialogs import GrantSiteKeyDialog, MoveCaseDialog
from intake_app.ui.record_page import HandoverDialog, WithdrawConsentDialog
from intake_app.ui.widgets import DateField
from tests.conftest import SUPERVISOR, ProfileFixture

Maker = Callable[[], QDialog]


def new_dialogs(ws: Workspace, record_id: str) -> Iterator[tuple[str, Maker]]:
    """The dialogs added after the intake, each ready to be shown (also used by the window
    size test)."""
    record = ws.records.get(record_id)
    form = ws.form_for(record.form_id, record.form_version)
    answers = dict(record.answers)
    yield "contact", lambda: ContactDialog()
    yield "update", lambda: UpdateDialog(form, answers)
    yield "close case", lambda: CloseCaseDialog()
    yield "reopen", lambda: ReopenDialog()
    yield (
        "withdraw consent",
        lambda: WithdrawConsentDialog([("a", "Beratung"), ("b", "Vermittlung in Arbeit")]),
    )
    yield (
        "hand over to another site",
        lambda: HandoverDialog([("site_bonn", "Beratungsstelle Bonn"), ("site_aachen", "Aachen")]),
    )
    yield "move case", lambda: MoveCaseDialog(ws, record_id)
    yield "grant site key", lambda: GrantSiteKeyDialog(ws)


@pytest.fixture
def dialogs(profile: ProfileFixture) -> Iterator[list[tuple[str, Maker]]]:
    from tests.unit.followup.test_updates import case_with_plan

    ws = profile.sign_in(SUPERVISOR)
    try:
        record_id = case_with_plan(ws)
        yield list(new_dialogs(ws, record_id))
    finally:
        ws.close()


def _show(qtbot: QtBot, make: Maker) -> QDialog:
    dialog = make()
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.activateWindow()
    QApplication.processEvents()
    return dialog


def _inner(widget: QWidget) -> bool:
    """A part of another field (a date field's or drop-down's own line edit)."""
    parent = widget.parentWidget()
    return isinstance(parent, (QAbstractSpinBox, QComboBox))


def _tab_stops(dialog: QDialog) -> list[QWidget]:
    """What Tab should visit, in reading order: top to bottom, then left to right."""
    stops = [
        w
        for w in dialog.findChildren(QWidget)
        if w.focusPolicy() & Qt.FocusPolicy.TabFocus
        and w.isVisibleTo(dialog)
        and w.isEnabled()
        and not _inner(w)
    ]

    def centre(w: QWidget) -> QPoint:
        return w.mapTo(dialog, w.rect().center())

    # lines: widgets whose middles lie within half a widget's height of each other
    lines: list[list[QWidget]] = []
    for widget in sorted(stops, key=lambda w: centre(w).y()):
        if lines and abs(centre(widget).y() - centre(lines[-1][0]).y()) < widget.height() / 2:
            lines[-1].append(widget)
        else:
            lines.append([widget])
    return [w for line in lines for w in sorted(line, key=lambda w: centre(w).x())]


def _name(widget: QWidget) -> str:
    interface = QAccessible.queryAccessibleInterface(widget)
    assert interface is not None
    return interface.text(QAccessible.Text.Name)


def _labelled(dialog: QDialog, field: QWidget) -> bool:
    return any(label.buddy() is field for label in dialog.findChildren(QLabel))


def test_every_field_is_named_and_labelled(qtbot: QtBot, dialogs: list[tuple[str, Maker]]) -> None:
    problems = []
    for name, make in dialogs:
        dialog = _show(qtbot, make)
        for widget in _tab_stops(dialog):
            if not _name(widget).strip():
                problems.append(f"{name}: {type(widget).__name__} has no name")
            is_input = isinstance(widget, (QLineEdit, QComboBox, QAbstractSpinBox)) or (
                isinstance(widget, QAbstractItemView)
            )
            if is_input and not _labelled(dialog, widget):
                problems.append(f"{name}: {_name(widget)!r} has no label (Alt+letter)")
        # the Alt+letters of one dialog are all different
        letters: dict[str, str] = {}
        texts = [label.text() for label in dialog.findChildren(QLabel) if label.buddy()]
        texts += [b.text() for b in dialog.findChildren(QAbstractButton) if b.isVisibleTo(dialog)]
        for text in texts:
            if "&" in text.replace("&&", ""):
                letter = text.replace("&&", "")[text.replace("&&", "").index("&") + 1].lower()
                if letter in letters:
                    problems.append(f"{name}: Alt+{letter} is {letters[letter]!r} and {text!r}")
                letters[letter] = text
        # the place where it says what is wrong is read as its text and announced
        error = getattr(dialog, "error", None)
        if error is not None and not isinstance(error, LiveLabel):
            problems.append(f"{name}: its error text is not announced")
        dialog.close()
    assert problems == [], "\n".join(problems)


def _walk(qtbot: QtBot, dialog: QDialog, stops: list[QWidget]) -> list[QWidget]:
    stops[0].setFocus(Qt.FocusReason.TabFocusReason)
    path = [QApplication.focusWidget()]
    for _ in range(len(stops) - 1):
        current = QApplication.focusWidget()
        assert current is not None
        qtbot.keyClick(current, Qt.Key.Key_Tab)
        path.append(QApplication.focusWidget())
    return [w for w in path if w is not None]


def test_tab_goes_from_the_first_to_the_last_field_then_to_the_buttons(
    qtbot: QtBot, dialogs: list[tuple[str, Maker]]
) -> None:
    problems = []
    for name, make in dialogs:
        dialog = _show(qtbot, make)
        variants: list[Callable[[], None]] = [lambda: None]
        if isinstance(dialog, UpdateDialog):  # the fields change with what is updated
            variants += [
                partial(dialog.what.setCurrentIndex, n) for n in range(dialog.what.count())
            ]
        if isinstance(dialog, ContactDialog):  # the next appointment's date field
            variants.append(partial(dialog.has_next.setChecked, True))
        if isinstance(dialog, MoveCaseDialog):
            variants.append(partial(dialog.confirm.setChecked, True))
        for change in variants:
            change()
            QApplication.processEvents()
            stops = _tab_stops(dialog)
            buttons = [w for w in stops if w.parentWidget() is getattr(dialog, "buttons", None)]
            assert buttons and stops[-len(buttons) :] == buttons, f"{name}: buttons not last"
            path = _walk(qtbot, dialog, stops)
            if path != stops:
                problems.append(
                    f"{name}: {[_name(w) or type(w).__name__ for w in path]} instead of "
                    f"{[_name(w) or type(w).__name__ for w in stops]}"
                )
        dialog.close()
    assert problems == [], "\n".join(problems)


def _wheel(widget: QWidget) -> None:
    centre = QPointF(widget.rect().center())
    event = QWheelEvent(
        centre,
        QPointF(widget.mapToGlobal(widget.rect().center())),
        QPoint(0, 0),
        QPoint(0, -360),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def _value(widget: QWidget) -> object:
    if isinstance(widget, QComboBox):
        return widget.currentIndex()
    if isinstance(widget, QDateEdit):
        return widget.date().toString(Qt.DateFormat.ISODate)
    if isinstance(widget, QAbstractSpinBox):
        return widget.text()
    raise AssertionError(type(widget))


def test_the_wheel_never_changes_a_field_that_has_no_focus(
    qtbot: QtBot, dialogs: list[tuple[str, Maker]]
) -> None:
    changed = []
    for name, make in dialogs:
        dialog = _show(qtbot, make)
        buttons = dialog.findChild(QDialogButtonBox)
        assert buttons is not None, name
        buttons.buttons()[-1].setFocus()  # the focus on a button, the pointer over a field
        values = [
            w
            for w in dialog.findChildren(QWidget)
            if isinstance(w, (QComboBox, QAbstractSpinBox)) and w.isVisibleTo(dialog)
        ]
        for widget in values:
            if not widget.isEnabled():
                continue
            before = _value(widget)
            _wheel(widget)
            if _value(widget) != before:
                changed.append(f"{name}: {_name(widget)}")
        dialog.close()
    assert changed == []


def test_the_wheel_never_changes_a_field_that_has_the_focus(
    qtbot: QtBot, dialogs: list[tuple[str, Maker]]
) -> None:
    """The contact date scrolled from 06.12. to 04.12. while it had the focus: the wheel
    changes no field of a dialog, focused or not; the keyboard still does."""
    changed = []
    checked = 0
    for name, make in dialogs:
        dialog = _show(qtbot, make)
        if isinstance(dialog, ContactDialog):
            dialog.has_next.setChecked(True)
            QApplication.processEvents()
        values = [
            w
            for w in dialog.findChildren(QWidget)
            if isinstance(w, (QComboBox, QAbstractSpinBox)) and w.isVisibleTo(dialog)
        ]
        for widget in values:
            if not widget.isEnabled():
                continue
            widget.setFocus(Qt.FocusReason.MouseFocusReason)
            QApplication.processEvents()
            before = _value(widget)
            _wheel(widget)
            inner = widget.findChild(QLineEdit)
            if inner is not None:
                _wheel(inner)
            if _value(widget) != before:
                changed.append(f"{name}: {_name(widget)}")
            checked += 1
        dialog.close()
    assert changed == []
    assert checked >= 4


def _type_date(qtbot: QtBot, field: QWidget, text: str) -> None:
    """Click into a date field, delete what it shows and type ``text`` key by key."""
    qtbot.mouseClick(field, Qt.MouseButton.LeftButton, pos=QPoint(8, field.height() // 2))
    qtbot.keyClick(field, Qt.Key.Key_End)
    for _ in range(12):
        qtbot.keyClick(field, Qt.Key.Key_Backspace)
    qtbot.keyClicks(field, text)


def test_every_date_of_a_dialog_is_typed_as_day_month_year(
    qtbot: QtBot, dialogs: list[tuple[str, Maker]]
) -> None:
    """The contact date could not be typed (digits did nothing): every date field of the
    dialogs takes TT.MM.JJJJ typed, as a date question of the interview does."""
    day = date.today() - timedelta(days=3)
    problems = []
    checked = 0
    for name, make in dialogs:
        dialog = _show(qtbot, make)
        variants: list[Callable[[], None]] = [lambda: None]
        if isinstance(dialog, UpdateDialog):
            variants += [
                partial(dialog.what.setCurrentIndex, n) for n in range(dialog.what.count())
            ]
        if isinstance(dialog, ContactDialog):
            variants.append(partial(dialog.has_next.setChecked, True))
        for change in variants:
            change()
            QApplication.processEvents()
            fields = [
                w
                for w in dialog.findChildren(QWidget)
                if isinstance(w, (DateField, QDateEdit)) and w.isVisibleTo(dialog)
            ]
            for field in fields:
                if not field.isEnabled():
                    continue
                for typed in (day.strftime("%d.%m.%Y"), day.strftime("%d%m%Y")):
                    _type_date(qtbot, field, typed)
                    got = field.date()  # type: ignore[attr-defined]
                    if (got.year(), got.month(), got.day()) != (day.year, day.month, day.day):
                        problems.append(f"{name}: {_name(field)} typed {typed!r} reads {got}")
                checked += 1
        dialog.close()
    assert problems == [], "\n".join(problems)
    assert checked >= 6


def _luminance(colour: QColor) -> float:
    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    return (
        0.2126 * channel(colour.redF())
        + 0.7152 * channel(colour.greenF())
        + 0.0722 * channel(colour.blueF())
    )


def _contrast(a: QColor, b: QColor) -> float:
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@pytest.mark.parametrize("editable", [False, True])
def test_the_highlighted_entry_of_a_drop_down_list_is_readable(
    qtbot: QtBot, editable: bool
) -> None:
    """The highlighted entry of a drop-down's open list was an empty white box: it is
    drawn on the highlight colour, with its text in a readable contrast (WCAG AA)."""
    combo = QComboBox()
    combo.setEditable(editable)
    combo.addItems(["Deutsch", "Englisch", "العربية (Arabisch)", "Türkçe (Türkisch)"])
    combo.setCurrentIndex(1)
    qtbot.addWidget(combo)
    combo.show()
    qtbot.waitExposed(combo)
    combo.showPopup()
    view = combo.view()
    qtbot.waitUntil(view.isVisible)
    view.setCurrentIndex(combo.model().index(1, 0))
    QApplication.processEvents()
    image = view.viewport().grab().toImage()
    rect = view.visualRect(combo.model().index(1, 0)).intersected(image.rect())
    y = rect.center().y()
    background = image.pixelColor(rect.right() - 4, y)
    assert _contrast(background, QColor("white")) > 3, background.name()  # highlighted
    row = [
        image.pixelColor(x, yy)
        for x in range(rect.left(), rect.right())
        for yy in range(rect.top() + 2, rect.bottom() - 1)
    ]
    best = max(_contrast(background, colour) for colour in row)
    assert best >= 4.5, f"the text of the highlighted entry is not readable ({best:.1f}:1)"
    combo.hidePopup()


def test_typing_german_and_arabic_only_types(
    qtbot: QtBot, dialogs: list[tuple[str, Maker]]
) -> None:
    problems = []
    for name, make in dialogs:
        dialog = _show(qtbot, make)
        edits = [
            w
            for w in dialog.findChildren(QLineEdit)
            if w.isVisibleTo(dialog) and w.isEnabled() and not _inner(w)
        ]
        for edit in edits:
            edit.setFocus()
            edit.clear()
            qtbot.keyClicks(edit, "Gr")  # key by key (QTest types ASCII only)
            for text in ("üße", " aus Köln"):  # as a German keyboard layout sends them
                _commit(edit, text)
            qtbot.keyClick(edit, Qt.Key.Key_Space)
            _commit(edit, "مرحبا")  # typed through an Arabic keyboard layout
            expected = "Grüße aus Köln مرحبا"[: edit.maxLength()]
            if edit.text() != expected:
                problems.append(f"{name}: {_name(edit)} reads {edit.text()!r}")
            if not dialog.isVisible() or dialog.result() != 0:
                problems.append(f"{name}: typing in {_name(edit)} closed the dialog")
        dialog.close()
    assert problems == [], "\n".join(problems)


def _commit(edit: QLineEdit, text: str) -> None:
    event = QInputMethodEvent()
    event.setCommitString(text)
    QApplication.sendEvent(edit, event)


def test_each_dialog_opens_again_at_the_size_it_was_left(
    qtbot: QtBot, dialogs: list[tuple[str, Maker]]
) -> None:
    wrong = []
    for name, make in dialogs:
        first = _show(qtbot, make)
        # a size of her own (within the offscreen screen of 800x600, which restoring keeps)
        first.resize(first.minimumSizeHint() + QSize(37, 23))
        size = (first.width(), first.height())
        first.hide()
        assert QSettings().value(f"windows/{type(first).__name__}"), name  # base64 text
        second = _show(qtbot, make)
        if (second.width(), second.height()) != size:
            wrong.append(f"{name}: {size} -> {(second.width(), second.height())}")
        second.close()
    assert wrong == []


def test_each_title_has_room(qtbot: QtBot, dialogs: list[tuple[str, Maker]]) -> None:
    """Seen on a real display: "Fall wieder er… nen — Intake" in a dialog narrower than
    its title with the window manager's buttons."""
    cut = []
    for name, make in dialogs:
        dialog = _show(qtbot, make)
        font = dialog.font()
        font.setBold(True)
        title = QFontMetrics(font).horizontalAdvance(f"{dialog.windowTitle()} — Intake")
        if dialog.width() < title + 100:
            cut.append(f"{name}: {dialog.width()} px for a title of {title} px")
        dialog.close()
    assert cut == [], "\n".join(cut)
