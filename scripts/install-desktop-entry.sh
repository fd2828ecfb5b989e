#!/usr/bin/env bash
# Put Intake into the Linux application menu of the current user (freedesktop.org):
#   scripts/install-desktop-entry.sh [PROGRAM]
# PROGRAM is the program to start: dist/Intake/Intake of the desktop build, or by default
# .venv/bin/intake-app of scripts/run.sh. Writes ~/.local/share/applications/intake.desktop
# (from packaging/linux/intake.desktop, with Exec set to PROGRAM) and the icon
# ~/.local/share/icons/hicolor/scalable/apps/intake.svg. The file name "intake" is the one
# the program announces (QGuiApplication.setDesktopFileName), so the window gets this icon.
set -euo pipefail
cd "$(dirname "$0")/.."
program=$(realpath "${1:-.venv/bin/intake-app}")
[ -x "$program" ] || { echo "install-desktop-entry.sh: $program is not a program" >&2; exit 2; }
data=${XDG_DATA_HOME:-$HOME/.local/share}
mkdir -p "$data/applications" "$data/icons/hicolor/scalable/apps"
install -m 644 resources/icons/intake.svg "$data/icons/hicolor/scalable/apps/intake.svg"
sed -e "s|^Exec=.*|Exec=\"$program\"|" -e "s|^TryExec=.*|TryExec=$program|" \
  packaging/linux/intake.desktop >"$data/applications/intake.desktop"
if command -v update-desktop-database >/dev/null; then
  update-desktop-database -q "$data/applications" || true
fi
echo "install-desktop-entry.sh: $data/applications/intake.desktop starts $program"
