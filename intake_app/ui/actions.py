"""The main window's actions, registered by name.

Every feature adds its actions through :meth:`ActionRegistry.add` (the window's own, and
printing's "Drucken …"); an action is added once and never replaced from outside, and
two actions never share a shortcut, so a key always means one thing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QWidget

Shortcut = str | QKeySequence.StandardKey


class ActionRegistry:
    """Named ``QAction`` objects of one window."""

    def __init__(self, owner: QWidget) -> None:
        self._owner = owner
        self._actions: dict[str, QAction] = {}
        self._menus: dict[str, QMenu] = {}

    def add(
        self,
        key: str,
        text: str,
        *,
        shortcut: Shortcut = "",
        visible: bool = True,
        slot: Callable[[], object] | None = None,
    ) -> QAction:
        """Create and register the action ``key``; a second action of that name or with a
        shortcut already taken is a programming error."""
        if key in self._actions:
            raise ValueError(f"action {key!r} is registered already")
        action = QAction(text, self._owner)
        action.setObjectName(key)
        if shortcut:
            sequence = QKeySequence(shortcut)
            taken = self.key_of_shortcut(sequence)
            if taken is not None:
                raise ValueError(f"shortcut of {key!r} is taken by {taken!r}")
            action.setShortcut(sequence)
        action.setVisible(visible)
        if slot is not None:
            action.triggered.connect(lambda _checked=False: slot())
        self._actions[key] = action
        return action

    def key_of_shortcut(self, sequence: QKeySequence) -> str | None:
        """The name of the action that has ``sequence`` as its shortcut, if any."""
        if sequence.isEmpty():
            return None
        for key, action in self._actions.items():
            if sequence in action.shortcuts():
                return key
        return None

    def add_menu(self, key: str, menu: QMenu, actions: list[str | None]) -> QMenu:
        """Register ``menu`` under ``key`` and fill it (None: a separator)."""
        self._menus[key] = menu
        for name in actions:
            if name is None:
                menu.addSeparator()
            else:
                menu.addAction(self[name])
        return menu

    def place(self, key: str, menu: str, *, after: str | None = None) -> None:
        """Put the registered action ``key`` into the menu ``menu`` (after ``after``)."""
        target = self._menus[menu]
        entries = target.actions()
        if after is not None and after in self._actions and self[after] in entries:
            index = entries.index(self[after])
            if index + 1 < len(entries):
                target.insertAction(entries[index + 1], self[key])
                return
        target.addAction(self[key])

    def menu(self, key: str) -> QMenu:
        return self._menus[key]

    def __getitem__(self, key: str) -> QAction:
        return self._actions[key]

    def __contains__(self, key: object) -> bool:
        return key in self._actions

    def __iter__(self) -> Iterator[str]:
        return iter(self._actions)

    def keys(self) -> list[str]:
        return list(self._actions)
