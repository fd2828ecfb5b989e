"""A screen reader's view (AT-SPI) of the log-in window, the case list and an interview
section: every focusable widget has a name, every input a label, and the log-in error is
read as its text. Runs on a real X display in its own D-Bus session."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import (
    COUNSELLOR,
    COUNSELLOR_PASSWORD,
    SUPERVISOR,
    SUPERVISOR_PASSWORD,
    ProfileFixture,
)
from tests.ui.xsession import x_session

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def test_screen_reader_tree(profile: ProfileFixture) -> None:
    with x_session() as env:
        done = subprocess.run(
            [
                "dbus-run-session",
                "--",
                "bash",
                str(HERE / "atspi_session.sh"),
                sys.executable,
                str(profile.profile.root),
                COUNSELLOR,
                COUNSELLOR_PASSWORD,
                "falsches-passwort",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    error = done.stderr.split("READY", 1)[1].strip().splitlines()[0]
    frames = {f["name"].split(" — ")[0] for f in report["frames"]}
    assert {"Anmeldung", "Aktenliste", "Gespräch"} <= frames, (frames, report["apps"])
    assert report["count"] > 100  # the whole tree was walked, not an empty shell
    assert report["unnamed_focusable"] == []
    assert report["unlabelled_inputs"] == []
    assert error and error in {label["name"] for label in report["labels"]}
    assert "Fehlermeldung" not in {label["name"] for label in report["labels"]}
    # every top-level window is heard as a window ("frame"), the log-in window too
    assert {f["role"] for f in report["frames"]} == {"frame"}, report["frames"]
    # required inputs say so: Qt 6's accessibility state has no "required" flag (its
    # AT-SPI bridge never sets STATE_REQUIRED), so it is the first word of the description
    interview = [i for i in report["inputs"] if i["frame"].startswith("Gespräch")]
    required = {i["name"] for i in interview if i["description"].startswith("Pflichtangabe")}
    assert {"Familienname", "Vornamen", "Geburtsdatum", "Wohnort (Gemeinde)"} <= required
    assert "Postleitzahl" not in required
    # computed values are named by their caption, never a bare "–"
    names = {label["name"] for label in report["labels"] if label["frame"].startswith("Gespr")}
    assert any(name.startswith("Alter (berechnet): ") for name in names), names
    assert "–" not in names and "" not in names


DIALOG_TITLES = {
    "Kontakt eintragen",
    "Angaben aktualisieren",
    "Fall beenden",
    "Fall wieder eröffnen",
    "Einwilligung widerrufen",
    "Akte übergeben",
    "Zugang zu allen Akten freigeben",
}


def test_screen_reader_tree_of_the_record_view_and_its_dialogs(profile: ProfileFixture) -> None:
    _dialog_report(profile)


def _dialog_report(profile: ProfileFixture) -> dict[str, Any]:
    """Walk the record view and every dialog of a case; check names and labels."""
    with x_session() as env:
        done = subprocess.run(
            [
                "dbus-run-session",
                "--",
                "bash",
                str(HERE / "atspi_session.sh"),
                sys.executable,
                "--dialogs",
                str(profile.profile.root),
                SUPERVISOR,
                SUPERVISOR_PASSWORD,
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    frames = {f["name"].split(" — ")[0]: f["role"] for f in report["frames"]}
    assert DIALOG_TITLES <= set(frames), frames
    assert {frames[title] for title in DIALOG_TITLES} == {"dialog"}
    assert report["unnamed_focusable"] == []
    assert report["unlabelled_inputs"] == []
    # every input of a dialog is named by its caption, not by its value alone
    inputs = [i for i in report["inputs"] if i["frame"].split(" — ")[0] in DIALOG_TITLES]
    assert len(inputs) >= 20
    names = {i["name"] for i in inputs}
    assert {"Datum des Fallendes", "Grund der Wiedereröffnung", "Notiz"} <= names, names
    return report
