#!/usr/bin/env bash
# Everything needed to run the whole test suite on a fresh machine, then lint, type check
# and the suite itself. Extra arguments go to pytest (e.g. scripts/test.sh tests/unit -x).
# INTAKE_SKIP_LINT=1 leaves out scripts/lint.sh (ruff, mypy) for a quick local run.
# The suite runs in one worker process per core (pytest-xdist), each test file in one
# worker; INTAKE_TEST_WORKERS sets their number (0: everything in this process).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-system.sh
scripts/install.sh ci
if [ "${INTAKE_SKIP_LINT:-0}" != 1 ]; then
  scripts/lint.sh
fi
INTAKE_TEST_PG_URL=${INTAKE_TEST_PG_URL:-$(scripts/start-postgres.sh | tail -n 1)}
export INTAKE_TEST_PG_URL
export QT_QPA_PLATFORM=offscreen
exec .venv/bin/python -m pytest -n "${INTAKE_TEST_WORKERS:-auto}" --dist loadfile "$@"
