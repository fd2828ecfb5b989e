"""The office's files are private whatever the umask, its log holds no personal data from
exception messages, and no secret is ever a command-line argument."""

from __future__ import annotations

import argparse
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from intake_app.central.cli import build_parser as central_parser
from intake_app.central.cli import main
from intake_app.central.home import Home, remove_logging, setup_logging
from intake_app.cli import build_parser as device_parser
from intake_app.sync.batch import build_batch
from intake_app.sync.enrolment import build_registration, create_identity, read_enrolment
from intake_app.sync.transport_folder import write_batches
from tests.unit.sync.factories import make_payload


@pytest.fixture
def open_umask() -> Iterator[None]:
    before = os.umask(0)
    try:
        yield
    finally:
        os.umask(before)


def test_office_files_are_0600_and_folders_0700_whatever_the_umask(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, open_umask: None
) -> None:
    monkeypatch.setenv("INTAKE_CENTRAL_PASSPHRASE", "a long office passphrase")
    monkeypatch.setenv("INTAKE_ROOT_PASSPHRASE", "a long root key passphrase")
    monkeypatch.setenv("INTAKE_RECEIVER_PASSPHRASE", "a long receiver passphrase")
    monkeypatch.setenv("INTAKE_RECOVERY_PASSPHRASE", "a long recovery passphrase")
    home = tmp_path / "office"
    base = ["--home", str(home)]
    assert main([*base, "init"]) == 0
    enrol = tmp_path / "enrol.json"
    assert (
        main([*base, "enrol", "--device", "l1", "--server-url", "http://x", "--out", str(enrol)])
        == 0
    )
    enrolment = read_enrolment(enrol.read_bytes())
    identity = create_identity(enrolment)
    registration = tmp_path / "registration.json"
    registration.write_bytes(build_registration(identity, token=enrolment.token))
    assert main([*base, "register", str(registration)]) == 0
    stick = tmp_path / "stick"
    stick.mkdir()
    write_batches(stick, [build_batch(make_payload(2), identity=identity)])
    assert main([*base, "import", "--from-dir", str(stick)]) == 0
    out = tmp_path / "exports" / "records.csv"
    assert main([*base, "export", "--out", str(out)]) == 0
    assert main([*base, "keys", "receiver-key", "--out", str(home / "edge-key.json")]) == 0
    assert main([*base, "keys", "recovery", "--out", str(home / "recovery.json")]) == 0
    wrong = []
    for path in [home, *home.rglob("*"), out.parent, out]:
        mode = stat.S_IMODE(path.stat().st_mode)
        if (path.is_dir() and mode != 0o700) or (path.is_file() and mode & 0o077):
            wrong.append(f"{path.relative_to(tmp_path)} {oct(mode)}")
    assert wrong == []
    assert (home / "logs" / "central.log").is_file()


def test_the_office_log_holds_no_personal_data_from_exception_messages(tmp_path: Path) -> None:
    home = Home(tmp_path / "office")
    home.root.mkdir()
    handlers = setup_logging(home)
    try:
        try:
            int("Amal Haddad")
        except ValueError:
            logging.getLogger("intake.central").exception("a batch could not be loaded")
    finally:
        remove_logging(handlers)
    text = (home.log_dir / "central.log").read_text("utf-8")
    assert "a batch could not be loaded" in text and "ValueError" in text
    assert "Amal" not in text and "Haddad" not in text


def _options(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    for action in parser._actions:
        yield action
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _options(sub)


@pytest.mark.parametrize("build", [central_parser, device_parser])
def test_no_secret_is_a_command_line_argument(build) -> None:  # type: ignore[no-untyped-def]
    names = {name for action in _options(build()) for name in action.option_strings}
    secret = [
        n
        for n in names
        if any(word in n for word in ("passphrase", "password", "secret", "token"))
        and not n.endswith("-file")
    ]
    assert secret == []
    assert any(n.endswith("passphrase-file") or n.endswith("password-file") for n in names)
