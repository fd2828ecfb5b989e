#!/usr/bin/env bash
# Build the one-folder desktop program into dist/Intake/ (see docs/build.md).
#   scripts/build.sh        compile the translations, then PyInstaller with build.spec
# Environment: PYTHON (default .venv/bin/python) is the Python whose packages go into
# the build; scripts/install.sh build installs them there from the lock file first.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-.venv/bin/python}
# the program and PyInstaller at the versions of requirements/build.txt, hashes checked
PYTHON=$PY scripts/install.sh build

scripts/i18n.sh compile
rm -rf dist/Intake
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath dist --workpath build/pyinstaller build.spec
echo "build.sh: built dist/Intake ($(du -sh dist/Intake | cut -f1))"
