"""Start-up to a usable main window, beside a bare PySide6 window and the Argon2id cost.

    .venv/bin/python bench/bench_startup.py [--repeat 5] [--baseline DIR]

Prints, from one run (each start is a fresh interpreter, bare and Intake alternating, so
both see the same load on the machine):
- a bare PySide6 window: interpreter start, QApplication, one QMainWindow shown;
- Intake: interpreter start, the GUI entry point imported, the log-in window shown, the
  password typed and signed in through the log-in window (Argon2id, database opened, the
  main window's modules loaded beside Argon2id), the main window with the case list
  shown; split into imports, log-in window, sign-in and main window;
- the Argon2id cost of one sign-in with the profile's parameters, alone;
- the budget (bare + Argon2id + 0.25 s) and whether the start stays inside it;
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

PASSWORD = "Bench-Passwort-2026"
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
login.password.setText(sys.argv[2])
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
print(json.dumps({"marks": marks, "heavy": heavy, "peak": [peak_login, hwm()]}))
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


def intake_once(
    data_dir: Path, tree: Path | None = None
) -> tuple[dict[str, float], list[str], list[float]]:
    """One start; ``tree`` runs another checkout's intake_app (first on the path)."""
    started = time.time()
    done = subprocess.run(
        [sys.executable, "-c", INTAKE, str(data_dir), PASSWORD, ",".join(HEAVY)],
        capture_output=True,
        text=True,
        env=env(),
        check=True,
        cwd=tree,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    marks = {name: at - started for name, at in result["marks"].items()}
    return marks, result["heavy"], result["peak"]


def argon2_cost(repeat: int) -> float:
    from intake_app.kdf import RFC9106_MINIMUM
    from intake_app.storage.vault import _kdf

    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        _kdf(PASSWORD, b"\x00" * 16, RFC9106_MINIMUM)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def report(name: str, runs: list[dict[str, float]], bare_s: float, kdf: float) -> float:
    def med(mark: str) -> float:
        return statistics.median(run[mark] for run in runs)

    total = med("main")
    budget = bare_s + kdf + 0.25
    print(f"  {name} to usable main window {total:7.3f}   ({total / bare_s:.1f}x bare)")
    print(f"    interpreter + imports         {med('imports'):7.3f}")
    print(f"    log-in window shown           {med('login') - med('imports'):7.3f}")
    print(f"    sign-in (Argon2id, database)  {med('signed_in') - med('login'):7.3f}")
    print(f"    main window shown             {med('main') - med('signed_in'):7.3f}")
    verdict = "inside" if total <= budget else "OVER"
    print(f"    budget bare + Argon2id + 0.25 {budget:7.3f}   {verdict} by {budget - total:+.3f}")
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--baseline", type=Path, help="another checkout, started in turn with this one"
    )
    args = parser.parse_args()

    from intake_app.storage.profile import Profile

    trees: dict[str, Path | None] = {"Intake": None}
    if args.baseline is not None:
        trees = {"baseline": args.baseline.resolve(), "Intake": None}
    with tempfile.TemporaryDirectory(prefix="intake-bench-start-") as tmp:
        data_dir = Path(tmp) / "profile"
        Profile(data_dir).create(admin_name="admin", admin_password=PASSWORD, site_name="Bench")
        for tree in trees.values():
            intake_once(data_dir, tree)  # warm the file cache and the compiled modules once
        bare_once()
        bare: list[float] = []
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
        heavy: dict[str, list[str]] = {}
        peaks: dict[str, list[list[float]]] = {name: [] for name in trees}
        for _ in range(args.repeat):
            bare.append(bare_once())
            for name, tree in trees.items():
                marks, heavy[name], peak = intake_once(data_dir, tree)
                runs[name].append(marks)
                peaks[name].append(peak)
        kdf = argon2_cost(args.repeat)

    bare_s = statistics.median(bare)
    print(f"start-up, median of {args.repeat} fresh processes each, in turn (seconds)")
    print(f"  bare PySide6 window             {bare_s:7.3f}")
    print(f"  Argon2id sign-in cost (alone)   {kdf:7.3f}")
    totals = {name: report(f"{name:<8}", runs[name], bare_s, kdf) for name in trees}
    if args.baseline is not None:
        pairs = [
            new["main"] / old["main"]
            for old, new in zip(runs["baseline"], runs["Intake"], strict=True)
        ]
        print(
            f"  Intake / baseline: {totals['Intake'] / totals['baseline']:.2f} "
            f"(median of the {len(pairs)} pairs {statistics.median(pairs):.2f}; "
            f"beyond bare + Argon2id "
            f"{totals['baseline'] - bare_s - kdf:+.3f} -> {totals['Intake'] - bare_s - kdf:+.3f})"
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
