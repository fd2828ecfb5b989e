"""Case list and autosave with 100,000 records, figures printed side by side.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_caselist.py [--records 100000]
        [--layout one|spread|both] [--only search,memory,sign-in,startup] [--keep DIR]

Prints, from one run:
- search-as-you-type: time from a keystroke to the updated list (model refresh through the
  repository), p50/p95, beside the raw FTS5 query alone;
- autosave: one save of a typical record (answers, list columns, search index, one
  transaction with synchronous=FULL), p50/p95;
- start-up to a usable main window (sign-in with Argon2id, migrations, list of 100,000)
  beside a bare PySide6 window, each in a fresh process;
- peak memory (max RSS) of the process that held the list (it also bulk-loaded the
  records), and of a fresh process that only signs in and shows the list.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from sqlalchemy import text

from intake_app.app import Workspace
from intake_app.core.records import index_fields
from intake_app.demo.data import generate
from intake_app.storage.backup import backup_if_due
from intake_app.storage.profile import Profile
from intake_app.storage.records import RecordQuery, dumps

PASSWORD = "Bench-Passwort-2026"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def build_profile(root: Path, count: int, counsellors: int = 0) -> Profile:
    """A profile with ``count`` realistic records, loaded in bulk (one transaction per store).

    With ``counsellors`` = 0 every record is in the supervisor's own store; otherwise
    they are spread evenly over that many counsellors' stores (one store each), and the
    supervisor reads them all through the site key.
    """
    profile = Profile(root)
    recovery = profile.create(admin_name="admin", admin_password=PASSWORD, site_name="Bench")
    ws = Workspace.sign_in(profile, username="admin", password=PASSWORD)
    ws.accounts.add_user(username="leitung", role="supervisor", password=PASSWORD)
    for i in range(counsellors):
        ws.accounts.add_user(username=f"berater{i:02d}", role="counsellor", password=PASSWORD)
    ws.close()
    for name in ["leitung", *(f"berater{i:02d}" for i in range(counsellors))]:
        ws = Workspace.sign_in(profile, username=name, password=PASSWORD)
        ws.accounts.set_own_password(PASSWORD)  # her own password: her store is created
        ws.close()
    ws = Workspace.recover(profile, recovery_key=recovery, username="admin", new_password=PASSWORD)
    ws.grant_site_key("leitung")
    ws.close()
    ws = Workspace.sign_in(profile, username="leitung", password=PASSWORD)
    owners = {info.store_id: info.owner_id for info in ws.vault.stores().values()}
    targets = [
        (ws.scope.stores[sid], owner)
        for sid, owner in owners.items()
        if counsellors == 0 or owner != ws.actor.user_id
    ]
    form = ws.current_form()
    rng = random.Random(7)
    pool = [
        generate(
            form,
            organisation=ws.organisation,
            rng=rng,
            today=date.today(),
            complete=i % 3 != 0,
            case_number=f"BNCH-2026-{i:05d}",
        )[0]
        for i in range(300)
    ]
    now = datetime.now(UTC).isoformat(sep=" ")
    started = time.perf_counter()
    for target, (store_db, owner_id) in enumerate(targets):
        _load_store(store_db, owner_id, target, len(targets), count, pool, form, now)
    print(
        f"loaded {count:,} records into {len(targets)} store(s) in "
        f"{time.perf_counter() - started:.1f} s (bulk; not a product figure)"
    )
    # today's backup exists, so the program's sign-ins below do not make one in the
    # background (it would count in their memory and time)
    backup_if_due(ws)
    ws.close()
    return profile


def _load_store(store_db, owner_id, target, stores, count, pool, form, now) -> None:  # type: ignore[no-untyped-def]
    """Bulk-load every ``stores``-th record (starting at ``target``) into one store."""
    with store_db.write() as session:
        conn = session.connection()
        for start in range(0, count, 5000):
            rows, fts = [], []
            for n in range(start, min(count, start + 5000)):
                if n % stores != target:
                    continue
                answers = dict(pool[n % len(pool)])
                answers["case_number"] = f"BNCH-2026-{n:06d}"
                if n % 7 == 0:  # vary the names so searches have realistic selectivity
                    answers["family_name"] = f"{answers.get('family_name', '')}{n % 1000}"
                fields = index_fields(answers)
                pk = n + 1
                rows.append(
                    {
                        "pk": pk,
                        "id": str(uuid.uuid4()),
                        "status": "complete" if n % 3 else "draft",
                        "sync": "pending" if n % 3 else "local",
                        "form_id": form.id,
                        "form_version": form.version,
                        "owner": owner_id,
                        "case_number": answers["case_number"],
                        "family": fields.family_name,
                        "given": fields.given_names,
                        "family_latin": fields.family_name_latin,
                        "given_latin": fields.given_names_latin,
                        "sort": fields.sort_name,
                        "birth": fields.birth_date,
                        "until": fields.residence_valid_until,
                        "answers": dumps(answers),
                        "now": now,
                    }
                )
                fts.append({"pk": pk, "terms": fields.terms(answers["case_number"])})
            if not rows:
                continue
            conn.execute(
                text(
                    "INSERT INTO records (pk, id, revision, status, sync_state, form_id, "
                    "form_version, owner_id, site, case_number, family_name, given_names, "
                    "family_name_latin, given_names_latin, sort_name, birth_date, "
                    "residence_valid_until, created_at, updated_at) VALUES (:pk, :id, 1, "
                    ":status, :sync, :form_id, :form_version, :owner, 'Bench', :case_number, "
                    ":family, :given, :family_latin, :given_latin, :sort, :birth, :until, "
                    ":now, :now)"
                ),
                rows,
            )
            conn.execute(
                text(
                    "INSERT INTO record_data (pk, answers, retired_answers, position) "
                    "VALUES (:pk, :answers, '{}', '{}')"
                ),
                rows,
            )
            conn.execute(text("INSERT INTO records_fts(rowid, terms) VALUES (:pk, :terms)"), fts)


def bench_search(profile: Profile, label: str) -> None:
    print(f"--- {label}")
    from PySide6.QtWidgets import QApplication

    from intake_app.ui.caselist import CaseListPage
    from intake_app.ui.main import create_application

    create_application()
    ws = Workspace.sign_in(profile, username="leitung", password=PASSWORD)
    page = CaseListPage(ws.records, ws.actor)
    page.resize(1366, 700)
    page.show()
    QApplication.processEvents()
    words = ["Al-Hassan", "Shevchenko", "Okafor", "Öztürk", "حيدري", "Tesfay", "BNCH-2026-0421"]
    ui_times: list[float] = []
    raw_times: list[float] = []
    query_times: list[float] = []  # the keystroke up to the model's new rows
    paint_times: list[float] = []  # the rest: the list painted, events handled
    from intake_app.core.records import fts_query

    for word in words:
        for length in range(1, len(word) + 1):
            typed = word[:length]
            start = time.perf_counter()
            page.search.setText(typed)
            page.apply_filters()  # what the 150 ms debounce timer triggers
            queried = time.perf_counter()
            page.table.viewport().repaint()
            QApplication.processEvents()
            ui_times.append(time.perf_counter() - start)
            query_times.append(queried - start)
            paint_times.append(ui_times[-1] - query_times[-1])
            match = fts_query(typed)
            if match is None:
                continue
            start = time.perf_counter()
            for store_db in ws.scope.stores.values():  # every store the supervisor reads
                with store_db.read() as session:
                    session.execute(
                        text("SELECT rowid FROM records_fts WHERE records_fts MATCH :m LIMIT 200"),
                        {"m": match},
                    ).all()
            raw_times.append(time.perf_counter() - start)
    ui_p50, ui_p95 = percentile(ui_times, 0.5), percentile(ui_times, 0.95)
    raw_p50, raw_p95 = percentile(raw_times, 0.5), percentile(raw_times, 0.95)
    print(
        f"search keystroke -> list updated (count + first page + paint): "
        f"p50 {ui_p50 * 1000:.1f} ms, p95 {ui_p95 * 1000:.1f} ms "
        f"({len(ui_times)} keystrokes)"
    )
    print(
        f"raw FTS5 query alone (first 200 ids of every store):           "
        f"p50 {raw_p50 * 1000:.1f} ms, p95 {raw_p95 * 1000:.1f} ms"
    )
    print(
        f"search keystroke / raw FTS5 query, same run: p50 {ui_p50 / raw_p50:.1f}x, "
        f"p95 {ui_p95 / raw_p95:.1f}x"
    )
    q50, q95 = percentile(query_times, 0.5), percentile(query_times, 0.95)
    p50, p95 = percentile(paint_times, 0.5), percentile(paint_times, 0.95)
    print(
        f"  of which query (count + first page into the model): p50 {q50 * 1000:.1f} ms, "
        f"p95 {q95 * 1000:.1f} ms ({q50 / raw_p50:.1f}x / {q95 / raw_p95:.1f}x raw FTS5); "
        f"paint and events: p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms "
        f"({p50 / raw_p50:.1f}x / {p95 / raw_p95:.1f}x raw FTS5)"
    )
    # the same, as the user sees it: the keystroke starts the debounce timer, the list
    # updates when it fires (no apply_filters call of our own)
    from intake_app.ui.caselist import SEARCH_DELAY_MS

    visible: list[float] = []
    for word in words[:3]:
        for length in range(1, len(word) + 1):
            typed = word[:length]
            start = time.perf_counter()
            page.search.setText(typed)
            while page.model.query.search != typed:
                QApplication.processEvents()
                time.sleep(0.001)
            page.table.viewport().repaint()
            QApplication.processEvents()
            visible.append(time.perf_counter() - start)
    print(
        f"keystroke -> result visible, {SEARCH_DELAY_MS} ms debounce included: "
        f"p50 {percentile(visible, 0.5) * 1000:.1f} ms, "
        f"p95 {percentile(visible, 0.95) * 1000:.1f} ms ({len(visible)} keystrokes)"
    )
    page.search.clear()
    page.apply_filters()
    start = time.perf_counter()
    page.table.sortByColumn(0, page.table.horizontalHeader().sortIndicatorOrder())
    QApplication.processEvents()
    print(f"sort 100k by name (first page): {(time.perf_counter() - start) * 1000:.1f} ms")
    start = time.perf_counter()
    while page.model.canFetchMore() and page.model.rowCount() < 2000:
        page.model.fetchMore()
    print(
        f"scroll: fetch 2,000 rows in pages of 200: {(time.perf_counter() - start) * 1000:.1f} ms"
    )

    record_id = ws.records.list(RecordQuery(), limit=1)[0].id
    answers = dict(ws.records.get(record_id).answers)
    ws.records.start_revision(record_id, reason="Bench") if ws.records.get(
        record_id
    ).status != "draft" else None
    saves: list[float] = []
    for n in range(200):
        answers["counsellor_notes"] = f"Notiz {n} " + "x" * (n % 50)
        start = time.perf_counter()
        ws.records.save(record_id, answers=answers, position={"section": "plan"})
        saves.append(time.perf_counter() - start)
    print(
        f"autosave of one record (synchronous=FULL): p50 {percentile(saves, 0.5) * 1000:.1f} ms, "
        f"p95 {percentile(saves, 0.95) * 1000:.1f} ms, max {max(saves) * 1000:.1f} ms"
    )
    ws.close()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"peak memory of this process (list of 100k open, 2,000 rows fetched): {rss / 1024:.0f} MiB"
    )


STARTUP = """
import os, sys, time
t0 = time.perf_counter()
os.environ['QT_QPA_PLATFORM'] = 'offscreen'
from PySide6.QtWidgets import QApplication, QMainWindow
mode = sys.argv[1]
if mode == 'bare':
    app = QApplication([])
    w = QMainWindow(); w.resize(1366, 768); w.show(); app.processEvents()
else:
    # the program's own path: log-in window, password typed, main window with the list
    from pathlib import Path
    from intake_app.storage.profile import Profile
    from intake_app.ui.controller import AppController
    from intake_app.ui.main import create_application
    app = create_application()
    controller = AppController(Profile(Path(sys.argv[2])))
    controller.start()
    app.processEvents()
    login = controller.window
    login.username.setText('leitung')
    login.password.setText(sys.argv[3])
    login.sign_in_button.click()
    while type(controller.window).__name__ != 'MainWindow':
        app.processEvents()
        time.sleep(0.001)
    app.processEvents()
print(f"{time.perf_counter() - t0:.3f}")
"""


MEMORY = """
import os, sys, time
os.environ['QT_QPA_PLATFORM'] = 'offscreen'
from pathlib import Path
from PySide6.QtWidgets import QApplication
from intake_app.storage.profile import Profile
from intake_app.ui.controller import AppController
from intake_app.ui.main import create_application
def status(field):  # VmHWM (peak) and VmRSS of this process image: ru_maxrss would
    # keep the parent's peak across fork and exec
    for line in open('/proc/self/status'):
        if line.startswith(field + ':'):
            return int(line.split()[1]) / 1024
def now():
    return status('VmRSS')
# the program's own path: log-in window, password typed, main window with the list
app = create_application()
controller = AppController(Profile(Path(sys.argv[1])))
controller.start()
app.processEvents()
login = controller.window
login.username.setText('leitung')
login.password.setText(sys.argv[2])
login.sign_in_button.click()
while type(controller.window).__name__ != 'MainWindow':
    app.processEvents()
    time.sleep(0.001)
signed_in_peak = status('VmHWM')
controller.window.resize(1366, 768)
page = controller.window.cases
QApplication.processEvents()
for typed in ('A', 'Al', 'Al-Hassan', 'B', 'BNCH-2026-0421', ''):
    page.search.setText(typed)
    page.apply_filters()
    QApplication.processEvents()
while page.model.canFetchMore() and page.model.rowCount() < 2000:
    page.model.fetchMore()
QApplication.processEvents()
peak = status('VmHWM')
print(f"{peak:.0f} {signed_in_peak:.0f} {now():.0f}")
controller.shutdown()
"""


def bench_memory(profile: Profile, label: str) -> None:
    """The program's own memory: a fresh process that signs in through the log-in window,
    shows the main window with the list of 100k, searches and scrolls to 2,000 rows (the
    figure above also holds the bulk loader)."""
    out = subprocess.run(
        [sys.executable, "-c", MEMORY, str(profile.root), PASSWORD],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    peak, signed_in, now = (float(v) for v in out[-3:])
    print(
        f"[{label}] peak memory of a fresh process with the list open (searched, 2,000 rows "
        f"fetched): {peak:.0f} MiB (peak at sign-in, Argon2id's 64 MiB included: "
        f"{signed_in:.0f} MiB; resident at the end: {now:.0f} MiB)"
    )


def bench_sign_in(profile: Profile, label: str, users: list[str]) -> None:
    """Sign-in beside the Argon2id stretching alone (the budget is +0.3 s)."""
    import secrets

    from intake_app.storage.vault import _kdf

    params = profile.vault().kdf_params(users[0])
    parts = []
    for user in users:
        extra, totals = [], []
        for _ in range(3):  # each sign-in beside an Argon2id run just before it
            start = time.perf_counter()
            _kdf(PASSWORD, secrets.token_bytes(16), params)
            argon = time.perf_counter() - start
            start = time.perf_counter()
            ws = Workspace.sign_in(profile, username=user, password=PASSWORD)
            total = time.perf_counter() - start
            stores = len(ws.scope.stores)
            ws.close()
            totals.append(total)
            extra.append(total - argon)
        parts.append(
            f"{user} ({stores} store(s)) {statistics.median(totals):.3f} s, "
            f"beyond Argon2id +{statistics.median(extra):.3f} s"
        )
    print(f"[{label}] sign-in, median of 3: " + "; ".join(parts))


def bench_startup(profile: Profile, label: str) -> None:
    def run(mode: str) -> float:
        out = (
            subprocess.run(
                [sys.executable, "-c", STARTUP, mode, str(profile.root), PASSWORD],
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        return float(out)

    bare = [run("bare") for _ in range(3)]
    full = [run("intake") for _ in range(3)]
    print(
        f"[{label}] start-up to a usable window: bare PySide6 {statistics.median(bare):.2f} s, "
        f"Intake main window with 100k records {statistics.median(full):.2f} s "
        f"(median of 3, each a fresh process; includes Argon2id sign-in)"
    )


PARTS = ("search", "memory", "sign-in", "startup")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--counsellors", type=int, default=20)
    parser.add_argument(
        "--layout",
        choices=("one", "spread", "both"),
        default="both",
        help="one store, the records spread over the counsellors' stores, or both",
    )
    parser.add_argument(
        "--only", default=",".join(PARTS), help=f"comma-separated parts of {', '.join(PARTS)}"
    )
    parser.add_argument(
        "--keep",
        type=Path,
        help="folder for the bench profiles: built there once and reused by later runs "
        "(to alternate runs of two program versions on the same records; a newer version "
        "upgrades a copy's schema at its first sign-in)",
    )
    args = parser.parse_args()
    parts = set(args.only.split(","))
    layouts = [
        (0, "one", f"{args.records:,} records in the supervisor's own store"),
        (
            args.counsellors,
            "spread",
            f"{args.records:,} records spread over {args.counsellors} counsellors' stores "
            "(supervisor with the site key)",
        ),
    ]
    for counsellors, name, label in layouts:
        if args.layout not in (name, "both"):
            continue
        with tempfile.TemporaryDirectory() as tmp:
            root = (args.keep or Path(tmp)) / f"{name}-{args.records}-{counsellors}"
            if (root / "vault.json").exists():
                profile = Profile(root)
                started = time.perf_counter()
                Workspace.sign_in(profile, username="leitung", password=PASSWORD).close()
                print(
                    f"reused {root}; first sign-in {time.perf_counter() - started:.1f} s "
                    "(a schema upgrade of its stores included, if one was due)"
                )
            else:
                profile = build_profile(root, args.records, counsellors)
            if "search" in parts:
                bench_search(profile, label)
            if "memory" in parts:
                bench_memory(profile, label)
            users = ["leitung", "admin"] + (["berater00"] if counsellors else [])
            if "sign-in" in parts:
                bench_sign_in(profile, label, users)
            if "startup" in parts:
                bench_startup(profile, label)
    return 0


if __name__ == "__main__":
    sys.exit(main())
