"""Rules of interaction that hold on every screen, installed once on the application.

- The mouse wheel scrolls the page and never changes a value. A drop-down, date or
  number field or slider under the pointer never takes the wheel, whether or not it has
  the keyboard focus: the wheel goes to the scroll area around it (or nowhere in a dialog
  without one), so an answer never changes while the counsellor scrolls past it (and
  autosave never stores such a change). The keyboard (arrow keys) still changes a
  focused field. The rule is an application-wide event filter, so every field of every
  window and dialog has it, including fields made later.
- Such fields never take the focus from the wheel alone (``WheelFocus`` becomes
  ``StrongFocus``), so a turn of the wheel does not first focus and then change them.
- Global shortcuts work whatever has the focus: when a text field would claim a key
  combination with Ctrl or Alt that is the shortcut of one of the window's actions (its
  own editing keys such as Ctrl+C, Ctrl+V or Ctrl+Z are none), the window's action wins.
  Typing without Ctrl or Alt always goes to the field, so typing never triggers a window
  action.
- Every window fits the screen and remembers its geometry (:mod:`intake_app.ui.geometry`).
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence, QShortcut, QWheelEvent
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QScrollBar,
    QWidget,
)

from intake_app.ui.geometry import managed, on_first_show, on_hide

_VALUE_WIDGETS = (QComboBox, QAbstractSpinBox, QAbstractSlider)


def changes_value_on_wheel(widget: QWidget) -> bool:
    """True for a field whose value a turn of the mouse wheel would change."""
    return isinstance(widget, _VALUE_WIDGETS) and not isinstance(widget, QScrollBar)


def _value_widget(widget: QWidget | None) -> QWidget | None:
    """The drop-down, spin box or slider that ``widget`` is (or is part of)."""
    while widget is not None and not widget.isWindow():
        if changes_value_on_wheel(widget):
            return widget
        widget = widget.parentWidget()
    return None


def _scroll_area(widget: QWidget) -> QAbstractScrollArea | None:
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QAbstractScrollArea) and not changes_value_on_wheel(parent):
            return parent
        if parent.isWindow():
            return None
        parent = parent.parentWidget()
    return None


def _portable(key: QKeySequence) -> str:
    return key.toString(QKeySequence.SequenceFormat.PortableText)


def _window_shortcuts(window: QWidget) -> set[str]:
    """The key sequences (portable text) of the window's actions and window-wide shortcuts."""
    keys: set[str] = set()
    for action in window.findChildren(QAction):
        if action.isEnabled() and action.shortcutContext() != Qt.ShortcutContext.WidgetShortcut:
            keys.update(_portable(k) for k in action.shortcuts() if not k.isEmpty())
    for shortcut in window.findChildren(QShortcut):
        if shortcut.isEnabled() and shortcut.context() != Qt.ShortcutContext.WidgetShortcut:
            if not shortcut.key().isEmpty():
                keys.add(_portable(shortcut.key()))
    return keys


class InteractionRules(QObject):
    """The application-wide event filter that applies the rules above."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind == QEvent.Type.Polish and isinstance(watched, QWidget):
            if (
                changes_value_on_wheel(watched)
                and watched.focusPolicy() == Qt.FocusPolicy.WheelFocus
            ):
                watched.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            return False
        if kind == QEvent.Type.Show and isinstance(watched, QWidget) and managed(watched):
            on_first_show(watched)
            return False
        if kind == QEvent.Type.Hide and isinstance(watched, QWidget) and managed(watched):
            on_hide(watched)
            return False
        if kind == QEvent.Type.Wheel and isinstance(watched, QWidget):
            return self._wheel(watched, event)  # type: ignore[arg-type]
        if kind == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent):
            return self._shortcut_override(watched, event)
        return False

    def _wheel(self, watched: QWidget, event: QWheelEvent) -> bool:
        field = _value_widget(watched)
        if field is None:
            return False
        area = _scroll_area(field)
        if area is not None:
            bar = area.verticalScrollBar()
            if event.angleDelta().y() == 0 or not bar.isVisible():
                bar = area.horizontalScrollBar()
            QCoreApplication.sendEvent(bar, event)
        event.accept()
        return True  # the field under the pointer keeps its value

    def _shortcut_override(self, watched: QObject, event: QKeyEvent) -> bool:
        modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if not modifiers & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier):
            return False  # plain typing belongs to the field
        if not isinstance(watched, QWidget):
            return False
        pressed = _portable(QKeySequence(event.keyCombination()))
        if pressed in _window_shortcuts(watched.window()):
            event.ignore()
            return True  # the field does not claim it: the shortcut runs
        return False


_RULES: InteractionRules | None = None


def install(app: QApplication) -> None:
    """Install the rules on ``app`` (once)."""
    global _RULES
    if _RULES is None:
        _RULES = InteractionRules(app)
        app.installEventFilter(_RULES)
