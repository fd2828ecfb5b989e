"""``intake-app export-pdf``: intake summaries as one PDF file (docs/architecture.md).

``--record ID`` exports one record, ``--all-complete`` every finalised record the user
may see, one after another with page numbers per record. ``--lang en`` prints in
English; ``--with-special-categories`` includes special-category answers where the
person's separate Art. 9 consent allows it. The file is written atomically and only
after the export is in the audit log; a failed command writes nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from intake_app.errors import NotFound, UsageError
from intake_app.i18n import LANGUAGES, _
from intake_app.reports.profiles import Profile
from intake_app.reports.service import ReportService

if TYPE_CHECKING:
    from intake_app.cli import Context


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``export-pdf`` to the command line."""
    export = commands.add_parser(
        "export-pdf",
        help=_("Zusammenfassungen als PDF-Datei schreiben"),
        description=_(
            "Schreibt die Zusammenfassung einer Akte oder aller abgeschlossenen Akten in "
            "eine PDF-Datei. Besondere Kategorien (Art. 9) sind nur mit "
            "--with-special-categories und nur bei gesonderter Einwilligung enthalten."
        ),
    )
    which = export.add_mutually_exclusive_group(required=True)
    which.add_argument("--record", metavar="ID", help=_("Kennung der Akte"))
    which.add_argument(
        "--all-complete",
        action="store_true",
        help=_("alle abgeschlossenen Akten, die Sie sehen dürfen"),
    )
    export.add_argument("--out", metavar="FILE", required=True, help=_("Ziel-PDF-Datei"))
    export.add_argument(
        "--lang", choices=LANGUAGES, default="de", help=_("Sprache der Zusammenfassung")
    )
    export.add_argument(
        "--with-special-categories",
        action="store_true",
        help=_("besondere Kategorien (Gesundheit) aufnehmen, wo eingewilligt"),
    )
    export.set_defaults(handler=cmd_export_pdf)


def cmd_export_pdf(ctx: Context) -> int:
    """Build the PDF in memory, then write it and its audit entries (or nothing)."""
    args = ctx.args
    out = Path(args.out)
    if out.is_dir():
        raise UsageError(_("--out muss eine Datei sein, kein Ordner: {path}").format(path=out))
    if not out.parent.is_dir():
        raise UsageError(_("Den Ordner {folder} gibt es nicht.").format(folder=out.parent))
    service = ReportService(ctx.workspace())
    if args.all_complete:
        ids = service.complete_record_ids()
        if not ids:
            raise NotFound(_("Es gibt keine abgeschlossenen Akten, die Sie drucken dürfen."))
    else:
        ids = [args.record]
    profile = Profile.SPECIAL if args.with_special_categories else Profile.STANDARD
    rendered = service.render(ids, lang=args.lang, profile=profile)
    service.save(rendered, out)
    ctx.out(
        _("{n} Akte(n), {pages} Seiten geschrieben: {path}").format(
            n=len(rendered.records), pages=rendered.pages, path=out
        )
    )
    return 0
