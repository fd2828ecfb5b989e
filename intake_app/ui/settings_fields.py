"""One input per declared setting: the widget follows the type, the limits are enforced.

A :class:`SettingField` shows the setting's description as its label (the label is the
input's buddy, so Alt+letter and screen readers find it), its help text below, and a
validation message in German when the value is not acceptable. Signals: ``changed()``.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from intake_app.core.settings import SettingSpec
from intake_app.errors import ValidationError
from intake_app.i18n import LANGUAGE_NAMES, _, ngettext

INT_LIMIT = 2_147_483_647  # QSpinBox holds a C int

#: a unit after a number takes the singular or the plural form of the number shown
PLURAL_SUFFIXES = {
    " Minuten": (" Minute", " Minuten"),
    " Tage": (" Tag", " Tage"),
    " Bytes": (" Byte", " Bytes"),
}


def _set_suffix(spin: QSpinBox, suffix: str) -> None:
    forms = PLURAL_SUFFIXES.get(suffix)
    if forms is None:
        spin.setSuffix(_(suffix))
    else:
        spin.setSuffix(ngettext(forms[0], forms[1], spin.value()))


class SettingField(QObject):
    """The input, label, help and error text for one setting.

    Args:
        spec: the declaration from :mod:`intake_app.core.settings`.
        value: the current value.
    """

    changed = Signal()

    def __init__(self, spec: SettingSpec, value: Any) -> None:
        super().__init__()
        self.spec = spec
        self.initial = value
        title = _(spec.description)
        help_text = _(spec.extra["help"]) if spec.extra.get("help") else ""
        self.label = QLabel(title)
        self.label.setWordWrap(True)
        self.label.setObjectName("fieldLabel")
        self.help = QLabel(help_text)
        self.help.setObjectName("muted")
        self.help.setWordWrap(True)
        self.help.setVisible(bool(help_text))
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.setVisible(False)
        self.error.setAccessibleName(_("Fehler bei „{label}“").format(label=title))
        self.input = self._build_input(spec)
        self.input.setObjectName(f"setting:{spec.key}")
        self.input.setAccessibleName(title)
        self.input.setAccessibleDescription(help_text)
        self.input.setToolTip(help_text)
        self.label.setBuddy(self.input)
        em = self.input.fontMetrics().horizontalAdvance("M")
        if isinstance(self.input, QSpinBox | QComboBox):
            self.input.setMaximumWidth(em * 18)
        elif isinstance(self.input, QLineEdit):
            self.input.setMaximumWidth(em * 48)
        if isinstance(self.input, QCheckBox):
            self.label.setVisible(False)  # the check box carries the text itself
        self.set_value(value)

        self.widget = QWidget()
        layout = QVBoxLayout(self.widget)
        layout.setContentsMargins(0, 0, 0, 8)
        layout.setSpacing(4)
        layout.addWidget(self.label)
        layout.addWidget(self.input)
        layout.addWidget(self.help)
        layout.addWidget(self.error)

    # -- building ----------------------------------------------------------------------

    def _build_input(self, spec: SettingSpec) -> QWidget:
        if spec.type is bool:
            box = QCheckBox(_(spec.description))
            box.toggled.connect(self._on_changed)
            return box
        if spec.type is int:
            spin = QSpinBox()
            spin.setRange(
                spec.minimum if spec.minimum is not None else -INT_LIMIT,
                spec.maximum if spec.maximum is not None else INT_LIMIT,
            )
            suffix = spec.extra.get("suffix")
            if suffix:
                _set_suffix(spin, suffix)
                spin.valueChanged.connect(lambda _v: _set_suffix(spin, suffix))
            spin.setSingleStep(int(spec.extra.get("step", 1)))
            spin.setGroupSeparatorShown(True)
            spin.setKeyboardTracking(False)
            spin.valueChanged.connect(self._on_changed)
            return spin
        if spec.choices:
            combo = QComboBox()
            for choice in spec.choices:
                combo.addItem(LANGUAGE_NAMES.get(choice, choice), choice)
            combo.currentIndexChanged.connect(self._on_changed)
            return combo
        if spec.multiline:
            text = QPlainTextEdit()
            text.setTabChangesFocus(True)
            text.textChanged.connect(self._on_changed)
            return text
        line = QLineEdit()
        if spec.extra.get("max_length"):
            line.setMaxLength(int(spec.extra["max_length"]))
        if spec.extra.get("format") == "url":
            line.setPlaceholderText("https://zentrale.example.de")
        line.textChanged.connect(self._on_changed)
        return line

    # -- value -------------------------------------------------------------------------

    def raw_value(self) -> Any:
        """What the input holds now, before validation."""
        widget = self.input
        if isinstance(widget, QCheckBox):
            return widget.isChecked()
        if isinstance(widget, QSpinBox):
            widget.interpretText()
            return widget.value()
        if isinstance(widget, QComboBox):
            return widget.currentData()
        if isinstance(widget, QPlainTextEdit):
            return widget.toPlainText()
        assert isinstance(widget, QLineEdit)
        return widget.text().strip()

    def set_value(self, value: Any) -> None:
        """Show ``value`` in the input."""
        widget = self.input
        if isinstance(widget, QCheckBox):
            widget.setChecked(bool(value))
        elif isinstance(widget, QSpinBox):
            widget.setValue(int(value))
        elif isinstance(widget, QComboBox):
            index = widget.findData(value)
            widget.setCurrentIndex(max(index, 0))
        elif isinstance(widget, QPlainTextEdit):
            widget.setPlainText(str(value or ""))
        elif isinstance(widget, QLineEdit):
            widget.setText(str(value or ""))

    def validate(self) -> Any:
        """The value converted and checked by the declaration; shows the message if not.

        Raises:
            ValidationError: with the German message that is also shown below the input.
        """
        try:
            value = self.spec.validate(self.raw_value())
        except ValidationError as exc:
            self.show_error(str(exc))
            raise
        self.show_error("")
        return value

    def show_error(self, message: str) -> None:
        """Show (or clear) the validation message and mark the input."""
        self.error.setText(message)
        self.error.setVisible(bool(message))
        self.input.setProperty("invalid", bool(message))
        self.input.setAccessibleDescription(
            message or (_(self.spec.extra["help"]) if self.spec.extra.get("help") else "")
        )
        style = self.input.style()
        style.unpolish(self.input)
        style.polish(self.input)

    @property
    def dirty(self) -> bool:
        """True when the input differs from the value it was opened with."""
        try:
            return self.spec.validate(self.raw_value()) != self.initial
        except ValidationError:
            return True

    def _on_changed(self, *_args: object) -> None:
        if self.error.isVisible():
            self.show_error("")
        self.changed.emit()
