"""Signed user rows and key certificates as a profile makes them, built with the library
alone (intake_app/sync/authors.py): for the sender-proof tests and bench/import_rate.py."""

from __future__ import annotations

from typing import Any

from intake_app.sync import authors


def user_row(uid: int, name: str, role: str, key: Any, signer: Any) -> dict[str, Any]:
    """The row of user ``uid`` naming ``key`` as hers, signed by ``signer``."""
    row: dict[str, Any] = {
        "id": uid,
        "username": name,
        "username_key": None,
        "display_name": name.title(),
        "role": role,
        "active": True,
        "key_id": authors.key_id(key),
        "signed_by": authors.key_id(signer),
    }
    row["signature"] = authors.sign(signer, authors.USER_ROW_DOMAIN, authors.row_message(row))
    return row


def key_certificate(uid: int, key: Any, signer: Any) -> dict[str, Any]:
    """``signer``'s certificate that ``key`` is user ``uid``'s."""
    kid, public = authors.key_id(key), authors.public_text(key)
    message = authors.key_message(kid, uid, public)
    return {
        "kid": kid,
        "user_id": uid,
        "public_key": public,
        "certified_by": authors.key_id(signer),
        "signature": authors.sign(signer, authors.USER_KEY_DOMAIN, message),
    }
