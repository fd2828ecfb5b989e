"""The schema snapshot the sign-in checks files against is the program's own schema.

``intake_app/storage/schema_snapshot.py`` lists every table, index and trigger the program
makes with each definition it ever wrote (storage/schema_guard.py, ``restore_schema``). It
is generated from a new profile and from every released schema fixture; after a
migration, run ``tests/fixtures/make_schema_snapshot.py``.
"""

from __future__ import annotations

from intake_app.storage import schema_snapshot
from tests.fixtures.make_schema_snapshot import as_snapshot, collect


def test_the_snapshot_is_what_the_program_makes() -> None:
    profile, store = collect()
    assert ("trigger", "audit_log_no_update", "audit_log") in profile
    assert ("table", "records", "records") in store
    hint = "the schema changed: run tests/fixtures/make_schema_snapshot.py"
    assert schema_snapshot.PROFILE == as_snapshot(profile), hint
    assert schema_snapshot.STORE == as_snapshot(store), hint
