"""Printing on behalf of a signed-in user: permission, records, PDF bytes, audit.

:class:`ReportService` is what the window and the command line call. It checks that the
user may print (``Permission.PRINT_RECORDS``) and may see each record (a counsellor only
their own), reads the records, builds the PDF in memory and writes the audit entries:

* a preview on screen is a read of the whole record (``record_read``, via "preview");
* sending it to a printer is ``record_printed``;
* saving it as a file is ``record_exported`` (written atomically; the file only takes
  its place once the audit entry is committed, so no export goes unrecorded);
* the supervisor's overview sheet (numbers only) printed or saved is ``overview_printed``.

Audit entries name the record id, the document, the profile (requested and in force),
the language and the batch, never a name, an answer or a file path (a file name may
well contain the person's name).
"""

from __future__ import annotations

import enum
import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from intake_app.atomic import atomic_write_bytes
from intake_app.core.audit import AuditAction
from intake_app.core.permissions import Permission
from intake_app.core.records import RecordStatus
from intake_app.errors import KnownError, UsageError
from intake_app.i18n import _, normalise_language
from intake_app.reports.batch import (
    CancelCheck,
    Cancelled,
    Document,
    Progress,
    RenderedPdf,
    render_documents,
)
from intake_app.reports.common import PrintContext, RecordSource
from intake_app.reports.profiles import Profile
from intake_app.storage import audit
from intake_app.storage.records import RecordQuery

if TYPE_CHECKING:
    from intake_app.app import Workspace

log = logging.getLogger("intake.reports")

#: Most records one batch may hold (about 300-500 pages); more is split by the caller.
MAX_BATCH = 1000


class Output(enum.StrEnum):
    """Where a rendered PDF went."""

    PREVIEW = "preview"
    PRINTER = "printer"
    FILE = "file"


_ACTIONS = {
    Output.PREVIEW: AuditAction.RECORD_READ,
    Output.PRINTER: AuditAction.RECORD_PRINTED,
    Output.FILE: AuditAction.RECORD_EXPORTED,
}


class ReportService:
    """Summaries and consent sheets for one signed-in user.

    Args:
        workspace: the signed-in workspace (records, forms, organisation, audit).
    """

    def __init__(self, workspace: Workspace) -> None:
        self.ws = workspace

    # -- permission and reading ----------------------------------------------------------

    def can_print(self) -> bool:
        """Whether the user's role may print at all (the UI hides the actions otherwise)."""
        return self.ws.actor.can(Permission.PRINT_RECORDS)

    def _require(self) -> None:
        self.ws.actor.require(Permission.PRINT_RECORDS)

    def source(self, record_id: str) -> RecordSource:
        """A printable snapshot of one record.

        Raises:
            PermissionDenied: the role may not print, or the record is not the user's.
            NotFound: there is no such record.
        """
        self._require()
        record = self.ws.records.get(record_id)  # checks that the user may see it
        withdrawals = tuple(
            (w.purpose, str(w.withdrawn_on)) for w in self.ws.records.withdrawals(record_id)
        )
        actor = self.ws.actor
        owner = (actor.display_name or actor.username) if record.owner_id == actor.user_id else ""
        return RecordSource(
            record_id=record.id,
            case_number=record.case_number,
            status=record.status,
            revision=record.revision,
            form=self.ws.form_for(record.form_id, record.form_version),
            answers=record.answers,
            finalised_at=record.finalised_at,
            owner_name=owner,
            withdrawals=withdrawals,
        )

    def context(self, lang: str = "de", *, now: datetime | None = None) -> PrintContext:
        """Who prints, now, in ``lang`` (``de`` or ``en``)."""
        actor = self.ws.actor
        return PrintContext(
            organisation=self.ws.organisation,
            printed_by=actor.display_name or actor.username,
            printed_at=(now or datetime.now()).astimezone(),
            lang=normalise_language(lang),
            expiry_warning_days=self.ws.expiry_warning_days,
        )

    def complete_record_ids(self) -> list[str]:
        """Ids of every finalised record the user may see (oldest change first)."""
        self._require()
        query = RecordQuery(status=RecordStatus.COMPLETE.value, sort="updated", descending=False)
        ids: list[str] = []
        offset = 0
        while True:
            page = self.ws.records.list(query, offset=offset, limit=500)
            ids.extend(summary.id for summary in page)
            if len(page) < 500:
                return ids
            offset += len(page)

    # -- building ------------------------------------------------------------------------

    def summary(
        self, record_id: str, *, lang: str = "de", profile: Profile = Profile.STANDARD
    ) -> RenderedPdf:
        """One record's summary (not yet audited: see :meth:`record_output`)."""
        return self.render([record_id], document=Document.SUMMARY, lang=lang, profile=profile)

    def consent_sheet(
        self, record_id: str, *, lang: str = "de", client_lang: str | None = None
    ) -> RenderedPdf:
        """One record's consent sheet, German beside ``client_lang`` (default: the
        language the consent was given in)."""
        return self.render(
            [record_id], document=Document.CONSENT_SHEET, lang=lang, client_lang=client_lang
        )

    def render(
        self,
        record_ids: Sequence[str],
        *,
        document: Document = Document.SUMMARY,
        lang: str = "de",
        profile: Profile = Profile.STANDARD,
        client_lang: str | None = None,
        progress: Progress | None = None,
        cancelled: CancelCheck | None = None,
    ) -> RenderedPdf:
        """One PDF of ``record_ids`` in the given order (safe to run off the GUI thread).

        Raises:
            UsageError: no records, or more than :data:`MAX_BATCH`.
            PermissionDenied, NotFound: as :meth:`source`, before anything is built.
            Cancelled: ``cancelled()`` returned True.
        """
        self._require()
        ids = list(dict.fromkeys(record_ids))
        if not ids:
            raise UsageError(_("Es ist keine Akte zum Drucken ausgewählt."))
        if len(ids) > MAX_BATCH:
            raise UsageError(
                _("Höchstens {n} Akten können zusammen gedruckt werden.").format(n=MAX_BATCH)
            )
        ctx = self.context(lang)
        total = 3 * len(ids)
        sources: list[RecordSource] = []
        for index, record_id in enumerate(ids):
            if cancelled is not None and cancelled():
                raise Cancelled
            if progress is not None:
                progress(index, total, _("Akten werden gelesen …"))
            sources.append(self.source(record_id))
        rendered = render_documents(
            sources,
            ctx=ctx,
            document=document,
            profile=profile,
            client_lang=client_lang,
            progress=progress,
            cancelled=cancelled,
            step_offset=len(ids),
            total_steps=total,
        )
        log.info(
            "rendered %s for %d record(s), %d bytes", document.value, len(ids), len(rendered.data)
        )
        return rendered

    # -- output and audit ----------------------------------------------------------------

    def record_output(self, rendered: RenderedPdf, *, output: Output) -> None:
        """Write one audit entry per record for a preview, a print job or a saved file."""
        batch = str(uuid.uuid4()) if len(rendered.records) > 1 else None
        action = _ACTIONS[output]
        with self.ws.db.write() as session:
            for record in rendered.records:
                details: dict[str, Any] = {
                    "document": rendered.document.value,
                    "output": output.value,
                    "profile": record.profile.value,
                    "lang": rendered.lang,
                }
                if rendered.requested_profile is not record.profile:
                    details["requested_profile"] = rendered.requested_profile.value
                if batch is not None:
                    details["batch"] = batch
                    details["batch_size"] = len(rendered.records)
                audit.append(
                    session,
                    actor=self.ws.actor.username,
                    action=action,
                    subject_type="record",
                    subject_id=record.record_id,
                    details=details,
                )

    def save(self, rendered: RenderedPdf, path: Path) -> None:
        """Write the PDF to ``path`` (chosen explicitly by the user) and audit the export.

        With :func:`~intake_app.atomic.atomic_write_bytes` (a temporary file in the
        same folder, fsync, rename), the audit entry committed between writing and
        renaming: if the entry cannot be written, ``path`` is left as it was, so no
        export goes unrecorded and a failed save changes nothing.
        """
        path = Path(path)
        folder = path.parent
        if not folder.is_dir():
            raise UsageError(_("Den Ordner {folder} gibt es nicht.").format(folder=folder))
        try:
            atomic_write_bytes(
                path,
                rendered.data,
                before_replace=lambda: self.record_output(rendered, output=Output.FILE),
            )
        except OSError as exc:
            raise _write_failed(path, exc) from exc
        log.info("exported %s for %d record(s)", rendered.document.value, len(rendered.records))

    # -- the overview sheet (anonymised numbers, no record) ------------------------------

    def overview_output(self, output: Output) -> None:
        """Audit the overview sheet going to a printer (``overview_printed``)."""
        self.ws.audit(AuditAction.OVERVIEW_PRINTED, details={"output": output.value})

    def save_overview(self, data: bytes, path: Path) -> None:
        """Write the overview sheet to ``path``; audited before the file takes its place."""
        path = Path(path)
        try:
            atomic_write_bytes(path, data, before_replace=lambda: self.overview_output(Output.FILE))
        except OSError as exc:
            raise _write_failed(path, exc) from exc


def _write_failed(path: Path, exc: OSError) -> KnownError:
    return KnownError(
        _("Die Datei {path} kann nicht geschrieben werden: {reason}").format(
            path=path, reason=exc.strerror or exc
        ),
        kind="write_failed",
    )
