"""Form versions published by the office, signed so a device can trust them.

The office signs each form file (type ``"form"``: id, version, file name, SHA-384 and the
file's bytes) and a signed index of all published versions (type ``"form-index"``). The
device fetches the index when it syncs, downloads what it does not have, and uses a form
only after :func:`verify_published_form` succeeded with an office signing key it trusts.
The form file itself is opaque here (the forms engine validates its content).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric import ec

from intake_app.sync.batch import utc_timestamp
from intake_app.sync.errors import SignatureError
from intake_app.sync.signed import read_document, sign_document

FORM_TYPE = "form"
INDEX_TYPE = "form-index"
MAX_FORM_BYTES = 16 * 1024 * 1024
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def is_safe_name(value: object) -> bool:
    """Form ids, versions and file names: letters, digits, ``. _ -``; no path parts."""
    return isinstance(value, str) and bool(_SAFE.match(value)) and ".." not in value


@dataclass(frozen=True, slots=True)
class PublishedForm:
    """A verified form version."""

    form_id: str
    version: str
    filename: str
    sha384: str
    published_at: str
    content: bytes = field(repr=False)
    #: the signed document it was read from (what a device keeps, to check it again)
    document: bytes = field(repr=False, default=b"")


@dataclass(frozen=True, slots=True)
class FormIndexEntry:
    """One line of the published index."""

    form_id: str
    version: str
    sha384: str
    published_at: str


def build_published_form(
    *,
    form_id: str,
    version: str,
    filename: str,
    content: bytes,
    signing_key: ec.EllipticCurvePrivateKey,
    published_at: datetime | None = None,
) -> bytes:
    """The office side: sign one form file for publication."""
    if not (is_safe_name(form_id) and is_safe_name(version) and is_safe_name(filename)):
        raise ValueError("form id, version and file name may only use letters, digits, . _ -")
    if len(content) > MAX_FORM_BYTES:
        raise ValueError("form file too large")
    document = {
        "format": "intake-form",
        "version": 1,
        "form_id": form_id,
        "form_version": version,
        "filename": filename,
        "sha384": hashlib.sha384(content).hexdigest(),
        "published_at": utc_timestamp(published_at),
        "content": base64.b64encode(content).decode("ascii"),
    }
    return sign_document(FORM_TYPE, document, private_key=signing_key)


def verify_published_form(
    data: bytes,
    *,
    trusted: Mapping[str, ec.EllipticCurvePublicKey],
    form_id: str | None = None,
    version: str | None = None,
) -> PublishedForm:
    """Check a published form's signature, digest and (where given) id and version.

    Raises:
        SignatureError: ``malformed``, ``unknown_key``, ``bad_signature`` or
            ``wrong_form``; nothing else, whatever the bytes.
    """
    content = read_document(data, doc_type=FORM_TYPE).verify(trusted)
    try:
        if content["format"] != "intake-form" or content["version"] != 1:
            raise ValueError("not a form document")
        raw = base64.b64decode(str(content["content"]).encode("ascii"), validate=True)
        names = (content["form_id"], content["form_version"], content["filename"])
        if not all(is_safe_name(name) for name in names):
            raise ValueError("unsafe names")
        if hashlib.sha384(raw).hexdigest() != content["sha384"]:
            raise ValueError("digest mismatch")
        published_at = str(content["published_at"])
    except (KeyError, ValueError, TypeError, binascii.Error):
        raise SignatureError("malformed") from None
    if (form_id is not None and names[0] != form_id) or (
        version is not None and names[1] != version
    ):
        raise SignatureError("wrong_form")
    return PublishedForm(
        form_id=names[0],
        version=names[1],
        filename=names[2],
        sha384=content["sha384"],
        published_at=published_at,
        content=raw,
        document=bytes(data),
    )


def build_form_index(
    entries: Iterable[FormIndexEntry], *, signing_key: ec.EllipticCurvePrivateKey
) -> bytes:
    """The office side: sign the list of published form versions."""
    document = {
        "format": "intake-form-index",
        "version": 1,
        "issued_at": utc_timestamp(),
        "forms": [
            {
                "form_id": e.form_id,
                "form_version": e.version,
                "sha384": e.sha384,
                "published_at": e.published_at,
            }
            for e in entries
        ],
    }
    return sign_document(INDEX_TYPE, document, private_key=signing_key)


def verify_form_index(
    data: bytes, *, trusted: Mapping[str, ec.EllipticCurvePublicKey]
) -> list[FormIndexEntry]:
    """Check the signed index and return its entries.

    Raises:
        SignatureError: ``malformed``, ``unknown_key`` or ``bad_signature``.
    """
    content = read_document(data, doc_type=INDEX_TYPE).verify(trusted)
    try:
        if content["format"] != "intake-form-index" or content["version"] != 1:
            raise ValueError("not a form index")
        entries = [
            FormIndexEntry(
                form_id=item["form_id"],
                version=item["form_version"],
                sha384=str(item["sha384"]),
                published_at=str(item["published_at"]),
            )
            for item in content["forms"]
        ]
    except (KeyError, ValueError, TypeError):
        raise SignatureError("malformed") from None
    if not all(is_safe_name(e.form_id) and is_safe_name(e.version) for e in entries):
        raise SignatureError("malformed")
    return entries
