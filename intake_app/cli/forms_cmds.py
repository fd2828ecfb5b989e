"""``intake-app forms check FILE...``: validate interview definitions before anyone uses them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from intake_app.core.forms import check_files
from intake_app.i18n import _


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    forms = commands.add_parser("forms", help=_("Formulardateien"))
    sub = forms.add_subparsers(dest="forms_command", metavar=_("BEFEHL"), required=True)
    check = sub.add_parser(
        "check", help=_("Formulardateien prüfen: 0 wenn gültig, sonst 2 und DATEI:ZEILE: Meldung")
    )
    check.add_argument("files", nargs="+", metavar="FILE")
    check.set_defaults(handler=cmd_forms_check)


def cmd_forms_check(ctx) -> int:  # type: ignore[no-untyped-def]
    problems = check_files([Path(name) for name in ctx.args.files])
    for line in problems:
        print(line, file=sys.stderr)
    if problems:
        return 2
    ctx.out(_("{n} Datei(en) gültig.").format(n=len(ctx.args.files)))
    return 0
