#!/usr/bin/env bash
# Install Intake into .venv on a fresh machine and start it.
# Without arguments it opens the demo profile (created on first start, with synthetic
# intakes and one user per role); pass --data-dir DIR for a real profile.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install.sh desktop  # the versions of requirements/desktop.txt, hashes checked
if [ $# -eq 0 ]; then
  exec .venv/bin/intake-app --demo
fi
exec .venv/bin/intake-app "$@"
