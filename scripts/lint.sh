#!/usr/bin/env bash
# Lint, format check and type check of intake_app and tests (run by scripts/test.sh
# before the tests). Exit non-zero on any finding.
#   scripts/lint.sh          check only
#   scripts/lint.sh --fix    apply ruff's fixes and formatting first, then check
# Environment: PYTHON (default .venv/bin/python) with the dev extra installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
paths=(intake_app tests)
if [ "${1:-}" = "--fix" ]; then
  "$PY" -m ruff check --fix --quiet "${paths[@]}" || true
  "$PY" -m ruff format --quiet "${paths[@]}"
fi
status=0
"$PY" -m ruff check "${paths[@]}" || status=1
"$PY" -m ruff format --check --quiet "${paths[@]}" || status=1
"$PY" -m mypy "${paths[@]}" || status=1
exit "$status"
