"""The signed state of a profile: user rows, user keys, the root, and their checks.

docs/security.md, "Device: integrity of roles and the audit log", describes the design:

- the profile has a **root** signing key (P-384); its public key and id are in
  ``trust_state``; its private key is wrapped for every administrator and, where the
  recovery key was at hand, by the recovery key;
- every user has her own key pair (``user_keys``); the public key is **certified** (signed)
  by an administrator's key or the root, the private key is wrapped for her alone;
- every user row is **signed** by the administrator who made it (or the root): id, name,
  role, active flag and current key id;
- an administrator's key counts as a signer only if her own row and key certificate check,
  starting from the root (so trust cannot come from nowhere);
- a row whose signature does not check is **not honoured**: the values the signature does
  cover are recovered where possible (role and active flag are tried), otherwise the user is
  refused; either way a finding names what was changed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake_app.core.permissions import Role
from intake_app.i18n import _
from intake_app.storage import user_keys
from intake_app.storage.models import AuditLogEntry, TrustState, User, UserKey
from intake_app.storage.user_keys import Signer, SigningKeys
from intake_app.sync import authors

log = logging.getLogger("intake.storage")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- canonical forms ---------------------------------------------------------------------


def _row_fields(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "username_key": user.username_key,
        "display_name": user.display_name,
        "role": user.role,
        "active": bool(user.active),
        "key_id": user.key_id,
    }


def row_payload(user: User, *, role: str | None = None, active: bool | None = None) -> bytes:
    """What a user row's signature covers (optionally with other role/active values)."""
    fields = _row_fields(user)
    if role is not None:
        fields["role"] = role
    if active is not None:
        fields["active"] = bool(active)
    return authors.row_message(fields)


def key_payload(key: UserKey) -> bytes:
    """What a key certificate covers."""
    return authors.key_message(key.kid, key.user_id, key.public_key)


# -- writing the signed state ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Authority:
    """A key that may sign user rows and certify keys: an administrator's, or the root."""

    kid: str
    key: Any  # ec.EllipticCurvePrivateKey

    @classmethod
    def of(cls, keys: SigningKeys) -> Authority:
        return cls(keys.kid, keys.signing_key)


def sign_row(user: User, authority: Authority) -> None:
    """Sign ``user`` as it is now."""
    user.signed_by = authority.kid
    user.signature = user_keys.sign(authority.key, user_keys.USER_ROW_DOMAIN, row_payload(user))


def issue_key(
    session: Session,
    *,
    user: User,
    authority: Authority | None,
    root_kid: str,
    root_key: Any = None,
    signing_key: Any = None,
    secret: bytes | None = None,
    vault: Any = None,
) -> SigningKeys:
    """Give ``user`` a (new) key pair; certify it and sign her row.

    With ``secret`` (her own, at her sign-in) the key is wrapped for her at once; with
    ``vault`` it is sealed to her as a grant she takes over at her next sign-in. Without
    an authority (before the profile's state is signed) the key is left pending: the next
    administrator to sign in certifies it. Earlier keys of the user stay (their public
    halves check her older audit entries) but lose their wrapped private half.
    """
    assert user.id is not None
    key = signing_key or user_keys.generate_key()
    keys = SigningKeys(
        signing_key=key,
        kid=user_keys.key_id(key),
        root_kid=root_kid,
        root_key=root_key if user.role == Role.ADMIN.value else None,
    )
    for old in session.scalars(select(UserKey).where(UserKey.user_id == user.id)).all():
        if old.wrapped is not None:
            old.wrapped = None
            session.add(old)
    row = UserKey(
        kid=keys.kid,
        user_id=user.id,
        public_key=user_keys.public_text(key),
        created_at=_now(),
        wrapped=(
            user_keys.seal_bundle(secret, user_id=user.id, keys=keys)
            if secret is not None
            else None
        ),
    )
    if authority is not None:
        certify(row, authority)
        user.key_id = keys.kid
        sign_row(user, authority)
        session.add(user)
    session.add(row)
    session.flush()
    if secret is None and vault is not None:
        vault.seal_for_user(
            user.username,
            user_keys.GRANT_NAME,
            user_keys.grant_bytes(keys.signing_key, keys.root_key),
        )
    return keys


def certify(key: UserKey, authority: Authority) -> None:
    """Certify a user's public key with an administrator's key (or the root)."""
    key.certified_by = authority.kid
    key.signature = user_keys.sign(authority.key, user_keys.USER_KEY_DOMAIN, key_payload(key))


def rewrap(session: Session, *, user_id: int, secret: bytes, keys: SigningKeys) -> None:
    """Wrap a user's current keys again (her password changed)."""
    row = session.get(UserKey, keys.kid)
    if row is None or row.user_id != user_id:
        return
    row.wrapped = user_keys.seal_bundle(secret, user_id=user_id, keys=keys)
    session.add(row)


def create_root(session: Session, *, recovery_secret: bytes | None) -> Any:
    """Make the profile's root key and store its public half (and recovery wrap)."""
    root = user_keys.generate_key()
    state = TrustState(
        id=1,
        root_kid=user_keys.key_id(root),
        root_public=user_keys.public_text(root),
        root_recovery_wrap=(
            user_keys.seal_root_for_recovery(recovery_secret, root) if recovery_secret else None
        ),
    )
    head = session.scalars(
        select(AuditLogEntry).order_by(AuditLogEntry.seq.desc()).limit(1)
    ).first()
    if head is not None:
        state.anchor_seq, state.anchor_hash = head.seq, head.hash
    session.add(state)
    session.flush()
    return root


def current_keys(session: Session, user: User, vault_keys: Any) -> tuple[SigningKeys | None, bool]:
    """The user's signing keys, and whether they come from a grant she takes over now.

    Returns ``(None, False)`` when she has none yet.

    Raises:
        user_keys.KeyBundleError: her wrapped keys do not open with her secret, or a
            grant names a key that is not one of hers.
    """
    if user.id is None or vault_keys is None:
        return None, False
    grant = vault_keys.secret(user_keys.GRANT_NAME)
    if grant is not None:
        key, root = user_keys.read_grant(grant)
        kid = user_keys.key_id(key)
        row = session.get(UserKey, kid)
        if row is None or row.user_id != user.id or row.public_key != user_keys.public_text(key):
            raise user_keys.KeyBundleError("the grant is not one of her keys")
        return SigningKeys(signing_key=key, kid=kid, root_kid="", root_key=root), True
    rows = session.scalars(
        select(UserKey).where(UserKey.user_id == user.id, UserKey.wrapped.is_not(None))
    ).all()
    if not rows:
        return None, False
    wanted = [r for r in rows if r.kid == user.key_id] or rows
    keys = user_keys.open_bundle(
        user_keys.secret_of(vault_keys), str(wanted[0].wrapped), user_id=user.id
    )
    if keys.kid != wanted[0].kid or user_keys.public_text(keys.signing_key) != (
        wanted[0].public_key
    ):
        raise user_keys.KeyBundleError("key id does not match")
    return keys, False


# -- checking ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing in the signed state that does not check."""

    kind: str  # user_changed | user_unsigned | key_changed | root_changed | state_missing
    username: str = ""
    user_id: int | None = None
    stored: str = ""
    signed: str = ""

    def message(self) -> str:
        """A German sentence (translated) naming what was changed."""
        if self.kind == "user_changed" and self.signed:
            return _(
                "Beim Benutzer „{name}“ wurden Rolle oder Status außerhalb des Programms "
                "geändert (unterschrieben: {signed}; jetzt in der Datenbank: {stored}). Es "
                "gilt der unterschriebene Wert."
            ).format(name=self.username, signed=self.signed, stored=self.stored)
        if self.kind == "user_changed":
            return _(
                "Der Benutzer „{name}“ wurde außerhalb des Programms geändert; seine "
                "Unterschrift passt nicht mehr. Er kann sich nicht anmelden, bis die "
                "Administration ihn neu einrichtet."
            ).format(name=self.username)
        if self.kind == "user_unsigned":
            return _(
                "Der Benutzer „{name}“ ist nicht von der Administration unterschrieben "
                "(außerhalb des Programms angelegt oder verändert). Er wird nicht anerkannt."
            ).format(name=self.username)
        if self.kind == "key_changed":
            return _(
                "Der Schlüssel des Benutzers „{name}“ wurde außerhalb des Programms "
                "verändert oder ausgetauscht."
            ).format(name=self.username)
        if self.kind == "root_changed":
            return _(
                "Der Wurzelschlüssel des Profils wurde ausgetauscht: die Benutzerliste "
                "stammt nicht aus diesem Programm."
            )
        return _(
            "Die Unterschriften der Benutzerliste fehlen, obwohl das Profil schon "
            "unterschrieben war."
        )

    def details(self) -> dict[str, Any]:
        """For the audit entry (names and ids only)."""
        out: dict[str, Any] = {"kind": self.kind}
        if self.user_id is not None:
            out["user_id"] = self.user_id
        if self.stored:
            out["stored"] = self.stored
        if self.signed:
            out["signed"] = self.signed
        return out


@dataclass(frozen=True, slots=True)
class SignedValues:
    """The role and active flag a user row's signature covers."""

    role: str
    active: bool


@dataclass(slots=True)
class StateReport:
    """The result of :func:`check_state`."""

    bootstrapped: bool
    findings: list[Finding] = field(default_factory=list)
    signed: dict[int, SignedValues] = field(default_factory=dict)
    signers: dict[str, str] = field(default_factory=dict)  # kid -> public key text
    root_kid: str = ""

    @property
    def ok(self) -> bool:
        return not self.findings

    def findings_for(self, user_id: int | None) -> list[Finding]:
        return [f for f in self.findings if f.user_id == user_id]


def _label(role: str, active: bool) -> str:
    try:
        name = Role(role).label
    except ValueError:
        name = role
    return name if active else _("{role}, deaktiviert").format(role=name)


def _signed_values(user: User, signers: dict[str, str]) -> SignedValues | None:
    """The values the row's signature covers: as stored, or (when changed) the original
    role/active flag, found by trying each."""
    if not user.signature or not user.signed_by or user.signed_by not in signers:
        return None
    public = signers[user.signed_by]
    if user_keys.verify(public, user_keys.USER_ROW_DOMAIN, row_payload(user), user.signature):
        return SignedValues(user.role, bool(user.active))
    for role in Role:
        for active in (True, False):
            payload = row_payload(user, role=role.value, active=active)
            if user_keys.verify(public, user_keys.USER_ROW_DOMAIN, payload, user.signature):
                return SignedValues(role.value, active)
    return None


def key_certified(key: UserKey | None, signers: dict[str, str]) -> bool:
    if key is None or not key.signature or key.certified_by not in signers:
        return False
    return user_keys.verify(
        signers[str(key.certified_by)], user_keys.USER_KEY_DOMAIN, key_payload(key), key.signature
    )


def certified_key_ids(session: Session, report: StateReport | None = None) -> set[str] | None:
    """Every user key certified along a chain from the profile's root: by the root, or by
    a key of a user whose signed row says administrator, itself certified so. Old keys
    and the keys of deactivated administrators count: they were current when they signed.
    A key row someone added to the database (whoever holds the profile key can) counts
    for nothing (``audit verify``). None before the profile's state is signed.
    ``report``: :func:`check_state`'s, when the caller has it already."""
    state = session.get(TrustState, 1)
    if state is None:
        return None
    report = report if report is not None else check_state(session)
    admins = {uid for uid, values in report.signed.items() if values.role == Role.ADMIN.value}
    keys = list(session.scalars(select(UserKey)).all())
    authorities: dict[str, str] = {state.root_kid: state.root_public}
    certified: set[str] = set()
    progress = True
    while progress:  # an administrator's key certifies others once her own checks
        progress = False
        for key in keys:
            if key.kid in certified or str(key.certified_by) not in authorities:
                continue
            if not key_certified(key, authorities):
                continue
            certified.add(key.kid)
            if key.user_id in admins:
                authorities[key.kid] = key.public_key
                progress = True
    return certified


def check_state(
    session: Session, *, bound_root: str | None = None, own_user_id: int | None = None
) -> StateReport:
    """Check every user row against the root, and the key certificates that matter.

    Each row's signature is checked once, as soon as its signer is known to count; an
    administrator's key certificate when her key is to count; other certificates only
    for ``own_user_id`` (the one signing in: her own sign-in checks hers), or for
    everyone when None (``audit verify``, a recovery).

    Args:
        bound_root: the root id the signing-in user's own wrapped keys name (None when
            she has none yet).
    """
    state = session.get(TrustState, 1)
    users_ = list(session.scalars(select(User).order_by(User.id)).all())
    if state is None:
        report = StateReport(bootstrapped=False)
        if bound_root or any(u.signature for u in users_):
            report.findings.append(Finding("state_missing"))
        return report
    report = StateReport(bootstrapped=True, root_kid=state.root_kid)
    try:
        root_ok = user_keys.key_id(state.root_public) == state.root_kid
    except ValueError:
        root_ok = False
    if not root_ok or (bound_root is not None and bound_root != state.root_kid):
        report.findings.append(Finding("root_changed"))
        return report
    keys = {k.kid: k for k in session.scalars(select(UserKey)).all()}
    signers: dict[str, str] = {state.root_kid: state.root_public}
    signed: dict[int, SignedValues] = {}
    bad_certificates: set[int] = set()
    waiting = [u for u in users_ if u.signature and u.signed_by]
    progress = True
    while progress:  # an administrator's key counts once her row and certificate check
        progress = False
        for user in list(waiting):
            if user.signed_by not in signers:
                continue
            waiting.remove(user)
            assert user.id is not None
            values = _signed_values(user, signers)
            if values is None:
                continue
            signed[user.id] = values
            kid = user.key_id
            if values.role == Role.ADMIN.value and values.active and kid and kid not in signers:
                key = keys.get(kid)
                if key is not None and key.user_id == user.id and key_certified(key, signers):
                    signers[kid] = key.public_key
                    progress = True
                else:
                    bad_certificates.add(user.id)
    report.signers, report.signed = signers, signed
    for user in users_:
        assert user.id is not None
        values = signed.get(user.id)
        if values is None:
            kind = "user_changed" if user.signature else "user_unsigned"
            report.findings.append(Finding(kind, user.username, user.id))
            continue
        if (values.role, values.active) != (user.role, bool(user.active)):
            report.findings.append(
                Finding(
                    "user_changed",
                    user.username,
                    user.id,
                    stored=_label(user.role, bool(user.active)),
                    signed=_label(values.role, values.active),
                )
            )
        if user.id in bad_certificates:
            report.findings.append(Finding("key_changed", user.username, user.id))
        elif user.key_id and user.key_id not in signers and own_user_id in (None, user.id):
            key = keys.get(user.key_id)
            if key is None or key.user_id != user.id or not key_certified(key, signers):
                report.findings.append(Finding("key_changed", user.username, user.id))
    return report


def speaking_keys(session: Session) -> dict[int, tuple[UserKey, SignedValues]]:
    """User id -> the key her signed row names now, with her signed values, for every
    user whose row says active and whose key is certified along the chain from the root:
    the only key that speaks for her in a decision. Not any certified key of hers: the
    root, which every administrator holds, certifies any key for anyone, and a former
    colleague's old key stays certified (attacker run 18)."""
    report = check_state(session)
    certified = certified_key_ids(session, report)
    if not certified:
        return {}
    keys = public_keys(session)
    found: dict[int, tuple[UserKey, SignedValues]] = {}
    for user in session.scalars(select(User)).all():
        values = report.signed.get(user.id) if user.id is not None else None
        key = keys.get(user.key_id or "")
        if values is None or not values.active or key is None or key.kid not in certified:
            continue
        if key.user_id == user.id:
            found[user.id] = (key, values)
    return found


def pending_keys(session: Session) -> list[tuple[User, UserKey]]:
    """Users whose current key is not certified yet (made before the state was signed)."""
    out = []
    for key in session.scalars(
        select(UserKey).where(UserKey.certified_by.is_(None), UserKey.wrapped.is_not(None))
    ).all():
        user = session.get(User, key.user_id)
        if user is not None and user.key_id in (None, key.kid):
            out.append((user, key))
    return out


def bootstrap(
    session: Session,
    *,
    admin: User,
    keys: SigningKeys | None,
    secret: bytes | None = None,
    vault: Any = None,
    recovery_secret: bytes | None = None,
) -> tuple[SigningKeys, list[User]]:
    """Sign an unsigned (migrated) profile's users as they are, with a new root.

    Done at the first sign-in of an administrator after the update (docs/security.md
    explains what an attacker could do before it). Returns the administrator's keys and
    the users signed.
    """
    root = create_root(session, recovery_secret=recovery_secret)
    root_kid = user_keys.key_id(root)
    root_authority = Authority(root_kid, root)
    own = issue_key(
        session,
        user=admin,
        secret=secret,
        vault=vault,
        authority=root_authority,
        root_kid=root_kid,
        root_key=root,
        signing_key=keys.signing_key if keys is not None else None,
    )
    authority = Authority.of(own)
    signed = []
    pending = {user.id: key for user, key in pending_keys(session)}
    for user in session.scalars(select(User).order_by(User.id)).all():
        if user.id == admin.id:
            continue
        key = pending.get(user.id)
        if key is not None:
            certify(key, authority)
            session.add(key)
            user.key_id = key.kid
        sign_row(user, authority)
        session.add(user)
        signed.append(user)
    session.flush()
    return own, [admin, *signed]


def certify_pending(session: Session, authority: Authority) -> list[User]:
    """Certify the keys users made at their first sign-in after the update."""
    done = []
    for user, key in pending_keys(session):
        if user.key_id not in (None, key.kid):
            continue
        certify(key, authority)
        user.key_id = key.kid
        sign_row(user, authority)
        session.add(key)
        session.add(user)
        done.append(user)
    session.flush()
    return done


def profile_signer(keys: SigningKeys, report: StateReport) -> tuple[str, Any] | None:
    """The key an administrator signs the profile's own files and settings with: the
    profile's root where she holds it (its signature counts for as long as the profile
    has it, whoever is administrator later), else her own key if it counts as a signer
    now; None when neither does (docs/security.md, "The organisation file")."""
    root = keys.root_key
    if root is not None and report.root_kid and user_keys.key_id(root) == report.root_kid:
        return report.root_kid, root
    if keys.kid in report.signers:
        return keys.kid, keys.signing_key
    return None


def public_keys(session: Session) -> dict[str, UserKey]:
    """Every user key by id (old ones too: they check older audit entries)."""
    return {k.kid: k for k in session.scalars(select(UserKey)).all()}


def signer_of(keys: SigningKeys) -> Signer:
    return Signer(keys.kid, keys.signing_key)


def names(users_: Iterable[User]) -> list[str]:
    return [u.username for u in users_]


# -- the sender of a batch ---------------------------------------------------------------


def author_chain(session: Session, user_id: int) -> dict[str, Any] | None:
    """The proof a batch carries that ``user_id`` sent it (docs/batch-format.md §5): the
    root, every signed administrator row with her current key certificate, and the
    sender's own row and certificate, as stored and signed. None when the profile's state
    is not signed yet or her row or key does not check (her batches then go without one,
    and an office that pinned the device's root refuses them)."""
    state = session.get(TrustState, 1)
    user = session.get(User, user_id)
    if state is None or user is None or not user.key_id:
        return None
    report = check_state(session)
    own = report.signed.get(user_id)
    if own is None or (own.role, own.active) != (user.role, bool(user.active)) or not own.active:
        return None
    keys = public_keys(session)
    rows: list[User] = [user]
    for other in session.scalars(select(User).order_by(User.id)).all():
        values = report.signed.get(other.id) if other.id is not None else None
        if other.id == user_id or values is None or other.key_id not in report.signers:
            continue
        if (values.role, values.active) == (other.role, bool(other.active)):
            rows.append(other)
    chain_keys = [keys[r.key_id] for r in rows if r.key_id in keys]
    if len(chain_keys) != len(rows) or any(not k.signature for k in chain_keys):
        return None
    return {
        "root": {"kid": state.root_kid, "public_key": state.root_public},
        "users": [
            {**_row_fields(r), "signed_by": r.signed_by, "signature": r.signature} for r in rows
        ],
        "keys": [
            {
                "kid": k.kid,
                "user_id": k.user_id,
                "public_key": k.public_key,
                "certified_by": k.certified_by,
                "signature": k.signature,
            }
            for k in chain_keys
        ],
    }


def batch_author(session: Session, user_id: int, signer: Signer | None) -> authors.AuthorKey | None:
    """The signed-in user's key and proof for the batches she packs, or None (see
    :func:`author_chain`; also when her signing key is not the one her row names)."""
    if signer is None:
        return None
    chain = author_chain(session, user_id)
    user = session.get(User, user_id)
    if chain is None or user is None or user.key_id != signer.kid:
        return None
    return authors.AuthorKey(user_id=user_id, kid=signer.kid, key=signer.key, chain=chain)
