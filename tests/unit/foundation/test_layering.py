"""Only intake_app.ui imports Qt (docs/architecture.md, layers)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).parents[3] / "intake_app"


def test_non_ui_packages_import_without_pyside6() -> None:
    code = (
        "import sys\n"
        "import intake_app.core, intake_app.storage, intake_app.sync, intake_app.reports\n"
        "import intake_app.device_sync, intake_app.demo\n"
        "import intake_app.central, intake_app.cli, intake_app.app\n"
        "import pkgutil, importlib\n"
        "for pkg in ('core', 'storage', 'sync', 'device_sync', 'reports', 'central'):\n"
        "    mod = importlib.import_module('intake_app.' + pkg)\n"
        "    for info in pkgutil.walk_packages(mod.__path__, mod.__name__ + '.'):\n"
        "        if '.migrations' in info.name:\n"
        "            continue\n"
        "        importlib.import_module(info.name)\n"
        "bad = sorted(m for m in sys.modules if m.startswith('PySide6'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"PySide6 loaded by: {result.stdout}"


def test_no_qt_import_statement_outside_ui() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if "ui" in path.relative_to(PACKAGE).parts[:1]:
            continue
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(name.split(".")[0] in {"PySide6", "shiboken6"} for name in names):
                offenders.append(str(path.relative_to(PACKAGE)))
    assert offenders == []
