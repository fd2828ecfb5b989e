"""The importer: open stored batches with the office private key and load them.

For each batch, in order of arrival: parse; refuse a batch id that was already used for
other bytes; check the device (known, registered, same key, not revoked when the batch
arrived) and its signature; decrypt with any office key held (current or rotated) or a
recovery key; check the payload against the signed manifest; then load it in **one
transaction**. Anything wrong sends the batch to quarantine with a reason and the
importer carries on with the next one.

Loading is idempotent: record revisions are inserted by (record id, revision) and never
overwritten; ``record_heads`` only moves forward, so an old batch arriving late (or
replayed) never rolls a record back. Erasure requests delete every revision centrally,
keep an anonymised statistics row and block the record id from coming back; consent
withdrawals are recorded and respected by the export. The result of each batch goes into
a signed ``imported`` (or ``rejected``) receipt.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec
from filelock import FileLock, Timeout
from sqlalchemy.engine import Connection, Engine

from intake_app.errors import ConflictError, KnownError
from intake_app.i18n import _
from intake_app.sync import keys
from intake_app.sync.authors import Author, AuthorError, verify_author
from intake_app.sync.batch import (
    MAX_BATCH_BYTES,
    SealedBatch,
    open_batch,
    parse_batch,
    verify_signature,
)
from intake_app.sync.errors import BatchError
from intake_app.sync.keys import EncryptionPrivateKey
from intake_app.sync.receipt import ItemResult, ReceiptStatus, build_receipt
from intake_app.sync.transport_folder import (
    list_batch_files,
    receipt_file_name,
    write_receipt_file,
)

from .audit_heads import AuditNote, note_audit_head
from .db import batches, device_pins, quarantine
from .home import Home
from .loader import apply_payload
from .registry import as_utc, get_device, pin_device_key, pin_revoked_at, utcnow
from .store import BatchStore

log = logging.getLogger("intake.central")


def read_bounded(path: Path, limit: int) -> bytes | None:
    """The file's bytes, or None when it is larger than ``limit`` (checked before reading,
    and the read stops after ``limit + 1`` bytes even if the file grows meanwhile)."""
    with open(path, "rb") as handle:
        if os.fstat(handle.fileno()).st_size > limit:
            return None
        data = handle.read(limit + 1)
    return None if len(data) > limit else data


class _Quarantine(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class BatchOutcome:
    """What became of one batch (for the command line and the tests)."""

    name: str
    status: str  # imported | duplicate | quarantined
    batch_id: str | None = None
    device_id: str | None = None
    reason: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    receipt: bytes | None = None
    audit: AuditNote | None = None  # the device's audit log was cut or rewritten
    #: hand-overs the office refused: (hand-over id, reason tag of central/handovers.py)
    handovers_refused: list[tuple[str, str]] = field(default_factory=list)


class Importer:
    """Imports batches for one office home and database.

    Args:
        home: the office home (stored batches, quarantine).
        engine: the central database.
        decryption_keys: every private key to try, by key id (office keys, recovery key).
        signing_key: the office key that signs import receipts.
    """

    def __init__(
        self,
        home: Home,
        *,
        engine: Engine,
        decryption_keys: Mapping[str, EncryptionPrivateKey],
        signing_key: ec.EllipticCurvePrivateKey,
    ) -> None:
        self.home = home
        self.engine = engine
        self.decryption_keys = dict(decryption_keys)
        self.signing_key = signing_key
        self.store = BatchStore(home, engine)

    # -- entry points ----------------------------------------------------------------------

    def run(self, *, folder: Path | None = None) -> list[BatchOutcome]:
        """Import what the receiver stored, then (if given) the batch files in ``folder``.

        Raises:
            KnownError: another import is running, or the database is unreachable.
        """
        lock = FileLock(str(self.home.import_lock), timeout=10)
        try:
            with lock:
                self.store.sweep_temporary()
                outcomes = self._import_stored()
                if folder is not None:
                    outcomes += self._import_folder(Path(folder))
        except Timeout:
            raise KnownError(_("Ein anderer Import läuft gerade."), kind="locked") from None
        return outcomes

    def _import_stored(self) -> list[BatchOutcome]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    batches.c.batch_id, batches.c.device_id, batches.c.received_at, batches.c.sha384
                )
                .where(batches.c.status == "stored")
                .order_by(batches.c.received_at, batches.c.batch_id)
            ).all()
            known = {r.batch_id for r in conn.execute(sa.select(batches.c.batch_id)).all()}
        outcomes = []
        for row in rows:
            try:
                data = self.store.read(row.device_id, row.batch_id)
            except OSError:
                log.error("stored batch file missing: batch=%s", row.batch_id)
                continue
            if hashlib.sha384(data).hexdigest() != row.sha384:
                outcomes.append(self._quarantine_changed_at_rest(data, row))
                continue
            outcomes.append(
                self.import_bytes(
                    data,
                    name=row.batch_id,
                    source="http",
                    received_at=as_utc(row.received_at) or utcnow(),
                )
            )
        # Batches written to disk whose database row was lost in a crash.
        for _device, batch_id, path in list(self.store.all_files()):
            if batch_id in known:
                continue
            received = datetime.fromtimestamp(path.stat().st_mtime).astimezone()
            found = read_bounded(path, MAX_BATCH_BYTES)
            if found is None:
                log.error("stored batch file too large, not read: batch=%s", batch_id)
                continue
            outcomes.append(
                self.import_bytes(found, name=batch_id, source="http", received_at=received)
            )
        return outcomes

    def _import_folder(self, folder: Path) -> list[BatchOutcome]:
        if not folder.is_dir():
            raise KnownError(
                _("Der Ordner {folder} existiert nicht.").format(folder=folder), kind="missing"
            )
        outcomes = []
        for path in list_batch_files(folder):
            try:
                data = read_bounded(path, MAX_BATCH_BYTES)
            except OSError:
                log.error("batch file unreadable: %s", path.name)
                continue
            if data is None:
                # Checked before reading: a file of any size on a stick never fills memory.
                outcomes.append(self._quarantine_oversized(path))
                continue
            outcome = self.import_bytes(data, name=path.name, source="folder", received_at=utcnow())
            if outcome.receipt is not None and outcome.batch_id is not None:
                target = folder / receipt_file_name(outcome.batch_id)
                if not (target.is_file() and target.read_bytes() == outcome.receipt):
                    write_receipt_file(folder, batch_id=outcome.batch_id, receipt=outcome.receipt)
            outcomes.append(outcome)
        return outcomes

    # -- one batch -------------------------------------------------------------------------

    def import_bytes(
        self, data: bytes, *, name: str, source: str, received_at: datetime
    ) -> BatchOutcome:
        """Import one batch; never raises for a bad batch (it goes to quarantine)."""
        sha = hashlib.sha384(data).hexdigest()
        try:
            batch = parse_batch(data)
        except BatchError as exc:
            return self._quarantine_unparsed(
                data, sha=sha, name=name, source=source, reason=exc.reason
            )
        header = batch.header
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(batches).where(batches.c.batch_id == header.batch_id)
            ).first()
        outcome = BatchOutcome(
            name=name, status="", batch_id=header.batch_id, device_id=header.device_id
        )
        if row is not None:
            done = self._known_batch(row, batch, outcome, data=data, source=source)
            if done is not None:
                return done
        try:
            pinned_root = self._check_device(batch, received_at=received_at)
        except _Quarantine as exc:
            if row is None:
                # Not verified as the device's: keep it out of the batch table entirely, so a
                # forged copy cannot block the genuine batch id.
                return self._quarantine_unverified(
                    data, batch, outcome, source=source, reason=exc.reason
                )
            return self._quarantine_verified(
                data, batch, outcome, source=source, reason=exc.reason, row_exists=True
            )
        try:
            payload = open_batch(batch, self.decryption_keys)
            author = self._check_author(payload, batch, pinned_root)
        except BatchError as exc:
            return self._quarantine_verified(
                data, batch, outcome, source=source, reason=exc.reason, row_exists=row is not None
            )
        except _Quarantine as exc:
            return self._quarantine_verified(
                data, batch, outcome, source=source, reason=exc.reason, row_exists=row is not None
            )
        if row is None:
            try:
                self.store.store(device_id=header.device_id, batch_id=header.batch_id, data=data)
            except ConflictError:
                return self._quarantine_verified(
                    data,
                    batch,
                    outcome,
                    source=source,
                    reason="batch_id_conflict",
                    row_exists=False,
                )
        try:
            self._load(
                payload,
                batch,
                outcome,
                source=source,
                received_at=received_at,
                row_exists=row is not None,
                author=author,
            )
            # Items naming ids another device owns, or cases the sender may not speak for
            # (a counsellor, a colleague's case), were refused one by one; the batch goes
            # to the quarantine list too, for the office to see.
            listed = (
                "author_not_entitled"
                if ItemResult.NOT_ENTITLED in outcome.counts
                else "record_conflict"
                if ItemResult.CONFLICT in outcome.counts
                else None
            )
            if listed is not None:
                log.warning("batch items refused (%s): batch=%s", listed, header.batch_id)
                self._note_quarantine(
                    data,
                    batch.sha384,
                    batch_id=header.batch_id,
                    device_id=header.device_id,
                    source=source,
                    reason=listed,
                    name=outcome.name,
                )
        except _Quarantine as exc:
            quarantined = self._quarantine_verified(
                data, batch, outcome, source=source, reason=exc.reason, row_exists=row is not None
            )
            if row is None:
                self.store.discard(header.device_id, header.batch_id)
            return quarantined
        except Exception as exc:
            if not _refused_by_the_data(exc):
                raise  # the database is away, full, locked or misconfigured: stop; it waits
            # The database refused what this batch holds (a value it cannot store). The
            # transaction rolled back; the batch goes to quarantine so that the ones after
            # it still get in.
            log.error("batch could not be loaded: batch=%s (%s)", header.batch_id, type(exc))
            quarantined = self._quarantine_verified(
                data,
                batch,
                outcome,
                source=source,
                reason="load_failed",
                row_exists=row is not None,
            )
            if row is None:  # stored above for this run only; the quarantine holds it now
                self.store.discard(header.device_id, header.batch_id)
            return quarantined
        return outcome

    def _known_batch(
        self, row: sa.Row, batch: SealedBatch, outcome: BatchOutcome, *, data: bytes, source: str
    ) -> BatchOutcome | None:
        """Handle a batch id seen before; None means: go on and import it."""
        if row.sha384 != batch.sha384:
            # The same batch id with other bytes: a replay or a forgery. The genuine batch
            # already has its answer, so no receipt is written for this copy.
            reason = "replayed_batch_id" if row.status == "imported" else "batch_id_conflict"
            self._note_quarantine(
                data,
                batch.sha384,
                batch_id=None,
                device_id=None,
                source=source,
                reason=reason,
                name=outcome.name,
            )
            outcome.status, outcome.reason = "quarantined", reason
            return outcome
        if row.status == "imported":
            outcome.status = "duplicate"
            outcome.receipt = str(row.import_receipt).encode("utf-8")
            log.info("batch imported before, same receipt: batch=%s", row.batch_id)
            return outcome
        if row.status == "quarantined":
            outcome.status, outcome.reason = "quarantined", row.reason
            outcome.receipt = (
                str(row.import_receipt).encode("utf-8") if row.import_receipt else None
            )
            return outcome
        return None

    def _check_device(self, batch: SealedBatch, *, received_at: datetime) -> tuple[str, str] | None:
        """The batch must be signed with the device key the importer trusts: pinned in its
        own table, or proven with the enrolment token at first sight, never simply the key
        the receiver's table holds (docs/security.md, "Device keys the importer trusts").
        Returns the profile root pinned for the device (kid, public key), or None."""
        header = batch.header
        with self.engine.begin() as conn:
            device = get_device(conn, header.device_id)
            if device is None:
                raise _Quarantine("unknown_device")
            trusted, registered, pinned_root = pin_device_key(conn, header.device_id)
            revoked_at = pin_revoked_at(conn, header.device_id)
        if registered is None:
            raise _Quarantine("not_registered")
        if trusted is None or trusted != registered:
            log.warning(
                "device key not the one the importer trusts: device=%s batch=%s",
                header.device_id,
                header.batch_id,
            )
            raise _Quarantine("device_key_mismatch")
        try:
            verify_signature(batch, keys.public_key_from_pem(trusted))
        except BatchError as exc:
            raise _Quarantine(exc.reason) from None
        revoked = [t for t in (device.revoked_at, revoked_at) if t is not None]
        if revoked and as_utc(received_at) >= min(revoked):  # type: ignore[operator]
            raise _Quarantine("revoked_device")
        # the profile root the device's batches name their senders from, once pinned
        return pinned_root

    def _check_author(
        self, payload: dict[str, Any], batch: SealedBatch, pinned: tuple[str, str] | None
    ) -> Author | None:
        """The verified sender of a batch (docs/security.md, "Batches signed by their
        sender"), taken out of ``payload``; None for a batch before format 4 from a device
        whose root is not pinned yet.

        Raises:
            _Quarantine: ``author_missing`` (an unsigned batch from a device that sent
                signed ones), ``author_root_changed`` or ``author_unverified``.
        """
        block = payload.pop("author", None)
        header = batch.header
        if block is None:
            if pinned is not None:
                log.warning("unsigned batch from a device that signs: batch=%s", header.batch_id)
                raise _Quarantine("author_missing")
            return None
        try:
            return verify_author(
                block,
                device_id=header.device_id,
                batch_id=header.batch_id,
                records=payload["records"],
                instructions=payload["instructions"],
                pinned_root=pinned,
            )
        except AuthorError as exc:
            log.warning(
                "batch sender does not check: device=%s batch=%s reason=%s",
                header.device_id,
                header.batch_id,
                exc.reason,
            )
            raise _Quarantine(exc.reason) from None

    # -- quarantine ------------------------------------------------------------------------

    def _note_quarantine(
        self,
        data: bytes,
        sha: str,
        *,
        batch_id: str | None,
        device_id: str | None,
        source: str,
        reason: str,
        name: str,
    ) -> bool:
        """Copy the file into the quarantine and list it; False if it was there already."""
        with self.engine.connect() as conn:
            seen = conn.execute(
                sa.select(quarantine.c.id).where(quarantine.c.sha384 == sha).limit(1)
            ).first()
        if seen is not None:
            return False
        file_name = self.store.quarantine(
            data,
            reason=reason,
            source=source,
            batch_id=batch_id,
            device_id=device_id,
            original_name=name,
        )
        with self.engine.begin() as conn:
            conn.execute(
                quarantine.insert().values(
                    sha384=sha,
                    batch_id=batch_id,
                    device_id=device_id,
                    source=source,
                    reason=reason,
                    file_name=file_name,
                    quarantined_at=utcnow(),
                )
            )
        return True

    def _quarantine_oversized(self, path: Path) -> BatchOutcome:
        """A file over the batch limit: hashed in chunks (never held in memory), listed in
        the quarantine with a note; the file stays where it was, so nothing is lost."""
        reason = "too_large"
        digest = hashlib.sha384()
        size = 0
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
                size += len(chunk)
        sha = digest.hexdigest()
        with self.engine.connect() as conn:
            seen = conn.execute(
                sa.select(quarantine.c.id).where(quarantine.c.sha384 == sha).limit(1)
            ).first()
        if seen is None:
            file_name = self.store.quarantine_note_only(
                path, sha384=sha, size=size, reason=reason, source="folder"
            )
            with self.engine.begin() as conn:
                conn.execute(
                    quarantine.insert().values(
                        sha384=sha,
                        batch_id=None,
                        device_id=None,
                        source="folder",
                        reason=reason,
                        file_name=file_name,
                        quarantined_at=utcnow(),
                    )
                )
        return BatchOutcome(name=path.name, status="quarantined", reason=reason)

    def _quarantine_changed_at_rest(self, data: bytes, row: sa.Row) -> BatchOutcome:
        """A stored batch whose bytes changed since the receiver verified them."""
        reason = "changed_at_rest"
        self._note_quarantine(
            data,
            hashlib.sha384(data).hexdigest(),
            batch_id=row.batch_id,
            device_id=row.device_id,
            source="http",
            reason=reason,
            name=row.batch_id,
        )
        receipt = build_receipt(
            status=ReceiptStatus.REJECTED,
            batch_id=row.batch_id,
            device_id=row.device_id,
            batch_sha384=row.sha384,
            records=[],
            instructions=[],
            reason=reason,
            signing_key=self.signing_key,
        )
        with self.engine.begin() as conn:
            conn.execute(
                batches.update()
                .where(batches.c.batch_id == row.batch_id)
                .values(
                    status="quarantined",
                    reason=reason,
                    import_receipt=receipt.decode("utf-8"),
                    imported_at=utcnow(),
                )
            )
        self.store.discard(row.device_id, row.batch_id)
        return BatchOutcome(
            name=row.batch_id,
            status="quarantined",
            batch_id=row.batch_id,
            device_id=row.device_id,
            reason=reason,
            receipt=receipt,
        )

    def _rejected_receipt(self, batch: SealedBatch, reason: str) -> bytes:
        return build_receipt(
            status=ReceiptStatus.REJECTED,
            batch_id=batch.header.batch_id,
            device_id=batch.header.device_id,
            batch_sha384=batch.sha384,
            records=[],
            instructions=[],
            reason=reason,
            signing_key=self.signing_key,
        )

    def _quarantine_unparsed(
        self, data: bytes, *, sha: str, name: str, source: str, reason: str
    ) -> BatchOutcome:
        self._note_quarantine(
            data, sha, batch_id=None, device_id=None, source=source, reason=reason, name=name
        )
        return BatchOutcome(name=name, status="quarantined", reason=reason)

    def _quarantine_unverified(
        self, data: bytes, batch: SealedBatch, outcome: BatchOutcome, *, source: str, reason: str
    ) -> BatchOutcome:
        """A batch whose signature could not be checked or failed: no batch row."""
        header = batch.header
        self._note_quarantine(
            data,
            batch.sha384,
            batch_id=header.batch_id,
            device_id=header.device_id,
            source=source,
            reason=reason,
            name=outcome.name,
        )
        outcome.status, outcome.reason = "quarantined", reason
        # The device learns that this copy was refused and sends its records again.
        outcome.receipt = self._rejected_receipt(batch, reason)
        return outcome

    def _quarantine_verified(
        self,
        data: bytes,
        batch: SealedBatch,
        outcome: BatchOutcome,
        *,
        source: str,
        reason: str,
        row_exists: bool,
    ) -> BatchOutcome:
        """A genuine batch that cannot be loaded: the batch row records the refusal."""
        header = batch.header
        receipt = self._rejected_receipt(batch, reason)
        self._note_quarantine(
            data,
            batch.sha384,
            batch_id=header.batch_id,
            device_id=header.device_id,
            source=source,
            reason=reason,
            name=outcome.name,
        )
        now = utcnow()
        values = {
            "status": "quarantined",
            "reason": reason,
            "import_receipt": receipt.decode("utf-8"),
            "imported_at": now,
        }
        with self.engine.begin() as conn:
            _write_batch_row(
                conn, batch, values, row_exists=row_exists, source=source, received_at=now
            )
        if row_exists:
            self.store.discard(header.device_id, header.batch_id)
        outcome.status, outcome.reason, outcome.receipt = "quarantined", reason, receipt
        return outcome

    # -- loading ---------------------------------------------------------------------------

    def _load(
        self,
        payload: dict[str, Any],
        batch: SealedBatch,
        outcome: BatchOutcome,
        *,
        source: str,
        received_at: datetime,
        row_exists: bool,
        author: Author | None = None,
    ) -> None:
        header = batch.header
        now = utcnow()
        with self.engine.begin() as conn:
            if author is not None:
                # The first signed batch pins the device's profile root (docs/security.md,
                # "Batches signed by their sender"); a later root is refused above.
                pinned = conn.execute(
                    device_pins.update()
                    .where(
                        device_pins.c.device_id == header.device_id,
                        device_pins.c.profile_root_kid.is_(None),
                    )
                    .values(
                        profile_root_kid=author.root_kid,
                        profile_root_public=author.root_public,
                        profile_root_pinned_at=now,
                    )
                )
                if pinned.rowcount:
                    log.info("profile root pinned: device=%s", header.device_id)
                else:  # pinned meanwhile: by this root, or refused
                    root = conn.execute(
                        sa.select(device_pins.c.profile_root_kid).where(
                            device_pins.c.device_id == header.device_id
                        )
                    ).scalar_one_or_none()
                    if root != author.root_kid:
                        raise _Quarantine("author_root_changed")
            refused: list[tuple[str, str]] = []
            record_results, instruction_results = apply_payload(
                conn,
                payload,
                batch_id=header.batch_id,
                device_id=header.device_id,
                now=now,
                signing_key=self.signing_key,
                refused=refused,
                author=author,
            )
            outcome.handovers_refused = refused
            outcome.audit = note_audit_head(conn, header, now=now)
            receipt = build_receipt(
                status=ReceiptStatus.IMPORTED,
                batch_id=header.batch_id,
                device_id=header.device_id,
                batch_sha384=batch.sha384,
                records=record_results,
                instructions=instruction_results,
                signing_key=self.signing_key,
            )
            values = {
                "status": "imported",
                "import_receipt": receipt.decode("utf-8"),
                "imported_at": now,
                "reason": None,
            }
            _write_batch_row(
                conn, batch, values, row_exists=row_exists, source=source, received_at=received_at
            )
        counts: dict[str, int] = {}
        for _ref, result in list(record_results) + list(instruction_results):
            counts[str(result)] = counts.get(str(result), 0) + 1
        outcome.status, outcome.counts, outcome.receipt = "imported", counts, receipt
        log.info(
            "batch imported: device=%s batch=%s %s",
            header.device_id,
            header.batch_id,
            " ".join(f"{k}={v}" for k, v in sorted(counts.items())),
        )


def _write_batch_row(
    conn: Connection,
    batch: SealedBatch,
    values: dict[str, Any],
    *,
    row_exists: bool,
    source: str,
    received_at: datetime,
) -> None:
    """Update the batch's row with ``values``, or insert it where the receiver never stored it
    (a batch that came on a folder)."""
    header = batch.header
    if row_exists:
        conn.execute(batches.update().where(batches.c.batch_id == header.batch_id).values(**values))
    else:
        conn.execute(
            batches.insert().values(
                batch_id=header.batch_id,
                device_id=header.device_id,
                sha384=batch.sha384,
                size=batch.size,
                source=source,
                received_at=received_at,
                **values,
            )
        )


def _refused_by_the_data(exc: BaseException) -> bool:
    """True when the database refused a value of the batch (a constraint, a value it cannot
    hold), as opposed to being unavailable or set up wrongly."""
    if isinstance(exc, sa.exc.DataError | sa.exc.IntegrityError):
        return True
    if isinstance(exc, sa.exc.DBAPIError):
        return False  # operational, programming, internal errors: not the batch's fault
    if isinstance(exc, sa.exc.StatementError):
        return isinstance(exc.orig, UnicodeError | ValueError | TypeError)
    return isinstance(exc, UnicodeError | ValueError)
