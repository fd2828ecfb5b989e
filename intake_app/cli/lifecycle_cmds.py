"""Data-protection commands: ``person export``, ``person erase``, ``retention run``."""

from __future__ import annotations

import argparse
from pathlib import Path

from intake_app.errors import UsageError
from intake_app.i18n import _
from intake_app.storage.lifecycle import ErasureReason


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    person = commands.add_parser("person", help=_("Auskunft und Löschung für eine Person"))
    sub = person.add_subparsers(dest="person_command", metavar=_("BEFEHL"), required=True)
    export = sub.add_parser(
        "export", help=_("Alles über eine Person ausgeben (Auskunft, Art. 15 DSGVO)")
    )
    export.add_argument("--record", required=True, metavar="ID")
    export.add_argument("--out", required=True, metavar="DIR")
    export.set_defaults(handler=cmd_person_export)
    erase = sub.add_parser("erase", help=_("Eine Akte löschen (Löschantrag, Art. 17 DSGVO)"))
    erase.add_argument("--record", required=True, metavar="ID")
    erase.add_argument(
        "--reason",
        default=ErasureReason.REQUEST.value,
        choices=[reason.value for reason in ErasureReason],
        help=_("Löschgrund (Standard: request)"),
    )
    erase.set_defaults(handler=cmd_person_erase)

    retention = commands.add_parser("retention", help=_("Aufbewahrungsfristen"))
    rsub = retention.add_subparsers(dest="retention_command", metavar=_("BEFEHL"), required=True)
    run = rsub.add_parser(
        "run", help=_("Übermittelte, beendete Fälle nach Ablauf der Frist löschen")
    )
    run.add_argument("--dry-run", action="store_true", help=_("nur anzeigen, nichts löschen"))
    run.set_defaults(handler=cmd_retention_run)


def cmd_person_export(ctx) -> int:  # type: ignore[no-untyped-def]
    out = Path(ctx.args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(_("--out muss ein Ordner sein: {path}").format(path=out))
    # Deferred: the access report loads reportlab, which other commands do not need.
    from intake_app.reports.access import export_person

    for path in export_person(ctx.workspace(), ctx.args.record, out):
        ctx.out(_("Geschrieben: {path}").format(path=path))
    return 0


def cmd_person_erase(ctx) -> int:  # type: ignore[no-untyped-def]
    central = ctx.workspace().lifecycle.erase(ctx.args.record, reason=ctx.args.reason)
    ctx.out(_("Die Akte wurde auf diesem Gerät gelöscht."))
    if central:
        ctx.out(
            _(
                "Die Löschanweisung geht mit der nächsten Übermittlung an die Zentrale; deren "
                "Bestätigung wird vermerkt."
            )
        )
    return 0


def cmd_retention_run(ctx) -> int:  # type: ignore[no-untyped-def]
    ws = ctx.workspace()
    if ctx.args.dry_run:
        due, kept = ws.lifecycle.due_for_purge()
        ctx.out(
            _("{n} Akte(n) fällig; {k} beendete Akte(n) warten noch auf die Übermittlung.").format(
                n=len(due), k=kept
            )
        )
        return 0
    result = ws.lifecycle.purge_due()
    ctx.out(
        _(
            "{n} Akte(n) nach Ablauf der Frist gelöscht; {k} warten noch auf die Übermittlung."
        ).format(n=result.purged, k=result.kept_undelivered)
    )
    return 0
