#!/usr/bin/env bash
# Install the Debian packages the tests and the program need, when running as root on a
# Debian-like system and something is missing. Elsewhere it only reports what is missing.
set -euo pipefail

PACKAGES=(
  postgresql            # the central office's state-wide database engine (tests import into it)
  poppler-utils         # pdftotext / pdftoppm: checking and looking at generated PDFs
  fonts-noto-core       # open-licence fonts (Latin, Cyrillic, Arabic script) for the interface
  libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3 libglib2.0-0  # Qt offscreen
  # Qt's xcb platform plugin (what `ldd libQt6XcbQpa.so.6` needs beyond the above)
  libx11-xcb1 libxcb1 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1
  libxcb-randr0 libxcb-render0 libxcb-render-util0 libxcb-shape0 libxcb-shm0 libxcb-sync1
  libxcb-util1 libxcb-xfixes0 libxcb-xkb1 libxkbcommon-x11-0
  # the real-display tests: an X server, a window manager, typing and screenshots
  xvfb x11-utils openbox xdotool imagemagick
  libreoffice-calc-nogui  # soffice --headless: the CSV export opened as a spreadsheet stays text
  # the screen-reader test: the accessibility bus and Python's AT-SPI client, in a D-Bus session
  at-spi2-core python3-pyatspi dbus
  # printing: the program hands its PDFs to CUPS (lp); the print test prints to a cups-pdf queue
  cups cups-client cups-bsd printer-driver-cups-pdf
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-system: missing Debian packages: ${missing[*]} (install them as root)" >&2
  exit 0
fi
echo "setup-system: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
