"""Commands for backups: ``backup create``, ``backup list``, ``backup restore NAME``."""

from __future__ import annotations

import argparse

from intake_app.cli_support import table
from intake_app.errors import NotFound
from intake_app.i18n import _
from intake_app.storage.backup import (
    BackupReason,
    create_backup,
    find_backup,
    latest_backup,
    list_backups,
    restore_backup,
    unlock_for_restore,
)


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    backup = commands.add_parser("backup", help=_("Verschlüsselte Sicherungen des Profils"))
    sub = backup.add_subparsers(dest="backup_command", metavar=_("BEFEHL"), required=True)

    create = sub.add_parser("create", help=_("Jetzt eine Sicherung anlegen (Administration)"))
    create.set_defaults(handler=cmd_backup_create)

    lst = sub.add_parser("list", help=_("Alle Sicherungen anzeigen, die neueste zuerst"))
    lst.set_defaults(handler=cmd_backup_list)

    restore = sub.add_parser(
        "restore",
        help=_(
            "Eine Sicherung wiederherstellen (Administration); der bisherige Stand wird "
            "vorher selbst gesichert"
        ),
    )
    restore.add_argument(
        "name", metavar="NAME", help=_("Name der Sicherung aus »backup list«, oder »latest«")
    )
    restore.set_defaults(handler=cmd_backup_restore)


def cmd_backup_create(ctx) -> int:  # type: ignore[no-untyped-def]

    info = create_backup(ctx.workspace(), reason=BackupReason.MANUAL)
    ctx.out(_("Sicherung „{name}“ angelegt in {path}.").format(name=info.name, path=info.path))
    return 0


def cmd_backup_list(ctx) -> int:  # type: ignore[no-untyped-def]

    ctx.require_profile()
    backups = list_backups(ctx.profile)
    if not backups:
        ctx.out(_("Es gibt noch keine Sicherung."))
        return 0
    rows = [
        (
            info.name,
            info.created.astimezone().strftime("%Y-%m-%d %H:%M"),
            info.reason.label,
            f"{info.size / (1024 * 1024):.1f}",
            info.schema or "-",
        )
        for info in backups
    ]
    header = (_("Name"), _("Angelegt"), _("Art"), _("Größe (MB)"), _("Schema"))
    for line in table(header, rows):
        ctx.out(line)
    return 0


def cmd_backup_restore(ctx) -> int:  # type: ignore[no-untyped-def]

    if ctx.args.name == "latest":
        info = latest_backup(ctx.profile)
        if info is None:
            raise NotFound(_("Es gibt keine Sicherung, die wiederhergestellt werden könnte."))
    else:
        info = find_backup(ctx.profile, ctx.args.name)
    username = ctx.username()
    key = unlock_for_restore(ctx.profile, info, username=username, password=ctx.password())
    result = restore_backup(ctx.profile, info, key=key, username=username)
    ctx.out(
        _("Sicherung „{name}“ ({label}) wiederhergestellt.").format(
            name=info.name, label=info.label()
        )
    )
    ctx.out(
        _("Der bisherige Stand ist aufbewahrt als Sicherung „{name}“.").format(
            name=result.safety_copy.name
        )
    )
    ctx.out(
        _(
            "Anmelden können sich jetzt alle mit den Passwörtern, die zum Zeitpunkt der "
            "Sicherung galten; auch der damalige Wiederherstellungsschlüssel gilt wieder."
        )
    )
    return 0
