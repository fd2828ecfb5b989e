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
