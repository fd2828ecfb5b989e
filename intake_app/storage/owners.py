"""Whose store is whose, signed by the owner herself (docs/security.md, "Store owners").

A store's entry in the vault names its owner's user id. Whoever holds a store's key can
rewrite every MAC that key makes, so a counsellor could relabel her own store with a
colleague's id; a supervisor moving a case to the colleague would then put it into the
counsellor's store. The owner therefore signs, with her own certified key, the binding of
the store id, her user id and the store's identity (the random bytes inside the store
that only holders of its key read; a re-key keeps them). A case is moved only to a store
whose binding is signed by a certified key of the user it names; nobody else holds that
key, and a signature for one store does not fit another's identity.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from intake_app.storage import user_keys
from intake_app.storage.user_keys import SigningKeys
from intake_app.storage.vault import Vault

DOMAIN = "intake-store-owner/1"


def _payload(vault_id: str, store_id: str, owner_id: int, identity: bytes) -> bytes:
    return user_keys.canonical(
        {
            "vault": vault_id,
            "store": store_id,
            "owner": owner_id,
            "identity": hashlib.sha256(identity).hexdigest(),
        }
    )


def signed_by_owner(
    vault: Vault,
    store_id: str,
    *,
    owner_id: int,
    identity: bytes | None,
    owner_keys: Mapping[str, str],
) -> bool:
    """Whether the store's entry names ``owner_id`` under a signature of one of
    ``owner_keys`` (key id -> public key: her certified keys) over its ``identity``."""
    signed = vault.owner_signature(store_id)
    if signed is None or identity is None:
        return False
    named, kid, sig = signed
    public = owner_keys.get(kid)
    if named != owner_id or public is None:
        return False
    payload = _payload(vault.vault_id, store_id, owner_id, identity)
    return user_keys.verify(public, DOMAIN, payload, sig)


def sign_own(
    vault: Vault, signer: SigningKeys, *, owner_id: int, identities: Mapping[str, bytes]
) -> None:
    """Sign the stores she named as her own (``identities``: store id -> identity) where
    her current key's signature is not there yet; one vault write at most."""
    public = {signer.kid: user_keys.public_text(signer.signing_key)}
    missing = {
        sid: identity
        for sid, identity in identities.items()
        if not signed_by_owner(vault, sid, owner_id=owner_id, identity=identity, owner_keys=public)
    }
    if not missing:
        return
    vault_id = vault.vault_id
    vault.put_owner_signatures(
        owner_id,
        {
            sid: (
                signer.kid,
                user_keys.sign(
                    signer.signing_key, DOMAIN, _payload(vault_id, sid, owner_id, identity)
                ),
            )
            for sid, identity in missing.items()
        },
    )
