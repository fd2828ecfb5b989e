#!/usr/bin/env bash
# Install Intake into .venv on a fresh machine and start it.
# Without arguments it opens the demo profile (created on first start, with synthetic
# intakes and one user per role); pass --data-dir DIR for a real profile.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
.venv/bin/python -m pip install -q --disable-pip-version-check -e .
if [ $# -eq 0 ]; then
  exec .venv/bin/intake-app --demo
fi
exec .venv/bin/intake-app "$@"
