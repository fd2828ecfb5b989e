"""The view of a finalised record: all answers, revisions, consent, and what can be done.

Changing a finalised record opens a new revision (with a reason); consent purposes can be
withdrawn with a date; supervisors end the case. Actions of later features (printing,
access requests, erasure) are added by the main window through :meth:`add_action`.

Signals: ``closed()``; ``revise_requested(str)``; ``changed(str)``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from intake_app.app import Workspace
from intake_app.core.followup import describe_event
from intake_app.core.formats import format_iso_date
from intake_app.core.handover import handover_targets
from intake_app.core.interview import InterviewSession
from intake_app.core.permissions import Permission
from intake_app.core.records import RecordStatus, SyncState, heading_name, index_fields
from intake_app.errors import IntakeError
from intake_app.i18n import _, current_language
from intake_app.ui.errors import show_error
from intake_app.ui.followup_dialogs import (
    CloseCaseDialog,
    ContactDialog,
    ReopenDialog,
    UpdateDialog,
)
from intake_app.ui.interview.page import ask_revision_reason
from intake_app.ui.interview.review import ReviewView
from intake_app.ui.widgets import (
    DateField,
    add_row,
    error_label,
    ok_cancel_buttons,
    room_for_title,
)

if TYPE_CHECKING:
    from intake_app.storage.models import CaseEvent, ConsentWithdrawal, RecordRevision
    from intake_app.storage.record_queries import Record


def loads_event(text: str) -> dict[str, Any]:
    value = json.loads(text or "{}")
    return value if isinstance(value, dict) else {}


#: The history box shows up to this many entries before it scrolls ...
HISTORY_LINES = 6
#: ... and is never taller than this (pixels; a long entry wraps).
HISTORY_MAX_HEIGHT = 180


class WithdrawConsentDialog(QDialog):
    """Choose a granted purpose and the date the person withdrew it."""

    def __init__(self, purposes: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(_("Einwilligung widerrufen"))
        room_for_title(self)
        self.purpose = QComboBox()
        for pid, label in purposes:
            self.purpose.addItem(label, pid)
        self.date = DateField()
        self.date.setMaximumDate(QDate.currentDate())
        self.note = QLineEdit()
        form = QFormLayout()
        add_row(form, _("&Zweck:"), self.purpose)
        add_row(form, _("Widerrufen &am:"), self.date)
        add_row(form, _("&Notiz (optional):"), self.note)
        explain = QLabel(
            _(
                "Der Widerruf gilt ab diesem Tag. Die Daten werden für diesen Zweck nicht mehr "
                "weitergegeben; die Zentrale erfährt es mit der nächsten Übermittlung."
            )
        )
        explain.setWordWrap(True)
        self.error = error_label()
        self.buttons = ok_cancel_buttons(self, _("Widerruf speichern"), on_accept=self._check)
        layout = QVBoxLayout(self)
        layout.addWidget(explain)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

    def _check(self) -> None:
        problem = self.date.problem()
        if problem:
            self.error.setText(problem)
            self.date.setFocus()
            return
        self.accept()

    def chosen(self) -> tuple[str, date, str]:
        qdate = self.date.date()
        return (
            self.purpose.currentData(),
            date(qdate.year(), qdate.month(), qdate.day()),
            self.note.text().strip(),
        )


@dataclass
class RecordData:
    """What the record view shows, read in one go by :func:`load_record` (in the
    background helper's worker, docs/architecture.md "Background work")."""

    row: Record
    revisions: list[RecordRevision] = field(default_factory=list)
    events: list[CaseEvent] = field(default_factory=list)
    names: dict[int, str] = field(default_factory=dict)
    withdrawals: list[ConsentWithdrawal] = field(default_factory=list)
    handovers: list[dict[str, Any]] = field(default_factory=list)


def load_record(workspace: Workspace, record_id: str, *, audited: bool = True) -> RecordData:
    """Read a record with its timeline (``audited``: the read is written to the audit
    log, as when the record view opens). Touches no widget: safe in the worker thread."""
    records = workspace.records
    row = records.open(record_id) if audited else records.get(record_id)
    return RecordData(
        row=row,
        revisions=records.revisions(record_id),
        events=records.case_events(record_id),
        names=records.user_names(),
        withdrawals=records.withdrawals(record_id),
        handovers=records.handover_requests(record_id),
    )


class HandoverDialog(QDialog):
    """Choose the site a case goes to through the central office (docs/security.md,
    "Hand-over through the office")."""

    def __init__(self, targets: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(_("An anderen Standort übergeben"))
        room_for_title(self)
        self.recipient = QComboBox()
        for rid, name in targets:
            self.recipient.addItem(name, rid)
        form = QFormLayout()
        add_row(form, _("&Empfangsstelle:"), self.recipient)
        explain = QLabel(
            _(
                "Die Akte geht mit der nächsten Übermittlung über die Zentrale an die "
                "gewählte Stelle, wenn die Person der Weitergabe dorthin zugestimmt hat. "
                "Sobald die Zentrale die Übergabe bestätigt, wird der Fall hier beendet "
                "(„Andere Stelle hat übernommen“)."
            )
        )
        explain.setWordWrap(True)
        self.buttons = ok_cancel_buttons(self, _("Übergabe anfragen"))
        layout = QVBoxLayout(self)
        layout.addWidget(explain)
        layout.addLayout(form)
        layout.addWidget(self.buttons)

    def chosen(self) -> str:
        return str(self.recipient.currentData())


class RecordPage(QWidget):
    """Read a finalised record.

    Signals: ``closed()``, ``revise_requested(str)``, ``changed(str)``.
    """

    closed = Signal()
    revise_requested = Signal(str)
    changed = Signal(str)

    def __init__(
        self, workspace: Workspace, record_id: str, data: RecordData | None = None
    ) -> None:
        """``data``: the record as read by :func:`load_record` (the main window reads it in
        the background); without it the page reads it itself."""
        super().__init__()
        self.ws = workspace
        self.record_id = record_id
        self.data = data if data is not None else load_record(workspace, record_id)
        row = self.data.row
        self.row = row
        form = workspace.form_for(row.form_id, row.form_version)
        self.session = InterviewSession(
            form=form,
            answers=row.answers,
            organisation=workspace.organisation,
            lang=current_language(),
            expiry_warning_days=workspace.expiry_warning_days,
        )
        actor = workspace.actor
        self.title = QLabel(heading_name(index_fields(self.session.answers)))
        self.title.setObjectName("title")
        self.title.setAlignment(  # a name in Arabic script stays at the start, like any name
            Qt.AlignmentFlag.AlignLeft
            | Qt.AlignmentFlag.AlignAbsolute
            | Qt.AlignmentFlag.AlignVCenter
        )
        self.meta = QLabel(self._meta_text())
        self.meta.setObjectName("muted")
        self.meta.setWordWrap(True)
        self.review = ReviewView(self.session, include_special=True, links=False)
        self.back_button = QPushButton(_("Zur Liste"))
        self.revise_button = QPushButton(_("Ändern (neue Revision) …"))
        self.withdraw_button = QPushButton(_("Einwilligung widerrufen …"))
        self.close_case_button = QPushButton(_("Fall &beenden …"))
        self.close_case_button.setAccessibleName(_("Fall beenden"))
        self.reopen_button = QPushButton(_("Fall wieder &eröffnen …"))
        self.reopen_button.setAccessibleName(_("Fall wieder eröffnen"))
        self.contact_button = QPushButton(_("&Kontakt eintragen …"))
        self.contact_button.setAccessibleName(_("Kontakt eintragen"))
        self.update_button = QPushButton(_("Angaben &aktualisieren …"))
        self.update_button.setAccessibleName(_("Angaben aktualisieren"))
        self.handover_button = QPushButton(_("An anderen &Standort übergeben …"))
        self.handover_button.setAccessibleName(_("An anderen Standort übergeben"))
        self.history_label = QLabel(_("&Verlauf (Revisionen und Kontakte):"))
        self.history = QListWidget()
        self.history.setAccessibleName(_("Verlauf"))
        self.history.setAccessibleDescription(
            _("Revisionen, Kontakte und Änderungen, neueste zuerst")
        )
        self.history.setWordWrap(True)
        self.history_label.setBuddy(self.history)
        can_edit = actor.can_edit_record(row.owner_id)
        self._can_edit = can_edit
        self.revise_button.setVisible(can_edit)
        self.withdraw_button.setVisible(can_edit)
        self.actions_row = QHBoxLayout()
        self._update_buttons()
        for button in (
            self.contact_button,
            self.update_button,
            self.revise_button,
            self.withdraw_button,
            self.close_case_button,
            self.reopen_button,
            self.handover_button,
        ):
            self.actions_row.addWidget(button)
        self.actions_row.addStretch(1)
        self.actions_row.addWidget(self.back_button)
        # documents and data-protection actions of other features go into a second row
        self.documents_row = QHBoxLayout()
        self.documents_row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.meta)
        layout.addWidget(self.review, 1)
        layout.addWidget(self.history_label)
        layout.addWidget(self.history)
        layout.addLayout(self.documents_row)
        layout.addLayout(self.actions_row)
        self.back_button.clicked.connect(self.closed)
        self.revise_button.clicked.connect(self._on_revise)
        self.withdraw_button.clicked.connect(self._on_withdraw)
        self.close_case_button.clicked.connect(self._on_close_case)
        self.contact_button.clicked.connect(self._on_contact)
        self.reopen_button.clicked.connect(self._on_reopen)
        self.update_button.clicked.connect(self._on_update)
        self.handover_button.clicked.connect(self._on_handover)
        self.fill_history()
        escape = QShortcut(QKeySequence("Escape"), self)
        escape.activated.connect(self.closed)

    def refresh_state(self) -> None:
        """Read the record's state again (after a sync or receipts changed it)."""
        try:
            self.data = load_record(self.ws, self.record_id, audited=False)
        except IntakeError:
            return  # erased meanwhile: the window goes back to the list on its own
        self.row = self.data.row
        self.meta.setText(self._meta_text())
        self._update_buttons()
        self.fill_history()

    def _update_buttons(self) -> None:
        row = self.row
        self.contact_button.setVisible(
            self._can_edit
            and row.finalised_at is not None
            and row.status != RecordStatus.CLOSED.value
        )
        self.update_button.setVisible(self._can_edit and row.status == RecordStatus.COMPLETE.value)
        closes = self.ws.actor.can(Permission.CLOSE_RECORDS)
        self.close_case_button.setVisible(closes and row.status == RecordStatus.COMPLETE.value)
        self.reopen_button.setVisible(closes and row.status == RecordStatus.CLOSED.value)
        self.handover_button.setVisible(
            self._can_edit
            and row.status == RecordStatus.COMPLETE.value
            and bool(self._handover_targets())
        )

    def history_lines(self) -> list[str]:
        """The timeline as shown: revisions and case events, newest first."""
        lang = current_language()
        form = self.session.form
        names = self.data.names
        entries: list[tuple[str, int, str]] = []
        for rev in self.data.revisions:
            day = rev.finalised_at.date().isoformat()
            text = _("Revision {n} abgeschlossen").format(n=rev.revision)
            if rev.reason:
                text += f" – {rev.reason}"
            text += " · " + names.get(rev.finalised_by, "?")
            entries.append((day, 0, text))
        for n, event in enumerate(self.data.events, start=1):
            data = loads_event(event.data)
            text = describe_event(event.kind, data, lang, form)
            text += " · " + names.get(event.recorded_by, "?")
            entries.append((event.occurred_on, n, text))
        targets = dict(self._handover_targets())
        for n, request in enumerate(self.data.handovers, start=len(entries) + 1):
            name = targets.get(request.get("recipient", ""), request.get("recipient", "?"))
            outcome = request.get("outcome")
            if outcome == "sealed":
                text = _("Übergabe an {name}: von der Zentrale bestätigt").format(name=name)
            elif outcome == "refused":
                text = _("Übergabe an {name}: von der Zentrale abgelehnt").format(name=name)
            else:
                text = _("Übergabe an {name} angefragt").format(name=name)
            day = str(request.get("requested_at", ""))[:10]
            entries.append((day, n, text))
        entries.sort(reverse=True)
        return [f"{format_iso_date(day, lang)} · {text}" for day, _n, text in entries]

    def _handover_targets(self) -> list[tuple[str, str]]:
        """(recipient id, name) of the sites a case can be handed over to."""
        return [(t.recipient.id, t.recipient.name) for t in handover_targets(self.ws.organisation)]

    def _on_handover(self) -> None:
        dialog = HandoverDialog(self._handover_targets(), self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        try:
            self.ws.records.request_handover(self.record_id, recipient=dialog.chosen())
        except IntakeError as exc:
            show_error(self, exc)
            return
        self.changed.emit(self.record_id)
        self.refresh_state()

    def fill_history(self) -> None:
        self.history.clear()
        for line in self.history_lines():
            self.history.addItem(line)
        # as tall as its entries (up to six lines, then it scrolls): the answers above get
        # the rest of the window, not an empty box below them
        rows = max(1, min(self.history.count(), HISTORY_LINES))
        row_height = self.history.sizeHintForRow(0) if self.history.count() else 0
        row_height = row_height or self.history.fontMetrics().lineSpacing() + 4
        frame = 2 * self.history.frameWidth() + 4
        self.history.setFixedHeight(min(rows * row_height + frame, HISTORY_MAX_HEIGHT))

    def add_action(self, button: QPushButton) -> None:
        """Add a button of another feature (print, export, erase) to the documents row."""
        self.documents_row.insertWidget(self.documents_row.count() - 1, button)

    def _meta_text(self) -> str:
        row = self.row
        status = RecordStatus(row.status).label
        parts = [
            _("Aktenzeichen {case}").format(case=row.case_number),
            _("{status}, Revision {n}").format(status=status, n=row.revision),
            _("Übermittlung: {state}").format(state=SyncState(row.sync_state).label),
        ]
        if row.finalised_at:
            parts.append(
                _("abgeschlossen am {date}").format(
                    date=format_iso_date(row.finalised_at.date().isoformat(), current_language())
                )
            )
        withdrawals = self.data.withdrawals
        if withdrawals:
            parts.append(_("{n} Einwilligung(en) widerrufen").format(n=len(withdrawals)))
        return " · ".join(parts)

    def _granted_purposes(self) -> list[tuple[str, str]]:
        consent = self.session.answers.get("consent") or {}
        lang = current_language()
        result = []
        for pid, state in (consent.get("purposes") or {}).items():
            if isinstance(state, dict) and state.get("granted") and not state.get("withdrawn_on"):
                try:
                    label = self.ws.organisation.purpose(pid).label(lang)
                except KeyError:
                    label = pid
                result.append((pid, label))
        art9 = consent.get("art9")
        if isinstance(art9, dict) and art9.get("granted") and not art9.get("withdrawn_on"):
            result.append(("art9", _("Besondere Kategorien (Art. 9 DSGVO)")))
        return result

    def _on_revise(self) -> None:
        reason = ask_revision_reason(self)
        if reason is None:
            return
        try:
            self.ws.records.start_revision(self.record_id, reason=reason)
        except IntakeError as exc:
            show_error(self, exc)
            return
        self.revise_requested.emit(self.record_id)

    def _on_withdraw(self) -> None:
        purposes = self._granted_purposes()
        if not purposes:
            QMessageBox.information(
                self,
                _("Einwilligung widerrufen"),
                _("Es gibt keine erteilte Einwilligung, die widerrufen werden könnte."),
            )
            return
        dialog = WithdrawConsentDialog(purposes, self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        purpose, when, note = dialog.chosen()
        try:
            self.ws.records.withdraw_consent(
                self.record_id, purpose=purpose, withdrawn_on=when, note=note
            )
        except IntakeError as exc:
            show_error(self, exc)
            return
        self.changed.emit(self.record_id)

    def _on_contact(self) -> None:
        dialog = ContactDialog(self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        try:
            self.ws.records.add_contact(self.record_id, dialog.contact())
        except IntakeError as exc:
            show_error(self, exc)
            return
        self.refresh_state()
        self.changed.emit(self.record_id)

    def _on_update(self) -> None:
        record = self.ws.records.get(self.record_id)
        form = self.ws.form_for(record.form_id, record.form_version)
        dialog = UpdateDialog(form, dict(record.answers), self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        try:
            self.ws.records.update_answers(self.record_id, dialog.checked_update())
        except IntakeError as exc:
            show_error(self, exc)
            return
        self.changed.emit(self.record_id)
        self.refresh_state()

    def _on_close_case(self) -> None:
        dialog = CloseCaseDialog(self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        try:
            self.ws.records.close_case(self.record_id, dialog.closure())
        except IntakeError as exc:
            show_error(self, exc)
            return
        self.changed.emit(self.record_id)
        self.refresh_state()

    def _on_reopen(self) -> None:
        dialog = ReopenDialog(self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        on, reason = dialog.reopening()
        try:
            self.ws.records.reopen_case(self.record_id, on=on, reason=reason)
        except IntakeError as exc:
            show_error(self, exc)
            return
        self.changed.emit(self.record_id)
        self.refresh_state()
