"""A real X display for tests: Xvfb with the openbox window manager, started by the test.

``INTAKE_TEST_DISPLAY`` (e.g. ``:34``) picks the display number; without it Xvfb chooses
a free one. The program under test runs in a child process on the ``xcb`` platform, as it
runs on a counsellor's desktop; the child's Qt finds its X libraries or the test fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def x_session(size: str = "1366x768", tmp: Path | None = None) -> Iterator[dict[str, str]]:
    """Start Xvfb (and openbox on it); yield the environment for programs on that display."""
    for tool in ("Xvfb", "openbox"):
        assert shutil.which(tool), f"{tool} is missing: run scripts/setup-system.sh as root"
    wanted = os.environ.get("INTAKE_TEST_DISPLAY", "")
    read, write = os.pipe()
    args = ["Xvfb", "-screen", "0", f"{size}x24", "-nolisten", "tcp", "-noreset"]
    if wanted:
        args.insert(1, wanted)
    else:
        args += ["-displayfd", str(write)]
    server = subprocess.Popen(
        args, pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    os.close(write)
    try:
        if wanted:
            display = wanted
            os.close(read)
        else:
            with os.fdopen(read) as pipe:
                display = ":" + pipe.readline().strip()
        env = dict(os.environ)
        env.update(DISPLAY=display, QT_QPA_PLATFORM="xcb", XDG_SESSION_TYPE="x11")
        env.pop("WAYLAND_DISPLAY", None)
        _wait_for(lambda: _x_ready(env), "the X server")
        wm = subprocess.Popen(
            ["openbox", "--sm-disable"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(0.5)
            yield env
        finally:
            wm.terminate()
            wm.wait(10)
    finally:
        server.terminate()
        server.wait(10)


def _x_ready(env: dict[str, str]) -> bool:
    probe = shutil.which("xdpyinfo")
    if probe is None:
        time.sleep(1.0)
        return True
    return subprocess.run([probe], env=env, capture_output=True).returncode == 0


def _wait_for(check, what: str, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not come up within {timeout:.0f} s")
