"""The audit log's hash chain: canonical form of an entry and verification.

Each entry's hash is SHA-256 over the previous entry's hash followed by the entry's
canonical JSON (sorted keys, no whitespace, UTF-8). Changing, inserting or deleting an
entry breaks the chain from that entry on, and :func:`verify_chain` names the first one.
Entries never hold answers or the names of people interviewed: only ids and actions.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from intake_app.i18n import _

GENESIS_HASH = "0" * 64


class AuditAction(enum.StrEnum):
    """Every kind of event written to the audit log."""

    PROFILE_CREATED = "profile_created"
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGIN_THROTTLED = "login_throttled"
    LOGOUT = "logout"
    LOCK = "lock"
    UNLOCK = "unlock"
    RECOVERY_USED = "recovery_used"
    USER_CREATED = "user_created"
    USER_DEACTIVATED = "user_deactivated"
    USER_REACTIVATED = "user_reactivated"
    PASSWORD_CHANGED = "password_changed"
    PASSWORD_RESET = "password_reset"
    SETTINGS_CHANGED = "settings_changed"
    SCHEMA_UPGRADED = "schema_upgraded"
    RECORD_CREATED = "record_created"
    RECORD_DISCARDED = "record_discarded"
    RECORD_READ = "record_read"
    RECORD_FINALISED = "record_finalised"
    RECORD_REVISED = "record_revised"
    RECORD_FORM_UPGRADED = "record_form_upgraded"
    RECORD_CLOSED = "record_closed"
    RECORD_REOPENED = "record_reopened"
    CONTACT_RECORDED = "contact_recorded"
    RECORD_UPDATED = "record_updated"
    RECORD_PRINTED = "record_printed"
    RECORD_EXPORTED = "record_exported"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    PERSON_EXPORTED = "person_exported"
    RECORD_ERASED = "record_erased"
    RECORD_PURGED = "record_purged"
    DEVICE_ENROLLED = "device_enrolled"
    SYNC_PREPARED = "sync_prepared"
    SYNC_SENT = "sync_sent"
    SYNC_RECEIPT = "sync_receipt"
    FORM_INSTALLED = "form_installed"
    OVERVIEW_PRINTED = "overview_printed"
    BACKUP_CREATED = "backup_created"
    BACKUP_RESTORED = "backup_restored"
    DEMO_DATA = "demo_data"
    RECORD_MOVED = "record_moved"
    HANDOVER_REQUESTED = "handover_requested"
    HANDOVER_SEALED = "handover_sealed"
    HANDOVER_REFUSED = "handover_refused"
    HANDOVER_RECEIVED = "handover_received"
    SITE_KEY_GRANTED = "site_key_granted"
    SITE_GRANTS_SIGNED = "site_grants_signed"
    STORE_OWNER_CONFIRMED = "store_owner_confirmed"
    STORE_REKEYED = "store_rekeyed"
    KEYS_MIGRATED = "keys_migrated"
    INTEGRITY_VIOLATION = "integrity_violation"
    INTEGRITY_SIGNED = "integrity_signed"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One link of the chain as stored."""

    seq: int
    ts: str
    actor: str
    action: str
    subject_type: str
    subject_id: str
    details: dict[str, Any]
    prev_hash: str
    hash: str

    def canonical(self) -> bytes:
        """The bytes the hash covers besides the previous hash."""
        return canonical_bytes(
            seq=self.seq,
            ts=self.ts,
            actor=self.actor,
            action=self.action,
            subject_type=self.subject_type,
            subject_id=self.subject_id,
            details=self.details,
        )


#: one encoder for every entry (``json.dumps`` with options makes a new one at each call)
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_bytes(
    *,
    seq: int,
    ts: str,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str,
    details: dict[str, Any],
) -> bytes:
    """Canonical JSON of an entry's fields (the hash covers exactly these)."""
    body = {
        "seq": seq,
        "ts": ts,
        "actor": actor,
        "action": action,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "details": details,
    }
    # A text the program wrote is valid Unicode; a lone surrogate put in a stored entry
    # by hand gives bytes (and so another hash) instead of stopping every reader.
    return _CANONICAL.encode(body).encode("utf-8", "surrogatepass")


def chain_hash(prev_hash: str, canonical: bytes) -> str:
    """SHA-256 over the previous hash (hex, ASCII) and the canonical entry."""
    digest = hashlib.sha256()
    digest.update(prev_hash.encode("ascii"))
    digest.update(canonical)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class AuditProblem:
    """Something the signatures or an anchor reveal (docs/security.md, "Device: integrity
    of roles and the audit log").

    ``kind`` is one of ``signature`` (an entry's signature does not check), ``unsigned``
    (an entry without signature where signatures are due), ``unknown_signer``,
    ``uncertified_signer`` (a key no administrator certified from the root),
    ``actor_mismatch`` (signed by someone other than the actor named), ``cut`` (newest
    entries removed: the anchor knows entries up to ``anchor_seq``, the log ends at
    ``seq``), ``rewritten`` (the entry at the anchor's number is another one) and
    ``anchor_signature`` (the anchor itself was changed).
    """

    kind: str
    seq: int
    anchor: str = ""  # "local" | "batch" (what was sent to the central office)
    anchor_seq: int | None = None

    def message(self) -> str:
        """One German sentence (translated) for the user."""
        where = _("gesendet an die Zentrale") if self.anchor == "batch" else _("lokal")
        if self.kind == "cut":
            return _(
                "Die neuesten Einträge wurden gelöscht: der Anker ({where}) kennt Einträge bis "
                "Nr. {anchor}, das Protokoll endet bei Nr. {seq}."
            ).format(where=where, anchor=self.anchor_seq, seq=self.seq)
        if self.kind == "rewritten":
            return _(
                "Eintrag Nr. {seq} ist nicht mehr der, den der Anker ({where}) kennt: das "
                "Protokoll wurde neu geschrieben."
            ).format(seq=self.seq, where=where)
        if self.kind == "anchor_signature":
            return _("Der lokale Anker des Audit-Protokolls wurde verändert.")
        if self.kind == "unsigned":
            return _("Eintrag Nr. {seq} trägt keine Unterschrift.").format(seq=self.seq)
        if self.kind == "unknown_signer":
            return _(
                "Eintrag Nr. {seq} ist mit einem unbekannten Schlüssel unterschrieben."
            ).format(seq=self.seq)
        if self.kind == "uncertified_signer":
            return _(
                "Eintrag Nr. {seq} ist mit einem Schlüssel unterschrieben, den keine "
                "Administration bestätigt hat: er wurde außerhalb des Programms eingetragen."
            ).format(seq=self.seq)
        if self.kind == "actor_mismatch":
            return _(
                "Eintrag Nr. {seq} nennt eine andere Person als die, die ihn unterschrieben hat."
            ).format(seq=self.seq)
        return _("Die Unterschrift von Eintrag Nr. {seq} passt nicht zum Inhalt.").format(
            seq=self.seq
        )


@dataclass(frozen=True, slots=True)
class ChainReport:
    """Result of a verification: ``broken_seq`` is None when the chain is intact, and
    ``problems`` lists what signatures and anchors reveal besides."""

    checked: int
    broken_seq: int | None = None
    reason: str = ""
    problems: tuple[AuditProblem, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every entry links to the one before and nothing else is wrong."""
        return self.broken_seq is None and not self.problems


def verify_chain(entries: Iterable[AuditEntry]) -> ChainReport:
    """Walk the entries in order and report the first that does not fit the chain."""
    prev_hash = GENESIS_HASH
    expected_seq: int | None = None
    checked = 0
    for entry in entries:
        if expected_seq is not None and entry.seq != expected_seq:
            return ChainReport(checked, entry.seq, "gap")
        if entry.prev_hash != prev_hash:
            return ChainReport(checked, entry.seq, "prev_hash")
        if chain_hash(prev_hash, entry.canonical()) != entry.hash:
            return ChainReport(checked, entry.seq, "hash")
        prev_hash = entry.hash
        expected_seq = entry.seq + 1
        checked += 1
    return ChainReport(checked)
