"""The audit log repository: append entries to the hash chain, read and verify it."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from intake_app.core.audit import (
    GENESIS_HASH,
    AuditAction,
    AuditEntry,
    AuditProblem,
    ChainReport,
    canonical_bytes,
    chain_hash,
    verify_chain,
)
from intake_app.storage import integrity, schema_guard, user_keys
from intake_app.storage.database import TOLERANT_TEXT
from intake_app.storage.models import AuditLogEntry, TrustState, User, UserKey

#: Sequence numbers from here on are none the program writes: an entry put in by hand at
#: SQLite's largest integer would leave no number for the next entry, and stop every
#: sign-in (attacker run 35). The log goes on below it; the entry breaks the chain and is
#: reported.
SEQ_CEILING = 2**62


def head_seq(session: Session) -> int:
    """The newest sequence number the program could have written (0 for an empty log);
    read by the table's own key."""
    found = session.execute(
        select(func.max(AuditLogEntry.seq)).where(AuditLogEntry.seq < SEQ_CEILING)
    ).scalar()
    return int(found or 0)


def format_ts(moment: datetime | float | None = None) -> str:
    """An audit time stamp: UTC, ISO 8601 with seconds and a ``Z``."""
    if moment is None:
        moment = datetime.now(UTC)
    elif isinstance(moment, int | float):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def append(
    session: Session,
    *,
    actor: str,
    action: AuditAction | str,
    subject_type: str = "",
    subject_id: str = "",
    details: dict[str, Any] | None = None,
    ts: datetime | float | None = None,
) -> AuditLogEntry:
    """Append one entry inside the caller's (write) transaction.

    The caller's transaction must be a write transaction (``Database.write``), which
    starts with ``BEGIN IMMEDIATE``: reading the last hash and inserting the next entry
    then cannot interleave with another writer.
    """
    with tolerant_text(session):
        last = session.execute(
            select(AuditLogEntry.seq, AuditLogEntry.hash)
            .where(AuditLogEntry.seq < SEQ_CEILING)
            .order_by(AuditLogEntry.seq.desc())
            .limit(1)
        ).first()
    # never below 1, even after a hand renumbered the log (the chain then shows it)
    seq = max(last.seq + 1, 1) if last else 1
    prev_hash = _chainable(last.hash) if last else GENESIS_HASH
    body = details or {}
    stamp = format_ts(ts)
    digest = chain_hash(
        prev_hash,
        canonical_bytes(
            seq=seq,
            ts=stamp,
            actor=actor,
            action=str(action),
            subject_type=subject_type,
            subject_id=subject_id,
            details=body,
        ),
    )
    signer = session.info.get("audit_signer")
    row = AuditLogEntry(
        signer=signer.kid if signer is not None else None,
        signature=signer.sign_entry(seq, digest) if signer is not None else None,
        seq=seq,
        ts=stamp,
        actor=actor,
        action=str(action),
        subject_type=subject_type,
        subject_id=subject_id,
        details=json.dumps(body, sort_keys=True, ensure_ascii=False),
        prev_hash=prev_hash,
        hash=digest,
    )
    session.add(row)
    if signer is not None:
        # The local anchor: the newest entry, signed (docs/security.md, "Device: integrity
        # of roles and the audit log").
        # It only moves forward: after newest entries were removed, the log grows again
        # from a lower number, and the anchor keeps naming what was there.
        trust = session.get(TrustState, 1)
        if trust is not None and seq > trust.anchor_seq and _anchor_holds(session, trust):
            trust.anchor_seq, trust.anchor_hash = seq, digest
            trust.anchor_signer, trust.anchor_signature = row.signer, row.signature
            session.add(trust)
    session.flush()
    # A table definition changed outside the program can drop a row without an error
    # (a conflict clause): nothing is done whose entry is not stored (storage/schema_guard.py)
    stored = session.execute(
        text("SELECT hash FROM audit_log WHERE seq = :seq"), {"seq": seq}
    ).scalar()
    if stored != digest:
        raise schema_guard.refused()
    return row


@contextlib.contextmanager
def _text_factory(session: Session, factory: Any) -> Iterator[None]:
    """Read the text of this session's connection with ``factory`` for a while."""
    driver = session.connection().connection.driver_connection
    before = driver.text_factory  # type: ignore[union-attr]
    driver.text_factory = factory  # type: ignore[union-attr]
    try:
        yield
    finally:
        driver.text_factory = before  # type: ignore[union-attr]


def tolerant_text(session: Session) -> contextlib.AbstractContextManager[None]:
    """Read text that is not UTF-8 (put into the log outside the program) as it is, instead
    of stopping the reader: every sign-in, sync and check would stop at it, and a cut made
    with it would go unreported (attacker run 32). Its bytes are kept (as surrogates), so
    the entry hashes differently and is reported as rewritten. (The profile database's
    connections read so throughout, ``Database(tolerant=True)``; a store's connection,
    with the profile's log attached, does not.)"""
    return _text_factory(session, TOLERANT_TEXT)


def _chainable(value: object) -> str:
    """The previous entry's stored hash as the next one chains onto it: a hash the program
    wrote as it is; anything else (a hand's bytes or text) by a digest of what it is, so
    the link is broken and reported, and nothing stops."""
    if isinstance(value, str) and _HASH.fullmatch(value):
        return value
    return hashlib.sha256(stored_text(value).encode("utf-8", "surrogatepass")).hexdigest()


_HASH = re.compile(r"[0-9a-f]{64}")


def _anchor_holds(session: Session, trust: TrustState) -> bool:
    """Whether the entry the anchor names is still in the log as it was. When it is not
    (the newest entries were removed, and a sign-in wrote new ones at their numbers), the
    anchor stays where it is: moving it past them would lose what ``verify`` reports."""
    if not trust.anchor_seq:
        return True
    with tolerant_text(session):
        named = session.execute(
            select(AuditLogEntry.hash).where(AuditLogEntry.seq == trust.anchor_seq)
        ).scalar()
    return named is not None and named == trust.anchor_hash


def stored_text(value: object) -> str:
    """A text column as the hash covers it. The program writes only text; any other value
    (a BLOB or a number put in by hand) is named by its type, so that it is hashed, and
    so reported, instead of stopping every reader of the log."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return "bytes:" + bytes(value).hex()
    return f"{type(value).__name__}:{value}"


#: nesting beyond which stored details are checked before they are hashed (the program
#: writes flat details; JSON nested thousands deep stops a recursive reader or writer)
_DEEP = 200


def stored_details(raw: object) -> dict[str, Any]:
    """A row's details as the hash covers them: the stored JSON read back; anything that
    is no JSON object the program could have written (no text, no JSON, nested too deep
    to write back) is wrapped, so that it is hashed as it is."""
    if not isinstance(raw, str):
        return {"__unparseable__": stored_text(raw)}
    try:
        details = json.loads(raw)
        if raw.count("[") + raw.count("{") > _DEEP:
            json.dumps([[details]])  # written back below one more level, as the hash does
    except (ValueError, RecursionError):
        return {"__unparseable__": raw}
    return details if isinstance(details, dict) else {"__value__": details}


def to_entry(row: AuditLogEntry) -> AuditEntry:
    """The core representation of a stored row (details parsed back from JSON)."""
    return AuditEntry(
        seq=row.seq,
        ts=stored_text(row.ts),
        actor=stored_text(row.actor),
        action=stored_text(row.action),
        subject_type=stored_text(row.subject_type),
        subject_id=stored_text(row.subject_id),
        details=stored_details(row.details),
        prev_hash=_chainable(row.prev_hash),  # a hand's bytes or text: the link breaks
        hash=stored_text(row.hash),
    )


def iter_entries(session: Session, *, batch: int = 2000) -> Iterator[AuditEntry]:
    """All entries in chain order, fetched in batches: every row, numbers below 1 (which
    only a hand in the file makes) included, so that the chain breaks where they are."""
    after: int | None = None
    while True:
        query = select(AuditLogEntry).order_by(AuditLogEntry.seq).limit(batch)
        if after is not None:
            query = query.where(AuditLogEntry.seq > after)
        rows = session.scalars(query).all()
        if not rows:
            return
        for row in rows:
            yield to_entry(row)
        after = rows[-1].seq


def content_chain(
    session: Session, wanted: Iterable[int] = (), *, batch: int = 5000
) -> tuple[int, str, dict[int, str]] | None:
    """The chain as the entries' contents give it, whatever hashes are stored beside them.

    Walks every entry in order from the genesis hash, hashing each entry's content onto
    the hash before it (as :func:`append` did, and with the same reading of a stored
    text as :func:`to_entry`). Returns the newest entry's number and hash, and the hash
    at each ``wanted`` number that an entry has (a number missing from it has none), or
    None for an empty log. An entry whose content was changed, removed or put in changes
    the hash at its number and at every later one, so the office, which kept the hashes
    earlier batches named, notices it (docs/security.md, "Device: integrity of roles and
    the audit log"). Every row counts, numbers below 1 (which only a hand in the file
    makes) included; a log whose newest number is below 1 gives None, as an empty one.
    Reads plain rows, not mapped objects: it runs at every sync over the whole log
    (``bench/audit_chain.py``).
    """
    wanted = set(wanted)
    try:
        # SQLite's text decoded the fast way first (strict UTF-8)
        with _text_factory(session, str):
            return _walk(session, wanted, batch)
    except OperationalError as exc:
        if "decode" not in str(exc.orig):
            raise
    # a text that is not UTF-8: read again, each value as it is (the honest log never
    # has one, and pays nothing for the tolerant reading)
    with tolerant_text(session):
        return _walk(session, wanted, batch)


def _walk(session: Session, wanted: set[int], batch: int) -> tuple[int, str, dict[int, str]] | None:
    """:func:`content_chain`'s walk."""
    found: dict[int, str] = {}
    digest: str = GENESIS_HASH
    head: int | None = None
    columns = (
        AuditLogEntry.seq,
        AuditLogEntry.ts,
        AuditLogEntry.actor,
        AuditLogEntry.action,
        AuditLogEntry.subject_type,
        AuditLogEntry.subject_id,
        AuditLogEntry.details,
    )
    while True:
        query = select(*columns).order_by(AuditLogEntry.seq).limit(batch)
        if head is not None:
            query = query.where(AuditLogEntry.seq > head)
        rows = session.execute(query).all()
        if not rows:
            break
        for seq, ts, actor, action, subject_type, subject_id, raw in rows:
            canonical = canonical_bytes(
                seq=seq,
                ts=stored_text(ts),
                actor=stored_text(actor),
                action=stored_text(action),
                subject_type=stored_text(subject_type),
                subject_id=stored_text(subject_id),
                details=stored_details(raw),
            )
            digest = chain_hash(digest, canonical)
            if seq in wanted:
                found[seq] = digest
        head = rows[-1][0]
    if head is None or head < 1:
        return None
    return head, digest, found


#: Entries whose actor is not the signer by nature: failed log-ins are written by the next
#: user who signs in, a schema upgrade by the system.
_FOREIGN_ACTOR_ACTIONS = {"login_failed", "login_throttled", "schema_upgraded"}
#: Entries written while nobody is signed in (a restore puts the files back first): they
#: carry no signature; the next signed entry covers them through the chain.
_WRITTEN_BEFORE_SIGN_IN = {"backup_restored"}


def verify(session: Session, *, anchors: Iterable[tuple[str, int, str]] = ()) -> ChainReport:
    """Check the whole chain, every entry's signature and every anchor.

    Args:
        anchors: further ``(source, seq, hash)`` points the log must still contain (the
            heads this device sent to the central office).

    The report names the first broken link and lists the problems the signatures and
    anchors reveal (docs/security.md, "Device: integrity of roles and the audit log").
    Text that is not UTF-8 is read as it is (:func:`tolerant_text`) and reported.
    """
    with tolerant_text(session):
        return _verify(session, anchors)


def _verify(session: Session, anchors: Iterable[tuple[str, int, str]]) -> ChainReport:
    """:func:`verify`'s checks."""
    report = verify_chain(iter_entries(session))
    keys = {k.kid: k for k in session.scalars(select(UserKey)).all()}
    # only keys certified from the root sign (None: the profile's state is not signed yet)
    certified = integrity.certified_key_ids(session)
    names = {u.id: u.username for u in session.scalars(select(User)).all()}
    publics: dict[str, Any] = {}
    problems: list[AuditProblem] = []
    signing_began = False
    after: int | None = None  # every row, numbers below 1 included (iter_entries)
    head_seq, hashes = 0, {}  # every entry's hash by number (a few MB for 100,000)
    while True:
        query = select(AuditLogEntry).order_by(AuditLogEntry.seq).limit(2000)
        if after is not None:
            query = query.where(AuditLogEntry.seq > after)
        rows = session.scalars(query).all()
        if not rows:
            break
        for row in rows:
            head_seq = row.seq
            after = row.seq
            hashes[row.seq] = row.hash
            if not row.signature:
                if signing_began and row.action not in _WRITTEN_BEFORE_SIGN_IN:
                    problems.append(AuditProblem("unsigned", row.seq))
                continue
            signing_began = True
            key = keys.get(row.signer or "")
            if key is None:
                problems.append(AuditProblem("unknown_signer", row.seq))
                continue
            if certified is not None and key.kid not in certified:
                problems.append(AuditProblem("uncertified_signer", row.seq))
                continue
            if key.kid not in publics:
                publics[key.kid] = user_keys.load_public(key.public_key)
            message = user_keys.audit_message(row.seq, row.hash)
            if not user_keys.verify(
                publics[key.kid], user_keys.AUDIT_DOMAIN, message, row.signature
            ):
                problems.append(AuditProblem("signature", row.seq))
            elif row.action not in _FOREIGN_ACTOR_ACTIONS and names.get(key.user_id) != row.actor:
                problems.append(AuditProblem("actor_mismatch", row.seq))
    points: list[tuple[str, int, str]] = []
    trust = session.get(TrustState, 1)
    if trust is not None and trust.anchor_seq:
        points.append(("local", trust.anchor_seq, trust.anchor_hash))
        key = keys.get(trust.anchor_signer or "")
        message = user_keys.audit_message(trust.anchor_seq, trust.anchor_hash)
        if trust.anchor_signature and (
            key is None
            or (certified is not None and key.kid not in certified)
            or not user_keys.verify(
                key.public_key, user_keys.AUDIT_DOMAIN, message, trust.anchor_signature
            )
        ):
            problems.append(AuditProblem("anchor_signature", head_seq, "local", trust.anchor_seq))
    points += list(anchors)
    for source, seq, digest in points:
        if seq > head_seq:
            problems.append(AuditProblem("cut", head_seq, source, seq))
        elif seq in hashes and hashes[seq] != digest:
            problems.append(AuditProblem("rewritten", seq, source, seq))
        elif seq not in hashes and seq > 0:
            problems.append(AuditProblem("cut", head_seq, source, seq))
    unique = list(dict.fromkeys(problems))
    return dataclasses.replace(report, problems=tuple(unique))


def entries_for_subject(
    session: Session, *, subject_type: str, subject_id: str
) -> list[AuditEntry]:
    """Every entry about one subject (a record), oldest first.

    Read from the table itself, not through the subject index: whoever holds the profile
    key can make an index's pages name other rows than its table holds, and SQLite takes
    an index's word for a match, so an Art. 15 export, a hand-over's or a move's check
    could miss entries (docs/security.md, "Code inside a database file"). ``coalesce``
    keeps the planner off the index; the scan reads the log once (rare steps only)."""
    rows = session.scalars(
        select(AuditLogEntry)
        .where(
            func.coalesce(AuditLogEntry.subject_type, "") == subject_type,
            func.coalesce(AuditLogEntry.subject_id, "") == subject_id,
        )
        .order_by(AuditLogEntry.seq)
    ).all()
    return [to_entry(row) for row in rows]


def has_entry(
    session: Session, *, action: AuditAction, subject: tuple[str, str], thorough: bool = False
) -> bool:
    """Whether the log holds an entry of ``action`` about ``subject`` (type, id): an
    update window's closing entry (organisation file, profile settings).

    ``thorough`` reads the log itself in its own order (``NOT INDEXED``), not through an
    index: before something from before the update is signed as found, since whoever
    holds the profile key can make an index hide the closing entry (attacker runs 16 and
    34; docs/security.md, "Code inside a database file"). It reads the whole log, so it
    is asked only where no seal says the window closed."""
    if thorough:
        found = session.execute(
            text(
                "SELECT seq FROM audit_log NOT INDEXED WHERE action = :action "
                "AND subject_type = :type AND subject_id = :id LIMIT 1"
            ),
            {"action": action.value, "type": subject[0], "id": subject[1]},
        ).first()
        return found is not None
    first = session.scalars(
        select(AuditLogEntry.seq)
        .where(
            AuditLogEntry.subject_type == subject[0],
            AuditLogEntry.subject_id == subject[1],
            AuditLogEntry.action == action.value,
        )
        .limit(1)
    ).first()
    return first is not None


def recent(session: Session, *, limit: int = 200, action: str | None = None) -> list[AuditEntry]:
    """The newest entries, newest first (for the administrator's view)."""
    query = select(AuditLogEntry)
    if action:
        query = query.where(AuditLogEntry.action == action)
    rows = session.scalars(query.order_by(AuditLogEntry.seq.desc()).limit(limit)).all()
    return [to_entry(row) for row in rows]


def entitled_entries(
    session: Session,
    rows: Iterable[AuditLogEntry],
    entitled: Callable[[int, str], bool],
) -> list[AuditLogEntry]:
    """Of ``rows``, the entries a decision may rest on: content matching its hash, signed
    with a key certified along the chain from the profile's root, by a user for whom
    ``entitled(user_id, signed_role)`` holds (her role as her *signed* row says), with the
    key that row names now, while it says active. Whoever holds the profile key can append
    an entry signed with her own certified key, so the entitlement is what makes an entry
    count (docs/security.md, "Code inside a database file")."""
    rows = [row for row in rows if row.signature and row.signer]
    if not rows:
        return []
    by_kid = {key.kid: (key, values) for key, values in integrity.speaking_keys(session).values()}
    found: list[AuditLogEntry] = []
    for row in rows:
        signer = by_kid.get(row.signer or "")
        if signer is None:
            continue
        key, values = signer
        if not entitled(key.user_id, values.role):
            continue
        if signature_holds(row, key.public_key):
            found.append(row)
    return found


def signature_holds(row: AuditLogEntry, public_key: str) -> bool:
    """Whether ``row``'s content matches its hash and its signature checks with
    ``public_key`` (the signature covers the sequence number and the hash only)."""
    content = to_entry(row)
    if chain_hash(content.prev_hash, content.canonical()) != row.hash:
        return False  # another entry, rewritten
    message = user_keys.audit_message(row.seq, row.hash)
    return user_keys.verify(public_key, user_keys.AUDIT_DOMAIN, message, str(row.signature))
