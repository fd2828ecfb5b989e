"""The review page: every answer by section, missing and wrong answers linked.

Signals: ``jump(str, str)`` with section id and answer path of a linked question.
"""

from __future__ import annotations

import html
from urllib.parse import quote, unquote

from PySide6.QtCore import QUrl, Signal
from PySide6.QtWidgets import QTextBrowser

from intake_app.core.display import answer_rows
from intake_app.core.interview import InterviewSession
from intake_app.i18n import translator


class ReviewView(QTextBrowser):
    """All answers as a readable page; links jump to the question. Signals: ``jump``."""

    jump = Signal(str, str)

    def __init__(
        self, session: InterviewSession, *, include_special: bool = True, links: bool = True
    ) -> None:
        super().__init__()
        self.session = session
        self.include_special = include_special
        #: headings and open questions as links to the question (the interview's review
        #: page); a finished record's view has nowhere to go, so it shows plain text
        self.links = links
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.anchorClicked.connect(self._on_anchor)
        self.setAccessibleName(translator(session.lang)("Überprüfung aller Antworten"))
        self.refresh()

    def refresh(self) -> None:
        session = self.session
        lang = session.lang
        tr = translator(lang)
        state = session.state
        parts: list[str] = []
        problems = []
        for path, messages in state.errors.items():
            question_id = path.split(".")[-1].split("[")[0]
            question = session.form.get(question_id)
            section = question.section_id if question else ""
            label = question.label(lang) if question else path
            problems.append((section, path, label, "; ".join(messages)))
        for missing in state.missing_required:
            question = session.form.question(missing.question_id)
            problems.append(
                (missing.section_id, missing.path, question.label(lang), tr("fehlt noch"))
            )
        if problems:
            still_open = html.escape(tr("Noch offen"))
            parts.append(f"<h2>{still_open} ({len(problems)})</h2><ul>")
            for section, path, label, why in problems:
                section_label = session.form.section(section).label(lang) if section else ""
                parts.append(
                    f"<li>{self._linked(html.escape(label), section, path)} – {html.escape(why)} "
                    f'<span style="color:#52606d">({html.escape(section_label)})</span></li>'
                )
            parts.append("</ul>")
        else:
            done = html.escape(tr("Alle Pflichtangaben sind vollständig."))
            parts.append(f'<p style="color:#15803d"><b>{done}</b></p>')
        current = None
        for row in answer_rows(session.form, state, lang, include_special=self.include_special):
            if row.section_id != current:
                if current is not None:
                    parts.append("</table>")
                current = row.section_id
                title = session.form.section(current).label(lang)
                parts.append(
                    f"<h3>{self._linked(html.escape(title), current, '')}</h3>"
                    '<table cellspacing="0" cellpadding="3" width="100%">'
                )
            indent = 16 * row.depth
            if row.is_group_item:
                parts.append(
                    f'<tr><td colspan="2" style="padding-left:{indent}px"><i>'
                    f"{html.escape(row.label)}</i></td></tr>"
                )
                continue
            parts.append(
                f'<tr><td width="40%" style="padding-left:{indent}px;color:#52606d">'
                f"{html.escape(row.label)}</td><td>{value_html(row.text)}</td></tr>"
            )
        if current is not None:
            parts.append("</table>")
        self.setHtml("".join(parts))

    def _linked(self, text: str, section: str, path: str) -> str:
        """``text`` (already escaped) as a link to the question, where links lead somewhere."""
        if not self.links:
            return text
        return f'<a href="{jump_href(section, path)}">{text}</a>'

    def _on_anchor(self, url: QUrl) -> None:
        target = parse_jump(url)
        if target is not None:
            self.jump.emit(*target)


def value_html(text: str) -> str:
    """An answer in its own direction, beside its label: a left-to-right paragraph (so the
    value starts where the other values start) holding the answer as a first-strong
    isolate (U+2068 … U+2069), so Arabic or Persian reads right to left in itself
    instead of being pushed to the far edge of the page."""
    return f'<p dir="ltr">\u2068{html.escape(text)}\u2069</p>'


def jump_href(section: str, path: str) -> str:
    """The link to a question: ``jump:SECTION/PATH``, each part percent-encoded, so that
    no character of an answer path is changed by the URL parser on the way back."""
    return f"jump:{quote(section, safe='')}/{quote(path, safe='')}"


def parse_jump(url: QUrl) -> tuple[str, str] | None:
    """Section id and answer path of a link made by :func:`jump_href` (None: no jump link).

    Read from the fully encoded form: Qt versions differ in which characters they decode
    for display (6.11 keeps ``|`` encoded), the encoded form is the same everywhere."""
    text = url.toString(QUrl.ComponentFormattingOption.FullyEncoded)
    if not text.startswith("jump:"):
        return None
    section, _sep, path = text[5:].partition("/")
    return unquote(section), unquote(path)
