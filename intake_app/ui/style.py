"""The look of the program: Fusion style, a calm palette with AA contrast, one style sheet.

Colours are chosen for WCAG AA contrast (4.5:1 for text) on a shared service-point
screen; sizes follow the system font so the interface scales with the font setting.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

from intake_app.assets import resource_path

PRIMARY = "#0b5c75"  # petrol; white text on it: 7.3:1
PRIMARY_DARK = "#084657"
ACCENT = "#c2410c"  # warnings and expiring permits; on white: 5.2:1
DANGER = "#b91c1c"
SUCCESS = "#15803d"
WINDOW = "#f4f6f8"
SURFACE = "#ffffff"
TEXT = "#1f2933"  # on white: 14.7:1
MUTED = "#52606d"  # on white: 6.4:1
BORDER = "#c5ced6"
HIGHLIGHT_ROW = "#fff4e5"


def _icon(name: str) -> str:
    return resource_path("icons", name).as_posix()


def style_sheet(base_pt: float) -> str:
    """The style sheet with font sizes relative to the system font (``base_pt``)."""
    down = _icon("chevron-down.svg")
    up = _icon("chevron-up.svg")
    title = round(base_pt * 1.6, 1)
    subtitle = round(base_pt * 1.15, 1)
    key = round(base_pt * 1.4, 1)
    return f"""
QMainWindow, QDialog, QWizard {{ background: {WINDOW}; }}
QLabel#title {{ font-size: {title}pt; font-weight: 600; color: {TEXT}; }}
QLabel#subtitle {{ font-size: {subtitle}pt; color: {MUTED}; }}
QLabel#muted {{ color: {MUTED}; }}
QLabel#error {{ color: {DANGER}; font-weight: 600; }}
QLabel#hint {{ color: {MUTED}; background: {SURFACE}; border: 1px solid {BORDER};
               border-radius: 6px; padding: 8px; }}
QLabel#recoveryKey {{ font-family: "DejaVu Sans Mono", "Consolas", monospace;
                      font-size: {key}pt; font-weight: 600; color: {TEXT}; background: {SURFACE};
                      border: 2px dashed {PRIMARY}; border-radius: 8px; padding: 14px; }}
QFrame#card {{ background: {SURFACE}; border: 1px solid {BORDER}; border-radius: 10px; }}
QPushButton {{ padding: 6px 14px; border-radius: 6px; border: 1px solid {BORDER};
               background: {SURFACE}; color: {TEXT}; }}
QPushButton:hover {{ border-color: {PRIMARY}; }}
QPushButton:disabled {{ color: #8a96a3; background: #eef1f4; border-color: #d5dbe1; }}
QPushButton:focus {{ border: 2px solid {PRIMARY}; }}
QPushButton#primary {{ background: {PRIMARY}; color: white; border: 1px solid {PRIMARY_DARK};
                       font-weight: 600; }}
QPushButton#primary:hover {{ background: {PRIMARY_DARK}; }}
QPushButton#primary:disabled {{ background: #c9d8dd; border-color: #b4c7ce; color: #33414d; }}
QComboBox::drop-down {{ subcontrol-origin: padding; subcontrol-position: top right;
                        width: 1.6em; border-left: 1px solid {BORDER}; }}
QComboBox::down-arrow {{ image: url("{down}"); width: 0.75em; height: 0.75em; }}
QComboBox::item:selected {{ color: white; background: {PRIMARY}; border: none; }}
QComboBox QAbstractItemView {{ selection-background-color: {PRIMARY}; selection-color: white; }}
QAbstractSpinBox::up-button, QAbstractSpinBox::down-button {{ width: 1.4em; }}
QAbstractSpinBox::up-arrow {{ image: url("{up}"); width: 0.6em; height: 0.6em; }}
QAbstractSpinBox::down-arrow {{ image: url("{down}"); width: 0.6em; height: 0.6em; }}
QLineEdit, QPlainTextEdit, QTextEdit, QSpinBox, QDoubleSpinBox, QDateEdit, QComboBox {{
    padding: 4px 6px; border: 1px solid {BORDER}; border-radius: 5px; background: {SURFACE};
}}
QLineEdit:focus, QPlainTextEdit:focus, QTextEdit:focus, QSpinBox:focus,
QDoubleSpinBox:focus, QDateEdit:focus, QComboBox:focus {{ border: 2px solid {PRIMARY}; }}
QLineEdit[invalid="true"], QPlainTextEdit[invalid="true"] {{ border: 2px solid {DANGER}; }}
QStatusBar {{ background: {SURFACE}; border-top: 1px solid {BORDER}; }}
QStatusBar QLabel {{ padding: 0 8px; }}
QWidget#lockCover {{ background: {PRIMARY_DARK}; }}
QListWidget#sectionNav {{ background: {SURFACE}; border: 1px solid {BORDER}; border-radius: 6px; }}
QListWidget#sectionNav::item {{ padding: 7px 8px; border-bottom: 1px solid #edf0f3; }}
QListWidget#sectionNav::item:selected {{ background: {PRIMARY}; color: white; }}
QWidget#lockCover QLabel {{ color: white; }}
"""


def apply_style(app: QApplication) -> None:
    """Use Fusion with the program's palette and style sheet."""
    fusion = QStyleFactory.create("Fusion")
    if fusion is not None:
        app.setStyle(fusion)
    palette = app.palette()
    palette.setColor(QPalette.ColorRole.Window, QColor(WINDOW))
    palette.setColor(QPalette.ColorRole.Base, QColor(SURFACE))
    palette.setColor(QPalette.ColorRole.AlternateBase, QColor("#f7f9fb"))
    palette.setColor(QPalette.ColorRole.Text, QColor(TEXT))
    palette.setColor(QPalette.ColorRole.WindowText, QColor(TEXT))
    palette.setColor(QPalette.ColorRole.ButtonText, QColor(TEXT))
    palette.setColor(QPalette.ColorRole.Highlight, QColor(PRIMARY))
    palette.setColor(QPalette.ColorRole.HighlightedText, QColor("white"))
    palette.setColor(QPalette.ColorRole.PlaceholderText, QColor(MUTED))
    palette.setColor(QPalette.ColorRole.ToolTipBase, QColor(SURFACE))
    palette.setColor(QPalette.ColorRole.ToolTipText, QColor(TEXT))
    app.setPalette(palette)
    app.setStyleSheet(style_sheet(app.font().pointSizeF() or 10.0))
