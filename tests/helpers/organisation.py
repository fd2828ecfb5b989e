"""The organisation file as an administrator saves it: signed with her key.

The program uses ``<profile>/organisation.yaml`` only with an administrator's signature
beside it (docs/security.md, "The organisation file"). A test that writes the file
directly signs it here afterwards, with the administrator's own key as her password opens
it, the way saving it in the settings window does.
"""

from __future__ import annotations

from intake_app.storage import integrity, organisation_seal, users
from intake_app.storage.profile import Profile
from tests.conftest import ADMIN, ADMIN_PASSWORD


def sign_organisation(
    profile: Profile, *, username: str = ADMIN, password: str = ADMIN_PASSWORD
) -> None:
    """Sign the profile's ``organisation.yaml`` as it is, as administrator ``username``."""
    vault = profile.vault()
    keys = vault.unlock_user(username, password)
    db, _steps = profile.open_database(keys.profile_key)
    try:
        with db.read() as session:
            user = users.get_by_name(session, username=username)
            assert user is not None
            signing, _adopted = integrity.current_keys(session, user, keys)
        assert signing is not None, f"{username} has no signing key"
        db.audit_signer = integrity.signer_of(signing)
        data = (profile.root / organisation_seal.FILE_NAME).read_bytes()
        organisation_seal.save(db, profile.root, data, keys=signing, actor=username)
    finally:
        db.close()
