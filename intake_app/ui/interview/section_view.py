"""One section of the interview as widgets: questions, repeat groups, live refresh.

The view is built once per section; after every change :meth:`SectionView.refresh`
applies the engine's verdict (visibility, errors, computed values, choice filters,
required markers) to the existing widgets, and rebuilds a repeat group only when its
number of items changed.

Signals: ``answer_edited(str, tuple, object)`` (question id, index path, value).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from intake_app.core.display import format_value
from intake_app.core.forms.model import Question, QuestionType, Section
from intake_app.core.forms.referral_consent import purpose_choices
from intake_app.core.interview import IndexPath, InterviewSession
from intake_app.i18n import translator
from intake_app.ui.interview.consent import ConsentInput, PurposeInput, asks_for_purpose
from intake_app.ui.interview.inputs import (
    MANY_CHOICES,
    AnswerInput,
    CefrInput,
    ComboChoiceInput,
    DateInput,
    DecimalInput,
    IntegerInput,
    LongTextInput,
    MultiChoiceInput,
    NoteInput,
    RadioChoiceInput,
    TextInput,
    YearMonthInput,
    YesNoInput,
    is_year_month,
)
from intake_app.ui.interview.pickers import ReferenceInput


def make_input(question: Question, lang: str) -> AnswerInput:
    """The fitting input for ``question`` (repeat groups and consent are built elsewhere)."""
    kind = question.type
    if kind is QuestionType.TEXT:
        if is_year_month(question):
            return YearMonthInput(question, lang)
        return TextInput(question, lang)
    if kind is QuestionType.LONG_TEXT:
        return LongTextInput(question, lang)
    if kind is QuestionType.INTEGER:
        return IntegerInput(question, lang)
    if kind is QuestionType.DECIMAL:
        return DecimalInput(question, lang)
    if kind is QuestionType.DATE:
        return DateInput(question, lang)
    if kind is QuestionType.YES_NO:
        return YesNoInput(question, lang)
    if kind is QuestionType.CEFR:
        return CefrInput(question, lang)
    if kind is QuestionType.CHOICE:
        if len(question.choices) > MANY_CHOICES:
            return ComboChoiceInput(question, lang)
        return RadioChoiceInput(question, lang)
    if kind is QuestionType.MULTI_CHOICE:
        return MultiChoiceInput(question, lang)
    if kind is QuestionType.REFERENCE:
        return ReferenceInput(question, lang)
    if kind is QuestionType.NOTE:
        return NoteInput(question, lang)
    raise ValueError(f"no input for {kind}")


class QuestionRow(QWidget):
    """Label (with required marker), help text, input and error message of one question."""

    def __init__(
        self, question: Question, index_path: IndexPath, lang: str, *, organisation: Any = None
    ) -> None:
        super().__init__()
        self.question = question
        self.index_path = index_path
        self.lang = lang
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.help = QLabel()
        self.help.setObjectName("muted")
        self.help.setWordWrap(True)
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.hide()
        self.computed = QLabel()
        self.computed.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.input: AnswerInput | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 6)
        layout.setSpacing(3)
        layout.addWidget(self.label)
        if question.type is QuestionType.CONSENT:
            self.input = ConsentInput(question, lang, organisation)
        elif question.calculate is not None:
            self.input = None
        elif organisation is not None and asks_for_purpose(question):
            self.input = PurposeInput(question, lang, organisation)
        else:
            self.input = make_input(question, lang)
        if self.input is not None:
            layout.addWidget(self.input)
            self.label.setBuddy(self.input.focus_target())
        else:
            layout.addWidget(self.computed)
        layout.addWidget(self.help)
        layout.addWidget(self.error)
        self._required = question.required
        self.retranslate(lang)

    def retranslate(self, lang: str) -> None:
        self.lang = lang
        text = self.question.label(lang)
        if self.question.type is QuestionType.NOTE:
            self.label.setText(text)
            self.label.setObjectName("hint")
        else:
            marker = (
                ' <span style="color:#b91c1c" title="required">*</span>' if self._required else ""
            )
            self.label.setText(f"<b>{_escape(text)}</b>{marker}")
        help_text = self.question.help(lang)
        self.help.setText(help_text)
        self.help.setVisible(bool(help_text))
        if self.input is not None:
            self.input.retranslate(lang)
            required = translator(lang)("Pflichtangabe") if self._required else ""
            self.input.set_accessible(
                text, " – ".join(part for part in (required, help_text) if part)
            )

    def set_required(self, required: bool) -> None:
        if required != self._required:
            self._required = required
            self.retranslate(self.lang)

    def set_errors(self, messages: list[str]) -> None:
        self.error.setText("\n".join(messages))
        self.error.setVisible(bool(messages))
        if self.input is not None:
            target = self.input.focus_target()
            target.setProperty("invalid", bool(messages))
            target.style().unpolish(target)
            target.style().polish(target)

    def focus(self) -> None:
        if self.input is not None:
            self.input.focus_target().setFocus(Qt.FocusReason.OtherFocusReason)


class RepeatGroup(QFrame):
    """A repeat group: one framed item per entry, each with remove; an add button.

    Signals: ``add_requested(str, tuple)``, ``remove_requested(str, tuple, int)``.
    """

    add_requested = Signal(str, tuple)
    remove_requested = Signal(str, tuple, int)

    def __init__(self, view: SectionView, question: Question, index_path: IndexPath) -> None:
        super().__init__()
        self.view = view
        self.question = question
        self.index_path = index_path
        self.setObjectName("card")
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.help = QLabel()
        self.help.setObjectName("muted")
        self.help.setWordWrap(True)
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.hide()
        self.items_box = QVBoxLayout()
        self.items_box.setSpacing(8)
        self.add_button = QPushButton()
        self.add_button.clicked.connect(lambda: self.add_requested.emit(question.id, index_path))
        self.item_widgets: list[tuple[QFrame, list[QWidget]]] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.addWidget(self.title)
        layout.addWidget(self.help)
        layout.addLayout(self.items_box)
        row = QHBoxLayout()
        row.addWidget(self.add_button)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addWidget(self.error)
        self.count = -1
        self.retranslate(view.lang)

    def retranslate(self, lang: str) -> None:
        # the same marker as a required question's (the review lists it as missing)
        marker = (
            ' <span style="color:#b91c1c" title="required">*</span>'
            if self.question.required
            else ""
        )
        self.title.setText(f"<b>{_escape(self.question.label(lang))}</b>{marker}")
        self.help.setText(self.question.help(lang))
        self.help.setVisible(bool(self.question.help(lang)))
        tr = translator(lang)
        self.add_button.setText(
            tr("+ {item} hinzufügen").format(item=self.question.item_label(lang))
        )
        self.add_button.setAccessibleName(self.add_button.text())

    def rebuild(self, count: int) -> None:
        """Create the widgets for ``count`` items (after an add or remove)."""
        for frame, _children in self.item_widgets:
            self.view.forget(frame)
            frame.setParent(None)
            frame.deleteLater()
        self.item_widgets.clear()
        tr = translator(self.view.lang)
        for index in range(count):
            frame = QFrame()
            frame.setFrameShape(QFrame.Shape.StyledPanel)
            box = QVBoxLayout(frame)
            box.setContentsMargins(10, 6, 10, 6)
            head = QHBoxLayout()
            heading = QLabel(
                f"<b>{_escape(self.question.item_label(self.view.lang))} {index + 1}</b>"
            )
            remove = QPushButton(tr("Entfernen"))
            remove.setAccessibleName(
                tr("{item} {n} entfernen").format(
                    item=self.question.item_label(self.view.lang), n=index + 1
                )
            )
            remove.clicked.connect(
                lambda _=False, i=index: self.remove_requested.emit(
                    self.question.id, self.index_path, i
                )
            )
            head.addWidget(heading)
            head.addStretch(1)
            head.addWidget(remove)
            box.addLayout(head)
            children: list[QWidget] = []
            for child in self.question.children:
                widget = self.view.build(child, (*self.index_path, index))
                box.addWidget(widget)
                children.append(widget)
            self.items_box.addWidget(frame)
            frame.setVisible(True)  # a layout shows new children only after the event loop
            self.item_widgets.append((frame, children))
        self.count = count


class SectionView(QScrollArea):
    """The widgets of one section. Signals: ``answer_edited(str, tuple, object)``."""

    answer_edited = Signal(str, tuple, object)

    def __init__(
        self,
        session: InterviewSession,
        section: Section,
        *,
        organisation: Any,
        read_only: bool = False,
    ) -> None:
        super().__init__()
        self.session = session
        self.section = section
        self.organisation = organisation
        self.read_only = read_only
        self.lang = session.lang
        self.rows: dict[tuple[str, IndexPath], QuestionRow] = {}
        self.groups: dict[tuple[str, IndexPath], RepeatGroup] = {}
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        inner = QWidget()
        self.body = QVBoxLayout(inner)
        self.body.setContentsMargins(24, 12, 24, 24)
        self.title = QLabel()
        self.title.setObjectName("title")
        self.title.setWordWrap(True)
        self.section_help = QLabel()
        self.section_help.setObjectName("muted")
        self.section_help.setWordWrap(True)
        self.body.addWidget(self.title)
        self.body.addWidget(self.section_help)
        for question in section.questions:
            self.body.addWidget(self.build(question, ()))
        self.body.addStretch(1)
        column = QWidget()
        wrap = QHBoxLayout(column)
        wrap.setContentsMargins(0, 0, 0, 0)
        inner.setMaximumWidth(980)
        wrap.addWidget(inner)
        wrap.addStretch(0)
        self.setWidget(column)
        self.retranslate(self.lang)
        self.refresh()

    # -- building ----------------------------------------------------------------------

    def build(self, question: Question, index_path: IndexPath) -> QWidget:
        """The widget for ``question`` at ``index_path`` (registered for refresh)."""
        if question.type is QuestionType.REPEAT:
            group = RepeatGroup(self, question, index_path)
            group.add_requested.connect(self._on_add)
            group.remove_requested.connect(self._on_remove)
            group.add_button.setEnabled(not self.read_only)
            self.groups[(question.id, index_path)] = group
            group.rebuild(len(self.session.items(question.id, index_path)))
            return group
        row = QuestionRow(question, index_path, self.lang, organisation=self.organisation)
        if row.input is not None:
            row.input.set_value(self.session.get(question.id, index_path))
            row.input.edited.connect(
                lambda value, q=question.id, p=index_path: self.answer_edited.emit(q, p, value)
            )
            if self.read_only:
                row.input.set_read_only(True)
        self.rows[(question.id, index_path)] = row
        return row

    def forget(self, frame: QWidget) -> None:
        """Drop the registrations of widgets inside ``frame`` (an item being removed)."""
        for key, row in list(self.rows.items()):
            if frame.isAncestorOf(row):
                del self.rows[key]
        for key, group in list(self.groups.items()):
            if frame.isAncestorOf(group):
                del self.groups[key]

    # -- refreshing --------------------------------------------------------------------

    def refresh(self) -> None:
        """Apply the session's current verdict to every widget of the section."""
        state = self.session.state
        for (qid, path), group in list(self.groups.items()):
            count = len(self.session.items(qid, path))
            if count != group.count:
                group.rebuild(count)
        for (qid, path), group in self.groups.items():
            visible = state.visible(qid, path)
            group.setVisible(visible)
            messages = self.session.errors(qid, path)
            group.error.setText("\n".join(messages))
            group.error.setVisible(bool(messages))
            if group.question.max is not None:
                group.add_button.setEnabled(
                    not self.read_only and group.count < int(group.question.max)
                )
        for (qid, path), row in self.rows.items():
            visible = state.visible(qid, path)
            row.setVisible(visible)
            if not visible:
                continue
            row.set_required(self.session.is_required(qid, path))
            row.set_errors(self.session.errors(qid, path))
            if row.input is None:
                value = state.value(qid, path)

                shown = format_value(row.question, value, self.lang) or "–"
                row.computed.setText(shown)
                # named by its caption: "Alter (berechnet): 34", not an unnamed "–"
                empty = translator(self.lang)("noch nicht berechnet")
                row.computed.setAccessibleName(
                    f"{row.question.label(self.lang)}: {shown if shown != '–' else empty}"
                )
            elif row.question.choice_filter is not None:
                row.input.set_choices(state.choices_for(qid, path))
            elif isinstance(row.input, PurposeInput):
                row.input.set_granted(self._granted_for(path))

    def _granted_for(self, path: IndexPath) -> frozenset[str] | None:
        """Purposes consented on the date of the referral at ``path`` (engine:
        core/forms/referral_consent.py)."""
        if self.organisation is None or "consent" not in self.session.form:
            return None
        consent = self.session.get("consent")
        referral = {"date": self.session.get("date", path)} if "date" in self.session.form else {}
        return frozenset(
            choice.id for choice in purpose_choices(consent, self.organisation, referral=referral)
        )

    def retranslate(self, lang: str) -> None:
        self.lang = lang
        self.title.setText(self.section.label(lang))
        self.setAccessibleName(self.section.label(lang))  # the scrollable page is focusable
        self.section_help.setText(self.section.help(lang))
        self.section_help.setVisible(bool(self.section.help(lang)))
        for row in self.rows.values():
            row.retranslate(lang)
        for group in self.groups.values():
            group.retranslate(lang)
        self.refresh()

    def focus_chain(self) -> list[QWidget]:
        """The section's Tab stops from the first to the last question, in reading order
        (the order of the layouts, not the order in which the widgets were created)."""
        chain: list[QWidget] = []
        inner = self.widget()
        if inner is not None and inner.layout() is not None:
            _walk_layout(inner.layout(), chain)
        return chain

    def focus_path(self, path: str) -> bool:
        """Scroll to and focus the question with answer path ``path``."""
        for (qid, index_path), row in self.rows.items():
            if self.session.path(qid, index_path) == path and row.isVisible():
                self.ensureWidgetVisible(row)
                row.focus()
                return True
        # a list of items (jobs, degrees) that still lacks one: its "add" button
        for (qid, index_path), group in self.groups.items():
            if self.session.path(qid, index_path) == path and group.isVisible():
                self.ensureWidgetVisible(group.add_button)
                group.add_button.setFocus(Qt.FocusReason.OtherFocusReason)
                return True
        return False

    def focus_first(self) -> None:
        """Focus the first visible, unanswered question (else the first visible one)."""
        first = None
        for (qid, index_path), row in self.rows.items():
            if not row.isVisible() or row.input is None:
                continue
            first = first or row
            if self.session.get(qid, index_path) in (None, "", []):
                self.ensureWidgetVisible(row)
                row.focus()
                return
        if first is not None:
            first.focus()

    # -- slots -------------------------------------------------------------------------

    def _on_add(self, qid: str, index_path: tuple) -> None:
        index = self.session.add_item(qid, tuple(index_path))
        self.answer_edited.emit("", (), None)  # tell the window that answers changed
        self.refresh()
        group = self.groups.get((qid, tuple(index_path)))
        if group is not None and index < len(group.item_widgets):
            children = group.item_widgets[index][1]
            for child in children:
                if isinstance(child, QuestionRow) and child.input is not None:
                    child.focus()
                    break

    def _on_remove(self, qid: str, index_path: tuple, index: int) -> None:
        self.session.remove_item(qid, tuple(index_path), index)
        self.answer_edited.emit("", (), None)
        self.refresh()


def _walk_layout(layout: Any, chain: list[QWidget]) -> None:
    for index in range(layout.count()):
        item = layout.itemAt(index)
        widget = item.widget()
        if widget is not None:
            if widget.focusPolicy() & Qt.FocusPolicy.TabFocus and widget.focusProxy() is None:
                chain.append(widget)
            if widget.layout() is not None:
                _walk_layout(widget.layout(), chain)
        elif item.layout() is not None:
            _walk_layout(item.layout(), chain)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
