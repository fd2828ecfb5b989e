"""Audit entries count only when signed by a key certified from the profile's root
(docs/security.md, "Signed audit entries and anchors").

The attacker is a counsellor: her password opens the profile database, where she can add
a signing key row of her own making for any user and sign entries with it.
"""

from __future__ import annotations

import sqlcipher3

from intake_app.app import Workspace
from intake_app.storage import user_keys
from intake_app.storage.profile import Profile
from tests.helpers.attacker import keys_for
from tests.helpers.key_site import own


def _resign_newest_entry_with_a_planted_key(profile: Profile) -> int:
    """As anna: plant a key row for the administrator and sign the newest entry with it;
    return that entry's number."""
    profile_key = keys_for(profile.vault_path, "anna", own("anna"))[0]
    db = sqlcipher3.connect(str(profile.root / "intake.db"))
    try:
        db.execute(f"PRAGMA key = \"x'{profile_key.hex()}'\"")
        admin_id = db.execute("SELECT id FROM users WHERE username = 'admin'").fetchone()[0]
        seq, digest = db.execute(
            "SELECT seq, hash FROM audit_log WHERE actor = 'admin' ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        planted = user_keys.generate_key()
        kid = user_keys.key_id(planted)
        db.execute(
            "INSERT INTO user_keys (kid, user_id, public_key, created_at) VALUES (?, ?, ?, ?)",
            (kid, admin_id, user_keys.public_text(planted), "2026-01-01T00:00:00Z"),
        )
        signature = user_keys.sign(
            planted, user_keys.AUDIT_DOMAIN, user_keys.audit_message(seq, digest)
        )
        triggers = db.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'"
        ).fetchall()
        for name, _sql in triggers:
            db.execute(f'DROP TRIGGER "{name}"')
        db.execute(
            "UPDATE audit_log SET signer = ?, signature = ? WHERE seq = ?", (kid, signature, seq)
        )
        for _name, sql in triggers:
            db.execute(sql)
        db.commit()
        return int(seq)
    finally:
        db.close()


def test_an_entry_signed_with_a_key_row_nobody_certified_is_reported(
    site: tuple[Profile, str],
) -> None:
    profile, _ = site
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    try:
        assert ws.verify_audit().ok, "the honest log checks"
    finally:
        ws.close()
    seq = _resign_newest_entry_with_a_planted_key(profile)
    ws = Workspace.sign_in(profile, username="admin", password=own("admin"))
    try:
        report = ws.verify_audit()
    finally:
        ws.close()
    assert not report.ok
    assert ("uncertified_signer", seq) in {(p.kind, p.seq) for p in report.problems}
    messages = [p.message() for p in report.problems]
    assert any("keine Administration bestätigt" in m for m in messages)
