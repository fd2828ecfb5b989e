#!/usr/bin/env bash
# Build the one-folder desktop program into dist/Intake/ (see docs/build.md).
#   scripts/build.sh        compile the translations, then PyInstaller with build.spec
# Environment: PYTHON (default .venv/bin/python) is the Python whose packages go into
# the build; install Intake into it first (pip install -e .).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-.venv/bin/python}
if [ ! -x "$PY" ]; then
  echo "build.sh: $PY not found; create it with: python3 -m venv .venv && .venv/bin/pip install -e ." >&2
  exit 2
fi
if ! "$PY" -c 'import intake_app' 2>/dev/null; then
  echo "build.sh: Intake is not installed in $PY; run: $PY -m pip install -e ." >&2
  exit 2
fi
if ! "$PY" -m PyInstaller --version >/dev/null 2>&1; then
  echo "build.sh: installing PyInstaller into $PY"
  "$PY" -m pip install -q --disable-pip-version-check 'pyinstaller>=6.10,<7'
fi

scripts/i18n.sh compile
rm -rf dist/Intake
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath dist --workpath build/pyinstaller build.spec
echo "build.sh: built dist/Intake ($(du -sh dist/Intake | cut -f1))"
