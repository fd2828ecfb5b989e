"""Printing in the window: preview from memory, print, save, batches off the GUI thread."""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtPrintSupport import QPrinter
from PySide6.QtWidgets import QApplication, QPushButton
from pytestqt.qtbot import QtBot

from intake_app.app import Workspace
from intake_app.core.forms.model import Form
from intake_app.reports.service import ReportService
from intake_app.storage import audit
from intake_app.ui.mainwindow import MainWindow
from intake_app.ui.print_preview import PdfPreviewDialog
from intake_app.ui.print_system import paint_pages
from intake_app.ui.printing import PrintController, install
from intake_app.ui.record_page import RecordPage
from tests.conftest import ADMIN, COUNSELLOR, SUPERVISOR, ProfileFixture
from tests.helpers.opening import open_record_now
from tests.unit.reports import pdfcheck
from tests.unit.reports import reportkit as kit
from tests.unit.reports.test_service import add_record


def _pages(dialog: PdfPreviewDialog) -> list[str]:
    """The text of each page of the preview's document."""
    document = dialog.document
    assert document is not None
    return [document.getAllText(p).text() for p in range(document.pageCount())]


@pytest.fixture
def record_ids(profile: ProfileFixture) -> list[str]:
    ws = profile.sign_in(COUNSELLOR)
    try:
        return [add_record(ws), add_record(ws, arabic=False), add_record(ws)]
    finally:
        ws.close()


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary folder Python and Qt use during the test."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", None)
    return folder


def open_window(qtbot, profile: ProfileFixture, user: str) -> tuple[MainWindow, Workspace]:  # type: ignore[no-untyped-def]
    ws = profile.sign_in(user)
    window = MainWindow(ws, autolock_minutes=30)
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    return window, ws


@pytest.fixture
def supervisor(
    qtbot: QtBot,
    profile: ProfileFixture,
    record_ids: list[str],  # type: ignore[no-untyped-def]
    scratch: Path,
) -> Iterator[tuple[MainWindow, PrintController]]:
    window, ws = open_window(qtbot, profile, SUPERVISOR)
    controller = window.printing  # the main window installs printing once
    assert controller is not None
    yield window, controller
    for dialog in list(controller.dialogs):
        dialog.reject()
    window.shutdown_pages()
    ws.close()


def entries(ws: Workspace, action: str) -> list[audit.AuditEntry]:
    with ws.db.read() as session:
        return [
            e
            for e in audit.iter_entries(session)
            if e.action == action and e.details.get("document")
        ]


def wait_for_preview(qtbot, controller: PrintController) -> PdfPreviewDialog:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: bool(controller.dialogs), timeout=30_000)
    dialog = next(iter(controller.dialogs))
    qtbot.waitUntil(dialog.isVisible)
    return dialog


def pdf_files(*folders: Path) -> list[Path]:
    found = []
    for folder in folders:
        for root, _dirs, files in os.walk(folder):
            for name in files:
                path = Path(root) / name
                try:
                    with path.open("rb") as handle:
                        if b"%PDF" in handle.read(1024):
                            found.append(path)
                except OSError:
                    continue
    return found


def test_preview_renders_from_memory_and_leaves_no_file(
    qtbot: QtBot,
    supervisor: tuple[MainWindow, PrintController],
    record_ids: list[str],  # type: ignore[no-untyped-def]
    scratch: Path,
    profile: ProfileFixture,
) -> None:
    window, controller = supervisor
    controller.preview_record(record_ids[0])
    dialog = wait_for_preview(qtbot, controller)
    document = dialog.document
    assert document is not None and document.pageCount() >= 3
    first_page = document.getAllText(0).text()
    assert "Vertraulich – personenbezogene Daten" in first_page
    assert kit.ARABIC_FAMILY in first_page or "Al-Hassan" in first_page
    assert "1 von" not in dialog.windowTitle()
    (read,) = entries(window.ws, "record_read")
    assert read.subject_id == record_ids[0] and read.details["output"] == "preview"
    dialog.reject()
    qtbot.waitUntil(lambda: not controller.dialogs)
    assert dialog.document is None
    home = Path(os.environ["HOME"])
    assert pdf_files(scratch, profile.profile.root, home) == []


def test_print_to_file_writes_the_vector_pdf_and_is_audited(
    qtbot: QtBot,
    supervisor: tuple[MainWindow, PrintController],
    record_ids: list[str],  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    window, controller = supervisor
    target = tmp_path / "printer.pdf"

    def fake_printer(_parent: object, pages: int) -> QPrinter:
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
        printer.setOutputFileName(str(target))
        printer.setResolution(96)
        assert pages >= 3
        return printer

    controller.ask_printer = fake_printer
    controller.preview_record(record_ids[1])
    dialog = wait_for_preview(qtbot, controller)
    with qtbot.waitSignal(controller.message, timeout=30_000) as blocker:
        dialog.print_button.click()
    _job, rendered = controller.dialogs[dialog]
    assert blocker.args[0] == f"{rendered.pages} Seiten in {target} gedruckt."
    assert target.read_bytes() == rendered.data  # the vector PDF itself, no page images
    (printed,) = entries(window.ws, "record_printed")
    assert printed.subject_id == record_ids[1] and printed.details["output"] == "printer"


def test_cancelled_print_dialog_prints_nothing(
    qtbot: QtBot,
    supervisor: tuple[MainWindow, PrintController],
    record_ids: list[str],  # type: ignore[no-untyped-def]
) -> None:
    window, controller = supervisor
    controller.ask_printer = lambda _parent, _pages: None
    controller.preview_record(record_ids[0])
    dialog = wait_for_preview(qtbot, controller)
    assert controller.print_dialog(dialog) is False
    assert entries(window.ws, "record_printed") == []


def test_save_as_pdf_is_explicit_and_audited(
    qtbot: QtBot,
    supervisor: tuple[MainWindow, PrintController],
    record_ids: list[str],  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    window, controller = supervisor
    suggested: list[str] = []

    def choose(_parent: object, name: str) -> Path:
        suggested.append(name)
        return tmp_path / "gespeichert.pdf"

    controller.ask_save_path = choose
    controller.preview_record(record_ids[0])
    dialog = wait_for_preview(qtbot, controller)
    dialog.save_button.click()
    _job, rendered = controller.dialogs[dialog]
    assert (tmp_path / "gespeichert.pdf").read_bytes() == rendered.data
    assert suggested[0].startswith("Zusammenfassung-") and suggested[0].endswith(".pdf")
    assert "Al-Hassan" not in suggested[0] and kit.ARABIC_FAMILY not in suggested[0]
    (exported,) = entries(window.ws, "record_exported")
    assert exported.subject_id == record_ids[0]


def test_profile_and_language_are_chosen_in_the_preview(
    qtbot: QtBot,
    supervisor: tuple[MainWindow, PrintController],
    record_ids: list[str],  # type: ignore[no-untyped-def]
) -> None:
    window, controller = supervisor
    controller.preview_record(record_ids[0])
    dialog = wait_for_preview(qtbot, controller)
    assert kit.HEALTH_LABEL_DE not in "".join(_pages(dialog))
    profile_box, lang_box = _combos(dialog)
    profile_box.setCurrentIndex(profile_box.findData("special_categories"))
    qtbot.waitUntil(
        lambda: (
            controller.dialogs[dialog][0].profile.value == "special_categories"
            and not dialog.busy_label.isVisible()
        ),
        timeout=30_000,
    )
    pages = _pages(dialog)
    assert any(kit.HEALTH_LABEL_DE in page for page in pages)
    lang_box.setCurrentIndex(lang_box.findData("en"))
    qtbot.waitUntil(
        lambda: controller.dialogs[dialog][0].lang == "en" and not dialog.busy_label.isVisible(),
        timeout=30_000,
    )
    assert "C. Residence status" in "".join(_pages(dialog))
    reads = entries(window.ws, "record_read")
    assert [e.details["profile"] for e in reads] == [
        "standard",
        "special_categories",
        "special_categories",
    ]


def _combos(dialog: PdfPreviewDialog):  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QComboBox

    boxes = dialog.findChildren(QComboBox)
    by_data = {box.itemData(0): box for box in boxes}
    return by_data["standard"], by_data["de"]


def test_batch_is_built_off_the_gui_thread_into_one_document(
    qtbot: QtBot,
    supervisor: tuple[MainWindow, PrintController],
    record_ids: list[str],  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    window, controller = supervisor
    threads: list[threading.Thread] = []
    original = ReportService.render

    def spy(self: ReportService, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread())
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ReportService, "render", spy)
    cases = window.cases
    assert cases is not None
    cases.table.selectAll()
    qtbot.waitUntil(lambda: len(cases.selected_ids()) == 3)
    window.actions_["print"].trigger()
    dialog = wait_for_preview(qtbot, controller)
    assert threads and threads[0] is not threading.main_thread()
    assert "3 Zusammenfassungen" in dialog.windowTitle()
    first_pages = [page for page in _pages(dialog) if "Seite 1 von" in page]
    assert len(first_pages) == 3
    reads = entries(window.ws, "record_read")
    assert sorted(e.subject_id for e in reads) == sorted(record_ids)
    assert len({e.details["batch"] for e in reads}) == 1


def test_batch_can_be_cancelled(
    qtbot: QtBot,
    supervisor: tuple[MainWindow, PrintController],
    record_ids: list[str],  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    window, controller = supervisor
    gate = threading.Event()
    original = controller.service.source

    def slow(record_id: str):  # type: ignore[no-untyped-def]
        gate.wait(10)
        return original(record_id)

    monkeypatch.setattr(controller.service, "source", slow)
    with qtbot.waitSignal(controller.message, timeout=30_000) as blocker:
        controller.print_records(record_ids)
        assert controller.operation is not None
        controller.operation.cancel()
        gate.set()
    assert blocker.args == ["Drucken abgebrochen."]
    assert controller.dialogs == {}
    assert entries(window.ws, "record_read") == []


def test_nothing_selected_says_what_to_do(
    qtbot: QtBot,
    supervisor: tuple[MainWindow, PrintController],
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    from PySide6.QtWidgets import QMessageBox

    shown: list[str] = []
    monkeypatch.setattr(
        QMessageBox, "information", staticmethod(lambda _p, _t, text: shown.append(text))
    )
    _window, controller = supervisor
    controller.print_records([])
    assert shown and "wählen Sie in der Liste" in shown[0]
    assert controller.dialogs == {}


def test_consent_sheet_preview_in_the_client_language(
    qtbot: QtBot,
    supervisor: tuple[MainWindow, PrintController],
    record_ids: list[str],  # type: ignore[no-untyped-def]
) -> None:
    window, controller = supervisor
    controller.print_consent_sheet(record_ids[0])
    dialog = wait_for_preview(qtbot, controller)
    from PySide6.QtWidgets import QComboBox

    (box,) = dialog.findChildren(QComboBox)
    assert box.currentData() == "ar"
    box.setCurrentIndex(box.findData("uk"))
    qtbot.waitUntil(
        lambda: (
            controller.dialogs[dialog][1].client_lang == "uk" and not dialog.busy_label.isVisible()
        ),
        timeout=30_000,
    )
    text = "".join(_pages(dialog))
    assert window.ws.organisation.purpose("central_office").label("uk") in text


def test_record_view_gets_print_buttons(
    qtbot: QtBot,
    supervisor: tuple[MainWindow, PrintController],
    record_ids: list[str],  # type: ignore[no-untyped-def]
) -> None:
    window, controller = supervisor
    open_record_now(window, record_ids[0])
    page = window.record_page
    assert isinstance(page, RecordPage)
    labels = [b.text() for b in page.findChildren(QPushButton)]
    assert "Zusammenfassung drucken …" in labels
    assert "Einwilligungsbogen drucken …" in labels
    window.actions_["print"].trigger()  # Ctrl+P prints the open record
    dialog = wait_for_preview(qtbot, controller)
    assert controller.dialogs[dialog][0].record_ids == (record_ids[0],)


def test_counsellor_prints_too_administrator_does_not(
    qtbot: QtBot,
    profile: ProfileFixture,  # type: ignore[no-untyped-def]
    record_ids: list[str],
) -> None:
    window, ws = open_window(qtbot, profile, COUNSELLOR)
    try:
        assert window.printing is not None
        assert "print" in window.actions_
    finally:
        window.shutdown_pages()
        ws.close()
    window, ws = open_window(qtbot, profile, ADMIN)
    try:
        assert window.printing is None
        assert install(window) is None
        assert "print" not in window.actions_
    finally:
        ws.close()


def test_paint_pages_honours_the_page_range(
    qapp: QApplication,
    tmp_path: Path,
    form: Form,
) -> None:
    from intake_app.core.forms import load_organisation
    from intake_app.reports.summary import build_summary

    organisation = load_organisation()
    data = build_summary(
        kit.source(form, kit.rich_answers(form, organisation)), ctx=kit.context(organisation)
    )
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setOutputFileName(str(tmp_path / "range.pdf"))
    printer.setResolution(72)
    printer.setPrintRange(QPrinter.PrintRange.PageRange)
    printer.setFromTo(2, 3)
    steps: list[tuple[int, int]] = []

    def step(done: int, total: int) -> bool:
        steps.append((done, total))
        return True

    assert paint_pages(data, printer, step=step) == 2
    assert steps == [(0, 2), (1, 2), (2, 2)]
    assert len(pdfcheck.reader((tmp_path / "range.pdf").read_bytes()).pages) == 2


@pytest.fixture
def form() -> Form:
    from intake_app.core.forms import load_shipped_forms

    return load_shipped_forms().get("intake", "2026.1")


def twenty_pages(form: Form) -> bytes:
    """A 20-page batch of summaries, as a supervisor prints them."""
    import io

    from pypdf import PdfReader, PdfWriter

    from intake_app.core.forms import load_organisation
    from intake_app.reports.summary import build_summary

    organisation = load_organisation()
    one = build_summary(
        kit.source(form, kit.rich_answers(form, organisation)), ctx=kit.context(organisation)
    )
    writer = PdfWriter()
    while len(writer.pages) < 20:
        for page in PdfReader(io.BytesIO(one)).pages:
            if len(writer.pages) < 20:
                writer.add_page(page)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def test_rasterised_batch_of_twenty_pages_stays_under_5_mb(
    qapp: QApplication, tmp_path: Path, form: Form
) -> None:
    """Where there is no CUPS, pages go as images: grey at 150 dpi, not 300 dpi colour."""
    from intake_app.ui.print_system import RASTER_DPI, new_printer

    data = twenty_pages(form)
    printer = new_printer()
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    target = tmp_path / "raster.pdf"
    printer.setOutputFileName(str(target))
    assert paint_pages(data, printer) == 20
    assert RASTER_DPI == 150
    assert target.stat().st_size < 2 * 1024 * 1024  # 5 MB is the limit; 0.7 MB measured
    pages = pdfcheck.reader(target.read_bytes()).pages
    assert len(pages) == 20
    width, height = (round(float(v)) for v in pages[0].mediabox[2:])
    assert (width, height) == (595, 842)  # A4


def test_save_as_opens_in_the_documents_folder_else_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ "Als PDF speichern" opened in the program's folder where the account has no
    documents folder: it opens in the documents folder, else in the home folder, never
    in the working directory."""
    from intake_app.ui.printing import save_folder

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.chdir(tmp_path)
    assert save_folder() == home
    (home / "Documents").mkdir()
    assert save_folder() == home / "Documents"
