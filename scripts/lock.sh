#!/usr/bin/env bash
# Write the hashed lock files in requirements/ from pyproject.toml (see docs/build.md).
#   scripts/lock.sh              keep every pinned version that still fits pyproject.toml
#   scripts/lock.sh --upgrade    move every pin to the newest release pyproject.toml admits
#   scripts/lock.sh -P NAME      move one package (e.g. -P cryptography for a security fix)
# requirements/ci.txt (every extra: tests, lint, office, build) is resolved first; the
# desktop and build locks start from its pins, so all three hold the same versions.
# Needs pip-tools (the dev extra). The lock is resolved for CPython 3.11 on Linux.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}

compile() {
  local output=$1
  shift
  # "intake" itself comes in through the extras that name it (intake[central]); it is
  # installed from the checkout, not from the lock.
  "$PY" -m piptools compile -q --generate-hashes --strip-extras --all-build-deps \
    --no-emit-find-links --no-emit-index-url --unsafe-package intake \
    --output-file "$output" "$@" pyproject.toml
}

compile requirements/ci.txt --all-extras "$@"
for lock in desktop build; do
  cp requirements/ci.txt "requirements/$lock.txt"
done
compile requirements/desktop.txt
compile requirements/build.txt --extra build
