"""Printing from the window: summaries, consent sheets, and many records at once.

:class:`PrintController` is the one object the main window needs. Every PDF is built
off the GUI thread (``run_op``) with a progress dialog that can cancel, then shown in a
preview (:class:`~intake_app.ui.print_preview.PdfPreviewDialog`) from memory. From the
preview the user prints through the system dialog or saves a PDF to a place they choose.
The service writes the audit entries: opening the preview is a read, printing and saving
are a print and an export.

There is one print path for everything printed (summaries, consent sheets, the overview
sheet): :meth:`PrintController.print_pdf`. It asks the system print dialog (A4 preset),
writes the audit entry, and hands the vector PDF to the print system in the background
with progress and a clear message when it fails (``ui/print_system.py``).

Wiring (see :func:`install`): a menu action "Drucken …" (Ctrl+P) prints the open record
or the records selected in the case list; each record view gets the buttons
"Zusammenfassung drucken …" and "Einwilligungsbogen drucken …".

Signals: :class:`PrintController` ``message(str)`` (for the status bar).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QDir, QObject, QStandardPaths, Qt, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QMessageBox,
    QPushButton,
    QWidget,
)

from intake_app.app import Workspace
from intake_app.errors import IntakeError
from intake_app.i18n import _, current_language, ngettext
from intake_app.reports import batch as report_batch
from intake_app.reports.batch import Document, RenderedPdf
from intake_app.reports.profiles import PROFILE_LABELS, Profile
from intake_app.reports.service import Output, ReportService
from intake_app.ui.errors import show_error
from intake_app.ui.ops import Cancelled, CancelToken, Operation, run_op

if TYPE_CHECKING:
    from PySide6.QtPrintSupport import QPrinter

    from intake_app.figures.summary import Summary
    from intake_app.storage.lifecycle import Overview
    from intake_app.ui.mainwindow import MainWindow
    from intake_app.ui.print_preview import PdfPreviewDialog
    from intake_app.ui.print_system import PrintResult
    from intake_app.ui.record_page import RecordPage

log = logging.getLogger("intake.ui")

SHEET_LANGUAGE_NAMES = {
    "de": "Deutsch",
    "en": "English",
    "ar": "العربية (Arabisch)",
    "uk": "Українська (Ukrainisch)",
    "ru": "Русский (Russisch)",
    "tr": "Türkçe (Türkisch)",
    "fa": "دری / فارسی (Dari/Farsi)",
}


@dataclass(frozen=True, slots=True)
class PrintJob:
    """What to print: records, document, language, profile, consent sheet language."""

    record_ids: tuple[str, ...]
    document: Document = Document.SUMMARY
    lang: str = "de"
    profile: Profile = Profile.STANDARD
    client_lang: str | None = None


def ask_printer(parent: QWidget, pages: int) -> QPrinter | None:
    """The system print dialog (A4 preset); the chosen printer, or None when cancelled."""
    # Deferred: Qt's print support loads when something is printed, not with the main
    # window (docs/architecture.md, "Start-up").
    from PySide6.QtPrintSupport import QAbstractPrintDialog, QPrintDialog

    from intake_app.ui.print_system import new_printer

    printer = new_printer()
    printer.setFromTo(1, pages)
    dialog = QPrintDialog(printer, parent)
    dialog.setWindowTitle(_("Drucken"))
    dialog.setMinMax(1, pages)
    dialog.setOption(QAbstractPrintDialog.PrintDialogOption.PrintPageRange, True)
    if dialog.exec() != QPrintDialog.DialogCode.Accepted:
        return None
    return printer


def save_folder() -> Path:
    """Where "save as" opens: the user's documents folder, else the home folder.

    Qt names a documents folder even where none exists (a fresh account), and its file
    dialog then opens in the working directory, the program's folder: a confidential PDF
    would be offered a place next to the code."""
    documents = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    if documents and Path(documents).is_dir():
        return Path(documents)
    return Path(QDir.homePath())


def ask_save_path(parent: QWidget, suggested: str) -> Path | None:
    """An explicit "save as" dialog; the chosen path, or None when cancelled."""
    folder = save_folder()
    path, _filter = QFileDialog.getSaveFileName(
        parent, _("Als PDF speichern"), str(Path(folder) / suggested), _("PDF-Dateien (*.pdf)")
    )
    if not path:
        return None
    if not path.lower().endswith(".pdf"):
        path += ".pdf"
    return Path(path)


class PrintController(QObject):
    """Builds, previews, prints and saves PDFs for the signed-in user.

    Signals: ``message(str)``: a short result for the status bar.

    Args:
        workspace: the signed-in workspace.
        parent: the window dialogs belong to.
    """

    message = Signal(str)

    def __init__(self, workspace: Workspace, parent: QWidget) -> None:
        super().__init__(parent)
        self.ws = workspace
        self.window = parent
        self.service = ReportService(workspace)
        self.dialogs: dict[PdfPreviewDialog, tuple[PrintJob, RenderedPdf]] = {}
        #: previews of the overview sheet and their PDFs
        self.sheets: dict[PdfPreviewDialog, bytes] = {}
        self.operation: Operation | None = None
        self.print_operation: Operation | None = None
        # replaceable in tests (the system dialogs cannot run offscreen)
        self.ask_printer: Callable[[QWidget, int], QPrinter | None] = ask_printer
        self.ask_save_path: Callable[[QWidget, str], Path | None] = ask_save_path

    @property
    def enabled(self) -> bool:
        """Whether the user may print at all."""
        return self.service.can_print()

    # -- entry points --------------------------------------------------------------------

    def preview_record(self, record_id: str) -> None:
        """Build one record's summary and show it."""
        self._start(PrintJob((record_id,), lang=current_language()))

    def print_consent_sheet(self, record_id: str) -> None:
        """Build one record's consent sheet (German beside the consent's language)."""
        self._start(
            PrintJob((record_id,), document=Document.CONSENT_SHEET, lang=current_language())
        )

    def print_records(self, record_ids: Sequence[str]) -> None:
        """Build one PDF of many records' summaries (a supervisor's batch) and show it."""
        if not record_ids:
            QMessageBox.information(
                self.window,
                _("Drucken"),
                _(
                    "Bitte wählen Sie in der Liste die Akten aus, die gedruckt werden sollen "
                    "(Strg+Klick oder Umschalt+Klick für mehrere)."
                ),
            )
            return
        self._start(PrintJob(tuple(record_ids), lang=current_language()))

    def add_record_buttons(self, page: RecordPage) -> None:
        """Add "Zusammenfassung drucken …" and "Einwilligungsbogen drucken …" to a record view."""
        if not self.enabled:
            return
        summary = QPushButton(_("Zusammenfassung drucken …"))
        summary.setAccessibleName(_("Zusammenfassung drucken"))
        sheet = QPushButton(_("Einwilligungsbogen drucken …"))
        sheet.setAccessibleName(_("Einwilligungsbogen drucken"))
        summary.clicked.connect(lambda: self.preview_record(page.record_id))
        sheet.clicked.connect(lambda: self.print_consent_sheet(page.record_id))
        page.add_action(summary)
        page.add_action(sheet)

    # -- building ------------------------------------------------------------------------

    def _start(self, job: PrintJob, dialog: PdfPreviewDialog | None = None) -> None:
        """Build ``job`` in the background; show it in ``dialog`` (or a new preview)."""
        service = self.service

        def work(token: CancelToken) -> RenderedPdf:
            return service.render(
                job.record_ids,
                document=job.document,
                lang=job.lang,
                profile=job.profile,
                client_lang=job.client_lang,
                progress=token.progress,
                cancelled=lambda: token.cancelled,
            )

        def on_success(rendered: RenderedPdf) -> None:
            try:
                service.record_output(rendered, output=Output.PREVIEW)
            except IntakeError as exc:
                show_error(self.window, exc)
                return
            if dialog is None:
                self._show(job, rendered)
            else:
                self.dialogs[dialog] = (job, rendered)
                dialog.show_pdf(rendered.data)

        def on_failure(exc: BaseException) -> None:
            if dialog is not None:
                dialog.set_busy(False)
            if isinstance(exc, (Cancelled, report_batch.Cancelled)):
                self.message.emit(_("Drucken abgebrochen."))
                return
            show_error(dialog or self.window, exc)

        if dialog is not None:
            dialog.set_busy(True)
        self.operation = run_op(
            self,
            work,
            on_success=on_success,
            on_failure=on_failure,
            label=_("PDF erstellen"),
            progress=dialog or self.window,
            progress_text=_("PDF wird erstellt …"),
        )

    def _show(self, job: PrintJob, rendered: RenderedPdf) -> PdfPreviewDialog:
        count = len(job.record_ids)
        if job.document is Document.CONSENT_SHEET:
            title = _("Einwilligungsbogen – Vorschau")
        elif count > 1:
            title = _("{n} Zusammenfassungen – Vorschau").format(n=count)
        else:
            title = _("Zusammenfassung – Vorschau")
        # Deferred: the PDF preview (QtPdf) loads when the first preview opens, not with
        # the main window (docs/architecture.md, "Start-up").
        from intake_app.ui.print_preview import PdfPreviewDialog

        dialog = PdfPreviewDialog(title, self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.dialogs[dialog] = (job, rendered)
        if job.document is Document.SUMMARY:
            lang = dialog.add_option(
                _("&Sprache:"), [("Deutsch", "de"), ("English", "en")], job.lang
            )
            profile = dialog.add_option(
                _("&Profil:"),
                [(_(PROFILE_LABELS[p]), p.value) for p in Profile],
                job.profile.value,
            )
            dialog.options_changed.connect(
                lambda: self._rebuild(
                    dialog, lang=lang.currentData(), profile=profile.currentData()
                )
            )
        else:
            # Deferred: the consent sheet's module loads reportlab (docs/architecture.md,
            # "Imports inside functions"); it is loaded by now, the sheet was just built.
            from intake_app.reports.consent_sheet import SHEET_LANGUAGES

            languages = [
                code
                for code in SHEET_LANGUAGES
                if code in self.ws.organisation.languages and code != "de"
            ]
            client = dialog.add_option(
                _("Sprache &neben Deutsch:"),
                [(SHEET_LANGUAGE_NAMES[c], c) for c in languages],
                rendered.client_lang,
            )
            dialog.options_changed.connect(
                lambda: self._rebuild(dialog, client_lang=client.currentData())
            )

        # slots return None: PySide6 mishandles values returned from slots (refcounts)
        def on_print() -> None:
            self.print_dialog(dialog)

        def on_save() -> None:
            self.save_dialog(dialog)

        def on_finished(_result: int) -> None:
            self.dialogs.pop(dialog, None)

        dialog.print_requested.connect(on_print)
        dialog.save_requested.connect(on_save)
        dialog.finished.connect(on_finished)
        dialog.show_pdf(rendered.data)
        dialog.open()
        return dialog

    def _rebuild(self, dialog: PdfPreviewDialog, **changes: Any) -> None:
        job, _rendered = self.dialogs[dialog]
        if "profile" in changes:
            changes["profile"] = Profile(changes["profile"])
        self._start(replace(job, **changes), dialog)

    # -- output --------------------------------------------------------------------------

    def print_dialog(self, dialog: PdfPreviewDialog) -> bool:
        """Print what ``dialog`` shows (a summary, consent sheet or the overview sheet)."""
        if dialog in self.sheets:
            data = self.sheets[dialog]
            return self.print_pdf(
                dialog,
                data,
                dialog.document.pageCount() if dialog.document else 1,
                audit=lambda: self.service.overview_output(Output.PRINTER),
            )
        _job, rendered = self.dialogs[dialog]
        pages = rendered.pages or (dialog.document.pageCount() if dialog.document else 1)
        return self.print_pdf(
            dialog,
            rendered.data,
            pages,
            audit=lambda: self.service.record_output(rendered, output=Output.PRINTER),
        )

    def print_pdf(
        self, parent: QWidget, data: bytes, pages: int, *, audit: Callable[[], None]
    ) -> bool:
        """The one print path: the system print dialog, the audit entry, then the PDF to
        the print system in the background (progress after 200 ms, errors in words).
        False when the user cancelled the dialog or the audit entry failed."""
        # Deferred: the print system loads when something is printed (docs/architecture.md,
        # "Start-up"); here, on the GUI thread, before the work below needs it.
        from intake_app.ui.print_system import request_from, send

        printer = self.ask_printer(parent, pages)
        if printer is None:
            return False
        request = request_from(printer, pages)
        try:
            audit()
        except IntakeError as exc:
            show_error(parent, exc)
            return False

        def work(token: CancelToken) -> PrintResult:
            def step(done: int, total: int) -> bool:
                token.progress(done, total, "")
                return not token.cancelled

            return send(data, request, printer, step=step)

        def on_success(result: PrintResult) -> None:
            if result.how == "file":
                text = ngettext(
                    "{n} Seite in {path} gedruckt.", "{n} Seiten in {path} gedruckt.", result.pages
                ).format(n=result.pages, path=request.to_file)
            else:
                text = ngettext(
                    "{n} Seite an den Drucker gesendet.",
                    "{n} Seiten an den Drucker gesendet.",
                    result.pages,
                ).format(n=result.pages)
                if result.copies > 1:
                    text += " " + _("{n} Exemplare.").format(n=result.copies)
            self.message.emit(text)

        def on_failure(exc: BaseException) -> None:
            if isinstance(exc, Cancelled):
                self.message.emit(_("Drucken abgebrochen."))
                return
            if not isinstance(exc, IntakeError):
                log.error("printing failed: %s", type(exc).__name__)
                exc = IntakeError(_("Der Drucker konnte nicht angesprochen werden."))
            show_error(parent, exc)
            self.message.emit(_("Nicht gedruckt."))

        self.print_operation = run_op(
            self,
            work,
            on_success=on_success,
            on_failure=on_failure,
            label=_("Drucken"),
            progress=parent,
            progress_text=_("Wird an den Drucker gesendet …"),
        )
        return True

    def save_dialog(self, dialog: PdfPreviewDialog) -> bool:
        """Save what ``dialog`` shows to a file the user chooses."""
        if dialog in self.sheets:
            path = self.ask_save_path(dialog, _("Uebersicht-{day}.pdf").format(day=date.today()))
            if path is None:
                return False
            try:
                self.service.save_overview(self.sheets[dialog], path)
            except IntakeError as exc:
                show_error(dialog, exc)
                return False
            self.message.emit(_("PDF gespeichert: {path}").format(path=path))
            return True
        _job, rendered = self.dialogs[dialog]
        path = self.ask_save_path(dialog, suggested_name(rendered))
        if path is None:
            return False
        try:
            self.service.save(rendered, path)
        except IntakeError as exc:
            show_error(dialog, exc)
            return False
        self.message.emit(_("PDF gespeichert: {path}").format(path=path))
        return True

    # -- the overview sheet --------------------------------------------------------------

    def preview_overview(self, overview: Overview, outcomes: Summary | None = None) -> None:
        """Build the overview sheet (anonymised numbers, then the outcome figures with
        small cells hidden) in the background and show it; printed and saved through the
        same paths as every other printout."""
        site = str(self.ws.settings.get("site.name") or "")
        printed_by = self.ws.actor.display_name or self.ws.actor.username
        lang = current_language()

        def work(_token: CancelToken) -> bytes:
            # Deferred: reportlab loads only when printing (docs/architecture.md).
            from intake_app.reports.overview_sheet import overview_pdf

            return overview_pdf(
                overview, site=site, printed_by=printed_by, lang=lang, outcomes=outcomes
            )

        def on_success(data: bytes) -> None:
            # Deferred: the PDF preview (QtPdf) loads when the first preview opens.
            from intake_app.ui.print_preview import PdfPreviewDialog

            dialog = PdfPreviewDialog(_("Übersicht – Vorschau"), self.window)
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
            self.sheets[dialog] = data

            def on_print() -> None:
                self.print_dialog(dialog)

            def on_save() -> None:
                self.save_dialog(dialog)

            def on_finished(_result: int) -> None:
                self.sheets.pop(dialog, None)

            dialog.print_requested.connect(on_print)
            dialog.save_requested.connect(on_save)
            dialog.finished.connect(on_finished)
            dialog.show_pdf(data)
            dialog.open()

        def on_failure(exc: BaseException) -> None:
            if not isinstance(exc, Cancelled):
                show_error(self.window, exc)

        self.operation = run_op(
            self,
            work,
            on_success=on_success,
            on_failure=on_failure,
            label=_("PDF erstellen"),
            progress=self.window,
            progress_text=_("PDF wird erstellt …"),
        )


def suggested_name(rendered: RenderedPdf) -> str:
    """A file name without personal data: the case number, or the date for a batch."""
    if rendered.document is Document.CONSENT_SHEET:
        stem = _("Einwilligung")
    else:
        stem = _("Zusammenfassung")
    if len(rendered.records) == 1 and rendered.records[0].case_number:
        return f"{stem}-{rendered.records[0].case_number}.pdf"
    return f"{stem}-{len(rendered.records)}-{date.today().isoformat()}.pdf"


def install(window: MainWindow) -> PrintController | None:
    """Wire printing into the main window (None when the role may not print).

    Adds "Drucken …" (Ctrl+P) to the File menu: it prints the open record, else the
    records selected in the case list; adds the print buttons to every record view;
    shows results in the status bar.
    """
    controller = PrintController(window.ws, window)
    if not controller.enabled:
        return None

    def on_print() -> None:
        page = window.record_page
        record_id = getattr(page, "record_id", None)
        if page is not None and record_id and page.isVisible():
            controller.preview_record(record_id)
        elif window.cases is not None:
            controller.print_records(window.cases.selected_ids())

    window.actions_.add(
        "print", _("&Drucken …"), shortcut=QKeySequence.StandardKey.Print, slot=on_print
    )
    window.actions_.place("print", "file", after="new_intake")
    window.record_page_created.connect(controller.add_record_buttons)
    controller.message.connect(lambda text: window.statusBar().showMessage(text, 8000))
    return controller
