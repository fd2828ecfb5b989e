"""The sender proof of a batch (intake_app/sync/authors.py): what the office accepts.

Chains are built here with the library alone, as a profile makes them: a root, an
administrator signed and certified by it, a counsellor signed and certified by her.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from intake_app.sync import authors
from intake_app.sync.errors import BatchError
from tests.helpers.author_chain import key_certificate, user_row

DEVICE = "8453dc39-13d7-4e10-9210-f76bf0bb5dc4"
BATCH = "1a0e9f7e-8d5e-4c2b-9b54-3d1f0c2a7e61"
RECORDS = [{"id": "r1", "revision": 1, "counsellor": "berater"}]


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


@pytest.fixture(scope="module")
def profile() -> dict[str, Any]:
    root, admin, counsellor = _key(), _key(), _key()
    root_kid = authors.key_id(root)
    chain = {
        "root": {"kid": root_kid, "public_key": authors.public_text(root)},
        "users": [
            user_row(2, "berater", "counsellor", counsellor, admin),
            user_row(1, "admin", "admin", admin, root),
        ],
        "keys": [key_certificate(2, counsellor, admin), key_certificate(1, admin, root)],
    }
    return {"root": root, "admin": admin, "counsellor": counsellor, "chain": chain}


def _author(profile: dict[str, Any], **changes: Any) -> authors.AuthorKey:
    key = changes.pop("key", profile["counsellor"])
    author = authors.AuthorKey(
        user_id=2, kid=authors.key_id(key), key=key, chain=copy.deepcopy(profile["chain"])
    )
    return dataclasses.replace(author, **changes)


def _verify(block: dict[str, Any], *, pinned: Any = None, records: Any = None) -> authors.Author:
    authors.validate_block(block)
    return authors.verify_author(
        block,
        device_id=DEVICE,
        batch_id=BATCH,
        records=RECORDS if records is None else records,
        instructions=[],
        pinned_root=pinned,
    )


def _block(author: authors.AuthorKey, batch_id: str = BATCH) -> dict[str, Any]:
    return author.block(device_id=DEVICE, batch_id=batch_id, records=RECORDS, instructions=[])


def test_a_counsellors_proof_names_her_and_her_role(profile: dict[str, Any]) -> None:
    root = profile["chain"]["root"]
    found = _verify(_block(_author(profile)), pinned=(root["kid"], root["public_key"]))
    assert (found.user_id, found.username, found.role) == (2, "berater", "counsellor")
    assert found.root_kid == root["kid"]


def _refused(block: dict[str, Any], **kwargs: Any) -> str:
    with pytest.raises(authors.AuthorError) as info:
        _verify(block, **kwargs)
    return info.value.reason


def test_a_role_changed_in_the_chain_is_refused(profile: dict[str, Any]) -> None:
    block = _block(_author(profile))
    block["chain"]["users"][0]["role"] = "supervisor"
    assert _refused(block) == "author_unverified"


def test_another_root_than_the_pinned_one_is_refused(profile: dict[str, Any]) -> None:
    other = _key()
    pinned = (authors.key_id(other), authors.public_text(other))
    assert _refused(_block(_author(profile)), pinned=pinned) == "author_root_changed"


def test_the_signature_covers_content_device_and_batch(profile: dict[str, Any]) -> None:
    author = _author(profile)
    assert _refused(_block(author), records=[{**RECORDS[0], "revision": 2}]) == (
        "author_unverified"
    )
    other_batch = _block(author, batch_id="2b0e9f7e-8d5e-4c2b-9b54-3d1f0c2a7e61")
    assert _refused(other_batch) == "author_unverified"


def test_her_key_claiming_a_colleagues_id_is_refused(profile: dict[str, Any]) -> None:
    # the administrator's id, with the counsellor's own key and signature
    assert _refused(_block(_author(profile, user_id=1))) == "author_unverified"


def test_a_key_her_row_does_not_name_is_refused(profile: dict[str, Any]) -> None:
    """A second key, certified by the administrator but not named by her signed row (an
    old key, or one minted with the root): it does not speak for her."""
    minted = _key()
    author = _author(profile, key=minted)
    author.chain["keys"].append(key_certificate(2, minted, profile["admin"]))
    assert _refused(_block(author)) == "author_unverified"


def test_a_deactivated_administrators_signature_counts_for_nothing(
    profile: dict[str, Any],
) -> None:
    author = _author(profile)
    admin_row = author.chain["users"][1]
    admin_row["active"] = False
    root = profile["root"]
    admin_row["signature"] = authors.sign(
        root, authors.USER_ROW_DOMAIN, authors.row_message(admin_row)
    )
    assert _refused(_block(author)) == "author_unverified"


def test_a_self_made_administrator_certifies_nothing(profile: dict[str, Any]) -> None:
    """An administrator row the counsellor signed herself is no authority."""
    author = _author(profile)
    own = profile["counsellor"]
    row = user_row(2, "berater", "supervisor", own, own)
    author.chain["users"][0] = row
    assert _refused(_block(author)) == "author_unverified"


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b.pop("signature"),
        lambda b: b.update(user_id="2"),
        lambda b: b["chain"].pop("keys"),
        lambda b: b["chain"]["users"].clear(),
        lambda b: b["chain"]["users"][0].update(active="yes"),
        lambda b: b["chain"]["keys"][0].update(extra=1),
        lambda b: b["chain"].update(users=[b["chain"]["users"][0]] * (authors.MAX_CHAIN + 1)),
    ],
)
def test_a_damaged_block_is_refused_as_invalid(profile: dict[str, Any], damage: Any) -> None:
    block = _block(_author(profile))
    damage(block)
    with pytest.raises(BatchError) as info:
        authors.validate_block(block)
    assert info.value.reason == "payload_invalid"
