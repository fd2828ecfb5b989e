"""The readable half of an access request (Art. 15 GDPR): everything held about a person.

``intake-app person export`` and the record view write the complete data as JSON (see
``storage/lifecycle.py``) and this PDF beside it: every answer of the current revision as
in the summary, but nothing left out (special categories and internal notes included,
since the person has a right to all of it), then the finalised revisions, consent
withdrawals, transmissions to the central office and the log of who opened, printed or
sent the record. The export itself is audited by the caller.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reportlab.platypus import Flowable, Paragraph, Spacer, Table

from intake_app.atomic import atomic_write_bytes
from intake_app.i18n import N_
from intake_app.reports import fonts
from intake_app.reports.common import PrintContext, RecordSource
from intake_app.reports.flowables import text_flowable
from intake_app.reports.layout import (
    BORDER,
    CONTENT_WIDTH,
    SHADE,
    Styles,
    make_styles,
    render,
    table_style,
)
from intake_app.reports.profiles import EVERYTHING, Profile
from intake_app.reports.summary import summary_story

if TYPE_CHECKING:
    from intake_app.app import Workspace

MSG_ACCESS_TITLE = N_("Auskunft nach Art. 15 DSGVO")
MSG_ACCESS_PROFILE = N_("Auskunft: alle gespeicherten Angaben")
MSG_ACCESS_NOTE = N_(
    "Diese Auskunft enthält alle zu Ihrer Person gespeicherten Angaben in lesbarer Form; "
    "die beiliegende JSON-Datei enthält dieselben Daten maschinenlesbar."
)
MSG_REVISIONS = N_("Abgeschlossene Revisionen")
MSG_WITHDRAWALS = N_("Widerrufene Einwilligungen")
MSG_TRANSMISSIONS = N_("Übermittlungen an die Zentrale")
MSG_LOG = N_("Protokoll: wer die Akte geöffnet, gedruckt oder übermittelt hat")
MSG_NONE = N_("keine")
COLUMNS = {
    "revisions": (N_("Revision"), N_("Formularversion"), N_("abgeschlossen"), N_("Grund")),
    "consent_withdrawals": (N_("Zweck"), N_("widerrufen am"), N_("erfasst")),
    "transmissions": (N_("Art"), N_("Revision"), N_("Stand"), N_("zugestellt")),
    "audit": (N_("Nr."), N_("Zeit"), N_("durch"), N_("Aktion")),
}
KEYS = {
    "revisions": ("revision", "form_version", "finalised_at", "reason"),
    "consent_withdrawals": ("purpose", "withdrawn_on", "recorded_at"),
    "transmissions": ("kind", "revision", "state", "delivered_at"),
    "audit": ("seq", "time", "by", "action"),
}


def _moment(value: Any, ctx: PrintContext) -> str:
    """An ISO time or date from the export as the printout shows dates."""
    if not isinstance(value, str) or not value:
        return "" if value is None else str(value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if len(value) <= 10:
        return ctx.date(value)
    return f"{ctx.date(moment.astimezone().date().isoformat())} {moment.astimezone():%H:%M}"


def _table(
    key: str, rows: list[dict[str, Any]], ctx: PrintContext, styles: Styles
) -> list[Flowable]:
    if not rows:
        return [Paragraph(fonts.markup(ctx.tr(MSG_NONE)), styles.note)]
    header = [text_flowable(ctx.tr(label), styles.label) for label in COLUMNS[key]]
    data: list[list[Flowable]] = [header]
    for row in rows:
        cells = []
        for name in KEYS[key]:
            value = row.get(name)
            text = (
                _moment(value, ctx)
                if name.endswith(("_at", "_on")) or name == "time"
                else ("" if value is None else str(value))
            )
            cells.append(text_flowable(text, styles.cell, rtl_style=styles.cell_rtl))
        data.append(cells)
    width = CONTENT_WIDTH / len(COLUMNS[key])
    table = Table(data, colWidths=[width] * len(COLUMNS[key]), repeatRows=1, hAlign="LEFT")
    table.setStyle(
        table_style(
            [
                ("BACKGROUND", (0, 0), (-1, 0), SHADE),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.35, BORDER),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
            ]
        )
    )
    return [table]


def access_pdf(ws: Workspace, document: dict[str, Any], *, lang: str = "de") -> bytes:
    """The access export ``document`` (from ``Lifecycle.person_export``) as a PDF."""
    record = document["record"]
    actor = ws.actor
    ctx = PrintContext(
        organisation=ws.organisation,
        printed_by=actor.display_name or actor.username,
        printed_at=datetime.now().astimezone(),
        lang=lang,
    )
    finalised = record.get("finalised_at")
    source = RecordSource(
        record_id=record["id"],
        case_number=record["case_number"],
        status=record["status"],
        revision=int(record["revision"]),
        form=ws.form_for(record["form_id"], record["form_version"]),
        answers=record.get("answers") or {},
        finalised_at=datetime.fromisoformat(finalised.replace("Z", "+00:00"))
        if finalised
        else None,
        owner_name=record.get("counsellor") or "",
        withdrawals=tuple(
            (w["purpose"], str(w["withdrawn_on"])) for w in document.get("consent_withdrawals", [])
        ),
    )
    styles = make_styles()
    story = summary_story(
        source,
        ctx=ctx,
        profile=Profile.SPECIAL,
        styles=styles,
        redaction=EVERYTHING,
        title=ctx.tr(MSG_ACCESS_TITLE),
        profile_text=ctx.tr(MSG_ACCESS_PROFILE),
    )
    story.insert(1, Paragraph(fonts.markup(ctx.tr(MSG_ACCESS_NOTE)), styles.note))
    for key, heading in (
        ("revisions", MSG_REVISIONS),
        ("consent_withdrawals", MSG_WITHDRAWALS),
        ("transmissions", MSG_TRANSMISSIONS),
        ("audit", MSG_LOG),
    ):
        story.append(Paragraph(fonts.markup(ctx.tr(heading)), styles.heading))
        story.extend(_table(key, list(document.get(key) or []), ctx, styles))
    story.append(Spacer(1, 4))
    data, _pages = render(
        story,
        title=f"{ctx.tr(MSG_ACCESS_TITLE)} {source.case_number}",
        author=ws.organisation.name(lang),
        lang=lang,
    )
    return data


def export_person(ws: Workspace, record_id: str, folder: Path) -> list[Path]:
    """Write the access export into ``folder``: the JSON document and this PDF.

    Shared by the record view and ``intake-app person export``.
    """
    document = ws.lifecycle.person_export(record_id)
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"auskunft-{document['record']['case_number']}"
    written = [folder / f"{stem}.json"]
    atomic_write_bytes(
        written[0], json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")
    )
    pdf = folder / f"{stem}.pdf"
    atomic_write_bytes(pdf, access_pdf(ws, document))
    written.append(pdf)
    return written
