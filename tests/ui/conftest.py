"""Fixtures for Qt tests: the application is styled like the real program."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication

from intake_app.ui.main import create_application
from intake_app.ui.ops import wait_for_all


@pytest.fixture(scope="session")
def qapp_cls() -> type[QApplication]:
    return QApplication


@pytest.fixture(autouse=True)
def _styled_app(qapp: QApplication) -> None:
    create_application()


@pytest.fixture(autouse=True)
def _drain_background_ops(qapp: QApplication):  # type: ignore[no-untyped-def]
    yield
    wait_for_all(30_000)
    qapp.processEvents()
