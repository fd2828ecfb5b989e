"""The About dialog: version, components, sources of reference data, licences."""

from __future__ import annotations

import PySide6
from PySide6.QtCore import Qt, qVersion
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from intake_app import __version__
from intake_app.i18n import _


def about_text(*, cipher_version: str, profile_path: str) -> str:
    """The dialog's text as HTML (also used by tests)."""
    rows = [
        f"<h2>Intake {__version__}</h2>",
        "<p>"
        + _(
            "Erstgespräche in der kommunalen Integrationsberatung: geführt, verschlüsselt, offline."
        )
        + "</p>",
        "<p><b>" + _("Bestandteile") + "</b><br>",
        f"Qt {qVersion()} · PySide6 {PySide6.__version__}<br>",
        f"SQLCipher {cipher_version or '-'}</p>",
        "<p><b>" + _("Referenzdaten") + "</b><br>",
        _(
            "Klassifikation der Berufe 2010 – überarbeitete Fassung 2020: "
            "Bundesagentur für Arbeit, Statistik."
        )
        + "<br>",
        _("Länder und Sprachen (ISO 3166, ISO 639): iso-codes über pycountry.") + "</p>",
        "<p><b>" + _("Profil") + "</b><br>" + profile_path + "</p>",
        "<p>" + _("Lizenz: EUPL-1.2. Schriften: SIL Open Font License.") + "</p>",
    ]
    return "".join(rows)


class AboutDialog(QDialog):
    """Shows :func:`about_text`."""

    def __init__(self, *, cipher_version: str, profile_path: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(_("Über Intake"))
        label = QLabel(about_text(cipher_version=cipher_version, profile_path=profile_path))
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.button(QDialogButtonBox.StandardButton.Close).setText(_("Schließen"))
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(label)
        layout.addWidget(buttons)
        self.resize(520, 420)
