"""On a real X display (Xvfb with a window manager), as on a counsellor's desktop."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from intake_app.storage.record_queries import RecordQuery
from tests.conftest import (
    COUNSELLOR,
    COUNSELLOR_PASSWORD,
    SUPERVISOR,
    SUPERVISOR_PASSWORD,
    ProfileFixture,
)
from tests.ui.xsession import x_session

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def x_env():  # type: ignore[no-untyped-def]
    with x_session() as env:
        yield env


def _check(env: dict[str, str], name: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tests.ui.xcb_checks", name, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_global_shortcut_from_a_text_field(x_env, profile: ProfileFixture) -> None:  # type: ignore[no-untyped-def]
    result = _check(
        x_env, "shortcut_from_search", str(profile.profile.root), SUPERVISOR, SUPERVISOR_PASSWORD
    )
    assert result == "OK"


def test_the_real_wheel_never_changes_a_focused_field(x_env, profile: ProfileFixture) -> None:  # type: ignore[no-untyped-def]
    result = _check(x_env, "wheel_over_focused_fields", str(profile.profile.root), SUPERVISOR, "")
    assert result == "OK"


def _xdotool(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(["xdotool", *args], env=env, capture_output=True, text=True, timeout=30)
    return done.stdout.strip()


def _wait_window(env: dict[str, str], name: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _xdotool(env, "search", "--onlyvisible", "--name", name)
        if found:
            return found.splitlines()[0]
        time.sleep(0.3)
    raise AssertionError(f"no window {name!r} appeared")


def _start(env: dict[str, str], profile: ProfileFixture) -> subprocess.Popen[str]:
    """The program on the profile, as a person starts it; its output in ``stdout``."""
    return subprocess.Popen(
        [sys.executable, "-m", "intake_app", "--data-dir", str(profile.profile.root)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _quit(env: dict[str, str], program: subprocess.Popen[str]) -> None:
    """Ctrl+Q, as a person ends the program, and wait for it to end."""
    _xdotool(env, "key", "ctrl+q")
    program.wait(60)


def _stop(program: subprocess.Popen[str]) -> None:
    """End the program if a failed check left it running."""
    if program.poll() is None:
        program.kill()
        program.wait(10)


def _sign_in_as_counsellor(env: dict[str, str]) -> str:
    """Type the counsellor's name and password into the active log-in window; return the
    main window that opens."""
    _xdotool(env, "key", "--clearmodifiers", "ctrl+a")
    _xdotool(env, "type", "--delay", "20", COUNSELLOR)
    _xdotool(env, "key", "Return")
    _xdotool(env, "type", "--delay", "20", COUNSELLOR_PASSWORD)
    _xdotool(env, "key", "Return")
    return _wait_window(env, "Köln-Mülheim", timeout=90)


def _placement(env: dict[str, str], window: str) -> tuple[int, int, int, int]:
    info = subprocess.run(
        ["xwininfo", "-id", window], env=env, capture_output=True, text=True, check=True
    ).stdout
    place = dict(
        (k.strip(), v.strip())
        for k, v in (ln.split(":", 1) for ln in info.splitlines() if ":" in ln)
    )
    return (
        int(place["Absolute upper-left X"]),
        int(place["Absolute upper-left Y"]),
        int(place["Width"]),
        int(place["Height"]),
    )


def _screenshot(env: dict[str, str], target: Path) -> Image.Image:
    keep = os.environ.get("INTAKE_TEST_SCREENSHOTS")
    if keep:  # for looking at the screens by eye
        target = Path(keep) / target.name
    subprocess.run(["import", "-window", "root", str(target)], env=env, check=True, timeout=60)
    return Image.open(target).convert("RGB")


def test_program_starts_signs_in_and_opens_an_interview(  # type: ignore[no-untyped-def]
    x_env, profile: ProfileFixture, tmp_path: Path
) -> None:
    """Typed from the outside with xdotool, as a person at the keyboard; LANG=C.UTF-8."""
    env = dict(x_env, LANG="C.UTF-8", LC_ALL="", LANGUAGE="")
    env.pop("INTAKE_LANG", None)
    env.pop("LC_ALL")
    program = _start(env, profile)
    try:
        login = _wait_window(env, "Anmeldung")
        _xdotool(env, "windowactivate", "--sync", login)
        time.sleep(1.0)
        shot = _screenshot(env, tmp_path / "login.png")
        assert len(shot.getcolors(1 << 20) or []) > 20, "the log-in screen is blank"
        main = _sign_in_as_counsellor(env)
        _xdotool(env, "windowactivate", "--sync", main)
        time.sleep(1.0)
        # the whole window, navigation buttons included, is on the 1366x768 screen
        x, y, width, height = _placement(env, main)
        assert x >= 0 and y >= 0 and x + width <= 1366 and y + height <= 768, (x, y, width, height)
        _xdotool(env, "key", "ctrl+n")
        time.sleep(2.0)
        shot = _screenshot(env, tmp_path / "interview.png")
        assert len(shot.getcolors(1 << 20) or []) > 20, "the interview screen is blank"
        for _ in range(2):  # to the person section, whose first question takes the focus
            _xdotool(env, "key", "ctrl+Next")
            time.sleep(0.5)
        _xdotool(env, "type", "--delay", "20", "Meyer")
        time.sleep(0.5)
        _screenshot(env, tmp_path / "person.png")
        time.sleep(1.0)
        _quit(env, program)
    finally:
        _stop(program)
    output = program.stdout.read() if program.stdout else ""
    assert "xcb" not in output.lower() or "could not load" not in output.lower(), output
    ws = profile.sign_in(COUNSELLOR)
    try:
        rows = ws.records.list(RecordQuery())
        answers = ws.records.get(rows[0].id).answers if rows else {}
    finally:
        ws.close()
    assert len(rows) == 1, output
    # the typed name landed in the interview's first question (the focus starts there)
    assert "Meyer" in answers.values(), answers


def test_on_a_large_screen_the_main_window_opens_in_the_middle_named_once(  # type: ignore[no-untyped-def]
    profile: ProfileFixture,
) -> None:
    """1920x1080: the window manager placed the main window where it liked (once partly
    below the screen's edge), and every title said "Intake" twice (Qt adds the program's
    name to each title)."""
    with x_session("1920x1080") as env:
        program = _start(env, profile)
        try:
            login = _wait_window(env, "Anmeldung")
            assert _xdotool(env, "getwindowname", login) == "Anmeldung — Intake"
            _xdotool(env, "windowactivate", "--sync", login)
            time.sleep(1.0)
            main = _sign_in_as_counsellor(env)
            time.sleep(1.5)  # the window manager has framed and placed it
            title = _xdotool(env, "getwindowname", main)
            assert title.endswith(" — Intake") and title.count("Intake") == 1, title
            x, y, width, height = _placement(env, main)
            assert x >= 0 and y >= 0 and x + width <= 1920 and y + height <= 1080
            assert abs(x - (1920 - width) // 2) <= 40, (x, width)
            assert abs(y - (1080 - height) // 2) <= 60, (y, height)
            _quit(env, program)
        finally:
            _stop(program)
