"""The sync window: what waits, the last result, send now, USB stick, batches and reasons.

Administrators also register the device here (enrolment file from the central office,
online or with an answer file on a USB stick). Sending runs off the GUI thread with a
progress bar and cancel; a cut connection leaves the outbox as it was.

Signals: ``changed()`` after anything that changes what is pending.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from intake_app.app import Workspace
from intake_app.atomic import atomic_write_bytes
from intake_app.core.formats import format_timestamp
from intake_app.core.permissions import Permission
from intake_app.device_sync.status import SyncResult, SyncStatus
from intake_app.errors import IntakeError, SyncError, SyncErrorKind
from intake_app.i18n import N_, _, current_language, ngettext
from intake_app.ui import style
from intake_app.ui.errors import show_error
from intake_app.ui.ops import CancelToken, Operation, run_op

STATE_LABELS = {
    "built": N_("vorbereitet"),
    "sent": N_("gesendet, Quittung ausstehend"),
    "stored": N_("von der Zentrale gespeichert"),
    "imported": N_("in der Zentrale übernommen"),
    "rejected": N_("abgelehnt – Akten werden neu gesendet"),
    "withdrawn": N_("zurückgezogen – übrige Akten werden neu gesendet"),
}
TRANSPORT_LABELS = {"http": N_("Netz"), "folder": N_("USB/Ordner")}
REASON_LABELS = {
    "decrypt_failed": N_("Die Zentrale konnte den Stapel nicht entschlüsseln."),
    "bad_signature": N_("Die Signatur des Geräts passte nicht."),
    "revoked_device": N_("Dieses Gerät ist bei der Zentrale gesperrt."),
    "unknown_device": N_("Die Zentrale kennt dieses Gerät nicht."),
    "wrong_office_key": N_("Der Stapel war für einen anderen Zentralschlüssel verschlossen."),
    "payload_invalid": N_("Der Inhalt des Stapels war unvollständig."),
    "wrong_key": N_("Der Stapel war für einen anderen Zentralschlüssel verschlossen."),
    "unknown_office_key": N_(
        "Die Zentrale kennt den Schlüssel nicht mehr, für den der Stapel verschlossen war."
    ),
    "not_registered": N_("Die Registrierung dieses Geräts ist bei der Zentrale noch offen."),
    "device_key_mismatch": N_("Der Schlüssel des Geräts passt nicht zur Registrierung."),
    "too_large": N_("Der Stapel war größer, als die Zentrale annimmt."),
    "header_invalid": N_("Der Stapel war beschädigt."),
    "manifest_mismatch": N_("Der Stapel war beschädigt."),
    "truncated": N_("Der Stapel kam unvollständig an."),
    "batch_id_conflict": N_("Die Zentrale hat unter dieser Kennung schon einen anderen Stapel."),
    "load_failed": N_(
        "Die Zentrale konnte den Inhalt nicht in ihre Datenbank übernehmen; "
        "bitte die IT der Zentrale verständigen."
    ),
    "erasure": N_("Wegen einer Löschung zurückgezogen."),
    "record_conflict": N_(
        "Eine Akte in diesem Stapel gehört einem anderen Gerät oder liegt der Zentrale schon "
        "in anderer Fassung vor; sie wurde nicht übernommen und nicht verändert."
    ),
}


def reason_text(reason: str | None) -> str:
    """A refusal reason in plain words (the code in brackets when there is none)."""
    if not reason:
        return ""
    if reason in REASON_LABELS:
        return _(REASON_LABELS[reason])
    return _("Die Zentrale hat den Stapel abgelehnt ({reason}).").format(reason=reason)


def _when(moment: datetime | None) -> str:
    return format_timestamp(moment, current_language())


def status_text(status: SyncStatus) -> str:
    """The status bar's words for the sync state."""
    if not status.enrolled:
        if status.pending:
            return _("Übermittlung: Gerät nicht registriert · {n} wartend").format(n=status.pending)
        return _("Übermittlung: Gerät nicht registriert")
    parts = []
    if status.pending:
        parts.append(_("{n} wartend").format(n=status.pending))
    if status.awaiting_receipt:
        parts.append(_("{n} ohne Quittung").format(n=status.awaiting_receipt))
    if not parts:
        parts.append(_("alles übermittelt"))
    if status.last_success_at:
        parts.append(_("zuletzt {when}").format(when=_when(status.last_success_at)))
    return _("Übermittlung: {parts}").format(parts=" · ".join(parts))


class SyncWindow(QDialog):
    """Send, write to a folder, read receipts, see batches. Signals: ``changed()``."""

    changed = Signal()

    def __init__(self, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ws = workspace
        self.operation: Operation | None = None
        self.setWindowTitle(_("Übermittlung an die Zentrale"))
        actor = workspace.actor

        self.device_label = QLabel()
        self.device_label.setWordWrap(True)
        self.pending_label = QLabel()
        self.pending_label.setObjectName("title")
        self.last_label = QLabel()
        self.error_label = QLabel()
        self.error_label.setObjectName("error")
        self.error_label.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.send_button = QPushButton(_("Jetzt &senden"))
        self.send_button.setObjectName("primary")
        self.cancel_button = QPushButton(_("Abbrechen"))
        self.cancel_button.hide()
        self.folder_button = QPushButton(_("In &Ordner schreiben (USB) …"))
        self.receipts_button = QPushButton(_("&Quittungen einlesen …"))
        self.enrol_button = QPushButton(_("Gerät &registrieren …"))
        self.answer_file_button = QPushButton(_("&Antwortdatei schreiben …"))
        self.confirmation_button = QPushButton(_("&Bestätigung einlesen …"))
        self.office_button = QPushButton(_("Schlüssel der &Zentrale bestätigen …"))
        admin_buttons = (
            self.enrol_button,
            self.answer_file_button,
            self.confirmation_button,
            self.office_button,
        )
        for button in admin_buttons:
            button.setVisible(actor.can(Permission.MANAGE_DEVICE))
        #: why nothing can be sent until an administrator confirms the office keys
        self.office_label = QLabel()
        self.office_label.setObjectName("error")
        self.office_label.setWordWrap(True)
        self.office_label.hide()
        can_sync = actor.can(Permission.SYNC)
        for button in (self.send_button, self.folder_button, self.receipts_button):
            button.setVisible(can_sync)

        self.table = QTableWidget(0, 6)
        self.table.setHorizontalHeaderLabels(
            [_("Erstellt"), _("Weg"), _("Stand"), _("Akten"), _("Anweisungen"), _("Hinweis")]
        )
        self.table.setAccessibleName(_("Übermittlungsstapel"))
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setAccessibleName(_("Spalten der Stapelliste"))
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)
        self.table.setWordWrap(True)

        info = QGridLayout()
        info.addWidget(self.pending_label, 0, 0, 1, 2)
        info.addWidget(self.device_label, 1, 0, 1, 2)
        info.addWidget(self.last_label, 2, 0, 1, 2)
        info.addWidget(self.error_label, 3, 0, 1, 2)
        info.addWidget(self.office_label, 4, 0, 1, 2)
        actions = QHBoxLayout()
        for button in (
            self.send_button,
            self.cancel_button,
            self.folder_button,
            self.receipts_button,
        ):
            actions.addWidget(button)
        actions.addStretch(1)
        admin_row = QHBoxLayout()
        for button in admin_buttons:
            admin_row.addWidget(button)
        admin_row.addStretch(1)
        close = QPushButton(_("Schließen"))
        close.clicked.connect(self.accept)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addLayout(info)
        layout.addLayout(actions)
        layout.addWidget(self.progress)
        layout.addLayout(admin_row)
        layout.addWidget(QLabel(_("Stapel der letzten Zeit:")))
        self.no_batches = QLabel(
            _(
                "Noch keine Stapel. Abgeschlossene Aufnahmen werden beim Senden zu "
                "verschlüsselten, signierten Stapeln gepackt; jeder bleibt hier sichtbar, bis "
                "die Zentrale ihn quittiert hat."
            )
        )
        self.no_batches.setObjectName("hint")
        self.no_batches.setWordWrap(True)
        layout.addWidget(self.no_batches)
        layout.addWidget(self.table, 1)
        self.spacer = QWidget()  # takes the room while there is no batch list to show
        layout.addWidget(self.spacer, 1)
        layout.addLayout(bottom)

        self.send_button.clicked.connect(self.send_now)
        self.cancel_button.clicked.connect(self._on_cancel)
        self.folder_button.clicked.connect(self._on_folder)
        self.receipts_button.clicked.connect(self._on_receipts)
        self.enrol_button.clicked.connect(self._on_enrol)
        self.answer_file_button.clicked.connect(self._on_answer_file)
        self.confirmation_button.clicked.connect(self._on_confirmation)
        self.office_button.clicked.connect(self._on_confirm_office)
        self.resize(900, 560)
        self.refresh()

    # -- display -----------------------------------------------------------------------

    def refresh(self) -> None:
        status = self.ws.sync.status()
        self.pending_label.setText(
            ngettext(
                "{n} Eintrag wartet auf die Übermittlung",
                "{n} Einträge warten auf die Übermittlung",
                status.pending,
            ).format(n=status.pending)
            if status.pending
            else _("Alles ist übermittelt.")
        )
        if status.enrolled:
            state = _("bestätigt") if status.registered else _("noch nicht bestätigt")
            self.device_label.setText(
                _("Gerät „{name}“ ({state}) · Zentrale {url} · Schlüssel {key}").format(
                    name=status.device_name,
                    state=state,
                    url=status.server_url,
                    key=status.office_fingerprint[:16],
                )
            )
        else:
            self.device_label.setText(
                _(
                    "Dieses Gerät ist noch nicht bei der Zentrale registriert. Die Administration "
                    "liest dazu die Registrierungsdatei der Zentrale ein."
                )
            )
        self.last_label.setText(
            _("Letzte erfolgreiche Übermittlung: {when}").format(when=_when(status.last_success_at))
        )
        self.error_label.setText(
            _("Letzter Versuch: {error}").format(error=status.last_error)
            if status.last_error
            else ""
        )
        self.error_label.setVisible(bool(status.last_error))
        registered_needed = status.enrolled and not status.registered
        idle = self.operation is None
        self.enrol_button.setEnabled(not status.enrolled and idle)
        self.answer_file_button.setEnabled(registered_needed and idle)
        self.confirmation_button.setEnabled(registered_needed and idle)
        office = self.ws.sync.office_check() if status.enrolled else None
        self.office_button.setEnabled(office is not None and idle)
        self.office_label.setVisible(office is not None)
        if office == "changed":
            self.office_label.setText(
                _(
                    "Die Schlüssel der Zentrale auf diesem Gerät wurden außerhalb des "
                    "Programms geändert. Es wird nichts gesendet, bis die Administration sie "
                    "bestätigt hat; alles bleibt im Postausgang."
                )
            )
        elif office == "unsigned":
            self.office_label.setText(
                _(
                    "Die Administration muss die Schlüssel der Zentrale einmal bestätigen "
                    "(„Schlüssel der Zentrale bestätigen …“). Bis dahin wird nichts gesendet; "
                    "alles bleibt im Postausgang."
                )
            )
        for button in (self.send_button, self.folder_button, self.receipts_button):
            button.setEnabled(status.enrolled and self.operation is None)
        if office is not None:  # nothing can be sealed: the label above says why
            self.send_button.setEnabled(False)
            self.folder_button.setEnabled(False)
        self.no_batches.setVisible(not status.batches)
        self.spacer.setVisible(not status.batches)
        self.table.setVisible(bool(status.batches))
        self.table.setRowCount(len(status.batches))
        for row, batch in enumerate(status.batches):
            reason = reason_text(batch.reason)
            cells = (
                _when(batch.created_at),
                _(TRANSPORT_LABELS.get(batch.transport, batch.transport)),
                _(STATE_LABELS.get(batch.state, batch.state)),
                str(batch.records),
                str(batch.instructions),
                reason,
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if batch.state == "rejected":
                    item.setForeground(Qt.GlobalColor.darkRed)
                self.table.setItem(row, column, item)
        self.table.resizeRowsToContents()

    # -- sending -----------------------------------------------------------------------

    def send_now(self) -> None:
        if self.operation is not None:
            return
        server_url = str(self.ws.settings.get("sync.server_url") or "") or None

        def work(token: CancelToken) -> SyncResult:
            return self.ws.sync.send(
                cancel=token.event,
                progress=lambda done, total: token.progress(done, total, ""),
                server_url=server_url,
            )

        self.progress.setRange(0, 0)
        self.progress.show()
        self.cancel_button.show()
        self.operation = run_op(
            self,
            work,
            on_success=self._on_sent,
            on_failure=self._on_failed,
            label=_("An die Zentrale senden"),
        )
        self.operation.progressed.connect(self._on_progress)
        self.refresh()

    def _on_progress(self, done: int, total: int, _text: str) -> None:
        if total:
            self.progress.setRange(0, total)
            self.progress.setValue(done)

    def _finish(self) -> None:
        self.operation = None
        self.progress.hide()
        self.cancel_button.hide()
        self.refresh()
        self.changed.emit()

    def _on_sent(self, result: SyncResult) -> None:
        self._finish()
        lines = sent_lines(result)
        if result.forms_installed:
            lines.append(
                _("Neue Formularversion(en): {forms}").format(
                    forms=", ".join(result.forms_installed)
                )
            )
        if result.rejected:
            lines.append(
                _("{n} Stapel abgelehnt; die Akten werden beim nächsten Mal neu gesendet.").format(
                    n=len(result.rejected)
                )
            )
        self.error_label.setStyleSheet(f"color: {style.SUCCESS};")
        self.error_label.setText(" ".join(lines))
        self.error_label.show()

    def _on_failed(self, exc: BaseException) -> None:
        self._finish()
        if isinstance(exc, SyncError) and exc.kind is SyncErrorKind.CANCELLED:
            self.error_label.setText(_("Abgebrochen. Die Daten bleiben im Postausgang."))
            self.error_label.show()
            return
        self.error_label.setStyleSheet("")
        if isinstance(exc, IntakeError):
            self.error_label.setText(str(exc))
            self.error_label.show()
        else:
            show_error(self, exc)

    def _on_cancel(self) -> None:
        if self.operation is not None:
            self.operation.cancel()
            self.cancel_button.setEnabled(False)

    # -- folder ------------------------------------------------------------------------

    def _choose_folder(self, title: str) -> Path | None:
        folder = QFileDialog.getExistingDirectory(self, title)
        return Path(folder) if folder else None

    def _run(
        self,
        work: Callable[[CancelToken], Any],
        on_success: Callable[[Any], None],
        *,
        label: str,
        text: str,
    ) -> None:
        """Blocking work through the background helper: the buttons wait while it runs,
        a progress dialog appears after 200 ms, errors are shown in words."""

        def succeeded(result: object) -> None:
            self.operation = None
            self.refresh()
            on_success(result)

        def failed(exc: BaseException) -> None:
            self.operation = None
            self.refresh()
            if isinstance(exc, OSError):
                exc = IntakeError(str(exc))
            show_error(self, exc)

        self.operation = run_op(
            self,
            work,
            on_success=succeeded,
            on_failure=failed,
            label=label,
            progress=self,
            progress_text=text,
            cancellable=False,
        )
        self.refresh()

    def _on_folder(self) -> None:
        folder = self._choose_folder(_("Ordner oder USB-Stick für die Übermittlung"))
        if folder is None:
            return
        sync = self.ws.sync

        def done(result: SyncResult) -> None:
            QMessageBox.information(
                self,
                _("Übermittlung"),
                ngettext(
                    "{n} Datei in {folder} geschrieben.",
                    "{n} Dateien in {folder} geschrieben.",
                    result.batches_sent,
                ).format(n=result.batches_sent, folder=folder)
                + " "
                + _("Die Zentrale liest sie ein und legt Quittungen in denselben Ordner."),
            )
            self.changed.emit()

        self._run(
            lambda _token: sync.write_to_folder(folder),
            done,
            label=_("Auf USB-Stick schreiben"),
            text=_("Stapel werden in den Ordner geschrieben …"),
        )

    def _on_receipts(self) -> None:
        folder = self._choose_folder(_("Ordner mit den Quittungen der Zentrale"))
        if folder is None:
            return
        sync = self.ws.sync

        def done(result: SyncResult) -> None:
            text = " ".join(
                [
                    ngettext(
                        "{n} Akte als übermittelt bestätigt.",
                        "{n} Akten als übermittelt bestätigt.",
                        result.records_delivered,
                    ).format(n=result.records_delivered),
                    ngettext(
                        "{n} Anweisung bestätigt.",
                        "{n} Anweisungen bestätigt.",
                        result.instructions_delivered,
                    ).format(n=result.instructions_delivered),
                ]
            )
            if result.invalid_receipts:
                text += " " + ngettext(
                    "{n} Quittungsdatei war ungültig und wurde nicht verwendet.",
                    "{n} Quittungsdateien waren ungültig und wurden nicht verwendet.",
                    len(result.invalid_receipts),
                ).format(n=len(result.invalid_receipts))
            self.changed.emit()
            QMessageBox.information(self, _("Quittungen"), text)

        self._run(
            lambda _token: sync.import_receipts(folder),
            done,
            label=_("Quittungen einlesen"),
            text=_("Quittungen werden eingelesen …"),
        )

    # -- enrolment (administrators) ----------------------------------------------------

    def _on_enrol(self) -> None:
        name, _filter = QFileDialog.getOpenFileName(
            self, _("Registrierungsdatei der Zentrale"), "", _("Registrierung (*.json);;Alle (*)")
        )
        if not name:
            return
        sync = self.ws.sync

        def read(_token: CancelToken) -> tuple[bytes, str]:
            data = Path(name).read_bytes()
            return data, sync.enrolment_fingerprint(data)

        self._run(
            read,
            lambda found: self._confirm_enrolment(*found),
            label=_("Gerät registrieren"),
            text=_("Die Registrierungsdatei wird gelesen …"),
        )

    def _confirm_enrolment(self, data: bytes, fingerprint: str) -> None:
        answer = QMessageBox.question(
            self,
            _("Fingerabdruck der Zentrale"),
            _(
                "Fingerabdruck der Zentrale:\n\n{fp}\n\nStimmt er Zeichen für Zeichen mit dem "
                "überein, den die Zentrale Ihnen mitgeteilt hat? Nur dann registrieren."
            ).format(fp=fingerprint),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        sync = self.ws.sync

        def enrolled(_result: object) -> None:
            self.changed.emit()
            self._register_online()

        self._run(
            lambda _token: sync.enrol(data, expected_fingerprint=fingerprint),
            enrolled,
            label=_("Gerät registrieren"),
            text=_("Das Gerät wird registriert …"),
        )

    def _on_confirm_office(self) -> None:
        """Confirm the office keys again (docs/security.md, "The office the device seals
        to"): the administrator compares the pinned root's fingerprint with the one the
        office gave her; the key set comes from the office, or from its keyset.json."""
        fingerprint = self.ws.sync.office_fingerprint()
        answer = QMessageBox.question(
            self,
            _("Fingerabdruck der Zentrale"),
            _(
                "Fingerabdruck der Zentrale auf diesem Gerät:\n\n{fp}\n\nStimmt er Zeichen "
                "für Zeichen mit dem überein, den die Zentrale Ihnen mitgeteilt hat? Nur dann "
                "bestätigen. Sonst informieren Sie die Zentrale: das Gerät muss neu "
                "registriert werden."
            ).format(fp=fingerprint or "—"),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        sync = self.ws.sync

        def confirmed(_result: object) -> None:
            self.changed.emit()
            QMessageBox.information(
                self,
                _("Schlüssel der Zentrale"),
                _("Die Schlüssel der Zentrale sind bestätigt; das Gerät kann wieder senden."),
            )

        def from_file() -> None:
            name, _filter = QFileDialog.getOpenFileName(
                self,
                _("Schlüsselsatz der Zentrale (keyset.json)"),
                "",
                _("Schlüsselsatz (*.json);;Alle (*)"),
            )
            if not name:
                return
            self._run(
                lambda _token: sync.confirm_office(
                    expected_fingerprint=fingerprint, document=Path(name).read_bytes()
                ),
                confirmed,
                label=_("Schlüssel der Zentrale bestätigen"),
                text=_("Der Schlüsselsatz wird geprüft …"),
            )

        def failed(exc: BaseException) -> None:
            self.operation = None
            self.refresh()
            if isinstance(exc, SyncError) and exc.kind is SyncErrorKind.NETWORK:
                answer = QMessageBox.question(
                    self,
                    _("Schlüssel der Zentrale"),
                    _(
                        "Die Zentrale ist nicht erreichbar. Möchten Sie den Schlüsselsatz der "
                        "Zentrale (keyset.json) von einem USB-Stick lesen? Die Zentrale gibt "
                        "ihn Ihnen."
                    ),
                )
                if answer == QMessageBox.StandardButton.Yes:
                    from_file()
                return
            show_error(self, exc)

        def succeeded(result: object) -> None:
            self.operation = None
            self.refresh()
            confirmed(result)

        self.operation = run_op(
            self,
            lambda token: sync.confirm_office(expected_fingerprint=fingerprint, cancel=token.event),
            on_success=succeeded,
            on_failure=failed,
            label=_("Schlüssel der Zentrale bestätigen"),
            progress=self,
            progress_text=_("Der Schlüsselsatz wird von der Zentrale geholt …"),
        )
        self.refresh()

    def _register_online(self) -> None:
        sync = self.ws.sync

        def work(_token: CancelToken) -> None:
            sync.register_online()

        def failed(exc: BaseException) -> None:
            self.error_label.setText(
                _(
                    "Online-Bestätigung nicht möglich ({reason}). Schreiben Sie eine "
                    "Antwortdatei für die Zentrale oder versuchen Sie es später."
                ).format(reason=exc)
            )
            self.error_label.show()
            self.refresh()

        run_op(
            self,
            work,
            on_success=lambda _r: self.refresh(),
            on_failure=failed,
            label=_("Registrierung bestätigen"),
        )

    def _on_answer_file(self) -> None:
        name, _filter = QFileDialog.getSaveFileName(
            self, _("Antwortdatei für die Zentrale"), "registrierung.json", "JSON (*.json)"
        )
        if not name:
            return
        sync = self.ws.sync
        self._run(
            lambda _token: atomic_write_bytes(Path(name), sync.registration_file()),
            lambda _result: None,
            label=_("Antwortdatei schreiben"),
            text=_("Die Antwortdatei wird geschrieben …"),
        )

    def _on_confirmation(self) -> None:
        name, _filter = QFileDialog.getOpenFileName(
            self, _("Bestätigung der Zentrale"), "", _("Bestätigung (*.json);;Alle (*)")
        )
        if not name:
            return
        sync = self.ws.sync

        def done(_result: object) -> None:
            self.changed.emit()

        self._run(
            lambda _token: sync.import_confirmation(Path(name).read_bytes()),
            done,
            label=_("Bestätigung einlesen"),
            text=_("Die Bestätigung wird eingelesen …"),
        )


def sent_lines(result: SyncResult) -> list[str]:
    """What a sync run delivered, in words (nothing sent is said as such, not as "0")."""
    lines: list[str] = []
    if result.records_delivered:
        n = result.records_delivered
        lines.append(ngettext("{n} Akte zugestellt.", "{n} Akten zugestellt.", n).format(n=n))
    if result.instructions_delivered:
        n = result.instructions_delivered
        lines.append(
            ngettext("{n} Anweisung bestätigt.", "{n} Anweisungen bestätigt.", n).format(n=n)
        )
    lines += result.notice_lines()
    if not lines and not result.rejected and not result.forms_installed:
        lines.append(_("Es lag nichts zur Übermittlung vor."))
    return lines
