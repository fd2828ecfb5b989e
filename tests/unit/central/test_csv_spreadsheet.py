"""The records CSV opened as a spreadsheet stays text, whatever separator the spreadsheet
assumes: LibreOffice (``soffice --headless``, installed by ``scripts/setup-system.sh``)
converts the exported files with ``,`` and with ``;`` (what German Excel uses), and no cell
may come back as a formula."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from intake_app.central.export import export_records
from intake_app.sync.batch import build_batch
from tests.unit.central.harness import Central
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
