"""Loading one decrypted payload into the central database (inside one transaction).

Record revisions are inserted by (record id, revision) and never overwritten;
``record_heads`` only moves forward, so an old revision arriving late never rolls a record
back. A record id belongs to the device that first sent it: revisions or instructions for
it from another device are answered ``conflict`` and not applied (an enrolled device
cannot overwrite or erase another device's records). A revision the office already holds
is answered ``duplicate`` only when it is byte for byte what the device sent; otherwise
``conflict``, so a device is never told "delivered" for a record the office holds in
another form. An erasure or consent withdrawal for an id the office has not seen waits in
``pending_instructions`` until the record arrives (the sender gets ``confirmed`` or
``recorded``: the office holds nothing under that id, and what arrives from the sender
later is erased); from the record's owner it is then carried out, from any other device
dropped. Erasure deletes every revision,
keeps one anonymised statistics row and blocks the id from coming back
(docs/security.md, "Central office: keys, receiver and importer"). A withdrawal of the
``central_office`` purpose reduces every revision it covers to the statistics minimum
(intake_app/sync/minimum.py), and so does a covered revision that arrives after it
(docs/security.md, "What reaches the central office").
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection

from intake_app.sync.authors import ADMIN, COUNSELLOR, SUPERVISOR, Author, record_id_bound
from intake_app.sync.minimum import SCOPE_CENTRAL_OFFICE, statistics_record
from intake_app.sync.payload import InstructionRef, RecordRef, instruction_ref
from intake_app.sync.receipt import ItemResult

from .db import (
    case_events,
    consent_withdrawals,
    erased_statistics,
    erasures,
    handovers,
    pending_instructions,
    record_heads,
    record_owners,
)
from .db import records as records_table
from .export import statistics_row
from .handovers import apply_handover, register_device_key

log = logging.getLogger("intake.central")

CHUNK = 500


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _one_of(conn: Connection, column: sa.Column[Any], ids: list[str]) -> Any:
    """``column IN ids``; on PostgreSQL ``column = ANY(array)``: one parameter instead of one
    per id, so the statement is the same for every batch and cheap to send."""
    if conn.dialect.name == "postgresql":
        return column == sa.any_(sa.bindparam(None, ids, type_=ARRAY(sa.String)))
    return column.in_(ids)


def _select_in(conn: Connection, column: sa.Column[Any], ids: list[str], *cols: Any) -> list[Any]:
    rows: list[Any] = []
    for chunk in _chunks(ids):
        rows += conn.execute(sa.select(*cols).where(_one_of(conn, column, chunk))).all()
    return rows


def apply_payload(
    conn: Connection,
    payload: Mapping[str, Any],
    *,
    batch_id: str,
    device_id: str,
    now: datetime,
    signing_key: ec.EllipticCurvePrivateKey | None = None,
    refused: list[tuple[str, str]] | None = None,
    author: Author | None = None,
) -> tuple[list[tuple[RecordRef, ItemResult]], list[tuple[InstructionRef, ItemResult]]]:
    """Load one decrypted payload inside the caller's transaction; return the results.

    ``signing_key`` (the importer's) seals hand-overs; without it a hand-over is refused
    as ``no_signing_key``. Refused hand-overs are added to ``refused`` as (hand-over id,
    reason). ``author``: the verified sender (batch format 4); what she may not speak
    for is answered ``not_entitled`` (:func:`may_send_record`, :func:`may_instruct`);
    None for a batch before format 4, which the device alone vouches for.
    """
    ids = sorted(
        {r["id"] for r in payload["records"]}
        | {i["record_id"] for i in payload["instructions"] if i["type"] != "device_key"}
    )
    # Who erased each id: only the device that erased a record is told ``erased`` for it;
    # anyone else naming it gets ``conflict`` (docs/security.md, "What an attacker can and
    # cannot do": a rogue device's erasure never makes another device count a record as
    # delivered).
    erased: dict[str, str] = {
        r.record_id: r.device_id
        for r in _select_in(
            conn, erasures.c.record_id, ids, erasures.c.record_id, erasures.c.device_id
        )
    }
    heads = {
        r.record_id: (r.revision, r.device_id)
        for r in _select_in(
            conn,
            record_heads.c.record_id,
            ids,
            record_heads.c.record_id,
            record_heads.c.revision,
            record_heads.c.device_id,
        )
    }
    # Revisions are stored only for records with a head (both are written and erased
    # together), so only those ids are looked up.
    stored_rows = _select_in(
        conn,
        records_table.c.record_id,
        sorted(heads),
        records_table.c.record_id,
        records_table.c.revision,
        records_table.c.counsellor,
    )
    present = {(r.record_id, r.revision) for r in stored_rows}
    # Whose case each record of this device is at the office: the counsellor a
    # supervisor's last reassignment names, or else the one its first revision names.
    # A newer revision does not change it (attacker run 22 planted one naming herself).
    owners: dict[str, str | None] = {}
    for r in sorted(stored_rows, key=lambda r: r.revision, reverse=True):
        if heads[r.record_id][1] == device_id:
            owners[r.record_id] = r.counsellor
    for record_id, (_rev, sender) in heads.items():
        if sender == device_id:
            owners.setdefault(record_id, None)
    reassigned = {
        r.record_id: r.counsellor
        for r in _select_in(
            conn,
            record_owners.c.record_id,
            sorted(owners),
            record_owners.c.record_id,
            record_owners.c.counsellor,
        )
    }
    owners.update(reassigned)
    sent_again = {
        RecordRef(r["id"], r["revision"])
        for r in payload["records"]
        if (r["id"], r["revision"]) in present
    }
    stored_documents = _documents(conn, sent_again) if sent_again else {}
    withdrawn = _office_withdrawals(conn, ids)
    record_results: list[tuple[RecordRef, ItemResult]] = []
    inserts: list[dict[str, Any]] = []
    new_heads: dict[str, int] = {}
    moved_heads: dict[str, int] = {}
    for record in payload["records"]:
        ref = RecordRef(record["id"], record["revision"])
        head = heads.get(ref.record_id)
        if ref.record_id in erased:
            owner = erased[ref.record_id]
            result = ItemResult.ERASED if owner == device_id else ItemResult.CONFLICT
        elif head is not None and head[1] != device_id:
            result = ItemResult.CONFLICT
        elif not may_send_record(author, record, ref.record_id, owners):
            result = ItemResult.NOT_ENTITLED
        elif ref in present:
            stored = stored_documents.get(RecordRef(*ref))
            # a revision reduced after a withdrawal is the same one, reduced
            same = stored is not None and stored in (
                _document(record),
                _document(statistics_record(record)),
            )
            result = ItemResult.DUPLICATE if same else ItemResult.CONFLICT
        else:
            result = ItemResult.ACCEPTED
            if _covered_by_withdrawal(withdrawn.get(ref.record_id, _NOT_WITHDRAWN), ref.revision):
                record = statistics_record(record)
            inserts.append(_record_row(record, batch_id=batch_id, device_id=device_id, now=now))
            present.add(ref)
            current = head[0] if head else new_heads.get(ref.record_id)
            if head is None:
                if current is None or ref.revision > current:
                    new_heads[ref.record_id] = ref.revision
            elif ref.revision > max(head[0], moved_heads.get(ref.record_id, 0)):
                moved_heads[ref.record_id] = ref.revision
        record_results.append((ref, result))
    if inserts:
        _insert_many(conn, records_table, inserts)
    if new_heads:
        _insert_many(
            conn,
            record_heads,
            [{"record_id": k, "revision": v, "device_id": device_id} for k, v in new_heads.items()],
        )
    for record_id, revision in moved_heads.items():
        conn.execute(
            record_heads.update()
            .where(record_heads.c.record_id == record_id, record_heads.c.revision < revision)
            .values(revision=revision)
        )
    # a case new at the office is the case of the counsellor its first revision names
    for row in sorted(inserts, key=lambda row: row["revision"], reverse=True):
        if row["record_id"] in new_heads:
            owners[row["record_id"]] = row["counsellor"]
    for record_id in new_heads:
        heads[record_id] = (new_heads[record_id], device_id)
    erased_by_pending = _apply_pending(
        conn,
        list(new_heads),
        heads=heads,
        erased=erased,
        device_id=device_id,
        now=now,
        owners=owners,
        author=author,
    )
    instruction_results = _apply_instructions(
        conn,
        payload["instructions"],
        heads=heads,
        erased=erased,
        batch_id=batch_id,
        device_id=device_id,
        now=now,
        signing_key=signing_key,
        refused=refused if refused is not None else [],
        author=author,
        owners=owners,
    )
    erased_now = erased_by_pending | {
        ref.record_id
        for ref, result in instruction_results
        if ref.type == "erasure" and result == ItemResult.CONFIRMED
    }
    record_results = [
        (
            ref,
            ItemResult.ERASED
            if ref.record_id in erased_now and result != ItemResult.CONFLICT
            else result,
        )
        for ref, result in record_results
    ]
    return record_results, instruction_results


def may_send_record(
    author: Author | None, record: Mapping[str, Any], record_id: str, owners: Mapping[str, Any]
) -> bool:
    """Whether the sender may send this revision (docs/security.md, "Batches signed by
    their sender"): a supervisor any case of her device; a counsellor a revision that
    names her, of a case that is hers at the office, or new there under an id bound to
    her (:func:`~intake_app.sync.authors.record_id_bound`: nobody claims a colleague's
    case id first); an administrator none."""
    if author is None or author.role == SUPERVISOR:
        return True
    if author.role != COUNSELLOR or record.get("counsellor") != author.username:
        return False
    if record_id in owners:
        return owners[record_id] == author.username
    return record_id_bound(record_id, author.user_id)


def may_instruct(
    author: Author | None, kind: str, record_id: str, owners: Mapping[str, Any]
) -> bool:
    """Whether the sender may give this instruction: a supervisor any; an administrator
    erasures (her role erases on request) and the device's hand-over key; a counsellor,
    whose role erases nothing, any other about a case that is hers at the office, or
    that the office has not seen yet (it waits, and counts only if the case turns out
    hers)."""
    if author is None or author.role == SUPERVISOR:
        return True
    if author.role == ADMIN:
        return kind in ("erasure", "device_key")
    if author.role != COUNSELLOR or kind in ("device_key", "erasure", "reassignment"):
        return False
    return record_id not in owners or owners[record_id] == author.username


def _author_text(author: Author | None) -> str | None:
    if author is None:
        return None
    return json.dumps({"username": author.username, "role": author.role}, sort_keys=True)


def _pending_allowed(author_text: str | None, owner: object, arriving: Author | None) -> bool:
    """Whether a waiting instruction's sender may speak for the record that arrived. One
    that came without a sender counts only if the record comes without one too: once the
    device signs its batches, nobody vouches for it (attacker run 21: an unsigned erasure
    sent before the device's first signed batch)."""
    if author_text is None:
        return arriving is None
    author = json.loads(author_text)
    if author.get("role") == SUPERVISOR:
        return True
    if author.get("role") == ADMIN:
        return True  # only erasures waited (may_instruct)
    return author.get("role") == COUNSELLOR and owner == author.get("username")


def _office_withdrawals(conn: Connection, ids: list[str]) -> dict[str, int | None]:
    """The recorded withdrawals of the central office purpose: record id → revision."""
    rows = _select_in(
        conn,
        consent_withdrawals.c.record_id,
        ids,
        consent_withdrawals.c.record_id,
        consent_withdrawals.c.purpose,
        consent_withdrawals.c.revision,
    )
    return {r.record_id: r.revision for r in rows if r.purpose == SCOPE_CENTRAL_OFFICE}


_NOT_WITHDRAWN = object()


def _covered_by_withdrawal(revision_withdrawn: object, revision: int) -> bool:
    """A withdrawal covers the revision it names and every older one (all without one);
    a newer revision carries its own consent (docs/central-office.md, export)."""
    if revision_withdrawn is _NOT_WITHDRAWN:
        return False
    return revision_withdrawn is None or (
        isinstance(revision_withdrawn, int) and revision_withdrawn >= revision
    )


def _insert_many(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` inside the caller's transaction; on PostgreSQL with ``COPY``, which
    sends the rows as one stream instead of one statement each."""
    if conn.dialect.name != "postgresql" or len(rows) < 20:
        conn.execute(table.insert(), rows)
        return
    import psycopg  # Deferred: PostgreSQL only

    columns = list(rows[0])
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    raw = conn.connection.dbapi_connection
    assert isinstance(raw, psycopg.Connection)
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([row[name] for name in columns])
    except psycopg.Error as exc:
        # Reported like any statement's error, so that a value the database refuses
        # quarantines the batch (load_failed) and an unreachable database stops the run.
        raise sa.exc.DBAPIError.instance(statement, None, exc, psycopg.Error) from None


def _record_row(
    record: Mapping[str, Any], *, batch_id: str, device_id: str, now: datetime
) -> dict[str, Any]:
    def text(name: str, limit: int) -> str | None:
        value = record.get(name)
        return value[:limit] if isinstance(value, str) else None

    return {
        "record_id": record["id"],
        "revision": record["revision"],
        "device_id": device_id,
        "batch_id": batch_id,
        "form_id": record["form_id"],
        "form_version": record["form_version"],
        "status": text("status", 40),
        "site": text("site", 200),
        "counsellor": text("counsellor", 200),
        "created_at": text("created_at", 40),
        "finalised_at": text("finalised_at", 40),
        "document": _document(record),
        "imported_at": now,
    }


def _document(record: Mapping[str, Any]) -> str:
    """How a record revision is stored (and compared when it is sent again)."""
    return json.dumps(record, ensure_ascii=False, sort_keys=True)


def _documents(conn: Connection, refs: set[RecordRef]) -> dict[RecordRef, str]:
    found: dict[RecordRef, str] = {}
    wanted = sorted(refs, key=lambda r: (r.record_id, r.revision))
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        condition = sa.or_(
            *(
                (records_table.c.record_id == ref.record_id)
                & (records_table.c.revision == ref.revision)
                for ref in chunk
            )
        )
        for row in conn.execute(
            sa.select(
                records_table.c.record_id, records_table.c.revision, records_table.c.document
            ).where(condition)
        ):
            found[RecordRef(row.record_id, row.revision)] = row.document
    return found


def _apply_pending(
    conn: Connection,
    record_ids: list[str],
    *,
    heads: dict[str, tuple[int, str]],
    erased: dict[str, str],
    device_id: str,
    now: datetime,
    owners: Mapping[str, Any],
    author: Author | None,
) -> set[str]:
    """Carry out the waiting instructions of the owner of records that just arrived; drop
    those of other devices and of senders the record turns out not to be entitled to.
    Returns the record ids erased."""
    erased_now: set[str] = set()
    if not record_ids:
        return erased_now
    if conn.execute(sa.select(pending_instructions.c.id).limit(1)).first() is None:
        return erased_now  # nothing waits (the common case): no lookup, no delete
    rows = _select_in(
        conn,
        pending_instructions.c.record_id,
        record_ids,
        pending_instructions.c.id,
        pending_instructions.c.record_id,
        pending_instructions.c.device_id,
        pending_instructions.c.batch_id,
        pending_instructions.c.instruction,
        pending_instructions.c.author,
    )
    for row in sorted(rows, key=lambda r: r.id):
        if row.device_id != device_id:
            log.warning(
                "waiting instruction of another device dropped: device=%s batch=%s",
                row.device_id,
                row.batch_id,
            )
            continue
        if not _pending_allowed(row.author, owners.get(row.record_id), author):
            log.warning(
                "waiting instruction of a sender not entitled to the case dropped: batch=%s",
                row.batch_id,
            )
            continue
        item = json.loads(row.instruction)
        if row.record_id in erased:
            continue
        if item["type"] == "case_event":
            _record_case_event(conn, item, batch_id=row.batch_id, device_id=device_id, now=now)
        elif item["type"] == "reassignment":
            _reassign(conn, item, batch_id=row.batch_id, now=now)
        elif item["type"] == "erasure":
            _erase(
                conn, row.record_id, item=item, batch_id=row.batch_id, device_id=device_id, now=now
            )
            erased[row.record_id] = device_id
            erased_now.add(row.record_id)
            heads.pop(row.record_id, None)
        else:
            _record_withdrawal(conn, item, batch_id=row.batch_id, now=now)
    for chunk in _chunks(record_ids):
        conn.execute(
            pending_instructions.delete().where(
                _one_of(conn, pending_instructions.c.record_id, chunk)
            )
        )
    return erased_now


def _apply_instructions(
    conn: Connection,
    instructions: Iterable[Mapping[str, Any]],
    *,
    heads: dict[str, tuple[int, str]],
    erased: dict[str, str],
    batch_id: str,
    device_id: str,
    now: datetime,
    signing_key: ec.EllipticCurvePrivateKey | None,
    refused: list[tuple[str, str]],
    author: Author | None = None,
    owners: dict[str, Any] | None = None,
) -> list[tuple[InstructionRef, ItemResult]]:
    results: list[tuple[InstructionRef, ItemResult]] = []
    owners = owners if owners is not None else {}
    for item in instructions:
        record_id = item["record_id"]
        ref = instruction_ref(item)
        if not may_instruct(author, item["type"], record_id, owners):
            results.append((ref, ItemResult.NOT_ENTITLED))
            continue
        if item["type"] == "device_key":
            result = register_device_key(
                conn, item, device_id=device_id, batch_id=batch_id, now=now
            )
            results.append((ref, result))
            continue
        head = heads.get(record_id)
        if item["type"] == "handover" and head is not None and head[1] == device_id:
            if signing_key is None:
                results.append((ref, ItemResult.REFUSED))
                refused.append((item["handover_id"], "no_signing_key"))
                continue
            result, reason = apply_handover(
                conn,
                item,
                head_revision=head[0],
                device_id=device_id,
                batch_id=batch_id,
                now=now,
                signing_key=signing_key,
            )
            if reason:
                refused.append((item["handover_id"], reason))
            results.append((ref, result))
            continue
        if item["type"] == "handover" and head is None and record_id not in erased:
            # A hand-over never waits: the record must be at the office already (it travels
            # in the same batch or an earlier one).
            results.append((ref, ItemResult.REFUSED))
            refused.append((item["handover_id"], "record_missing"))
            continue
        if head is not None and head[1] != device_id:
            results.append((ref, ItemResult.CONFLICT))
            continue
        if head is None and record_id not in erased:
            # Not seen yet: it waits for the record, whose sender decides who may erase it.
            conn.execute(
                pending_instructions.insert().values(
                    record_id=record_id,
                    device_id=device_id,
                    batch_id=batch_id,
                    instruction=json.dumps(dict(item), ensure_ascii=False, sort_keys=True),
                    received_at=now,
                    author=_author_text(author),
                )
            )
            # For the sender the office now holds nothing under that id and never will
            # from it: its erasure is confirmed, its withdrawal recorded.
            pending_result = (
                ItemResult.CONFIRMED if item["type"] == "erasure" else ItemResult.RECORDED
            )
            results.append((ref, pending_result))
            continue
        if record_id in erased and erased[record_id] != device_id:
            # Erased by its owner; another device naming it is told nothing was done for it.
            results.append((ref, ItemResult.CONFLICT))
            continue
        if item["type"] == "erasure":
            if record_id not in erased:
                _erase(conn, record_id, item=item, batch_id=batch_id, device_id=device_id, now=now)
                erased[record_id] = device_id
                heads.pop(record_id, None)
            results.append((ref, ItemResult.CONFIRMED))
        elif record_id in erased:
            results.append((ref, ItemResult.ERASED))
        elif item["type"] == "case_event":
            result = _record_case_event(conn, item, batch_id=batch_id, device_id=device_id, now=now)
            results.append((ref, result))
        elif item["type"] == "reassignment":
            _reassign(conn, item, batch_id=batch_id, now=now)
            owners[record_id] = item["counsellor"]
            results.append((ref, ItemResult.RECORDED))
        else:
            _record_withdrawal(conn, item, batch_id=batch_id, now=now)
            results.append((ref, ItemResult.RECORDED))
    return results


def _case_event_document(item: Mapping[str, Any]) -> str:
    return json.dumps(item.get("data") or {}, ensure_ascii=False, sort_keys=True)


def _record_case_event(
    conn: Connection, item: Mapping[str, Any], *, batch_id: str, device_id: str, now: datetime
) -> ItemResult:
    """Store a case event once, by its id: the same event again is a duplicate, another
    event under a known id a conflict (docs/batch-format.md §6)."""
    data = _case_event_document(item)
    existing = conn.execute(
        sa.select(
            case_events.c.record_id,
            case_events.c.kind,
            case_events.c.occurred_on,
            case_events.c.data,
        ).where(case_events.c.event_id == item["event_id"])
    ).first()
    if existing is not None:
        same = tuple(existing) == (item["record_id"], item["kind"], item["occurred_on"], data)
        return ItemResult.DUPLICATE if same else ItemResult.CONFLICT
    recorded = item.get("recorded_at")
    conn.execute(
        case_events.insert().values(
            event_id=item["event_id"],
            record_id=item["record_id"],
            kind=item["kind"],
            occurred_on=item["occurred_on"],
            data=data,
            recorded_at=recorded[:40] if isinstance(recorded, str) else None,
            device_id=device_id,
            batch_id=batch_id,
            imported_at=now,
        )
    )
    return ItemResult.RECORDED


def _erase(
    conn: Connection,
    record_id: str,
    *,
    item: Mapping[str, Any],
    batch_id: str,
    device_id: str,
    now: datetime,
) -> None:
    """Delete every revision of a record; keep one anonymised statistics row."""
    latest = conn.execute(
        sa.select(records_table.c.document)
        .where(records_table.c.record_id == record_id)
        .order_by(records_table.c.revision.desc())
        .limit(1)
    ).first()
    if latest is not None:
        row = statistics_row(json.loads(latest.document))
        conn.execute(
            erased_statistics.insert().values(referrals=json.dumps(row.pop("referrals")), **row)
        )
    conn.execute(records_table.delete().where(records_table.c.record_id == record_id))
    conn.execute(record_heads.delete().where(record_heads.c.record_id == record_id))
    conn.execute(consent_withdrawals.delete().where(consent_withdrawals.c.record_id == record_id))
    conn.execute(case_events.delete().where(case_events.c.record_id == record_id))
    conn.execute(record_owners.delete().where(record_owners.c.record_id == record_id))
    # a sealed hand-over still waiting at the office goes too
    conn.execute(handovers.delete().where(handovers.c.record_id == record_id))
    requested = item.get("requested_at")
    conn.execute(
        erasures.insert().values(
            record_id=record_id,
            device_id=device_id,
            batch_id=batch_id,
            requested_at=requested[:40] if isinstance(requested, str) else None,
            erased_at=now,
        )
    )
    log.info("record erased centrally (statistics row kept)")


def _reassign(conn: Connection, item: Mapping[str, Any], *, batch_id: str, now: datetime) -> None:
    """A supervisor moved the case within the team: from now on it is the named
    counsellor's at the office (a later move replaces this one)."""
    conn.execute(record_owners.delete().where(record_owners.c.record_id == item["record_id"]))
    conn.execute(
        record_owners.insert().values(
            record_id=item["record_id"],
            counsellor=str(item["counsellor"])[:200],
            reassignment_id=item["reassignment_id"],
            batch_id=batch_id,
            moved_at=str(item["moved_at"])[:40],
            recorded_at=now,
        )
    )


def _record_withdrawal(
    conn: Connection, item: Mapping[str, Any], *, batch_id: str, now: datetime
) -> None:
    """Record a consent withdrawal; a later one for the same purpose replaces it."""
    key = (consent_withdrawals.c.record_id == item["record_id"]) & (
        consent_withdrawals.c.purpose == item["purpose"][:200]
    )
    values = {
        "revision": item.get("revision"),
        "withdrawn_on": str(item["withdrawn_on"])[:40],
        "batch_id": batch_id,
        "recorded_at": now,
    }
    existing = conn.execute(sa.select(consent_withdrawals.c.revision).where(key)).first()
    if existing is None:
        conn.execute(
            consent_withdrawals.insert().values(
                record_id=item["record_id"], purpose=item["purpose"][:200], **values
            )
        )
    elif (item.get("revision") or 0) >= (existing.revision or 0):
        conn.execute(consent_withdrawals.update().where(key).values(**values))
    if item["purpose"] == SCOPE_CENTRAL_OFFICE:
        _reduce_stored(conn, item["record_id"], item.get("revision"))


def _reduce_stored(conn: Connection, record_id: str, revision: object) -> None:
    """Reduce the stored revisions a central office withdrawal covers to the statistics
    minimum: the office keeps no personal data it may no longer hold (docs/security.md)."""
    query = sa.select(records_table.c.revision, records_table.c.document).where(
        records_table.c.record_id == record_id
    )
    if isinstance(revision, int):
        query = query.where(records_table.c.revision <= revision)
    reduced = 0
    for row in conn.execute(query).all():
        document = _document(statistics_record(json.loads(row.document)))
        if document != row.document:
            conn.execute(
                records_table.update()
                .where(
                    records_table.c.record_id == record_id,
                    records_table.c.revision == row.revision,
                )
                .values(document=document)
            )
            reduced += 1
    if reduced:
        log.info("record reduced to the statistics minimum: revisions=%d", reduced)
