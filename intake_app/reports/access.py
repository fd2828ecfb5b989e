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

from reportlab.platypus import Flowable, Paragraph, Table

from intake_app.atomic import atomic_write_bytes
from intake_app.i18n import N_, translator
from intake_app.pdf import fonts
from intake_app.reports.common import PrintContext, RecordSource
from intake_app.reports.consent_sheet import MSG_ART9_SHORT
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
from intake_app.reports.summary import (
    MSG_GRANTED,
    MSG_REFUSED,
    MSG_UNDECIDED,
    MSG_WITHDRAWN,
    summary_story,
)

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
MSG_PROCESSING = N_("Angaben zur Verarbeitung (Art. 15 Abs. 1 DSGVO)")
MSG_PROCESSING_NOTE = N_(
    "Zwecke, Empfänger, Speicherdauer, Ihre Rechte und die Herkunft der Daten, auf Deutsch "
    "und auf Englisch."
)
MSG_CONTROLLER = N_("Verantwortlich")
MSG_DPO = N_("Datenschutzbeauftragte")
MSG_JOINT = N_("Gemeinsam verantwortlich")
MSG_COUNSELLING = N_("Zweck: Beratung zur Arbeitsmarktintegration")
MSG_COUNSELLING_TEXT = N_(
    "Beratung, Fallführung und Planung der nächsten Schritte mit Ihnen; dafür braucht es "
    "keine Einwilligung. Weitergegeben werden Daten nur für die folgenden Zwecke, und nur "
    "wenn Sie eingewilligt haben."
)
MSG_PURPOSE = N_("Zweck: {label}")
MSG_DATA = N_("Daten: {categories}")
MSG_RECIPIENTS = N_("Empfänger: {names}")
MSG_DECISION = N_("Ihre Entscheidung: {status}")
MSG_RETENTION = N_("Speicherdauer")
MSG_RIGHTS = N_("Ihre Rechte")
MSG_SOURCE = N_("Herkunft der Daten")
#: Headings of the organisation's texts for the access export.
ACCESS_HEADINGS = {"retention": MSG_RETENTION, "rights": MSG_RIGHTS, "data_source": MSG_SOURCE}
COLUMNS = {
    "revisions": (N_("Revision"), N_("Formularversion"), N_("abgeschlossen"), N_("Grund")),
    "consent_withdrawals": (N_("Zweck"), N_("widerrufen am"), N_("erfasst")),
    "transmissions": (N_("Art"), N_("Revision"), N_("Stand"), N_("zugestellt")),
    "audit": (N_("Nr."), N_("Zeit"), N_("durch"), N_("Aktion")),
}
#: What the codes stored in the log and the outbox mean, in words (never a raw code on
#: paper: "record_created" reads "Akte angelegt").
ACTION_LABELS = {
    "profile_created": N_("Profil angelegt"),
    "login": N_("angemeldet"),
    "login_failed": N_("Anmeldung fehlgeschlagen"),
    "login_throttled": N_("Anmeldung verzögert"),
    "logout": N_("abgemeldet"),
    "lock": N_("gesperrt"),
    "unlock": N_("entsperrt"),
    "recovery_used": N_("Wiederherstellungsschlüssel benutzt"),
    "user_created": N_("Benutzer angelegt"),
    "user_deactivated": N_("Benutzer deaktiviert"),
    "user_reactivated": N_("Benutzer wieder aktiviert"),
    "password_changed": N_("Passwort geändert"),
    "password_reset": N_("Passwort zurückgesetzt"),
    "settings_changed": N_("Einstellungen geändert"),
    "schema_upgraded": N_("Datenbank aktualisiert"),
    "record_created": N_("Akte angelegt"),
    "record_discarded": N_("Leere Aufnahme verworfen (nichts eingegeben)"),
    "record_read": N_("Akte geöffnet"),
    "record_finalised": N_("Akte abgeschlossen"),
    "record_revised": N_("Akte geändert (neue Revision)"),
    "record_closed": N_("Fall beendet"),
    "record_printed": N_("Akte gedruckt"),
    "record_exported": N_("Akte als Datei gespeichert"),
    "consent_withdrawn": N_("Widerruf einer Einwilligung erfasst"),
    "person_exported": N_("Auskunft erstellt"),
    "record_erased": N_("Akte gelöscht"),
    "record_purged": N_("Akte nach Ablauf der Frist gelöscht"),
    "device_enrolled": N_("Gerät angemeldet"),
    "sync_prepared": N_("Übermittlung an die Zentrale vorbereitet"),
    "sync_sent": N_("an die Zentrale übermittelt"),
    "sync_receipt": N_("Empfangsbestätigung der Zentrale"),
    "form_installed": N_("Formular installiert"),
    "overview_printed": N_("Übersicht gedruckt"),
    "backup_created": N_("Sicherung erstellt"),
    "backup_restored": N_("Sicherung wiederhergestellt"),
    "demo_data": N_("Beispieldaten erzeugt"),
}
KIND_LABELS = {
    "record": N_("Akte"),
    "consent_withdrawal": N_("Widerruf einer Einwilligung"),
    "erasure": N_("Löschung"),
}
STATE_LABELS = {
    "pending": N_("wartet auf Übermittlung"),
    "built": N_("zur Übermittlung vorbereitet"),
    "batched": N_("zur Übermittlung vorbereitet"),
    "sent": N_("gesendet, Bestätigung ausstehend"),
    "delivered": N_("zugestellt"),
    "imported": N_("von der Zentrale übernommen"),
    "withdrawn": N_("zurückgezogen"),
}
#: Columns whose stored codes are shown by their meaning.
LABELS = {"action": ACTION_LABELS, "kind": KIND_LABELS, "state": STATE_LABELS}
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


def _purpose(purpose_id: str, ctx: PrintContext) -> str:
    if purpose_id == "art9":
        return ctx.tr(MSG_ART9_SHORT)
    try:
        return ctx.organisation.purpose(purpose_id).label(ctx.lang)
    except KeyError:
        return purpose_id


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
            if name.endswith(("_at", "_on")) or name == "time":
                text = _moment(value, ctx)
            elif name in LABELS and value in LABELS[name]:
                text = ctx.tr(LABELS[name][value])
            elif name == "purpose" and isinstance(value, str):
                text = _purpose(value, ctx)
            else:
                text = "" if value is None else str(value)
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


def _status(part: Any, withdrawn_on: str | None, tr: Any, ctx: PrintContext) -> str:
    if not isinstance(part, dict) or not isinstance(part.get("granted"), bool):
        return tr(MSG_UNDECIDED)
    if not part["granted"]:
        return tr(MSG_REFUSED)
    when = part.get("withdrawn_on") or withdrawn_on
    if when:
        return tr(MSG_WITHDRAWN).format(date=ctx.date(str(when)))
    return tr(MSG_GRANTED)


def processing_information(
    source: RecordSource, ctx: PrintContext, styles: Styles
) -> list[Flowable]:
    """Purposes, recipients, retention, rights and source, German beside English."""
    org = ctx.organisation
    consent = source.answers.get("consent")
    decided = consent.get("purposes") if isinstance(consent, dict) else None
    decided = decided if isinstance(decided, dict) else {}
    withdrawn = dict(source.withdrawals)

    def cell(lang: str, key: str) -> list[Flowable]:
        tr = translator(lang)
        out: list[Flowable] = []

        def head(text: str) -> None:
            out.append(text_flowable(text, styles.bold, rtl_style=styles.bold_rtl))

        def body(text: str) -> None:
            out.append(text_flowable(text, styles.cell, rtl_style=styles.cell_rtl))

        if key == "controller":
            head(tr(MSG_CONTROLLER))
            body(f"{org.controller.name}, {org.controller.contact()}")
            body(
                f"{tr(MSG_DPO)}: {org.data_protection_officer.name}, "
                f"{org.data_protection_officer.contact()}"
            )
            for party in org.joint_controllers:
                body(f"{tr(MSG_JOINT)}: {party.name}, {party.contact()}")
                if party.responsibility is not None:
                    body(party.responsibility.get(lang))
        elif key == "counselling":
            head(tr(MSG_COUNSELLING))
            body(tr(MSG_COUNSELLING_TEXT))
        elif key.startswith("purpose:"):
            purpose = org.purpose(key.split(":", 1)[1])
            head(tr(MSG_PURPOSE).format(label=purpose.label(lang)))
            body(purpose.description(lang))
            categories = ", ".join(org.category_label(c, lang) for c in purpose.data_categories)
            body(tr(MSG_DATA).format(categories=categories))
            body(tr(MSG_RECIPIENTS).format(names="; ".join(r.name for r in purpose.recipients)))
            status = _status(decided.get(purpose.id), withdrawn.get(purpose.id), tr, ctx)
            body(tr(MSG_DECISION).format(status=status))
        else:
            head(tr(ACCESS_HEADINGS[key]))
            body(org.text(key, lang))
        return out

    keys = ["controller", "counselling", *(f"purpose:{pid}" for pid in org.purpose_ids)]
    keys += [key for key in ACCESS_HEADINGS if key in org.texts]
    data = [[text_flowable("Deutsch", styles.label), text_flowable("English", styles.label)]]
    data += [[cell("de", key), cell("en", key)] for key in keys]
    table = Table(data, colWidths=[CONTENT_WIDTH / 2] * 2, repeatRows=1, hAlign="LEFT")
    table.setStyle(
        table_style(
            [
                ("BACKGROUND", (0, 0), (-1, 0), SHADE),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.35, BORDER),
                ("LINEAFTER", (0, 0), (0, -1), 0.35, BORDER),
                ("TOPPADDING", (0, 0), (-1, -1), 2.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return [
        Paragraph(fonts.markup(ctx.tr(MSG_PROCESSING)), styles.heading),
        Paragraph(fonts.markup(ctx.tr(MSG_PROCESSING_NOTE)), styles.note),
        table,
    ]


def access_pdf(ws: Workspace, document: dict[str, Any], *, lang: str = "de") -> bytes:
    """The access export ``document`` (from ``Lifecycle.person_export``) as a PDF."""
    record = document["record"]
    actor = ws.actor
    ctx = PrintContext(
        organisation=ws.organisation,
        printed_by=actor.display_name or actor.username,
        printed_at=datetime.now().astimezone(),
        lang=lang,
        # the one warning period of the settings, as on every other printout
        expiry_warning_days=ws.expiry_warning_days,
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
    story.extend(processing_information(source, ctx, styles))
    for key, heading in (
        ("revisions", MSG_REVISIONS),
        ("consent_withdrawals", MSG_WITHDRAWALS),
        ("transmissions", MSG_TRANSMISSIONS),
        ("audit", MSG_LOG),
    ):
        story.append(Paragraph(fonts.markup(ctx.tr(heading)), styles.heading))
        story.extend(_table(key, list(document.get(key) or []), ctx, styles))
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
