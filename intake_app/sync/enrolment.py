"""Device enrolment: the office's enrolment file, the device's registration request.

1. The office writes an **enrolment file** (signed document, type ``"enrolment"``): device
   id and name, server URL, a one-time token, its expiry, the office's public key set and
   the office's root public key, signed by that root key. The device cannot know the root
   key before, so the signature is checked against the root key inside the file and the
   key's fingerprint must be confirmed by the administrator against the one
   ``intake-central init`` printed (``expected_fingerprint``); the device then pins that
   root key and checks every later key set, form and receipt key against it.
2. The device creates its ECDSA P-384 key pair (:func:`create_identity`) and a
   **registration request** (type ``"registration"``) signed with the new key (proof of
   possession) that carries the token and the public key. It goes to the office online
   (``POST /v1/register``) or as a file (``intake-central register FILE``).
3. The office checks the token (known, unused, not expired, device not revoked), stores
   the public key and answers with a **registration confirmation** signed by the office.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from intake_app.i18n import _
from intake_app.sync import keys
from intake_app.sync.authors import load_public
from intake_app.sync.batch import utc_timestamp
from intake_app.sync.errors import EnrolmentError, SignatureError
from intake_app.sync.identity import DeviceIdentity, OfficeKeySet, is_uuid
from intake_app.sync.signed import (
    envelope_bytes,
    read_document,
    sign_document,
    strict_json_loads,
)

ENROLMENT_TYPE = "enrolment"
REGISTRATION_TYPE = "registration"
CONFIRMATION_TYPE = "registration-confirmation"
# Version 3 signs the token's hash and carries the token beside the signed document: the
# device keeps the document (the office root's word for its keys) without the token,
# which it uses once, at enrolment, to build its registration (docs/security.md,
# "Batches signed by their sender"). Version 2 signed the token itself.
ENROLMENT_VERSION = 3
ENROLMENT_VERSIONS = (2, 3)
# Version 3 names the profile root the device's users are signed from, which the office
# pins with the device key (docs/security.md, "Batches signed by their sender"); version 2,
# written by a profile whose users are not signed yet, names none.
REGISTRATION_VERSION = 3
REGISTRATION_VERSIONS = (2, 3)
TOKEN_BYTES = 32
MAX_NAME = 100


def new_token() -> str:
    """A one-time enrolment token: 32 random bytes, URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(secrets.token_bytes(TOKEN_BYTES)).decode("ascii").rstrip("=")


def token_hash(token: str) -> str:
    """What the office stores instead of the token (SHA-384, hex)."""
    return hashlib.sha384(b"intake-enrolment-token/1\n" + token.encode("ascii")).hexdigest()


def registration_proof_key(token: str) -> bytes:
    """The key of the registration proof, derived from the token (HKDF-SHA384). The importer
    keeps it from ``enrol`` in a table only it can write; the receiver never sees the token
    nor this key (docs/security.md, "Device keys the importer trusts")."""
    return HKDF(
        algorithm=hashes.SHA384(), length=48, salt=None, info=b"intake-registration-proof/1"
    ).derive(token.encode("ascii"))


def registration_proof(
    proof_key: bytes, *, device_id: str, public_key_pem: str, profile_root: str | None = None
) -> str:
    """HMAC-SHA384 over the device id, its public key and, where the registration names
    one, its profile root, keyed with the token's proof key: only who holds the token (the
    device, and the importer that issued it) can make it, and no one can add, drop or
    change the root without breaking it."""
    if profile_root is None:
        message = f"intake-device-key/1\n{device_id}\n{public_key_pem}".encode()
    else:
        # a JSON list, not lines: no field can borrow a character from the next (attacker
        # run 25 moved the PEM's last newline into the root, and the proof still held)
        fields = ["intake-device-key/2", device_id, public_key_pem, profile_root]
        message = json.dumps(fields, separators=(",", ":")).encode()
    return hmac.new(proof_key, message, hashlib.sha384).hexdigest()


def parse_timestamp(value: object) -> datetime:
    """Read ``YYYY-MM-DDTHH:MM:SSZ`` (ValueError for anything else)."""
    if not isinstance(value, str):
        raise ValueError("timestamp must be text")
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def check_server_url(url: str) -> str:
    """Accept ``http(s)://host[:port][/path]`` and return it without a trailing slash."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EnrolmentError(
            "bad_url", _("Die Server-Adresse muss mit http:// oder https:// beginnen.")
        )
    return url.rstrip("/")


def check_device_name(name: str) -> str:
    """A device name: 1–100 printable characters, no path separators."""
    name = name.strip()
    if not name or len(name) > MAX_NAME or any(ch in name for ch in "/\\\0\n\r\t"):
        raise EnrolmentError(
            "bad_name",
            _("Der Gerätename muss 1 bis 100 Zeichen lang sein und darf keine / enthalten."),
        )
    return name


@dataclass(frozen=True, slots=True)
class Enrolment:
    """A checked enrolment file."""

    device_id: str
    device_name: str
    server_url: str
    token: str
    expires: datetime
    key_set: OfficeKeySet
    office_fingerprint: str
    root_public_key: ec.EllipticCurvePublicKey
    #: What the device keeps of the file: the signed document without the token (version
    #: 3); the whole file for version 2, whose signed content holds the token.
    document: bytes = b""


def _split_token(data: bytes) -> tuple[bytes, str | None]:
    """An enrolment file's signed document and the token beside it (version 3), else the
    bytes as they are and None."""
    try:
        envelope = strict_json_loads(data)
    except ValueError:
        return data, None
    if not isinstance(envelope, dict) or "token" not in envelope:
        return data, None
    token = envelope.pop("token")
    return envelope_bytes(envelope), token if isinstance(token, str) else ""


def build_enrolment(
    *,
    device_id: str,
    device_name: str,
    server_url: str,
    token: str,
    expires: datetime,
    key_set: OfficeKeySet,
    root_key: ec.EllipticCurvePrivateKey,
) -> bytes:
    """The office side: sign an enrolment file with the root key. The signature covers the
    token's hash; the token itself goes beside the signed document (``token``)."""
    content = {
        "format": "intake-enrolment",
        "version": ENROLMENT_VERSION,
        "device_id": device_id,
        "device_name": device_name,
        "server_url": check_server_url(server_url),
        "token_hash": token_hash(token),
        "expires": utc_timestamp(expires),
        **replace(key_set, server_url=None).to_content(),
        "root_key": keys.signing_public_to_json(root_key.public_key()),
    }
    envelope = json.loads(sign_document(ENROLMENT_TYPE, content, private_key=root_key))
    envelope["token"] = token
    return envelope_bytes(envelope)


def read_enrolment(
    data: bytes, *, now: datetime | None = None, expected_fingerprint: str | None = None
) -> Enrolment:
    """Check an enrolment file (signature, shape, expiry) on the device.

    Args:
        data: the file's bytes.
        now: the current time (tests pass a fixed one).
        expected_fingerprint: the office root key id the administrator was given;
            spaces and case are ignored. The caller shows :attr:`Enrolment.office_fingerprint`
            and goes on only after the administrator confirmed it.

    Raises:
        EnrolmentError: ``malformed``, ``bad_signature``, ``fingerprint_mismatch`` or
            ``expired``.
    """
    kept, beside = _split_token(data)
    try:
        document = read_document(kept, doc_type=ENROLMENT_TYPE)
        content = document.content()
        key_set = replace(OfficeKeySet.from_content(content), server_url=None)
        root = keys.signing_public_from_json(content.get("root_key"))
        document.verify({keys.signing_key_id(root): root})
    except (SignatureError, ValueError, TypeError) as exc:
        reason = "bad_signature" if getattr(exc, "reason", "") == "bad_signature" else "malformed"
        raise EnrolmentError(reason) from None
    if expected_fingerprint is not None:
        wanted = "".join(expected_fingerprint.split()).lower()
        if wanted != document.kid:
            raise EnrolmentError(
                "fingerprint_mismatch",
                _("Der Fingerabdruck des Zentralschlüssels stimmt nicht überein."),
            )
    try:
        version = content.get("version")
        if (
            content.get("format") != "intake-enrolment"
            or version not in ENROLMENT_VERSIONS
            or key_set.serial < 1
        ):
            raise ValueError("not an enrolment")
        expires = parse_timestamp(content["expires"])
        device_id = content["device_id"]
        if version == 2:
            token = content["token"]
            if beside is not None:
                raise ValueError("a token beside a document that signs one")
        else:
            token = beside if beside is not None else ""
            signed = str(content["token_hash"]).encode("utf-8")
            if not hmac.compare_digest(token_hash(token).encode("ascii"), signed):
                raise ValueError("the token is not the one the office signed")
        if not is_uuid(device_id) or not isinstance(token, str) or len(token) < 40:
            raise ValueError("bad device id or token")
        name = check_device_name(str(content["device_name"]))
        url = check_server_url(str(content["server_url"]))
    except (KeyError, ValueError, EnrolmentError):
        raise EnrolmentError("malformed") from None
    if (now or datetime.now(UTC)) >= expires:
        raise EnrolmentError(
            "expired",
            _("Die Registrierungsdatei ist abgelaufen. Bitte fordern Sie eine neue an."),
        )
    return Enrolment(
        device_id=device_id,
        device_name=name,
        server_url=url,
        token=token,
        expires=expires,
        key_set=key_set,
        office_fingerprint=document.kid,
        root_public_key=root,
        document=kept,
    )


def enrolment_key_set(data: bytes, *, root: ec.EllipticCurvePublicKey) -> OfficeKeySet:
    """The office key set of an enrolment file that ``root`` signed, whatever its age:
    the device keeps the file as the root's word for the keys it was enrolled with
    (device_sync/pin.py).

    Raises:
        SignatureError: not signed by ``root``, or not an enrolment file.
    """
    document = read_document(_split_token(data)[0], doc_type=ENROLMENT_TYPE)
    content = document.verify({keys.signing_key_id(root): root})
    if content.get("format") != "intake-enrolment":
        raise SignatureError("malformed")
    return replace(OfficeKeySet.from_content(content), server_url=None)


def create_identity(enrolment: Enrolment) -> DeviceIdentity:
    """Create the device's key pair and its identity for an enrolment. The hand-over key
    pair is not made here (an administrator's session): a supervisor's first sync makes it,
    sealed to the site key (docs/security.md, "Hand-over through the office")."""
    private = keys.generate_signing_key()
    key_set = enrolment.key_set
    return DeviceIdentity(
        device_id=enrolment.device_id,
        device_name=enrolment.device_name,
        private_key_pem=keys.private_key_to_pem(private),
        office_encryption_keys=dict(key_set.encryption_keys),
        office_signing_keys=dict(key_set.signing_keys),
        server_url=enrolment.server_url,
        current_office_key_id=key_set.current_encryption_key_id,
        recovery_public_key=key_set.recovery_key,
        root_public_key=enrolment.root_public_key,
        key_set_serial=key_set.serial,
        office_importer_keys=key_set.importer_keys,
    )


def build_registration(
    identity: DeviceIdentity,
    *,
    token: str,
    profile_root: str | None = None,
    created: datetime | None = None,
) -> bytes:
    """The registration request (online body or offline file), signed by the device key.

    It carries not the token but its hash (what the office stores, to spend it once) and a
    proof keyed with the token over the new public key, which the importer checks before it
    trusts the key; the receiver can check neither nor forge the proof. ``profile_root``:
    the public key of the profile's root (:func:`intake_app.sync.authors.public_text`),
    covered by the proof, so the office pins it from the enrolment on rather than from
    the first signed batch (docs/security.md, "Batches signed by their sender").
    """
    public = identity.public_key()
    content: dict[str, Any] = {
        "format": "intake-registration",
        "version": REGISTRATION_VERSION if profile_root is not None else 2,
        "device_id": identity.device_id,
        "device_name": identity.device_name,
        "token_hash": token_hash(token),
        "key_proof": registration_proof(
            registration_proof_key(token),
            device_id=identity.device_id,
            public_key_pem=keys.public_key_to_pem(public),
            profile_root=profile_root,
        ),
        "public_key": keys.signing_public_to_json(public),
        "created": utc_timestamp(created),
    }
    if profile_root is not None:
        content["profile_root"] = profile_root
    return sign_document(REGISTRATION_TYPE, content, private_key=identity.signing_key())


def _is_hex384(value: object) -> bool:
    return (
        isinstance(value, str) and len(value) == 96 and all(c in "0123456789abcdef" for c in value)
    )


@dataclass(frozen=True, slots=True)
class Registration:
    """A registration request whose proof of possession has been checked."""

    device_id: str
    device_name: str
    token_hash: str
    key_proof: str
    public_key: ec.EllipticCurvePublicKey
    key_id: str
    created: str
    profile_root: str | None = None  # version 3: covered by ``key_proof``


def read_registration(data: bytes) -> Registration:
    """The office side: read a registration request and check the proof of possession.

    Raises:
        EnrolmentError: ``malformed`` or ``bad_signature``.
    """
    try:
        document = read_document(data, doc_type=REGISTRATION_TYPE)
        content = document.content()
        version = content.get("version")
        if content.get("format") != "intake-registration" or version not in REGISTRATION_VERSIONS:
            raise SignatureError("malformed")
        root = content.get("profile_root") if version == 3 else None
        if version == 3:
            if not isinstance(root, str) or len(root) > 400:
                raise SignatureError("malformed")
            load_public(root)  # ValueError: not a public key
        public = keys.signing_public_from_json(content["public_key"])
        kid = keys.signing_key_id(public)
        document.verify({kid: public})
        device_id, claim, proof = content["device_id"], content["token_hash"], content["key_proof"]
        if not is_uuid(device_id) or not _is_hex384(claim) or not _is_hex384(proof):
            raise SignatureError("malformed")
        parse_timestamp(content["created"])
        name = str(content["device_name"])
    except SignatureError as exc:
        reason = "bad_signature" if exc.reason in ("bad_signature", "unknown_key") else "malformed"
        raise EnrolmentError(reason) from None
    except (KeyError, ValueError, TypeError):
        raise EnrolmentError("malformed") from None
    return Registration(
        device_id=device_id,
        device_name=name,
        token_hash=claim,
        key_proof=proof,
        public_key=public,
        key_id=kid,
        created=content["created"],
        profile_root=root,
    )


def build_confirmation(
    registration: Registration, *, signing_key: ec.EllipticCurvePrivateKey
) -> bytes:
    """The office side: confirm a registration (the device checks it with the office key)."""
    content: dict[str, Any] = {
        "format": "intake-registration-confirmation",
        "version": 1,
        "device_id": registration.device_id,
        "device_key_id": registration.key_id,
        "registered_at": utc_timestamp(),
    }
    return sign_document(CONFIRMATION_TYPE, content, private_key=signing_key)


def verify_confirmation(data: bytes, identity: DeviceIdentity) -> None:
    """Check that the office confirmed this device's key.

    Raises:
        EnrolmentError: ``bad_signature`` or ``malformed`` (or a confirmation for another
            device or key).
    """
    try:
        content = read_document(data, doc_type=CONFIRMATION_TYPE).verify(
            identity.office_signing_keys
        )
    except SignatureError as exc:
        reason = "bad_signature" if exc.reason in ("bad_signature", "unknown_key") else "malformed"
        raise EnrolmentError(reason) from None
    if (
        content.get("device_id") != identity.device_id
        or content.get("device_key_id") != identity.key_id
    ):
        raise EnrolmentError("malformed")
