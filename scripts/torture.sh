#!/usr/bin/env bash
# The full torture suite (docs/reliability.md): fault injection, fuzzing and load at full
# scale — 100 kills while saving, 50 during upload and import, every byte of a batch
# flipped, 100,000 inputs per fuzz target, 50 clients x 20 batches. Sets up what it needs
# like scripts/test.sh (system packages, .venv, PostgreSQL), adds atheris where it
# installs, runs `pytest tests/torture` with INTAKE_TORTURE=full and writes the figures to
# build/torture/figures.json and build/torture/figures.md (also printed at the end).
# Extra arguments go to pytest (e.g. scripts/torture.sh -k kill). Takes about an hour on
# two cores. CI runs the same tests at the bounded scale as part of scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-system.sh
scripts/install.sh ci  # the versions of requirements/ci.txt, hashes checked
# coverage-guided fuzzing where a wheel exists; hypothesis fuzzes in any case
.venv/bin/python -m pip install -q --disable-pip-version-check atheris >/dev/null 2>&1 \
  || echo "torture: atheris does not install here; fuzzing with hypothesis only" >&2
INTAKE_TEST_PG_URL=${INTAKE_TEST_PG_URL:-$(scripts/start-postgres.sh | tail -n 1)}
export INTAKE_TEST_PG_URL
export QT_QPA_PLATFORM=offscreen
export INTAKE_TORTURE=full
mkdir -p build/torture
export INTAKE_TORTURE_FIGURES=${INTAKE_TORTURE_FIGURES:-$PWD/build/torture/figures.json}
status=0
.venv/bin/python -m pytest tests/torture -p no:cacheprovider "$@" || status=$?
echo "torture: figures written to ${INTAKE_TORTURE_FIGURES%.json}.md" >&2
exit $status
