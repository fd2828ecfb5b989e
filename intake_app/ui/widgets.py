"""Small reusable widgets: password field, date field, headings, cards, form rows with
buddies, the OK/cancel button row of a dialog."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtGui import QAction, QFontMetrics, QIcon, QKeyEvent
from PySide6.QtWidgets import (
    QCalendarWidget,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QVBoxLayout,
    QWidget,
    QWidgetAction,
)

from intake_app.assets import resource_path
from intake_app.i18n import _
from intake_app.ui.a11y import LiveLabel


class PasswordField(QLineEdit):
    """A password input with a show/hide action; never logs or exposes its text."""

    def __init__(self, accessible_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setEchoMode(QLineEdit.EchoMode.Password)
        self.setAccessibleName(accessible_name)
        self.setInputMethodHints(
            Qt.InputMethodHint.ImhHiddenText
            | Qt.InputMethodHint.ImhNoPredictiveText
            | Qt.InputMethodHint.ImhSensitiveData
        )
        self._shown_icon = QIcon(str(resource_path("icons", "eye-off.svg")))
        self._hidden_icon = QIcon(str(resource_path("icons", "eye.svg")))
        self._toggle = QAction(self._hidden_icon, _("Passwort anzeigen"), self)
        self._toggle.setCheckable(True)
        self._toggle.setToolTip(_("Passwort anzeigen"))
        self._toggle.toggled.connect(self._on_toggled)
        self.addAction(self._toggle, QLineEdit.ActionPosition.TrailingPosition)

    def _on_toggled(self, shown: bool) -> None:
        self.setEchoMode(QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password)
        text = _("Passwort verbergen") if shown else _("Passwort anzeigen")
        self._toggle.setToolTip(text)
        self._toggle.setText(text)
        self._toggle.setIcon(self._shown_icon if shown else self._hidden_icon)


_DATE_PATTERNS = (
    re.compile(r"(?P<d>\d{1,2})[./](?P<m>\d{1,2})[./](?P<y>\d{4})"),
    re.compile(r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})"),
    re.compile(r"(?P<d>\d{2})(?P<m>\d{2})(?P<y>\d{4})"),
)


def parse_date(text: str) -> date | None:
    """Read a date typed as 01.04.1990, 1.4.1990, 1990-04-01 or 01041990."""
    text = text.strip()
    for pattern in _DATE_PATTERNS:
        match = pattern.fullmatch(text)
        if match:
            try:
                return date(int(match["y"]), int(match["m"]), int(match["d"]))
            except ValueError:
                return None
    return None


def _qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)


class DateField(QLineEdit):
    """A date typed as TT.MM.JJJJ (also 1.4.2026, 01042026 or 2026-04-01) or picked from a
    calendar (the button in the field or Alt+Down), as a date question of the interview.

    A QDateEdit takes no typed date as a whole (digits typed over its text do nothing) and
    changes its day on the mouse wheel; this is a text field like the interview's. It
    keeps the few calls of QDateEdit the dialogs use: :meth:`date` (a null QDate while the
    text is not a date), :meth:`setDate`, minimum and maximum; :meth:`problem` says what
    is wrong with the text, in words. ``optional``: an empty field means "no date"."""

    dateChanged = Signal(QDate)

    def __init__(self, value: QDate | None = None, *, optional: bool = False) -> None:
        super().__init__()
        self._optional = optional
        self._minimum = QDate(1900, 1, 1)
        self._maximum = QDate(9999, 12, 31)
        self.setPlaceholderText(_("TT.MM.JJJJ"))
        self.setMaxLength(10)
        self.setMaximumWidth(self.fontMetrics().horizontalAdvance("00.00.00000") + 60)
        self._calendar_action = QAction(
            QIcon(str(resource_path("icons", "calendar.svg"))),
            _("Kalender öffnen (Alt+Pfeil nach unten)"),
            self,
        )
        self._calendar_action.setToolTip(_("Kalender öffnen (Alt+Pfeil nach unten)"))
        self._calendar_action.triggered.connect(self.open_calendar)
        self.addAction(self._calendar_action, QLineEdit.ActionPosition.TrailingPosition)
        self.calendar = QCalendarWidget()
        self.calendar.setGridVisible(True)
        self.calendar.setFirstDayOfWeek(Qt.DayOfWeek.Monday)
        self._menu = QMenu(self)
        holder = QWidgetAction(self._menu)
        holder.setDefaultWidget(self.calendar)
        self._menu.addAction(holder)
        self.calendar.activated.connect(self._on_picked)
        self.calendar.clicked.connect(self._on_picked)
        self.textEdited.connect(self._on_text)
        if value is not None or not optional:
            self.setDate(value if value is not None else QDate.currentDate())

    # -- the calls of QDateEdit that the dialogs use ------------------------------------

    def date(self) -> QDate:
        """The date typed or picked; a null QDate when the text is empty or no date."""
        day = parse_date(self.text())
        return _qdate(day) if day is not None else QDate()

    def setDate(self, value: QDate) -> None:
        if value.isNull() or not value.isValid():
            self.clear()
            return
        self.setText(value.toString("dd.MM.yyyy"))
        self.dateChanged.emit(value)

    def setMinimumDate(self, value: QDate) -> None:
        self._minimum = value
        self.calendar.setMinimumDate(value)

    def minimumDate(self) -> QDate:
        return self._minimum

    def setMaximumDate(self, value: QDate) -> None:
        self._maximum = value
        self.calendar.setMaximumDate(value)

    def maximumDate(self) -> QDate:
        return self._maximum

    def is_empty(self) -> bool:
        return not self.text().strip()

    def problem(self) -> str:
        """What is wrong with the text, in words ("" when it is a date in range, or empty in
        an optional field)."""
        if self.is_empty():
            return "" if self._optional else _("Bitte ein Datum als TT.MM.JJJJ eingeben.")
        value = self.date()
        if value.isNull():
            return _("„{text}“ ist kein Datum; bitte als TT.MM.JJJJ eingeben.").format(
                text=self.text().strip()
            )
        if value < self._minimum:
            return _("Das Datum darf nicht vor dem {day} liegen.").format(
                day=self._minimum.toString("dd.MM.yyyy")
            )
        if value > self._maximum:
            return _("Das Datum darf nicht nach dem {day} liegen.").format(
                day=self._maximum.toString("dd.MM.yyyy")
            )
        return ""

    # -- calendar ------------------------------------------------------------------------

    def open_calendar(self) -> None:
        value = self.date()
        if not value.isNull():
            self.calendar.setSelectedDate(value)
        self._menu.popup(self.mapToGlobal(self.rect().bottomLeft()))
        self.calendar.setFocus()

    def _on_picked(self, value: QDate) -> None:
        self._menu.hide()
        self.setDate(value)
        self.setFocus()

    def _on_text(self, _text: str) -> None:
        value = self.date()
        if not value.isNull():
            self.dateChanged.emit(value)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Down and event.modifiers() & Qt.KeyboardModifier.AltModifier:
            self.open_calendar()
            event.accept()
            return
        super().keyPressEvent(event)


#: room beside a window's title for the window manager's icon and buttons, in pixels
TITLE_BUTTONS_ROOM = 140


def room_for_title(window: QWidget) -> None:
    """Make ``window`` at least as wide as its title (with the application name the window
    manager adds, in bold), so that the title is never cut ("Fall wieder er… nen")."""
    font = window.font()
    font.setBold(True)
    program = _("Intake")
    title = f"{window.windowTitle()} — {program}"
    width = QFontMetrics(font).horizontalAdvance(title) + TITLE_BUTTONS_ROOM
    window.setMinimumWidth(max(window.minimumWidth(), width))


def heading(text: str, *, kind: str = "title") -> QLabel:
    """A title or subtitle label (styled by object name)."""
    label = QLabel(text)
    label.setObjectName(kind)
    label.setWordWrap(True)
    label.setAccessibleName(text)
    return label


def card(*widgets: QWidget, margins: int = 24, width: int = 0) -> QFrame:
    """A white rounded panel holding ``widgets`` in a column (``width``: fixed width).

    A fixed width lets word-wrapped labels compute their height; a centred panel
    without one gets its narrow size hint and clips wrapped text.
    """
    frame = QFrame()
    if width:
        frame.setFixedWidth(width)
    frame.setObjectName("card")
    layout = QVBoxLayout(frame)
    layout.setContentsMargins(margins, margins, margins, margins)
    layout.setSpacing(12)
    for widget in widgets:
        layout.addWidget(widget)
    return frame


def add_row(form: QFormLayout, label: str, field: QWidget, *, accessible: str = "") -> QLabel:
    """Add a labelled row whose label is the field's buddy (Alt+letter focuses it)."""
    caption = QLabel(label)
    caption.setBuddy(field)
    field.setAccessibleName(accessible or label.replace("&", "").rstrip(":"))
    form.addRow(caption, field)
    return caption


def error_label() -> LiveLabel:
    """Where a dialog says what is wrong (read as its text and announced assertively)."""
    label = LiveLabel(assertive=True)
    label.setObjectName("error")
    label.setWordWrap(True)
    return label


def centred_column(inner: QWidget, *, width: int) -> QWidget:
    """Hold ``inner`` at a readable fixed width in the middle of a wide window."""
    host = QWidget()
    inner.setFixedWidth(width)
    layout = QHBoxLayout(host)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addStretch(1)
    layout.addWidget(inner)
    layout.addStretch(1)
    return host


def ok_cancel_buttons(
    dialog: QDialog,
    ok_text: str,
    *,
    on_accept: Callable[[], object] | None = None,
    cancel_text: str = "",
) -> QDialogButtonBox:
    """The dialog's button row: an OK button named for what it does, and "Abbrechen".

    ``on_accept`` runs instead of closing the dialog (for checks before ``accept``);
    cancel rejects the dialog.
    """
    buttons = QDialogButtonBox(
        QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
    )
    buttons.button(QDialogButtonBox.StandardButton.Ok).setText(ok_text)
    buttons.button(QDialogButtonBox.StandardButton.Cancel).setText(cancel_text or _("Abbrechen"))
    buttons.accepted.connect(on_accept if on_accept is not None else dialog.accept)
    buttons.rejected.connect(dialog.reject)
    return buttons
