"""Render the README screenshots (German, 1366x768) into docs/screenshots/.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshots.py [--size 1920x1080]

Uses a throw-away profile in a temporary folder; nothing real is touched.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["INTAKE_LANG"] = os.environ.get("INTAKE_LANG", "de")

from PySide6.QtWidgets import QApplication, QWidget

from intake_app.i18n import set_language

OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
PASSWORD = "Bildschirm-Foto-2026"
SHOTS: list[tuple[str, Callable[..., QWidget]]] = []


def shot(name: str) -> Callable[[Callable[..., QWidget]], Callable[..., QWidget]]:
    def register(fn: Callable[..., QWidget]) -> Callable[..., QWidget]:
        SHOTS.append((name, fn))
        return fn

    return register


def grab(widget: QWidget, path: Path, size: tuple[int, int]) -> None:
    widget.resize(*size)
    widget.show()
    app = QApplication.instance()
    assert app is not None
    for _ in range(5):
        app.processEvents()
    widget.grab().save(str(path))
    print(f"wrote {path}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="1366x768")
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--lang", default="de")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    set_language(args.lang)
    from intake_app.ui.main import create_application

    create_application()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.size == "1366x768" else f"-{args.size}"
    with tempfile.TemporaryDirectory() as tmp:
        state: dict[str, object] = {"root": Path(tmp)}
        keep: list[QWidget] = []  # Qt windows stay alive until the end (no GC mid-run)
        for name, build in SHOTS:
            widget = build(state)
            keep.append(widget)
            grab(widget, out / f"{name}{suffix}.png", (width, height))
            widget.hide()
    return 0


@shot("01-setup-admin")
def _setup(state: dict[str, object]) -> QWidget:
    from intake_app.storage.profile import Profile
    from intake_app.ui.setup_wizard import SetupWizard

    profile = Profile(Path(state["root"]) / "profile")  # type: ignore[arg-type]
    wizard = SetupWizard(profile)
    wizard.show()  # a QWizard starts on its first page only once it is shown
    wizard.next()
    wizard.admin.display_name.setText("Petra Neumann")
    wizard.admin.site.setText("Kommunales Integrationszentrum Köln, Mülheim")
    wizard.admin.password.setText(PASSWORD)
    wizard.admin.repeat.setText(PASSWORD)
    state["wizard"] = wizard
    state["profile"] = profile
    return wizard


@shot("02-setup-recovery-key")
def _recovery(state: dict[str, object]) -> QWidget:
    wizard = state["wizard"]
    wizard.next()  # type: ignore[attr-defined]
    return wizard  # type: ignore[return-value]


@shot("03-login")
def _login(state: dict[str, object]) -> QWidget:
    from intake_app.ui.login import LoginWindow

    state["wizard"].hide()  # type: ignore[attr-defined]
    return LoginWindow(state["profile"], username="admin")  # type: ignore[arg-type]


@shot("04-main-window-empty")
def _main(state: dict[str, object]) -> QWidget:
    from intake_app.app import Workspace
    from intake_app.ui.mainwindow import MainWindow

    ws = Workspace.sign_in(state["profile"], username="admin", password=PASSWORD)  # type: ignore[arg-type]
    ws.accounts.add_user(
        username="berater", role="counsellor", password=PASSWORD, display_name="Jonas Berger"
    )
    ws.close()
    counsellor = Workspace.sign_in(state["profile"], username="berater", password=PASSWORD)  # type: ignore[arg-type]
    counsellor.accounts.set_own_password(PASSWORD)
    state["counsellor"] = counsellor
    return MainWindow(counsellor, autolock_minutes=10)


def _supervisor_window(state: dict[str, object]) -> QWidget:
    """A main window of a supervisor with 60 synthetic intakes (built once)."""
    if "supervisor_window" not in state:
        from intake_app.app import Workspace
        from intake_app.demo.data import add_synthetic_intakes
        from intake_app.ui.mainwindow import MainWindow

        profile = state["profile"]
        ws = Workspace.sign_in(profile, username="admin", password=PASSWORD)  # type: ignore[arg-type]
        ws.accounts.add_user(
            username="leitung", role="supervisor", password=PASSWORD, display_name="Sabine Leitner"
        )
        ws.close()
        sup = Workspace.sign_in(profile, username="leitung", password=PASSWORD)  # type: ignore[arg-type]
        sup.accounts.set_own_password(PASSWORD)
        add_synthetic_intakes(sup, count=60, seed=11)
        state["supervisor_window"] = MainWindow(sup, autolock_minutes=60)
    return state["supervisor_window"]  # type: ignore[return-value]


@shot("05-case-list")
def _case_list(state: dict[str, object]) -> QWidget:
    return _supervisor_window(state)


@shot("06-interview-section")
def _interview(state: dict[str, object]) -> QWidget:
    from intake_app.storage.records import RecordQuery

    window = _supervisor_window(state)
    ws = window.ws  # type: ignore[attr-defined]
    draft = ws.records.list(RecordQuery(status="draft"), limit=1)[0].id
    window.open_record(draft)  # type: ignore[attr-defined]
    window.record_page.show_section("residence")  # type: ignore[attr-defined]
    return window


@shot("07-review-page")
def _review(state: dict[str, object]) -> QWidget:
    window = _supervisor_window(state)
    window.record_page.show_section("__review__")  # type: ignore[attr-defined]
    return window


@shot("08-record-view")
def _record_view(state: dict[str, object]) -> QWidget:
    from intake_app.storage.records import RecordQuery

    window = _supervisor_window(state)
    ws = window.ws  # type: ignore[attr-defined]
    done = ws.records.list(RecordQuery(status="complete"), limit=1)[0].id
    window.open_record(done)  # type: ignore[attr-defined]
    return window


@shot("09-overview")
def _overview(state: dict[str, object]) -> QWidget:
    window = _supervisor_window(state)
    window.show_overview()  # type: ignore[attr-defined]
    return window


@shot("10-sync-window")
def _sync(state: dict[str, object]) -> QWidget:
    from intake_app.ui.sync_window import SyncWindow

    window = _supervisor_window(state)
    window.show_list()  # type: ignore[attr-defined]
    return SyncWindow(window.ws, window)  # type: ignore[attr-defined]


if __name__ == "__main__":
    sys.exit(main())
