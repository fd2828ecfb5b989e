"""The main window's action registry: one action per name, one meaning per shortcut."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QKeySequence
from pytestqt.qtbot import QtBot

from intake_app.ui.mainwindow import MainWindow
from tests.conftest import COUNSELLOR, ProfileFixture


def test_actions_are_registered_once_and_shortcuts_are_unique(
    qtbot: QtBot, profile: ProfileFixture
) -> None:
    ws = profile.sign_in(COUNSELLOR)
    window = MainWindow(ws, autolock_minutes=30)
    qtbot.addWidget(window)
    try:
        registry = window.actions_
        assert "print" in registry  # added by printing through the registry
        file_menu = registry.menu("file").actions()
        assert file_menu.index(registry["print"]) == file_menu.index(registry["new_intake"]) + 1
        with pytest.raises(ValueError, match="registered already"):
            registry.add("print", "again")
        with pytest.raises(ValueError, match="taken by 'overview'"):
            registry.add("other", "other", shortcut="Ctrl+U")
        seen: dict[str, str] = {}
        for key in registry:
            for sequence in registry[key].shortcuts():
                text = sequence.toString(QKeySequence.SequenceFormat.PortableText)
                assert text not in seen, f"{key} and {seen.get(text)} share {text}"
                seen[text] = key
        assert registry.key_of_shortcut(QKeySequence("Ctrl+N")) == "new_intake"
    finally:
        window.shutdown_pages()
        ws.close()
