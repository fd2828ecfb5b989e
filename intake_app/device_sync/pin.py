"""Which office this device seals to, signed by the administrator who enrolled it.

The device identity sits in the profile database, which every user's password opens. The
office's encryption keys in it decide who can open every batch; a counsellor who put her
own key there would read what her colleagues send. So the administrator who enrols the
device signs the device id, the office root key she confirmed and the key set of the
enrolment file (``pin``), with her certified key; a later key set counts only with the
root-signed document it came in, and the enrolment's key set only with the enrolment file the root
signed. Before anything is sealed to the office, the identity is
checked against the signers of the profile (its root and its active administrators,
``integrity.check_state``): a counsellor's own key is no signer, and she cannot make a
document the office root signed (docs/security.md, "The office the device seals to").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from intake_app.storage import user_keys
from intake_app.sync import keys
from intake_app.sync.enrolment import enrolment_key_set
from intake_app.sync.errors import SignatureError
from intake_app.sync.identity import DeviceIdentity, verify_key_set_document

DOMAIN = "intake-device-pin/1"
#: what the key set's comparison leaves out: when it was issued and a server move (the
#: device keeps its own address; neither decides whom a batch opens for)
_NOT_COMPARED = ("issued", "server_url")


def _core(content: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in content.items() if k not in _NOT_COMPARED}


def _payload(identity: DeviceIdentity, key_set: Mapping[str, Any]) -> bytes:
    root = identity.root_public_key
    return user_keys.canonical(
        {
            "device_id": identity.device_id,
            "root_key": keys.signing_public_to_json(root) if root is not None else None,
            "key_set": _core(key_set),
        }
    )


def sign(identity: DeviceIdentity, *, kid: str, key: ec.EllipticCurvePrivateKey) -> DeviceIdentity:
    """The identity with the administrator's signature of its office as it is now."""
    content = _core(identity.key_set().to_content())
    signature = user_keys.sign(key, DOMAIN, _payload(identity, content))
    return replace(identity, pin={"kid": kid, "sig": signature, "key_set": content})


def problem(identity: DeviceIdentity, signers: Mapping[str, str]) -> str | None:
    """None when the office keys are the ones an administrator (``signers``: key id ->
    public key, the profile's root and active administrators) confirmed, or the root of
    that office signed since; else ``unsigned`` (no signature yet: a device enrolled
    before signatures) or ``changed``."""
    pin = identity.pin
    if pin is None:
        return "unsigned"
    kid, sig, pinned = pin.get("kid"), pin.get("sig"), pin.get("key_set")
    public = signers.get(kid) if isinstance(kid, str) else None
    if public is None or not isinstance(sig, str) or not isinstance(pinned, dict):
        return "changed"
    if not user_keys.verify(public, DOMAIN, _payload(identity, pinned), sig):
        return "changed"
    # the keys themselves only with the office root's word for them: the enrolment file
    # or a later key-set document (an administrator's signature alone would let her add a
    # recipient of her own, attacker run 16)
    current = _core(identity.key_set().to_content())
    root = identity.root_public_key
    if root is None:
        return "changed"
    for document, read in (
        (identity.key_set_document, verify_key_set_document),
        (identity.enrolment_document, enrolment_key_set),
    ):
        if document is None:
            continue
        try:
            signed = read(document, root=root)
        except SignatureError:
            continue
        if _core(signed.to_content()) == current:
            return None
    return "changed"
