#!/usr/bin/env bash
# Install Intake into .venv on a fresh machine and start it.
# Without arguments it opens the demo profile (created on first start, with synthetic
# intakes and one user per role); pass --data-dir DIR for a real profile.
# The install runs only when .venv is new or the lock file or pyproject.toml changed, so
# the program starts without a network once installed. On Linux with X, it says which
# system libraries Qt's xcb plugin lacks (and the Debian packages that bring them)
# instead of failing inside Qt.
set -euo pipefail
cd "$(dirname "$0")/.."

stamp=.venv/.intake-installed
if [ ! -x .venv/bin/intake-app ] || [ ! -f "$stamp" ] \
  || [ requirements/desktop.txt -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  scripts/install.sh desktop  # the versions of requirements/desktop.txt, hashes checked
  touch "$stamp"
fi

if [ "$(uname -s)" = Linux ] && [ -n "${DISPLAY:-}" ] \
  && [ "${QT_QPA_PLATFORM:-xcb}" = xcb ] && command -v ldd >/dev/null 2>&1; then
  qt=$(.venv/bin/python -c 'import os, PySide6; print(os.path.dirname(PySide6.__file__))')
  missing=$(ldd "$qt/Qt/plugins/platforms/libqxcb.so" "$qt/Qt/lib/libQt6XcbQpa.so.6" \
    2>/dev/null | awk '/not found/ {print $1}' | sort -u)
  if [ -n "$missing" ]; then
    echo "Intake cannot open a window: these system libraries are missing:" >&2
    printf '  %s\n' $missing >&2
    # library file -> Debian package, for the message
    packages=$(printf '%s\n' $missing | sed -E \
      -e 's/^libxcb-([a-z-]+)\.so\.([0-9]+)$/libxcb-\1\2/' \
      -e 's/^libxcb\.so\.1$/libxcb1/' \
      -e 's/^libxkbcommon-x11\.so\.0$/libxkbcommon-x11-0/' \
      -e 's/^libxkbcommon\.so\.0$/libxkbcommon0/' \
      -e 's/^libX11-xcb\.so\.1$/libx11-xcb1/' \
      -e 's/^libEGL\.so\.1$/libegl1/' -e 's/^libGL\.so\.1$/libgl1/' \
      -e 's/^libfontconfig\.so\.1$/libfontconfig1/' -e 's/^libdbus-1\.so\.3$/libdbus-1-3/' \
      | sort -u | tr '\n' ' ')
    echo "On Debian or Ubuntu: sudo apt-get install $packages" >&2
    echo "(scripts/setup-system.sh installs them all when run as root)" >&2
    exit 1
  fi
fi

if [ $# -eq 0 ]; then
  exec .venv/bin/intake-app --demo
fi
exec .venv/bin/intake-app "$@"
