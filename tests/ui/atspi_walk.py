"""Walk the AT-SPI tree of the running program as a screen reader sees it (system Python
with python3-pyatspi; no import of the program). Prints one JSON report.

``python3 atspi_walk.py PID``
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pyatspi

INPUT_ROLES = {
    pyatspi.ROLE_ENTRY,
    pyatspi.ROLE_PASSWORD_TEXT,
    pyatspi.ROLE_TEXT,
    pyatspi.ROLE_COMBO_BOX,
    pyatspi.ROLE_SPIN_BUTTON,
    pyatspi.ROLE_CHECK_BOX,
    pyatspi.ROLE_RADIO_BUTTON,
}


def walk(node: Any, frame: str, report: dict[str, Any], depth: int = 0) -> None:
    if depth > 60:
        return
    try:
        role = node.getRole()
        states = node.getState()
        name = node.name or ""
    except Exception:  # a widget that went away while walking
        return
    if depth == 1:  # a top-level window of the program
        frame = name
        report["frames"].append({"name": name, "role": node.getRoleName()})
    showing = states.contains(pyatspi.STATE_SHOWING)
    focusable = states.contains(pyatspi.STATE_FOCUSABLE)
    if showing:
        labelled = any(
            r.getRelationType() == pyatspi.RELATION_LABELLED_BY for r in node.getRelationSet()
        )
        parent = node.parent
        entry = {
            "frame": frame,
            "role": node.getRoleName(),
            "name": name,
            "labelled": labelled,
            "parent": f"{parent.getRoleName()} {parent.name}" if parent is not None else "",
            "children": node.childCount,
        }
        # an empty table cell is an empty value (read with its column header), no widget
        if (
            focusable
            and not name.strip()
            and role not in (pyatspi.ROLE_SCROLL_BAR, pyatspi.ROLE_TABLE_CELL)
        ):
            report["unnamed_focusable"].append(entry)
        if role in INPUT_ROLES and not (name.strip() or labelled):
            report["unlabelled_inputs"].append(entry)
        if role in INPUT_ROLES:
            entry["description"] = node.description or ""
            entry["required"] = states.contains(pyatspi.STATE_REQUIRED)
            report["inputs"].append(entry)
        if role == pyatspi.ROLE_LABEL:
            report["labels"].append(entry)
        report["count"] += 1
    for index in range(node.childCount):
        try:
            child = node.getChildAtIndex(index)
        except Exception:
            continue
        if child is not None:
            walk(child, frame, report, depth + 1)


def main() -> None:
    pid = int(sys.argv[1])
    desktop = pyatspi.Registry.getDesktop(0)
    report: dict[str, Any] = {
        "count": 0,
        "frames": [],
        "unnamed_focusable": [],
        "unlabelled_inputs": [],
        "labels": [],
        "inputs": [],
        "apps": [],
    }
    for app in desktop:
        if app is None:
            continue
        report["apps"].append(app.name)
        try:
            if app.get_process_id() != pid:
                continue
        except Exception:
            continue
        walk(app, "", report)
    print(json.dumps(report, ensure_ascii=False))


main()
