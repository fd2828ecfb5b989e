"""Commands about records: ``demo-data``, ``records list``."""

from __future__ import annotations

import argparse

from intake_app.cli_support import table
from intake_app.core.audit import AuditAction
from intake_app.core.records import display_name
from intake_app.demo.data import add_synthetic_intakes
from intake_app.errors import UsageError
from intake_app.i18n import _
from intake_app.storage.records import RecordQuery

STATUSES = ("draft", "complete", "closed", "delivered")


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    demo = commands.add_parser(
        "demo-data",
        help=_("Erfundene, realistische Aufnahmen anlegen (Entwürfe und abgeschlossene)"),
    )
    demo.add_argument("--count", type=int, required=True, metavar="N")
    demo.add_argument("--seed", type=int, default=2026, help=_("Startwert des Zufalls"))
    demo.set_defaults(handler=cmd_demo_data)

    records = commands.add_parser("records", help=_("Akten"))
    sub = records.add_subparsers(dest="records_command", metavar=_("BEFEHL"), required=True)
    lst = sub.add_parser("list", help=_("Akten anzeigen: Kennung, Status, Revision, Name"))
    lst.add_argument("--status", choices=STATUSES, help=_("nur Akten mit diesem Status"))
    lst.add_argument("--search", default="", help=_("Suche nach Name, Aktenzeichen, Datum"))
    lst.set_defaults(handler=cmd_records_list)
    move = sub.add_parser(
        "move", help=_("Eine Akte einer anderen Beraterin oder einem anderen Berater geben")
    )
    move.add_argument("--record", required=True, metavar=_("KENNUNG"))
    move.add_argument("--to", required=True, metavar="NAME", help=_("Benutzername"))
    move.set_defaults(handler=cmd_records_move)
    handover = sub.add_parser(
        "handover",
        help=_("Eine Akte über die Zentrale an einen anderen Standort übergeben"),
    )
    handover.add_argument("--record", required=True, metavar=_("KENNUNG"))
    handover.add_argument(
        "--to",
        required=True,
        metavar=_("EMPFANGSSTELLE"),
        help=_("Kennung aus der Organisationsdatei"),
    )
    handover.set_defaults(handler=cmd_records_handover)


def cmd_demo_data(ctx) -> int:  # type: ignore[no-untyped-def]

    count = ctx.args.count
    if not 1 <= count <= 200_000:
        raise UsageError(_("--count muss zwischen 1 und 200000 liegen."))
    ws = ctx.workspace()
    add_synthetic_intakes(ws, count=count, seed=ctx.args.seed)
    ws.audit(AuditAction.DEMO_DATA, details={"count": count})
    ctx.out(_("{n} erfundene Aufnahmen angelegt.").format(n=count))
    return 0


def cmd_records_list(ctx) -> int:  # type: ignore[no-untyped-def]
    ws = ctx.workspace()
    query = RecordQuery(status=ctx.args.status, search=ctx.args.search, sort="updated")
    total = ws.records.count(query)
    rows: list[tuple[str, str, int, str]] = []
    offset = 0
    while offset < total:
        page = ws.records.list(query, offset=offset, limit=1000)
        if not page:
            break
        rows.extend(
            (
                s.id,
                s.status.value if s.sync_state.value != "delivered" else "delivered",
                s.revision,
                display_name(s),
            )
            for s in page
        )
        offset += len(page)
    for line in table((_("Kennung"), _("Status"), _("Revision"), _("Name")), rows):
        ctx.out(line)
    return 0


def cmd_records_move(ctx) -> int:  # type: ignore[no-untyped-def]
    name = ctx.workspace().move_case_to(ctx.args.record, ctx.args.to)
    ctx.out(_("Akte {id} an „{name}“ übergeben.").format(id=ctx.args.record, name=name))
    return 0


def cmd_records_handover(ctx) -> int:  # type: ignore[no-untyped-def]
    handover_id = ctx.workspace().records.request_handover(ctx.args.record, recipient=ctx.args.to)
    ctx.out(
        _(
            "Übergabe {handover} der Akte {id} an „{to}“ angefragt; sie geht mit der nächsten "
            "Übermittlung an die Zentrale."
        ).format(handover=handover_id, id=ctx.args.record, to=ctx.args.to)
    )
    return 0
