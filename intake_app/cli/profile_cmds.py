"""Commands for the profile itself: ``init``, ``users ...``, ``recover``, ``audit verify``."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from intake_app.app import Workspace
from intake_app.cli_support import add_new_password_option, table
from intake_app.core.permissions import Role
from intake_app.errors import IntakeError, UsageError
from intake_app.i18n import _, current_language
from intake_app.storage.site_grants import reset_note, supervisor_created_note
from intake_app.storage.vault_trust import withheld_message


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    init = commands.add_parser(
        "init", help=_("Ein neues Profil mit dem ersten Administrator anlegen")
    )
    init.add_argument("--admin", required=True, metavar="NAME", help=_("Name des Administrators"))
    init.add_argument("--display-name", default="", help=_("Anzeigename des Administrators"))
    init.add_argument("--site", default="", help=_("Name des Standorts"))
    init.add_argument(
        "--language", default=None, choices=("de", "en"), help=_("Sprache der Oberfläche")
    )
    init.set_defaults(handler=cmd_init)

    users = commands.add_parser("users", help=_("Benutzer verwalten (Administratoren)"))
    users_cmds = users.add_subparsers(dest="users_command", metavar=_("BEFEHL"), required=True)

    add = users_cmds.add_parser("add", help=_("Einen Benutzer anlegen"))
    add.add_argument("name", metavar="NAME")
    add.add_argument(
        "--role",
        required=True,
        help=_("Rolle: counsellor (Beratung), supervisor (Leitung) oder admin"),
    )
    add.add_argument("--display-name", default="", help=_("Anzeigename"))
    add_new_password_option(add)
    add.set_defaults(handler=cmd_users_add)

    lst = users_cmds.add_parser("list", help=_("Alle Benutzer anzeigen"))
    lst.set_defaults(handler=cmd_users_list)

    deactivate = users_cmds.add_parser("deactivate", help=_("Einen Benutzer deaktivieren"))
    deactivate.add_argument("name", metavar="NAME")
    deactivate.set_defaults(handler=cmd_users_deactivate)

    reactivate = users_cmds.add_parser(
        "reactivate", help=_("Einen deaktivierten Benutzer mit neuem Passwort aktivieren")
    )
    reactivate.add_argument("name", metavar="NAME")
    add_new_password_option(reactivate)
    reactivate.set_defaults(handler=cmd_users_reactivate)

    reset = users_cmds.add_parser(
        "reset-password", help=_("Einem Benutzer ein neues Anfangspasswort geben")
    )
    reset.add_argument("name", metavar="NAME")
    add_new_password_option(reset)
    reset.set_defaults(handler=cmd_users_reset)

    grant = users_cmds.add_parser(
        "grant-site-key",
        help=_("Einer Leitung den Zugang zu allen Akten des Standorts geben (Leitungen)"),
    )
    grant.add_argument("name", metavar="NAME")
    grant.set_defaults(handler=cmd_users_grant_site_key)

    confirm = users_cmds.add_parser(
        "confirm-reset",
        help=_(
            "Bestätigen, dass eine Person nach dem Zurücksetzen ihr Passwort selbst gewählt "
            "hat: ihre bisherigen Akten werden wieder freigegeben (Leitungen)"
        ),
    )
    confirm.add_argument("name", metavar="NAME")
    confirm.set_defaults(handler=cmd_users_confirm_reset)

    passwd = commands.add_parser("passwd", help=_("Das eigene Passwort ändern"))
    add_new_password_option(passwd)
    passwd.set_defaults(handler=cmd_passwd)

    recover = commands.add_parser(
        "recover",
        help=_("Mit dem Wiederherstellungsschlüssel ein neues Administratorpasswort setzen"),
    )
    recover.add_argument("--admin", required=True, metavar="NAME")
    recover.add_argument(
        "--recovery-key-file",
        metavar="FILE",
        help=_("Datei mit dem Wiederherstellungsschlüssel (sonst Variable INTAKE_RECOVERY_KEY)"),
    )
    recover.add_argument(
        "--grant-site-key",
        metavar="NAME",
        help=_("Dabei einer Leitung den Zugang zu allen Akten des Standorts geben"),
    )
    add_new_password_option(recover)
    recover.set_defaults(handler=cmd_recover)

    audit = commands.add_parser("audit", help=_("Audit-Protokoll"))
    audit_cmds = audit.add_subparsers(dest="audit_command", metavar=_("BEFEHL"), required=True)
    verify = audit_cmds.add_parser("verify", help=_("Die Hash-Kette des Audit-Protokolls prüfen"))
    verify.set_defaults(handler=cmd_audit_verify)


def cmd_init(ctx) -> int:  # type: ignore[no-untyped-def]

    password = ctx.password()
    recovery = ctx.profile.create(
        admin_name=ctx.args.admin,
        admin_password=password,
        display_name=ctx.args.display_name,
        site_name=ctx.args.site,
        language=ctx.args.language or current_language(),
    )
    ctx.out(_("Profil angelegt in {path}.").format(path=ctx.data_dir))
    ctx.out(_("Wiederherstellungsschlüssel (wird nur dieses eine Mal angezeigt):"))
    ctx.out(recovery)
    ctx.out(
        _(
            "Bewahren Sie ihn ausgedruckt und verschlossen auf: Ohne ihn sind die Daten bei "
            "verlorenem Passwort nicht mehr zu öffnen."
        )
    )
    return 0


def cmd_users_add(ctx) -> int:  # type: ignore[no-untyped-def]
    Role.parse(ctx.args.role)  # a wrong role fails before any password is asked
    ws = ctx.workspace()
    user = ws.accounts.add_user(
        username=ctx.args.name,
        role=ctx.args.role,
        password=ctx.new_password(),
        display_name=ctx.args.display_name,
    )
    ctx.out(
        _(
            "Benutzer „{name}“ ({role}) angelegt; das Passwort muss bei der ersten "
            "Anmeldung geändert werden."
        ).format(name=user.username, role=user.role.label)
    )
    if user.role is Role.SUPERVISOR:
        ctx.out(supervisor_created_note(user.username))
    return 0


def cmd_users_list(ctx) -> int:  # type: ignore[no-untyped-def]
    ws = ctx.workspace()
    rows = [
        (
            u.username,
            u.role.value,
            _("aktiv") if u.active else _("deaktiviert"),
            u.display_name,
            u.last_login_at.strftime("%Y-%m-%d %H:%M") if u.last_login_at else "-",
        )
        for u in ws.accounts.list_users()
    ]
    for line in table(
        (_("Name"), _("Rolle"), _("Status"), _("Anzeigename"), _("Letzte Anmeldung")), rows
    ):
        ctx.out(line)
    return 0


def cmd_users_deactivate(ctx) -> int:  # type: ignore[no-untyped-def]
    ws = ctx.workspace()
    user = ws.accounts.deactivate(username=ctx.args.name)
    ctx.out(_("Benutzer „{name}“ deaktiviert.").format(name=user.username))
    _tell_withheld(ctx, ws)
    return 0


def _tell_withheld(ctx, ws) -> None:  # type: ignore[no-untyped-def]
    """Accounts the profile re-key left out (docs/security.md, "Signed vault keys")."""
    if ws.accounts.withheld:
        ctx.err(withheld_message(ws.accounts.withheld))


def cmd_users_reactivate(ctx) -> int:  # type: ignore[no-untyped-def]
    ws = ctx.workspace()
    user = ws.accounts.reactivate(username=ctx.args.name, password=ctx.new_password())
    ctx.out(_("Benutzer „{name}“ wieder aktiviert.").format(name=user.username))
    return 0


def cmd_users_reset(ctx) -> int:  # type: ignore[no-untyped-def]
    ws = ctx.workspace()
    user = ws.accounts.reset_password(username=ctx.args.name, password=ctx.new_password())
    ctx.out(_("Neues Anfangspasswort für „{name}“ gesetzt.").format(name=user.username))
    if user.role is not Role.ADMIN and user.username != ws.actor.username:
        ctx.out(reset_note(user.username))
    _tell_withheld(ctx, ws)
    return 0


def cmd_users_confirm_reset(ctx) -> int:  # type: ignore[no-untyped-def]
    ws = ctx.workspace()
    count = ws.confirm_owner(ctx.args.name)
    ctx.out(
        _(
            "Die bisherigen Akten von „{name}“ sind wieder freigegeben ({count} Aktenspeicher)."
        ).format(name=ctx.args.name, count=count)
    )
    return 0


def cmd_users_grant_site_key(ctx) -> int:  # type: ignore[no-untyped-def]
    ctx.workspace().grant_site_key(ctx.args.name)
    ctx.out(_("„{name}“ hat jetzt Zugang zu allen Akten des Standorts.").format(name=ctx.args.name))
    return 0


def cmd_passwd(ctx) -> int:  # type: ignore[no-untyped-def]
    ws = ctx.workspace(changing_password=True)
    ws.accounts.change_own_password(old_password=ctx.password(), new_password=ctx.new_password())
    ctx.out(_("Passwort geändert."))
    return 0


def cmd_recover(ctx) -> int:  # type: ignore[no-untyped-def]
    ctx.require_profile()
    if ctx.args.recovery_key_file:
        try:
            key = Path(ctx.args.recovery_key_file).read_text("utf-8").strip()
        except OSError as exc:
            raise UsageError(
                _("Die Datei {file} kann nicht gelesen werden: {reason}").format(
                    file=ctx.args.recovery_key_file, reason=exc.strerror or exc
                )
            ) from None
    else:
        key = os.environ.get("INTAKE_RECOVERY_KEY", "")
        if not key:
            raise UsageError(
                _("Bitte geben Sie den Wiederherstellungsschlüssel mit --recovery-key-file an.")
            )
    ws = Workspace.recover(
        ctx.profile, recovery_key=key, username=ctx.args.admin, new_password=ctx.new_password()
    )
    try:
        if ctx.args.grant_site_key:
            ws.grant_site_key(ctx.args.grant_site_key)
            ctx.out(
                _("„{name}“ hat jetzt Zugang zu allen Akten des Standorts.").format(
                    name=ctx.args.grant_site_key
                )
            )
        if ws.sign_in_result.new_recovery_key:
            ctx.out(
                _(
                    "Intake hat die Verschlüsselung umgestellt. Der bisherige "
                    "Wiederherstellungsschlüssel gilt nicht mehr. Neuer "
                    "Wiederherstellungsschlüssel (bitte jetzt aufschreiben und sicher "
                    "verwahren): {key}"
                ).format(key=ws.sign_in_result.new_recovery_key)
            )
    finally:
        ws.close()
    ctx.out(_("Neues Passwort für „{name}“ gesetzt.").format(name=ctx.args.admin))
    return 0


def cmd_audit_verify(ctx) -> int:  # type: ignore[no-untyped-def]
    report = ctx.workspace().verify_audit()
    if report.ok:
        ctx.out(_("Audit-Protokoll intakt: {n} Einträge geprüft.").format(n=report.checked))
        return 0
    if report.broken_seq is None:
        raise IntakeError(
            _("Audit-Protokoll beschädigt:")
            + " "
            + " ".join(problem.message() for problem in report.problems)
        )
    reasons = {
        "hash": _("Inhalt verändert"),
        "prev_hash": _("Verkettung unterbrochen"),
        "gap": _("Eintrag fehlt"),
    }
    raise_line = _("Audit-Protokoll beschädigt: erster fehlerhafter Eintrag Nr. {seq} ({reason}).")

    raise IntakeError(
        raise_line.format(seq=report.broken_seq, reason=reasons.get(report.reason, report.reason))
    )
