"""The settings window: built from the declarations, limits, German messages, organisation
file, backups and restore; nothing is stored until everything is valid."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QApplication,
    QCheckBox,
    QComboBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)
from pytestqt.qtbot import QtBot
from sqlalchemy import select, text

from intake_app.app import Workspace
from intake_app.assets import resource
from intake_app.core import settings as declared
from intake_app.errors import PermissionDenied
from intake_app.storage.backup import list_backups
from intake_app.storage.models import AuditLogEntry
from intake_app.ui import settings_backup
from intake_app.ui.settings_backup import RestoreDialog
from intake_app.ui.settings_organisation import OrganisationFile, default_text
from intake_app.ui.settings_window import ORGANISATION_PAGE, SettingsWindow
from tests.conftest import ADMIN, ADMIN_PASSWORD, COUNSELLOR, ProfileFixture


@pytest.fixture(autouse=True)
def _never_block(monkeypatch: pytest.MonkeyPatch) -> None:
    """A question nobody answered (closing with unsaved changes at teardown) discards."""
    monkeypatch.setattr(
        QMessageBox,
        "question",
        staticmethod(lambda *_args: QMessageBox.StandardButton.Discard),
    )


@pytest.fixture
def ws(profile: ProfileFixture) -> Iterator[Workspace]:
    workspace = profile.sign_in(ADMIN)
    yield workspace
    workspace.close()


@pytest.fixture
def window(qtbot: QtBot, ws: Workspace) -> SettingsWindow:
    dialog = SettingsWindow(ws, on_restore=lambda _parent: None)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def _answer(monkeypatch: pytest.MonkeyPatch, button: QMessageBox.StandardButton) -> list[str]:
    asked: list[str] = []

    def question(_parent: QWidget, title: str, text: str, *_args: object) -> object:
        asked.append(f"{title}\n{text}")
        return button

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    return asked


def _audited(ws: Workspace, subject: str) -> int:
    with ws.db.read() as session:
        rows = session.scalars(
            select(AuditLogEntry).where(
                AuditLogEntry.action == "settings_changed", AuditLogEntry.subject_id == subject
            )
        ).all()
    return len(rows)


# -- built from the declarations ------------------------------------------------------------


def test_every_declared_setting_has_its_widget_label_and_help(window: SettingsWindow) -> None:
    assert set(window.fields) == {spec.key for spec in declared.SETTINGS}
    expected = {bool: QCheckBox, int: QSpinBox}
    for spec in declared.SETTINGS:
        field = window.fields[spec.key]
        kind = QComboBox if spec.choices else expected.get(spec.type, QLineEdit)
        assert isinstance(field.input, kind), spec.key
        assert field.input.accessibleName() == spec.description
        assert field.label.buddy() is field.input
        if spec.extra.get("help"):
            assert field.help.text() and field.input.accessibleDescription() == field.help.text()
        if isinstance(field.input, QSpinBox):
            assert field.input.minimum() == spec.minimum
            assert field.input.maximum() == spec.maximum
    groups = list(dict.fromkeys(spec.group for spec in declared.SETTINGS))
    titles = [window.nav.item(i).text() for i in range(window.nav.count())]
    assert "Träger und Einwilligung" in titles
    assert [t for t in titles if t != "Träger und Einwilligung"] == groups


def test_saving_stores_changed_values_through_the_settings_service(
    window: SettingsWindow, ws: Workspace
) -> None:
    assert not window.save_button.isEnabled()
    spin = window.fields["security.autolock_minutes"].input
    assert isinstance(spin, QSpinBox)
    spin.setValue(5)
    site = window.fields["site.name"].input
    assert isinstance(site, QLineEdit)
    site.setText("Bielefeld-Mitte")
    assert window.save_button.isEnabled()
    assert window.save()
    assert ws.settings.get("security.autolock_minutes") == 5
    assert ws.settings.get("site.name") == "Bielefeld-Mitte"
    assert _audited(ws, "security.autolock_minutes") == 1
    assert "nächsten Anmeldung" in window.status.text()
    assert sorted(window.changed_keys) == ["security.autolock_minutes", "site.name"]
    assert not window.save_button.isEnabled()


def test_limits_are_enforced_by_the_inputs(window: SettingsWindow) -> None:
    spin = window.fields["security.autolock_minutes"].input
    assert isinstance(spin, QSpinBox)
    spin.setValue(500)
    assert spin.value() == 120
    spin.setValue(0)
    assert spin.value() == 1


def test_an_invalid_value_is_explained_in_german_and_nothing_is_saved(
    window: SettingsWindow, ws: Workspace
) -> None:
    window.fields["security.autolock_minutes"].input.setValue(7)  # type: ignore[attr-defined]
    url = window.fields["sync.server_url"]
    url.input.setText("ftp://zentrale")  # type: ignore[attr-defined]
    assert not window.save()
    assert url.error.isVisibleTo(window)
    assert "https://" in url.error.text() and "Adresse der Zentrale" in url.error.text()
    assert url.input.property("invalid") is True
    assert window.pages.currentIndex() == window._page_of["sync.server_url"]
    assert "rot markierten" in window.status.text()
    assert ws.settings.get("security.autolock_minutes") == 10  # nothing stored
    url.input.setText("https://zentrale.example.de/")  # type: ignore[attr-defined]
    assert not url.error.isVisibleTo(window)
    assert window.save()
    assert ws.settings.get("sync.server_url") == "https://zentrale.example.de"


def test_language_is_a_device_setting(window: SettingsWindow, ws: Workspace) -> None:
    combo = window.fields["ui.language"].input
    assert isinstance(combo, QComboBox)
    combo.setCurrentIndex(combo.findData("en"))
    assert window.save()
    assert ws.profile.read_meta()["device"]["ui.language"] == "en"
    assert window.language_to_apply == "en"
    assert "Sprache wechselt" in window.status.text()


def test_only_administrators_open_the_window(profile: ProfileFixture, qtbot: QtBot) -> None:
    counsellor = profile.sign_in(COUNSELLOR)
    try:
        with pytest.raises(PermissionDenied):
            SettingsWindow(counsellor)
    finally:
        counsellor.close()


def test_closing_with_unsaved_changes_asks_first(
    window: SettingsWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    window.fields["site.name"].input.setText("Ungespeichert")  # type: ignore[attr-defined]
    asked = _answer(monkeypatch, QMessageBox.StandardButton.Cancel)
    window.close_button.click()
    assert asked and window.isVisible()
    _answer(monkeypatch, QMessageBox.StandardButton.Discard)
    window.close_button.click()
    assert not window.isVisible()


# -- organisation and consent ---------------------------------------------------------------


def test_the_shipped_template_is_shown_until_the_profile_has_its_own(
    window: SettingsWindow,
) -> None:
    page = window.organisation
    assert not page.file.is_custom
    assert page.text == default_text()
    assert "Vorlage" in page.source.text()
    assert "central_office" in page.summary.text()


def test_an_invalid_organisation_file_names_the_line_and_is_not_saved(
    window: SettingsWindow, ws: Workspace
) -> None:
    page = window.organisation
    broken = page.text.replace("controller:", "controler:", 1)
    page.editor.setPlainText(broken)
    assert not window.save()
    assert page.problems.count() >= 1
    first = page.problems.item(0).text()
    assert first.startswith("Zeile ") and "controler" in first
    assert window.pages.currentIndex() == window._page_of[ORGANISATION_PAGE]
    assert not (ws.profile.root / "organisation.yaml").exists()
    page.problems.itemClicked.emit(page.problems.item(0))
    line = int(first.split()[1].rstrip(":"))
    assert page.editor.textCursor().blockNumber() + 1 == line


def test_a_changed_organisation_is_saved_atomically_and_used_at_once(
    window: SettingsWindow, ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = window.organisation
    assert ws.organisation.controller.name.startswith("Stadt Musterstadt")
    text = page.text.replace(
        "name: Stadt Musterstadt, Kommunales Integrationszentrum",
        "name: Stadt Bielefeld, Kommunales Integrationszentrum",
        1,
    )
    page.editor.setPlainText(text)
    _answer(monkeypatch, QMessageBox.StandardButton.Yes)
    assert window.save()
    saved = ws.profile.root / "organisation.yaml"
    assert saved.read_text("utf-8") == text
    assert not list(ws.profile.root.glob(".organisation.yaml.*"))
    assert ws.organisation.controller.name.startswith("Stadt Bielefeld")
    assert _audited(ws, "organisation.yaml") == 1
    assert "Datei dieses Profils" in page.source.text()
    assert not page.dirty


def test_removing_a_consent_purpose_needs_confirmation(
    window: SettingsWindow, ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = resource("config", "examples", "organisation-caritas-example.yaml")
    source = Path(str(example))
    page = window.organisation
    page.load_file(source)
    assert page.check() is not None
    asked = _answer(monkeypatch, QMessageBox.StandardButton.No)
    assert not window.save()
    assert asked and "Einwilligungszwecke" in asked[0]
    assert not (ws.profile.root / "organisation.yaml").exists()
    _answer(monkeypatch, QMessageBox.StandardButton.Yes)
    assert window.save()
    assert OrganisationFile(ws.profile.root).is_custom


def test_an_unreadable_file_is_explained(window: SettingsWindow, tmp_path: Path) -> None:
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("name: M\xfcnster".encode("latin-1"))
    window.organisation.load_file(bad)
    assert "UTF-8" in window.organisation.status.text()
    assert window.organisation.text == default_text()


# -- backups and restore ----------------------------------------------------------------------


def test_backup_now_lists_the_new_backup(
    window: SettingsWindow, ws: Workspace, qtbot: QtBot
) -> None:
    page = window.backup_page
    assert page.list.count() == 0 and "noch keine" in page.latest.text()
    page.backup_button.click()
    qtbot.waitUntil(lambda: page.list.count() == 1, timeout=20_000)
    assert "von Hand angelegt" in page.list.item(0).text()
    assert "Letzte Sicherung" in page.latest.text()
    assert len(list_backups(ws.profile)) == 1


def test_restore_request_closes_the_window_and_calls_the_handler(
    qtbot: QtBot, ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from intake_app.storage.backup import create_backup

    create_backup(ws)
    calls: list[QWidget | None] = []
    parent = QWidget()
    qtbot.addWidget(parent)
    dialog = SettingsWindow(ws, parent=parent, on_restore=calls.append)
    qtbot.addWidget(dialog)
    dialog.show()
    asked = _answer(monkeypatch, QMessageBox.StandardButton.Yes)
    dialog.backup_page.restore_button.click()
    assert asked and "Passwörter" in asked[0]
    assert not dialog.isVisible() and dialog.restore_requested
    qtbot.waitUntil(lambda: calls == [parent], timeout=5_000)


def test_restore_dialog_checks_the_password_then_restores(
    profile: ProfileFixture, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    from intake_app.storage.backup import create_backup

    admin = profile.sign_in(ADMIN)
    info = create_backup(admin)
    admin.settings.put("site.name", "Nach der Sicherung")
    admin.close()

    dialog = RestoreDialog(profile.profile, username=ADMIN)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.selected() is not None and dialog.selected().name == info.name  # type: ignore[union-attr]
    assert "Passwörter" in dialog.findChildren(type(dialog.error))[1].text()
    dialog.password.setText("falsch-falsch-2026")
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: "falsch" in dialog.error.text(), timeout=20_000)
    assert dialog.result_ is None
    dialog.password.setText(ADMIN_PASSWORD)
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: dialog.result_ is not None, timeout=30_000)
    assert dialog.result_ is not None
    assert dialog.result_.restored.name == info.name
    admin = profile.sign_in(ADMIN)
    try:
        assert admin.settings.get("site.name") == "Köln-Mülheim"
    finally:
        admin.close()

    shown: list[str] = []
    monkeypatch.setattr(
        QMessageBox, "information", staticmethod(lambda _p, _t, text: shown.append(text))
    )
    monkeypatch.setattr(RestoreDialog, "exec", lambda self: 0)
    assert settings_backup.offer_restore(None, profile.profile) is None
    assert shown == []


# -- 150 % font -------------------------------------------------------------------------------


@pytest.fixture
def large_font(qapp: QApplication) -> Iterator[None]:
    """The application font at 150 % (as with Windows' text size setting), restored after."""
    from intake_app.ui.style import apply_style

    original = qapp.font()
    font = QFont(original)
    font.setPointSizeF(original.pointSizeF() * 1.5)
    qapp.setFont(font)
    apply_style(qapp)
    yield
    qapp.setFont(original)
    apply_style(qapp)


def _problems(root: QWidget) -> list[str]:
    """Unnamed inputs, cut-off buttons and clipped word-wrapped labels under ``root``."""
    found = []
    inputs = (QAbstractButton, QLineEdit, QComboBox, QAbstractSpinBox, QPlainTextEdit, QListWidget)
    for widget in root.findChildren(QWidget):
        if not widget.isVisibleTo(root) or widget.objectName().startswith("qt_"):
            continue
        if isinstance(widget, inputs):
            text = widget.text().replace("&", "") if isinstance(widget, QAbstractButton) else ""
            if not (widget.accessibleName() or text.strip()):
                found.append(f"unnamed {type(widget).__name__}")
        if isinstance(widget, QPushButton) and widget.sizeHint().width() > widget.width() + 2:
            found.append(f"button cut off: {widget.text()}")
        if isinstance(widget, QLabel) and widget.wordWrap() and widget.text():
            if widget.heightForWidth(widget.width()) > widget.height() + 3:
                found.append(f"label clipped: {widget.text()[:40]}")
    return found


def _settle(qapp: QApplication) -> None:
    for _round in range(4):
        qapp.processEvents()


def test_settings_and_error_dialogs_are_usable_at_150_percent(
    large_font: None, qtbot: QtBot, qapp: QApplication, ws: Workspace, tmp_path: Path
) -> None:
    from intake_app.errors import ProfileError
    from intake_app.storage.backup import create_backup
    from intake_app.ui import errors as errors_module

    create_backup(ws)
    window = SettingsWindow(ws, on_restore=lambda _parent: None)
    qtbot.addWidget(window)
    window.resize(1366 - 80, 768 - 80)
    window.show()
    for row in range(window.nav.count()):
        window.nav.setCurrentRow(row)
        _settle(qapp)
        page = window.pages.currentWidget()
        assert page is not None
        assert _problems(page) == [], window.nav.item(row).text()
    assert _problems(window) == []

    restore = RestoreDialog(ws.profile, username=ADMIN, reason="Die Datenbank ist beschädigt.")
    qtbot.addWidget(restore)
    restore.show()
    _settle(qapp)
    assert [p for p in _problems(restore) if "PasswordField" not in p] == []

    corrupt = errors_module.create_dialog(None, ProfileError("Beschädigt.", kind="corrupt"))
    qtbot.addWidget(corrupt)
    corrupt.show()
    corrupt.toggle_button.setChecked(True)
    _settle(qapp)
    assert _problems(corrupt) == []


def test_daily_backup_after_sign_in_runs_once_in_the_background(
    qtbot: QtBot, ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from intake_app.atomic import disk_full_error
    from intake_app.ui.ops import wait_for_all

    host = QWidget()
    qtbot.addWidget(host)
    settings_backup.start_daily_backup(host, ws)
    qtbot.waitUntil(lambda: len(list_backups(ws.profile)) == 1, timeout=20_000)
    settings_backup.start_daily_backup(host, ws)
    wait_for_all()
    assert len(list_backups(ws.profile)) == 1

    shown: list[BaseException] = []
    monkeypatch.setattr(settings_backup, "show_error", lambda _parent, exc: shown.append(exc))

    def full(_ws: Workspace) -> None:
        raise disk_full_error()

    monkeypatch.setattr(settings_backup, "backup_if_due", full)
    settings_backup.start_daily_backup(host, ws)
    qtbot.waitUntil(lambda: len(shown) == 1, timeout=10_000)
    assert getattr(shown[0], "kind", "") == "disk_full"


def test_settings_without_a_valid_seal_show_the_defaults_and_saving_signs_them(
    profile: ProfileFixture, qtbot: QtBot
) -> None:
    """The seal removed outside the program (storage/settings_repo.py): the defaults count,
    the window says so and offers to save them as shown; saving signs them again."""
    first = profile.sign_in(ADMIN)
    try:
        first.settings.put("security.autolock_minutes", 5)
        with first.db.write() as session:
            session.execute(text("DELETE FROM settings WHERE key = '__settings_seal__'"))
    finally:
        first.close()
    ws = profile.sign_in(ADMIN)
    try:
        assert ws.sign_in_result.safe_mode
        assert ws.settings.unconfirmed
        dialog = SettingsWindow(ws, on_restore=lambda _parent: None)
        qtbot.addWidget(dialog)
        dialog.show()
        spin = dialog.fields["security.autolock_minutes"].input
        assert isinstance(spin, QSpinBox) and spin.value() == 10  # the default, not 5
        assert "Voreinstellungen" in dialog.status.text()
        assert dialog.status.accessibleDescription() == dialog.status.text()  # read out
        assert dialog.save_button.isEnabled()
        assert dialog.save()
        assert not ws.settings.unconfirmed
        assert dialog.status.text() == "Gespeichert."
        assert not dialog.save_button.isEnabled()
        dialog.close()
    finally:
        ws.close()
    again = profile.sign_in(COUNSELLOR)
    try:
        assert not again.sign_in_result.safe_mode
        assert again.settings.get("security.autolock_minutes") == 10
    finally:
        again.close()
