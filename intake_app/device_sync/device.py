"""The device side of sync: enrolment, the outbox as batches, sending, receipts, forms.

Finalised revisions, consent withdrawals and erasure requests wait in the outbox. Sending
packs what is pending into sealed, signed batches inside one write transaction (so an
erasure can never race a batch), keeps each batch until a verified receipt answers it,
and sends the same bytes again after a cut connection (the office answers a repeated
batch with the same receipt). A record counts as delivered only when a verified receipt
names its id and revision; a batch the office rejects puts its items back in the outbox.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake_app.core.audit import AuditAction
from intake_app.core.forms import FormRegistry, load_form
from intake_app.core.permissions import Actor, Permission, Role
from intake_app.core.records import OutboxKind, SyncState
from intake_app.device_sync import pin
from intake_app.device_sync.installed_forms import MemoryFormSource, installed_form_sources
from intake_app.device_sync.outbox import exportable_answers, outbox_instruction_ref, pack_pending
from intake_app.device_sync.status import (
    UNANSWERED,
    BatchInfo,
    SyncResult,
    SyncStatus,
    device_row,
    read_status,
)
from intake_app.errors import ConflictError, IntakeError, SyncError, SyncErrorKind
from intake_app.i18n import _
from intake_app.storage import audit, handovers, integrity
from intake_app.storage.database import Database
from intake_app.storage.models import (
    DeviceRow,
    Erasure,
    InstalledForm,
    OutboxItem,
    SyncBatch,
    utcnow,
)
from intake_app.storage.outbox_items import return_to_outbox, set_record_sync_state
from intake_app.sync.authors import AuthorKey
from intake_app.sync.batch import MAX_BATCH_BYTES, BuiltBatch
from intake_app.sync.enrolment import (
    build_registration,
    check_server_url,
    create_identity,
    read_enrolment,
    verify_confirmation,
)
from intake_app.sync.errors import EnrolmentError, SignatureError
from intake_app.sync.handover import Handover, open_handover
from intake_app.sync.identity import DeviceIdentity, OfficeKeySet, verify_key_set_document
from intake_app.sync.keys import EncryptionPrivateKey, format_fingerprint
from intake_app.sync.payload import RecordRef
from intake_app.sync.published_forms import PublishedForm
from intake_app.sync.receipt import ItemResult, Receipt, ReceiptStatus
from intake_app.sync.transport_folder import (
    read_handover_files,
    read_receipts,
    remove_answered_batches,
    remove_files,
    write_batches,
)

if TYPE_CHECKING:
    import httpx

    from intake_app.sync.transport_http import HttpSettings, SyncClient

log = logging.getLogger("intake.sync")

__all__ = [
    "BatchInfo",
    "DeviceSync",
    "MemoryFormSource",
    "SyncResult",
    "SyncStatus",
    "exportable_answers",
    "installed_form_sources",
]

HTTP = "http"
FOLDER = "folder"


class DeviceSync:
    """Sync on behalf of a signed-in user.

    Args:
        db: the open database.
        actor: who acts.
        forms: returns the current form registry (to strip hidden answers and to check
            installed forms).
        organisation: the consent configuration.
        batch_limit: returns the size cap per batch in bytes.
        on_forms_changed: called after new forms were installed.
        home: True for the signed-in user's own database: it sends the device's hand-over
            key (made here for identities enrolled before hand-overs existed).
        take_handover: takes an opened hand-over into the user's store (returns the new
            record id, None when taken before); None: hand-overs are not fetched here.
        site_key: the site key of the signed-in user (supervisors): it opens the device's
            hand-over key, so only her sync makes that key and takes hand-overs in
            (docs/security.md, "Hand-over through the office").
        author: returns the signed-in user's key and proof, or None: every batch names
            its sender (docs/security.md, "Batches signed by their sender").
        vouch: for a colleague's store in a supervisor's sync: which of its outbox items
            her batch may carry (``pack_pending``).
    """

    def __init__(
        self,
        *,
        db: Database,
        actor: Actor,
        forms: Callable[[], FormRegistry],
        organisation: Callable[[], Any],
        batch_limit: Callable[[], int] = lambda: MAX_BATCH_BYTES,
        on_forms_changed: Callable[[], None] = lambda: None,
        home: bool = False,
        take_handover: Callable[[Handover], str | None] | None = None,
        site_key: Callable[[], EncryptionPrivateKey | None] = lambda: None,
        author: Callable[[], AuthorKey | None] = lambda: None,
        vouch: Callable[[Session, OutboxItem], bool] | None = None,
    ) -> None:
        self._db = db
        self._actor = actor
        self._forms = forms
        self._organisation = organisation
        self._batch_limit = batch_limit
        self._on_forms_changed = on_forms_changed
        self._home = home
        self._take_handover = take_handover
        self._site_key = site_key
        self._author = author
        self._vouch = vouch
        self._lock = threading.Lock()

    # -- identity ----------------------------------------------------------------------

    def _device(self, session: Session) -> DeviceRow | None:
        return device_row(session)

    def identity(self) -> DeviceIdentity | None:
        """This device's identity, or None when it is not enrolled.

        Raises:
            SyncError: the stored identity is none (changed outside the program)."""
        with self._db.read() as session:
            row = self._device(session)
        if row is None:
            return None
        try:
            return DeviceIdentity.from_json(row.identity)
        except ValueError:
            log.error("the device identity in the profile database does not read")
            raise SyncError(
                _(
                    "Die Registrierung dieses Geräts in der Datenbank ist beschädigt oder "
                    "wurde außerhalb des Programms geändert. Es wurde nichts gesendet, und "
                    "nichts ist verloren: alles bleibt im Postausgang. Bitte informieren Sie "
                    "die Administration; sie registriert das Gerät mit einer neuen "
                    "Registrierungsdatei der Zentrale."
                ),
                kind=SyncErrorKind.AUTH,
            ) from None

    def _require_identity(self) -> DeviceIdentity:
        identity = self.identity()
        if identity is None:
            raise SyncError(
                _(
                    "Dieses Gerät ist noch nicht bei der Zentrale registriert. Die "
                    "Administration liest dazu die Registrierungsdatei der Zentrale ein."
                ),
                kind=SyncErrorKind.NOT_ENROLLED,
            )
        self._check_office(identity)
        return identity

    def _check_office(self, identity: DeviceIdentity) -> None:
        """Refuse to seal or send anything unless the office keys are the ones an
        administrator confirmed at enrolment, or the office root signed since
        (device_sync/pin.py; docs/security.md, "The office the device seals to")."""
        with self._db.read() as session:
            signers = integrity.check_state(session).signers
        found = pin.problem(identity, signers)
        if found is None:
            return
        if found == "unsigned":
            raise SyncError(
                _(
                    "Die Schlüssel der Zentrale auf diesem Gerät sind noch nicht von der "
                    "Administration bestätigt („Übermittlung an die Zentrale“ › "
                    "„Schlüssel der Zentrale bestätigen …“). Bis dahin wird nichts "
                    "gesendet; alles bleibt im Postausgang."
                ),
                kind=SyncErrorKind.AUTH,
            )
        log.error("the office keys in the device identity were changed outside the program")
        with self._db.write() as session:
            self._device_audit(
                session,
                identity.device_id,
                AuditAction.INTEGRITY_VIOLATION,
                {"findings": [{"kind": "office_keys_changed"}]},
            )
        raise SyncError(
            _(
                "Die Schlüssel der Zentrale auf diesem Gerät wurden außerhalb des Programms "
                "geändert. Es wurde nichts verschlüsselt oder gesendet, und nichts ist "
                "verloren: alles bleibt im Postausgang. Bitte informieren Sie die "
                "Administration."
            ),
            kind=SyncErrorKind.AUTH,
        )

    def _device_audit(
        self, session: Session, device_id: str, action: AuditAction, details: dict[str, Any]
    ) -> None:
        audit.append(
            session,
            actor=self._actor.username,
            action=action,
            subject_type="device",
            subject_id=device_id,
            details=details,
        )

    def office_fingerprint(self) -> str:
        """The pinned office root's fingerprint as the office reads it out (groups of four),
        or "" when the device is not enrolled or has no root."""
        identity = self.identity()
        return format_fingerprint(identity.office_fingerprint) if identity else ""

    def office_check(self) -> str | None:
        """Whether the office keys need an administrator's confirmation
        (device_sync/pin.py): ``unsigned`` (enrolled before they were signed), ``changed``
        (changed outside the program), or None (they check, or not enrolled)."""
        identity = self.identity()
        if identity is None:
            return None
        with self._db.read() as session:
            signers = integrity.check_state(session).signers
        return pin.problem(identity, signers)

    def confirm_office(
        self,
        *,
        expected_fingerprint: str,
        document: bytes | None = None,
        cancel: threading.Event | None = None,
        transport: httpx.BaseTransport | None = None,
        settings: HttpSettings | None = None,
    ) -> DeviceIdentity:
        """An administrator confirms the office again, as at enrolment: the root key
        pinned here must have the fingerprint the office gave her, and the office keys are
        taken from a key-set document that root signed (``document``: the office's
        key-set file; without it, fetched from the office over the network). Her
        signature then covers them (docs/security.md, "The office the device seals to").

        Raises:
            EnrolmentError: the fingerprint does not match the pinned root.
            SyncError: not enrolled, no key set signed by that root, or no network.
        """
        self._actor.require(Permission.MANAGE_DEVICE)
        identity = self.identity()
        signer = self._db.audit_signer
        if identity is None or identity.root_public_key is None or signer is None:
            raise SyncError(
                _(
                    "Dieses Gerät kann so nicht bestätigt werden. Bitte registrieren Sie es "
                    "mit einer neuen Registrierungsdatei der Zentrale."
                ),
                kind=SyncErrorKind.NOT_ENROLLED,
            )
        if "".join(expected_fingerprint.split()).lower() != identity.office_fingerprint:
            raise EnrolmentError(
                "fingerprint_mismatch",
                _(
                    "Der Fingerabdruck der Zentrale auf diesem Gerät stimmt nicht mit dem "
                    "überein, den Sie angegeben haben. Es wurde nichts bestätigt. Bitte "
                    "informieren Sie die Zentrale; das Gerät muss neu registriert werden."
                ),
            )
        if document is not None:
            documents = [document]
        else:
            # Deferred: the HTTP client (httpx) loads when the device goes online.
            from intake_app.sync.transport_http import SyncClient

            with SyncClient(
                identity, settings=settings, cancel=cancel, transport=transport
            ) as client:
                documents = client.key_set_documents()
        best: tuple[OfficeKeySet, bytes] | None = None
        for blob in documents:
            try:
                key_set = verify_key_set_document(blob, root=identity.root_public_key)
            except SignatureError:
                continue
            if best is None or key_set.serial > best[0].serial:
                best = (key_set, blob)
        if best is None:
            raise SyncError(
                _(
                    "Der Schlüsselsatz ist nicht vom Schlüssel der Zentrale unterschrieben, "
                    "dessen Fingerabdruck Sie bestätigt haben. Es wurde nichts bestätigt."
                ),
                kind=SyncErrorKind.AUTH,
            )
        confirmed = pin.sign(identity.with_key_set(*best), kid=signer.kid, key=signer.key)
        with self._db.write() as session:
            row = self._device(session)
            assert row is not None
            row.identity = confirmed.to_json()
            session.add(row)
            self._device_audit(
                session,
                confirmed.device_id,
                AuditAction.INTEGRITY_SIGNED,
                {"office_key": confirmed.office_fingerprint, "serial": best[0].serial},
            )
        log.info("office keys confirmed by an administrator")
        return confirmed

    def enrolment_fingerprint(self, data: bytes) -> str:
        """The office root key fingerprint in an enrolment file, for the administrator to
        compare with the one the office gave (before :meth:`enrol`).

        Raises:
            EnrolmentError: the file is damaged, forged or expired.
        """
        self._actor.require(Permission.MANAGE_DEVICE)
        return format_fingerprint(read_enrolment(data).office_fingerprint)

    def enrol(self, data: bytes, *, expected_fingerprint: str) -> DeviceIdentity:
        """Import the office's enrolment file: create the device key pair, keep it here.

        ``expected_fingerprint`` is the office root key fingerprint the administrator
        confirmed; the device pins that root key (docs/security.md, "Central office: keys,
        receiver and importer").

        Raises:
            EnrolmentError: the file is damaged, forged, for another office or expired, or
                the fingerprint does not match.
            ConflictError: the device is already enrolled.
        """
        self._actor.require(Permission.MANAGE_DEVICE)
        if not expected_fingerprint or not expected_fingerprint.strip():
            raise EnrolmentError(
                "fingerprint_missing",
                _(
                    "Bitte bestätigen Sie den Fingerabdruck der Zentrale, bevor das Gerät "
                    "registriert wird."
                ),
            )
        enrolment = read_enrolment(data, expected_fingerprint=expected_fingerprint)
        identity = create_identity(enrolment)
        # The registration is built now, by the administrator, naming the profile root;
        # the token is used here once and not kept (the enrolment file's signed document
        # is kept without it): every user of the device can read what the device keeps,
        # and with the token she could register the device under a root of her own
        # (attacker run 25; docs/security.md, "Batches signed by their sender").
        identity = dataclasses.replace(
            identity,
            enrolment_document=enrolment.document,
            registration=build_registration(
                identity, token=enrolment.token, profile_root=self._profile_root()
            ),
        )
        signer = self._db.audit_signer
        if signer is not None:  # else the next administrator's sign-in signs it
            identity = pin.sign(identity, kid=signer.kid, key=signer.key)
        with self._db.write() as session:
            kept = self._device(session)
            if kept is not None and not _reads(kept.identity):
                # a registration that no longer reads (changed outside the program) gives
                # way to the new one; the office sees a new device
                session.delete(kept)
                session.flush()
                kept = None
            if kept is not None:
                raise ConflictError(
                    _(
                        "Dieses Gerät ist bereits registriert; eine zweite Registrierung ist "
                        "nicht möglich."
                    )
                )
            session.add(DeviceRow(identity=identity.to_json(), enrolment_token=None))
            audit.append(
                session,
                actor=self._actor.username,
                action=AuditAction.DEVICE_ENROLLED,
                subject_type="device",
                subject_id=identity.device_id,
                details={"office_key": enrolment.office_fingerprint},
            )
        log.info("device enrolled")
        return identity

    def set_server_url(self, url: str) -> None:
        """An administrator moves the device to another receiver address (audited)."""
        self._actor.require(Permission.MANAGE_DEVICE)
        identity = _with_url(self._require_identity(), url)
        self._store_identity(identity)
        with self._db.write() as session:
            audit.append(
                session,
                actor=self._actor.username,
                action=AuditAction.SETTINGS_CHANGED,
                subject_type="device",
                subject_id=identity.device_id,
                details={"setting": "server_url"},
            )

    def registration_file(self) -> bytes:
        """The signed registration request for the office (offline registration)."""
        self._actor.require(Permission.MANAGE_DEVICE)
        identity = self._require_identity()
        with self._db.read() as session:
            row = self._device(session)
        assert row is not None
        if row.registered:
            raise ConflictError(_("Dieses Gerät ist bei der Zentrale bereits bestätigt."))
        return self._registration(identity, row)

    def _registration(self, identity: DeviceIdentity, row: DeviceRow) -> bytes:
        """The registration built at enrolment; for a device enrolled before that, one
        built now from the token it kept."""
        if identity.registration is not None:
            return identity.registration
        if not row.enrolment_token:
            raise SyncError(_("Die Registrierung ist unvollständig."), kind=SyncErrorKind.AUTH)
        return build_registration(
            identity, token=row.enrolment_token, profile_root=self._profile_root()
        )

    def _profile_root(self) -> str | None:
        """The profile root the registration names, so that the office pins it with the
        device key (docs/security.md, "Batches signed by their sender"); None before the
        profile's users are signed and on the recovery path."""
        author = self._author()
        return str(author.chain["root"]["public_key"]) if author is not None else None

    def import_confirmation(self, data: bytes) -> None:
        """Accept the office's confirmation of an offline registration."""
        self._actor.require(Permission.MANAGE_DEVICE)
        identity = self._require_identity()
        verify_confirmation(data, identity)
        self._mark_registered()

    def _mark_registered(self) -> None:
        with self._db.write() as session:
            row = self._device(session)
            assert row is not None
            row.registered = True
            row.registered_at = utcnow()
            row.enrolment_token = None
            session.add(row)

    def register_online(
        self,
        *,
        cancel: threading.Event | None = None,
        transport: httpx.BaseTransport | None = None,
        settings: HttpSettings | None = None,
    ) -> None:
        """Register the device's public key with the office over the network."""
        identity = self._require_identity()
        with self._db.read() as session:
            row = self._device(session)
        assert row is not None
        if row.registered:
            return
        registration = self._registration(identity, row)
        # Deferred: the HTTP client (httpx) loads when the device first goes online, not
        # at start-up (docs/architecture.md, "Imports inside functions").
        from intake_app.sync.transport_http import SyncClient

        with SyncClient(identity, settings=settings, cancel=cancel, transport=transport) as client:
            client.register(registration)
        self._mark_registered()

    # -- status ------------------------------------------------------------------------

    def status(self) -> SyncStatus:
        """Enrolment, what is waiting, the last result, the recent batches."""
        return read_status(self._db)

    # -- building batches --------------------------------------------------------------

    def _build_pending(self, session: Session, identity: DeviceIdentity, transport: str) -> int:
        """Pack pending outbox items into new batches (inside the caller's transaction)."""
        return pack_pending(
            session,
            identity=identity,
            transport=transport,
            forms=self._forms(),
            organisation=self._organisation(),
            max_batch_bytes=self._batch_limit(),
            author=self._author(),
            entitled=self._actor.role is Role.SUPERVISOR,
            vouch=self._vouch,
            actor=self._actor.username,
        )

    def _unanswered(self, transport: str) -> list[BuiltBatch]:
        with self._db.read() as session:
            rows = session.scalars(
                select(SyncBatch)
                .where(SyncBatch.state.in_(UNANSWERED), SyncBatch.transport == transport)
                .order_by(SyncBatch.created_at)
            ).all()
        return [BuiltBatch.from_bytes(row.data) for row in rows]

    def prepare(self, transport: str) -> list[BuiltBatch]:
        """Pack what is pending and return every batch still waiting for a receipt."""
        self._actor.require(Permission.SYNC)
        identity = self._own_encryption_key(self._require_identity())
        with self._db.write() as session:
            if self._takes_handovers():
                _queue_device_key(session, identity)
            self._build_pending(session, identity, transport)
        return self._unanswered(transport)

    # -- hand-overs (docs/security.md, "Hand-over through the office") ---------------------

    def _takes_handovers(self) -> bool:
        """Whether this device sends its hand-over key: from the home database, and only
        where the organisation file names sites to hand cases over to (``handover``
        purposes); the programme's sites that exchange cases all have one."""
        if not self._home:
            return False
        recipients = getattr(self._organisation(), "handover_recipients", None)
        return bool(recipients()) if callable(recipients) else False

    def _own_encryption_key(self, identity: DeviceIdentity) -> DeviceIdentity:
        """The identity with the device's hand-over key pair sealed to the site key: a
        supervisor's sync makes one, or seals the one an identity from before kept in plain
        (the same pair: the office knows its public half). A sync without the site key
        leaves the identity as it is (docs/security.md, "Hand-over through the office")."""
        if not self._takes_handovers():
            return identity
        if identity.encryption_sealed is not None:
            if identity.encryption_key is not None:
                # a plain key beside the sealed one was put there outside the program
                # (attacker run 16): never used or sealed, dropped and reported
                return self._drop_plain_key(identity)
            return identity
        site = self._site_key()
        if site is None:
            return identity
        announced = self._announced_keys()
        plain = identity.encryption_private_key()
        # the pair's own public half, not the field beside it (attacker run 18 kept the
        # genuine public field beside a private key of her own)
        current = plain.public_key() if plain is not None else identity.encryption_public_key()
        if announced and (current is None or current.key_id not in announced):
            # this store's outbox sent the office another hand-over key, which a sync of
            # hers sealed: the sealed key was taken out and a plain one (or none) put in
            # its place outside the program (attacker run 17); nothing is sealed
            with self._db.write() as session:
                self._device_audit(
                    session,
                    identity.device_id,
                    AuditAction.INTEGRITY_VIOLATION,
                    {"findings": [{"kind": "handover_key_replaced"}]},
                )
            log.error("the device's hand-over key was replaced outside the program")
            return identity
        sealed = identity.with_sealed_encryption_key(site.public_key())
        public = sealed.encryption_public_key()
        assert public is not None
        with self._db.write() as session:
            row = self._device(session)
            assert row is not None
            stored = DeviceIdentity.from_json(row.identity)
            if stored.encryption_sealed is not None and stored.encryption_key is None:
                return stored  # another sync sealed it meanwhile
            row.identity = dataclasses.replace(
                stored,
                encryption_key=None,
                encryption_public=sealed.encryption_public,
                encryption_sealed=sealed.encryption_sealed,
            ).to_json()
            session.add(row)
            self._device_audit(
                session,
                identity.device_id,
                AuditAction.SETTINGS_CHANGED,
                {"setting": "handover_key", "key": public.key_id, "sealed": True},
            )
        log.info("device hand-over key sealed to the site key")
        return DeviceIdentity.from_json(row.identity)

    def _announced_keys(self) -> set[str]:
        """The ids of the hand-over keys this store's outbox sent or queued for the office."""
        with self._db.read() as session:
            items = session.scalars(
                select(OutboxItem).where(OutboxItem.kind == OutboxKind.DEVICE_KEY.value)
            ).all()
        found = set()
        for item in items:
            kid = json.loads(item.payload).get("key", {}).get("kid")
            if isinstance(kid, str):
                found.add(kid)
        return found

    def _drop_plain_key(self, identity: DeviceIdentity) -> DeviceIdentity:
        with self._db.write() as session:
            row = self._device(session)
            assert row is not None
            stored = DeviceIdentity.from_json(row.identity)
            if stored.encryption_key is None:
                return stored
            stored = dataclasses.replace(stored, encryption_key=None)
            row.identity = stored.to_json()
            session.add(row)
            self._device_audit(
                session,
                identity.device_id,
                AuditAction.INTEGRITY_VIOLATION,
                {"findings": [{"kind": "handover_key_planted"}]},
            )
        log.error("a plain hand-over key beside the sealed one was dropped")
        return stored

    def _take_in(self, documents: list[tuple[str, bytes]], result: SyncResult) -> list[str]:
        """Verify, open and take in hand-over documents (name, bytes); returns the names of
        those that are done (taken in now or before). Another device's documents (a shared
        stick) are skipped silently; damaged or forged ones are listed in ``result``."""
        identity = self._require_identity()
        private = identity.open_encryption_key(self._site_key())
        if private is None or self._take_handover is None:
            return []  # they wait at the office for a sync with the site key
        trusted = {
            kid: key
            for kid, key in identity.office_signing_keys.items()
            if kid in identity.office_importer_keys
        }
        done = []
        for name, data in documents:
            try:
                opened = open_handover(
                    data, device_id=identity.device_id, private_key=private, trusted=trusted
                )
            except SignatureError as exc:
                if exc.reason != "wrong_device":
                    log.warning("a hand-over document was refused: %s", exc.reason)
                    result.handovers_failed.append((name, exc.reason))
                continue
            try:
                record_id = self._take_handover(opened)
            except IntakeError as exc:
                log.error("a hand-over was not taken in: %s", type(exc).__name__)
                result.handovers_failed.append((opened.handover_id, str(exc)))
                continue
            if record_id is not None:
                result.handovers_taken.append(record_id)
            done.append(name)
        return done

    # -- receipts ----------------------------------------------------------------------

    def apply_receipt(self, receipt: Receipt, result: SyncResult | None = None) -> SyncResult:
        """Record a verified receipt: delivered items, confirmed erasures, rejections."""
        result = result or SyncResult()
        with self._db.write() as session:
            batch = session.get(SyncBatch, receipt.batch_id)
            if batch is None:
                log.warning("receipt for an unknown batch ignored")
                return result
            if batch.receipt == receipt.raw:
                return result  # applied before (the office repeats recent receipts)
            if receipt.batch_sha384 != batch.sha384:
                log.warning("receipt for other bytes than this batch ignored")
                return result
            if batch.state == "imported" and receipt.status == ReceiptStatus.STORED:
                return result  # a late copy of an earlier answer
            if batch.state == "withdrawn":
                # Withdrawn for an erasure; a copy reached the office all the same. Its
                # items were packed afresh, so only the answer is kept.
                batch.receipt = receipt.raw
                batch.answered_at = utcnow()
                session.add(batch)
                return result
            batch.state = receipt.status.value
            batch.answered_at = utcnow()
            batch.receipt = receipt.raw
            batch.reason = receipt.reason
            # Answered: the sealed copy is not needed any more (a rejected batch's records
            # are packed afresh), so it does not outlive a purge or an erasure.
            batch.data = b""
            session.add(batch)
            items = session.scalars(
                select(OutboxItem).where(OutboxItem.batch_id == receipt.batch_id)
            ).all()
            if receipt.status == ReceiptStatus.REJECTED:
                # nothing in a rejected batch counts as delivered: back into the outbox
                return_to_outbox(session, items, last_error=receipt.reason)
                result.rejected.append((receipt.batch_id, receipt.reason or "rejected"))
            else:
                delivered = receipt.delivered_records
                done_instructions = receipt.delivered_instructions
                refused = {
                    ref: outcome
                    for ref, outcome in receipt.records
                    if outcome in (ItemResult.CONFLICT, ItemResult.NOT_ENTITLED)
                }
                answers = dict(receipt.instructions)
                for item in items:
                    if item.kind == OutboxKind.RECORD.value:
                        ref = RecordRef(item.record_id, int(item.revision or 0))
                        if ref in delivered and item.state != "delivered":
                            item.state = "delivered"
                            item.delivered_at = utcnow()
                            set_record_sync_state(session, item, SyncState.DELIVERED)
                            result.records_delivered += 1
                        elif ref in refused:
                            # The importer did not take it (the record id belongs to another
                            # device, or the sender may not speak for the case): not
                            # delivered, whatever "stored" said before. It stays in the
                            # outbox with the reason and is never purged; one refused for
                            # its sender waits for a supervisor's sync.
                            return_to_outbox(session, [item], last_error=refused[ref].value)
                            if refused[ref] is ItemResult.NOT_ENTITLED:
                                result.waiting_for_supervisor += 1
                    else:
                        iref = outbox_instruction_ref(item)
                        if answers.get(iref) is ItemResult.NOT_ENTITLED:
                            return_to_outbox(session, [item], last_error=answers[iref].value)
                            result.waiting_for_supervisor += 1
                            continue
                        if iref in done_instructions:
                            if item.state != "delivered":
                                item.state = "delivered"
                                item.delivered_at = utcnow()
                                # the device's own key is no instruction about a case
                                if item.kind != OutboxKind.DEVICE_KEY.value:
                                    result.instructions_delivered += 1
                        outcome = answers.get(iref)
                        if item.kind == OutboxKind.HANDOVER.value and outcome in (
                            ItemResult.SEALED,
                            ItemResult.REFUSED,
                        ):
                            sealed = outcome == ItemResult.SEALED
                            if handovers.apply_outcome(
                                session,
                                item,
                                sealed=sealed,
                                actor=self._actor.username,
                                user_id=self._actor.user_id,
                            ):
                                (
                                    result.handovers_sealed if sealed else result.handovers_refused
                                ).append(item.record_id)
                    session.add(item)
                for record_id in receipt.confirmed_erasures:
                    erasure = session.get(Erasure, record_id)
                    if erasure is not None and erasure.confirmed_at is None:
                        erasure.confirmed_at = utcnow()
                        session.add(erasure)
                        result.erasures_confirmed += 1
            audit.append(
                session,
                actor=self._actor.username,
                action=AuditAction.SYNC_RECEIPT,
                subject_type="batch",
                subject_id=receipt.batch_id,
                details={"status": receipt.status.value, "reason": receipt.reason},
            )
        return result

    def _refused(self, batch_id: str, reason: str, result: SyncResult) -> None:
        """The office refused one batch for itself (too large, id taken): its items go back
        into the outbox to be packed afresh, and the next batches are sent all the same."""
        with self._db.write() as session:
            batch = session.get(SyncBatch, batch_id)
            if batch is None or batch.state not in UNANSWERED:
                return
            batch.state = "rejected"
            batch.reason = reason
            batch.answered_at = utcnow()
            batch.data = b""
            session.add(batch)
            items = session.scalars(select(OutboxItem).where(OutboxItem.batch_id == batch_id))
            return_to_outbox(session, items.all(), last_error=reason)
            audit.append(
                session,
                actor=self._actor.username,
                action=AuditAction.SYNC_RECEIPT,
                subject_type="batch",
                subject_id=batch_id,
                details={"status": "refused", "reason": reason},
            )
        result.rejected.append((batch_id, reason))

    # -- HTTP --------------------------------------------------------------------------

    def send(
        self,
        *,
        cancel: threading.Event | None = None,
        progress: Callable[[int, int], None] | None = None,
        server_url: str | None = None,
        transport: httpx.BaseTransport | None = None,
        settings: HttpSettings | None = None,
    ) -> SyncResult:
        """Send the outbox over HTTP(S), collect receipts, fetch keys and new forms."""
        self._actor.require(Permission.SYNC)
        # Deferred: the HTTP client (httpx), see register_online.
        from intake_app.sync.transport_http import SyncClient

        with self._lock:
            result = SyncResult()
            stored = self._own_encryption_key(self._require_identity())
            identity = stored
            if server_url:
                # For this run only: the stored address changes through an administrator
                # (set_server_url) or a key set signed by the root, never through a sync.
                identity = _with_url(identity, server_url)
            try:
                with self._db.read() as session:
                    row = self._device(session)
                if row is not None and not row.registered:
                    self.register_online(cancel=cancel, transport=transport, settings=settings)
                    result.registered_now = True
                with SyncClient(
                    identity, settings=settings, cancel=cancel, transport=transport
                ) as client:
                    try:
                        identity = client.fetch_office_keys()
                        moved = identity.server_url != (server_url or stored.server_url)
                        self._store_identity(
                            identity
                            if moved or not server_url
                            else dataclasses.replace(identity, server_url=stored.server_url)
                        )
                    except SyncError as exc:
                        if exc.kind is not SyncErrorKind.REJECTED:
                            raise
                        log.warning("office keys could not be refreshed")
                    batches = self.prepare(HTTP)
                    self._mark_sent([b.batch_id for b in batches])

                    def on_receipt(_batch: BuiltBatch, receipt: Receipt) -> None:
                        self.apply_receipt(receipt, result)

                    def on_refused(batch: BuiltBatch, exc: SyncError) -> None:
                        self._refused(batch.batch_id, exc.refusal or "rejected", result)

                    client.send_batches(
                        batches, progress=progress, on_receipt=on_receipt, on_refused=on_refused
                    )
                    result.batches_sent = len(batches)
                    for receipt in client.fetch_receipts():
                        self.apply_receipt(receipt, result)
                    result.forms_installed = self._install_forms(client)
                    if (
                        self._take_handover is not None
                        and identity.open_encryption_key(self._site_key()) is not None
                    ):
                        documents = client.fetch_handovers()
                        self._take_in([(f"#{i}", d) for i, d in enumerate(documents)], result)
            except IntakeError as exc:
                self._record_outcome(error=str(exc))
                raise
            self._record_outcome(error=None)
            with self._db.write() as session:
                audit.append(
                    session,
                    actor=self._actor.username,
                    action=AuditAction.SYNC_SENT,
                    details={
                        "transport": HTTP,
                        "batches": result.batches_sent,
                        "records": result.records_delivered,
                    },
                )
            return result

    def _mark_sent(self, batch_ids: list[str]) -> None:
        with self._db.write() as session:
            for batch_id in batch_ids:
                batch = session.get(SyncBatch, batch_id)
                if batch is not None:
                    batch.state = "sent" if batch.state == "built" else batch.state
                    batch.sent_at = utcnow()
                    batch.attempts += 1
                    session.add(batch)

    def _store_identity(self, identity: DeviceIdentity) -> None:
        with self._db.write() as session:
            row = self._device(session)
            assert row is not None
            if row.identity != identity.to_json():
                row.identity = identity.to_json()
                session.add(row)

    def _record_outcome(self, *, error: str | None) -> None:
        with self._db.write() as session:
            row = self._device(session)
            if row is None:
                return
            row.last_sync_at = utcnow()
            row.last_error = error
            if error is None:
                row.last_success_at = row.last_sync_at
            session.add(row)

    # -- forms -------------------------------------------------------------------------

    def _install_forms(self, client: SyncClient) -> list[str]:
        registry = self._forms()
        known = [(form.id, form.version) for form in registry]
        installed = []
        for published in client.fetch_forms(known=known):
            if (published.form_id, published.version) in known:
                continue
            try:
                self.install_form(published)
            except IntakeError as exc:
                log.error("a published form was not installed: %s", type(exc).__name__)
                continue
            installed.append(f"{published.form_id} {published.version}")
        if installed:
            self._on_forms_changed()
        return installed

    def install_form(self, published: PublishedForm) -> None:
        """Check a verified published form with the form loader, then keep it."""
        form = load_form(MemoryFormSource(published.filename, published.content).as_source())
        if (form.id, form.version) != (published.form_id, published.version):
            raise SyncError(
                _("Das Formular der Zentrale passt nicht zu seiner Beschreibung."),
                kind=SyncErrorKind.REJECTED,
            )
        with self._db.write() as session:
            kept = session.get(InstalledForm, (form.id, form.version))
            if kept is None or kept.content != published.document:
                # a row the office root did not sign (kept as the bare file by an older
                # version, or put in outside the program) gives way to the signed one
                if kept is not None:
                    session.delete(kept)
                    session.flush()
                session.add(
                    InstalledForm(
                        form_id=form.id,
                        version=form.version,
                        filename=published.filename,
                        content=published.document,
                        sha384=hashlib.sha384(published.content).hexdigest(),
                        published_at=published.published_at,
                    )
                )
                audit.append(
                    session,
                    actor=self._actor.username,
                    action=AuditAction.FORM_INSTALLED,
                    subject_type="form",
                    subject_id=f"{form.id}@{form.version}",
                )

    # -- folder (USB stick) ------------------------------------------------------------

    def write_to_folder(self, folder: Path) -> SyncResult:
        """Write every unanswered batch for the folder transport into ``folder``."""
        self._actor.require(Permission.SYNC)
        folder = Path(folder)
        if not folder.is_dir():
            raise SyncError(
                _("Der Ordner {folder} ist nicht erreichbar (USB-Stick eingesteckt?).").format(
                    folder=folder
                ),
                kind=SyncErrorKind.STORAGE,
            )
        batches = self.prepare(FOLDER)
        result = SyncResult()
        result.files_written = write_batches(folder, batches)
        self._mark_sent([b.batch_id for b in batches])
        result.batches_sent = len(batches)
        with self._db.write() as session:
            audit.append(
                session,
                actor=self._actor.username,
                action=AuditAction.SYNC_SENT,
                details={"transport": FOLDER, "batches": len(batches)},
            )
        return result

    def import_receipts(self, folder: Path) -> SyncResult:
        """Read receipt files the office wrote into ``folder`` and apply them."""
        self._actor.require(Permission.SYNC)
        identity = self._require_identity()
        with self._db.read() as session:
            expected = {b.batch_id: b.sha384 for b in session.scalars(select(SyncBatch)).all()}
        found = read_receipts(Path(folder), identity=identity, expected=expected)
        result = SyncResult()
        result.invalid_receipts = [(str(path), reason) for path, reason in found.invalid]
        applied = []
        for receipt in found.receipts:
            if receipt.batch_id in expected:
                self.apply_receipt(receipt, result)
                applied.append(receipt)
        remove_answered_batches(Path(folder), applied)
        if self._take_handover is not None:
            self.import_handovers(Path(folder), result)
        if applied:
            self._record_outcome(error=None)
        return result

    def import_handovers(self, folder: Path, result: SyncResult | None = None) -> SyncResult:
        """Take in the hand-over files the office wrote into ``folder`` for this device
        (``intake-central handovers export``); a file taken in is removed from the folder."""
        self._actor.require(Permission.SYNC)
        result = result or SyncResult()
        files = read_handover_files(Path(folder))
        result.handovers_failed += [(str(path), reason) for path, reason in files.invalid]
        done = self._take_in([(str(path), data) for path, data in files.documents], result)
        remove_files([Path(name) for name in done])
        return result


def _queue_device_key(session: Session, identity: DeviceIdentity) -> None:
    """Queue the device's hand-over key (once per key: a newer key is sent again)."""
    public = identity.encryption_public_key()
    if public is None:
        return
    for item in session.scalars(
        select(OutboxItem).where(OutboxItem.kind == OutboxKind.DEVICE_KEY.value)
    ).all():
        if json.loads(item.payload).get("key", {}).get("kid") == public.key_id:
            return
    session.add(
        OutboxItem(
            kind=OutboxKind.DEVICE_KEY.value,
            record_id=identity.device_id,
            payload=json.dumps({"key": public.to_json()}, sort_keys=True),
        )
    )


def _reads(text: object) -> bool:
    """Whether a stored device identity reads as one."""
    try:
        DeviceIdentity.from_json(text)  # type: ignore[arg-type]
    except ValueError:
        return False
    return True


def _with_url(identity: DeviceIdentity, url: str) -> DeviceIdentity:
    check_server_url(url)
    return dataclasses.replace(identity, server_url=url.rstrip("/"))
