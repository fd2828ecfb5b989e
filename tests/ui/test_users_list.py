"""The administrator's list of users: times as in the case list, and an account whose
initial password is still the one she chose says so (found by a new administrator on a
real display)."""

from __future__ import annotations

import re
from pathlib import Path

from pytestqt.qtbot import QtBot

from intake_app.app import Workspace
from intake_app.ui.users_dialog import UsersDialog
from tests.helpers.key_site import build_site, own


def test_the_list_says_whose_initial_password_is_unchanged(qtbot: QtBot, tmp_path: Path) -> None:
    profile, _ = build_site(tmp_path)
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    try:
        ws.accounts.add_user(username="neu", role="counsellor", password=own("neu-start"))
        dialog = UsersDialog(ws)
        qtbot.addWidget(dialog)
        rows = {
            _cell(dialog, row, 0): (_cell(dialog, row, 3), _cell(dialog, row, 4))
            for row in range(dialog.table.rowCount())
        }
        assert rows["neu"] == ("aktiv, Anfangspasswort noch nicht geändert", "–")
        state, last = rows["anna"]
        assert state == "aktiv"
        assert re.fullmatch(r"\d\d\.\d\d\.\d{4} \d\d:\d\d", last), last
    finally:
        ws.close()


def _cell(dialog: UsersDialog, row: int, column: int) -> str:
    item = dialog.table.item(row, column)
    assert item is not None
    return item.text()
