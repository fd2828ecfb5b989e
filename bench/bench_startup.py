"""Start-up to a usable main window, beside a bare PySide6 window and the Argon2id cost.

    .venv/bin/python bench/bench_startup.py [--repeat 5] [--baseline DIR]

First compiles the bytecode of the checkouts it starts (as scripts/install.sh does; with
PYTHONDONTWRITEBYTECODE set, an editable install would otherwise compile every module at
every start, which an installed program never does), and says so. Then prints, from one
run (each start is a fresh interpreter, bare and Intake alternating, so both see the same
load on the machine):
- a bare PySide6 window: interpreter start, QApplication, one QMainWindow shown;
- Intake, (a) the password entered at once, the worst case: interpreter start, the GUI
  entry point imported, the log-in window shown, the password set and "Anmelden" clicked
  at once, signed in (Argon2id, database opened, the rest of the main window's modules
  loaded beside Argon2id), the main window with the case list shown; split into imports,
  log-in window, sign-in and main window;
- Intake, (b) the password typed key by key and "Anmelden" clicked 1.5 s after the log-in
  window is shown (the program loads behind the log-in window meanwhile): the time from
  the click to the main window, the time the user waits (start to log-in window plus
  click to main window, the typing left out) and the longest a keystroke took to handle
  while the program loaded;
- the Argon2id cost of one sign-in with the profile's parameters, alone;
- the budget (bare + Argon2id + 0.25 s): whether (a) stays inside it, and separately (b);
- the peak memory of the started program when the log-in window is shown and at the end;
- which heavy packages the started program has loaded (none of alembic, reportlab,
  httpx or the office's server packages should be).

With ``--baseline DIR`` (another checkout of Intake, e.g. ``git archive main | tar -x -C
DIR``) the same starts run from that checkout too, in turn with this one and the bare
window (bare, baseline, this checkout, bare, ...), on the same profile: the figures of
both and their ratio (this / baseline) come from one run on the same machine load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's intake_app, not an installed one

PASSWORD = "Bench-Passwort-2026"
#: seconds from the log-in window shown to "Anmelden" clicked in case (b)
TYPING = 1.5
HEAVY = ("alembic", "reportlab", "httpx", "uvicorn", "starlette", "psycopg", "sqlmodel")

BARE = """
import time, sys
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication(sys.argv[:1])
window = QMainWindow()
window.resize(1280, 800)
window.show()
for _ in range(3):
    app.processEvents()
print(time.time())
"""

INTAKE = """
import json, sys, time
marks = {}
def hwm():  # peak resident memory of this process image, MiB
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM:'):
            return int(line.split()[1]) / 1024
from intake_app.ui.main import create_application
from intake_app.storage.profile import Profile
from intake_app.ui.controller import AppController
marks["imports"] = time.time()
app = create_application()
controller = AppController(Profile(__import__("pathlib").Path(sys.argv[1])))
controller.start()
for _ in range(3):
    app.processEvents()
marks["login"] = time.time()
peak_login = hwm()
login = controller.window
login.username.setText("admin")
password, typing = sys.argv[2], float(sys.argv[4])
longest_key = 0.0
if typing > 0:  # case (b): typed key by key, clicked TYPING s after the window showed
    from PySide6.QtTest import QTest
    login.password.setFocus()
    step = typing / (len(password) + 1)
    for index, char in enumerate(password):
        while time.time() < marks["login"] + step * (index + 1):
            app.processEvents()
            time.sleep(0.002)
        started = time.perf_counter()
        QTest.keyClick(login.password, char)
        longest_key = max(longest_key, time.perf_counter() - started)
    while time.time() < marks["login"] + typing:
        app.processEvents()
        time.sleep(0.002)
    assert login.password.text() == password
else:  # case (a): entered at once
    login.password.setText(password)
marks["clicked"] = time.time()
login.sign_in_button.click()
while type(controller.window).__name__ != "MainWindow":
    app.processEvents()
    time.sleep(0.001)
marks["signed_in"] = time.time()
for _ in range(3):
    app.processEvents()
assert controller.window.isVisible()
marks["main"] = time.time()
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[3].split(",")))
print(json.dumps({"marks": marks, "heavy": heavy, "peak": [peak_login, hwm()],
                  "longest_key": longest_key}))
controller.shutdown()
"""


def env() -> dict[str, str]:
    out = dict(os.environ)
    out.setdefault("QT_QPA_PLATFORM", "offscreen")
    out["INTAKE_LOG_DIR"] = tempfile.mkdtemp(prefix="intake-bench-log-")
    return out


def bare_once() -> float:
    started = time.time()
    done = subprocess.run(
        [sys.executable, "-c", BARE], capture_output=True, text=True, env=env(), check=True
    )
    return float(done.stdout.strip().splitlines()[-1]) - started


def compile_bytecode(tree: Path) -> None:
    """Compile the checkout's modules, as scripts/install.sh does (see the module doc)."""
    folders = [name for name in ("intake_app", "resources", "forms") if (tree / name).is_dir()]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *folders], cwd=tree, check=True)
    print(f"bytecode compiled in {tree} ({', '.join(folders)}), as scripts/install.sh does")


def intake_once(
    data_dir: Path, tree: Path, typing: float = 0.0
) -> tuple[dict[str, float], list[str], list[float], float]:
    """One start of the checkout ``tree`` (its intake_app first on the path); ``typing``
    > 0 types the password and clicks "Anmelden" that many seconds after the log-in
    window is shown (case (b)), else at once (case (a))."""
    started = time.time()
    done = subprocess.run(
        [sys.executable, "-c", INTAKE, str(data_dir), PASSWORD, ",".join(HEAVY), str(typing)],
        capture_output=True,
        text=True,
        env=env(),
        check=True,
        cwd=tree,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    marks = {name: at - started for name, at in result["marks"].items()}
    return marks, result["heavy"], result["peak"], result["longest_key"]


def argon2_cost(repeat: int) -> float:
    from intake_app.kdf import RFC9106_MINIMUM
    from intake_app.storage.vault import _kdf

    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        _kdf(PASSWORD, b"\x00" * 16, RFC9106_MINIMUM)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _against(total: float, budget: float) -> str:
    if total <= budget:
        return f"inside, {budget - total:.3f} to spare"
    return f"OVER by {total - budget:.3f}"


def report(
    name: str,
    at_once: list[dict[str, float]],
    typed: list[dict[str, float]],
    keys: list[float],
    bare_s: float,
    kdf: float,
) -> tuple[float, float]:
    """Print both cases of one checkout; returns their totals ((a), (b) as the user waits)."""

    def med(runs: list[dict[str, float]], mark: str, since: str | None = None) -> float:
        return statistics.median(run[mark] - (run[since] if since else 0.0) for run in runs)

    budget = bare_s + kdf + 0.25
    total = med(at_once, "main")
    print(f"  {name} (a) password entered at once (the worst case)")
    print(f"    to usable main window         {total:7.3f}   ({total / bare_s:.1f}x bare)")
    print(f"    interpreter + imports         {med(at_once, 'imports'):7.3f}")
    print(f"    log-in window shown           {med(at_once, 'login', 'imports'):7.3f}")
    print(f"    sign-in (Argon2id, loading)   {med(at_once, 'signed_in', 'clicked'):7.3f}")
    print(f"    main window shown             {med(at_once, 'main', 'signed_in'):7.3f}")
    print(f"    budget bare + Argon2id + 0.25 {budget:7.3f}   (a) {_against(total, budget)}")
    click = med(typed, "main", "clicked")
    waited = statistics.median(run["login"] + run["main"] - run["clicked"] for run in typed)
    print(f'  {name} (b) password typed, "Anmelden" clicked {TYPING} s after the log-in window')
    print(f"    click to usable main window   {click:7.3f}")
    print(f"    start to log-in window        {med(typed, 'login'):7.3f}")
    print(f"    waited: log-in window + click {waited:7.3f}   (the {TYPING} s of typing left out)")
    print(f"    budget bare + Argon2id + 0.25 {budget:7.3f}   (b) {_against(waited, budget)}")
    print(f"    longest keystroke while loading {max(keys) * 1000:5.0f} ms")
    return total, waited


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--baseline", type=Path, help="another checkout, started in turn with this one"
    )
    args = parser.parse_args()

    from intake_app.storage.profile import Profile

    trees: dict[str, Path] = {"Intake": ROOT}
    if args.baseline is not None:
        trees = {"baseline": args.baseline.resolve(), "Intake": ROOT}
    for tree in trees.values():
        compile_bytecode(tree)
    with tempfile.TemporaryDirectory(prefix="intake-bench-start-") as tmp:
        data_dir = Path(tmp) / "profile"
        Profile(data_dir).create(admin_name="admin", admin_password=PASSWORD, site_name="Bench")
        for tree in trees.values():
            intake_once(data_dir, tree)  # warm the file cache once
        bare_once()
        bare: list[float] = []
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
        typed: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
        keys: dict[str, list[float]] = {name: [] for name in trees}
        heavy: dict[str, list[str]] = {}
        peaks: dict[str, list[list[float]]] = {name: [] for name in trees}
        for turn in range(args.repeat):
            bare.append(bare_once())
            for name, tree in trees.items():
                # (a) and (b) in turn first: a start right after another runs slower
                for typing in (0.0, TYPING) if turn % 2 == 0 else (TYPING, 0.0):
                    marks, heavy[name], peak, key = intake_once(data_dir, tree, typing)
                    if typing:
                        typed[name].append(marks)
                        keys[name].append(key)
                    else:
                        runs[name].append(marks)
                        peaks[name].append(peak)
        kdf = argon2_cost(args.repeat)

    bare_s = statistics.median(bare)
    print(f"start-up, median of {args.repeat} fresh processes each, in turn (seconds)")
    print(f"  bare PySide6 window             {bare_s:7.3f}")
    print(f"  Argon2id sign-in cost (alone)   {kdf:7.3f}")
    totals = {
        name: report(f"{name:<8}", runs[name], typed[name], keys[name], bare_s, kdf)
        for name in trees
    }
    if args.baseline is not None:
        pairs = [
            new["main"] / old["main"]
            for old, new in zip(runs["baseline"], runs["Intake"], strict=True)
        ]
        (old_a, old_b), (new_a, new_b) = totals["baseline"], totals["Intake"]
        print(
            f"  Intake / baseline (a): {new_a / old_a:.2f} "
            f"(median of the {len(pairs)} pairs {statistics.median(pairs):.2f}; "
            f"beyond bare + Argon2id {old_a - bare_s - kdf:+.3f} -> {new_a - bare_s - kdf:+.3f})"
        )
        print(
            f"  Intake / baseline (b), waited: {new_b / old_b:.2f} "
            f"(beyond bare + Argon2id {old_b - bare_s - kdf:+.3f} -> {new_b - bare_s - kdf:+.3f})"
        )
    for name in trees:
        login_peak = statistics.median(p[0] for p in peaks[name])
        main_peak = statistics.median(p[1] for p in peaks[name])
        print(
            f"  {name} peak memory (VmHWM): log-in window shown {login_peak:.0f} MiB, "
            f"main window shown {main_peak:.0f} MiB (Argon2id's working memory included)"
        )
        print(
            f"  {name} heavy packages loaded: {', '.join(heavy[name]) or 'none'} "
            f"(of {', '.join(HEAVY)})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
