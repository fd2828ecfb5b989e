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

from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

from intake_app.i18n import set_language  # noqa: E402

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
        for name, build in SHOTS:
            widget = build(state)
            grab(widget, out / f"{name}{suffix}.png", (width, height))
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
    ws.accounts.add_user(username="berater", role="counsellor", password=PASSWORD,
                         display_name="Jonas Berger")
    ws.close()
    counsellor = Workspace.sign_in(state["profile"], username="berater", password=PASSWORD)  # type: ignore[arg-type]
    counsellor.accounts.set_own_password(PASSWORD)
    state["counsellor"] = counsellor
    return MainWindow(counsellor, autolock_minutes=10)


if __name__ == "__main__":
    sys.exit(main())
