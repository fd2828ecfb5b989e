"""Printed summaries: one record, and 100 records in one batch, beside bare reportlab.

    .venv/bin/python bench/bench_reports.py [--records 100] [--repeat 10]

Prints, from one run:
- one summary of a complete, realistic record (demo data: names in Arabic, Cyrillic and
  Latin script, every section answered): median and p95 build time, pages, size;
- the same beside a minimal reportlab document with the same number of pages (one
  paragraph per page in a built-in font, nothing embedded): the floor reportlab itself
  sets for that many pages;
- 100 records in one batch PDF, built as the service does it (load from the encrypted
  profile, lay out, per-record page numbers), beside the minimal document of the same
  page count, and the same batch from records already in memory;
- a consent sheet (German beside Arabic);
- peak memory of the process.
"""

from __future__ import annotations

import argparse
import io
import random
import resource
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate

from intake_app.app import Workspace
from intake_app.core.forms import load_organisation, load_shipped_forms
from intake_app.demo.data import generate
from intake_app.pdf.fonts import register_fonts
from intake_app.reports.batch import render_documents
from intake_app.reports.common import PrintContext, RecordSource
from intake_app.reports.consent_sheet import build_consent_sheet
from intake_app.reports.service import ReportService
from intake_app.reports.summary import build_summary
from intake_app.storage.profile import Profile

PASSWORD = "Bench-Passwort-2026"


def minimal_document(pages: int) -> bytes:
    """The smallest honest reportlab document with ``pages`` pages."""
    buffer = io.BytesIO()
    style = getSampleStyleSheet()["Normal"]
    story = []
    for page in range(pages):
        if page:
            story.append(PageBreak())
        story.append(Paragraph(f"Seite {page + 1}", style))
    SimpleDocTemplate(buffer, pagesize=A4).build(story)
    return buffer.getvalue()


def timed(work, repeat: int) -> tuple[list[float], object]:  # type: ignore[no-untyped-def]
    times = []
    result = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return times, result


def fmt(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(times) * 1000:8.1f} ms   p95 {p95 * 1000:8.1f} ms"


def sources(count: int) -> list[RecordSource]:
    form = load_shipped_forms().latest("intake")
    organisation = load_organisation()
    rng = random.Random(2026)
    today = date.today()
    out = []
    for index in range(count):
        answers, _complete = generate(
            form,
            organisation=organisation,
            rng=rng,
            today=today - timedelta(days=rng.randint(0, 300)),
            complete=True,
            case_number=f"BNCH-2026-{index:05d}",
            counsellor="Bench",
        )
        out.append(
            RecordSource(
                record_id=f"00000000-0000-4000-8000-{index:012d}",
                case_number=f"BNCH-2026-{index:05d}",
                status="complete",
                revision=1,
                form=form,
                answers=answers,
                owner_name="Bench",
            )
        )
    return out


def service_batch(root: Path, batch: list[RecordSource]) -> tuple[ReportService, list[str]]:
    """A profile holding the batch's records, and a supervisor's service."""
    profile = Profile(root)
    profile.create(admin_name="admin", admin_password=PASSWORD, site_name="Bench")
    ws = Workspace.sign_in(profile, username="admin", password=PASSWORD)
    ws.accounts.add_user(username="leitung", role="supervisor", password=PASSWORD)
    ws.close()
    ws = Workspace.sign_in(profile, username="leitung", password=PASSWORD)
    ws.accounts.set_own_password(PASSWORD)  # her own password: her store is created
    ws.close()
    ws = Workspace.sign_in(profile, username="leitung", password=PASSWORD)
    ids = []
    for source in batch:
        row = ws.records.create(
            form_id=source.form.id, form_version=source.form.version, answers=source.answers
        )
        ws.records.finalise(row.id, answers=source.answers)
        ids.append(row.id)
    return ReportService(ws), ids


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()

    register_fonts()
    organisation = load_organisation()
    ctx = PrintContext(
        organisation=organisation, printed_by="Bench", printed_at=time_now(), lang="de"
    )
    batch = sources(args.records)
    one = max(batch[:20], key=lambda s: len(str(s.answers)))  # a full record
    build_summary(one, ctx=ctx)  # warm caches (fonts, reference lists)

    print(f"Intake reports benchmark (Python {sys.version.split()[0]})")
    times, data = timed(lambda: build_summary(one, ctx=ctx), args.repeat)
    pages = len(_pages(data))  # type: ignore[arg-type]
    print(f"one summary            {fmt(times)}   {pages} pages, {len(data) // 1024} KiB")  # type: ignore[arg-type]
    base, _ = timed(lambda: minimal_document(pages), args.repeat)
    print(f"  minimal, {pages:3d} pages  {fmt(base)}")

    times, sheet = timed(lambda: build_consent_sheet(one, ctx=ctx, client_lang="ar"), args.repeat)
    print(f"consent sheet (de|ar)  {fmt(times)}   {len(_pages(sheet))} pages")  # type: ignore[arg-type]

    with tempfile.TemporaryDirectory() as folder:
        service, ids = service_batch(Path(folder) / "profile", batch)
        started = time.perf_counter()
        rendered = service.render(ids)
        elapsed = time.perf_counter() - started
        service.ws.close()
    print(
        f"{len(ids)} records, service  {elapsed * 1000:8.1f} ms total   {rendered.pages} pages, "
        f"{len(rendered.data) // 1024} KiB ({elapsed / rendered.pages * 1000:.1f} ms/page)"
    )
    started = time.perf_counter()
    in_memory = render_documents(batch, ctx=ctx)
    memory_time = time.perf_counter() - started
    print(
        f"{len(batch)} records, memory   {memory_time * 1000:8.1f} ms total   "
        f"{in_memory.pages} pages"
    )
    started = time.perf_counter()
    minimal_document(rendered.pages)
    minimal = time.perf_counter() - started
    print(f"  minimal, {rendered.pages:3d} pages  {minimal * 1000:8.1f} ms total")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory            {peak:8.1f} MiB")
    return 0


def time_now():  # type: ignore[no-untyped-def]
    from datetime import datetime

    return datetime.now().astimezone()


def _pages(data: bytes) -> list[object]:
    from pypdf import PdfReader

    return list(PdfReader(io.BytesIO(data)).pages)


if __name__ == "__main__":
    raise SystemExit(main())
