"""The organisation file counts only with an administrator's signature (finding a7).

Tried as attacker run 15 did (finding a7): ``organisation.yaml`` in the profile folder
decides which data categories the "transfer to the central office" purpose releases. Anyone
who can write the folder (no password needed) adds ``contact`` to that purpose, and the next
batch a counsellor sends carries phone and municipality beyond the person's consent. Now the
file is used only when a key that counts as a signer signed it (docs/security.md, "The
organisation file"); otherwise the shipped template applies, and the sign-in says so and
audits it. The attacker here edits files with plain Python, with her own key at most.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import sqlcipher3
from sqlalchemy import select

from intake_app.app import Workspace
from intake_app.core.forms import load_organisation
from intake_app.core.forms.organisation import CENTRAL_OFFICE
from intake_app.core.permissions import Actor, Role
from intake_app.demo.data import add_synthetic_intakes
from intake_app.device_sync.outbox import record_entry
from intake_app.errors import PermissionDenied
from intake_app.storage import audit, backup, integrity, organisation_seal, user_keys, users
from intake_app.storage.models import OutboxItem
from intake_app.storage.profile import Profile
from intake_app.ui.settings_organisation import OrganisationFile, default_text
from tests.helpers.attacker import findings, keys_for
from tests.helpers.key_site import FAST, build_site, own
from tests.unit.keys.test_planted_code import _forge_index

TEMPLATE = default_text()
#: the attacker's file: the central office purpose releases the contact details too
EVIL = TEMPLATE.replace(
    "data_categories: [identity, residence, language, education, work_experience, goals, "
    "circumstances]",
    "data_categories: [identity, residence, language, education, work_experience, goals, "
    "circumstances, contact]",
    1,
)
#: answers of the data category ``contact`` in the shipped interview
CONTACT = {
    "address_street",
    "address_postcode",
    "municipality",
    "municipality_ags",
    "phone",
    "email",
    "preferred_channel",
}


def test_the_attackers_file_differs_from_the_template() -> None:
    assert EVIL != TEMPLATE
    assert "contact" not in load_organisation().purpose(CENTRAL_OFFICE).data_categories


def _finalised_by_berta(profile: Profile) -> None:
    """berta finalises an intake whose person consented to the central office purpose,
    with phone and municipality answered (in her outbox, to go with the next batch)."""
    ws = Workspace.sign_in(profile, username="berta", password=own("berta"))
    try:
        add_synthetic_intakes(ws, count=1, seed=7, complete_share=1.0)
        answers = _outbox_answers(ws, sent=False)
        assert CONTACT & set(answers), "the record must hold contact details to leak"
    finally:
        ws.close()


def _outbox_answers(ws: Workspace, *, sent: bool = True) -> dict[str, object]:
    """The answers of her outbox's records: as the next batch carries them (``sent``), or
    the records' own answers."""
    out: dict[str, object] = {}
    with ws.db.read() as session:
        items = session.scalars(select(OutboxItem).where(OutboxItem.kind == "record")).all()
        for item in items:
            if sent:
                entry = record_entry(session, item, forms=ws.forms, organisation=ws.organisation)
                assert entry is not None
                out.update(entry["answers"])
            else:
                out.update(ws.records.get(item.record_id).answers)
    return out


def _berta_sends(profile: Profile) -> tuple[Workspace, dict[str, object]]:
    """berta signs in as usual; what her next batch would carry (the workspace stays open)."""
    ws = Workspace.sign_in(profile, username="berta", password=own("berta"))
    return ws, _outbox_answers(ws)


def _findings(ws: Workspace) -> list[dict]:
    return findings(ws, "organisation_changed")


def _signing_keys(profile: Profile, user: str, password: str) -> tuple[user_keys.SigningKeys, str]:
    """Her own signing key as her password opens it, and the profile's root id."""
    keys = profile.vault().unlock_user(user, password)
    db, _steps = profile.open_database(keys.profile_key)
    try:
        with db.read() as session:
            row = users.get_by_name(session, username=user)
            assert row is not None
            signing, _adopted = integrity.current_keys(session, row, keys)
            root_kid = integrity.check_state(session).root_kid
    finally:
        db.close()
    assert signing is not None
    return signing, root_kid


# -- (1) a file changed outside the program ---------------------------------------------


@pytest.mark.parametrize("signature", ["none", "the earlier file's"])
def test_a_file_changed_outside_the_program_is_not_used_and_is_reported(
    site: tuple[Profile, str], signature: str
) -> None:
    profile, _ = site
    _finalised_by_berta(profile)
    if signature != "none":  # the administrator had saved the template through the program
        admin = Workspace.sign_in(profile, username="admin", password=own("admin"))
        OrganisationFile(profile.root, admin).save(TEMPLATE)
        admin.close()
        assert (profile.root / "organisation.yaml.sig").is_file()
    (profile.root / "organisation.yaml").write_text(EVIL, "utf-8")  # the attack

    ws, sent = _berta_sends(profile)
    try:
        assert not CONTACT & set(sent), "contact details went beyond the consent"
        assert "contact" not in ws.organisation.purpose(CENTRAL_OFFICE).data_categories
        assert ws.sign_in_result.safe_mode
        assert any("Organisationsdatei" in m for m in ws.sign_in_result.integrity_messages)
        digest = hashlib.sha384(EVIL.encode("utf-8")).hexdigest()
        assert [f["sha384"] for f in _findings(ws)] == [digest]
    finally:
        ws.close()


def test_the_administrator_sees_the_file_is_not_in_force_and_saving_it_releases_it(
    site: tuple[Profile, str],
) -> None:
    profile, _ = site
    (profile.root / "organisation.yaml").write_text(EVIL, "utf-8")
    admin = Workspace.sign_in(profile, username="admin", password=own("admin"))
    try:
        assert admin.sign_in_result.safe_mode  # reported to her too: nothing signed as found
        file = OrganisationFile(profile.root, admin)
        assert file.refused and not file.is_custom
        assert file.read_text() == TEMPLATE  # what is in force, not the planted text
        file.save(EVIL)  # she read it and approves it
        assert file.is_custom and not file.refused
    finally:
        admin.close()


# -- (2) saved through the program ------------------------------------------------------


def test_an_administrator_saving_through_the_program_signs_the_file_and_it_is_used(
    site: tuple[Profile, str],
) -> None:
    profile, _ = site
    _finalised_by_berta(profile)
    admin = Workspace.sign_in(profile, username="admin", password=own("admin"))
    try:
        OrganisationFile(profile.root, admin).save(EVIL)
        assert "contact" in admin.organisation.purpose(CENTRAL_OFFICE).data_categories
    finally:
        admin.close()
    signature = json.loads((profile.root / "organisation.yaml.sig").read_text("utf-8"))
    assert signature["format"] == organisation_seal.SIGNATURE_FORMAT

    ws, sent = _berta_sends(profile)
    try:
        assert not ws.sign_in_result.safe_mode
        assert "contact" in ws.organisation.purpose(CENTRAL_OFFICE).data_categories
        assert CONTACT & set(sent)  # what the organisation decided, signed, is carried out
        assert _findings(ws) == []
    finally:
        ws.close()


def test_a_counsellor_cannot_save_it_and_a_signed_file_carried_to_another_profile_fails(
    site: tuple[Profile, str], tmp_path: Path
) -> None:
    profile, _ = site
    ws = Workspace.sign_in(profile, username="anna", password=own("anna"))
    try:
        with pytest.raises(PermissionDenied):
            ws.save_organisation(EVIL.encode("utf-8"))
    finally:
        ws.close()
    assert not (profile.root / "organisation.yaml").exists()

    # a file the administrator of another profile signed
    other, _ = build_site(tmp_path / "other")
    admin = Workspace.sign_in(other, username="admin", password=own("admin"))
    OrganisationFile(other.root, admin).save(EVIL)
    admin.close()
    for name in ("organisation.yaml", "organisation.yaml.sig"):
        shutil.copy2(other.root / name, profile.root / name)
    ws, _sent = _berta_sends(profile)
    try:
        assert "contact" not in ws.organisation.purpose(CENTRAL_OFFICE).data_categories
        assert ws.sign_in_result.safe_mode and len(_findings(ws)) == 1
    finally:
        ws.close()


# -- (3) signed with a counsellor's own key ---------------------------------------------


@pytest.mark.parametrize("kid", ["her own", "the administrator's"])
def test_a_file_signed_with_a_counsellors_own_key_is_not_used(
    site: tuple[Profile, str], kid: str
) -> None:
    profile, _ = site
    _finalised_by_berta(profile)
    anna, root_kid = _signing_keys(profile, "anna", own("anna"))
    admin, _root = _signing_keys(profile, "admin", own("admin"))
    data = EVIL.encode("utf-8")
    (profile.root / "organisation.yaml").write_bytes(data)
    signed_at, how = "2026-01-01T00:00:00Z", organisation_seal.SAVED
    message = organisation_seal.payload(data, root_kid=root_kid, signed_at=signed_at, how=how)
    (profile.root / "organisation.yaml.sig").write_text(
        json.dumps(
            {
                "format": organisation_seal.SIGNATURE_FORMAT,
                "kid": anna.kid if kid == "her own" else admin.kid,
                "signed_at": signed_at,
                "how": how,
                "signature": user_keys.sign(anna.signing_key, organisation_seal.DOMAIN, message),
            }
        ),
        "utf-8",
    )

    ws, sent = _berta_sends(profile)
    try:
        assert not CONTACT & set(sent)
        assert "contact" not in ws.organisation.purpose(CENTRAL_OFFICE).data_categories
        assert ws.sign_in_result.safe_mode
        assert [f["status"] for f in _findings(ws)] == ["changed"]
    finally:
        ws.close()


# -- (4) the update window --------------------------------------------------------------


def _old_profile(tmp_path: Path) -> tuple[Profile, str]:
    """A profile of schema 0004 (before the update): no signatures at all."""
    source = Path(__file__).parents[2] / "fixtures" / "schemas" / "0004_lifecycle"
    expected = json.loads((source / "expected.json").read_text("utf-8"))
    shutil.copytree(source, tmp_path / "p")
    return Profile(tmp_path / "p"), expected["password"]


def _integrity_signed(ws: Workspace) -> list[dict]:
    with ws.db.read() as session:
        return [
            entry.details
            for entry in audit.entries_for_subject(
                session, subject_type="setting", subject_id="organisation.yaml"
            )
            if entry.action == "integrity_signed"
        ]


def test_an_unsigned_file_from_before_the_update_is_signed_at_the_first_admin_sign_in(
    tmp_path: Path,
) -> None:
    profile, password = _old_profile(tmp_path)
    text = EVIL.replace("text_version:", "# saved before the update\ntext_version:", 1)
    (profile.root / "organisation.yaml").write_text(text, "utf-8")  # from before the update

    admin = Workspace.sign_in(profile, username="admin", password=password)
    try:
        # a notice, not a finding: the update window is no change outside the program
        assert any("vor dem Update" in m for m in admin.sign_in_result.notices)
        assert not admin.sign_in_result.safe_mode
        digest = hashlib.sha384(text.encode("utf-8")).hexdigest()
        assert [d["organisation"] for d in _integrity_signed(admin)] == [digest]
        assert "contact" in admin.organisation.purpose(CENTRAL_OFFICE).data_categories
        seal = OrganisationFile(profile.root, admin).seal()
        assert seal is not None and seal.counts and seal.how == organisation_seal.UPDATE
        assert admin.verify_audit().ok
    finally:
        admin.close()
    assert (profile.root / "organisation.yaml.sig").is_file()

    ws = Workspace.sign_in(profile, username="berater", password=password)
    try:
        assert not ws.sign_in_result.safe_mode
        assert "contact" in ws.organisation.purpose(CENTRAL_OFFICE).data_categories
    finally:
        ws.close()

    # the window is closed: a file changed afterwards is reported, never signed as found
    (profile.root / "organisation.yaml").write_text(text + "\n# later\n", "utf-8")
    (profile.root / "organisation.yaml.sig").unlink()
    admin = Workspace.sign_in(profile, username="admin", password=password)
    try:
        assert admin.sign_in_result.safe_mode
        assert len(_integrity_signed(admin)) == 1
        assert len(_findings(admin)) == 1
        assert not (profile.root / "organisation.yaml.sig").exists()
        assert "contact" not in admin.organisation.purpose(CENTRAL_OFFICE).data_categories
    finally:
        admin.close()


def test_without_a_file_the_first_admin_sign_in_closes_the_window(tmp_path: Path) -> None:
    profile, password = _old_profile(tmp_path)
    admin = Workspace.sign_in(profile, username="admin", password=password)
    try:
        assert [d["organisation"] for d in _integrity_signed(admin)] == [None]
        assert not admin.sign_in_result.safe_mode
    finally:
        admin.close()
    (profile.root / "organisation.yaml").write_text(EVIL, "utf-8")  # planted afterwards
    admin = Workspace.sign_in(profile, username="admin", password=password)
    try:
        assert admin.sign_in_result.safe_mode
        assert not (profile.root / "organisation.yaml.sig").exists()
        assert "contact" not in admin.organisation.purpose(CENTRAL_OFFICE).data_categories
    finally:
        admin.close()


def test_until_an_administrator_signs_in_counsellors_get_the_template_and_are_told(
    tmp_path: Path,
) -> None:
    """A profile whose administrator has not signed in since the update (here: one just
    created): a counsellor's sign-in leaves the file unsigned, uses the template and tells
    her to ask the administration."""
    profile = Profile(tmp_path / "neu", kdf_params=FAST)
    profile.create(admin_name="admin", admin_password=own("admin"), site_name="Ort")
    (profile.root / "organisation.yaml").write_text(EVIL, "utf-8")
    keys = profile.vault().unlock_user("admin", own("admin"))
    db, _steps = profile.open_database(keys.profile_key)
    try:
        with db.read() as session:
            report = integrity.check_state(session)
            before = len(list(audit.iter_entries(session)))
        counsellor = Actor(user_id=99, username="anna", role=Role.COUNSELLOR, display_name="")
        findings, notices = organisation_seal.at_sign_in(
            db, profile.root, actor=counsellor, keys=None, report=report
        )
        assert findings == ()
        assert len(notices) == 1 and "Administration Bescheid" in notices[0]
        seal = organisation_seal.current(profile.root, db, report)
        assert seal.status is organisation_seal.Status.UNSIGNED
        config = organisation_seal.load(seal, profile.root)
        assert "contact" not in config.purpose(CENTRAL_OFFICE).data_categories
        with db.read() as session:
            assert len(list(audit.iter_entries(session))) == before  # nothing to report yet
    finally:
        db.close()
    assert not (profile.root / "organisation.yaml.sig").exists()


# -- backups ----------------------------------------------------------------------------


def test_a_backup_carries_the_signature_and_a_restore_puts_it_back(
    site: tuple[Profile, str],
) -> None:
    profile, _ = site
    admin = Workspace.sign_in(profile, username="admin", password=own("admin"))
    try:
        OrganisationFile(profile.root, admin).save(EVIL)
        info = backup.create_backup(admin)
    finally:
        admin.close()
    assert {"organisation.yaml", "organisation.yaml.sig"} <= set(info.files)
    for name in ("organisation.yaml", "organisation.yaml.sig"):
        (profile.root / name).unlink()
    key = backup.unlock_for_restore(profile, info, username="admin", password=own("admin"))
    backup.restore_backup(profile, info, key=key, username="admin")
    assert (profile.root / "organisation.yaml.sig").is_file()
    ws, _sent = _berta_sends(profile)
    try:
        assert not ws.sign_in_result.safe_mode
        assert "contact" in ws.organisation.purpose(CENTRAL_OFFICE).data_categories
    finally:
        ws.close()


def test_a_forged_audit_index_does_not_reopen_the_update_window(
    site: tuple[Profile, str],
) -> None:
    """Attacker run 16: anna made the audit log's subject index hide the entry that closed
    the update window, and put an unsigned file in place; the administrator's next sign-in
    signed it "as found". The window's entry is now looked up in the log itself."""
    profile, _ = site
    key = keys_for(profile.root / "vault.json", "anna", own("anna"))[0]
    conn = sqlcipher3.connect(str(profile.root / "intake.db"))
    try:
        conn.isolation_level = None
        conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
        entries = [
            (kind, subject, seq)
            for seq, kind, subject in conn.execute(
                "SELECT seq, subject_type, subject_id FROM audit_log"
            )
            if (kind, subject) != organisation_seal.SUBJECT
        ]
        assert len(entries) < conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]
        _forge_index(conn, "ix_audit_log_subject", entries)
    finally:
        conn.close()
    (profile.root / "organisation.yaml").write_text(EVIL, "utf-8")
    admin = Workspace.sign_in(profile, username="admin", password=own("admin"))
    try:
        assert admin.sign_in_result.safe_mode
        assert not (profile.root / "organisation.yaml.sig").exists()
        assert "contact" not in admin.organisation.purpose(CENTRAL_OFFICE).data_categories
    finally:
        admin.close()
