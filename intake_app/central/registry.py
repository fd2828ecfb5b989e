"""The device registry: enrolment tokens, registered device keys, revocation.

A device is ``pending`` from ``enrol`` until it registers its public key with the one-time
token (online or from a registration file), ``active`` after that, and ``revoked`` when
an administrator says so. Only the SHA-384 of a token is stored. Enrolling a pending
device again issues a fresh token (the old one stops working); an active or revoked name
cannot be enrolled again.
"""

from __future__ import annotations

import hmac
import logging
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.engine import Connection, Engine

from intake_app.atomic import atomic_write_bytes
from intake_app.errors import ConflictError, NotFound
from intake_app.i18n import _
from intake_app.sync import authors, keys
from intake_app.sync.enrolment import (
    Registration,
    build_enrolment,
    check_device_name,
    check_server_url,
    new_token,
    registration_proof,
    registration_proof_key,
    token_hash,
)
from intake_app.sync.errors import EnrolmentError
from intake_app.sync.identity import OfficeKeySet

from .db import device_pins, devices

log = logging.getLogger("intake.central")

DEFAULT_VALIDITY = timedelta(days=7)


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything here is UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """One row of the registry, as ``devices list`` shows it."""

    device_id: str
    name: str
    status: str
    key_id: str | None
    public_key_pem: str | None
    created_at: datetime
    registered_at: datetime | None
    revoked_at: datetime | None
    last_batch_at: datetime | None
    token_expires: datetime | None
    #: False when the key in ``devices`` is not the one the importer pinned or can prove
    #: (``devices list``: key mismatch); None when that was not looked up.
    key_trusted: bool | None = None

    def public_key(self) -> ec.EllipticCurvePublicKey | None:
        return keys.public_key_from_pem(self.public_key_pem) if self.public_key_pem else None


def _record(row: sa.Row) -> DeviceRecord:
    m = row._mapping
    return DeviceRecord(
        device_id=m["device_id"],
        name=m["name"],
        status=m["status"],
        key_id=m["key_id"],
        public_key_pem=m["public_key_pem"],
        created_at=as_utc(m["created_at"]) or utcnow(),
        registered_at=as_utc(m["registered_at"]),
        revoked_at=as_utc(m["revoked_at"]),
        last_batch_at=as_utc(m["last_batch_at"]),
        token_expires=as_utc(m["token_expires"]),
    )


def get_device(conn: Connection, device_id: str) -> DeviceRecord | None:
    row = conn.execute(sa.select(devices).where(devices.c.device_id == device_id)).first()
    return _record(row) if row else None


def list_devices(engine: Engine) -> list[DeviceRecord]:
    """Every device, with whether its registered key is the one the importer trusts."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(devices).order_by(devices.c.name)).all()
        pins = {r.device_id: r for r in conn.execute(sa.select(device_pins)).all()}
    out = []
    for row in rows:
        record = _record(row)
        if record.public_key_pem is not None:
            trusted = trusted_key_pem(pins.get(record.device_id), row) == record.public_key_pem
            record = replace(record, key_trusted=trusted)
        out.append(record)
    return out


def trusted_key_pem(pin: sa.Row | None, device: sa.Row) -> str | None:
    """The device key the importer may trust (docs/security.md, "Device keys the importer
    trusts"): the pinned one, or, before the first pin, the registered key if its
    registration proof (keyed with the token the office issued) verifies. None otherwise."""
    if pin is None:
        return None
    if pin.public_key_pem is not None:
        return str(pin.public_key_pem)
    pem = device._mapping["public_key_pem"]
    proof = device._mapping["registration_proof"]
    root = device._mapping["registration_root"]
    if pin.proof_key is None or pem is None or proof is None:
        return None
    if root is not None:
        try:
            authors.load_public(str(root))
        except ValueError:  # not a key: no device wrote it
            return None
    expected = registration_proof(
        bytes.fromhex(pin.proof_key),
        device_id=device._mapping["device_id"],
        public_key_pem=pem,
        profile_root=root,
    )
    # bytes, not text: compare_digest raises on text that is not ASCII, and the receiver
    # writes this column (attacker run 26 stopped every import run with it)
    given = str(proof).encode("utf-8")
    return str(pem) if hmac.compare_digest(expected.encode("ascii"), given) else None


def pin_device_key(
    conn: Connection, device_id: str
) -> tuple[str | None, str | None, tuple[str, str] | None]:
    """The key the importer trusts for ``device_id``, the key registered now, and the
    profile root pinned for it (kid, public key; None before it is), pinning the
    registered key, with the root its registration names, when its proof verifies
    (inside the caller's transaction)."""
    device = conn.execute(sa.select(devices).where(devices.c.device_id == device_id)).first()
    if device is None:
        return None, None, None
    pin = conn.execute(sa.select(device_pins).where(device_pins.c.device_id == device_id)).first()
    trusted = trusted_key_pem(pin, device)
    registered = device._mapping["public_key_pem"]
    pinned_root = (
        (str(pin.profile_root_kid), str(pin.profile_root_public))
        if pin is not None and pin.profile_root_kid
        else None
    )
    if pin is not None and pin.public_key_pem is None and trusted is not None:
        now = utcnow()
        values: dict[str, Any] = {
            "public_key_pem": trusted,
            "key_id": device._mapping["key_id"],
            "pinned_at": now,
            "proof_key": None,
        }
        # The profile root the registration named, under the same proof: the device's
        # first signed batch must come from it (docs/security.md, "Batches signed by
        # their sender").
        root = device._mapping["registration_root"]
        if root is not None and pinned_root is None:
            pinned_root = (authors.key_id(str(root)), str(root))
            values |= {
                "profile_root_kid": pinned_root[0],
                "profile_root_public": pinned_root[1],
                "profile_root_pinned_at": now,
            }
        conn.execute(
            device_pins.update()
            .where(device_pins.c.device_id == device_id, device_pins.c.public_key_pem.is_(None))
            .values(**values)
        )
        log.info("device key pinned: %s%s", device_id, " (with its profile root)" if root else "")
    return trusted, registered, pinned_root


def pin_revoked_at(conn: Connection, device_id: str) -> datetime | None:
    """When the office revoked the device, from the importer's own table."""
    value = conn.execute(
        sa.select(device_pins.c.revoked_at).where(device_pins.c.device_id == device_id)
    ).scalar_one_or_none()
    return as_utc(value)


def enrol_device(
    engine: Engine,
    *,
    name: str,
    server_url: str,
    key_set: OfficeKeySet,
    root_key: ec.EllipticCurvePrivateKey,
    out: Path,
    valid_for: timedelta = DEFAULT_VALIDITY,
    now: datetime | None = None,
) -> DeviceRecord:
    """Register a pending device and write its enrolment file to ``out``.

    The file is written inside the database transaction: if writing fails, the device is
    not registered; if the commit fails, the file is removed again. An existing file is
    never overwritten.
    """
    name = check_device_name(name)
    server_url = check_server_url(server_url)
    out = Path(out)
    if out.exists():
        raise ConflictError(_("Die Datei {path} gibt es schon.").format(path=out))
    now = now or utcnow()
    expires = now + valid_for
    token = new_token()
    written = False
    try:
        with engine.begin() as conn:
            existing = conn.execute(sa.select(devices).where(devices.c.name == name)).first()
            if existing is not None and existing._mapping["status"] != "pending":
                raise ConflictError(
                    _("Ein Gerät namens »{name}« ist schon registriert oder gesperrt.").format(
                        name=name
                    )
                )
            values = {
                "server_url": server_url,
                "token_hash": token_hash(token),
                "token_expires": expires,
                "token_used_at": None,
            }
            if existing is None:
                device_id = str(uuid.uuid4())
                conn.execute(
                    devices.insert().values(
                        device_id=device_id, name=name, status="pending", created_at=now, **values
                    )
                )
            else:
                device_id = existing._mapping["device_id"]
                conn.execute(
                    devices.update().where(devices.c.device_id == device_id).values(**values)
                )
            # The importer keeps the key of the registration proof (the receiver gets only
            # the token's hash): a key the receiver writes into ``devices`` without that
            # proof is never trusted (docs/security.md, "Device keys the importer trusts").
            proof_key = registration_proof_key(token).hex()
            conn.execute(device_pins.delete().where(device_pins.c.device_id == device_id))
            conn.execute(device_pins.insert().values(device_id=device_id, proof_key=proof_key))
            data = build_enrolment(
                device_id=device_id,
                device_name=name,
                server_url=server_url,
                token=token,
                expires=expires,
                key_set=key_set,
                root_key=root_key,
            )
            atomic_write_bytes(out, data)
            written = True
            record = get_device(conn, device_id)
    except BaseException:
        if written:
            out.unlink(missing_ok=True)
        raise
    assert record is not None
    log.info("device enrolled (pending): %s", device_id)
    return record


def register_device(
    engine: Engine, registration: Registration, *, now: datetime | None = None
) -> DeviceRecord:
    """Accept a device's public key for its one-time token.

    Registering the same key again (a device that lost the confirmation) succeeds again.

    Raises:
        EnrolmentError: ``unknown_device``, ``revoked``, ``token_invalid``, ``token_used``
            or ``expired``.
    """
    now = now or utcnow()
    with engine.begin() as conn:
        device = get_device(conn, registration.device_id)
        if device is None:
            raise EnrolmentError("unknown_device", _("Dieses Gerät ist der Zentrale unbekannt."))
        if device.status == "revoked":
            raise EnrolmentError("revoked", _("Dieses Gerät wurde gesperrt."))
        row = conn.execute(
            sa.select(
                devices.c.token_hash,
                devices.c.token_used_at,
                devices.c.registration_root,
                devices.c.registration_proof,
            ).where(devices.c.device_id == device.device_id)
        ).one()
        stored = row.token_hash or ""
        if not hmac.compare_digest(stored.encode("utf-8"), registration.token_hash.encode()):
            raise EnrolmentError(
                "token_invalid", _("Der Registrierungscode passt nicht zu diesem Gerät.")
            )
        if row.token_used_at is not None:
            if device.key_id == registration.key_id:
                if (
                    row.registration_root != registration.profile_root
                    or row.registration_proof != registration.key_proof
                ):
                    # The same key under another profile root, or with another proof (a
                    # genuine registration sent again is the same): someone on the device
                    # built a registration of her own (attacker runs 25 and 26); the first
                    # one stands, and this one is refused so that the office notices.
                    log.warning("registration with another profile root: %s", device.device_id)
                    raise EnrolmentError(
                        "token_used",
                        _(
                            "Dieses Gerät ist schon mit einem anderen Profil registriert. "
                            "Bitte melden Sie das der IT der Zentrale: das Gerät muss neu "
                            "eingerichtet werden."
                        ),
                    )
                return device
            raise EnrolmentError(
                "token_used", _("Dieser Registrierungscode wurde schon verwendet.")
            )
        if device.token_expires is None or now >= device.token_expires:
            raise EnrolmentError(
                "expired",
                _("Die Registrierungsdatei ist abgelaufen. Bitte fordern Sie eine neue an."),
            )
        # The token is spent by whichever request updates the row first: the condition on
        # token_used_at makes concurrent registrations with one token register one key.
        claimed = conn.execute(
            devices.update()
            .where(
                devices.c.device_id == device.device_id,
                devices.c.token_used_at.is_(None),
                devices.c.status == "pending",
            )
            .values(
                status="active",
                public_key_pem=keys.public_key_to_pem(registration.public_key),
                key_id=registration.key_id,
                registration_proof=registration.key_proof,
                registration_root=registration.profile_root,
                registered_at=now,
                token_used_at=now,
            )
        ).rowcount
        record = get_device(conn, device.device_id)
        if claimed != 1:
            if record is not None and record.key_id == registration.key_id:
                return record
            raise EnrolmentError(
                "token_used", _("Dieser Registrierungscode wurde schon verwendet.")
            )
    assert record is not None
    log.info("device registered: %s", record.device_id)
    return record


def revoke_device(engine: Engine, name: str, *, now: datetime | None = None) -> DeviceRecord:
    """Revoke a device: the receiver refuses its batches from now on.

    Raises:
        NotFound: no device of that name.
    """
    with engine.begin() as conn:
        row = conn.execute(sa.select(devices).where(devices.c.name == name)).first()
        if row is None:
            raise NotFound(_("Es gibt kein Gerät namens »{name}«.").format(name=name))
        device = _record(row)
        if device.status != "revoked":
            conn.execute(
                devices.update()
                .where(devices.c.device_id == device.device_id)
                .values(status="revoked", revoked_at=now or utcnow(), token_hash=None)
            )
        revoked = conn.execute(
            sa.select(devices.c.revoked_at).where(devices.c.device_id == device.device_id)
        ).scalar_one()
        pinned = conn.execute(
            sa.select(device_pins.c.device_id).where(device_pins.c.device_id == device.device_id)
        ).first()
        if pinned is None:
            conn.execute(
                device_pins.insert().values(device_id=device.device_id, revoked_at=revoked)
            )
        else:
            conn.execute(
                device_pins.update()
                .where(
                    device_pins.c.device_id == device.device_id,
                    device_pins.c.revoked_at.is_(None),
                )
                .values(revoked_at=revoked)
            )
        record = get_device(conn, device.device_id)
    assert record is not None
    log.info("device revoked: %s", record.device_id)
    return record
