#!/usr/bin/env bash
# Extract the German message ids from the code, update the English catalog, compile it.
#   scripts/i18n.sh            extract + update resources/locale/en/LC_MESSAGES/intake.po
#   scripts/i18n.sh compile    build the .mo files (the desktop build does this)
set -euo pipefail
cd "$(dirname "$0")/.."
PYBABEL=.venv/bin/pybabel
LOCALE=resources/locale
if [ "${1:-}" = "compile" ]; then
  exec "$PYBABEL" -q compile -d "$LOCALE" -D intake --statistics
fi
"$PYBABEL" -q extract -F babel.cfg -k _ -k N_ -k tr -k _t -k ngettext:1,2 --no-location --sort-output \
  --project Intake --copyright-holder "Intake" -o "$LOCALE/intake.pot" intake_app
if [ -f "$LOCALE/en/LC_MESSAGES/intake.po" ]; then
  "$PYBABEL" -q update -D intake -i "$LOCALE/intake.pot" -d "$LOCALE" -l en --no-fuzzy-matching
else
  "$PYBABEL" -q init -D intake -i "$LOCALE/intake.pot" -d "$LOCALE" -l en
fi
