"""An older copy of a store file put back (docs/security.md, "An older copy of a store
file"): whoever can write the profile folder brings back a record that was erased. The
next sign-in erases it again and says so."""

from __future__ import annotations

import shutil

from intake_app.app import Workspace
from intake_app.storage.profile import Profile
from intake_app.storage.records import RecordQuery
from tests.helpers.attacker import what_she_reads
from tests.helpers.key_site import own, write_record


def test_an_erased_record_brought_back_with_an_old_store_copy_is_erased_again(
    site: tuple[Profile, str],
) -> None:
    profile, _ = site
    Workspace.sign_in(profile, username="leitung", password=own("leitung")).close()
    record_id = write_record(profile, "anna", "Kanariengeloescht")
    ws = Workspace.sign_in(profile, username="anna", password=own("anna"))
    store = ws.scope.stores[ws.scope.own or ""].path
    ws.close()  # the WAL is folded in: the file alone is the store
    old_copy = profile.root.parent / "old-copy.bin"  # kept outside the profile
    shutil.copy2(store, old_copy)

    ws = Workspace.sign_in(profile, username="leitung", password=own("leitung"))
    ws.lifecycle.erase(record_id, reason="request")
    ws.close()
    assert "Kanariengeloescht" not in what_she_reads(profile.root, "anna", own("anna"))[0]

    for suffix in ("-wal", "-shm"):
        store.with_name(store.name + suffix).unlink(missing_ok=True)
    shutil.move(old_copy, store)  # the older copy put back
    assert "Kanariengeloescht" in what_she_reads(profile.root, "anna", own("anna"))[0]

    ws = Workspace.sign_in(profile, username="anna", password=own("anna"))
    try:
        messages = ws.sign_in_result.integrity_messages
        assert any("ältere Kopie" in m for m in messages), messages
        assert record_id not in [s.id for s in ws.records.list(RecordQuery())]
    finally:
        ws.close()
    assert "Kanariengeloescht" not in what_she_reads(profile.root, "anna", own("anna"))[0]
