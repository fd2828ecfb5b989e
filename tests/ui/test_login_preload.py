"""The background load behind the log-in window (ui/preload.py, docs/architecture.md,
"Start-up"): started once however often it is asked for, joined by the sign-in, and a
failure of it fails the sign-in."""

from __future__ import annotations

import gc
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QObject, QPoint, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from intake_app.errors import AuthError
from intake_app.storage.profile import Profile
from intake_app.ui.login import LoginWindow, sign_in
from intake_app.ui.preload import Preloader

PASSWORD = "Vorlade-Passwort-2026"


def test_the_load_runs_once_however_often_it_is_started() -> None:
    runs: list[str] = []
    release = threading.Event()

    def load() -> None:
        runs.append(threading.current_thread().name)
        release.wait(30)

    loader = Preloader(load)
    assert not loader.started
    callers = [threading.Thread(target=loader.start) for _ in range(8)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    release.set()
    loader.join()
    loader.start()
    loader.join()
    assert runs == ["intake-load"]


def test_the_collector_pauses_during_the_load_and_runs_after_it() -> None:
    assert gc.isenabled()
    during: list[bool] = []
    Preloader(lambda: during.append(gc.isenabled())).join()
    assert during == [False]
    assert gc.isenabled()

    def broken() -> None:
        raise RuntimeError("the program could not be loaded")

    with pytest.raises(RuntimeError):
        Preloader(broken).join()
    assert gc.isenabled()


def test_join_starts_the_load_when_nobody_did() -> None:
    runs: list[int] = []
    loader = Preloader(lambda: runs.append(1))
    loader.join()
    assert loader.started and runs == [1]


def test_a_failed_load_fails_every_join() -> None:
    def load() -> None:
        import intake_app.no_such_module  # type: ignore[import-not-found]  # noqa: F401

    loader = Preloader(load)
    for _ in range(2):
        with pytest.raises(ModuleNotFoundError, match="no_such_module"):
            loader.join()


def test_sign_in_fails_with_the_loaders_failure(tmp_path: Path) -> None:
    profile = Profile(tmp_path / "p")
    profile.create(admin_name="admin", admin_password=PASSWORD)

    def broken() -> None:
        raise RuntimeError("the program could not be loaded")

    with pytest.raises(RuntimeError, match="could not be loaded"):
        sign_in(profile, username="admin", password=PASSWORD, loader=Preloader(broken))


def test_a_wrong_password_is_reported_as_such_even_when_the_load_failed(
    tmp_path: Path,
) -> None:
    profile = Profile(tmp_path / "p")
    profile.create(admin_name="admin", admin_password=PASSWORD)

    def broken() -> None:
        raise RuntimeError("the program could not be loaded")

    with pytest.raises(AuthError):
        sign_in(profile, username="admin", password="falsch-falsch-1", loader=Preloader(broken))


class _Seen(QObject):
    """Counts the wheel events that reach the language drop-down."""

    def __init__(self) -> None:
        super().__init__()
        self.wheels = 0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Wheel:
            self.wheels += 1
        return False


def test_the_log_in_window_starts_the_load_once_painted_and_keeps_its_rules(
    qtbot: QtBot, tmp_path: Path
) -> None:
    """While the program loads behind it, the log-in window's fields follow the rules of
    ui/rules.py: the wheel over the language drop-down changes nothing."""
    profile = Profile(tmp_path / "p")
    profile.create(admin_name="admin", admin_password=PASSWORD)
    release = threading.Event()

    def load() -> None:
        release.wait(30)  # still loading while the test turns the wheel

    loader = Preloader(load)
    login = LoginWindow(profile, loader=loader)
    qtbot.addWidget(login)
    assert not loader.started
    login.show()
    qtbot.waitUntil(lambda: loader.started, timeout=5000)
    try:
        combo = login.language
        before = combo.currentIndex()
        seen = _Seen()
        combo.installEventFilter(seen)
        centre = combo.rect().center()
        for delta in (-120, 120, -120):
            event = QWheelEvent(
                centre.toPointF(),
                combo.mapToGlobal(centre).toPointF(),
                QPoint(0, 0),
                QPoint(0, delta),
                Qt.MouseButton.NoButton,
                Qt.KeyboardModifier.NoModifier,
                Qt.ScrollPhase.NoScrollPhase,
                False,
            )
            QApplication.sendEvent(combo, event)
        assert seen.wheels == 0  # the application's filter took them first
        assert combo.currentIndex() == before
    finally:
        release.set()
        loader.join()
