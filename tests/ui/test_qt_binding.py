"""The Qt binding must not leak references to None (PySide6 6.12.0 on Python 3.11 did).

Every call of a Qt method that returns nothing lowered ``None``'s reference count by one;
after a few thousand calls the interpreter aborted with "none_dealloc". pyproject.toml
excludes that release; this test fails on any binding that brings the fault back.
"""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication, QLabel, QLineEdit


def test_void_qt_calls_keep_none_alive(qapp: QApplication) -> None:
    label, edit = QLabel(), QLineEdit()
    before = sys.getrefcount(None)
    for _ in range(2000):
        label.setText("x")
        edit.setEnabled(True)
    after = sys.getrefcount(None)
    assert after - before > -50, f"None lost {before - after} references"
