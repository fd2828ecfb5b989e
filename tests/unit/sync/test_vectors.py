"""The published test vectors: the document shows them, and they check out byte by byte.

Parts are recomputed with ``cryptography`` directly (not through ``intake_app.sync``) where
that is possible, the way another team's reader would.
"""

from __future__ import annotations

import hashlib
import json
import struct
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from intake_app.sync import keys
from intake_app.sync.batch import open_batch, parse_batch, verify_signature
from intake_app.sync.errors import BatchError
from intake_app.sync.keys import EncryptionPrivateKey
from intake_app.sync.receipt import verify_receipt
from tests.unit.sync import make_vectors


@pytest.fixture(scope="module")
def vectors() -> dict[str, Any]:
    return json.loads(make_vectors.VECTORS.read_text("utf-8"))


def test_document_shows_the_current_vectors(vectors: dict[str, Any]) -> None:
    text = make_vectors.DOC.read_text("utf-8")
    assert make_vectors.document_section(text) == make_vectors.render(vectors)
    assert make_vectors.main([]) == 0


def test_keys_follow_from_the_fixed_labels(vectors: dict[str, Any]) -> None:
    office, office_signing, device = make_vectors.fixed_keys()
    assert office.raw.hex() == vectors["office_encryption_private_key"]
    assert office.public_key().raw.hex() == vectors["office_encryption_public_key"]
    assert keys.signing_public_bytes(device.public_key()).hex() == vectors["device_public_point"]
    assert (
        keys.signing_public_bytes(office_signing.public_key()).hex()
        == vectors["office_signing_public_point"]
    )


def test_key_ids_recomputed(vectors: dict[str, Any]) -> None:
    def kid(alg: str, public: str) -> str:
        digest = hashlib.sha384(b"intake-key-id/1\n" + alg.encode() + b"\n" + bytes.fromhex(public))
        return digest.hexdigest()[:32]

    assert (
        kid("hpke-mlkem1024p384-hkdfsha384-aes256gcm", vectors["office_encryption_public_key"])
        == vectors["office_encryption_key_id"]
    )
    assert kid("ecdsa-p384-sha384", vectors["device_public_point"]) == vectors["device_key_id"]
    assert (
        kid("ecdsa-p384-sha384", vectors["office_signing_public_point"])
        == vectors["office_signing_key_id"]
    )


def test_layout_and_primitives_recomputed(vectors: dict[str, Any]) -> None:
    data = bytes.fromhex(vectors["batch"])
    header = vectors["header_bytes"].encode("utf-8")
    magic, version, header_len = struct.unpack(">8sHI", data[:14])
    assert (magic, version, header_len) == (b"INTAKEB\x00", 3, len(header))
    assert data[14 : 14 + header_len] == header
    pos = 14 + header_len
    assert data[pos] == 1
    kid, sealed_len = data[pos + 1 : pos + 17], struct.unpack(">H", data[pos + 17 : pos + 19])[0]
    assert kid.hex() == vectors["office_encryption_key_id"] and sealed_len == 1713
    sealed = data[pos + 19 : pos + 19 + sealed_len]
    assert sealed.hex() == vectors["sealed_content_key"]
    pos += 19 + sealed_len
    nonce = data[pos : pos + 12]
    (ct_len,) = struct.unpack(">I", data[pos + 12 : pos + 16])
    ciphertext = data[pos + 16 : pos + 16 + ct_len]
    signature = data[pos + 16 + ct_len :]
    assert nonce.hex() == vectors["nonce"] and len(signature) == 96
    # The payload ciphertext is deterministic given the content key and nonce.
    content_key = bytes.fromhex(vectors["content_key"])
    payload = vectors["payload_bytes"].encode("utf-8")
    assert AESGCM(content_key).encrypt(nonce, payload, header) == ciphertext
    assert json.loads(payload) == vectors["payload"]
    # The seal opens to the content key with the office private key and info = header.
    office = EncryptionPrivateKey(bytes.fromhex(vectors["office_encryption_private_key"]))
    assert keys.SUITE.decrypt(sealed, office.to_hpke(), info=header) == content_key
    # The signature verifies over everything before it (r || s converted to DER here).
    device = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP384R1(), bytes.fromhex(vectors["device_public_point"])
    )
    der = encode_dss_signature(
        int.from_bytes(signature[:48], "big"), int.from_bytes(signature[48:], "big")
    )
    device.verify(der, data[: len(data) - 96], ec.ECDSA(hashes.SHA384()))
    assert hashlib.sha384(data).hexdigest() == vectors["batch_sha384"]


def test_reader_accepts_both_vectors(vectors: dict[str, Any]) -> None:
    office = EncryptionPrivateKey(bytes.fromhex(vectors["office_encryption_private_key"]))
    device = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP384R1(), bytes.fromhex(vectors["device_public_point"])
    )
    for name in ("batch", "zlib_batch"):
        sealed = parse_batch(bytes.fromhex(vectors[name]))
        verify_signature(sealed, device)
        assert open_batch(sealed, {office.key_id: office}) == vectors["payload"]
    assert parse_batch(bytes.fromhex(vectors["zlib_batch"])).header.compression == "zlib"


def test_receipt_vector(vectors: dict[str, Any]) -> None:
    office_signing = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP384R1(), bytes.fromhex(vectors["office_signing_public_point"])
    )
    receipt = verify_receipt(
        vectors["receipt"].encode("utf-8"),
        trusted={vectors["office_signing_key_id"]: office_signing},
        device_id=vectors["device_id"],
        batch_id=vectors["batch_id"],
        batch_sha384=vectors["batch_sha384"],
    )
    assert {ref.record_id for ref in receipt.delivered_records} == {
        r["id"] for r in vectors["payload"]["records"]
    }


def test_negative_vectors(vectors: dict[str, Any]) -> None:
    data = bytes.fromhex(vectors["batch"])
    device = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP384R1(), bytes.fromhex(vectors["device_public_point"])
    )
    assert len(vectors["negative"]) >= 5
    for case in vectors["negative"]:
        with pytest.raises(BatchError) as info:
            verify_signature(parse_batch(make_vectors.mutate(data, case)), device)
        assert info.value.reason == case["reason"], case["name"]
