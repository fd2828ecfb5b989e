"""What a screen reader hears (EN 301 549 chapter 11; docs/accessibility.md).

- Text that changes is exposed as text: a :class:`LiveLabel`'s accessible name is always
  its current text, never a fixed word such as "Fehlermeldung" in front of it.
- Changes that matter are announced without moving the focus: errors assertively, save
  and sync states politely (``QAccessibleAnnouncementEvent``, Qt 6.8 and later).
"""

from __future__ import annotations

from PySide6.QtGui import QAccessible, QAccessibleAnnouncementEvent, QTextDocumentFragment
from PySide6.QtWidgets import QLabel, QWidget


def announce(widget: QWidget, text: str, *, assertive: bool = False) -> None:
    """Have screen readers say ``text`` (nothing when it is empty or no reader listens)."""
    if not text or not QAccessible.isActive():
        return
    event = QAccessibleAnnouncementEvent(widget, text)
    event.setPoliteness(
        QAccessible.AnnouncementPoliteness.Assertive
        if assertive
        else QAccessible.AnnouncementPoliteness.Polite
    )
    QAccessible.updateAccessibility(event)


class LiveLabel(QLabel):
    """A label whose changing text is read as itself and announced when it changes."""

    def __init__(
        self, text: str = "", *, assertive: bool = False, role: str = "", speak: bool = True
    ) -> None:
        super().__init__()
        self._assertive = assertive
        self._speak = speak  # False: the owner announces only the changes that matter
        if role:
            self.setAccessibleDescription(role)  # e.g. "Speicherstand": said after the text
        self.setText(text)

    def setText(self, text: str) -> None:
        changed = text != self.text()
        super().setText(text)
        self.setAccessibleName(_plain(text))
        if changed and self._speak:
            announce(self, _plain(text), assertive=self._assertive)

    def clear(self) -> None:
        self.setText("")


def _plain(text: str) -> str:
    if "<" not in text:
        return text
    return QTextDocumentFragment.fromHtml(text).toPlainText()
