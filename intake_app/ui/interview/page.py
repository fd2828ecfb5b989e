"""The interview page: sections on the left, questions in the middle, autosave, review.

Keyboard: Ctrl+PgDown / Ctrl+PgUp next and previous section, Ctrl+R review, Ctrl+S save
now (saving is automatic anyway), Ctrl+Shift+L switch question labels between German
and English, Escape back to the case list. Enter in a one-line field moves on.

Signals: ``closed()`` back to the list; ``finalised(str)`` with the record id.
"""

from __future__ import annotations

import logging
from datetime import datetime
from itertools import pairwise
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from intake_app.app import Workspace
from intake_app.core.forms import Form
from intake_app.core.interview import InterviewSession
from intake_app.core.records import RecordStatus, heading_name, index_fields
from intake_app.errors import IntakeError
from intake_app.i18n import _, current_language, translator
from intake_app.ui import style
from intake_app.ui.a11y import LiveLabel, announce
from intake_app.ui.errors import show_error
from intake_app.ui.interview.autosave import Autosaver
from intake_app.ui.interview.review import ReviewView
from intake_app.ui.interview.section_view import SectionView

log = logging.getLogger("intake.ui")

REVIEW = "__review__"


class InterviewPage(QWidget):
    """Edit one draft record. Signals: ``closed()``, ``finalised(str)``."""

    closed = Signal()
    finalised = Signal(str)

    def __init__(self, workspace: Workspace, record_id: str, *, form: Form) -> None:
        super().__init__()
        self.ws = workspace
        self.record_id = record_id
        row = workspace.records.open(record_id)  # audited read
        if row.status != RecordStatus.DRAFT.value:
            raise IntakeError(
                _("Die Akte ist abgeschlossen; sie wird in der Aktenansicht geöffnet.")
            )
        self.case_number = row.case_number
        self.revision = row.revision
        self.session = InterviewSession(
            form=form,
            answers=row.answers,
            organisation=workspace.organisation,
            lang=current_language(),
            expiry_warning_days=workspace.expiry_warning_days,
        )
        self.position: dict[str, Any] = dict(row.position)
        # what the store holds: opening, moving between sections and the review only
        # remember the position, without a save time ("Letzte Änderung" stays the time
        # of the last changed answer)
        self._stored_answers: dict[str, Any] = self.session.answers_for_storage()
        self._answers_changed = False
        self.views: dict[str, SectionView] = {}
        self.autosaver = Autosaver(self._save, self)
        self.autosaver.saved.connect(self._on_saved)
        self.autosaver.failed.connect(self._on_save_failed)
        self.last_save_error = ""

        # header
        self.name_label = QLabel()
        self.name_label.setObjectName("title")
        # a name in Arabic script stays at the start of the header, like any other name
        self.name_label.setAlignment(
            Qt.AlignmentFlag.AlignLeft
            | Qt.AlignmentFlag.AlignAbsolute
            | Qt.AlignmentFlag.AlignVCenter
        )
        self.meta_label = QLabel()
        self.meta_label.setObjectName("muted")
        # read as "Gespeichert 07:57" (its text), with "Speicherstand" as description
        self.save_label = LiveLabel(role=_("Speicherstand"), speak=False)
        self.save_label.setMinimumWidth(180)
        self.save_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        # the time the draft was last saved, until this visit saves a change: never an
        # empty label (a screen reader reads it as nothing)
        self._saved_text = self._saved_at(getattr(row, "updated_at", None))
        self.save_label.setText(self._saved_text)
        self.language_button = QPushButton()
        self.language_button.setToolTip(
            _("Fragen auf Deutsch oder Englisch anzeigen (Strg+Umschalt+L)")
        )
        self.back_button = QPushButton(_("Zur Liste"))
        self.back_button.setToolTip(_("Zurück zur Liste (Esc); alles ist gespeichert"))
        header = QHBoxLayout()
        titles = QVBoxLayout()
        titles.addWidget(self.name_label)
        titles.addWidget(self.meta_label)
        header.addLayout(titles, 1)
        header.addWidget(self.save_label)
        header.addWidget(self.language_button)
        header.addWidget(self.back_button)

        # navigation
        self.nav = QListWidget()
        self.nav.setObjectName("sectionNav")
        self.nav.setAccessibleName(_("Abschnitte des Gesprächs"))
        self.nav.setWordWrap(True)
        self.nav.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.nav.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.nav.setMinimumWidth(250)
        self.nav.setMaximumWidth(340)
        self.stack = QStackedWidget()
        self.review = ReviewView(self.session, include_special=True)
        self.review.jump.connect(self._on_jump)
        self.finalise_button = QPushButton(_("Aufnahme abschließen"))
        self.finalise_button.setObjectName("primary")
        review_page = QWidget()
        review_layout = QVBoxLayout(review_page)
        review_title = QLabel(_("Überprüfen und abschließen"))
        review_title.setObjectName("title")
        review_layout.addWidget(review_title)
        review_layout.addWidget(self.review, 1)
        finish_row = QHBoxLayout()
        self.finalise_hint = QLabel()
        self.finalise_hint.setObjectName("muted")
        self.finalise_hint.setWordWrap(True)
        finish_row.addWidget(self.finalise_hint, 1)
        finish_row.addWidget(self.finalise_button)
        review_layout.addLayout(finish_row)
        self.review_page = review_page
        self.stack.addWidget(review_page)

        self.prev_button = QPushButton(_("◀ Zurück"))
        self.prev_button.setToolTip(_("Vorheriger Abschnitt (Strg+Bild auf)"))
        self.next_button = QPushButton(_("Weiter ▶"))
        self.next_button.setToolTip(_("Nächster Abschnitt (Strg+Bild ab)"))
        self.next_button.setObjectName("primary")
        self.step_label = QLabel()
        self.step_label.setObjectName("muted")
        bottom = QHBoxLayout()
        bottom.addWidget(self.prev_button)
        bottom.addStretch(1)
        bottom.addWidget(self.step_label)
        bottom.addStretch(1)
        bottom.addWidget(self.next_button)

        centre = QWidget()
        centre_layout = QVBoxLayout(centre)
        centre_layout.setContentsMargins(0, 0, 0, 0)
        centre_layout.addWidget(self.stack, 1)
        centre_layout.addLayout(bottom)
        splitter = QSplitter()
        splitter.addWidget(self.nav)
        splitter.addWidget(centre)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(splitter, 1)

        self.nav.currentRowChanged.connect(self._on_nav_row)
        self.prev_button.clicked.connect(lambda: self.step(-1))
        self.next_button.clicked.connect(lambda: self.step(1))
        self.back_button.clicked.connect(self.close_page)
        self.language_button.clicked.connect(self.toggle_language)
        self.finalise_button.clicked.connect(self.finalise)
        for keys, slot in (
            ("Ctrl+PgDown", lambda: self.step(1)),
            ("Ctrl+PgUp", lambda: self.step(-1)),
            ("Ctrl+R", lambda: self.show_section(REVIEW)),
            ("Ctrl+S", self.autosaver.flush),
            ("Ctrl+Shift+L", self.toggle_language),
            ("Escape", self._on_escape),
        ):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)

        self._update_header()
        self._fill_nav()
        start = self.position.get("section")
        valid = {s.id for s in self.session.visible_sections()} | {REVIEW}
        self.show_section(start if start in valid else self._first_section())
        question = self.position.get("question")
        if question and self.current_section() in self.views:
            self.views[self.current_section()].focus_path(str(question))

    # -- sections ----------------------------------------------------------------------

    def _first_section(self) -> str:
        visible = self.session.visible_sections()
        return visible[0].id if visible else REVIEW

    def _section_ids(self) -> list[str]:
        return [s.id for s in self.session.visible_sections()] + [REVIEW]

    def _fill_nav(self) -> None:
        current = self.current_section() if self.nav.count() else None
        self.nav.blockSignals(True)
        self.nav.clear()
        for section in self.session.visible_sections():
            item = QListWidgetItem()
            item.setData(Qt.ItemDataRole.UserRole, section.id)
            self.nav.addItem(item)
        review = QListWidgetItem()
        review.setData(Qt.ItemDataRole.UserRole, REVIEW)
        self.nav.addItem(review)
        self._update_nav_texts()
        if current is not None:
            self._select_nav(current)
        self.nav.blockSignals(False)

    def _update_nav_texts(self) -> None:
        lang = self.session.lang
        for row in range(self.nav.count()):
            item = self.nav.item(row)
            section_id = item.data(Qt.ItemDataRole.UserRole)
            if section_id == REVIEW:
                done = self.session.complete
                # in the questions' language, like the sections above it
                title = translator(lang)("Überprüfen und abschließen")
                item.setText(("✔ " if done else "→ ") + title)
                continue
            status = self.session.section_status(section_id)
            section = self.session.form.section(section_id)
            if status.errors:
                mark, tip = "⚠", _("{n} Angabe(n) fehlerhaft").format(n=status.errors)
            elif status.total and status.answered >= status.total:
                mark, tip = "✔", _("vollständig")
            elif status.answered:
                mark, tip = (
                    "◐",
                    _("{a} von {t} Pflichtangaben").format(a=status.answered, t=status.total),
                )
            elif status.total:
                mark, tip = (
                    "○",
                    _("{a} von {t} Pflichtangaben").format(a=status.answered, t=status.total),
                )
            else:
                mark, tip = "·", _("keine Pflichtangaben")
            counter = f"  {status.answered}/{status.total}" if status.total else ""
            item.setText(f"{mark} {section.label(lang)}{counter}")
            item.setToolTip(tip)
            item.setData(Qt.ItemDataRole.AccessibleTextRole, f"{section.label(lang)}: {tip}")
            item.setForeground(
                Qt.GlobalColor.darkRed if status.errors else self.palette().text().color()
            )

    def _select_nav(self, section_id: str) -> None:
        for row in range(self.nav.count()):
            if self.nav.item(row).data(Qt.ItemDataRole.UserRole) == section_id:
                self.nav.setCurrentRow(row)
                return

    def current_section(self) -> str:
        item = self.nav.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else REVIEW

    def view(self, section_id: str) -> SectionView:
        """The (lazily built) view of a section."""
        if section_id not in self.views:
            view = SectionView(
                self.session,
                self.session.form.section(section_id),
                organisation=self.ws.organisation,
            )
            view.answer_edited.connect(self._on_answer)
            self.views[section_id] = view
            self.stack.addWidget(view)
        return self.views[section_id]

    def show_section(self, section_id: str) -> None:
        """Show a section (or the review page) and remember it for resuming."""
        if section_id == REVIEW:
            self.review.refresh()
            self._update_finalise()
            self.stack.setCurrentWidget(self.review_page)
        else:
            view = self.view(section_id)
            view.refresh()
            self.stack.setCurrentWidget(view)
            view.focus_first()
        self._apply_tab_order()
        self.nav.blockSignals(True)
        self._select_nav(section_id)
        self.nav.blockSignals(False)
        ids = self._section_ids()
        index = ids.index(section_id) if section_id in ids else 0
        self.step_label.setText(_("Abschnitt {i} von {n}").format(i=index + 1, n=len(ids)))
        self.prev_button.setEnabled(index > 0)
        self.next_button.setVisible(section_id != REVIEW)
        if self.position.get("section") != section_id:
            self.position = {"section": section_id}
            self.autosaver.schedule()

    def _apply_tab_order(self) -> None:
        """Tab goes through the open section from the first to the last question, then to
        the navigation buttons, the section list, and the header last."""
        section = self.current_section()
        if section == REVIEW:
            fields: list[QWidget] = [self.review, self.finalise_button]
        else:
            fields = self.view(section).focus_chain()
        chain = [
            *fields,
            self.prev_button,
            self.next_button,
            self.nav,
            self.language_button,
            self.back_button,
        ]
        for first, second in pairwise(chain):
            QWidget.setTabOrder(first, second)

    def focus_current(self) -> None:
        """Put the keyboard focus where work goes on: the remembered question, else the
        first open question of the section (called once the page is on screen)."""
        section = self.current_section()
        if section == REVIEW:
            self.review.setFocus(Qt.FocusReason.OtherFocusReason)
            return
        question = self.position.get("question")
        view = self.view(section)
        if not (question and view.focus_path(str(question))):
            view.focus_first()

    def step(self, direction: int) -> None:
        ids = self._section_ids()
        current = self.current_section()
        index = ids.index(current) if current in ids else 0
        target = index + direction
        if 0 <= target < len(ids):
            self.show_section(ids[target])

    def _on_nav_row(self, row: int) -> None:
        if row >= 0:
            self.show_section(self.nav.item(row).data(Qt.ItemDataRole.UserRole))

    def _on_jump(self, section_id: str, path: str) -> None:
        if not section_id:
            return
        self.show_section(section_id)
        if path:
            self.views[section_id].focus_path(path)
            self.position = {"section": section_id, "question": path}

    # -- answers -----------------------------------------------------------------------

    def _on_answer(self, qid: str, index_path: tuple, value: object) -> None:
        if qid:
            self.session.set(qid, tuple(index_path), value)
            self.position = {
                "section": self.current_section(),
                "question": self.session.path(qid, tuple(index_path)),
            }
        visible_before = [
            self.nav.item(r).data(Qt.ItemDataRole.UserRole) for r in range(self.nav.count())
        ]
        if visible_before != self._section_ids():
            self._fill_nav()
        else:
            self._update_nav_texts()
        view = self.views.get(self.current_section())
        if view is not None:
            view.refresh()
            self._apply_tab_order()
        self._update_header()
        self._answers_changed = True
        self.autosaver.schedule()
        self.save_label.setText(_("Ungespeicherte Änderung …"))

    def _save(self) -> datetime | None:
        """Store the answers when one changed, else only the position (no save time)."""
        answers = self.session.answers_for_storage()
        if not self._answers_changed or answers == self._stored_answers:
            self.ws.records.save_position(self.record_id, self.position)
            self._answers_changed = False
            return None
        when = self.ws.records.save(self.record_id, answers=answers, position=self.position)
        self._stored_answers = answers
        self._answers_changed = False
        return when

    @staticmethod
    def _saved_at(when: datetime | None) -> str:
        """ "Gespeichert 14:03:12", with the date when it was not today."""
        if when is None:
            return ""
        local = when.astimezone() if when.tzinfo else when
        shown = local.strftime("%H:%M:%S")
        if local.date() != datetime.now().date():
            shown = local.strftime("%d.%m.%Y %H:%M")
        return _("Gespeichert {time}").format(time=shown)

    def _on_saved(self, when: datetime | None) -> None:
        if when is None:  # only the position was remembered: nothing new to report
            if self.save_label.text() == _("Ungespeicherte Änderung …"):
                self.save_label.setText(self._saved_text)
            return
        recovered = bool(self.last_save_error)
        self.last_save_error = ""
        self._saved_text = self._saved_at(when)
        self.save_label.setText(self._saved_text)
        if recovered:  # after a failure the counsellor hears that all is stored again
            announce(self.save_label, self.save_label.text())
        self.save_label.setStyleSheet(f"color: {style.SUCCESS};")

    def _on_save_failed(self, exc: BaseException) -> None:
        self.last_save_error = str(exc)
        self.save_label.setText(_("Nicht gespeichert – wird erneut versucht"))
        announce(self.save_label, self.save_label.text(), assertive=True)
        self.save_label.setStyleSheet(f"color: {style.DANGER}; font-weight: 600;")
        self.save_label.setToolTip(str(exc))

    def _update_header(self) -> None:
        fields = index_fields(self.session.answers)
        self.name_label.setText(heading_name(fields))
        status = _("Entwurf")
        if self.revision > 1:
            status = _("Entwurf, Revision {n}").format(n=self.revision)
        self.meta_label.setText(
            _("Aktenzeichen {case} · {status}").format(case=self.case_number, status=status)
        )
        self.language_button.setText("EN" if self.session.lang == "de" else "DE")
        self.language_button.setAccessibleName(
            _("Fragen auf Englisch anzeigen")
            if self.session.lang == "de"
            else _("Fragen auf Deutsch anzeigen")
        )

    def toggle_language(self) -> None:
        """Show the questions in the other language (answers are unchanged)."""
        self.session.set_language("en" if self.session.lang == "de" else "de")
        for view in self.views.values():
            view.retranslate(self.session.lang)
        self._update_nav_texts()
        self._update_header()
        if self.current_section() == REVIEW:
            self.review.refresh()

    # -- finishing ---------------------------------------------------------------------

    def _update_finalise(self) -> None:
        complete = self.session.complete
        self.finalise_button.setEnabled(complete)
        if complete:
            self.finalise_hint.setText(
                _(
                    "Beim Abschließen wird die Akte gesperrt und für die Übermittlung vorgemerkt. "
                    "Spätere Änderungen werden als neue Revision mit Begründung gespeichert."
                )
            )
        else:
            self.finalise_hint.setText(
                _(
                    "Erst wenn alle Pflichtangaben vollständig und richtig sind, kann die "
                    "Aufnahme abgeschlossen werden. Die Links oben führen zu den offenen Fragen."
                )
            )

    def finalise(self) -> None:
        if not self.session.complete:
            return
        if not self.autosaver.flush():
            return
        answer = QMessageBox.question(
            self,
            _("Aufnahme abschließen"),
            _(
                "Die Aufnahme jetzt abschließen? Danach ist sie gesperrt; Änderungen "
                "sind nur noch als neue Revision mit Begründung möglich."
            ),
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            self.ws.records.finalise(self.record_id, answers=self.session.answers_for_storage())
        except IntakeError as exc:
            show_error(self, exc)
            return
        self.autosaver.stop()
        self.finalised.emit(self.record_id)

    def _on_escape(self) -> None:
        """Escape closes an open list of suggestions (a country, an occupation) and only
        then the interview: the shortcut is seen before the list, which would otherwise
        never get the key."""
        popup = QApplication.activePopupWidget()
        if popup is not None:
            popup.hide()
            return
        self.close_page()

    def close_page(self) -> None:
        """Save and go back to the list. When saving fails the page stays open (and keeps
        trying), so the unsaved answers stay in front of the counsellor."""
        if not self.autosaver.flush():
            QMessageBox.warning(
                self,
                _("Nicht gespeichert"),
                _(
                    "Die letzten Änderungen konnten nicht gespeichert werden:\n\n{error}\n\n"
                    "Die Aufnahme bleibt offen, und Intake versucht es weiter."
                ).format(error=self.last_save_error),
            )
            return
        self.closed.emit()

    def shutdown(self) -> bool:
        """Save before the page goes (log-out, program end, another record); True when
        everything is stored. When saving fails, the retries go on."""
        saved = self.autosaver.flush()
        if saved:
            self.autosaver.stop()
        return saved

    def discard(self) -> None:
        """Stop saving: the user chose to leave although the last changes are not stored."""
        self.autosaver.stop()


def ask_revision_reason(parent: QWidget) -> str | None:
    """Ask why a finalised record is changed (required, audited)."""
    text, ok = QInputDialog.getMultiLineText(
        parent,
        _("Neue Revision"),
        _("Warum wird die abgeschlossene Aufnahme geändert? (wird protokolliert)"),
    )
    return text.strip() if ok and text.strip() else None
