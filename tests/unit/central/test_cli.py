"""``intake-central``: commands, exit codes, one-line errors, failed commands change nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from intake_app.central.cli import main
from intake_app.sync.batch import build_batch
from intake_app.sync.enrolment import build_registration, create_identity, read_enrolment
from intake_app.sync.transport_folder import read_receipts, write_batches
from tests.unit.sync.factories import make_payload

PASSPHRASE = "a long office passphrase"
ROOT_PASSPHRASE = "a long passphrase for the root key"
RECEIVER_PASSPHRASE = "a long passphrase for the receiver"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTAKE_CENTRAL_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("INTAKE_ROOT_PASSPHRASE", ROOT_PASSPHRASE)
    monkeypatch.setenv("INTAKE_RECEIVER_PASSPHRASE", RECEIVER_PASSPHRASE)
    monkeypatch.delenv("INTAKE_CENTRAL_HOME", raising=False)
    monkeypatch.delenv("INTAKE_CENTRAL_DATABASE_URL", raising=False)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def home(tmp_path: Path, env: None, capsys: pytest.CaptureFixture[str]) -> Path:
    root = tmp_path / "office"
    code, out, err = run(capsys, "--home", str(root), "init")
    assert (code, err) == (0, "")
    assert "Fingerabdruck" in out
    return root


def test_init_twice_fails_and_changes_nothing(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = (home / "keys.json").read_bytes()
    code, _out, err = run(capsys, "--home", str(home), "init")
    assert code == 1 and err.count("\n") == 1
    assert (home / "keys.json").read_bytes() == before


def test_usage_errors_exit_2_with_one_line(
    tmp_path: Path, env: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _out, err = run(capsys, "--home", str(tmp_path / "x"), "bogus")
    assert code == 2 and err.count("\n") == 1
    code, _out, err = run(capsys, "--home", str(tmp_path / "x"), "enrol", "--device", "a")
    assert code == 2 and err.count("\n") == 1
    code, _out, err = run(capsys, "init")
    assert code == 2 and "--home" in err
    monkeypatch.delenv("INTAKE_CENTRAL_PASSPHRASE")
    code, _out, err = run(capsys, "--home", str(tmp_path / "y"), "init")
    assert code == 2 and "INTAKE_CENTRAL_PASSPHRASE" in err
    assert not (tmp_path / "y").exists()
    short = tmp_path / "short.txt"
    short.write_text("kurz\n")
    code, _out, err = run(
        capsys, "--home", str(tmp_path / "y"), "--passphrase-file", str(short), "init"
    )
    assert code == 2 and not (tmp_path / "y").exists()


def test_wrong_passphrase_changes_nothing(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INTAKE_ROOT_PASSPHRASE", "not the passphrase")
    out = tmp_path / "e.json"
    code, _out, err = run(
        capsys,
        "--home",
        str(home),
        "enrol",
        "--device",
        "l1",
        "--server-url",
        "http://x",
        "--out",
        str(out),
    )
    assert code == 1 and "Passphrase" in err and err.count("\n") == 1
    assert not out.exists()
    monkeypatch.setenv("INTAKE_ROOT_PASSPHRASE", ROOT_PASSPHRASE)
    code, listing, _err = run(capsys, "--home", str(home), "devices", "list")
    assert code == 0 and "l1" not in listing


def test_missing_home_is_a_plain_error(
    tmp_path: Path, env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = run(capsys, "--home", str(tmp_path / "nowhere"), "devices", "list")
    assert code == 1 and "init" in err and err.count("\n") == 1


def test_office_workflow(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    enrol_file = tmp_path / "enrol.json"
    code, _out, err = run(
        capsys,
        "--home",
        str(home),
        "enrol",
        "--device",
        "laptop-1",
        "--server-url",
        "https://intake.example.org",
        "--out",
        str(enrol_file),
    )
    assert (code, err) == (0, "")
    enrolment = read_enrolment(enrol_file.read_bytes())
    identity = create_identity(enrolment)
    registration = tmp_path / "registration.json"
    registration.write_bytes(build_registration(identity, token=enrolment.token))
    confirmation = tmp_path / "confirmation.json"
    code, _out, err = run(
        capsys, "--home", str(home), "register", str(registration), "--out", str(confirmation)
    )
    assert (code, err) == (0, "")
    assert json.loads(confirmation.read_text())["type"] == "registration-confirmation"
    code, listing, _err = run(capsys, "--home", str(home), "devices", "list")
    assert "laptop-1" in listing and "active" in listing

    stick = tmp_path / "stick"
    stick.mkdir()
    batch = build_batch(make_payload(3), identity=identity)
    write_batches(stick, [batch])
    code, out, err = run(capsys, "--home", str(home), "import", "--from-dir", str(stick))
    assert (code, err) == (0, "")
    assert "accepted 3" in out
    found = read_receipts(stick, identity=identity, expected={batch.batch_id: batch.sha384})
    assert found.receipts[0].delivered_records == frozenset(batch.records)

    code, out, _err = run(capsys, "--home", str(home), "export", "--out", str(tmp_path / "x.csv"))
    assert code == 0 and "3" in out
    code, _out, _err = run(
        capsys, "--home", str(home), "export", "--statistics", "--out", str(tmp_path / "s.csv")
    )
    assert code == 0 and (tmp_path / "s.csv").exists()
    code, out, _err = run(
        capsys,
        "--home",
        str(home),
        "export",
        "--statistics",
        "--pdf",
        str(tmp_path / "s.pdf"),
        "--min-count",
        "1",
    )
    assert code == 0 and (tmp_path / "s.pdf").read_bytes().startswith(b"%PDF")
    assert "Nur für die Arbeit in der Zentralstelle" in out  # counts below 5 are shown
    code, _out, err = run(capsys, "--home", str(home), "export", "--pdf", str(tmp_path / "r.pdf"))
    assert code == 2 and "--statistics" in err and not (tmp_path / "r.pdf").exists()
    code, _out, err = run(capsys, "--home", str(home), "export", "--statistics")
    assert code == 2 and "--pdf" in err

    form = tmp_path / "intake.yaml"
    form.write_text("id: intake\n")
    code, _out, err = run(
        capsys,
        "--home",
        str(home),
        "forms",
        "publish",
        str(form),
        "--form-id",
        "intake",
        "--form-version",
        "2026.2",
    )
    assert (code, err) == (0, "")
    code, out, _err = run(capsys, "--home", str(home), "forms", "list")
    assert "intake\t2026.2" in out
    code, _out, err = run(
        capsys,
        "--home",
        str(home),
        "forms",
        "publish",
        str(form),
        "--form-id",
        "intake",
        "--form-version",
        "2026.2",
    )
    assert code == 1 and err.count("\n") == 1

    code, out, _err = run(capsys, "--home", str(home), "keys", "rotate", "--encryption")
    assert code == 0
    code, out, _err = run(capsys, "--home", str(home), "keys", "list")
    assert out.count("encryption") == 2 and "retained" in out

    code, out, _err = run(capsys, "--home", str(home), "devices", "revoke", "laptop-1")
    assert code == 0
    code, _out, err = run(capsys, "--home", str(home), "devices", "revoke", "laptop-x")
    assert code == 1
    code, out, _err = run(capsys, "--home", str(home), "quarantine", "list")
    assert code == 0 and out == ""
    code, out, _err = run(capsys, "--home", str(home), "db", "upgrade")
    assert code == 0


def test_recovery_key_command(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INTAKE_RECOVERY_PASSPHRASE", "another long passphrase")
    out = tmp_path / "recovery.json"
    code, _out, err = run(capsys, "--home", str(home), "keys", "recovery", "--out", str(out))
    assert (code, err) == (0, "")
    code, listing, _err = run(capsys, "--home", str(home), "keys", "list")
    assert "recovery" in listing and json.loads(out.read_text())["kid"] in listing


def test_receiver_role_needs_postgresql_and_a_plain_name(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--home", str(home), "db", "receiver-role", "--role", "edge")
    assert code == 2 and out == "" and "PostgreSQL" in err and err.count("\n") == 1
    code, _out, err = run(
        capsys, "--home", str(home), "db", "receiver-role", "--role", "edge; DROP TABLE x"
    )
    assert code == 2 and "Rollenname" in err and err.count("\n") == 1


def test_the_office_publishes_form_2026_3_and_an_older_device_can_install_it(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Version 2026.3 (plan step status) is published like any form version; a device that
    ships only 2026.1 and 2026.2 loads it with its own reference files (it includes no
    new one) and checks it against 2026.2, as ``install_form`` does."""
    import hashlib

    from intake_app.assets import form_path
    from intake_app.core.forms import FormRegistry, load_form
    from intake_app.device_sync.installed_forms import MemoryFormSource

    source = Path(str(form_path("intake-2026.3.yaml")))
    code, _out, err = run(
        capsys,
        "--home",
        str(home),
        "forms",
        "publish",
        str(source),
        "--form-id",
        "intake",
        "--form-version",
        "2026.3",
    )
    assert (code, err) == (0, "")
    code, out, _err = run(capsys, "--home", str(home), "forms", "list")  # verifies signatures
    (line,) = [row for row in out.splitlines() if row.startswith("intake\t2026.3\t")]
    content = source.read_bytes()
    assert line.endswith(hashlib.sha384(content).hexdigest()[:16])
    installed = load_form(MemoryFormSource("installed/intake-2026.3.yaml", content).as_source())
    older = [load_form(form_path(f"intake-{v}.yaml")) for v in ("2026.1", "2026.2")]
    registry = FormRegistry([*older, installed])
    assert registry.check() == []
    assert registry.latest("intake").question("status").parent_id == "plan_steps"
