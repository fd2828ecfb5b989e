"""Nothing typed into the program appears in plaintext in any file of the profile."""

from __future__ import annotations

from intake_app.core.audit import AuditAction
from tests.conftest import ProfileFixture
from tests.helpers.canary import scan

CANARY_STAFF = "Zyxwvutsrqp Kanarienvogel"
CANARY_SITE = "Qwertzstadt-Kanarienweg"


def test_canary_is_nowhere_in_plaintext(profile: ProfileFixture) -> None:
    ws = profile.sign_in()
    try:
        ws.accounts.add_user(
            username="kanari1",
            role="counsellor",
            password="Kanarien-Pw-2026",
            display_name=CANARY_STAFF,
        )
        ws.settings.put("site.name", CANARY_SITE)
        ws.audit(AuditAction.SETTINGS_CHANGED, subject_type="setting", subject_id="site.name")
        # scan while the workspace is open: the WAL and shared memory files exist now
        assert (profile.profile.root / "intake.db-wal").exists()
        hits = scan(profile.profile.root, [CANARY_STAFF, CANARY_SITE])
    finally:
        ws.close()
    assert hits == []
    assert scan(profile.profile.root, [CANARY_STAFF, CANARY_SITE]) == []


def test_scanner_finds_a_plaintext_canary(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The scanner itself must be able to fail."""
    (tmp_path / "a.txt").write_text(f"x {CANARY_STAFF} y", "utf-16-le")
    assert scan(tmp_path, [CANARY_STAFF]) == [("a.txt", CANARY_STAFF)]
