"""Access to shipped data files (``resources/`` and ``forms/``) through importlib.resources.

Both folders sit at the top of the source tree and are installed as the packages
``intake_app.resources`` and ``intake_app.forms`` (see ``pyproject.toml``), so the same
code works from a checkout, an installed wheel and the PyInstaller build.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path


def resource(*parts: str) -> Traversable:
    """Return a file or folder under ``resources/``."""
    node = resources.files("intake_app.resources")
    for part in parts:
        node = node.joinpath(part)
    return node


def form_resource(*parts: str) -> Traversable:
    """Return a file or folder under ``forms/``."""
    node = resources.files("intake_app.forms")
    for part in parts:
        node = node.joinpath(part)
    return node


def resource_path(*parts: str) -> Path:
    """Return a real file system path for a resource (fonts for reportlab need one).

    Installed packages and the one-folder build keep resources as plain files, so the
    path is stable for the life of the process.
    """
    node = resource(*parts)
    if isinstance(node, Path):
        return node
    with contextlib.ExitStack() as stack:  # pragma: no cover - zip imports only
        path = stack.enter_context(resources.as_file(node))
        _KEEP.append(stack.pop_all())
        return path


def form_path(*parts: str) -> Path:
    """Return a real file system path under ``forms/`` (error messages name the file)."""
    node = form_resource(*parts)
    if isinstance(node, Path):
        return node
    return Path(str(node))  # pragma: no cover - zip imports only


def is_frozen() -> bool:
    """True inside the PyInstaller build."""
    return bool(getattr(sys, "frozen", False))


_KEEP: list[contextlib.ExitStack] = []


def iter_files(node: Traversable, suffix: str) -> Iterator[Traversable]:
    """Yield the files directly in ``node`` whose names end with ``suffix``, sorted."""
    yield from sorted(
        (child for child in node.iterdir() if child.is_file() and child.name.endswith(suffix)),
        key=lambda child: child.name,
    )
