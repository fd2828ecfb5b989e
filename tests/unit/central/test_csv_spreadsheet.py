"""The records CSV opened as a spreadsheet stays text, whatever separator the spreadsheet
assumes: LibreOffice (``soffice --headless``, installed by ``scripts/setup-system.sh``)
converts the exported files with ``,`` and with ``;`` (what German Excel uses), and no cell
may come back as a formula."""

from __future__ import annotations

import shutil
import subprocess
import uuid
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from intake_app.central import db
from intake_app.central.export import export_records
from intake_app.central.loader import apply_payload
from intake_app.sync.batch import _seal, build_batch
from intake_app.sync.transport_http import SyncClient
from tests.e2e.conftest import FAST
from tests.unit.central.harness import Central, receiver_app, serve
from tests.unit.central.test_importer import payload_of, receive
from tests.unit.sync.factories import make_record

NASTY = [
    "=1+1",
    "x;=1+1",
    "x,=1+1",
    "x;  @SUM(1;2)",
    "x\t+1+1",
    'Name;=HYPERLINK("http://example.org";"klick")',
    "a|=2+2",
    " -3+3",
]
TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
FILTER = {",": "44", ";": "59"}


def _convert(files: list[Path], separator: str, out: Path, profile: Path) -> list[Path]:
    soffice = shutil.which("soffice")
    assert soffice, "LibreOffice is missing: run scripts/setup-system.sh"
    out.mkdir(exist_ok=True)
    result = subprocess.run(
        [
            soffice,
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            f"--infilter=CSV:{FILTER[separator]},34,76,1",
            "--convert-to",
            "fods",
            "--outdir",
            str(out),
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    return [out / f"{f.stem}.fods" for f in files]


def _cells(path: Path) -> list[tuple[str | None, str]]:
    """(formula, shown text) of every cell with content."""
    cells = []
    for cell in ET.parse(path).getroot().iter(f"{{{TABLE}}}table-cell"):
        text = "".join("".join(p.itertext()) for p in cell.iter(f"{{{TEXT}}}p"))
        formula = cell.get(f"{{{TABLE}}}formula")
        if text or formula:
            cells.append((formula, text))
    return cells


@pytest.mark.parametrize("opened_with", [",", ";"])
def test_no_cell_becomes_a_formula_whatever_the_separator(
    sqlite_central: Central, tmp_path: Path, opened_with: str
) -> None:
    identity = sqlite_central.enrol()
    records = [make_record(family_name=value) for value in NASTY]
    receive(sqlite_central, build_batch(payload_of(*records), identity=identity))
    sqlite_central.importer().run()
    written = []
    for separator, name in ((",", "comma"), (";", "semicolon")):
        out = tmp_path / f"export-{name}.csv"
        export_records(sqlite_central.engine, out, separator=separator)
        written.append(out)
    converted = _convert(written, opened_with, tmp_path / "out", tmp_path / "lo-profile")
    for path in converted:
        cells = _cells(path)
        assert cells, f"nothing read from {path.name}"
        assert [c for c in cells if c[0]] == [], f"formulas in {path.name}"
        shown = " ".join(text for _formula, text in cells)
        assert "=1+1" in shown  # the text is still there, as text
        assert "2" != shown.strip()


HOSTILE_KEYS = ['zz",=2*3,', "k;=1+1", "=3+3"]


def test_answer_keys_that_are_not_field_ids_are_refused(central: Central) -> None:
    """Answer keys and consent purposes become column names: a device sending anything but
    a form's field ids gets its batch quarantined as ``payload_invalid``, and nothing of it
    is stored."""
    identity = central.enrol()
    for key in HOSTILE_KEYS:
        record = make_record(family_name="Kopf")
        record["answers"][key] = "x"
        withdrawal_of_odd_purpose = {
            "type": "consent_withdrawal",
            "record_id": record["id"],
            "purpose": "p;=5+5",
            "withdrawn_on": "2026-12-01",
        }
        purpose = make_record(family_name="Zweck")
        purpose["consent"]["purposes"][key] = {"granted": True}
        for payload in (
            payload_of(record),
            payload_of(purpose),
            payload_of(instructions=[withdrawal_of_odd_purpose]),
        ):
            with serve(receiver_app(central)) as url:
                device = replace(identity, server_url=url)
                with SyncClient(device, settings=FAST) as client:
                    # sealed as a modified device would, without the program's own check
                    client.send_batch(_seal(payload, identity=device))
            outcomes = central.importer().run()
            assert [o.status for o in outcomes] == ["quarantined"], key
            assert [o.reason for o in outcomes] == ["payload_invalid"], key
    assert central.count(db.records) == 0


def test_the_header_row_stays_text_in_libreoffice_with_its_default_options(
    sqlite_central: Central, tmp_path: Path
) -> None:
    """Records imported before answer keys were checked may carry any key: the header row is
    guarded like every cell, also when LibreOffice opens a ``;`` file splitting on ``,``."""
    identity = sqlite_central.enrol()
    record = make_record(family_name="Alt")
    for key in HOSTILE_KEYS:
        record["answers"][key] = "x"
    record["consent"]["purposes"]['p",=5+5'] = {"granted": True}
    with sqlite_central.engine.begin() as conn:
        apply_payload(
            conn,
            payload_of(record),
            batch_id=str(uuid.uuid4()),
            device_id=identity.device_id,
            now=datetime.now(UTC),
        )
    out = tmp_path / "semi.csv"
    export_records(sqlite_central.engine, out, separator=";")
    soffice = shutil.which("soffice")
    assert soffice, "LibreOffice is missing: run scripts/setup-system.sh"
    converted = tmp_path / "out"
    result = subprocess.run(
        [
            soffice,
            f"-env:UserInstallation={(tmp_path / 'lo-profile').as_uri()}",
            "--headless",
            "--convert-to",
            "fods",
            "--outdir",
            str(converted),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    cells = _cells(converted / "semi.fods")
    assert any("2*3" in text for _formula, text in cells)  # still there, as text
    assert [c for c in cells if c[0]] == []
