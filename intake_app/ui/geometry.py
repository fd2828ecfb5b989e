"""Every window fits the screen it opens on and comes back at the size it was left.

A window larger than the screen's free area (a 1366x768 laptop, or larger fonts) is
shrunk to it and moved inside it, so no button is out of reach. Dialogs remember their
size and place in the program's settings as base64 text (``QWidget.saveGeometry``; never
pickled); the main window keeps its own in the profile (see ``MainWindow.save_geometry``).
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QByteArray, QRect, QSettings, Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QFileDialog,
    QInputDialog,
    QMainWindow,
    QMessageBox,
    QProgressDialog,
    QWidget,
)

GROUP = "windows"
#: room for a title bar and frame that the window manager adds outside the geometry
FRAME_ALLOWANCE = (16, 40)
_SHORT_LIVED = (QMessageBox, QInputDialog, QProgressDialog, QFileDialog)


def managed(window: QWidget) -> bool:
    """True for the program's own windows (main window and dialogs, not message boxes)."""
    return (
        window.isWindow()
        and window.windowType() in (Qt.WindowType.Window, Qt.WindowType.Dialog)
        and not isinstance(window, _SHORT_LIVED)
    )


def key(window: QWidget) -> str:
    return window.objectName() or type(window).__name__


def available_area(window: QWidget) -> QRect:
    screen = window.screen() or QGuiApplication.primaryScreen()
    return screen.availableGeometry() if screen is not None else QRect(0, 0, 1366, 768)


def fit(window: QWidget, area: QRect) -> None:
    """Shrink ``window`` to ``area`` (less its frame) and move it inside."""
    frame = window.frameGeometry()
    inner = window.geometry()
    extra_w = max(frame.width() - inner.width(), FRAME_ALLOWANCE[0])
    extra_h = max(frame.height() - inner.height(), FRAME_ALLOWANCE[1])
    width, height = _shrink(window, area, extra_w, extra_h)
    x = min(max(window.x(), area.left()), max(area.left(), area.right() - width - extra_w))
    y = min(max(window.y(), area.top()), max(area.top(), area.bottom() - height - extra_h))
    if (x, y) != (window.x(), window.y()):
        window.move(x, y)


def _shrink(window: QWidget, area: QRect, extra_w: int, extra_h: int) -> tuple[int, int]:
    """Shrink ``window`` to ``area`` less a frame of ``extra_w`` x ``extra_h`` (never below
    its minimum size); return its size."""
    width = max(min(window.width(), area.width() - extra_w), window.minimumWidth())
    height = max(min(window.height(), area.height() - extra_h), window.minimumHeight())
    if (width, height) != (window.width(), window.height()):
        window.resize(width, height)
    return width, height


def centre(window: QWidget, near: QWidget | None = None) -> None:
    """Move ``window`` (at its size, shrunk to fit) to the middle of the free area of the
    screen ``near`` is on (the window it replaces), else of its own screen: a window
    manager would otherwise put it where it likes, on a large screen even partly below
    its edge."""
    area = available_area(near if near is not None else window)
    width, height = _shrink(window, area, *FRAME_ALLOWANCE)
    x = area.left() + max(0, (area.width() - width - FRAME_ALLOWANCE[0]) // 2)
    y = area.top() + max(0, (area.height() - height - FRAME_ALLOWANCE[1]) // 2)
    window.move(x, y)


def restore(window: QWidget) -> bool:
    """Give ``window`` its remembered size and place; False when there is none."""
    text = QSettings().value(f"{GROUP}/{key(window)}")
    if not isinstance(text, str) or not text:
        return False
    return bool(window.restoreGeometry(QByteArray.fromBase64(text.encode("ascii"))))


def remember(window: QWidget) -> None:
    """Keep ``window``'s size and place (base64 text)."""
    data = bytes(window.saveGeometry().toBase64().data()).decode("ascii")
    QSettings().setValue(f"{GROUP}/{key(window)}", data)


def on_first_show(window: QWidget) -> None:
    """Restore (dialogs) and fit to the screen, once per window."""
    if window.property("intake_geometry_done"):
        return
    window.setProperty("intake_geometry_done", True)
    if not isinstance(window, QMainWindow):
        restore(window)
    if QGuiApplication.platformName() != "offscreen":  # offscreen: no real screen to fit
        fit(window, available_area(window))
        # again once the window manager has framed and placed it (its real frame size)
        QTimer.singleShot(300, window, lambda: _refit(window))


def _refit(window: QWidget) -> None:
    if shiboken6.isValid(window) and window.isVisible() and not window.isMaximized():
        fit(window, available_area(window))


def on_hide(window: QWidget) -> None:
    if window.property("intake_geometry_done") and not isinstance(window, QMainWindow):
        remember(window)
