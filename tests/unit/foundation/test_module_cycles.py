"""No two modules of intake_app import each other, not even through an import inside a
function (docs/architecture.md, "Imports inside functions"). An import inside a function
only defers a heavy module and says so in a comment."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).parents[3] / "intake_app"
DEFERRED = re.compile(r"#.*\bDeferred\b")
#: Imports inside functions that still work around a cycle; each is to be resolved (by a
#: lower module both sides import), never added to.
KNOWN_CYCLE_WORKAROUNDS = {
    ("intake_app.core.forms.referral_consent", "intake_app.core.display"),
    ("intake_app.reports.batch", "intake_app.reports.consent_sheet"),
    ("intake_app.reports.batch", "intake_app.reports.layout"),
    ("intake_app.reports.batch", "intake_app.reports.summary"),
    ("intake_app.storage.user_keys", "intake_app.storage.vault"),
}


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
    known = {("intake_app.core.forms", "intake_app.core.display")}
    for module, target in known | KNOWN_CYCLE_WORKAROUNDS:
        graph.get(module, set()).discard(target)
    assert _cycles(graph) == []


def test_the_check_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_every_import_inside_a_function_says_why_it_is_deferred() -> None:
    unexplained = []
    for name, (path, is_package) in sorted(_modules().items()):
        lines = path.read_text("utf-8").splitlines()
        for target, local, line in _imports(path, name, is_package):
            if not local or not target.startswith("intake_app"):
                continue
            if any(name == m and target.startswith(t) for m, t in KNOWN_CYCLE_WORKAROUNDS):
                continue
            # the comment stands on the import's line or on the lines just above it
            window = lines[max(0, line - 4) : line]
            if not any(DEFERRED.search(text) for text in window):
                unexplained.append(f"{name}:{line} {target}")
    assert sorted(set(unexplained)) == []
