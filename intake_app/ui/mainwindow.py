"""The main window: layout and signal wiring only; features live in their own classes.

Signals: ``logout_requested()``, ``language_changed(str)``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from intake_app.app import Workspace
from intake_app.core.audit import ChainReport
from intake_app.core.permissions import Permission
from intake_app.core.records import RecordStatus
from intake_app.errors import IntakeError
from intake_app.i18n import LANGUAGE_NAMES, LANGUAGES, _, current_language, ngettext
from intake_app.storage.lifecycle import PurgeResult
from intake_app.ui.a11y import LiveLabel
from intake_app.ui.actions import ActionRegistry
from intake_app.ui.autolock import LockController
from intake_app.ui.caselist import CaseListPage
from intake_app.ui.errors import show_error
from intake_app.ui.key_dialogs import add_move_button, install_key_actions
from intake_app.ui.login import ChangePasswordDialog
from intake_app.ui.ops import Cancelled, CancelToken, Operation, run_op
from intake_app.ui.printing import PrintController
from intake_app.ui.printing import install as install_printing
from intake_app.ui.sync_window import status_text
from intake_app.ui.widgets import card, centred_column, heading

if TYPE_CHECKING:
    from intake_app.ui.overview import OverviewPage
    from intake_app.ui.record_page import RecordData, RecordPage
    from intake_app.ui.sync_window import SyncWindow

log = logging.getLogger("intake.ui")


class EmptyState(QWidget):
    """The start page when the case list has nothing to show: for those who keep records,
    what to do next with one clear button; for a role that sees no records (the
    administration), what it does here instead of a claim that there are no intakes."""

    def __init__(self, *, can_create: bool, sees_records: bool, role_note: str) -> None:
        super().__init__()
        self.new_button = QPushButton(_("Neue Aufnahme beginnen"))
        self.new_button.setObjectName("primary")
        self.new_button.setAccessibleName(_("Neue Aufnahme beginnen"))
        self.new_button.setVisible(can_create)
        text = QLabel(
            _(
                "Hier erscheinen die Erstgespräche dieses Standorts. Jede Antwort wird sofort "
                "verschlüsselt gespeichert; ein Gespräch kann jederzeit unterbrochen und später "
                "fortgesetzt werden."
            )
        )
        text.setWordWrap(True)
        text.setVisible(sees_records)
        shortcut = QLabel(_("Tastenkürzel: Strg+N"))
        shortcut.setObjectName("muted")
        shortcut.setVisible(can_create)
        note = QLabel(role_note)
        note.setObjectName("muted" if sees_records else "")
        note.setWordWrap(True)
        note.setVisible(bool(role_note))
        self.title = heading(_("Noch keine Aufnahmen") if sees_records else _("Verwaltung"))
        panel = card(
            self.title,
            text,
            note,
            self.new_button,
            shortcut,
            width=560,
        )
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(centred_column(panel, width=560))
        layout.addStretch(2)


class MainWindow(QMainWindow):
    """The window a signed-in user works in.

    Signals: ``logout_requested()`` (the controller shows the log-in again),
    ``language_changed(str)``.
    """

    logout_requested = Signal()
    language_changed = Signal(str)
    record_page_created = Signal(object)

    def __init__(self, workspace: Workspace, *, autolock_minutes: float | None = None) -> None:
        super().__init__()
        self.ws = workspace
        self.geometry_restored = False
        actor = workspace.actor
        self.setWindowTitle(self._site_name())
        self.setMinimumSize(960, 600)

        self.stack = QStackedWidget()
        role_note = ""
        if not actor.can(Permission.CREATE_RECORD):
            role_note = _(
                "Als Administration verwalten Sie Benutzer, Einstellungen und die Registrierung "
                "des Geräts. Akten sehen nur Beratung und Leitung."
            )
        self.empty = EmptyState(
            can_create=actor.can(Permission.CREATE_RECORD),
            sees_records=actor.can(Permission.VIEW_OWN_RECORDS),
            role_note=role_note,
        )
        self.stack.addWidget(self.empty)
        self.cases: CaseListPage | None = None
        self.record_page: QWidget | None = None
        #: the intake made with "Neue Aufnahme" that is open now, and the answers it was
        #: made with (discarded when left untouched, see _leave_record_page)
        self._new_draft: tuple[str, dict[str, Any]] | None = None
        #: the background read of the record being opened (None when none is running)
        self.opening: Operation | None = None
        self.overview: OverviewPage | None = None
        if actor.can(Permission.VIEW_OWN_RECORDS):
            self.cases = CaseListPage(workspace.records, actor)
            self.cases.open_requested.connect(self.open_record)
            self.cases.new_requested.connect(self._on_new_intake)
            self.cases.model.total_changed.connect(self._update_page)
            self.stack.addWidget(self.cases)
        self.setCentralWidget(self.stack)

        self.actions_ = self._create_actions()
        self._create_menus()
        self._create_status_bar()
        self.printing = install_printing(self)
        install_key_actions(self)

        minutes = autolock_minutes
        if minutes is None:
            minutes = float(workspace.settings.get("security.autolock_minutes"))
        self.lock = LockController(workspace, self, minutes=minutes)
        self.lock.logout_requested.connect(self.logout_requested)
        self.empty.new_button.clicked.connect(self.actions_["new_intake"].trigger)
        self._update_page()
        self._restore_geometry()

    def _update_page(self, *_args: object, force: bool = False) -> None:
        """The case list when there are records (or a filter is active), else the empty state.

        Only while one of the two is shown: a search finishing late never pulls the user
        away from the overview or an open record."""
        if not force and self.stack.currentWidget() not in (self.cases, self.empty):
            return
        if self.cases is not None and (self.cases.model.total > 0 or self.cases.has_filters()):
            self.stack.setCurrentWidget(self.cases)
        else:
            self.stack.setCurrentWidget(self.empty)

    def open_record(self, record_id: str) -> Operation | None:
        """Open a record: the interview for a draft, the record view otherwise.

        The record is read through the background helper (docs/architecture.md,
        "Background work"): a progress dialog after 200 ms, log-out waits for the read or
        cancels it; the page appears when the read is done. Returns the read's operation
        (None when the open interview could not be left)."""
        if not self._leave_record_page():
            QMessageBox.warning(
                self,
                _("Nicht gespeichert"),
                _(
                    "Die offene Aufnahme konnte noch nicht gespeichert werden. Sie bleibt "
                    "offen, bis das Speichern gelingt."
                ),
            )
            return None
        if self.opening is not None:
            self.opening.cancel()  # the later choice wins; the earlier read is dropped
        ws = self.ws
        # Deferred: the record view loads when the first record is opened, not with the
        # case list (docs/architecture.md, "Start-up"); here, on the GUI thread.
        from intake_app.ui.record_page import load_record

        def work(token: CancelToken) -> tuple[Any, RecordData | None]:
            row = ws.records.get(record_id)
            token.raise_if_cancelled()
            if row.status == RecordStatus.DRAFT.value:
                return row, None
            data = load_record(ws, record_id)  # the audited read of the record view
            token.raise_if_cancelled()
            return row, data

        def done(result: tuple[Any, RecordData | None]) -> None:
            if self.opening is not operation:
                return
            self.opening = None
            self.statusBar().clearMessage()
            row, data = result
            self._show_record(record_id, row, data)

        def failed(exc: BaseException) -> None:
            if self.opening is operation:
                self.opening = None
                self.statusBar().clearMessage()
            if not isinstance(exc, Cancelled):
                show_error(self, exc)

        self.statusBar().showMessage(_("Die Akte wird geöffnet …"))
        operation = run_op(
            self,
            work,
            on_success=done,
            on_failure=failed,
            label=_("Akte öffnen"),
            progress=self,
            progress_text=_("Die Akte wird gelesen …"),
        )
        self.opening = operation
        return operation

    def _show_record(self, record_id: str, row: Any, data: RecordData | None) -> None:
        """Show the record read by :meth:`open_record` (on the GUI thread)."""
        self.statusBar().clearMessage()  # a note about the page before is old now
        if not self._leave_record_page():
            return
        # Deferred: the interview and the record view load when the first record is
        # opened, not with the case list (docs/architecture.md, "Start-up").
        from intake_app.ui.interview.page import InterviewPage
        from intake_app.ui.record_page import RecordPage

        try:
            page: QWidget
            if data is None:
                # a draft begun under an older form version continues under the newest
                # (answers moved, the rest kept as retired answers; docs/forms.md)
                notes = self.ws.upgrade_draft(record_id)
                if notes:
                    row = self.ws.records.get(record_id)
                    self.statusBar().showMessage(" ".join(notes), 15000)
                interview = InterviewPage(
                    self.ws, record_id, form=self.ws.form_for(row.form_id, row.form_version)
                )
                interview.closed.connect(self.show_list)
                interview.finalised.connect(self._on_finalised)
                page = interview
            else:
                view = RecordPage(self.ws, record_id, data)
                self.add_record_actions(view)
                view.closed.connect(self.show_list)
                view.revise_requested.connect(self.open_record)
                view.changed.connect(self.open_record)
                self.record_page_created.emit(view)
                page = view
        except IntakeError as exc:
            show_error(self, exc)
            return
        self.record_page = page
        self.stack.addWidget(page)
        self.stack.setCurrentWidget(page)
        if isinstance(page, InterviewPage):
            page.focus_current()
        else:
            page.setFocus()

    def _leave_record_page(self, *, discard: bool = False) -> bool:
        """Save and remove the open interview or record view; False when its answers could
        not be saved (the page stays). ``discard`` removes it all the same."""
        page = self.record_page
        if page is None:
            return True
        # Deferred: loaded already, as the open page is an interview or a record view.
        from intake_app.ui.interview.page import InterviewPage

        if isinstance(page, InterviewPage) and not page.shutdown():
            if not discard:
                return False
            page.discard()
            log.warning("unsaved answers discarded on the user's decision")
        self.record_page = None
        self.stack.removeWidget(page)
        page.deleteLater()
        new, self._new_draft = self._new_draft, None
        if isinstance(page, InterviewPage) and new is not None and new[0] == page.record_id:
            self._discard_if_untouched(*new)
        return True

    def _discard_if_untouched(self, record_id: str, created_with: dict[str, Any]) -> None:
        """A new intake left without a single answer is removed, not kept as an empty
        record in the list (``RecordService.discard_new`` says when)."""
        try:
            case_number = created_with.get("case_number", "")
            if self.ws.records.discard_new(record_id, created_with=created_with):
                self.statusBar().showMessage(
                    _(
                        "Die neue Aufnahme {case} wurde verworfen, weil nichts eingegeben wurde."
                    ).format(case=case_number),
                    10000,
                )
        except IntakeError:
            # it stays in the list as the draft it is; nothing is lost
            log.exception("an untouched new intake could not be discarded")

    def show_list(self) -> None:
        """Back to the case list (refreshed); an interview that cannot be saved stays.
        The record just left is selected and in view (when it is still there)."""
        left = getattr(self.record_page, "record_id", None)
        if not self._leave_record_page():
            return
        if self.cases is not None:
            self.cases.refresh()
            self.cases.show_record(left)
        self._update_page(force=True)
        if self.cases is not None and self.stack.currentWidget() is self.cases:
            self.cases.search.setFocus()

    def _on_finalised(self, record_id: str) -> None:
        self.refresh_sync_status()
        self.statusBar().showMessage(
            _("Aufnahme abgeschlossen und zur Übermittlung vorgemerkt."), 8000
        )
        self.open_record(record_id)

    def shutdown_pages(self) -> bool:
        """Save the open interview (log-out, program end); True when the window may go.

        When the answers cannot be saved, the user decides: stay (the retries go on) or
        leave and lose the last changes.
        """
        if self._leave_record_page():
            self._drop_opening()
            return True
        answer = QMessageBox.warning(
            self,
            _("Nicht gespeichert"),
            _(
                "Die letzten Änderungen der offenen Aufnahme konnten nicht gespeichert "
                "werden. Wenn Sie jetzt fortfahren, gehen sie verloren.\n\nTrotzdem "
                "fortfahren? Mit „Nein“ bleibt die Aufnahme offen, und Intake versucht "
                "weiter zu speichern."
            ),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return False
        left = self._leave_record_page(discard=True)
        if left:
            self._drop_opening()
        return left

    def _drop_opening(self) -> None:
        """A record still being read when the window goes is never shown: its workspace
        closes next, and another user's sign-in may re-key the store it was read from."""
        if self.opening is not None:
            self.opening.cancel()
            self.opening = None

    def _site_name(self) -> str:
        """The window's title: the site's name (Qt adds the program's name, ui/main.py)."""
        return str(self.ws.settings.get("site.name") or "Intake")

    def _create_actions(self) -> ActionRegistry:
        actor = self.ws.actor
        registry = ActionRegistry(self)
        add = registry.add
        add(
            "new_intake",
            _("&Neue Aufnahme"),
            shortcut="Ctrl+N",
            visible=actor.can(Permission.CREATE_RECORD),
            slot=self._on_new_intake,
        )
        add("lock", _("&Sperren"), shortcut="Ctrl+L", slot=self._on_lock)
        add("logout", _("&Abmelden"), slot=self._on_logout)
        add("quit", _("&Beenden"), shortcut=QKeySequence.StandardKey.Quit, slot=self.close)
        add(
            "settings",
            _("&Einstellungen …"),
            visible=actor.can(Permission.MANAGE_SETTINGS),
            slot=self._on_settings,
        )
        add(
            "users",
            _("&Benutzer verwalten …"),
            visible=actor.can(Permission.MANAGE_USERS),
            slot=self._on_users,
        )
        add("password", _("Eigenes &Passwort ändern …"), slot=self._on_change_password)
        add(
            "overview",
            _("Ü&bersicht"),
            shortcut="Ctrl+U",
            visible=actor.can(Permission.VIEW_OVERVIEW),
            slot=self.show_overview,
        )
        add(
            "list",
            _("&Aktenliste"),
            shortcut="Ctrl+1",
            visible=actor.can(Permission.VIEW_OWN_RECORDS),
            slot=self.show_list,
        )
        add(
            "erase_by_case",
            _("Löschantrag nach Aktenzeichen …"),
            visible=actor.can(Permission.ERASE_RECORDS)
            and not actor.can(Permission.VIEW_OWN_RECORDS),
            slot=self._on_erase_by_case,
        )
        add(
            "retention",
            _("Aufbewahrungsfristen jetzt anwenden"),
            visible=actor.can(Permission.MANAGE_SETTINGS) or actor.can(Permission.VIEW_OVERVIEW),
            slot=self.run_retention,
        )
        add(
            "audit_verify",
            _("A&udit-Protokoll prüfen"),
            visible=actor.can(Permission.VERIFY_AUDIT),
            slot=self._on_verify_audit,
        )
        add("about", _("Ü&ber Intake"), slot=self._on_about)
        add(
            "sync",
            _("Ü&bermittlung …"),
            shortcut="Ctrl+Shift+S",
            visible=actor.can(Permission.SYNC) or actor.can(Permission.MANAGE_DEVICE),
            slot=self.open_sync_window,
        )
        return registry

    def _create_menus(self) -> None:
        bar = self.menuBar()
        menu = self.actions_.add_menu
        menu("file", bar.addMenu(_("&Datei")), ["new_intake", None, "lock", "logout", None, "quit"])
        menu("sync", bar.addMenu(_("Ü&bermittlung")), ["sync"])
        menu(
            "admin",
            bar.addMenu(_("&Verwaltung")),
            ["settings", "users", "password", "audit_verify", None, "erase_by_case", "retention"],
        )
        view_menu = menu("view", bar.addMenu(_("&Ansicht")), ["list", "overview", None])
        language_menu = view_menu.addMenu(_("&Sprache"))
        for code in LANGUAGES:
            act = language_menu.addAction(LANGUAGE_NAMES[code])
            act.setCheckable(True)
            act.setChecked(code == current_language())
            act.triggered.connect(lambda _checked=False, c=code: self._on_language(c))
        menu("help", bar.addMenu(_("&Hilfe")), ["about"])

    def _create_status_bar(self) -> None:
        actor = self.ws.actor
        self.user_label = QLabel(
            _("Angemeldet: {name} ({role})").format(
                name=actor.display_name or actor.username, role=actor.role.label
            )
        )
        self.user_label.setAccessibleName(self.user_label.text())
        self.sync_label = LiveLabel(role=_("Stand der Übermittlung"))
        self.statusBar().addWidget(self.user_label, 1)
        self.statusBar().addPermanentWidget(self.sync_label)
        self._sync_timer = QTimer(self)
        self._sync_timer.setInterval(60_000)
        self._sync_timer.timeout.connect(self.refresh_sync_status)
        self._sync_timer.start()
        self.refresh_sync_status()

    def refresh_sync_status(self) -> None:
        """Show what waits for the central office in the status bar."""
        try:
            self.sync_label.setText(status_text(self.ws.sync_status()))
        except IntakeError as exc:
            self.sync_label.setText(str(exc))

    def open_sync_window(self) -> None:
        """The sync window (send, USB stick, receipts, enrolment)."""
        self.sync_window().exec()
        self.refresh_sync_status()

    def sync_window(self) -> SyncWindow:
        """A sync window whose results show at once in the status bar, the list and an
        open record view."""
        # Deferred: the sync window loads when it is opened (docs/architecture.md, "Start-up").
        from intake_app.ui.sync_window import SyncWindow

        window = SyncWindow(self.ws, self)
        window.changed.connect(self.refresh_sync_status)
        window.changed.connect(self._refresh_after_sync)
        return window

    def _refresh_after_sync(self) -> None:
        # Deferred: the record view loads when the first record is opened.
        from intake_app.ui.record_page import RecordPage

        if isinstance(self.record_page, RecordPage):
            self.record_page.refresh_state()
        if self.cases is not None and self.record_page is None:
            self.cases.refresh()

    # -- geometry ----------------------------------------------------------------------

    def _restore_geometry(self) -> None:
        saved = self.ws.profile.read_meta().get("window", {}).get("main")
        if saved:
            self.geometry_restored = self.restoreGeometry(
                QByteArray.fromBase64(saved.encode("ascii"))
            )

    def save_geometry(self) -> None:
        """Keep the window's size and place (base64 text in profile.json, never pickled)."""
        data = self.ws.profile.read_meta()
        if not data:
            return
        data.setdefault("window", {})["main"] = bytes(self.saveGeometry().toBase64().data()).decode(
            "ascii"
        )
        self.ws.profile.write_meta(data)

    # -- slots -------------------------------------------------------------------------

    def _on_new_intake(self) -> None:
        if not self._leave_record_page():
            return
        try:
            record_id = self.ws.new_intake()
            row = self.ws.records.get(record_id)
        except IntakeError as exc:
            show_error(self, exc)
            return
        # the new, empty draft opens at once: the counsellor types its first answer next;
        # left without one, it is discarded (_leave_record_page)
        self._show_record(record_id, row, None)
        if self.record_page is not None:
            self._new_draft = (record_id, dict(row.answers))

    def _on_lock(self) -> None:
        self.lock.lock()

    def _on_logout(self) -> None:
        self.logout_requested.emit()

    def _on_settings(self) -> None:
        # Deferred: the settings window loads when it is opened (docs/architecture.md,
        # "Start-up").
        from intake_app.ui.settings_window import open_settings

        try:
            open_settings(self.ws, self, on_language=self.language_changed.emit)
        except IntakeError as exc:
            show_error(self, exc)
        self.setWindowTitle(self._site_name())

    def _on_users(self) -> None:
        # Deferred: the user management loads when it is opened.
        from intake_app.ui.users_dialog import UsersDialog

        UsersDialog(self.ws, self).exec()

    def _on_change_password(self) -> None:
        ChangePasswordDialog(self.ws, forced=False, parent=self).exec()

    def _on_verify_audit(self) -> None:
        """Check the audit chain through the background helper (it reads every entry and
        checks each signature: seconds on a long log)."""
        ws = self.ws

        def work(_token: CancelToken) -> ChainReport:
            return ws.verify_audit()

        self.run_job(
            work,
            self._show_audit_report,
            label=_("Audit-Protokoll prüfen"),
            text=_("Das Audit-Protokoll wird geprüft …"),
        )

    def _show_audit_report(self, report: ChainReport) -> None:
        if report.ok:
            QMessageBox.information(
                self,
                _("Audit-Protokoll"),
                _("Das Audit-Protokoll ist intakt ({n} Einträge geprüft).").format(
                    n=report.checked
                ),
            )
        elif report.broken_seq is None:
            QMessageBox.critical(
                self,
                _("Audit-Protokoll"),
                " ".join(problem.message() for problem in report.problems)
                + " "
                + _("Bitte informieren Sie die oder den Datenschutzbeauftragten."),
            )
        else:
            QMessageBox.critical(
                self,
                _("Audit-Protokoll"),
                _(
                    "Das Audit-Protokoll ist ab Eintrag Nr. {seq} verändert worden. Bitte "
                    "informieren Sie die oder den Datenschutzbeauftragten."
                ).format(seq=report.broken_seq),
            )

    def _on_about(self) -> None:
        # Deferred: the about dialog loads when it is opened.
        from intake_app.ui.about import AboutDialog

        AboutDialog(
            cipher_version=self.ws.db.cipher_version(),
            profile_path=str(self.ws.profile.root),
            parent=self,
        ).exec()

    def _on_language(self, code: str) -> None:
        if code != current_language():
            self.language_changed.emit(code)

    # -- data protection -----------------------------------------------------------------

    def show_overview(self) -> None:
        """The supervisor's overview (numbers, chart); each number opens its list."""
        if not self._leave_record_page():
            return
        if self.overview is None:
            # Deferred: the overview and its figures load when it is first shown
            # (docs/architecture.md, "Start-up").
            from intake_app.ui.overview import OverviewPage

            self.overview = OverviewPage(self.ws)
            self.overview.list_requested.connect(self._on_overview_list)
            self.overview.back_button.clicked.connect(self.show_list)
            self.overview.print_requested.connect(self._on_print_overview)
            self.stack.addWidget(self.overview)
        else:
            self.overview.refresh()
        self.stack.setCurrentWidget(self.overview)

    def _on_overview_list(self, query: object) -> None:
        if self.cases is None:
            return
        self.cases.apply_query(query)  # type: ignore[arg-type]
        self.stack.setCurrentWidget(self.cases)

    def _on_print_overview(self) -> None:
        """Preview the overview as a sheet of anonymised numbers; print or save it
        through the one print path (``ui/printing.py``)."""
        if self.overview is None or self.overview.overview is None:
            return
        controller = self.printing
        if controller is None:  # a role that prints no records still prints the overview
            controller = PrintController(self.ws, self)
            controller.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
            self.printing_sheets = controller
        controller.preview_overview(self.overview.overview, self.overview.outcomes)

    def add_record_actions(self, page: RecordPage) -> None:
        """Access export and erasure on the record view."""
        export = QPushButton(_("Auskunft &exportieren …"))
        export.setToolTip(_("Alles über diese Person als PDF und JSON (Art. 15 DSGVO)"))
        export.clicked.connect(lambda: self._export_person(page.record_id))
        page.add_action(export)
        if self.ws.actor.can(Permission.ERASE_RECORDS):
            erase = QPushButton(_("&Löschen …"))
            erase.setToolTip(_("Die Akte auf Antrag löschen (Art. 17 DSGVO)"))
            erase.clicked.connect(lambda: self._erase(page.record_id))
            page.add_action(erase)
        add_move_button(self, page)

    def _export_person(self, record_id: str) -> None:
        folder = QFileDialog.getExistingDirectory(self, _("Ordner für die Auskunft wählen"))
        if not folder:
            return
        ws = self.ws

        def work(_token: CancelToken) -> list[Path]:
            # Deferred: reportlab loads only when printing or exporting.
            from intake_app.reports.access import export_person

            return export_person(ws, record_id, Path(folder))

        def done(written: list[Path]) -> None:
            QMessageBox.information(
                self,
                _("Auskunft"),
                _("Die Auskunft wurde geschrieben:\n{files}").format(
                    files="\n".join(str(p) for p in written)
                ),
            )

        self.run_job(
            work,
            done,
            label=_("Auskunft exportieren"),
            text=_("Die Auskunft wird geschrieben …"),
        )

    def run_job(
        self,
        work: Callable[[CancelToken], Any],
        on_success: Callable[[Any], None],
        *,
        label: str,
        text: str,
        lock_page: bool = False,
    ) -> Operation:
        """Blocking work through the background helper (``ui/ops.py``): a progress dialog
        after 200 ms, errors in words; with ``lock_page`` the page cannot be used until
        the work is done (it changes what the page shows)."""
        if lock_page:
            self.stack.setEnabled(False)

        def finish() -> None:
            self.stack.setEnabled(True)

        def succeeded(result: object) -> None:
            finish()
            on_success(result)

        def failed(exc: BaseException) -> None:
            finish()
            if not isinstance(exc, Cancelled):
                show_error(self, exc)

        return run_op(
            self,
            work,
            on_success=succeeded,
            on_failure=failed,
            label=label,
            progress=self,
            progress_text=text,
            cancellable=False,
        )

    def _erase(self, record_id: str) -> None:
        # Deferred: the erasure dialog loads when it is opened.
        from intake_app.ui.erase_dialog import EraseDialog

        dialog = EraseDialog(self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        reason = dialog.reason()
        lifecycle = self.ws.lifecycle

        def work(_token: CancelToken) -> bool:
            return lifecycle.erase(record_id, reason=reason)

        def done(central: bool) -> None:
            self.statusBar().showMessage(
                _("Akte gelöscht; die Zentrale wird bei der nächsten Übermittlung unterrichtet.")
                if central
                else _("Akte gelöscht."),
                10_000,
            )
            self.refresh_sync_status()
            self.show_list()

        self.run_job(
            work, done, label=_("Akte löschen"), text=_("Die Akte wird gelöscht …"), lock_page=True
        )

    def _on_erase_by_case(self) -> None:
        case_number, ok = QInputDialog.getText(
            self, _("Löschantrag"), _("Aktenzeichen der zu löschenden Akte:")
        )
        if not ok or not case_number.strip():
            return
        record_id = self.ws.records.id_for_case_number(case_number.strip())
        if record_id is None:
            QMessageBox.warning(
                self, _("Löschantrag"), _("Es gibt keine Akte mit diesem Aktenzeichen.")
            )
            return
        self._erase(record_id)

    def run_retention(self) -> None:
        """Purge delivered, closed cases whose retention period has ended."""
        lifecycle = self.ws.lifecycle

        def work(_token: CancelToken) -> PurgeResult:
            return lifecycle.purge_due()

        def done(result: PurgeResult) -> None:
            QMessageBox.information(
                self,
                _("Aufbewahrungsfristen"),
                ngettext("{n} Akte gelöscht.", "{n} Akten gelöscht.", result.purged).format(
                    n=result.purged
                )
                + " "
                + ngettext(
                    "{n} beendete Akte wartet noch auf die Übermittlung.",
                    "{n} beendete Akten warten noch auf die Übermittlung.",
                    result.kept_undelivered,
                ).format(n=result.kept_undelivered),
            )
            self.show_list()

        self.run_job(
            work,
            done,
            label=_("Aufbewahrungsfristen anwenden"),
            text=_("Abgelaufene Akten werden gelöscht …"),
            lock_page=True,
        )

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.shutdown_pages():
            event.ignore()
            return
        self.save_geometry()
        self.lock.stop()
        super().closeEvent(event)
