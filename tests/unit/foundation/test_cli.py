"""The command line contract: exit codes, one-line errors, nothing changed on failure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from intake_app.cli import main
from tests.conftest import ADMIN_PASSWORD, ProfileFixture


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def pwfile(tmp_path: Path) -> Path:
    path = tmp_path / "pw.txt"
    path.write_text(ADMIN_PASSWORD + "\n", "utf-8")
    return path


def test_init_prints_the_recovery_key_once(
    tmp_path: Path, pwfile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "new"
    code, out, err = run(
        capsys, "--data-dir", str(data), "init", "--admin", "chef", "--password-file", str(pwfile)
    )
    assert code == 0, err
    key_line = next(line for line in out.splitlines() if line.count("-") == 10)
    assert (data / "vault.json").is_file()
    assert key_line not in (data / "vault.json").read_text("utf-8")
    # a second init fails with one line and changes nothing
    before = (data / "vault.json").read_bytes()
    code, out, err = run(
        capsys, "--data-dir", str(data), "init", "--admin", "chef", "--password-file", str(pwfile)
    )
    assert code == 1
    assert len(err.strip().splitlines()) == 1 and "bereits ein Profil" in err
    assert (data / "vault.json").read_bytes() == before


def test_init_with_a_short_password_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    short = tmp_path / "short.txt"
    short.write_text("kurz\n", "utf-8")
    code, _, err = run(
        capsys,
        "--data-dir",
        str(tmp_path / "x"),
        "init",
        "--admin",
        "chef",
        "--password-file",
        str(short),
    )
    assert code == 2 and "mindestens 10 Zeichen" in err
    assert not (tmp_path / "x" / "vault.json").exists()


def test_users_add_list_deactivate(
    profile: ProfileFixture, tmp_path: Path, pwfile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    newpw = tmp_path / "new.txt"
    newpw.write_text("Neuer-Nutzer-2026\n", "utf-8")
    base = [
        "--data-dir",
        str(profile.profile.root),
        "--user",
        "admin",
        "--password-file",
        str(pwfile),
    ]
    code, out, err = run(
        capsys,
        *base,
        "users",
        "add",
        "amira",
        "--role",
        "supervisor",
        "--new-password-file",
        str(newpw),
    )
    assert code == 0, err
    code, out, _ = run(capsys, *base, "users", "list")
    assert code == 0
    line = next(line for line in out.splitlines() if line.startswith("amira"))
    assert "supervisor" in line and "aktiv" in line
    code, out, _ = run(capsys, *base, "users", "deactivate", "amira")
    assert code == 0
    _, out, _ = run(capsys, *base, "users", "list")
    assert "deaktiviert" in next(line for line in out.splitlines() if line.startswith("amira"))


def test_unknown_role_wrong_password_unknown_user(
    profile: ProfileFixture, tmp_path: Path, pwfile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--data-dir", str(profile.profile.root), "--user", "admin"]
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("voellig-falsch-1\n", "utf-8")
    code, _, err = run(
        capsys, *base, "--password-file", str(pwfile), "users", "add", "x1", "--role", "boss"
    )
    assert code == 2 and "Unbekannte Rolle" in err and len(err.splitlines()) == 1
    code, _, err = run(capsys, *base, "--password-file", str(wrong), "users", "list")
    assert code == 1 and "falsch" in err and len(err.splitlines()) == 1
    code, _, err = run(capsys, *base, "--password-file", str(pwfile), "users", "deactivate", "zz")
    assert code == 1 and "keinen Benutzer" in err


def test_missing_profile_and_missing_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run(capsys, "--data-dir", str(tmp_path / "none"), "--user", "a", "users", "list")
    assert code == 2 and "kein Intake-Profil" in err
    monkeypatch.setattr(sys, "stdin", open(os.devnull))  # not a terminal: no prompt
    code, _, err = run(capsys, "--data-dir", str(tmp_path / "y"), "init", "--admin", "chef")
    assert code == 2 and "Kein Passwort" in err


def test_password_from_environment(
    profile: ProfileFixture, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INTAKE_PASSWORD", ADMIN_PASSWORD)
    monkeypatch.setenv("INTAKE_DATA_DIR", str(profile.profile.root))
    code, out, err = run(capsys, "--user", "admin", "audit", "verify")
    assert code == 0, err
    assert "intakt" in out


def test_audit_verify_names_the_broken_entry(
    profile: ProfileFixture, pwfile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sqlalchemy import text

    ws = profile.sign_in()
    with ws.db.write() as session:
        session.execute(text("DROP TRIGGER audit_log_no_update"))
        session.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2"))
    ws.close()
    code, _, err = run(
        capsys,
        "--data-dir",
        str(profile.profile.root),
        "--user",
        "admin",
        "--password-file",
        str(pwfile),
        "audit",
        "verify",
    )
    assert code == 1
    assert "Nr. 2" in err


def test_usage_errors_are_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["users"])
    assert info.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_entry_point_runs_in_a_subprocess(tmp_path: Path) -> None:
    """The installed ``intake-app`` script works and does not load Qt for commands."""
    exe = Path(sys.executable).with_name("intake-app")
    result = subprocess.run(
        [str(exe), "--data-dir", str(tmp_path / "none"), "--user", "x", "users", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "INTAKE_LANG": "de"},
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1


def test_forms_check_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shipped = Path(__file__).parents[3] / "forms" / "intake-2026.1.yaml"
    code, _out, err = run(capsys, "forms", "check", str(shipped))
    assert code == 0 and err == ""
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x1\nversion: '1'\ntitle: {de: T, en: T}\nsections: []\n", "utf-8")
    code, _out, err = run(capsys, "forms", "check", str(shipped), str(bad))
    assert code == 2
    lines = err.strip().splitlines()
    assert lines and all(line.startswith(f"{bad}:") for line in lines)


def test_a_user_who_must_change_her_password_is_refused_until_she_has(
    profile: ProfileFixture, tmp_path: Path, pwfile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    initial = tmp_path / "initial.txt"
    initial.write_text("Anfangs-Passwort-2026\n", "utf-8")
    changed = tmp_path / "changed.txt"
    changed.write_text("Eigenes-Passwort-2026\n", "utf-8")
    root = str(profile.profile.root)
    code, _out, err = run(
        capsys,
        *("--data-dir", root, "--user", "admin", "--password-file", str(pwfile)),
        *("users", "add", "samira", "--role", "counsellor", "--new-password-file", str(initial)),
    )
    assert code == 0, err
    as_samira = ["--data-dir", root, "--user", "samira", "--password-file", str(initial)]
    code, out, err = run(capsys, *as_samira, "records", "list")
    assert code != 0 and out == ""
    assert "intake-app passwd --user samira" in err and len(err.strip().splitlines()) == 1
    code, _out, err = run(capsys, *as_samira, "passwd", "--new-password-file", str(changed))
    assert code == 0, err
    as_samira[-1] = str(changed)
    code, _out, err = run(capsys, *as_samira, "records", "list")
    assert code == 0, err


def test_the_command_line_says_what_was_changed_in_the_signed_state(
    profile: ProfileFixture, pwfile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = profile.sign_in()
    try:
        with ws.db.write() as session:
            session.execute(text("UPDATE users SET role = 'admin' WHERE username = 'berater'"))
    finally:
        ws.close()
    code, out, err = run(
        capsys,
        *("--data-dir", str(profile.profile.root), "--user", "admin"),
        *("--password-file", str(pwfile), "users", "list"),
    )
    assert code == 0
    assert "Warnung" in err and "berater" in err and "Administration" in err
    line = next(line for line in out.splitlines() if line.startswith("berater"))
    assert "admin" in line  # shown as stored: nothing is hidden or rewritten
