"""The desktop program starts on what its first screen needs (docs/architecture.md,
"Imports inside functions"): the migration tool only when a migration is due, the PDF
library when printing, the HTTP client when syncing, nothing of the office's server.

Each check runs in a fresh interpreter, so modules other tests loaded do not count.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from intake_app.storage.profile import Profile

#: Packages the first screen and the signed-in main window must not load.
NOT_AT_START = ("alembic", "reportlab", "httpx", "uvicorn", "starlette", "psycopg")

PASSWORD = "Start-Passwort-2026"


def _loaded_after(code: str, *args: str) -> list[str]:
    probe = (
        "import json, sys\n"
        + code
        + "\nprint(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run(
        [sys.executable, "-c", probe, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=True,
    )
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert "intake_app" in loaded
    return sorted(set(loaded) & set(NOT_AT_START))


def test_importing_the_gui_entry_point_loads_no_heavy_package() -> None:
    assert _loaded_after("import intake_app.cli\nimport intake_app.ui.main") == []


def test_the_check_sees_a_heavy_package() -> None:
    assert "reportlab" in _loaded_after("import intake_app.ui.main\nimport reportlab.platypus")


def test_signing_in_on_a_current_profile_loads_no_heavy_package(tmp_path: Path) -> None:
    Profile(tmp_path / "p").create(admin_name="admin", admin_password=PASSWORD)
    code = (
        "from pathlib import Path\n"
        "from intake_app.ui.main import create_application\n"
        "from intake_app.app import Workspace\n"
        "from intake_app.storage.profile import Profile\n"
        "from intake_app.ui.mainwindow import MainWindow\n"
        "app = create_application()\n"
        "ws = Workspace.sign_in(Profile(Path(sys.argv[1])), username='admin',"
        " password=sys.argv[2])\n"
        "window = MainWindow(ws)\n"
        "window.show()\n"
        "app.processEvents()\n"
        "assert window.isVisible()\n"
    )
    assert _loaded_after(code, str(tmp_path / "p"), PASSWORD) == []


def _modules_after(code: str, *args: str) -> set[str]:
    probe = "import json, sys\n" + code + "\nprint(json.dumps(sorted(sys.modules)))\n"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run(
        [sys.executable, "-c", probe, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=True,
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


SHOW_LOGIN = (
    "from pathlib import Path\n"
    "from intake_app.storage.profile import Profile\n"
    "from intake_app.ui.controller import AppController\n"
    "from intake_app.ui.main import create_application\n"
    "app = create_application()\n"
    "controller = AppController(Profile(Path(sys.argv[1])))\n"
    "controller.start()\n"
    "app.processEvents()\n"
    "assert controller.window is not None and controller.window.isVisible()\n"
)


def test_the_log_in_window_shows_without_the_database_stack(tmp_path: Path) -> None:
    """The log-in window is built and shown without SQLAlchemy or the main window; once it
    is painted they load in the background, before anyone signs in (docs/architecture.md,
    "Start-up")."""
    Profile(tmp_path / "p").create(admin_name="admin", admin_password=PASSWORD)
    code = (
        "import time\n"
        "from pathlib import Path\n"
        "from intake_app.storage.profile import Profile\n"
        "from intake_app.ui.controller import AppController\n"
        "from intake_app.ui.main import create_application\n"
        "app = create_application()\n"
        "controller = AppController(Profile(Path(sys.argv[1])))\n"
        "controller.start()\n"
        "assert controller.window is not None and controller.window.isVisible()\n"
        "assert not controller.loader.started\n"
        "print(json.dumps(sorted(sys.modules)))\n"
        "deadline = time.monotonic() + 120\n"
        "while not controller.loader.started and time.monotonic() < deadline:\n"
        "    app.processEvents()\n"
        "    time.sleep(0.01)\n"
        "controller.loader.join()\n"
        "assert type(controller.window).__name__ == 'LoginWindow'\n"
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run(
        [sys.executable, "-c", "import json, sys\n" + code + _PRINT_MODULES, str(tmp_path / "p")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=True,
    )
    shown, loaded = (set(json.loads(line)) for line in done.stdout.strip().splitlines()[-2:])
    assert "intake_app.ui.login" in shown
    stack = {
        "sqlalchemy",
        "sqlalchemy.orm",
        "intake_app.app",
        "intake_app.ui.mainwindow",
        "intake_app.storage.vault",  # the vault and its cryptography load with the sign-in
        "cryptography",
    }
    assert stack & shown == set()
    assert stack <= loaded  # loaded while nobody has signed in
    # nor what only an error, a lock or a second language needs
    assert {"intake_app.ui.crash_dialog", "filelock", "asyncio", "babel.messages"} & (
        shown
    ) == set()


_PRINT_MODULES = "\nprint(json.dumps(sorted(sys.modules)))\n"


def test_signing_in_through_the_log_in_window_opens_the_main_window(tmp_path: Path) -> None:
    Profile(tmp_path / "p").create(admin_name="admin", admin_password=PASSWORD)
    code = SHOW_LOGIN + (
        "import time\n"
        "login = controller.window\n"
        "login.username.setText('admin')\n"
        "login.password.setText(sys.argv[2])\n"
        "login.sign_in_button.click()\n"
        "deadline = time.monotonic() + 120\n"
        "while controller.main_window is None and time.monotonic() < deadline:\n"
        "    app.processEvents()\n"
        "    time.sleep(0.01)\n"
        "assert controller.main_window is not None and controller.main_window.isVisible()\n"
        "controller.shutdown()\n"
    )
    loaded = _modules_after(code, str(tmp_path / "p"), PASSWORD)
    assert {"sqlalchemy", "intake_app.app", "intake_app.ui.mainwindow"} <= loaded
    assert sorted({m.split(".")[0] for m in loaded} & set(NOT_AT_START)) == []
    # the tables are SQLAlchemy's own dataclasses: no validation layer loads with them;
    # no form file is read, so PyYAML stays unloaded
    assert {"sqlmodel", "pydantic", "pydantic_core", "yaml"} & loaded == set()


def test_the_command_line_loads_the_commands_only_for_a_command() -> None:
    """``intake-app`` without a command starts the desktop program: its parser needs only
    the program's own options, and the command groups (SQLAlchemy) stay unloaded."""
    code = (
        "from intake_app.cli import build_parser\n"
        "args, rest = build_parser(commands=False).parse_known_args(['--demo'])\n"
        "assert args.demo and rest == []\n"
    )
    loaded = _modules_after(code)
    assert {"sqlalchemy", "intake_app.app", "intake_app.cli.profile_cmds"} & (loaded) == set()
    full = _modules_after("from intake_app.cli import build_parser\nbuild_parser()\n")
    assert {"sqlalchemy", "intake_app.cli.profile_cmds"} <= full


def test_help_lists_the_commands() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "intake_app", "--help"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert "export-pdf" in done.stdout and "sync" in done.stdout
