"""Small reusable widgets: password field, headings, cards, form rows with buddies,
the OK/cancel button row of a dialog."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QDate, Qt
from PySide6.QtGui import QAction, QFontMetrics, QIcon, QKeyEvent
from PySide6.QtWidgets import (
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
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


class DateField(QDateEdit):
    """A date field (dd.MM.yyyy, with a calendar) that Tab leaves at once.

    A plain QDateEdit takes Tab for its own day, month and year, so one date costs three
    Tabs, and on its special value ("(kein Datum)") Tab only selects the text and the
    focus never leaves: a keyboard trap. Here Tab and Shift+Tab go to the next and the
    previous field as everywhere else; inside the date the arrow keys and the typed dot
    move between day, month and year."""

    def __init__(self, value: QDate | None = None) -> None:
        super().__init__(value if value is not None else QDate.currentDate())
        self.setCalendarPopup(True)
        self.setDisplayFormat("dd.MM.yyyy")

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab) and not (
            event.modifiers() & Qt.KeyboardModifier.ControlModifier
        ):
            forward = event.key() == Qt.Key.Key_Tab and not (
                event.modifiers() & Qt.KeyboardModifier.ShiftModifier
            )
            QWidget.focusNextPrevChild(self, forward)
            event.accept()
            return
        super().keyPressEvent(event)

    def focusNextPrevChild(self, forward: bool) -> bool:
        return QWidget.focusNextPrevChild(self, forward)


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
