"""The intake summary a supervisor reviews and files (reportlab Platypus).

Layout: the title and the record's state; an overview of what needs attention (name,
date of birth, residence permit with its expiry highlighted, work permission, open
referrals, next appointment); the consent status (scope, date, language, withdrawals,
authorised recipients); then every section of the interview in form order with only
the answered questions, repeat groups as tables and hindering circumstances as ticked
flags. Special-category questions appear only under the profile that includes them
(see :mod:`intake_app.reports.profiles`); internal notes (``print: false``) never.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from reportlab.lib.colors import Color
from reportlab.platypus import Flowable, Spacer

from intake_app.core.display import AnswerRow, answer_rows
from intake_app.core.forms import Form, FormState, evaluate
from intake_app.core.forms.model import QuestionType
from intake_app.core.forms.reference import reference_list
from intake_app.core.records import RecordStatus
from intake_app.i18n import N_
from intake_app.reports.common import PrintContext, RecordSource, page_info, person_name
from intake_app.reports.flowables import TextLine, text_flowable
from intake_app.reports.grid import Grid, GridStyle
from intake_app.reports.layout import (
    BORDER,
    CONTENT_WIDTH,
    DANGER,
    DANGER_FILL,
    SHADE,
    RecordStart,
    Styles,
    collector_paused,
    make_styles,
    render,
)
from intake_app.reports.profiles import (
    MSG_SPECIAL_REFUSED,
    PROFILE_LABELS,
    Profile,
    Redaction,
    redaction_for,
)
from intake_app.reports.tables import (
    OPEN_OUTCOMES,
    Emphasis,
    SectionRenderer,
    clip,
    emphasis,
    marked,
    step_finished,
)

MSG_TITLE = N_("Zusammenfassung")
MSG_STATE = N_("Stand: Revision {revision} · {status}")
MSG_FINALISED_ON = N_("abgeschlossen am {date}")
MSG_DRAFT = N_("Entwurf – noch nicht abgeschlossen; Angaben können sich ändern.")
MSG_OVERVIEW = N_("Auf einen Blick")
MSG_NAME = N_("Name")
MSG_BIRTH = N_("Geburtsdatum")
MSG_AGE = N_("{age} Jahre")
MSG_CONSENT_NONE = N_("Es ist noch keine Einwilligung erfasst.")
MSG_CONSENT_GIVEN = N_("Erteilt am {date} in der Fassung {language}")
MSG_WITH_INTERPRETER = N_("mit Dolmetschung")
MSG_WITH_INTERPRETER_LANG = N_("mit Dolmetschung ({language})")
MSG_WITHOUT_INTERPRETER = N_("ohne Dolmetschung")
MSG_BY_GUARDIAN = N_("erteilt durch die Sorgeberechtigten")
MSG_BY_GUARDIAN_NAMED = N_("erteilt durch die Sorgeberechtigten ({name})")
MSG_TEXT_VERSION = N_("Textfassung {version}")
MSG_PURPOSE = N_("Zweck und Daten")
MSG_RECIPIENTS = N_("Empfänger")
MSG_STATUS = N_("Status")
MSG_GRANTED = N_("erteilt")
MSG_REFUSED = N_("nicht erteilt")
MSG_UNDECIDED = N_("nicht entschieden")
MSG_WITHDRAWN = N_("widerrufen am {date}")
MSG_ART9 = N_("Besondere Kategorien personenbezogener Daten (Gesundheit, nur als Merkmal)")
MSG_ART9_RECIPIENTS = N_("nur diese Beratungsstelle")
MSG_OPEN_REFERRALS = N_("Offene Vermittlungen")
MSG_RESIDENCE = N_("Aufenthalt")
MSG_JOINT_CONTROLLER = N_("Gemeinsam verantwortlich: {name}.")
MSG_VALID_UNTIL = N_("gültig bis {date}")
MSG_CONTINUED_UNTIL = N_("gilt per Verordnung fort bis {date}")
MSG_GERMAN = N_("Deutschkenntnisse")
MSG_CERTIFICATE = N_("Zertifikat: {names}")
MSG_RECOGNITION = N_("Anerkennung")
MSG_OPEN_ITEMS = N_("Offene Vermittlungen und Schritte")
MSG_SINCE = N_("(vermittelt am {date})")
MSG_DUE = N_("{step} – fällig am {date}")
MSG_DUE_STATUS = N_("{step} ({status}) – fällig am {date}")
MSG_NEXT_APPOINTMENT = N_("Nächster Termin")
MSG_OVERDUE = N_("überfällig")
MSG_CONSENT_SCOPE = N_("Einwilligung (Umfang)")
MSG_SCOPE_GRANTED = N_("erteilt: {names}")
MSG_SCOPE_REFUSED = N_("nicht erteilt: {names}")
MSG_SCOPE_WITHDRAWN = N_("widerrufen: {names}")
MSG_SCOPE_ART9 = N_("besondere Kategorien: {status}")
MSG_SCOPE_DATE = N_("(Einwilligung vom {date})")
#: Lines of one fact in the overview box (the whole text stands in its section).
MAX_FACT_LINES = 8
#: The four German skills shown in the overview.
GERMAN_SKILLS = ("german_listening", "german_reading", "german_speaking", "german_writing")

#: Sections drawn as ticked flags rather than a table.
FLAG_SECTIONS = frozenset({"circumstances"})
CONSENT_QUESTION = "consent"

#: The overview box, the table of consent purposes.
FACTS = GridStyle(
    padding=(5, 6, 2.5, 3),
    background=SHADE,
    box=(0.6, BORDER),
    rule=(0.35, BORDER),
    rule_last=False,
)
PURPOSES = GridStyle(padding=(3, 6, 2.2, 2.6), rule=(0.35, BORDER), header_fill=SHADE, repeat=1)


class _Summary:
    """Builds the flowables of one record's summary."""

    def __init__(
        self, source: RecordSource, ctx: PrintContext, redaction: Redaction, styles: Styles
    ) -> None:
        self.source = source
        self.ctx = ctx
        self.tr: Callable[[str], str] = ctx.tr
        self.redaction = redaction
        self.styles = styles
        self.form = source.form
        self.state: FormState = evaluate(
            source.form,
            source.answers,
            today=ctx.today,
            lang=ctx.lang,
            organisation=ctx.organisation,
            expiry_warning_days=ctx.expiry_warning_days,
        )
        #: question id -> whether it prints (itself and its enclosing groups), made once
        #: per form version and kind of redaction
        self.printable: dict[str, bool] = self.form.derived(
            f"summary.printable.{redaction.effective.value}.{redaction.everything}",
            redaction.printable,
        )
        self.rows = [
            row
            for row in answer_rows(
                self.form, self.state, ctx.lang, include_special=redaction.include_special
            )
            if self._printable(row)
        ]
        self.by_path = {row.path: row for row in self.rows}
        self.sections = SectionRenderer(
            form=self.form,
            state=self.state,
            styles=styles,
            tr=self.tr,
            today=ctx.today,
            purpose_label=functools.partial(_purpose_label, ctx),  # no cycle back to self
        )

    def _purpose_label(self, purpose_id: str) -> str:
        return _purpose_label(self.ctx, purpose_id)

    def _printable(self, row: AnswerRow) -> bool:
        return self.printable[row.question.id]

    # -- parts ---------------------------------------------------------------------------

    def title(self, heading: str) -> list[Flowable]:
        src, tr = self.source, self.tr
        status = (
            RecordStatus(src.status)
            if src.status in RecordStatus._value2member_map_
            else RecordStatus.DRAFT
        )
        status_text = {
            RecordStatus.DRAFT: tr(N_("Entwurf")),
            RecordStatus.COMPLETE: tr(N_("Abgeschlossen")),
            RecordStatus.CLOSED: tr(N_("Fall beendet")),
        }[status]
        if src.finalised_at is not None and status is not RecordStatus.DRAFT:
            finalised = tr(MSG_FINALISED_ON).format(
                date=self.ctx.date(src.finalised_at.date().isoformat())
            )
            status_text = (
                finalised if status is RecordStatus.COMPLETE else f"{status_text} ({finalised})"
            )
        state = tr(MSG_STATE).format(revision=src.revision, status=status_text)
        out: list[Flowable] = [
            TextLine(heading, self.styles.title, like_paragraph=True),
            TextLine(state, self.styles.small, like_paragraph=True),
        ]
        if status is RecordStatus.DRAFT:
            out.append(self._banner(tr(MSG_DRAFT), DANGER_FILL))
        if self.redaction.downgraded:
            out.append(self._banner(tr(MSG_SPECIAL_REFUSED), DANGER_FILL))
        out.append(Spacer(1, 4))
        return out

    def _banner(self, text: str, fill: Color) -> Grid:
        return Grid(
            [[TextLine(text, self.styles.cell, bold=True, like_paragraph=True)]],
            [CONTENT_WIDTH],
            GridStyle(padding=(6, 6, 3, 4), background=fill, box=(0.6, DANGER)),
        )

    def _name(self) -> str:
        """ "Family, Given", the Latin transliteration first, the original script after."""
        return person_name(self.source.answers)

    def _row(self, path: str) -> AnswerRow | None:
        return self.by_path.get(path)

    def _items(self, group: str) -> list[int]:
        """Indexes of the printable items of a repeat group."""
        prefix = f"{group}["
        seen: dict[int, None] = {}
        for path in self.by_path:
            if path.startswith(prefix) and "]" in path:
                seen[int(path[len(prefix) : path.index("]")])] = None
        return sorted(seen)

    def _residence(self) -> tuple[str, Emphasis | None] | None:
        tr = self.tr
        parts = [
            row.text
            for row in (self._row("residence_document"), self._row("legal_basis"))
            if row is not None
        ]
        until = self._row("residence_valid_until")
        mark = None
        if until is not None:
            parts.append(tr(MSG_VALID_UNTIL).format(date=until.text))
            # a § 24 permit continued by regulation: the date that counts (the highlight
            # below already uses it, docs/architecture.md on expiry warnings)
            continued = self._row("residence_continued_until")
            if continued is not None and self.state.value("residence_continued") is True:
                parts.append(tr(MSG_CONTINUED_UNTIL).format(date=continued.text))
            mark = emphasis(until, self.state, today=self.ctx.today, tr=tr)
        return (" · ".join(parts), mark) if parts else None

    def _german(self) -> str:
        levels = [
            f"{row.question.label(self.ctx.lang).split('–')[-1].strip()} {row.text}"
            for row in (self._row(qid) for qid in GERMAN_SKILLS)
            if row is not None
        ]
        certificates = []
        for index in self._items("german_certificates"):
            kind = self._row(f"german_certificates[{index}].certificate_type")
            level = self._row(f"german_certificates[{index}].certificate_level")
            text = " ".join(row.text for row in (kind, level) if row is not None)
            if text:
                certificates.append(text)
        text = " · ".join(levels)
        if certificates:
            text += " · " + self.tr(MSG_CERTIFICATE).format(names=", ".join(certificates))
        return text

    def _recognition(self) -> list[str]:
        out = []
        for index in self._items("qualifications"):
            status = self._row(f"qualifications[{index}].recognition_status")
            if status is None:
                continue
            title = next(
                (
                    row.text
                    for row in (
                        self._row(f"qualifications[{index}].{qid}")
                        for qid in ("reference_occupation", "qualification_title", "field_text")
                    )
                    if row is not None
                ),
                "",
            )
            details = [status.text]
            for qid in ("recognition_applied_on", "recognition_outcome"):
                row = self._row(f"qualifications[{index}].{qid}")
                if row is not None:
                    details.append(f"{row.question.label(self.ctx.lang)}: {row.text}")
            out.append(f"{title}: {', '.join(details)}" if title else ", ".join(details))
        return out

    def _open_referrals(self) -> list[tuple[str, Emphasis | None]]:
        out: list[tuple[str, Emphasis | None]] = []
        for index in self._items("referrals"):
            outcome = self._row(f"referrals[{index}].outcome")
            value = self.state.value("outcome", (index,)) if outcome is not None else None
            if outcome is None or value not in OPEN_OUTCOMES:
                continue
            service = self._row(f"referrals[{index}].service_name") or self._row(
                f"referrals[{index}].service"
            )
            when = self._row(f"referrals[{index}].date")
            text = " – ".join(row.text for row in (service, outcome) if row is not None)
            if when is not None:
                text += " " + self.tr(MSG_SINCE).format(date=when.text)
            out.append((text, None))
        for index in self._items("plan_steps"):
            step = self._row(f"plan_steps[{index}].step")
            deadline = self._row(f"plan_steps[{index}].deadline")
            if step is None or deadline is None or step_finished(self.state, (index,)):
                continue  # a step done or dropped is no longer open (its row in J says so)
            mark = emphasis(deadline, self.state, today=self.ctx.today, tr=self.tr)
            status = self._row(f"plan_steps[{index}].status")
            if status is not None and self.state.value("status", (index,)) != "open":
                text = self.tr(MSG_DUE_STATUS).format(
                    step=step.text, status=status.text, date=deadline.text
                )
            else:
                text = self.tr(MSG_DUE).format(step=step.text, date=deadline.text)
            out.append((text, mark))
        return out

    def _next_appointment(self) -> tuple[str, Emphasis | None] | None:
        row = self._row("next_appointment")
        if row is None:
            return None
        value = self.state.value("next_appointment")
        mark = None
        if isinstance(value, str) and value < self.ctx.today.isoformat():
            mark = Emphasis(DANGER_FILL, self.tr(MSG_OVERDUE))
        return row.text, mark

    def _consent_scope(self) -> str:
        """Granted purposes by name, then refused and withdrawn ones, then Art. 9."""
        tr, org = self.tr, self.ctx.organisation
        value = self.source.answers.get(CONSENT_QUESTION)
        if not isinstance(value, dict) or not value.get("date"):
            return tr(MSG_CONSENT_NONE)
        stored = value.get("purposes")
        decided: dict[str, Any] = stored if isinstance(stored, dict) else {}
        withdrawn = dict(self.source.withdrawals)
        groups: dict[str, list[str]] = {"granted": [], "refused": [], "withdrawn": []}
        for pid in org.purpose_ids:
            _text, kind = self._status(decided.get(pid), withdrawn.get(pid))
            if kind in groups:
                groups[kind].append(self._purpose_label(pid))
        parts = [tr(MSG_SCOPE_GRANTED).format(names=", ".join(groups["granted"]) or "–")]
        if groups["refused"]:
            parts.append(tr(MSG_SCOPE_REFUSED).format(names=", ".join(groups["refused"])))
        if groups["withdrawn"]:
            parts.append(tr(MSG_SCOPE_WITHDRAWN).format(names=", ".join(groups["withdrawn"])))
        art9, _kind = self._status(value.get("art9"), withdrawn.get("art9"))
        parts.append(tr(MSG_SCOPE_ART9).format(status=art9))
        scope = "; ".join(parts)
        return f"{scope} {tr(MSG_SCOPE_DATE).format(date=self.ctx.date(value.get('date')))}"

    def overview(self) -> list[Flowable]:
        """What a supervisor checks first, on the first page: person, residence with
        expiry, work permission, German, recognition, open referrals and steps with their
        dates, the next appointment and the scope of the consent."""
        tr, lang = self.tr, self.ctx.lang
        facts: list[tuple[str, str, Emphasis | None, bool]] = []
        name = self._name()
        if name:
            facts.append((tr(MSG_NAME), name, None, False))
        birth = self._row("birth_date")
        if birth is not None:
            age = self.state.value("age_years") if "age_years" in self.form else None
            text = birth.text + (f" ({tr(MSG_AGE).format(age=age)})" if age is not None else "")
            facts.append((tr(MSG_BIRTH), text, None, False))
        residence = self._residence()
        if residence is not None:
            facts.append((tr(MSG_RESIDENCE), residence[0], residence[1], True))
        work = self._row("work_permission")
        if work is not None:
            facts.append((work.question.label(lang), work.text, None, False))
        goal = self._row("goal_type")
        if goal is not None:
            facts.append((goal.question.label(lang), goal.text, None, False))
        german = self._german()
        if german:
            facts.append((tr(MSG_GERMAN), german, None, True))
        recognition = self._recognition()
        if recognition:
            facts.append((tr(MSG_RECOGNITION), "\n".join(recognition), None, True))
        for text, mark in self._open_referrals():
            facts.append((tr(MSG_OPEN_ITEMS), text, mark, True))
        appointment = self._next_appointment()
        if appointment is not None:
            facts.append((tr(MSG_NEXT_APPOINTMENT), appointment[0], appointment[1], False))
        facts.append((tr(MSG_CONSENT_SCOPE), self._consent_scope(), None, True))
        return [
            TextLine(tr(MSG_OVERVIEW), self.styles.heading, like_paragraph=True),
            self._fact_table(facts),
        ]

    def _fact_table(self, facts: list[tuple[str, str, Emphasis | None, bool]]) -> Grid:
        """Short facts two to a row, long ones across the box; highlights keep their word."""
        cells: list[list[list[Flowable] | str]] = []
        wide_rows: list[int] = []
        fills: list[tuple[int, int, int, Color]] = []
        half_open = False
        previous_label = ""
        for label, value, mark, wide in facts:
            lines = value.split("\n")
            shown = "\n".join(clip(line, 300) for line in lines[:MAX_FACT_LINES])
            if len(lines) > MAX_FACT_LINES:
                shown += " …"
            if mark is not None:
                shown = marked(shown, mark)
            cell: list[Flowable] = []
            if label != previous_label or not wide:
                cell.append(text_flowable(label, self.styles.label))
            previous_label = label
            cell.append(text_flowable(shown, self.styles.bold, rtl_style=self.styles.bold_rtl))
            if wide:
                cells.append([cell, ""])
                wide_rows.append(len(cells) - 1)
                half_open = False
                col = 0
            elif half_open:
                cells[-1][1] = cell
                half_open = False
                col = 1
            else:
                cells.append([cell, ""])
                half_open = True
                col = 0
            if mark is not None:
                line = len(cells) - 1
                end = 1 if wide else col
                fills.append((line, col, end, mark.fill))
        return Grid(cells, [CONTENT_WIDTH / 2] * 2, FACTS, wide=wide_rows, fills=fills)

    def consent(self, title: str) -> list[Flowable]:
        """Scope, date, language, interpreter, and each purpose with its recipients."""
        tr, ctx, org = self.tr, self.ctx, self.ctx.organisation
        value = self.source.answers.get(CONSENT_QUESTION)
        head = TextLine(title, self.styles.heading, like_paragraph=True)
        if not isinstance(value, dict) or not value.get("date"):
            return [head, TextLine(tr(MSG_CONSENT_NONE), self.styles.body, like_paragraph=True)]
        parts = [
            tr(MSG_CONSENT_GIVEN).format(
                date=ctx.date(value.get("date")), language=ctx.language_name(value.get("language"))
            )
        ]
        if value.get("interpreter") is True:
            code = value.get("interpreter_language")
            if code:
                try:
                    name = reference_list("language").label(str(code), ctx.lang)
                except KeyError:
                    name = str(code)
                parts.append(tr(MSG_WITH_INTERPRETER_LANG).format(language=name))
            else:
                parts.append(tr(MSG_WITH_INTERPRETER))
        elif value.get("interpreter") is False:
            parts.append(tr(MSG_WITHOUT_INTERPRETER))
        if value.get("given_by") == "guardian":
            guardian = value.get("guardian_name")
            if isinstance(guardian, str) and guardian.strip():
                parts.append(tr(MSG_BY_GUARDIAN_NAMED).format(name=guardian.strip()))
            else:
                parts.append(tr(MSG_BY_GUARDIAN))
        if value.get("text_version"):
            parts.append(tr(MSG_TEXT_VERSION).format(version=value["text_version"]))
        withdrawn = dict(self.source.withdrawals)
        data: list[list[Flowable]] = [
            [
                text_flowable(tr(MSG_PURPOSE), self.styles.label),
                text_flowable(tr(MSG_RECIPIENTS), self.styles.label),
                text_flowable(tr(MSG_STATUS), self.styles.label),
            ]
        ]
        stored = value.get("purposes")
        decided: dict[str, Any] = stored if isinstance(stored, dict) else {}
        ids = list(org.purpose_ids) + [pid for pid in decided if pid not in org.purpose_ids]
        for pid in ids:
            try:
                purpose = org.purpose(pid)
                label = purpose.label(ctx.lang)
                categories = ", ".join(
                    org.category_label(c, ctx.lang) for c in purpose.data_categories
                )
                recipients = "; ".join(r.name for r in purpose.recipients)
            except KeyError:
                label, categories, recipients = pid, "", ""
            status, kind = self._status(decided.get(pid), withdrawn.get(pid))
            cell = [text_flowable(label, self.styles.cell, bold=kind == "granted")]
            if categories:
                cell.append(text_flowable(categories, self.styles.small))
            data.append(
                [
                    cell,
                    text_flowable(recipients, self.styles.cell),
                    text_flowable(status, self.styles.cell),
                ]
            )
        art9_status, _kind = self._status(value.get("art9"), withdrawn.get("art9"))
        data.append(
            [
                text_flowable(tr(MSG_ART9), self.styles.cell),
                text_flowable(tr(MSG_ART9_RECIPIENTS), self.styles.cell),
                text_flowable(art9_status, self.styles.cell),
            ]
        )
        unit = CONTENT_WIDTH / 100
        table = Grid(data, [unit * 46, unit * 34, unit * 20], PURPOSES)
        out: list[Flowable] = [
            head,
            TextLine(" · ".join(parts), self.styles.body, like_paragraph=True),
            Spacer(1, 3),
            table,
        ]
        for party in org.joint_controllers:
            text = tr(MSG_JOINT_CONTROLLER).format(name=party.name)
            if party.responsibility is not None:
                text += " " + party.responsibility.get(ctx.lang)
            out.append(text_flowable(text, self.styles.note))
        return out

    def _status(self, part: Any, withdrawn_on: str | None) -> tuple[str, str]:
        """The status text of one purpose and its kind (granted, refused, withdrawn…)."""
        tr = self.tr
        if not isinstance(part, dict) or not isinstance(part.get("granted"), bool):
            return tr(MSG_UNDECIDED), "undecided"
        if not part["granted"]:
            return tr(MSG_REFUSED), "refused"
        when = part.get("withdrawn_on") or withdrawn_on
        if when:
            return tr(MSG_WITHDRAWN).format(date=self.ctx.date(str(when))), "withdrawn"
        return tr(MSG_GRANTED), "granted"

    # -- the whole record ----------------------------------------------------------------

    def story(self, index: int, *, title: str = "", profile: str = "") -> list[Flowable]:
        """The record's flowables; ``title`` and ``profile`` replace the summary's own."""
        profile = profile or self.tr(PROFILE_LABELS[self.redaction.effective])
        title = title or f"{self.form.title(self.ctx.lang)} – {self.tr(MSG_TITLE)}"
        info = page_info(self.source, self.ctx, title=title, profile=profile)
        out: list[Flowable] = [RecordStart(info, index), *self.title(title), *self.overview()]
        lang = self.ctx.lang
        by_section: dict[str, list[AnswerRow]] = {}
        for row in self.rows:
            by_section.setdefault(row.section_id, []).append(row)
        consent_sections = self.form.derived("summary.consent_sections", _consent_sections)
        for section in self.form.sections:
            rows = by_section.get(section.id, [])
            if section.id in consent_sections:
                out.extend(self.consent(section.label(lang)))
                rows = [row for row in rows if row.question.type is not QuestionType.CONSENT]
                if rows:
                    out.extend(self.sections.section(rows))
                continue
            if not rows:
                continue
            out.append(TextLine(section.label(lang), self.styles.heading, like_paragraph=True))
            if section.id in FLAG_SECTIONS:
                out.extend(self.sections.flags(rows))
            else:
                out.extend(self.sections.section(rows))
        return out


def _purpose_label(ctx: PrintContext, purpose_id: str) -> str:
    """A consent purpose by its name in the printout's language (its id if unknown)."""
    try:
        return ctx.organisation.purpose(purpose_id).label(ctx.lang)
    except KeyError:
        return purpose_id


def _consent_sections(form: Form) -> frozenset[str]:
    """The sections that hold a consent block (once per form version)."""
    return frozenset(
        section.id
        for section in form.sections
        if any(q.type is QuestionType.CONSENT for q in section.walk())
    )


def summary_story(
    source: RecordSource,
    *,
    ctx: PrintContext,
    profile: Profile,
    index: int = 0,
    styles: Styles | None = None,
    redaction: Redaction | None = None,
    title: str = "",
    profile_text: str = "",
) -> list[Flowable]:
    """The flowables of one record's summary (a batch joins several with page breaks).

    ``redaction`` overrides the profile (the access request prints everything);
    ``title`` and ``profile_text`` replace the texts of the header.
    """
    redaction = redaction or redaction_for(profile, source.answers, on=ctx.today)
    return _Summary(source, ctx, redaction, styles or make_styles()).story(
        index, title=title, profile=profile_text
    )


def build_summary(
    source: RecordSource, *, ctx: PrintContext, profile: Profile = Profile.STANDARD
) -> bytes:
    """One record's summary as PDF bytes (nothing is written to disk)."""
    with collector_paused():  # see layout.collector_paused
        story = summary_story(source, ctx=ctx, profile=profile)
        data, _pages = render(
            story,
            title=f"{source.form.title(ctx.lang)} – {ctx.tr(MSG_TITLE)} {source.case_number}",
            author=ctx.organisation.name(ctx.lang),
            lang=ctx.lang,
        )
    return data
