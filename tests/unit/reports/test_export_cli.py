"""``intake-app export-pdf``: the command line contract of docs/architecture.md (exit codes,
one line, nothing on failure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from intake_app.cli import main
from intake_app.storage import audit
from tests.conftest import (
    ADMIN,
    ADMIN_PASSWORD,
    COUNSELLOR,
    SUPERVISOR,
    SUPERVISOR_PASSWORD,
    ProfileFixture,
)
from tests.unit.reports import pdfcheck
from tests.unit.reports.test_service import add_record


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def setup(profile: ProfileFixture, tmp_path: Path) -> tuple[list[str], list[str]]:
    """Three finalised records and a draft; the supervisor's command-line prefix."""
    ws = profile.sign_in(COUNSELLOR)
    try:
        ids = [
            add_record(ws),
            add_record(ws, arabic=False),
            add_record(ws),
            add_record(ws, finalise=False),
        ]
    finally:
        ws.close()
    pw = tmp_path / "pw.txt"
    pw.write_text(SUPERVISOR_PASSWORD + "\n", "utf-8")
    prefix = [
        "--data-dir",
        str(profile.profile.root),
        "--user",
        SUPERVISOR,
        "--password-file",
        str(pw),
    ]
    return ids, prefix


def exports(profile: ProfileFixture) -> list[audit.AuditEntry]:
    ws = profile.sign_in(SUPERVISOR)
    try:
        with ws.db.read() as session:
            return [e for e in audit.iter_entries(session) if e.action == "record_exported"]
    finally:
        ws.close()


def test_export_one_record(
    setup: tuple[list[str], list[str]],
    profile: ProfileFixture,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ids, prefix = setup
    out_file = tmp_path / "one.pdf"
    code, out, err = run(capsys, *prefix, "export-pdf", "--record", ids[0], "--out", str(out_file))
    assert code == 0, err
    assert "1 Akte(n)" in out
    pages = pdfcheck.texts(out_file.read_bytes())
    assert f"Akte {ids[0]}" in pages[0]
    assert "Profil: Standard" in pages[0]
    assert [e.subject_id for e in exports(profile)] == [ids[0]]
    assert out_file.stat().st_mode & 0o077 == 0  # readable by the owner only


def test_export_all_complete_in_english_with_special_categories(
    setup: tuple[list[str], list[str]],
    profile: ProfileFixture,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ids, prefix = setup
    out_file = tmp_path / "all.pdf"
    code, out, err = run(
        capsys,
        *prefix,
        "export-pdf",
        "--all-complete",
        "--out",
        str(out_file),
        "--lang",
        "en",
        "--with-special-categories",
    )
    assert code == 0, err
    assert "3 Akte(n)" in out
    text = "\n".join(pdfcheck.texts(out_file.read_bytes()))
    for record_id in ids[:3]:
        assert f"Record {record_id}" in text  # the PDF speaks English, the command German
    assert ids[3] not in text  # the draft is not complete
    assert "C. Residence status" in text and "Health limitation" in text
    entries = exports(profile)
    assert sorted(e.subject_id for e in entries) == sorted(ids[:3])
    assert {e.details["lang"] for e in entries} == {"en"}


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["export-pdf", "--out", "X"], 2, "--record"),
        (["export-pdf", "--record", "a", "--all-complete", "--out", "X"], 2, "not allowed"),
        (["export-pdf", "--record", "a"], 2, "--out"),
        (["export-pdf", "--record", "a", "--out", "X", "--lang", "ar"], 2, "--lang"),
        (["export-pdf", "--record", "unbekannt", "--out", "X"], 1, "gibt es nicht"),
        (["export-pdf", "--record", "a", "--out", "MISSING/x.pdf"], 2, "gibt es nicht"),
        (["export-pdf", "--record", "a", "--out", "."], 2, "kein Ordner"),
    ],
)
def test_errors_are_one_line_and_write_nothing(
    setup: tuple[list[str], list[str]],
    profile: ProfileFixture,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    code: int,
    message: str,
) -> None:
    ids, prefix = setup
    monkeypatch.chdir(tmp_path)
    args = [ids[0] if a == "a" else a for a in args]
    args = [str(tmp_path / "out.pdf") if a == "X" else a for a in args]
    before = sorted(p.name for p in tmp_path.iterdir())
    result, _out, err = run(capsys, *prefix, *args)
    assert result == code
    assert len(err.strip().splitlines()) == 1 and message in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert exports(profile) == []


def test_administrator_gets_a_clear_refusal(
    setup: tuple[list[str], list[str]],
    profile: ProfileFixture,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ids, _prefix = setup
    pw = tmp_path / "admin.txt"
    pw.write_text(ADMIN_PASSWORD + "\n", "utf-8")
    code, _out, err = run(
        capsys,
        "--data-dir",
        str(profile.profile.root),
        "--user",
        ADMIN,
        "--password-file",
        str(pw),
        "export-pdf",
        "--record",
        ids[0],
        "--out",
        str(tmp_path / "x.pdf"),
    )
    assert code == 1 and "erlaubt diese Aktion nicht" in err
    assert not (tmp_path / "x.pdf").exists()
