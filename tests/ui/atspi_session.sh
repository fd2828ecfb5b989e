#!/usr/bin/env bash
# Inside a D-Bus session (dbus-run-session): the accessibility bus, the program's windows
# (tests/ui/atspi_app.py), then the AT-SPI walk of them; prints the walk's JSON report.
# Arguments: PYTHON PROFILE_DIR USER PASSWORD WRONG_PASSWORD (the log-in, case list and
# interview: tests/ui/atspi_app.py), or PYTHON --dialogs PROFILE_DIR USER PASSWORD (the
# record view and the dialogs of a case: tests/ui/dialogs_app.py)
set -euo pipefail
py=$1; shift
module=tests.ui.atspi_app
if [ "${1:-}" = "--dialogs" ]; then module=tests.ui.dialogs_app; shift; fi
launcher=""
for candidate in /usr/libexec/at-spi-bus-launcher /usr/lib/at-spi2-core/at-spi-bus-launcher; do
  [ -x "$candidate" ] && launcher=$candidate && break
done
[ -n "$launcher" ] || { echo "at-spi-bus-launcher is missing (at-spi2-core)" >&2; exit 1; }
"$launcher" --launch-immediately >/dev/null 2>&1 &
bus=$!
sleep 1
out=$(mktemp)
QT_LINUX_ACCESSIBILITY_ALWAYS_ON=1 QT_ACCESSIBILITY=1 "$py" -m "$module" "$@" >"$out" 2>&1 &
app=$!
for _ in $(seq 1 240); do
  grep -q '^READY' "$out" && break
  kill -0 "$app" 2>/dev/null || break
  sleep 0.25
done
if ! grep -q '^READY' "$out"; then
  echo "the program did not come up:" >&2
  cat "$out" >&2
  kill "$app" "$bus" 2>/dev/null || true
  exit 1
fi
sleep 1
status=0
/usr/bin/python3 "$(dirname "$0")/atspi_walk.py" "$app" || status=$?
grep '^READY' "$out" >&2
kill "$app" 2>/dev/null || true
wait "$app" 2>/dev/null || true
kill "$bus" 2>/dev/null || true
rm -f "$out"
exit "$status"
