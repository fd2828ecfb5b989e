"""Moving a case from one counsellor's record store to another's, in steps a crash cannot
break (docs/security.md, "Device: keys and scopes", "Moving a case").

SQLite keeps each file atomic, not a pair of files. So a move never writes both stores in
one transaction; it runs four steps, each one atomic in one file, in this order:

1. **journal**: ``stores/move-<id>.json`` is written (temporary file, fsync, rename). It
   names only random ids: the move, the record, both stores, both owners' user ids and
   the supervisor's name.
2. **copy**: the record's rows are inserted into the target store (one transaction of the
   target file; the source is attached and only read).
3. **delete**: the rows are deleted from the source store (one transaction of the source
   file; ``secure_delete`` overwrites them), and the source notes the move as ``deleted``
   in the same transaction (table ``intake_moves_done``).
4. **audit**: the target notes the move as ``closed``, ``record_moved`` is written
   (naming the move's id), then the journal is removed.

A journal left behind means a move was confirmed but not finished. The next workspace
whose keys open both stores (a supervisor with the site key, the recovery key) finishes
it before anything else reads the stores (:func:`finish_moves`):

- the target noted it ``closed``, or its ``record_moved`` entry is in the audit log: the
  move was finished, and the journal only goes (left by a crash after step 4, or a copy
  put back to move the case again);
- the source noted it ``deleted``: step 4 runs, unless the source holds the record again
  (a case moved back, and the journal put back to move it once more: attacker run 19);
  then nothing is copied or deleted, and it is reported. The notes are written under
  each store's own key: whoever puts a journal back holds at most one of the two stores,
  and cannot remove the note from the other;
- neither store holds the record (it was erased meanwhile): the journal goes;
- only the source holds it (killed before step 2 committed): steps 2-4 run;
- both hold it (killed between 2 and 3): if the source's copy was changed after the copy
  was made, the target's copy is replaced by it first; then steps 3-4 run;
- only the target holds it: step 4 runs.

So the case is in exactly one store once the journal is gone, never in none; while a
journal is there, the case may be in both, and the journal says so.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select

from intake_app.atomic import atomic_write_bytes
from intake_app.core.audit import AuditAction
from intake_app.core.records import OutboxKind, SyncState
from intake_app.errors import ConflictError, NotFound
from intake_app.i18n import _
from intake_app.storage import audit, handovers
from intake_app.storage.database import Database
from intake_app.storage.models import AuditLogEntry, OutboxItem, RecordRow, User
from intake_app.storage.stores import MOVES_DONE_SQL, STORES_DIR
from intake_app.sync.authors import BOUND_ID_VERSION, record_id_bound

log = logging.getLogger("intake.storage")

#: Rows of a record keyed by its id (the record itself, its data and its search entry are
#: keyed by the row number ``pk``).
_BY_ID = ("record_revisions", "consent_withdrawals", "case_events", "outbox")
_JOURNAL_GLOB = "move-*.json"


@dataclass(frozen=True, slots=True)
class MoveJournal:
    """What a move is about to do (written before the first store changes)."""

    move: str
    record: str
    source: str
    target: str
    from_owner: int
    to_owner: int
    actor: str
    ts: float
    #: HMAC-SHA384 over the other fields under a key derived from the site key (see
    #: :func:`journal_key`): only a holder of the site key writes a journal that is
    #: followed (docs/security.md, "Moving a case")
    mac: str = ""

    def body(self) -> bytes:
        fields = {k: v for k, v in asdict(self).items() if k != "mac"}
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode("utf-8")

    def signed(self, key: bytes) -> MoveJournal:
        digest = hmac.new(key, self.body(), hashlib.sha384).hexdigest()
        return MoveJournal(**{**asdict(self), "mac": digest})

    def checks(self, key: bytes) -> bool:
        digest = hmac.new(key, self.body(), hashlib.sha384).hexdigest()
        return bool(self.mac) and hmac.compare_digest(self.mac, digest)

    def path(self, root: Path) -> Path:
        return root / STORES_DIR / f"move-{self.move}.json"

    def write(self, root: Path) -> None:
        atomic_write_bytes(self.path(root), json.dumps(asdict(self)).encode("utf-8"))

    @classmethod
    def read(cls, path: Path) -> MoveJournal | None:
        try:
            data = json.loads(path.read_text("utf-8"))
            return cls(
                move=str(data["move"]),
                record=str(data["record"]),
                source=str(data["source"]),
                target=str(data["target"]),
                from_owner=int(data["from_owner"]),
                to_owner=int(data["to_owner"]),
                actor=str(data["actor"]),
                ts=float(data["ts"]),
                mac=str(data.get("mac", "")),
            )
        except (OSError, ValueError, KeyError, TypeError):
            log.error("a move journal does not read; it is left for the administrator")
            return None


def _columns(conn: Any, schema: str, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA {schema}.table_info({table})")]


def _driver(db: Database) -> tuple[Any, Any]:
    raw = db.engine.raw_connection()
    conn = raw.driver_connection
    assert conn is not None
    return raw, conn


def _holds(db: Database, record_id: str) -> tuple[int, str, int] | None:
    """(pk, updated_at, owner_id) of the record in this store, or None."""
    raw, conn = _driver(db)
    try:
        row = conn.execute(
            "SELECT pk, updated_at, owner_id FROM main.records WHERE id = ?", (record_id,)
        ).fetchone()
    finally:
        raw.close()
    return (int(row[0]), str(row[1]), int(row[2])) if row else None


def check_movable(source: Database, record_id: str, *, to_owner: int) -> int:
    """Refuse a move that cannot be done now; return the current owner's id."""
    raw, conn = _driver(source)
    try:
        row = conn.execute(
            "SELECT owner_id FROM main.records WHERE id = ?", (record_id,)
        ).fetchone()
        if row is None:
            raise NotFound(_("Die Akte {id} gibt es nicht (mehr).").format(id=record_id))
        if int(row[0]) == to_owner:
            raise ConflictError(_("Die Akte gehört bereits dieser Person."))
        sending = conn.execute(
            "SELECT count(*) FROM main.outbox WHERE record_id = ? AND state != 'pending' "
            "AND state != 'delivered'",
            (record_id,),
        ).fetchone()[0]
    finally:
        raw.close()
    if sending:
        raise ConflictError(
            _(
                "Die Akte wird gerade an die Zentrale übermittelt. Bitte verschieben Sie "
                "sie nach der nächsten Synchronisation."
            )
        )
    return int(row[0])


def copy_rows(source: Database, target: Database, *, record_id: str, to_owner: int) -> None:
    """Step 2: the record's rows into ``target`` (one transaction of the target file).

    Rows the target already holds for this record (an earlier, interrupted copy) are
    replaced.
    """
    raw, conn = _driver(target)
    try:
        conn.execute(
            "ATTACH DATABASE ? AS move_source KEY ?",
            (str(source.path), source.engine.url.password),
        )
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                _delete_in(conn, record_id)
                row = conn.execute(
                    "SELECT pk FROM move_source.records WHERE id = ?", (record_id,)
                ).fetchone()
                if row is None:
                    raise NotFound(_("Die Akte {id} gibt es nicht (mehr).").format(id=record_id))
                old_pk = row[0]
                cols = [c for c in _columns(conn, "main", "records") if c != "pk"]
                names = ", ".join(cols)
                values = ", ".join("?" if c == "owner_id" else c for c in cols)
                cur = conn.execute(
                    f"INSERT INTO main.records ({names}) "  # noqa: S608 - names from PRAGMA
                    f"SELECT {values} FROM move_source.records WHERE pk = ?",
                    (to_owner, old_pk),
                )
                new_pk = cur.lastrowid
                dcols = ", ".join(c for c in _columns(conn, "main", "record_data") if c != "pk")
                conn.execute(
                    f"INSERT INTO main.record_data (pk, {dcols}) "  # noqa: S608
                    f"SELECT ?, {dcols} FROM move_source.record_data WHERE pk = ?",
                    (new_pk, old_pk),
                )
                conn.execute(
                    "INSERT INTO main.records_fts (rowid, terms) "
                    "SELECT ?, terms FROM move_source.records_fts WHERE rowid = ?",
                    (new_pk, old_pk),
                )
                for table in _BY_ID:
                    tcols = [
                        c
                        for c in _columns(conn, "main", table)
                        if c != "id" or table == "record_revisions"
                    ]
                    tnames = ", ".join(tcols)
                    conn.execute(
                        f"INSERT INTO main.{table} ({tnames}) "  # noqa: S608
                        f"SELECT {tnames} FROM move_source.{table} WHERE record_id = ?",
                        (record_id,),
                    )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        finally:
            conn.execute("DETACH DATABASE move_source")
    finally:
        raw.close()


def _delete_in(conn: Any, record_id: str) -> None:
    """Delete the record's rows in the connection's main file (inside its transaction)."""
    row = conn.execute("SELECT pk FROM main.records WHERE id = ?", (record_id,)).fetchone()
    for table in _BY_ID:
        conn.execute(f"DELETE FROM main.{table} WHERE record_id = ?", (record_id,))  # noqa: S608
    if row is not None:
        conn.execute("DELETE FROM main.records_fts WHERE rowid = ?", (row[0],))
        conn.execute("DELETE FROM main.record_data WHERE pk = ?", (row[0],))
        conn.execute("DELETE FROM main.records WHERE pk = ?", (row[0],))


def delete_rows(source: Database, *, record_id: str, move: str | None = None) -> None:
    """Step 3: the record's rows out of ``source`` (one transaction; overwritten);
    ``move``: the move this step belongs to, noted in the same transaction."""

    def step(conn: Any) -> None:
        _delete_in(conn, record_id)
        if move is not None:
            _note(conn, move, "deleted")

    _in_transaction(source, step)


def _in_transaction(db: Database, step: Callable[[Any], None]) -> None:
    """Run ``step`` on a driver connection of ``db`` in one immediate transaction."""
    raw, conn = _driver(db)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            step(conn)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        raw.close()


def _note(conn: Any, move: str, step: str) -> None:
    """Note in the connection's store that ``step`` of ``move`` is done (inside its
    transaction; stores from before get the table now)."""
    conn.execute(MOVES_DONE_SQL)
    conn.execute(
        "INSERT OR REPLACE INTO main.intake_moves_done (move, step, ts) VALUES (?, ?, ?)",
        (move, step, time.time()),
    )


def note_closed(target: Database, move: str) -> None:
    """The target store notes that ``move`` is closed (one transaction)."""
    _in_transaction(target, lambda conn: _note(conn, move, "closed"))


def noted(db: Database, move: str) -> str | None:
    """The step of ``move`` this store noted as done, or None."""
    raw, conn = _driver(db)
    try:
        found = conn.execute(
            "SELECT name FROM main.sqlite_master WHERE type = 'table' AND name = ?",
            ("intake_moves_done",),
        ).fetchone()
        if found is None:
            return None
        row = conn.execute(
            "SELECT step FROM main.intake_moves_done WHERE move = ?", (move,)
        ).fetchone()
    finally:
        raw.close()
    return str(row[0]) if row else None


def _audited(db: Database, journal: MoveJournal) -> bool:
    with db.read() as session:
        return any(
            entry.action == AuditAction.RECORD_MOVED.value
            and entry.details.get("move") == journal.move
            for entry in audit.entries_for_subject(
                session, subject_type="record", subject_id=journal.record
            )
        )


def audit_and_close(
    db: Database, root: Path, journal: MoveJournal, *, actor: str, resumed: bool
) -> None:
    """Step 4: ``record_moved`` in the audit log, then the journal goes.

    ``actor`` is who writes (and signs) the entry: the supervisor who moves, or whoever
    finishes an interrupted move (the entry then names who confirmed it).
    """
    note_closed(db, journal.move)
    if not (resumed and _audited(db, journal)):
        with db.write() as session:
            audit.append(
                session,
                actor=actor,
                action=AuditAction.RECORD_MOVED,
                subject_type="record",
                subject_id=journal.record,
                details={
                    "from": journal.from_owner,
                    "to": journal.to_owner,
                    "move": journal.move,
                    **({"finished_later": True, "moved_by": journal.actor} if resumed else {}),
                },
            )
            _queue_reassignment(session, journal)
    remove_journal(root, journal)


#: :func:`newest_move` when the newest ``record_moved`` entry of a record does not count
UNVERIFIED: dict[str, Any] = {}


def newest_move(session: Any, record_id: str) -> dict[str, Any] | None:
    """The details (``from``, ``to``, ``move``) of the newest ``record_moved`` entry for
    ``record_id``, if a user whose signed role moves cases (a supervisor) signed it with
    the key her row names now; :data:`UNVERIFIED` when the newest entry does not count
    (written by someone else, or by a supervisor who has left: then nothing is vouched
    for, attacker run 24); None when the record was never moved. The entries stand in
    the profile's audit log, which every password opens."""
    row = session.scalars(
        select(AuditLogEntry)
        .where(
            AuditLogEntry.action == AuditAction.RECORD_MOVED.value,
            AuditLogEntry.subject_type == "record",
            AuditLogEntry.subject_id == record_id,
        )
        .order_by(AuditLogEntry.seq.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    if not audit.entitled_entries(session, [row], handovers.supervisor_who_may(None)):
        return UNVERIFIED
    details = json.loads(row.details or "{}")
    return details if isinstance(details, dict) else UNVERIFIED


def reassignment_backed(session: Any, item: OutboxItem, *, owner_id: int, owner: str) -> bool:
    """Whether a reassignment in the outbox of ``owner``'s store is the one her move here
    queued: the record's newest move (:func:`newest_move`) is that very move, signed by a
    supervisor, and went to her, and the item names her (attacker run 23 replayed an
    older move naming herself)."""
    try:
        payload = json.loads(item.payload or "{}")
        move = uuid.UUID(payload["reassignment_id"]).hex
    except (ValueError, KeyError, TypeError, AttributeError):
        return False
    newest = newest_move(session, item.record_id)
    return (
        bool(newest)
        and newest is not None
        and newest.get("move") == move
        and newest.get("to") == owner_id
        and payload.get("counsellor") == owner
    )


def belongs_here(session: Any, record_id: str, owner_id: int | None) -> bool:
    """Whether a record in a store is its owner's to speak for (``owner_id``, None when
    the store's owner is not confirmed): once moved, only if its newest move, signed by
    a supervisor, went to her; never moved, if its id is bound to her, or was made
    before ids were bound (a random id: what stays, docs/security.md, "Batches signed by
    their sender"). A case she made and a supervisor moved away is no longer hers
    (attacker run 24)."""
    newest = newest_move(session, record_id)
    if newest is not None:
        return bool(newest) and owner_id is not None and newest.get("to") == owner_id
    if owner_id is not None and record_id_bound(record_id, owner_id):
        return True
    try:
        return uuid.UUID(record_id).version != BOUND_ID_VERSION
    except ValueError:
        return False


def _queue_reassignment(session: Any, journal: MoveJournal) -> None:
    """Tell the office, with the next supervisor's sync, whose case it is now: until then
    it holds the case under the counsellor it came from (docs/security.md, "Batches
    signed by their sender"). Only for a case that has gone or goes to the office."""
    row = session.scalars(select(RecordRow).where(RecordRow.id == journal.record)).first()
    user = session.get(User, journal.to_owner)
    if row is None or user is None or row.sync_state == SyncState.LOCAL.value:
        return
    session.add(
        OutboxItem(
            kind=OutboxKind.REASSIGNMENT.value,
            record_id=journal.record,
            payload=json.dumps(
                {
                    "reassignment_id": str(uuid.UUID(hex=journal.move)),
                    "counsellor": user.username,
                    "moved_at": datetime.fromtimestamp(journal.ts, UTC).strftime(
                        "%Y-%m-%dT%H:%M:%SZ"
                    ),
                },
                sort_keys=True,
            ),
        )
    )


def remove_journal(root: Path, journal: MoveJournal) -> None:
    """The move is finished and audited: its journal goes."""
    journal.path(root).unlink(missing_ok=True)


def journal_key(site_raw: bytes, vault_id: str) -> bytes:
    """The key move journals are authenticated with (HKDF-SHA384 of the site key)."""
    return HKDF(
        algorithm=hashes.SHA384(),
        length=48,
        salt=vault_id.encode("ascii"),
        info=b"intake move journal mac v1",
    ).derive(site_raw)


def move(
    root: Path,
    dbs: dict[str, Database],
    *,
    record_id: str,
    source: str,
    target: str,
    to_owner: int,
    actor: str,
    key: bytes,
) -> MoveJournal:
    """Move a record from store ``source`` to store ``target`` (steps 1-4 above)."""
    if source == target:
        raise ConflictError(_("Die Akte gehört bereits dieser Person."))
    from_owner = check_movable(dbs[source], record_id, to_owner=to_owner)
    if _holds(dbs[target], record_id) is not None:
        # a record of that id is there already: someone gave one of hers a colleague's
        # id (attacker run 16); the copy below would replace it, so nothing moves
        raise ConflictError(
            _(
                "Im Aktenspeicher der Zielperson liegt schon eine Akte mit dieser Kennung. "
                "Die Akte wird nicht verschoben. Bitte informieren Sie die Administration."
            )
        )
    journal = MoveJournal(
        move=uuid.uuid4().hex,
        record=record_id,
        source=source,
        target=target,
        from_owner=from_owner,
        to_owner=to_owner,
        actor=actor,
        ts=time.time(),
    ).signed(key)
    journal.write(root)
    copy_rows(dbs[source], dbs[target], record_id=record_id, to_owner=to_owner)
    delete_rows(dbs[source], record_id=record_id, move=journal.move)
    audit_and_close(dbs[target], root, journal, actor=actor, resumed=False)
    return journal


def pending(root: Path) -> list[MoveJournal]:
    """The journals of moves not finished, oldest first."""
    folder = root / STORES_DIR
    if not folder.is_dir():
        return []
    found = [MoveJournal.read(p) for p in folder.glob(_JOURNAL_GLOB)]
    return sorted((j for j in found if j is not None), key=lambda j: j.ts)


def finish_moves(
    root: Path, dbs: dict[str, Database], *, actor: str, key: bytes | None
) -> tuple[list[MoveJournal], int]:
    """Finish every interrupted move whose two stores are open here; return them, and how
    many journals were refused: one whose MAC does not check under ``key`` (the site
    key's, :func:`journal_key`) was not written by a holder of the site key and is never
    followed (it is left for the administration and reported)."""
    done = []
    refused = 0
    for journal in pending(root):
        if key is None:
            continue  # a holder of the site key finishes it
        if not journal.checks(key):
            log.error("a move journal is not authenticated; it is not followed")
            refused += 1
            continue
        source, target = dbs.get(journal.source), dbs.get(journal.target)
        if source is None or target is None:
            continue  # someone who opens both stores finishes it
        in_source = _holds(source, journal.record)
        in_target = _holds(target, journal.record)
        if _audited(target, journal):
            # the move was finished; only its journal was left (a crash), or a copy of it
            # was put back to move the case again: it is only removed
            log.warning("a move journal of a finished move was left or put back; removed")
            journal.path(root).unlink(missing_ok=True)
            continue
        if noted(target, journal.move) == "closed":
            # closed in the target, its entry not written (a crash) or deleted since
            audit_and_close(target, root, journal, actor=actor, resumed=True)
            done.append(journal)
            continue
        if noted(source, journal.move) == "deleted":
            # its record left the source store (step 3 is done), and the source says so in
            # a note only a holder of its key removes: only step 4 is left. A record the
            # source holds again is not this move's, and nothing is copied or deleted
            # (a journal put back, attacker run 19)
            if in_source is not None:
                _report_stale(source, journal, actor=actor, kind="move_journal_replayed")
                journal.path(root).unlink(missing_ok=True)
                refused += 1
                continue
            audit_and_close(target, root, journal, actor=actor, resumed=True)
            done.append(journal)
            continue
        if in_source is None and in_target is None:
            log.warning("an interrupted move's record is gone (erased); its journal is removed")
            journal.path(root).unlink(missing_ok=True)
            continue
        if in_source is not None and _changed_after(in_source[1], journal.ts):
            # the record changed in the source store after the move began: the journal is
            # older than the case (a copy put back with its closing entry deleted, attacker
            # run 17, or a move its owner overtook); the move is not finished, the copy it
            # made is taken back unless changed since, and it is reported
            if in_target is not None and not _changed_after(in_target[1], journal.ts):
                delete_rows(target, record_id=journal.record)
            _report_stale(source, journal, actor=actor)
            journal.path(root).unlink(missing_ok=True)
            refused += 1
            continue
        if in_source is not None and in_target is not None and in_source[1] != in_target[1]:
            # the copy a move makes carries the source's time of change: a target row of
            # another time is not this move's copy (attacker run 18 planted one with a
            # time in the future), so neither is deleted; the id in two stores is refused
            # and reported wherever it is opened (SiteRecords.store_of)
            _report_stale(source, journal, actor=actor, kind="move_journal_conflict")
            journal.path(root).unlink(missing_ok=True)
            refused += 1
            continue
        if in_source is not None:
            if in_target is None:
                copy_rows(source, target, record_id=journal.record, to_owner=journal.to_owner)
            delete_rows(source, record_id=journal.record, move=journal.move)
        audit_and_close(target, root, journal, actor=actor, resumed=True)
        log.info("an interrupted move was finished")
        done.append(journal)
    return done, refused


def _changed_after(updated_at: str, ts: float) -> bool:
    """Whether a record's ``updated_at`` (UTC, whole seconds) is after the moment ``ts``."""
    try:
        moment = datetime.fromisoformat(updated_at)
    except ValueError:
        return False
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp() > ts + 1


def _report_stale(
    db: Database, journal: MoveJournal, *, actor: str, kind: str = "move_journal_stale"
) -> None:
    log.error("a move journal is not followed (%s)", kind)
    with db.write() as session:
        audit.append(
            session,
            actor=actor,
            action=AuditAction.INTEGRITY_VIOLATION,
            subject_type="record",
            subject_id=journal.record,
            details={"findings": [{"kind": kind, "move": journal.move}]},
        )


def refused_journal_note() -> str:
    """What a supervisor is told when a move journal was not written by the program, or
    is older than its record's last change."""
    return _(
        "Im Profilordner lag ein Übergabe-Protokoll einer Akte, das nicht vom Programm "
        "stammt oder älter ist als die Akte (stores/move-….json); es wird nicht ausgeführt. "
        "Bitte informieren Sie die Administration und den Datenschutz."
    )
