"""Commands for the central office connection: ``enrol`` and ``sync``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from intake_app.atomic import atomic_write_bytes
from intake_app.errors import IntakeError, UsageError
from intake_app.i18n import _


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    enrol = commands.add_parser(
        "enrol",
        help=_("Die Registrierungsdatei der Zentrale einlesen (Administration)"),
    )
    enrol.add_argument("file", nargs="?", metavar="FILE", help=_("Registrierungsdatei"))
    enrol.add_argument(
        "--fingerprint",
        help=_(
            "Fingerabdruck der Zentrale zum Abgleich (ohne ihn wird er angezeigt und nachgefragt)"
        ),
    )
    enrol.add_argument(
        "--offline",
        action="store_true",
        help=_("Nicht online registrieren, sondern eine Antwortdatei schreiben"),
    )
    enrol.add_argument(
        "--registration-out",
        metavar="FILE",
        help=_("Antwortdatei für die Zentrale (ohne Netz; zurück per USB-Stick)"),
    )
    enrol.add_argument(
        "--confirmation",
        metavar="FILE",
        help=_("Bestätigung der Zentrale zu einer Antwortdatei einlesen"),
    )
    enrol.add_argument(
        "--confirm-office",
        action="store_true",
        help=_(
            "Die Schlüssel der Zentrale erneut bestätigen (nach dem Update oder wenn sie "
            "außerhalb des Programms geändert wurden); mit --fingerprint"
        ),
    )
    enrol.add_argument(
        "--key-set",
        metavar="FILE",
        help=_(
            "Schlüsselsatz der Zentrale (keyset.json) für --confirm-office; ohne ihn wird er "
            "über das Netz geholt"
        ),
    )
    enrol.set_defaults(handler=cmd_enrol)

    sync = commands.add_parser("sync", help=_("Abgeschlossene Akten an die Zentrale übermitteln"))
    target = sync.add_mutually_exclusive_group()
    target.add_argument(
        "--server-url",
        metavar="URL",
        help=_("Adresse der Zentrale nur für diese Übermittlung (wird nicht gespeichert)"),
    )
    target.add_argument(
        "--set-server-url",
        metavar="URL",
        help=_("Gespeicherte Adresse der Zentrale ändern (Administration)"),
    )
    target.add_argument(
        "--to-dir", metavar="DIR", help=_("Übermittlungsdateien in einen Ordner schreiben")
    )
    target.add_argument(
        "--import-receipts", metavar="DIR", help=_("Quittungsdateien aus einem Ordner einlesen")
    )
    sync.add_argument("--status", action="store_true", help=_("Nur den Stand anzeigen"))
    sync.set_defaults(handler=cmd_sync)


def cmd_enrol(ctx) -> int:  # type: ignore[no-untyped-def]
    args = ctx.args
    ws = ctx.workspace()
    if args.confirmation:
        ws.sync.import_confirmation(_read(args.confirmation))
        ctx.out(_("Die Zentrale hat dieses Gerät bestätigt; es kann jetzt übermitteln."))
        return 0
    if args.confirm_office:
        if not args.fingerprint:
            raise UsageError(
                _(
                    "Bitte geben Sie mit --fingerprint den Fingerabdruck an, den die Zentrale "
                    "Ihnen mitgeteilt hat."
                )
            )
        identity = ws.sync.confirm_office(
            expected_fingerprint=args.fingerprint,
            document=_read(args.key_set) if args.key_set else None,
        )
        ctx.out(
            _(
                "Die Schlüssel der Zentrale sind bestätigt (Schlüsselsatz Nr. {serial}); "
                "das Gerät kann wieder übermitteln."
            ).format(serial=identity.key_set_serial)
        )
        return 0
    if not args.file:
        raise UsageError(_("Bitte die Registrierungsdatei der Zentrale angeben."))
    data = _read(args.file)
    shown = ws.sync.enrolment_fingerprint(data)
    ctx.out(_("Fingerabdruck der Zentrale: {fp}").format(fp=shown))
    confirmed = args.fingerprint
    if not confirmed:
        if not sys.stdin.isatty():
            raise UsageError(
                _(
                    "Bitte vergleichen Sie den Fingerabdruck mit dem, den die Zentrale Ihnen "
                    "mitgeteilt hat, und geben Sie ihn mit --fingerprint an."
                )
            )
        answer = input(_("Stimmt er mit dem überein, den die Zentrale mitgeteilt hat? [ja/nein] "))
        if answer.strip().lower() not in {"j", "ja", "y", "yes"}:
            ctx.out(_("Abgebrochen: das Gerät wurde nicht registriert."))
            return 1
        confirmed = shown
    identity = ws.sync.enrol(data, expected_fingerprint=confirmed)
    ctx.out(
        _("Gerät „{name}“ registriert (Kennung {id}).").format(
            name=identity.device_name, id=identity.device_id
        )
    )
    if args.offline or args.registration_out:
        if not args.registration_out:
            raise UsageError(
                _("Bitte mit --registration-out angeben, wohin die Antwortdatei soll.")
            )
        atomic_write_bytes(Path(args.registration_out), ws.sync.registration_file())
        ctx.out(
            _(
                "Antwortdatei geschrieben: {file}. Die Zentrale liest sie ein und gibt eine "
                "Bestätigung zurück (intake-app enrol --confirmation DATEI)."
            ).format(file=args.registration_out)
        )
        return 0
    try:
        ws.sync.register_online()
    except IntakeError as exc:  # the enrolment stays; the next sync registers
        ctx.out(
            _(
                "Online-Registrierung noch nicht möglich ({reason}). Sie wird bei der "
                "nächsten Übermittlung wiederholt."
            ).format(reason=exc)
        )
        return 0
    ctx.out(_("Bei der Zentrale online bestätigt."))
    return 0


def cmd_sync(ctx) -> int:  # type: ignore[no-untyped-def]
    args = ctx.args
    ws = ctx.workspace()
    if args.status:
        status = ws.sync.status()
        ctx.out(_status_line(status))
        return 0
    if args.to_dir:
        result = ws.sync.write_to_folder(Path(args.to_dir))
        ctx.out(
            _("{n} Übermittlungsdatei(en) in {dir} geschrieben.").format(
                n=result.batches_sent, dir=args.to_dir
            )
        )
        return 0
    if args.import_receipts:
        result = ws.sync.import_receipts(Path(args.import_receipts))
        ctx.out(
            _("Quittungen gelesen: {r} Akte(n) übermittelt, {i} Anweisung(en) bestätigt.").format(
                r=result.records_delivered, i=result.instructions_delivered
            )
        )
        for path, reason in result.invalid_receipts:
            ctx.out(_("Ungültige Quittungsdatei {file}: {reason}").format(file=path, reason=reason))
        for line in result.notice_lines():
            ctx.out(line)
        for batch_id, reason in result.rejected:
            ctx.out(
                _("Stapel {id} abgelehnt ({reason}); die Akten werden neu gesendet.").format(
                    id=batch_id, reason=reason
                )
            )
        return 0
    if args.set_server_url:
        ws.sync.set_server_url(args.set_server_url)
        ctx.out(_("Adresse der Zentrale gespeichert."))
        return 0
    server_url = args.server_url or ws.settings.get("sync.server_url") or None
    result = ws.sync.send(server_url=server_url)
    ctx.out(
        _("Übermittelt: {b} Stapel, {r} Akte(n) zugestellt, {i} Anweisung(en) bestätigt.").format(
            b=result.batches_sent, r=result.records_delivered, i=result.instructions_delivered
        )
    )
    for line in result.notice_lines():
        ctx.out(line)
    for batch_id, reason in result.rejected:
        ctx.out(
            _("Stapel {id} abgelehnt ({reason}); die Akten werden neu gesendet.").format(
                id=batch_id, reason=reason
            )
        )
    for name in result.forms_installed:
        ctx.out(_("Neue Formularversion installiert: {form}").format(form=name))
    return 0


def _status_line(status) -> str:  # type: ignore[no-untyped-def]
    if not status.enrolled:
        return _("Nicht registriert; {n} Eintrag/Einträge warten.").format(n=status.pending)
    when = status.last_success_at.strftime("%Y-%m-%d %H:%M") if status.last_success_at else "-"
    return _(
        "Gerät {name}: {p} wartend, {a} Stapel ohne Quittung, letzte erfolgreiche "
        "Übermittlung {when}."
    ).format(name=status.device_name, p=status.pending, a=status.awaiting_receipt, when=when)


def _read(name: str) -> bytes:
    try:
        return Path(name).read_bytes()
    except OSError as exc:
        raise UsageError(
            _("Die Datei {file} kann nicht gelesen werden: {reason}").format(
                file=name, reason=exc.strerror or exc
            )
        ) from None
