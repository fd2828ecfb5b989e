"""The program announces the Linux desktop entry that packaging/linux ships."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from intake_app.ui.main import create_application

ROOT = Path(__file__).parents[2]


def test_the_application_names_its_desktop_file(qapp: QApplication) -> None:
    create_application()
    name = QGuiApplication.desktopFileName()
    assert name == "intake"
    entry = (ROOT / "packaging" / "linux" / f"{name}.desktop").read_text("utf-8")
    assert "\nIcon=intake\n" in entry
    assert not QGuiApplication.windowIcon().isNull()
