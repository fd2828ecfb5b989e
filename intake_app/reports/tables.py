"""The answers of one section as tables: label and value, repeat groups, flags.

Rows come from :func:`intake_app.core.display.answer_rows`, so every answer reads as on
screen. A repeat group with few columns becomes one table with a row per item; a wide
group (a qualification has fifteen answers) becomes one small table per item. Answers
too long for a table cell (a very long note) are set below the table as paragraphs, so
they can run over several pages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date

from reportlab.lib.colors import Color
from reportlab.platypus import Flowable, Spacer

from intake_app.core.display import AnswerRow
from intake_app.core.forms import Form, FormState
from intake_app.core.forms.model import QuestionType
from intake_app.core.records import expiry_state
from intake_app.i18n import N_
from intake_app.pdf import fonts
from intake_app.reports.flowables import TextLine, TickBox, text_flowable, text_flowables
from intake_app.reports.grid import Grid, GridStyle
from intake_app.reports.layout import (
    BORDER,
    CONTENT_WIDTH,
    DANGER,
    DANGER_FILL,
    SHADE,
    WARN_FILL,
    Styles,
)

#: Answers longer than this (or with more lines) leave the table and are set as
#: paragraphs below it: a table row cannot run over a page.
LONG_ANSWER = 700
LONG_LINES = 12
#: A repeat group with at most this many answered columns becomes one table.
MAX_COLUMNS = 6
#: Dates highlighted when they lie in the past or within eight weeks.
EXPIRY_QUESTIONS = frozenset({"residence_valid_until"})
#: Text answers that hold the id of a consent purpose (shown by its name).
PURPOSE_QUESTIONS = frozenset({"consent_purpose"})
#: Referral outcomes that count as open.
OPEN_OUTCOMES = frozenset({"open", "appointment_made"})
#: States of a plan step (form version 2026.3 on) after which its deadline no longer counts.
FINISHED_STEPS = frozenset({"done", "dropped"})

MSG_EXPIRED = N_("abgelaufen")
MSG_EXPIRES_IN = N_("läuft in {n} Tagen ab")
MSG_EXPIRES_TODAY = N_("läuft heute ab")
MSG_OPEN = N_("offen")
MSG_OVERDUE = N_("überfällig")
MSG_SEE_BELOW = N_("(siehe unten)")
MSG_NO = N_("Nr.")

Translate = Callable[[str], str]

#: Label and value; a repeat group with a row per item (its heading row repeats on the
#: next page); one item of a wide group; the ticked flags.
KEY_VALUES = GridStyle(padding=(3, 3, 2.2, 2.6), rule=(0.35, BORDER))
COLUMNS = GridStyle(padding=(3, 3, 2.2, 2.6), rule=(0.35, BORDER), header_fill=SHADE, repeat=1)
CARD = GridStyle(padding=(3, 3, 2, 2.4), rule=(0.3, BORDER), box=(0.5, BORDER), header_fill=SHADE)
FLAGS = GridStyle(padding=(3, 6, 3, 3), rule=(0.35, BORDER))


@dataclass(frozen=True, slots=True)
class Emphasis:
    """A highlighted answer: background colour and a word that says why."""

    fill: Color
    word: str


def emphasis(row: AnswerRow, state: FormState, *, today: date, tr: Translate) -> Emphasis | None:
    """Whether an answer needs attention: a residence permit expiring within the warning
    period (the setting ``records.expiry_warning_days``) or expired, an open referral, an
    overdue next step. A § 24 permit that a regulation continues counts from that date."""
    question = row.question
    context = row_context(row)
    value = state.value(question.id, context)
    if question.id in EXPIRY_QUESTIONS and isinstance(value, str):
        if state.form.get("residence_continued_until") is not None:
            continued = state.value("residence_continued_until")
            if state.value("residence_continued") is True and isinstance(continued, str):
                value = continued
        kind = expiry_state(value, today=today, warning_days=state.expiry_warning_days)
        if kind == "expired":
            return Emphasis(DANGER_FILL, tr(MSG_EXPIRED))
        if kind == "soon":
            days = (date.fromisoformat(value) - today).days
            word = tr(MSG_EXPIRES_TODAY) if days == 0 else tr(MSG_EXPIRES_IN).format(n=days)
            return Emphasis(WARN_FILL, word)
    if question.parent_id == "referrals" and question.id == "outcome" and value in OPEN_OUTCOMES:
        return Emphasis(WARN_FILL, tr(MSG_OPEN))
    if (
        question.parent_id == "plan_steps"
        and question.id == "deadline"
        and isinstance(value, str)
        and value < today.isoformat()
        and not step_finished(state, context)
    ):
        return Emphasis(WARN_FILL, tr(MSG_OVERDUE))
    return None


def step_finished(state: FormState, context: tuple[int, ...]) -> bool:
    """Whether the plan step at ``context`` is done or dropped (its ``status``, form
    version 2026.3 on; a step of an older version has none and is never finished)."""
    if state.form.get("status") is None:
        return False
    return state.value("status", context) in FINISHED_STEPS


def marked(text: str, mark: Emphasis) -> str:
    """An answer with the word of its highlight, unless the answer already says it
    ("Offen", not "Offen – offen")."""
    if mark.word.casefold() in text.casefold():
        return text
    return f"{text} – {mark.word}"


def is_long(text: str, limit: int) -> bool:
    """Whether an answer is too long or has too many lines for a table cell."""
    return len(text) > limit or text.count("\n") >= LONG_LINES


def clip(text: str, limit: int = 160) -> str:
    """The start of a text for places that show a glimpse (the overview, the sheet's
    name line); the whole text stands in its section."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def row_context(row: AnswerRow) -> tuple[int, ...]:
    """The index path of an answer row (``"languages[1].level"`` -> ``(1,)``)."""
    indexes = []
    for part in row.path.split("."):
        if part.endswith("]") and "[" in part:
            indexes.append(int(part[part.index("[") + 1 : -1]))
    return tuple(indexes[: len(row.question.repeat_chain)])


class SectionRenderer:
    """Turns the printable answer rows of one section into flowables."""

    def __init__(
        self,
        *,
        form: Form,
        state: FormState,
        styles: Styles,
        tr: Translate,
        today: date,
        purpose_label: Callable[[str], str] | None = None,
    ) -> None:
        self.form = form
        self.state = state
        self.styles = styles
        self.tr = tr
        self.today = today
        self.purpose_label = purpose_label

    # -- cells ---------------------------------------------------------------------------

    def text_of(self, row: AnswerRow) -> str:
        """The answer as shown; a consent purpose id as the purpose's name."""
        if row.question.id in PURPOSE_QUESTIONS and self.purpose_label is not None:
            return self.purpose_label(row.text)
        return row.text

    def _value_cell(self, row: AnswerRow, mark: Emphasis | None) -> Flowable:
        text = self.text_of(row)
        if mark is not None:
            text = marked(text, mark)
        return text_flowable(
            text, self.styles.cell, rtl_style=self.styles.cell_rtl, bold=mark is not None
        )

    def _label_cell(self, text: str) -> Flowable:
        return text_flowable(text, self.styles.label)

    # -- label and value -----------------------------------------------------------------

    def key_values(self, rows: Sequence[AnswerRow]) -> list[Flowable]:
        """A two-column table of label and value; long answers follow as paragraphs."""
        out: list[Flowable] = []
        data: list[list[Flowable]] = []
        fills: list[tuple[int, Color]] = []
        for row in rows:
            if is_long(row.text, LONG_ANSWER):
                out.extend(self._table(data, fills))
                data, fills = [], []
                out.extend(self.long_answer(row.label, row.text))
                continue
            mark = emphasis(row, self.state, today=self.today, tr=self.tr)
            if mark is not None:
                fills.append((len(data), mark.fill))
            data.append([self._label_cell(row.label), self._value_cell(row, mark)])
        out.extend(self._table(data, fills))
        return out

    def _table(self, data: list[list[Flowable]], fills: list[tuple[int, Color]]) -> list[Flowable]:
        if not data:
            return []
        return [
            Grid(
                data,
                [CONTENT_WIDTH * 0.36, CONTENT_WIDTH * 0.64],
                KEY_VALUES,
                fills=[(index, 1, 1, fill) for index, fill in fills],
            )
        ]

    def long_answer(self, label: str, text: str) -> list[Flowable]:
        """A long answer as its label and paragraphs that may run over pages."""
        return [
            TextLine(label, self.styles.subheading, like_paragraph=True),
            *text_flowables(text, self.styles.body, rtl_style=self.styles.body_rtl),
            Spacer(1, 4),
        ]

    # -- repeat groups -------------------------------------------------------------------

    def group(self, group_id: str, rows: Sequence[AnswerRow]) -> list[Flowable]:
        """A repeat group: one table (few columns) or one table per item (many)."""
        items = _items(rows)
        if not items:
            return []
        columns: list[str] = []
        nested = False
        long = False
        for _label, children in items:
            for child in children:
                if child.is_group_item or len(child.question.repeat_chain) > 1:
                    nested = True
                if is_long(child.text, LONG_ANSWER // 2):
                    long = True
                if child.question.id not in columns and not child.is_group_item:
                    columns.append(child.question.id)
        title = self.form.question(group_id).label(self._lang())
        head = TextLine(title, self.styles.subheading, like_paragraph=True)
        if not nested and not long and len(columns) <= MAX_COLUMNS:
            table = self._columns(columns, items)
            if table is not None:
                return [head, table]
        out: list[Flowable] = [head]
        for label, children in items:
            out.extend(self._card(label, children))
        return out

    def _lang(self) -> str:
        return self.state.lang

    def _columns(self, columns: list[str], items: list[tuple[str, list[AnswerRow]]]) -> Grid | None:
        """One row per item; None when the columns cannot fit without breaking words."""
        lang = self._lang()
        header: list[Flowable] = [text_flowable(self.tr(MSG_NO), self.styles.label)]
        header += [self._label_cell(self.form.question(qid).label(lang)) for qid in columns]
        data: list[list[Flowable | str]] = [header]
        fills: list[tuple[int, int, Color]] = []
        texts: list[list[str]] = [[self.form.question(qid).label(lang)] for qid in columns]
        for row_index, (_label, children) in enumerate(items, start=1):
            by_id = {child.question.id: child for child in children}
            cells: list[Flowable | str] = [text_flowable(str(row_index), self.styles.cell)]
            for col_index, qid in enumerate(columns, start=1):
                child = by_id.get(qid)
                if child is None:
                    cells.append("")
                    continue
                texts[col_index - 1].append(self.text_of(child))
                mark = emphasis(child, self.state, today=self.today, tr=self.tr)
                if mark is not None:
                    fills.append((col_index, row_index, mark.fill))
                cells.append(self._value_cell(child, mark))
            data.append(cells)
        number = 8 * 2.834645669
        widths = column_widths(texts, self.styles.cell.fontSize, CONTENT_WIDTH - number)
        if widths is None:
            return None
        return Grid(
            data, [number, *widths], COLUMNS, fills=[(r, c, c, fill) for c, r, fill in fills]
        )

    def _card(self, label: str, children: list[AnswerRow]) -> list[Flowable]:
        """One item of a wide group: a heading row and label/value pairs side by side."""
        pairs: list[tuple[Flowable, Flowable]] = []
        fills: list[tuple[int, int, Color]] = []
        long_rows: list[AnswerRow] = []
        for child in children:
            if child.is_group_item:
                pairs.append((text_flowable(child.label, self.styles.cell, bold=True), ""))
                continue
            if is_long(child.text, LONG_ANSWER // 2):
                long_rows.append(child)
                continue
            mark = emphasis(child, self.state, today=self.today, tr=self.tr)
            if mark is not None:
                index = len(pairs)
                fills.append((index % 2 * 2 + 1, index // 2 + 1, mark.fill))
            pairs.append((self._label_cell(child.label), self._value_cell(child, mark)))
        for child in long_rows:
            pairs.append(
                (
                    self._label_cell(child.label),
                    text_flowable(self.tr(MSG_SEE_BELOW), self.styles.label),
                )
            )
        data: list[list[Flowable | str]] = [
            [text_flowable(label, self.styles.cell, bold=True), "", "", ""]
        ]
        for start in range(0, len(pairs), 2):
            first = pairs[start]
            second = pairs[start + 1] if start + 1 < len(pairs) else ("", "")
            data.append([first[0], first[1], second[0], second[1]])
        unit = CONTENT_WIDTH / 100
        table = Grid(
            data,
            [unit * 22, unit * 28, unit * 22, unit * 28],
            CARD,
            wide=[0],
            fills=[(r, c, c, fill) for c, r, fill in fills],
        )
        out: list[Flowable] = [table]
        for child in long_rows:
            out.extend(self.long_answer(f"{label}: {child.label}", child.text))
        out.append(Spacer(1, 5))
        return out

    # -- flags ---------------------------------------------------------------------------

    def flags(self, rows: Sequence[AnswerRow]) -> list[Flowable]:
        """Yes/no circumstances as ticked boxes, each with its short note."""
        flags: list[tuple[bool, str, list[str]]] = []
        others: list[AnswerRow] = []
        long_notes: list[AnswerRow] = []
        for row in rows:
            if row.question.type is QuestionType.YES_NO and not row.question.repeat_chain:
                flags.append((self.state.value(row.question.id) is True, row.label, []))
            elif row.question.type in (QuestionType.TEXT, QuestionType.LONG_TEXT) and flags:
                if is_long(row.text, LONG_ANSWER // 2):
                    flags[-1][2].append(self.tr(MSG_SEE_BELOW))
                    long_notes.append(row)
                else:
                    flags[-1][2].append(row.text)
            else:
                others.append(row)
        out: list[Flowable] = []
        if flags:
            cells: list[list[Flowable | list[Flowable] | str]] = []
            fills: list[tuple[int, int, int, Color]] = []
            for index, (checked, label, notes) in enumerate(flags):
                parts: list[Flowable] = [text_flowable(label, self.styles.cell, bold=checked)]
                parts += [text_flowable(note, self.styles.note) for note in notes]
                if index % 2 == 0:
                    cells.append(
                        [TickBox(checked, color=DANGER if checked else BORDER), parts, "", ""]
                    )
                else:
                    cells[-1][2:] = [TickBox(checked, color=DANGER if checked else BORDER), parts]
                if checked:
                    first = (index % 2) * 2
                    fills.append((index // 2, first, first + 1, WARN_FILL))
            unit = CONTENT_WIDTH / 100
            out.append(Grid(cells, [unit * 5, unit * 45, unit * 5, unit * 45], FLAGS, fills=fills))
        for row in long_notes:
            out.extend(self.long_answer(row.label, row.text))
        out.extend(self.key_values(others))
        return out

    # -- a whole section -----------------------------------------------------------------

    def section(self, rows: Sequence[AnswerRow]) -> list[Flowable]:
        """Top-level answers as label/value tables, each repeat group where it stands."""
        out: list[Flowable] = []
        plain: list[AnswerRow] = []
        for kind, group_id, block in _blocks(rows):
            if kind == "plain":
                plain.extend(block)
                continue
            out.extend(self.key_values(plain))
            plain = []
            out.extend(self.group(group_id, block))
        out.extend(self.key_values(plain))
        return out


def column_widths(texts: Sequence[Sequence[str]], size: float, total: float) -> list[float] | None:
    """Widths for table columns: each at least as wide as its longest word, the rest of
    ``total`` shared by how much text each column holds (None: the words do not fit)."""
    pad = 7.0
    minimum: list[float] = []
    wanted: list[float] = []
    for column in texts:
        words = [word for text in column for word in text.split()] or [""]
        minimum.append(max(fonts.text_width(fonts.visual(w, rtl=False), size) for w in words) + pad)
        wanted.append(max(fonts.text_width(fonts.visual(t, rtl=False), size) for t in column) + pad)
    floor = sum(minimum)
    if floor > total:
        return None
    extra = [max(0.0, w - m) for w, m in zip(wanted, minimum, strict=True)]
    spare = total - floor
    if sum(extra) <= spare:
        slack = (spare - sum(extra)) / len(texts)
        return [w + slack for w in (m + e for m, e in zip(minimum, extra, strict=True))]
    return [m + spare * e / sum(extra) for m, e in zip(minimum, extra, strict=True)]


def _blocks(rows: Sequence[AnswerRow]) -> Iterator[tuple[str, str, list[AnswerRow]]]:
    """Split a section's rows into runs of top-level answers and whole repeat groups."""
    current: list[AnswerRow] = []
    group: str | None = None
    for row in rows:
        chain = row.question.repeat_chain
        owner = chain[0] if chain else (row.question.id if row.is_group_item else None)
        if owner != group:
            if current:
                yield ("group" if group else "plain", group or "", current)
            current, group = [], owner
        current.append(row)
    if current:
        yield ("group" if group else "plain", group or "", current)


def _items(rows: Sequence[AnswerRow]) -> list[tuple[str, list[AnswerRow]]]:
    """The items of one group: its heading label and its answers (nested ones included)."""
    items: list[tuple[str, list[AnswerRow]]] = []
    for row in rows:
        if row.is_group_item and row.depth == 0:
            items.append((row.label, []))
        elif items:
            items[-1][1].append(row)
    return [(label, children) for label, children in items if children]
