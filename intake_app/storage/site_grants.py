"""Signed grants of the site key (docs/security.md, "Site key grants").

Creating a supervisor account is not enough to receive the site key: the key goes only
to a supervisor who holds a **grant**, and every seal of the site key (a grant, a
rotation) is made only after her grant checked. A grant record names

- whom it gives the key to: her user id, her vault reference (the key of the record),
  her signing key id and the SHA-256 of her vault public key, as they were when she was
  granted it (a password reset gives her new keys, so a grant does not survive it);
- who granted it: a supervisor's signing key (``by``, its key id), or the recovery key
  (``via`` ``recovery``; a signing key derived from the recovery key, its public key in
  the record);
- when.

It is signed by the granter (domain ``intake-site-grant/1``) and authenticated in the
vault with a MAC under a key derived from the site key (``Vault._grant_mac``), so only
someone who holds the site key makes a grant that checks: an administrator, who can
create supervisors, sign their rows and know their first password, holds no site key.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.orm import Session

from intake_app.core.audit import AuditAction
from intake_app.core.permissions import Role
from intake_app.i18n import _
from intake_app.storage import integrity, user_keys
from intake_app.storage.integrity import StateReport
from intake_app.storage.models import AuditLogEntry, User, UserKey
from intake_app.storage.vault import Vault
from intake_app.sync.keys import EncryptionPrivateKey

log = logging.getLogger("intake.storage")

GRANT_DOMAIN = "intake-site-grant/1"
VIA_SUPERVISOR = "supervisor"
VIA_RECOVERY = "recovery"
#: written for the holders an older profile already had at its first sign-in of a
#: holder after grants came in (signed by that holder)
VIA_MIGRATED = "migrated"

_FIELDS = ("user_id", "kid", "public", "by", "by_public", "via", "ts")

#: order of P-384 (FIPS 186-4, D.1.2.4)
_P384_ORDER = int(
    "39402006196394479212279040100143613805079739270465446667946905279627659399113263569398"
    "956308152294913554433653942643"
)


def _message(vault_id: str, ref: str, record: dict[str, Any]) -> bytes:
    body = {k: record.get(k) for k in _FIELDS}
    return user_keys.canonical({"vault": vault_id, "ref": ref, "grant": body})


def recovery_signing_key(recovery_secret: bytes) -> ec.EllipticCurvePrivateKey:
    """The P-384 key the recovery key signs grants with.

    Derived from the recovery key's secret (HKDF-SHA384) by FIPS 186-4, B.4.1: 64 bits
    more than the order, reduced modulo n-1, plus one.
    """
    extra = HKDF(
        algorithm=hashes.SHA384(),
        length=56,
        salt=None,
        info=b"intake recovery grant signing key v1",
    ).derive(recovery_secret)
    d = int.from_bytes(extra, "big") % (_P384_ORDER - 1) + 1
    return ec.derive_private_key(d, ec.SECP384R1())


def make_grant(
    vault: Vault,
    *,
    grantee: User,
    signing_key: ec.EllipticCurvePrivateKey,
    via: str,
) -> dict[str, Any]:
    """A signed grant record for ``grantee`` (not yet authenticated with the site key)."""
    assert grantee.id is not None
    record: dict[str, Any] = {
        "user_id": grantee.id,
        "kid": grantee.key_id or "",
        "public": vault.public_digest(grantee.username) or "",
        "by": user_keys.key_id(signing_key),
        "by_public": user_keys.public_text(signing_key) if via == VIA_RECOVERY else None,
        "via": via,
        "ts": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    record["sig"] = user_keys.sign(
        signing_key,
        GRANT_DOMAIN,
        _message(vault.vault_id, vault.user_ref(grantee.username), record),
    )
    return record


class GrantChecker:
    """Checks grant records against the signed state (the rows and keys of the profile
    database, checked at this sign-in) and the vault's public keys."""

    def __init__(self, session: Session, vault: Vault, report: StateReport) -> None:
        self._vault = vault
        self._report = report
        self._vault_id = vault.vault_id
        self._users = {u.id: u for u in session.scalars(select(User)).all()}
        self._keys = {k.kid: k for k in session.scalars(select(UserKey)).all()}
        self._digests = vault.public_digests()

    def check(self, ref: str, record: dict[str, Any]) -> bool:
        """True when ``record`` (for vault reference ``ref``) is a grant to an active
        supervisor as she is now, signed by a supervisor or the recovery key."""
        try:
            return self._grantee_ok(ref, record) and self._signer_ok(ref, record)
        except (KeyError, TypeError, ValueError):
            return False

    def _grantee_ok(self, ref: str, record: dict[str, Any]) -> bool:
        user = self._users.get(record.get("user_id"))
        if user is None or user.id is None or self._vault.user_ref(user.username) != ref:
            return False
        signed = self._report.signed.get(user.id)
        if signed is None or self._report.findings_for(user.id):
            return False
        if signed.role != Role.SUPERVISOR.value or not signed.active:
            return False
        # her keys as they were when she was granted it: a reset gives her new ones
        if (user.key_id or "") != record.get("kid") or not record.get("kid"):
            return False
        return bool(record.get("public")) and self._digests.get(ref) == record.get("public")

    def _signer_ok(self, ref: str, record: dict[str, Any]) -> bool:
        message = _message(self._vault_id, ref, record)
        signature = str(record.get("sig", ""))
        if record.get("via") == VIA_RECOVERY:
            public = record.get("by_public")
            if not isinstance(public, str) or user_keys.key_id(public) != record.get("by"):
                return False
            return user_keys.verify(public, GRANT_DOMAIN, message, signature)
        if record.get("via") not in (VIA_SUPERVISOR, VIA_MIGRATED):
            return False
        key = self._keys.get(str(record.get("by", "")))
        if key is None:
            return False
        signer = self._users.get(key.user_id)
        if signer is None or signer.id is None:
            return False
        values = self._report.signed.get(signer.id)
        # a supervisor by her signed row (she may have left since: what she granted while
        # she could stays; after she left she cannot write the profile database, which is
        # re-keyed at once, nor authenticate a grant under the site key made after her)
        if values is None or values.role != Role.SUPERVISOR.value:
            return False
        if key.kid not in self._report.signers and not integrity.key_certified(
            key, self._report.signers
        ):
            return False
        return user_keys.verify(key.public_key, GRANT_DOMAIN, message, signature)


def valid_grants(
    session: Session, vault: Vault, site: EncryptionPrivateKey, report: StateReport
) -> dict[str, dict[str, Any]] | None:
    """The grants that check, by vault reference; None when the vault has none at all
    (a profile from before grants came in)."""
    records = vault.site_grants(site)
    if records is None:
        return None
    checker = GrantChecker(session, vault, report)
    valid = {ref: rec for ref, rec in records.items() if checker.check(ref, rec)}
    if len(valid) != len(records):
        log.error("a site key grant does not check; it is not honoured")
    return valid


def grants_were_made(session: Session) -> bool:
    """True when the audit log shows that this profile has had signed grants (so a vault
    without any was changed, not merely made before grants came in).

    Used only to report the removal: whoever writes the profile database can change the
    audit log, so no key decision rests on it (docs/security.md, "Site key grants")."""
    entry = session.scalars(
        select(AuditLogEntry.seq)
        .where(
            AuditLogEntry.action.in_(
                [AuditAction.SITE_GRANTS_SIGNED.value, AuditAction.SITE_KEY_GRANTED.value]
            ),
            AuditLogEntry.details.like('%"via"%'),
        )
        .limit(1)
    ).first()
    return entry is not None


# -- what people are told (the program and the command line) -------------------------


def no_site_key_note() -> str:
    return _(
        "Sie sehen nur Ihre eigenen Akten: Den Zugang zu allen Akten muss eine Leitung "
        "freigeben, die ihn schon hat (Verwaltung → „Zugang zu allen Akten freigeben …“). "
        "Die Administration kann ihn nicht geben."
    )


def supervisor_created_note(name: str) -> str:
    """What the administration is told when it creates a supervisor."""
    return _(
        "„{name}“ ist als Leitung angelegt und sieht zunächst nur eigene Akten. Den Zugang "
        "zu allen Akten muss eine Leitung freigeben, die ihn schon hat (Verwaltung → "
        "„Zugang zu allen Akten freigeben …“), nachdem „{name}“ ihr eigenes Passwort "
        "gewählt hat. Die Administration kann ihn nicht geben."
    ).format(name=name)


def reset_note(name: str) -> str:
    """What the administration is told when it resets a counsellor's or supervisor's
    password."""
    return _(
        "Das Passwort von „{name}“ ist zurückgesetzt. Die Akten dieses Kontos bleiben "
        "verschlossen, bis die Person ein eigenes Passwort gewählt hat und eine Leitung "
        "bestätigt, mit ihr gesprochen zu haben (bei der Anmeldung der Leitung: Verwaltung → "
        "„Zurückgesetzte Passwörter bestätigen …“). War das Konto eine Leitung, gibt ihr "
        "danach eine andere Leitung den Zugang zu allen Akten neu."
    ).format(name=name)
