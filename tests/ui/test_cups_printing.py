"""Printing through a real CUPS queue (cups-pdf): the vector PDF goes to the print system
with A4, copies and page range, for record summaries and the overview sheet alike, and
what the queue prints has the text and fonts of the exported PDF on A4 pages.

The test starts the CUPS scheduler when it is not running (as root, as in CI) and adds a
cups-pdf queue of its own that writes into a folder of the test.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from PySide6.QtPrintSupport import QPrinter
from pytestqt.qtbot import QtBot

from intake_app.app import Workspace
from intake_app.demo.data import add_synthetic_intakes
from intake_app.storage import audit
from intake_app.storage.records import RecordQuery
from intake_app.ui.mainwindow import MainWindow
from intake_app.ui.print_preview import PdfPreviewDialog
from intake_app.ui.print_system import new_printer
from intake_app.ui.printing import PrintController
from tests.conftest import SUPERVISOR, ProfileFixture
from tests.ui.test_overview_and_erasure import close_cases
from tests.unit.reports import reportkit as kit
from tests.unit.reports.test_service import add_record

PPD = Path("/usr/share/ppd/cups-pdf/CUPS-PDF_opt.ppd")
A4 = (595, 842)  # points, rounded


def _scheduler_running() -> bool:
    done = subprocess.run(["lpstat", "-r"], capture_output=True, text=True, env=_c_env())
    return "is running" in done.stdout


def _c_env() -> dict[str, str]:
    return dict(os.environ, LC_ALL="C", LANG="C")


@pytest.fixture(scope="module")
def cups_queue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A cups-pdf queue of this test run; yields its name and the folder it prints into."""
    for tool in ("lp", "lpstat", "lpadmin", "cupsd"):
        assert shutil.which(tool), f"{tool} is missing: run scripts/setup-system.sh as root"
    assert PPD.exists(), "printer-driver-cups-pdf is missing: run scripts/setup-system.sh"
    assert os.geteuid() == 0, "the CUPS test adds a print queue and needs root (as in CI)"
    scheduler = None
    if not _scheduler_running():
        scheduler = subprocess.Popen(
            ["cupsd", "-f"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for _ in range(100):
            if _scheduler_running():
                break
            time.sleep(0.1)
        assert _scheduler_running(), "the CUPS scheduler did not start"
    instance = f"intaketest{os.getpid()}"
    queue = f"IntakeTest{os.getpid()}"
    out = tmp_path_factory.mktemp("cups-pdf")
    out.chmod(0o755)
    config = Path(f"/etc/cups/cups-pdf-{instance}.conf")
    config.write_text(f"Out {out}\nAnonDirName {out}\nLabel 2\n", encoding="utf-8")
    subprocess.run(
        ["lpadmin", "-p", queue, "-E", "-v", f"cups-pdf:/{instance}", "-P", str(PPD)],
        check=True,
        capture_output=True,
    )
    try:
        yield queue, out
    finally:
        subprocess.run(["lpadmin", "-x", queue], capture_output=True)
        config.unlink(missing_ok=True)
        if scheduler is not None:
            scheduler.terminate()
            scheduler.wait(20)


def printed_file(out: Path, before: set[Path]) -> Path:
    """The next PDF cups-pdf writes into ``out`` (complete: it opens as a PDF)."""
    for _ in range(600):
        for path in set(out.rglob("*.pdf")) - before:
            try:
                with pikepdf.open(path):
                    return path
            except pikepdf.PdfError:
                continue  # still being written
        time.sleep(0.1)
    raise AssertionError(f"the queue wrote no PDF into {out}")


def base_fonts(pdf: pikepdf.Pdf, pages: range | None = None) -> set[str]:
    """The fonts used on ``pages``, without the subset prefix ("ABCDEF+")."""
    names = set()
    for index, page in enumerate(pdf.pages):
        if pages is not None and index not in pages:
            continue
        fonts: Any = page.obj.get("/Resources", pikepdf.Dictionary()).get("/Font", {})
        for font in fonts.values():
            name = str(font.get("/BaseFont", ""))
            names.add(re.sub(r"^/?([A-Z]{6}\+)?", "", name))
    return names


def _xobjects(page: Any) -> list[Any]:
    resources: Any = page.obj.get("/Resources", pikepdf.Dictionary())
    return list(resources.get("/XObject", {}).values())


def page_texts(path: Path) -> list[str]:
    done = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    )
    return done.stdout.split("\f")


def words(text: str) -> set[str]:
    """The Latin words of a text. cups-pdf's PostScript round trip keeps every glyph but
    not the Unicode names of those outside ASCII ("Köln" reads back as "K ln"), so the
    comparison splits words there on both sides."""
    return set(re.findall(r"[A-Za-z]{4,}", re.sub(r"[^\x00-\x7f]", " ", text)))


@pytest.fixture
def window(
    qtbot: QtBot, profile: ProfileFixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[MainWindow, Workspace, Path]]:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    ws = profile.sign_in(SUPERVISOR)
    window = MainWindow(ws, autolock_minutes=30)
    qtbot.addWidget(window)
    window.resize(1366, 768)
    window.show()
    yield window, ws, scratch
    window.shutdown_pages()
    ws.close()


def _queue_printer(queue: str, first: int | None = None, last: int | None = None):  # type: ignore[no-untyped-def]
    def ask(_parent: object, _pages: int) -> QPrinter:
        printer = new_printer()
        printer.setPrinterName(queue)
        if first is not None and last is not None:
            printer.setPrintRange(QPrinter.PrintRange.PageRange)
            printer.setFromTo(first, last)
        return printer

    return ask


def test_summary_goes_to_cups_as_vector_pdf_on_a4(
    qtbot: QtBot,
    window: tuple[MainWindow, Workspace, Path],
    cups_queue: tuple[str, Path],
) -> None:
    main, ws, scratch = window
    queue, out = cups_queue
    record_id = add_record(ws)
    controller = main.printing
    assert isinstance(controller, PrintController)
    controller.ask_printer = _queue_printer(queue, 2, 3)
    controller.preview_record(record_id)
    qtbot.waitUntil(lambda: bool(controller.dialogs), timeout=30_000)
    dialog = next(iter(controller.dialogs))
    _job, rendered = controller.dialogs[dialog]
    assert rendered.pages >= 3
    before = set(out.rglob("*.pdf"))
    with qtbot.waitSignal(controller.message, timeout=60_000) as blocker:
        dialog.print_button.click()
    assert blocker.args[0] == "2 Seiten an den Drucker gesendet."
    assert list(scratch.iterdir()) == []  # the private temporary file is gone
    printed = printed_file(out, before)
    assert kit.ARABIC_FAMILY not in printed.name and "Al-Hassan" not in printed.name

    original = pikepdf.open(io.BytesIO(rendered.data))
    with pikepdf.open(printed) as result:
        assert len(result.pages) == 2  # the page range 2–3
        for page in result.pages:
            box = [float(v) for v in page.mediabox]
            assert (round(box[2] - box[0]), round(box[3] - box[1])) == A4
        # the exported PDF's fonts (its pages list them all; the print uses those it needs)
        wanted = base_fonts(original, range(1, 3))
        got = base_fonts(result)
        assert "NotoSans-Regular" in got and got <= wanted, (wanted, got)
        assert not any(
            "/Image" in str(xobj.get("/Subtype", ""))
            for page in result.pages
            for xobj in _xobjects(page)
        )
    exported = Path(scratch.parent / "exported.pdf")
    exported.write_bytes(rendered.data)
    source_pages = page_texts(exported)
    result_pages = page_texts(printed)
    for source, result_text in zip(source_pages[1:3], result_pages[:2], strict=True):
        assert words(source) and words(source) == words(result_text)
    with ws.db.read() as session:
        printed_entries = [e for e in audit.iter_entries(session) if e.action == "record_printed"]
    assert [e.subject_id for e in printed_entries] == [record_id]
    dialog.reject()


def test_overview_sheet_takes_the_same_print_path(
    qtbot: QtBot,
    window: tuple[MainWindow, Workspace, Path],
    cups_queue: tuple[str, Path],
) -> None:
    main, ws, scratch = window
    queue, out = cups_queue
    add_synthetic_intakes(ws, count=14, seed=3, complete_share=1.0)
    close_cases(ws)  # seven closed: six for employment, one moved away
    main.actions_["overview"].trigger()
    page = main.overview
    assert page is not None
    controller = main.printing
    assert isinstance(controller, PrintController)
    controller.ask_printer = _queue_printer(queue)
    qtbot.waitUntil(page.print_button.isEnabled, timeout=30_000)  # counted in the background
    page.print_button.click()
    qtbot.waitUntil(lambda: bool(controller.sheets), timeout=30_000)
    dialog: PdfPreviewDialog = next(iter(controller.sheets))
    before = set(out.rglob("*.pdf"))
    with qtbot.waitSignal(controller.message, timeout=60_000) as blocker:
        dialog.print_button.click()
    assert "an den Drucker gesendet" in blocker.args[0]
    printed = printed_file(out, before)
    with pikepdf.open(printed) as result:
        box = [float(v) for v in result.pages[0].mediabox]
        assert (round(box[2]), round(box[3])) == A4
    text = "".join(page_texts(printed))
    assert {"bersicht", "Standorts", "anonymisierte"} <= words(text)
    # the outcome figures follow, small cells hidden as on the screen
    assert {"Ergebnisse", "Begleitung", "Arbeitsaufnahme", "Vermittlungen"} <= words(text)
    assert re.search(r"Arbeitsaufnahme\s+x\s", text) and re.search(r"Umgezogen\s+<5\s", text)
    names = {s.family_name for s in ws.records.list(RecordQuery(), limit=100)}
    assert not any(name and name in text for name in names)
    with ws.db.read() as session:
        actions = [e.action for e in audit.iter_entries(session)]
    assert "overview_printed" in actions
    assert list(scratch.iterdir()) == []
    dialog.reject()


def test_a_refused_job_is_said_in_words(
    qtbot: QtBot,
    window: tuple[MainWindow, Workspace, Path],
    cups_queue: tuple[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    main, ws, scratch = window
    queue, _out = cups_queue
    record_id = add_record(ws)
    controller = main.printing
    assert isinstance(controller, PrintController)
    controller.ask_printer = _queue_printer(queue)
    subprocess.run(["cupsreject", queue], check=True)  # the queue takes no jobs
    request.addfinalizer(lambda: subprocess.run(["cupsaccept", queue], check=True))
    shown: list[str] = []
    monkeypatch.setattr(
        "intake_app.ui.printing.show_error", lambda _parent, exc: shown.append(str(exc))
    )
    controller.preview_record(record_id)
    qtbot.waitUntil(lambda: bool(controller.dialogs), timeout=30_000)
    dialog = next(iter(controller.dialogs))
    with qtbot.waitSignal(controller.message, timeout=60_000) as blocker:
        dialog.print_button.click()
    assert blocker.args == ["Nicht gedruckt."]
    assert shown and shown[0].startswith("Der Drucker hat den Auftrag nicht angenommen")
    assert list(scratch.iterdir()) == []
    dialog.reject()
