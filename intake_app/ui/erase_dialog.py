"""Confirm an erasure request: a reason from the fixed list and an explicit confirmation."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from intake_app.i18n import _
from intake_app.storage.lifecycle import ErasureReason
from intake_app.ui.widgets import add_row, ok_cancel_buttons


class EraseDialog(QDialog):
    """Ask why a record is erased; the erase button works only after confirmation."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(_("Akte löschen"))
        warning = QLabel(
            _(
                "Die Akte wird auf diesem Gerät sofort und endgültig gelöscht, mit allen "
                "Revisionen und Einwilligungen. Wurde sie schon übermittelt, löscht die Zentrale "
                "sie nach der nächsten Übermittlung und bestätigt das. Für die Statistik bleibt "
                "nur ein anonymer Eintrag (Monat, Aufenthaltsstatus, Ziel)."
            )
        )
        warning.setWordWrap(True)
        self.reason_box = QComboBox()
        for reason in ErasureReason:
            self.reason_box.addItem(reason.label, reason.value)
        self.confirm = QCheckBox(_("Ich habe den Antrag geprüft und will die Akte löschen."))
        self.confirm.setAccessibleName(self.confirm.text())
        form = QFormLayout()
        add_row(form, _("&Grund:"), self.reason_box)
        self.buttons = ok_cancel_buttons(self, _("Endgültig löschen"))
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(False)
        self.confirm.toggled.connect(ok.setEnabled)
        layout = QVBoxLayout(self)
        layout.addWidget(warning)
        layout.addLayout(form)
        layout.addWidget(self.confirm)
        layout.addWidget(self.buttons)
        self.resize(520, 280)

    def reason(self) -> ErasureReason:
        return ErasureReason(self.reason_box.currentData())
