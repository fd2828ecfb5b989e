#!/usr/bin/env bash
# Install Intake into .venv from a hashed lock file (see docs/build.md):
#   scripts/install.sh desktop    the program alone (scripts/run.sh)
#   scripts/install.sh build      the program and PyInstaller (scripts/build.sh)
#   scripts/install.sh ci         everything: office, tests, lint (scripts/test.sh)
# Every package comes at the version and with the hash the lock file names; pip refuses
# anything else. Intake itself is installed from the checkout, in place (-e).
# Environment: PYTHON (default .venv/bin/python; created with python3 -m venv if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
lock=requirements/${1:?usage: scripts/install.sh desktop|build|ci}.txt
[ -f "$lock" ] || { echo "install.sh: $lock not found" >&2; exit 2; }
PY=${PYTHON:-.venv/bin/python}
if [ ! -x "$PY" ]; then
  python3 -m venv "$(dirname "$(dirname "$PY")")"
fi
pip=("$PY" -m pip install -q --disable-pip-version-check)
"${pip[@]}" --require-hashes -r "$lock"
# The build backend (setuptools, wheel) is in the lock: no unpinned download here. Its
# chatter about editable installs is shown only when the install fails.
if ! out=$("${pip[@]}" --no-deps --no-build-isolation -e . 2>&1); then
  echo "$out" >&2
  exit 1
fi
# compileall writes the bytecode even with PYTHONDONTWRITEBYTECODE set; __pycache__ is in
# .gitignore. Python checks each file's time stamp, so an edited module is compiled afresh.
"$PY" -m compileall -q intake_app resources forms
