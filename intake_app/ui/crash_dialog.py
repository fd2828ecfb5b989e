"""The error dialog: what happened and what to do, in plain German, with the way to the log.

:func:`describe_error` turns an exception into an :class:`ErrorMessage` (no Qt needed):
known conditions of the environment (:class:`~intake_app.errors.KnownError` with
``kind`` ``disk_full``, ``locked``, ``corrupt``, ``readonly``, ``newer``, ``missing``)
and sign-in problems get their own message; anything else is a bug and says so without
blaming the user. :class:`CrashDialog` shows it with "Protokoll öffnen" and "Details
kopieren" (technical details only: versions, the scrubbed traceback; never personal
data) and, for a damaged database, "Letzte Sicherung wiederherstellen …".
"""

from __future__ import annotations

import itertools
import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import PySide6
from PySide6.QtCore import QUrl, qVersion
from PySide6.QtGui import QDesktopServices, QGuiApplication, QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QLayout,
    QPlainTextEdit,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from intake_app import __version__
from intake_app.atomic import DISK_FULL_ERRNOS
from intake_app.errors import (
    AuthError,
    IntakeError,
    KnownError,
    PermissionDenied,
    SyncError,
    UsageError,
)
from intake_app.i18n import _
from intake_app.logs import current_log_dir, current_log_file, safe_traceback

RestoreHandler = Callable[[QWidget | None], None]


def fit_height(dialog: QWidget) -> None:
    """Make ``dialog`` tall enough for its word-wrapped texts at its current width.

    Qt sizes a new window from the labels' size hints, which assume another width; with
    a large font the texts would be cut off. The layout knows the height for a width.
    """
    layout = dialog.layout()
    if layout is None or not layout.hasHeightForWidth():
        return
    needed = layout.totalHeightForWidth(dialog.width())
    if needed > dialog.height():
        dialog.resize(dialog.width(), needed)


@dataclass(frozen=True, slots=True)
class ErrorMessage:
    """An error as the user reads it.

    Attributes:
        title: the window title and heading.
        what: what happened, in one or two sentences.
        todo: what the user can do now.
        kind: ``"bug"``, ``"known"`` or ``"user"`` (decides icon and the log buttons).
        offer_restore: a damaged profile: offer to restore the last backup.
    """

    title: str
    what: str
    todo: str
    kind: str
    offer_restore: bool = False

    @property
    def text(self) -> str:
        """What happened and what to do, as one text."""
        return f"{self.what}\n\n{self.todo}" if self.todo else self.what


def _known(exc: KnownError) -> ErrorMessage:
    what = str(exc)
    if exc.kind == "disk_full":
        return ErrorMessage(
            _("Datenträger voll"),
            what,
            _(
                "Löschen Sie nicht mehr benötigte Dateien (z. B. im Download-Ordner) oder bitten "
                "Sie die IT um mehr Speicherplatz. Danach wiederholen Sie den letzten Schritt; "
                "bereits gespeicherte Antworten bleiben erhalten."
            ),
            "known",
        )
    if exc.kind == "locked":
        return ErrorMessage(
            _("Datenbank belegt"),
            what,
            _(
                "Warten Sie einen Moment und versuchen Sie es noch einmal. Ist Intake auf "
                "diesem Gerät ein zweites Mal geöffnet, schließen Sie das andere Fenster."
            ),
            "known",
        )
    if exc.kind == "corrupt":
        return ErrorMessage(
            _("Profil beschädigt"),
            what,
            _(
                "Die Administration kann die letzte Sicherung wiederherstellen. Der beschädigte "
                "Stand wird dabei aufbewahrt, nichts wird gelöscht. Danach gelten die Passwörter "
                "vom Zeitpunkt der Sicherung."
            ),
            "known",
            offer_restore=True,
        )
    if exc.kind == "readonly":
        return ErrorMessage(
            _("Keine Schreibrechte"),
            what,
            _(
                "Bitten Sie die IT, Ihrem Benutzerkonto Schreibrechte für den Profilordner zu "
                "geben. Bis dahin kann Intake nichts speichern."
            ),
            "known",
        )
    if exc.kind == "newer":
        return ErrorMessage(
            _("Neuere Programmversion nötig"),
            what,
            _(
                "Bitten Sie die IT, die aktuelle Intake-Version zu installieren. Das Profil "
                "wurde nicht verändert."
            ),
            "known",
        )
    if exc.kind == "missing":
        return ErrorMessage(
            _("Profil unvollständig"),
            what,
            _(
                "Prüfen Sie, ob der Profilordner verschoben wurde oder ein Laufwerk fehlt. Die "
                "Administration kann die letzte Sicherung wiederherstellen."
            ),
            "known",
            offer_restore=True,
        )
    return ErrorMessage(_("Hinweis"), what, "", "known")


def describe_error(exc: BaseException) -> ErrorMessage:
    """The plain message for ``exc`` in the current language."""
    if isinstance(exc, KnownError):
        return _known(exc)
    if isinstance(exc, AuthError):
        return ErrorMessage(
            _("Anmeldung"),
            str(exc),
            _(
                "Prüfen Sie Benutzername und Passwort (Feststelltaste?). Wer das Passwort "
                "vergessen hat, bekommt von der Administration ein neues."
            ),
            "user",
        )
    if isinstance(exc, PermissionDenied):
        return ErrorMessage(
            _("Keine Berechtigung"),
            str(exc),
            _("Wenden Sie sich an die Leitung oder die Administration, wenn Sie das brauchen."),
            "user",
        )
    if isinstance(exc, SyncError):
        return ErrorMessage(_("Übermittlung"), str(exc), "", "user")
    if isinstance(exc, UsageError | IntakeError):
        return ErrorMessage(_("Hinweis"), str(exc), "", "user")
    if isinstance(exc, MemoryError):
        return ErrorMessage(
            _("Zu wenig Arbeitsspeicher"),
            _("Der Arbeitsspeicher des Geräts reicht gerade nicht aus."),
            _(
                "Schließen Sie andere Programme und versuchen Sie es erneut. Ihre gespeicherten "
                "Eingaben bleiben erhalten."
            ),
            "known",
        )
    if isinstance(exc, OSError):
        if exc.errno in DISK_FULL_ERRNOS:
            return _known(KnownError(_("Der Datenträger ist voll."), kind="disk_full"))
    return ErrorMessage(
        _("Unerwarteter Fehler"),
        _(
            "Im Programm ist ein Fehler aufgetreten, mit dem es nicht gerechnet hat ({kind}). "
            "Das liegt nicht an Ihnen."
        ).format(kind=type(exc).__name__),
        _(
            "Ihre Antworten bis zum zuletzt ausgefüllten Feld sind gespeichert. Schließen Sie "
            "diese Meldung und versuchen Sie es noch einmal. Kommt der Fehler wieder, starten "
            "Sie Intake neu und geben Sie der IT das Protokoll (Knopf „Protokoll öffnen“) oder "
            "die kopierten Details."
        ),
        "bug",
    )


def technical_details(exc: BaseException) -> str:
    """Versions, time and the scrubbed traceback: what the IT needs, no personal data."""
    log_file = current_log_file()
    lines = [
        f"Intake {__version__}",
        f"Python {platform.python_version()} ({sys.platform}, {platform.machine()})",
        f"Qt {qVersion()}, PySide6 {PySide6.__version__}",
        f"{platform.system()} {platform.release()}",
        f"Zeit: {datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"Protokoll: {log_file if log_file else '-'}",
        "",
    ]
    kind = getattr(exc, "kind", None)
    if kind is not None:
        lines.append(f"kind: {kind}")
    lines.append(safe_traceback(exc))
    return "\n".join(lines)


class CrashDialog(QDialog):
    """Shows an :class:`ErrorMessage`; ``restore_chosen`` tells whether to restore a backup.

    Args:
        message: what to say.
        details: the technical details (copied and shown on request).
        restore_available: show "Letzte Sicherung wiederherstellen …" for a damaged profile.
        backup_label: when the backup on offer was made (shown beside the button).
    """

    def __init__(
        self,
        message: ErrorMessage,
        *,
        details: str = "",
        restore_available: bool = False,
        backup_label: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.message = message
        self.details = details
        self.restore_chosen = False
        self.setWindowTitle(message.title)
        self.setAccessibleName(message.title)
        self.setAccessibleDescription(message.text)
        em = self.fontMetrics().horizontalAdvance("M")
        self.setMinimumWidth(min(em * 36, 900))

        icon = QLabel()
        pixmap = (
            QStyle.StandardPixmap.SP_MessageBoxCritical
            if message.kind == "bug"
            else QStyle.StandardPixmap.SP_MessageBoxWarning
        )
        icon.setPixmap(self.style().standardIcon(pixmap).pixmap(40, 40))
        icon.setAccessibleName(
            _("Symbol: Fehler") if message.kind == "bug" else _("Symbol: Hinweis")
        )
        title = QLabel(message.title)
        title.setObjectName("title")
        title.setWordWrap(True)
        title.setAccessibleName(message.title)
        self.what = QLabel(message.what)
        self.what.setWordWrap(True)
        self.what.setAccessibleName(_("Was ist passiert?"))
        self.what.setAccessibleDescription(message.what)
        self.todo = QLabel(message.todo)
        self.todo.setWordWrap(True)
        self.todo.setVisible(bool(message.todo))
        self.todo.setAccessibleName(_("Was können Sie tun?"))
        self.todo.setAccessibleDescription(message.todo)
        self.status = QLabel()
        self.status.setObjectName("muted")
        self.status.setWordWrap(True)
        self.status.setAccessibleName(_("Rückmeldung"))

        self.details_view = QPlainTextEdit(details)
        self.details_view.setReadOnly(True)
        self.details_view.setVisible(False)
        self.details_view.setFixedHeight(self.fontMetrics().lineSpacing() * 9)
        self.details_view.setAccessibleName(_("Technische Einzelheiten"))

        technical = message.kind != "user" and bool(details)
        self.toggle_button = QPushButton(_("Technische Einzelheiten &anzeigen"))
        self.toggle_button.setCheckable(True)
        self.toggle_button.setVisible(technical)
        self.toggle_button.toggled.connect(self._on_toggle_details)
        self.log_button = QPushButton(_("&Protokoll öffnen"))
        self.log_button.setAccessibleDescription(
            _("Öffnet den Ordner mit dem Protokoll für die IT")
        )
        self.log_button.setVisible(technical and current_log_dir() is not None)
        self.log_button.clicked.connect(self._on_open_log)
        self.copy_button = QPushButton(_("Details &kopieren"))
        self.copy_button.setAccessibleDescription(
            _("Kopiert Programmversion und Fehlerstelle, ohne Daten von Personen")
        )
        self.copy_button.setVisible(technical)
        self.copy_button.clicked.connect(self._on_copy)
        self.restore_button = QPushButton(_("Letzte Sicherung &wiederherstellen …"))
        self.restore_button.setVisible(restore_available)
        self.restore_button.clicked.connect(self._on_restore)
        self.close_button = QPushButton(_("&Schließen"))
        self.close_button.setObjectName("primary")
        self.close_button.setDefault(True)
        self.close_button.setAutoDefault(True)
        self.close_button.clicked.connect(self.accept)

        text_column = QVBoxLayout()
        text_column.addWidget(title)
        text_column.addWidget(self.what)
        text_column.addWidget(self.todo)
        if backup_label and restore_available:
            backup = QLabel(_("Letzte Sicherung: {label}").format(label=backup_label))
            backup.setObjectName("muted")
            backup.setWordWrap(True)
            text_column.addWidget(backup)
        text_column.addWidget(self.status)
        top = QHBoxLayout()
        top.addWidget(icon, 0)
        top.addLayout(text_column, 1)

        # two rows, so that the buttons keep their full text at a large font size
        tools = QHBoxLayout()
        tools.addWidget(self.toggle_button)
        tools.addWidget(self.log_button)
        tools.addWidget(self.copy_button)
        tools.addStretch(1)
        actions = QHBoxLayout()
        actions.addStretch(1)
        actions.addWidget(self.restore_button)
        actions.addWidget(self.close_button)

        layout = QVBoxLayout(self)
        layout.setSizeConstraint(QLayout.SizeConstraint.SetMinimumSize)
        layout.addLayout(top)
        layout.addWidget(self.details_view)
        layout.addLayout(tools)
        layout.addLayout(actions)
        order = [
            self.toggle_button,
            self.log_button,
            self.copy_button,
            self.restore_button,
            self.close_button,
        ]
        for first, second in itertools.pairwise(order):  # the visual order, left to right
            self.setTabOrder(first, second)
        self.close_button.setFocus()

    # -- slots -------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        fit_height(self)

    def _on_toggle_details(self, shown: bool) -> None:
        self.details_view.setVisible(shown)
        layout = self.layout()
        if layout is not None:
            layout.activate()
        fit_height(self)
        if shown:
            self.toggle_button.setText(_("Technische Einzelheiten &verbergen"))
        else:
            self.toggle_button.setText(_("Technische Einzelheiten &anzeigen"))

    def _on_copy(self) -> None:
        QGuiApplication.clipboard().setText(self.details)
        self.status.setText(
            _("Die Details sind kopiert. Fügen Sie sie in eine E-Mail an die IT ein.")
        )

    def _on_open_log(self) -> None:
        folder = current_log_dir()
        if folder is None:
            return
        opened = QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
        if not opened:
            self.status.setText(
                _("Das Protokoll liegt im Ordner: {path}").format(path=Path(folder))
            )

    def _on_restore(self) -> None:
        self.restore_chosen = True
        self.accept()
