#!/usr/bin/env bash
# Everything needed to run the whole test suite on a fresh machine, then the suite itself.
# Extra arguments go to pytest (e.g. scripts/test.sh tests/unit -x).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-system.sh
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
INTAKE_TEST_PG_URL=${INTAKE_TEST_PG_URL:-$(scripts/start-postgres.sh | tail -n 1)}
export INTAKE_TEST_PG_URL
export QT_QPA_PLATFORM=offscreen
exec .venv/bin/python -m pytest "$@"
