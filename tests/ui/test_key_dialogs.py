"""A supervisor hands on with her keys through the real widgets: a case to another
counsellor (record view and case list), the site key to a new supervisor. An
administrator is offered neither; the results are checked in the files (what each
password decrypts) and in the audit log."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

import pytest
from PySide6.QtWidgets import QDialog, QPushButton
from pytestqt.qtbot import QtBot

from intake_app.app import Workspace
from intake_app.core.forms import evaluate
from intake_app.demo.data import generate
from intake_app.storage import audit, users
from intake_app.storage.profile import Profile
from intake_app.storage.records import RecordQuery
from intake_app.ui.key_dialogs import (
    ConfirmOwnersDialog,
    GrantSiteKeyDialog,
    MoveCaseDialog,
    after_sign_in,
)
from intake_app.ui.mainwindow import MainWindow
from intake_app.ui.record_page import RecordPage
from tests.helpers.attacker import what_she_reads
from tests.helpers.key_site import PW, build_site, own
from tests.helpers.opening import open_record_now


@pytest.fixture
def site(tmp_path: Path) -> tuple[Profile, str]:
    return build_site(tmp_path)


def _window(qtbot: QtBot, profile: Profile, user: str) -> MainWindow:
    ws = Workspace.sign_in(profile, username=user, password=own(user))
    window = MainWindow(ws, autolock_minutes=30)
    qtbot.addWidget(window)
    window.show()
    return window


def _close(window: MainWindow) -> None:
    window.shutdown_pages()
    window.ws.close()


def _actions(ws: Workspace, action: str) -> list[audit.AuditEntry]:
    with ws.db.read() as session:
        return [e for e in audit.iter_entries(session) if e.action == action]


def test_a_supervisor_moves_a_case_from_the_record_view(
    qtbot: QtBot, site: tuple[Profile, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    profile, _ = site
    ws = Workspace.sign_in(profile, username="anna", password=own("anna"))
    record_id = ws.records.list(RecordQuery())[0].id
    record = ws.records.get(record_id)
    form = ws.form_for(record.form_id, record.form_version)
    for seed in range(20):  # complete answers under her name: a finalised record's view
        answers, complete = generate(
            form,
            organisation=ws.organisation,
            rng=random.Random(seed),
            today=date.today(),
            complete=True,
            case_number=record.case_number,
        )
        answers["family_name"] = record.answers["family_name"]
        if complete and evaluate(form, answers, organisation=ws.organisation).complete:
            break
    ws.records.save(record_id, answers=answers)
    ws.records.finalise(record_id, answers=answers)
    ws.close()
    window = _window(qtbot, profile, "leitung")
    try:
        ws = window.ws
        open_record_now(window, record_id)
        page = window.record_page
        assert isinstance(page, RecordPage)
        button = next(b for b in page.findChildren(QPushButton) if b.text() == "Akte ü&bergeben …")
        seen: dict[str, object] = {}

        def drive(dialog: MoveCaseDialog) -> int:
            names = [dialog.target.itemText(i) for i in range(dialog.target.count())]
            seen["names"] = names
            assert "anna" not in names  # not to its current owner
            assert not dialog.ok_button.isEnabled()  # nothing moves without the check
            dialog.target.setCurrentIndex(names.index("berta"))
            dialog.confirm.setChecked(True)
            assert dialog.ok_button.isEnabled()
            dialog.ok_button.click()  # the dialog's own accept: the workspace moves it
            return dialog.result()

        monkeypatch.setattr(MoveCaseDialog, "exec", drive)
        button.click()
        assert "berta" in seen["names"]  # type: ignore[operator]
        assert window.record_page is None  # back to the list
        with ws.db.read() as session:
            berta = users.get_by_name(session, username="berta")
        assert berta is not None
        assert ws.records.get(record_id).owner_id == berta.id
        (moved,) = _actions(ws, "record_moved")
        assert moved.actor == "leitung" and moved.subject_id == record_id
        assert moved.details["to"] == berta.id
    finally:
        _close(window)
    text, _ = what_she_reads(profile.root, "anna", own("anna"))
    assert "Kanarienanna" not in text, "the case left anna's store"
    text, _ = what_she_reads(profile.root, "berta", own("berta"))
    assert "Kanarienanna" in text and "Kanarienberta" in text


def test_a_supervisor_moves_the_case_selected_in_the_list(
    qtbot: QtBot, site: tuple[Profile, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    profile, _ = site
    window = _window(qtbot, profile, "leitung")
    try:
        cases = window.cases
        assert cases is not None
        qtbot.waitUntil(lambda: cases.model.rowCount() >= 2, timeout=10_000)
        row = next(
            n
            for n in range(cases.model.rowCount())
            if "Kanarienberta" in str(cases.model.index(n, 0).data())
            or any(
                "Kanarienberta" in str(cases.model.index(n, c).data())
                for c in range(cases.model.columnCount())
            )
        )
        cases.table.selectRow(row)
        (record_id,) = cases.selected_ids()
        action = window.actions_["move_case"]
        assert action.isVisible()

        def cancel_first(dialog: MoveCaseDialog) -> int:
            dialog.reject()  # changing her mind moves nothing
            return dialog.result()

        monkeypatch.setattr(MoveCaseDialog, "exec", cancel_first)
        action.trigger()
        assert _actions(window.ws, "record_moved") == []

        def drive(dialog: MoveCaseDialog) -> int:
            dialog.target.setCurrentIndex(dialog.target.findText("anna"))
            dialog.confirm.setChecked(True)
            dialog.ok_button.click()
            return dialog.result()

        monkeypatch.setattr(MoveCaseDialog, "exec", drive)
        action.trigger()
        (moved,) = _actions(window.ws, "record_moved")
        assert moved.subject_id == record_id
    finally:
        _close(window)
    text, _ = what_she_reads(profile.root, "berta", own("berta"))
    assert "Kanarienberta" not in text


def test_a_supervisor_grants_the_site_key_and_an_administrator_cannot(
    qtbot: QtBot, site: tuple[Profile, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    profile, _ = site
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    ws.accounts.add_user(username="neu", role="supervisor", password=f"{PW}-neu-start")
    ws.close()
    admin = _window(qtbot, profile, "admin")
    try:  # the administrator holds no site key: no action, and the workspace refuses
        assert not admin.actions_["grant_site_key"].isVisible()
        assert not admin.actions_["move_case"].isVisible()
        assert admin.ws.site_key_candidates() == []
    finally:
        _close(admin)

    window = _window(qtbot, profile, "leitung")
    try:  # "neu" has not chosen her own password yet: she is not offered
        dialog = GrantSiteKeyDialog(window.ws, window)
        assert dialog.person.count() == 0 and not dialog.ok_button.isEnabled()
    finally:
        _close(window)
    ws = Workspace.sign_in(profile, username="neu", password=f"{PW}-neu-start")
    ws.accounts.set_own_password(own("neu"))
    ws.close()
    assert "Kanarien" not in what_she_reads(profile.root, "neu", own("neu"))[0]

    window = _window(qtbot, profile, "leitung")
    try:
        action = window.actions_["grant_site_key"]
        assert action.isVisible()
        before = len(_actions(window.ws, "site_key_granted"))

        def drive(dialog: GrantSiteKeyDialog) -> int:
            assert dialog.person.count() == 1
            assert dialog.person.currentData() == "neu"
            dialog.ok_button.click()
            return dialog.result()

        monkeypatch.setattr(GrantSiteKeyDialog, "exec", drive)
        action.trigger()
        granted = _actions(window.ws, "site_key_granted")
        assert len(granted) == before + 1 and granted[-1].actor == "leitung"
        # she holds it now: not offered again
        assert window.ws.site_key_candidates() == []
    finally:
        _close(window)
    text, _ = what_she_reads(profile.root, "neu", own("neu"))
    assert "Kanarienanna" in text and "Kanarienberta" in text
    neu = _window(qtbot, profile, "neu")
    try:
        assert neu.ws.records.count(RecordQuery()) == 2
        assert neu.actions_["grant_site_key"].isVisible()  # she can pass it on herself
    finally:
        _close(neu)


def test_dialog_refusal_is_shown_not_lost(
    qtbot: QtBot, site: tuple[Profile, str], tmp_path: Path
) -> None:
    """A move the workspace refuses (the target has no store yet) is shown in the dialog
    and changes nothing."""
    profile, _ = site
    window = _window(qtbot, profile, "leitung")
    try:
        ws = window.ws
        record_id = ws.records.list(RecordQuery(search="Kanarienanna"))[0].id
        dialog = MoveCaseDialog(ws, record_id, window)
        dialog.target.addItem("niemand", 99_999)  # an id without a store
        dialog.target.setCurrentIndex(dialog.target.count() - 1)
        dialog.confirm.setChecked(True)
        dialog.ok_button.click()
        assert dialog.result() != QDialog.DialogCode.Accepted
        assert dialog.error.text()
        assert ws.records.get(record_id).owner_id != 99_999
        assert _actions(ws, "record_moved") == []
    finally:
        _close(window)


def test_a_supervisor_confirms_a_reset_counsellor_in_the_dialog(
    qtbot: QtBot, site: tuple[Profile, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a reset, anna's earlier records reach her new key pair only when a supervisor
    ticks the confirmation; "Später" leaves them locked."""
    profile, _ = site
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    ws.accounts.reset_password(username="anna", password=f"{PW}-anna-reset")
    ws.close()
    ws = Workspace.sign_in(profile, username="anna", password=f"{PW}-anna-reset")
    ws.accounts.set_own_password(own("anna") + "2")
    ws.close()
    Workspace.sign_in(profile, username="leitung", password=own("leitung")).close()
    shown: list[int] = []

    def later(dialog: ConfirmOwnersDialog) -> int:
        assert [name for name, _box in dialog.boxes] == ["anna"]
        assert not dialog.ok_button.isEnabled()  # nothing ticked
        shown.append(1)
        dialog.reject()
        return dialog.result()

    monkeypatch.setattr(ConfirmOwnersDialog, "exec", later)
    window = _window(qtbot, profile, "leitung")
    try:
        after_sign_in(window)  # what the program does right after her sign-in
        assert shown == [1]
        assert window.actions_["confirm_owners"].isVisible()
    finally:
        _close(window)
    assert "Kanarienanna" not in what_she_reads(profile.root, "anna", own("anna") + "2")[0]

    def confirm(dialog: ConfirmOwnersDialog) -> int:
        dialog.boxes[0][1].setChecked(True)
        assert dialog.ok_button.isEnabled()
        dialog.ok_button.click()
        return dialog.result()

    monkeypatch.setattr(ConfirmOwnersDialog, "exec", confirm)
    window = _window(qtbot, profile, "leitung")
    try:
        window.actions_["confirm_owners"].trigger()
        assert _actions(window.ws, "store_owner_confirmed")[-1].actor == "leitung"
        assert not window.actions_["confirm_owners"].isVisible()
    finally:
        _close(window)
    assert "Kanarienanna" in what_she_reads(profile.root, "anna", own("anna") + "2")[0]
