"""The packages of intake_app import one way (docs/architecture.md, layers).

The wire protocol (``sync``) imports nothing of the device (``storage``, ``device_sync``)
or of the office (``central``); the device side and the office side each build on it.
Every import between two packages of ``intake_app`` must be listed in ``ALLOWED``, and
neither the imports found nor the table may form a cycle. Imports inside a function count
(they run); imports under ``if TYPE_CHECKING:`` do not.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).parents[3] / "intake_app"

#: Modules every package may use: no imports of anything but each other.
FOUNDATION = {"intake_app", "errors", "i18n", "assets", "atomic", "kdf", "logs", "cli_support"}

#: Which package (or top-level module) may import which, beyond the foundation.
ALLOWED: dict[str, set[str]] = {
    "intake_app": set(),
    "assets": set(),
    "errors": set(),
    "i18n": {"assets"},
    "atomic": {"errors", "i18n"},
    "kdf": {"errors", "i18n"},
    "logs": set(),
    "cli_support": {"i18n"},
    "core": set(),
    "sync": set(),
    "pdf": set(),
    "figures": {"pdf", "sync"},
    "storage": {"core", "sync", "figures"},
    "device_sync": {"core", "storage", "sync"},
    "central": {"sync", "figures"},
    "app": {"core", "storage", "device_sync"},
    "demo": {"app", "core", "storage"},
    "reports": {"app", "core", "storage", "figures", "pdf"},
    "ui": {"app", "core", "storage", "device_sync", "reports", "demo", "figures"},
    "selftest": {
        "app",
        "core",
        "storage",
        "sync",
        "device_sync",
        "reports",
        "demo",
        "ui",
    },
    "cli": {"app", "core", "storage", "reports", "demo", "selftest", "ui"},
    "__main__": {"cli"},
}


def _unit(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "intake_app":
        return None
    return parts[1] if len(parts) > 1 else "intake_app"


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, is_package: bool) -> list[str]:
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                if not is_package:
                    base = base[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append(target)
            found.extend(f"{target}.{alias.name}" for alias in node.names)
        for inner in ast.iter_child_nodes(node):
            visit(inner)

    visit(tree)
    return found


def _edges() -> dict[str, dict[str, set[str]]]:
    """unit -> imported unit -> files that import it."""
    edges: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        parts = list(rel.with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        module = ".".join(["intake_app", *parts])
        source = _unit(module)
        assert source is not None
        for target in _imports(ast.parse(path.read_text("utf-8")), module, is_package):
            unit = _unit(target)
            if unit is None or unit == source:
                continue
            if not (PACKAGE / unit).is_dir() and not (PACKAGE / f"{unit}.py").is_file():
                continue  # ``from intake_app import __version__`` names no module
            edges[source][unit].add(str(rel))
    return edges


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := walk(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := walk(node)):
            return found
    return None


def test_every_package_is_in_the_table() -> None:
    units = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    units |= {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    units.add("intake_app")
    assert units - set(ALLOWED) == set(), "add the new package to ALLOWED"
    assert set(ALLOWED) - units == set(), "a package in ALLOWED no longer exists"


def test_imports_between_packages_are_allowed() -> None:
    wrong = []
    for source, targets in _edges().items():
        for target, files in targets.items():
            allowed = ALLOWED[source] | (FOUNDATION if source not in FOUNDATION else set())
            if target not in allowed:
                wrong.append(f"{source} -> {target}: {', '.join(sorted(files))}")
    assert wrong == []


def test_the_protocol_imports_nothing_of_device_or_office() -> None:
    targets = set(_edges()["sync"])
    assert targets & {"storage", "device_sync", "central", "core", "app", "ui"} == set()
    assert set(_edges()["central"]) & {"storage", "device_sync", "core", "app", "ui"} == set()


def test_no_import_cycles() -> None:
    found = {source: set(targets) for source, targets in _edges().items()}
    assert _cycle(found) is None
    table = {source: set(allowed) for source, allowed in ALLOWED.items()}
    assert _cycle(table) is None


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
