"""Profile settings stored as JSON in the encrypted database, typed by ``core.settings``,
and counted only as an administrator signed them.

docs/security.md, "Profile settings". Every password opens the profile database, so a
setting row says nothing by itself: a counsellor could shorten the retention period or
preselect the special categories on everyone's printouts. What counts is the *seal*, a
row (``__settings_seal__``) holding the stored values together with a signature by the
profile's root (which every administrator holds) or an administrator's certified key,
made when an administrator saves. The rows are a working copy:

- a row that differs from the seal is not honoured (the sealed value is), and reported;
- a seal that does not check, or is gone after the profile's settings were signed once,
  leaves the declared defaults in force until an administrator saves, and is reported;
- an older seal put back is reported where the audit log names a newer one;
- a profile from before the update has no seal: its rows count until the first
  administrator sign-in signs them as found (``integrity_signed``, subject
  ``setting``/``settings``), which closes that window for good.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from intake_app.core import settings as declared
from intake_app.core.audit import AuditAction
from intake_app.core.permissions import Actor, Permission, Role
from intake_app.errors import PermissionDenied, ValidationError
from intake_app.i18n import _
from intake_app.storage import audit, integrity, user_keys
from intake_app.storage.database import Database
from intake_app.storage.integrity import StateReport
from intake_app.storage.models import AuditLogEntry, SettingValue, UserKey, utcnow
from intake_app.storage.user_keys import SigningKeys

log = logging.getLogger("intake.storage")

VERSION_KEY = "__settings_version__"
#: the row holding the signed values (docs/security.md, "Profile settings")
SEAL_KEY = "__settings_seal__"
SEAL_FORMAT = "intake-settings-seal/1"
#: the signature's domain (one kind of signature never stands in for another)
DOMAIN = "intake-settings/1"
#: the audit subject of the seal's first signing (the update window's closing entry)
SUBJECT = ("setting", "settings")
#: how a seal came about
CREATED = "created"
SAVED = "saved"
UPDATE = "update"
#: a user's own note of how far she checked the audit log for newer seals
CHECKED_KEY = "__settings_checked__.{user_id}"
#: entries read past the note before a sign-in writes a new one (a write at every
#: sign-in would cost more than reading this many)
NOTE_AFTER = 500
CHECKED_DOMAIN = "intake-settings-checked/1"


def _profile_specs() -> list[declared.SettingSpec]:
    return [spec for spec in declared.SETTINGS if spec.scope is declared.Scope.PROFILE]


def _taken(spec: declared.SettingSpec, value: object) -> tuple[bool, Any]:
    """Whether ``value`` is one the declaration takes, and as what."""
    try:
        return True, spec.validate(value)
    except (ValueError, TypeError, OverflowError, ValidationError, RecursionError):
        return False, None


_STORED = text("SELECT key, value FROM settings")


def stored(session: Session) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The declared profile settings' rows as their declarations take them, and the keys
    of rows that do not read (left out: their default applies)."""
    specs = {spec.key: spec for spec in _profile_specs()}
    rows = session.execute(_STORED).all()  # a few rows: read all, keep the declared
    values: dict[str, Any] = {}
    unreadable: list[str] = []
    for key, raw in rows:
        if key not in specs:
            continue
        parsed = _json(raw)
        ok, value = _taken(specs[key], parsed)
        if ok and parsed is not None:
            values[key] = value
        else:
            unreadable.append(key)
    return values, tuple(sorted(unreadable))


def put(session: Session, *, key: str, value: Any) -> Any:
    """Validate and store ``value`` as a row (a new profile, before its seal is made);
    return it. The caller checks permissions."""
    new = declared.spec(key).validate(value)
    _write_rows(session, {**stored(session)[0], key: new})
    return new


def _write_rows(session: Session, values: dict[str, Any]) -> None:
    """Make the rows the working copy of ``values`` (a key not in it: no row)."""
    for spec in _profile_specs():
        row = session.get(SettingValue, spec.key)
        if spec.key not in values:
            if row is not None:
                session.delete(row)
            continue
        text = json.dumps(values[spec.key], ensure_ascii=False)
        if row is None:
            session.add(SettingValue(key=spec.key, value=text))
        elif row.value != text:
            row.value = text
            row.updated_at = utcnow()
            session.add(row)
    session.flush()


def _json(raw: object) -> Any:
    """A stored value read as JSON; None when it is none (changed outside the program)."""
    try:
        return json.loads(raw)  # type: ignore[arg-type]
    except (ValueError, TypeError, RecursionError):
        return None


def upgrade_stored(session: Session) -> int:
    """Run the versioned settings upgrades; return the version now stored."""
    row = session.get(SettingValue, VERSION_KEY)
    stored = _json(row.value) if row else 0
    if row is not None and (not isinstance(stored, int) or isinstance(stored, bool) or stored < 0):
        # a marker no version of the program writes (changed outside it): nothing is
        # upgraded over values that may be current; each value is checked where it is
        # read (``get``), and the marker is written anew
        stored = declared.SETTINGS_VERSION
        row.value = json.dumps(stored)
        session.add(row)
    if stored >= declared.SETTINGS_VERSION:
        return stored
    values = {}
    for spec in declared.SETTINGS:
        existing = session.get(SettingValue, spec.key)
        if existing is not None and (value := _json(existing.value)) is not None:
            values[spec.key] = value
    upgraded = declared.upgrade(values, from_version=stored)
    for key, value in upgraded.items():
        existing = session.get(SettingValue, key) or SettingValue(key=key, value="null")
        existing.value = json.dumps(value, ensure_ascii=False)
        session.add(existing)
    marker = row or SettingValue(key=VERSION_KEY, value="0")
    marker.value = json.dumps(declared.SETTINGS_VERSION)
    session.add(marker)
    return declared.SETTINGS_VERSION


# -- the seal ----------------------------------------------------------------------------


class Status(enum.StrEnum):
    SIGNED = "signed"  # a seal that checks: its values count
    UNSIGNED = "unsigned"  # a profile from before the update, not signed yet: rows count
    CHANGED = "changed"  # a seal that does not check: the defaults count
    REMOVED = "removed"  # no seal, though the settings were signed once: the defaults count
    OLDER = "older"  # a seal that checks, but the audit log names a newer one: defaults


@dataclass(frozen=True, slots=True)
class InForce:
    """The profile settings in force, and what reading them found."""

    status: Status
    #: the values that count (a key not in it: its default)
    values: dict[str, Any] = field(default_factory=dict)
    #: keys whose row differs from what the seal signed (not honoured)
    changed: tuple[str, ...] = ()
    #: the SHA-384 of what the seal in force signed
    digest: str = ""
    #: the seal row as read (a session reads the settings again when it changes)
    source: str = ""
    #: whether the user's note is worth writing anew: the check read an administrator's
    #: entry (a signature), or many entries, that the next sign-in need not read again
    note_due: bool = False

    def get(self, key: str) -> Any:
        spec = declared.spec(key)
        return self.values.get(key, spec.default)

    @property
    def refused(self) -> bool:
        """True when the stored settings are not used at all (the defaults count)."""
        return self.status in (Status.CHANGED, Status.REMOVED, Status.OLDER)

    @property
    def finding(self) -> bool:
        return self.refused or bool(self.changed)

    def details(self) -> dict[str, Any]:
        return {
            "kind": "settings_changed",
            "status": self.status.value,
            "changed": list(self.changed),
        }

    def message(self) -> str:
        """What a sign-in says about it (German, translated)."""
        if self.refused:
            return _(
                "Die Profileinstellungen wurden außerhalb des Programms geändert: Sie tragen "
                "keine gültige Unterschrift der Administration, oder eine ältere Fassung "
                "wurde zurückgespielt. Sie werden nicht verwendet; bis eine Administratorin "
                "oder ein Administrator sie unter Einstellungen prüft und speichert, gelten "
                "die Voreinstellungen (zum Beispiel {days} Tage Aufbewahrung nach Abschluss)."
            ).format(days=declared.spec("retention.days_after_close").default)
        names = ", ".join(f"„{_(declared.spec(key).description)}“" for key in self.changed)
        return _(
            "Profileinstellungen wurden außerhalb des Programms geändert ({names}). Die "
            "Änderung gilt nicht: Es gelten weiter die Werte, die die Administration "
            "gespeichert hat."
        ).format(names=names)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _digest(message: bytes) -> str:
    return hashlib.sha384(message).hexdigest()


def write_seal(
    session: Session, values: dict[str, Any], *, signer: tuple[str, Any], root_kid: str, how: str
) -> str:
    """Sign ``values`` (the stored profile settings) as the profile's seal, make the rows
    their working copy, and return the digest of what was signed."""
    kid, key = signer
    body = {
        "format": SEAL_FORMAT,
        "profile": root_kid,
        "version": declared.SETTINGS_VERSION,
        "values": values,
        "signed_at": _now(),
        "how": how,
        "head": audit.head_seq(session),  # the seal's own audit entry comes after it
    }
    message = user_keys.canonical(body)
    sealed = {**body, "kid": kid, "signature": user_keys.sign(key, DOMAIN, message)}
    row = session.get(SettingValue, SEAL_KEY) or SettingValue(key=SEAL_KEY, value="")
    row.value = json.dumps(sealed, ensure_ascii=False, sort_keys=True)
    row.updated_at = utcnow()
    session.add(row)
    _write_rows(session, values)
    return _digest(message)


def _count(value: object) -> bool:
    """Whether ``value`` is a count or sequence number the program could have written."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < audit.SEQ_CEILING


#: seals this process checked: (seal text, signer's public key, root) -> what it read. A seal
#: is read at every sign-in; the process's memory is the program's own.
_CHECKED_SEALS: dict[tuple[str, str, str], tuple[dict[str, Any], str, int]] = {}


def _read_seal(raw: object, report: StateReport) -> tuple[dict[str, Any], str, int] | None:
    """The values a seal signed (upgraded to this version's layout), its digest and the
    log's head when it was made; None when it does not check against the signers of
    ``report``."""
    sealed = _json(raw)
    kid = sealed.get("kid") if isinstance(sealed, dict) else None
    public = report.signers.get(kid) if isinstance(kid, str) and report.root_kid else None
    if public is None:
        return None
    cache = (audit.stored_text(raw), public, report.root_kid)
    if cache in _CHECKED_SEALS:
        values, digest, head = _CHECKED_SEALS[cache]
        return dict(values), digest, head
    found = _check_seal(sealed, report, public)
    if found is not None:
        _CHECKED_SEALS.clear()  # one profile's current seal is what is kept
        _CHECKED_SEALS[cache] = found
        return dict(found[0]), found[1], found[2]
    return None


def _check_seal(
    sealed: Any, report: StateReport, public: str
) -> tuple[dict[str, Any], str, int] | None:
    """:func:`_read_seal` without the cache: the seal's form and signature."""
    if not isinstance(sealed, dict) or sealed.get("format") != SEAL_FORMAT:
        return None
    body = {name: sealed.get(name) for name in ("format", "profile", "version", "values")}
    body.update({name: sealed.get(name) for name in ("signed_at", "how", "head")})
    kid, signature = sealed.get("kid"), sealed.get("signature")
    version, values, head = body["version"], body["values"], body["head"]
    if not (isinstance(kid, str) and isinstance(signature, str) and isinstance(values, dict)):
        return None
    if not _count(version) or not _count(head):
        return None
    if not report.root_kid or body["profile"] != report.root_kid:
        return None  # made for another profile, or before this one's state was signed
    message = user_keys.canonical(body)
    if kid not in report.signers or not user_keys.verify(public, DOMAIN, message, signature):
        return None
    assert isinstance(version, int) and isinstance(head, int)
    if version > declared.SETTINGS_VERSION:
        return None
    specs = {spec.key: spec for spec in _profile_specs()}
    upgraded = declared.upgrade(dict(values), from_version=version)
    taken = {}
    for key, value in upgraded.items():
        if key in specs and (found := _taken(specs[key], value))[0]:
            taken[key] = found[1]
    return taken, _digest(message), head


def _by_administrator(session: Session, row: AuditLogEntry, report: StateReport) -> bool:
    """Whether ``row`` is an entry an administrator signed (her signed role; her key
    certified from the root, also when she is no longer active or has a newer key)."""
    kid = str(row.signer or "")
    key = session.get(UserKey, kid) if kid else None
    values = report.signed.get(key.user_id) if key is not None else None
    if key is None or values is None or values.role != Role.ADMIN.value:
        return False
    if (
        kid not in report.signers
        and not integrity.key_certified(key, report.signers)  # most often: by the root
        and kid not in (integrity.certified_key_ids(session, report) or set())
    ):
        return False
    return audit.signature_holds(row, key.public_key)


def _newest_named(session: Session, report: StateReport, since: int) -> str | None:
    """The seal the newest entry after ``since`` that names one names (``settings_changed``,
    ``integrity_signed``); None when there is none; ``""`` when that entry is not one an
    administrator signed (made or changed by hand: the seal is not taken then).

    The log is read by its sequence numbers only (``NOT INDEXED``: the table's own order):
    whoever holds the profile key can make an index hide an entry (attacker run 34). Only
    the newest entry that names a seal decides, and its signature is the only one checked:
    one that does not check is never passed over for an older one (attacker run 35), and
    entries planted by the thousand cost a sign-in no signature checks."""
    with audit.tolerant_text(session):  # text planted in the log reads as it is
        found = session.scalars(
            text(
                "SELECT seq FROM audit_log NOT INDEXED WHERE seq > :since "
                "AND action IN ('settings_changed', 'integrity_signed') "
                "AND subject_type = 'setting' ORDER BY seq DESC"
            ),
            {"since": since},
        ).all()
        for seq in found:
            row = session.get(AuditLogEntry, seq)
            named = audit.stored_details(row.details).get("settings") if row else None
            if row is None or not isinstance(named, str):
                continue  # an entry about another setting (the organisation file)
            return named if _by_administrator(session, row, report) else ""
    return None


def _checked(session: Session, keys: SigningKeys | None, user_id: int | None) -> tuple[int, str]:
    """How far the user checked the log, and for which seal: her own signed note, or
    nothing (-1). Anyone can remove it (she checks from the seal's head then); nobody
    else can make one."""
    if keys is None or user_id is None:
        return -1, ""
    row = session.get(SettingValue, CHECKED_KEY.format(user_id=user_id))
    note = _json(row.value) if row is not None else None
    if not isinstance(note, dict):
        return -1, ""
    seq, digest, signature = note.get("seq"), note.get("digest"), note.get("signature")
    if not (_count(seq) and isinstance(digest, str) and isinstance(signature, str)):
        return -1, ""
    if note.get("kid") != keys.kid:
        return -1, ""
    message = user_keys.canonical({"user": user_id, "seq": seq, "digest": digest})
    if (message, signature, keys.kid) not in _CHECKED_NOTES:
        if not user_keys.verify(keys.signing_key.public_key(), CHECKED_DOMAIN, message, signature):
            return -1, ""
        _CHECKED_NOTES.clear()  # the newest note is what is kept
        _CHECKED_NOTES.add((message, signature, keys.kid))
    assert isinstance(seq, int)
    return seq, digest


#: seconds a session uses the settings it read before it looks at the seal row again
RECHECK_AFTER = 5.0
#: saves of the settings in this process (a session reads them again after one)
_SAVES = [0]

#: notes this process checked (what was signed, the signature, the user's key id)
_CHECKED_NOTES: set[tuple[bytes, str, str]] = set()


def _note_checked(session: Session, keys: SigningKeys, user_id: int, digest: str) -> None:
    """Sign the user's own note: the log holds no newer seal than ``digest`` up to now."""
    seq = audit.head_seq(session)
    message = user_keys.canonical({"user": user_id, "seq": seq, "digest": digest})
    note = {
        "seq": seq,
        "digest": digest,
        "kid": keys.kid,
        "signature": user_keys.sign(keys.signing_key, CHECKED_DOMAIN, message),
    }
    key = CHECKED_KEY.format(user_id=user_id)
    row = session.get(SettingValue, key) or SettingValue(key=key, value="")
    row.value = json.dumps(note, sort_keys=True)
    row.updated_at = utcnow()
    session.add(row)


def seal_text(session: Session) -> str:
    """The seal row as stored ("" when there is none)."""
    found = session.execute(select(SettingValue.value).where(SettingValue.key == SEAL_KEY)).scalar()
    return "" if found is None else audit.stored_text(found)


def in_force(
    session: Session,
    report: StateReport,
    *,
    keys: SigningKeys | None = None,
    user_id: int | None = None,
) -> InForce:
    """The profile settings that count, checked against the signers of ``report``
    (:func:`integrity.check_state`); ``keys`` and ``user_id``: the user's own, whose note
    (:func:`_note_checked`) spares reading the log again from the seal's head."""
    found = _in_force(session, report, keys=keys, user_id=user_id)
    seal = session.get(SettingValue, SEAL_KEY)  # read once, by the same session
    return dataclasses.replace(found, source="" if seal is None else audit.stored_text(seal.value))


def _in_force(
    session: Session, report: StateReport, *, keys: SigningKeys | None, user_id: int | None
) -> InForce:
    rows, unreadable = stored(session)
    seal = session.get(SettingValue, SEAL_KEY)
    if seal is None:
        if report.bootstrapped and audit.has_entry(
            session, action=AuditAction.INTEGRITY_SIGNED, subject=SUBJECT, thorough=True
        ):
            return InForce(Status.REMOVED)
        return InForce(Status.UNSIGNED, rows)
    read = _read_seal(seal.value, report)
    if read is None:
        return InForce(Status.CHANGED)
    values, digest, head = read
    # The seal's own entry follows its head; a newer seal's entry follows that. Her note
    # for this very seal lets her start where she stopped.
    seen, noted = _checked(session, keys, user_id)
    since = max(head, seen) if noted == digest else head
    named = _newest_named(session, report, since)
    if (named is None and since == head) or (named is not None and named != digest):
        return InForce(Status.OLDER)  # an earlier seal put back, or its entry gone
    note_due = named is not None or audit.head_seq(session) - since >= NOTE_AFTER
    keys_ = set(values) | set(rows) | set(unreadable)
    changed = tuple(
        sorted(
            k
            for k in keys_
            if k in unreadable or (k in values, values.get(k)) != (k in rows, rows.get(k))
        )
    )
    return InForce(Status.SIGNED, values, changed, digest, note_due=note_due)


def _close_window(session: Session, actor: str, *, digest: str, kid: str, how: str) -> None:
    audit.append(
        session,
        actor=actor,
        action=AuditAction.INTEGRITY_SIGNED,
        subject_type=SUBJECT[0],
        subject_id=SUBJECT[1],
        details={"settings": digest, "signer": kid, "how": how},
    )


def seal_new_profile(session: Session, *, actor: str, signer: tuple[str, Any]) -> None:
    """Sign a new profile's settings as made (its root signs; the window is closed)."""
    digest = write_seal(session, stored(session)[0], signer=signer, root_kid=signer[0], how=CREATED)
    _close_window(session, actor, digest=digest, kid=signer[0], how=CREATED)


def at_sign_in(
    db: Database, *, actor: Actor, keys: SigningKeys | None, report: StateReport
) -> tuple[InForce, tuple[str, ...], tuple[str, ...]]:
    """The settings in force at a sign-in, and what to show: findings (safe mode) and
    notices. The first administrator sign-in after the update signs the rows as found; a
    finding is reported (``integrity_violation``), and an administrator's sign-in puts
    changed rows back as the seal has them."""
    admin = actor.role is Role.ADMIN and keys is not None and db.audit_signer is not None
    with db.write() as session:
        if not report.bootstrapped:
            report = integrity.check_state(session)
        found = in_force(session, report, keys=keys, user_id=actor.user_id)
        if found.status is Status.SIGNED and keys is not None and found.note_due:
            _note_checked(session, keys, actor.user_id, found.digest)
        signer = None
        if admin and report.bootstrapped and not report.findings:
            assert keys is not None
            signer = integrity.profile_signer(keys, report)
        if found.status is Status.UNSIGNED:
            if signer is None:
                return found, (), ()
            digest = write_seal(
                session, found.values, signer=signer, root_kid=report.root_kid, how=UPDATE
            )
            _close_window(session, actor.username, digest=digest, kid=signer[0], how=UPDATE)
            log.warning("the profile settings from before the update were signed as found")
            signed = InForce(Status.SIGNED, found.values, digest=digest, source=seal_text(session))
            return signed, (), (_signed_as_found(),)
        if not found.finding:
            return found, (), ()
        log.error("the profile settings were changed outside the program (%s)", found.status)
        if db.audit_signer is not None:
            audit.append(
                session,
                actor=actor.username,
                action=AuditAction.INTEGRITY_VIOLATION,
                subject_type=SUBJECT[0],
                subject_id=SUBJECT[1],
                details={"findings": [found.details()]},
            )
        if signer is not None and not found.refused:
            _write_rows(session, found.values)  # the working copy, as the seal has it
        return found, (found.message(),), ()


def _signed_as_found() -> str:
    return _(
        "Die Profileinstellungen stammen aus der Zeit vor dem Update und trugen noch keine "
        "Unterschrift. Intake hat sie bei Ihrer Anmeldung so unterschrieben, wie sie "
        "vorlagen, und das im Audit-Protokoll vermerkt; sonst ist nichts zu tun. Wenn "
        "niemand von Ihnen sie so gespeichert hat, prüfen Sie sie unter Einstellungen."
    )


def _no_key() -> PermissionDenied:
    return PermissionDenied(
        _(
            "Ihr Schlüssel zählt (noch) nicht als Unterschrift der Administration dieses "
            "Profils. Die Einstellungen wurden nicht gespeichert; melden Sie sich bitte mit "
            "Ihrem Passwort an."
        )
    )


class ProfileSettings:
    """Profile settings on behalf of a signed-in user: anyone reads, administrators change.

    The values are those in force at the sign-in (:func:`at_sign_in`, handed over with
    :meth:`adopt`); an administrator's change signs them anew and counts at once.

    Args:
        db: the open database.
        actor: who acts.
        signing_keys: the administrator's signing keys as they are now.
    """

    def __init__(
        self,
        *,
        db: Database,
        actor: Actor,
        signing_keys: Callable[[], SigningKeys | None] = lambda: None,
    ) -> None:
        self._db = db
        self._actor = actor
        self._in_force: InForce | None = None
        self._signing_keys = signing_keys
        self._generation = -1
        self._looked_at = 0.0

    def adopt(self, found: InForce) -> None:
        """Use ``found`` (what the sign-in read) as the settings in force."""
        self._in_force = found
        self._generation, self._looked_at = _SAVES[0], time.monotonic()

    @property
    def in_force(self) -> InForce:
        """The settings in force: as found at the sign-in, until an administrator saves
        (in any session: the seal then changed, and is read again). A save in this
        process is seen at once; one in another process within :data:`RECHECK_AFTER`
        seconds (the seal row is not read at every use)."""
        now = time.monotonic()
        if (
            self._in_force is not None
            and self._generation == _SAVES[0]
            and now - self._looked_at < RECHECK_AFTER
        ):
            return self._in_force
        with self._db.read() as session, audit.tolerant_text(session):
            current = seal_text(session)
            if self._in_force is None or self._in_force.source != current:
                self._in_force = in_force(session, integrity.check_state(session))
        self._generation, self._looked_at = _SAVES[0], now
        return self._in_force

    @property
    def unconfirmed(self) -> bool:
        """True when the stored settings are refused until an administrator saves them."""
        return self.in_force.refused

    def get(self, key: str) -> Any:
        """The current value of a profile setting."""
        return self.in_force.get(key)

    def all(self) -> dict[str, Any]:
        """Every profile setting with its current value."""
        return {spec.key: self.get(spec.key) for spec in _profile_specs()}

    def put(self, key: str, value: Any) -> Any:
        """Change a setting (administrators only; signed, and audited with the key and the
        digest of the signed settings, not the value)."""
        self._actor.require(Permission.MANAGE_SETTINGS)
        new = declared.spec(key).validate(value)
        current = self.in_force
        if current.get(key) == new and current.status is Status.SIGNED and not current.changed:
            return new
        self._seal({**current.values, key: new}, subject=key)
        return new

    def confirm(self) -> None:
        """Sign the settings in force as they are (an administrator checked them after a
        finding: the defaults, or the sealed values over changed rows)."""
        self._actor.require(Permission.MANAGE_SETTINGS)
        self._seal(dict(self.in_force.values), subject=SUBJECT[1])

    def _seal(self, values: dict[str, Any], *, subject: str) -> None:
        keys = self._signing_keys()
        if keys is None:
            raise _no_key()
        with self._db.write() as session:
            report = integrity.check_state(session)
            signer = integrity.profile_signer(keys, report)
            if signer is None:
                raise _no_key()
            digest = write_seal(session, values, signer=signer, root_kid=report.root_kid, how=SAVED)
            if not audit.has_entry(session, action=AuditAction.INTEGRITY_SIGNED, subject=SUBJECT):
                _close_window(
                    session, self._actor.username, digest=digest, kid=signer[0], how=SAVED
                )
            audit.append(
                session,
                actor=self._actor.username,
                action=AuditAction.SETTINGS_CHANGED,
                subject_type=SUBJECT[0],
                subject_id=subject,
                details={"settings": digest},
            )
            source = seal_text(session)
        self._in_force = InForce(Status.SIGNED, values, digest=digest, source=source)
        _SAVES[0] += 1  # every session of this process reads the settings again
