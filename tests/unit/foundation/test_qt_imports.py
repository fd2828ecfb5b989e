"""Qt for Python's check of every import, made cheap (intake_app/ui/qt_imports.py): the
same answer as Qt's own, without Qt's reading of every module's source into linecache."""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = """
import json, linecache, sys
import intake_app.ui.main  # installs the check before the program's modules load
feature = sys.modules["shibokensupport.feature"]
ours = feature._mod_uses_pyside
original = ours.__closure__[0].cell_contents
assert original is not ours
modules = [m for m in list(sys.modules.values()) if getattr(m, "__file__", None)]
differ = [m.__name__ for m in modules if ours(m) != original(m)]
using = sorted(m.__name__ for m in modules if ours(m))
linecache.clearcache()
from intake_app.app import Workspace  # noqa: F401  # the sign-in's stack
print(json.dumps({"differ": differ, "using": using, "checked": len(modules),
                  "cached": sorted(linecache.cache), "dict": feature.pyside_feature_dict.get(
                      "intake_app.app")}))
"""


def _probe() -> dict[str, object]:
    import json

    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        env=dict(os.environ, QT_QPA_PLATFORM="offscreen"),
        timeout=300,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_cheaper_check_answers_as_qt_does_and_reads_no_source_into_memory() -> None:
    result = _probe()
    assert result["differ"] == []
    assert isinstance(result["checked"], int) and result["checked"] > 100
    using = result["using"]
    assert isinstance(using, list)
    assert "intake_app.ui.main" in using and "intake_app.ui.login" in using
    assert "intake_app.storage.profile" not in using  # no Qt in it
    # the sign-in's modules were checked (Qt recorded its answer) without linecache
    assert result["dict"] == -1
    cached = result["cached"]
    assert isinstance(cached, list)
    assert [name for name in cached if "/intake_app/" in name] == []
