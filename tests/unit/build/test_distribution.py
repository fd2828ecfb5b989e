"""What the desktop package carries: no server code or server dependency, a hashed lock
file that matches pyproject.toml, and the Linux desktop entry (see docs/build.md)."""

from __future__ import annotations

import ast
import configparser
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).parents[3]
SERVER_PACKAGES = {"uvicorn", "starlette", "psycopg", "psycopg-binary"}
# the office side: installed with the "central" extra, never part of the desktop build
OFFICE_MODULES = ("intake_app.central",)
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)(?: \\)?$")


def _pyproject() -> dict:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)


def _lock(name: str) -> dict[str, tuple[str, list[str]]]:
    """Each pinned package of requirements/<name>.txt: version and its hashes."""
    pins: dict[str, tuple[str, list[str]]] = {}
    current = ""
    for line in (ROOT / "requirements" / f"{name}.txt").read_text("utf-8").splitlines():
        if match := PIN.match(line):
            current = canonicalize_name(match.group(1))
            pins[current] = (match.group(2), [])
        elif line.strip().startswith("--hash=sha256:") and current:
            pins[current][1].append(line.strip().removeprefix("--hash=sha256:").rstrip(" \\"))
        elif not line.startswith(" "):
            current = ""
    return pins


def _requirements(extra: str | None = None) -> list[Requirement]:
    project = _pyproject()["project"]
    listed = project["dependencies"] if extra is None else project["optional-dependencies"][extra]
    return [Requirement(text) for text in listed]


def test_the_desktop_package_names_no_server_dependency() -> None:
    desktop = {canonicalize_name(req.name) for req in _requirements()}
    assert desktop & SERVER_PACKAGES == set()
    central = {canonicalize_name(req.name) for req in _requirements("central")}
    assert {"uvicorn", "starlette", "psycopg"} <= central
    # the tests run the office: the test extra brings the central extra along
    assert any(req.name == "intake" and "central" in req.extras for req in _requirements("test"))


def test_every_module_of_the_desktop_program_imports_without_the_server_packages() -> None:
    """Import all of intake_app but the office with uvicorn, starlette and psycopg made
    unimportable: any import of them (or of the office) on the desktop side fails."""
    blocked = sorted({name.replace("-", "_") for name in SERVER_PACKAGES} | set(OFFICE_MODULES))
    code = f"""
import importlib, importlib.abc, pkgutil, sys
BLOCKED = {blocked!r}

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in BLOCKED):
            raise ImportError("desktop program imports server code: " + name)
        return None

sys.meta_path.insert(0, Block())
import intake_app
count = 0
for info in pkgutil.walk_packages(intake_app.__path__, "intake_app."):
    if ".migrations" in info.name or info.name.endswith(".__main__") or any(
        info.name == b or info.name.startswith(b + ".") for b in BLOCKED
    ):
        continue
    importlib.import_module(info.name)
    count += 1
print(count)
"""
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=180,
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"},
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) > 100  # the walk reached the whole program


def test_no_desktop_module_names_a_server_package_even_inside_a_function() -> None:
    blocked = {name.replace("-", "_") for name in SERVER_PACKAGES} | set(OFFICE_MODULES)
    offenders = []
    for path in sorted((ROOT / "intake_app").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        if any(module == b or module.startswith(b + ".") for b in OFFICE_MODULES):
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            for name in names:
                if any(name == b or name.startswith(b + ".") for b in blocked):
                    offenders.append(f"{module}: {name}")
    assert offenders == []


def test_the_build_leaves_the_server_code_out() -> None:
    tree = ast.parse((ROOT / "build.spec").read_text("utf-8"))
    server_code: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "SERVER_CODE" for t in node.targets
        ):
            server_code = set(ast.literal_eval(node.value))
    assert {"intake_app.central", "uvicorn", "starlette", "psycopg", "psycopg_binary"} <= (
        server_code
    )
    spec = (ROOT / "build.spec").read_text("utf-8")
    assert "*SERVER_CODE," in spec  # in the excludes
    assert "not is_server_code(name)" in spec  # and out of the collected submodules
    assert "central/migrations" not in spec and '"psycopg"' not in spec.split("SERVER_CODE")[-1]


def test_each_lock_file_pins_every_dependency_with_hashes_and_fits_pyproject() -> None:
    wanted = {
        "desktop": _requirements(),
        "build": _requirements() + _requirements("build"),
        "ci": [
            *_requirements(),
            *(req for extra in ("central", "test", "build", "dev") for req in _requirements(extra)),
        ],
    }
    build_system = [Requirement(text) for text in _pyproject()["build-system"]["requires"]]
    for name, requirements in wanted.items():
        pins = _lock(name)
        for package, (_version, hashes) in pins.items():
            assert hashes, f"requirements/{name}.txt: {package} has no hash"
        for req in [*requirements, *build_system]:
            if req.name == "intake":
                continue
            pinned = pins.get(canonicalize_name(req.name))
            assert pinned, f"requirements/{name}.txt lacks {req.name}: run scripts/lock.sh"
            assert req.specifier.contains(pinned[0], prereleases=True), (
                f"requirements/{name}.txt pins {req.name}=={pinned[0]}, pyproject.toml asks "
                f"for {req.specifier}: run scripts/lock.sh"
            )
        if name != "ci":
            assert set(pins) & SERVER_PACKAGES == set(), f"requirements/{name}.txt"
    # one version of each package across the three files
    ci = _lock("ci")
    for name in ("desktop", "build"):
        for package, (version, _hashes) in _lock(name).items():
            assert ci[package][0] == version, f"{package}: {name} and ci differ"


def test_the_linux_desktop_entry_names_the_program_and_its_icon() -> None:
    from intake_app.ui.main import DESKTOP_FILE_NAME

    path = ROOT / "packaging" / "linux" / f"{DESKTOP_FILE_NAME}.desktop"
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]
    entry.read(path, encoding="utf-8")
    section = entry["Desktop Entry"]
    assert section["Type"] == "Application"
    assert section["Name"] == "Intake"
    assert section["Exec"].split()[0] == "intake-app"
    assert (ROOT / "resources" / "icons" / f"{section['Icon']}.svg").is_file()
    scripts = _pyproject()["project"]["scripts"]
    assert "intake-app" in scripts
