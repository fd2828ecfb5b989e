"""The office's memory of each device's audit heads: cut and rewritten logs (SQLite and
PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from intake_app.central import db
from intake_app.central.audit_heads import audit_states, note_audit_head
from intake_app.central.registry import utcnow
from intake_app.sync.batch import AUDIT_GONE, BatchHeader
from tests.unit.central.harness import pg_schema_url

DEVICE = str(uuid.uuid4())


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    if request.param == "sqlite":
        engine = db.open_database(f"sqlite:///{tmp_path / 'c.db'}", create=True)
        yield engine
        engine.dispose()
        return
    with pg_schema_url() as url:
        engine = db.open_database(url, create=True)
        yield engine
        engine.dispose()


def _header(
    seq: int,
    digest: str,
    prev: tuple[int, str] | None = None,
    named: tuple[tuple[int, str], ...] | None = None,
    created: str = "2026-12-05T10:00:00Z",
) -> BatchHeader:
    return BatchHeader(
        batch_id=str(uuid.uuid4()),
        device_id=DEVICE,
        device_key_id="0" * 32,
        office_key_id="0" * 32,
        recovery_key_id=None,
        created=created,
        record_count=0,
        instruction_count=0,
        compression="none",
        payload_length=2,
        records=(),
        instructions=(),
        audit_head=(seq, digest),
        audit_prev=prev,
        audit_named=named,
    )


def _note(engine: sa.Engine, header: BatchHeader):  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        return note_audit_head(conn, header, now=utcnow())


def test_a_growing_log_is_fine(engine: sa.Engine) -> None:
    assert _note(engine, _header(10, "a" * 64)) is None
    assert _note(engine, _header(10, "a" * 64)) is None  # two batches of one sync
    assert _note(engine, _header(25, "b" * 64, prev=(10, "a" * 64))) is None
    state = audit_states(engine)[DEVICE]
    assert state.highest == 25 and state.problems == 0


def test_a_head_below_the_highest_is_a_cut(engine: sa.Engine) -> None:
    _note(engine, _header(25, "b" * 64))
    note = _note(engine, _header(22, "c" * 64, prev=(25, AUDIT_GONE)))
    assert note is not None and note.kind == "cut" and note.known_seq == 25
    state = audit_states(engine)[DEVICE]
    assert state.problems == 1 and state.last_problem == "cut" and state.highest == 25


def test_a_known_number_with_another_hash_is_a_rewrite(engine: sa.Engine) -> None:
    _note(engine, _header(25, "b" * 64))
    # the log was cut and has grown past the old head since: the previous head's number
    # now holds another entry
    note = _note(engine, _header(31, "d" * 64, prev=(25, "e" * 64)))
    assert note is not None and note.kind == "rewritten" and note.seq == 25
    assert audit_states(engine)[DEVICE].last_problem == "rewritten"


def test_a_batch_without_audit_head_is_not_judged(engine: sa.Engine) -> None:
    header = _header(1, "a" * 64)
    header = BatchHeader(
        **{**{f: getattr(header, f) for f in header.__dataclass_fields__}, "audit_head": None}
    )
    assert _note(engine, header) is None
    assert DEVICE not in audit_states(engine)


def test_heads_other_batches_named_are_compared_whichever_store_sent_them(
    engine: sa.Engine,
) -> None:
    """Two stores of one device: one's batch named 10, the other's 20. A batch that names
    both as the log now gives them is fine; one whose log now gives 20 another hash (cut
    below it and grown past it since) is a rewrite."""
    assert _note(engine, _header(10, "a" * 64, named=())) is None
    assert _note(engine, _header(20, "b" * 64, named=((10, "a" * 64),))) is None
    assert _note(engine, _header(30, "c" * 64, named=((10, "a" * 64), (20, "b" * 64)))) is None
    note = _note(engine, _header(44, "d" * 64, named=((10, "a" * 64), (20, "e" * 64))))
    assert note is not None and note.kind == "rewritten" and note.seq == 20
    assert audit_states(engine)[DEVICE].last_problem == "rewritten"


def test_a_batch_that_no_longer_names_the_highest_head_comes_from_a_cut_log(
    engine: sa.Engine,
) -> None:
    """The log records every head as its batch is made; cut below it, the record is gone
    too, and the next batch names only older heads: the office reports the cut."""
    _note(engine, _header(10, "a" * 64, named=()))
    _note(engine, _header(20, "b" * 64, named=((10, "a" * 64),)))
    note = _note(engine, _header(25, "c" * 64, named=((10, "a" * 64),)))
    assert note is not None and note.kind == "cut" and note.seq == 20


def test_heads_from_devices_before_naming_are_not_required(engine: sa.Engine) -> None:
    """Heads kept from batches that did not name their heads (devices before the update)
    are compared when named, but a batch need not name them."""
    _note(engine, _header(10, "a" * 64))
    _note(engine, _header(20, "b" * 64, prev=(10, "a" * 64)))
    assert _note(engine, _header(25, "c" * 64, named=((10, "a" * 64),))) is None
    # from the first batch that names them on, the newest such head is required
    note = _note(engine, _header(30, "d" * 64, named=((10, "a" * 64),)))
    assert note is not None and note.kind == "cut" and note.seq == 25


def test_an_older_batch_that_arrives_late_is_no_cut(engine: sa.Engine) -> None:
    """A retry, a stick imported after a later sync over the network, the stores of one
    supervisor's sync: the batch with the lower head was made no later than the one with
    the highest, and names what was named before it."""
    _note(engine, _header(10, "a" * 64, named=(), created="2026-12-05T10:00:00Z"))
    _note(engine, _header(30, "c" * 64, named=((10, "a" * 64), (20, "b" * 64)), created=T2))
    assert _note(engine, _header(20, "b" * 64, named=((10, "a" * 64),), created=T1)) is None
    # the same second (one supervisor's sync over several stores) is no cut either
    both = ((10, "a" * 64), (20, "b" * 64))
    assert _note(engine, _header(25, "d" * 64, named=both, created=T2)) is None
    assert audit_states(engine)[DEVICE].problems == 0


def test_a_lower_head_in_a_batch_made_later_is_a_cut(engine: sa.Engine) -> None:
    _note(engine, _header(10, "a" * 64, named=(), created=T1))
    _note(engine, _header(30, "c" * 64, named=((10, "a" * 64),), created=T2))
    note = _note(engine, _header(22, "e" * 64, named=((10, "a" * 64),), created=T3))
    assert note is not None and note.kind == "cut" and (note.seq, note.known_seq) == (22, 30)


def test_a_clock_put_right_between_two_batches_is_no_cut(engine: sa.Engine) -> None:
    """Her batch was made while the clock ran four minutes fast and arrives after a later
    one made with the corrected clock (attacker run 29 saw a false alarm here)."""
    _note(engine, _header(10, "a" * 64, named=(), created=T1))
    _note(engine, _header(30, "c" * 64, named=((10, "a" * 64),), created="2026-12-05T10:05:00Z"))
    late = _header(20, "b" * 64, named=((10, "a" * 64),), created="2026-12-05T10:09:00Z")
    assert _note(engine, late) is None


def test_a_device_that_named_its_heads_and_sends_none_has_lost_its_log(
    engine: sa.Engine,
) -> None:
    """A log renumbered below 1 or emptied gives no head; the device's earlier batches
    named theirs, so the office reports it."""
    _note(engine, _header(10, "a" * 64, named=()))
    header = _header(1, "a" * 64)
    header = BatchHeader(
        **{**{f: getattr(header, f) for f in header.__dataclass_fields__}, "audit_head": None}
    )
    note = _note(engine, header)
    assert note is not None and note.kind == "cut" and (note.seq, note.known_seq) == (0, 10)
    assert audit_states(engine)[DEVICE].problems == 1


T1, T2, T3 = "2026-12-05T10:00:00Z", "2026-12-05T10:05:00Z", "2026-12-05T10:20:00Z"
