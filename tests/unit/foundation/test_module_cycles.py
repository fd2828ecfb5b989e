"""No two modules of intake_app import each other, not even through an import inside a
function (docs/architecture.md, "Imports inside functions"). An import inside a function
only defers a heavy module and says so in a comment."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).parents[3] / "intake_app"
DEFERRED = re.compile(r"#.*\bDeferred\b")
#: The modules worth deferring: each costs tens of milliseconds or more to import (or is an
#: optional server package), and most runs of the program never need it
#: (docs/architecture.md, "Imports inside functions"). Measured with ``python -X
#: importtime``: reportlab.platypus 290 ms, alembic 1.3 s, httpx 115 ms, pypdf 98 ms,
#: pycountry 18 ms, filelock 52 ms (it loads asyncio), babel.messages 22 ms (Babel's
#: dates and numbers are light); SQLAlchemy with its ORM about 0.4 s, which the log-in
#: window does without; cryptography with the vault 50 ms (18 ms after Qt), which loads
#: with the sign-in; PyYAML 25 ms, which only reading a form file needs (the sign-in reads
#: none); Qt and the receiver's server packages belong to one program only.
HEAVY = frozenset(
    {
        "reportlab",
        "sqlalchemy",
        "PySide6",
        "uvicorn",
        "starlette",
        "psycopg",
        "httpx",
        "alembic",
        "pypdf",
        "pycountry",
        "filelock",
        "babel.messages",
        "cryptography",
        "yaml",
    }
)


def _is_heavy(target: str) -> bool:
    """``target`` is a module of :data:`HEAVY` or inside one."""
    return any(target == name or target.startswith(name + ".") for name in HEAVY)


def _modules() -> dict[str, tuple[Path, bool]]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if "migrations" in path.relative_to(PACKAGE).parts:
            continue
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        is_package = path.name == "__init__.py"
        name = ".".join(parts[:-1] if is_package else parts)
        found[name] = (path, is_package)
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path, module: str, is_package: bool) -> list[tuple[str, bool, int]]:
    """(imported name, inside a function, line) for every import that runs."""
    found: list[tuple[str, bool, int]] = []

    def visit(node: ast.AST, local: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child, local)
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, local, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            found.append((target, local, node.lineno))
            found.extend((f"{target}.{alias.name}", local, node.lineno) for alias in node.names)
        inner = local or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for grandchild in ast.iter_child_nodes(node):
            visit(grandchild, inner)

    visit(ast.parse(path.read_text("utf-8")), False)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, (path, is_package) in modules.items():
        edges = set()
        for target, _local, _line in _imports(path, name, is_package):
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                edges.add(target)
        graph[name] = edges
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_no_module_import_cycle() -> None:
    graph = _graph()
    assert len(graph) > 100
    assert _cycles(graph) == []


def test_the_check_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def _heavy_modules() -> set[str]:
    """The modules of intake_app that load a :data:`HEAVY` module when imported."""
    modules = _modules()
    top: dict[str, set[str]] = {}
    heavy: set[str] = set()
    for name, (path, is_package) in modules.items():
        edges = set()
        for target, local, _line in _imports(path, name, is_package):
            if local:
                continue
            if _is_heavy(target):
                heavy.add(name)
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                edges.add(target)
        top[name] = edges
    changed = True
    while changed:
        changed = False
        for name, edges in top.items():
            if name not in heavy and edges & heavy:
                heavy.add(name)
                changed = True
    return heavy


def _comment_above(lines: list[str], line: int) -> bool:
    """A ``Deferred`` comment on the import's line, or above it within its block of
    imports (blank lines and other comments between allowed)."""
    index = line - 1
    while index >= 0:
        text = lines[index].strip()
        if DEFERRED.search(text):
            return True
        if index < line - 1 and text and not text.startswith(("#", "import ", "from ")):
            return False
        index -= 1
    return False


def _local_imports() -> list[tuple[str, int, str, list[str]]]:
    """(module, line, imported name, module lines) of every import inside a function."""
    found = []
    for name, (path, is_package) in sorted(_modules().items()):
        lines = path.read_text("utf-8").splitlines()
        seen = set()
        for target, local, line in _imports(path, name, is_package):
            if local and (line, target) not in seen:
                seen.add((line, target))
                found.append((name, line, target, lines))
    return found


def test_every_import_inside_a_function_says_why_it_is_deferred() -> None:
    unexplained = sorted(
        {
            f"{name}:{line} {target}"
            for name, line, target, lines in _local_imports()
            if not _comment_above(lines, line)
        }
    )
    assert unexplained == []


def test_an_import_inside_a_function_only_defers_a_heavy_module() -> None:
    """Anything light is imported at the top; a deferred import of intake_app is of a
    module that itself loads a heavy one (reportlab, Qt, httpx, ...)."""
    heavy = _heavy_modules()
    modules = _modules()
    light = []
    for name, line, target, _lines in _local_imports():
        if _is_heavy(target):
            continue
        while target and target not in modules and target.startswith("intake_app"):
            target = target.rpartition(".")[0]
        if target not in heavy:
            light.append(f"{name}:{line} {target}")
    assert sorted(set(light)) == []


def test_the_heavy_check_tells_heavy_from_light() -> None:
    heavy = _heavy_modules()
    assert "intake_app.reports.layout" in heavy  # reportlab at its top
    assert "intake_app.ui.mainwindow" in heavy  # Qt
    assert "intake_app.core.forms.engine" not in heavy
    assert "intake_app.storage.records" in heavy  # SQLAlchemy at its top
    assert "intake_app.storage.vault" in heavy  # cryptography at its top
    assert "intake_app.core.audit" not in heavy
    assert "intake_app.storage.profile" not in heavy
