"""Screens at 150 % font scale, 1366x768 and 1920x1080, plus an automatic audit.

QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/a11y_screenshots.py [OUTDIR]

OUTDIR defaults to build/a11y-screenshots; the pictures in docs/screenshots/a11y-*.png
were made with OUTDIR=docs/screenshots.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["INTAKE_LANG"] = "de"

from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "build/a11y-screenshots")
OUT.mkdir(parents=True, exist_ok=True)
PASSWORD = "Bildschirm-Foto-2026"
FINDINGS: list[str] = []


def settle(app: QApplication) -> None:
    for _ in range(6):
        app.processEvents()


def audit(name: str, root: QWidget) -> None:
    """Interactive widgets without a name; clipped labels and buttons."""
    for widget in root.findChildren(QWidget):
        if not widget.isVisibleTo(root) or widget.width() <= 1:
            continue
        cls = type(widget).__name__
        interactive = isinstance(
            widget,
            (
                QAbstractButton,
                QLineEdit,
                QComboBox,
                QAbstractSpinBox,
                QPlainTextEdit,
                QTextEdit,
                QAbstractItemView,
            ),
        )
        if interactive and widget.objectName().startswith("qt_"):
            interactive = False
        if interactive:
            has_text = (
                isinstance(widget, QAbstractButton) and widget.text().replace("&", "").strip()
            )
            if not widget.accessibleName() and not has_text:
                parent = widget.parentWidget()
                pname = type(parent).__name__ if parent else "-"
                FINDINGS.append(
                    f"{name}: {cls} '{widget.objectName()}' (in {pname}) has no accessible name"
                )
        if isinstance(widget, QAbstractButton) and widget.text():
            if widget.sizeHint().width() > widget.width() + 2:
                FINDINGS.append(
                    f"{name}: button '{widget.text()}' truncated "
                    f"({widget.width()} < {widget.sizeHint().width()})"
                )
        if isinstance(widget, QLabel) and widget.text() and widget.wordWrap():
            need = widget.heightForWidth(widget.width())
            if need > widget.height() + 3:
                FINDINGS.append(
                    f"{name}: label '{widget.text()[:50]}' clipped ({widget.height()} < {need})"
                )
        if isinstance(widget, QLabel) and widget.text() and not widget.wordWrap():
            if widget.sizeHint().width() > widget.width() + 3 and widget.pixmap().isNull():
                FINDINGS.append(
                    f"{name}: label '{widget.text()[:50]}' cut off "
                    f"({widget.width()} < {widget.sizeHint().width()})"
                )


def grab(
    name: str, widget: QWidget, size: tuple[int, int], app: QApplication, *, dialog_size=None
) -> None:
    if dialog_size == "natural":
        widget.adjustSize()
    elif dialog_size:
        widget.resize(*dialog_size)
    else:
        widget.resize(*size)
    widget.show()
    settle(app)
    suffix = f"{size[0]}x{size[1]}"
    path = OUT / f"a11y-{name}-{suffix}.png"
    widget.grab().save(str(path))
    audit(f"{name}@{suffix}", widget)
    print("wrote", path)


def main() -> int:
    from intake_app.ui.main import create_application
    from intake_app.ui.style import apply_style

    app = create_application()
    font = app.font()
    base = font.pointSizeF()
    font.setPointSizeF(base * 1.5)
    app.setFont(font)
    apply_style(app)
    print(f"font {base} -> {font.pointSizeF()} pt")

    from intake_app.app import Workspace
    from intake_app.demo.data import add_synthetic_intakes
    from intake_app.storage.profile import Profile
    from intake_app.storage.vault import KdfParams

    root = Path(tempfile.mkdtemp())
    profile = Profile(root / "p", kdf_params=KdfParams(1, 1, 8192))
    profile.create(
        admin_name="admin",
        admin_password=PASSWORD,
        display_name="Petra Neumann",
        site_name="Kommunales Integrationszentrum Köln, Mülheim",
    )
    admin = Workspace.sign_in(profile, username="admin", password=PASSWORD)
    admin.accounts.add_user(
        username="berater", role="counsellor", password=PASSWORD, display_name="Jonas Berger"
    )
    admin.accounts.add_user(
        username="leitung", role="supervisor", password=PASSWORD, display_name="Sabine Leitner"
    )
    c = Workspace.sign_in(profile, username="berater", password=PASSWORD)
    c.accounts.set_own_password(PASSWORD)
    add_synthetic_intakes(c, count=25, seed=7, complete_share=0.6)
    s = Workspace.sign_in(profile, username="leitung", password=PASSWORD)
    s.accounts.set_own_password(PASSWORD)
    from intake_app.storage.backup import create_backup

    create_backup(admin)

    from intake_app.storage.records import RecordQuery

    complete = [r.id for r in c.records.list(RecordQuery(status="complete"), limit=5)]

    for size in ((1366, 768), (1920, 1080)):
        from intake_app.ui.setup_wizard import SetupWizard

        wiz = SetupWizard(Profile(root / f"new-{size[0]}"))
        wiz.show()
        wiz.next()
        grab("setup-admin", wiz, size, app)
        wiz.hide()

        from intake_app.ui.login import LoginWindow

        login = LoginWindow(profile, username="berater")
        grab("login", login, size, app)
        login.hide()

        from intake_app.ui.mainwindow import MainWindow

        mw = MainWindow(c, autolock_minutes=60)
        grab("case-list", mw, size, app)
        mw._on_new_intake()
        settle(app)
        grab("interview", mw, size, app)
        page = mw.record_page
        try:
            page.show_section("residence")
            settle(app)
            grab("interview-residence", mw, size, app)
        except Exception as exc:
            print("section", exc)
        mw.open_record(complete[0])
        settle(app)
        grab("record", mw, size, app)
        mw.show_list()
        settle(app)

        from intake_app.ui.sync_window import SyncWindow

        sync = SyncWindow(c, mw)
        grab("sync", sync, size, app, dialog_size=(min(size[0], 1000), min(size[1], 720)))
        sync.hide()
        mw.lock.lock()
        settle(app)
        grab("locked", mw, size, app)
        mw.lock.stop()
        mw.hide()

        ms = MainWindow(s, autolock_minutes=60)
        try:
            ms.show_overview()
            settle(app)
            grab("overview", ms, size, app)
        except Exception as exc:
            print("overview", exc)
        ms.lock.stop()
        ms.hide()

        ma = MainWindow(admin, autolock_minutes=60)
        grab("admin-main", ma, size, app)
        from intake_app.ui.users_dialog import UsersDialog

        users = UsersDialog(admin, ma)
        grab("users", users, size, app, dialog_size=(min(size[0], 1000), min(size[1], 700)))
        users.hide()
        ma.lock.stop()
        ma.hide()

        from intake_app.ui.settings_window import SettingsWindow

        sw = SettingsWindow(admin, on_restore=lambda p: None)
        dsz = (min(size[0] - 80, 1100), min(size[1] - 80, 860))
        for index in range(sw.nav.count()):
            sw.nav.setCurrentRow(index)
            title = (
                sw.nav.item(index)
                .text()
                .lower()
                .replace(" ", "-")
                .replace("ü", "ue")
                .replace("ä", "ae")
            )
            grab(f"settings-{index}-{title}", sw, size, app, dialog_size=dsz)
        sw.organisation.tabs.setCurrentIndex(1)
        sw.nav.setCurrentRow(sw._page_of["organisation-file"])
        grab("settings-organisation-editor", sw, size, app, dialog_size=dsz)
        sw.hide()

        from intake_app.errors import ProfileError
        from intake_app.ui import errors as errors_module

        errors_module._restore_handler = lambda p: None
        errors_module._latest_backup_label = lambda: "24.11.2026, 09:12 Uhr"
        try:
            int("x")
        except ValueError as exc:
            bug = errors_module.create_dialog(None, exc)
        bug.toggle_button.setChecked(True)
        grab("crash-bug", bug, size, app, dialog_size="natural")
        bug.hide()
        corrupt = errors_module.create_dialog(
            None,
            ProfileError(
                "Die Datenbank ist beschädigt oder gehört nicht zu diesem Schlüssel. "
                "Stellen Sie die letzte Sicherung wieder her.",
                kind="corrupt",
            ),
        )
        grab("crash-corrupt", corrupt, size, app, dialog_size="natural")
        corrupt.hide()
        from intake_app.ui.settings_backup import RestoreDialog

        rd = RestoreDialog(profile, username="admin", reason="Die Datenbank ist beschädigt.")
        grab("restore", rd, size, app, dialog_size="natural")
        rd.hide()

    print("\n".join(sorted(set(FINDINGS))))
    for ws in (c, s, admin):
        ws.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
