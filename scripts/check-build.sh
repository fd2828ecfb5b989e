#!/usr/bin/env bash
# Build the desktop program and prove that the built folder works on its own:
# dist/Intake/Intake --self-test (offscreen), run from outside the source tree with an
# empty environment for Python. Prints build time, folder size and self-test time.
# Exit 0 when the self-test passed; non-zero otherwise. Slower than the test suite
# (a few minutes); not part of every CI run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

started=$(date +%s)
scripts/build.sh
build_seconds=$(( $(date +%s) - started ))

APP="$ROOT/dist/Intake/Intake"
CLI="$ROOT/dist/Intake/intake-app"
for program in "$APP" "$CLI"; do
  if [ ! -x "$program" ]; then
    echo "check-build.sh: $program is missing" >&2
    exit 1
  fi
done

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
run_isolated() {
  # no access to the source tree or the virtualenv: only what the build contains
  (cd "$scratch" && env -i HOME="$scratch/home" PATH=/usr/bin:/bin \
    QT_QPA_PLATFORM=offscreen INTAKE_LOG_DIR="$scratch/logs" TMPDIR="$scratch" \
    LANG=C.UTF-8 INTAKE_LANG=de "$@")
}

version=$(run_isolated "$CLI" --version)
echo "check-build.sh: $version"

test_started=$(date +%s.%N)
set +e
run_isolated "$APP" --self-test | tee "$scratch/self-test.txt"
status=${PIPESTATUS[0]}
set -e
test_seconds=$(awk -v a="$test_started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')

size=$(du -sh "$ROOT/dist/Intake" | cut -f1)
files=$(find "$ROOT/dist/Intake" -type f | wc -l)
echo "check-build.sh: build ${build_seconds} s, folder ${size} (${files} files), self-test ${test_seconds} s, exit ${status}"
if [ "$status" -ne 0 ]; then
  echo "check-build.sh: the self-test of the built program FAILED" >&2
  if [ -f "$scratch/logs/intake.log" ]; then
    tail -n 40 "$scratch/logs/intake.log" >&2
  fi
  exit 1
fi
if ! grep -q "^Selbsttest bestanden" "$scratch/self-test.txt"; then
  echo "check-build.sh: the self-test did not report success" >&2
  exit 1
fi
echo "check-build.sh: OK"
