"""Qt for Python's import hook, made to read each module's file once, as bytes.

Importing PySide6 replaces ``__import__`` with a hook of its own (shiboken's
``__feature__`` support, for ``from __feature__ import snake_case``). After every later
import it asks whether the new module uses PySide6, by ``inspect.getsource`` on the
module and a search for "PySide6" in the text: each module's source is decoded,
split into lines and kept in ``linecache`` for the rest of the program. That is about a
tenth of the program's start-up (0.14 s of the 1.4 s load behind the log-in window,
``bench/bench_startup.py``) and a copy of every module's source in memory.

:func:`install` asks the same question a cheaper way: the bytes of the module's ``.py``
file are searched for ``b"PySide6"``. Modules without such a file (built-in, compiled,
frozen in a packaged build) still get Qt's own answer. The program never selects a
``__feature__``, so the answer only decides which modules Qt treats as its users, as it
did (docs/architecture.md, "Start-up").

Importing this module imports PySide6 and installs the check (``ui/main.py`` imports it
before anything else of the program).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import ModuleType

import PySide6.QtCore  # noqa: F401  # puts Qt's import hook in place

#: the name Qt for Python's feature module is loaded under (shiboken6 6.x)
FEATURE_MODULE = "shibokensupport.feature"
#: marks the function :func:`install` put in place, so a second install changes nothing
_MARK = "_intake_reads_bytes"


def _reading_bytes(original: Callable[[ModuleType], bool]) -> Callable[[ModuleType], bool]:
    def uses_pyside(module: ModuleType) -> bool:
        path = getattr(module, "__file__", None)
        if not isinstance(path, str) or not path.endswith(".py"):
            return original(module)
        try:
            with open(path, "rb") as source:
                return b"PySide6" in source.read()
        except OSError:
            return original(module)

    setattr(uses_pyside, _MARK, True)
    return uses_pyside


def install() -> bool:
    """Put the cheaper check in place of Qt's once PySide6 is imported; whether it is.

    Does nothing (and says so) if this version of Qt for Python has no such hook."""
    feature = sys.modules.get(FEATURE_MODULE)
    original = getattr(feature, "_mod_uses_pyside", None)
    if feature is None or not callable(original):
        return False
    if not getattr(original, _MARK, False):
        vars(feature)["_mod_uses_pyside"] = _reading_bytes(original)
    return True


install()
