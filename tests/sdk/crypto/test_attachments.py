"""Encrypted attachments (spec "Sending encrypted attachments", v2): format, vectors, tampering."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.base64 import decode_unpadded, encode_unpadded
from sdk.crypto.errors import AttachmentError, AttachmentHashMismatch
from sdk.crypto.protocol.attachments import decrypt_attachment, encrypt_attachment

# NIST SP 800-38A, F.5.5 CTR-AES256.Encrypt: an independent check of the cipher and counter.
NIST_KEY = bytes.fromhex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
NIST_IV = bytes.fromhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
NIST_PLAINTEXT = bytes.fromhex(
    "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710"
)
NIST_CIPHERTEXT = bytes.fromhex(
    "601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c5"
    "2b0930daa23de94ce87017ba2d84988ddfc9c58db67aada613c2dd08457941a6"
)


def _info(key: bytes, iv: bytes, ciphertext: bytes) -> dict[str, object]:
    """An EncryptedFile object as Element writes it (padded-free Base64, URL-safe `k`)."""
    return {
        "url": "mxc://example.org/abc",
        "key": {
            "kty": "oct",
            "key_ops": ["encrypt", "decrypt"],
            "alg": "A256CTR",
            "k": base64.urlsafe_b64encode(key).decode().rstrip("="),
            "ext": True,
        },
        "iv": base64.b64encode(iv).decode().rstrip("="),
        "hashes": {
            "sha256": base64.b64encode(hashlib.sha256(ciphertext).digest()).decode().rstrip("=")
        },
        "v": "v2",
    }


def test_nist_vector_decrypts() -> None:
    info = _info(NIST_KEY, NIST_IV, NIST_CIPHERTEXT)
    assert decrypt_attachment(NIST_CIPHERTEXT, info) == NIST_PLAINTEXT


def test_event_format_is_the_specs_v2() -> None:
    encrypted = encrypt_attachment(b"some file")
    info = encrypted.file_info("mxc://example.org/xyz")
    assert info["url"] == "mxc://example.org/xyz"
    assert info["v"] == "v2"
    assert info["key"] == {
        "kty": "oct",
        "key_ops": ["encrypt", "decrypt"],
        "alg": "A256CTR",
        "k": info["key"]["k"],
        "ext": True,
    }
    assert len(decode_unpadded(info["key"]["k"], urlsafe=True)) == 32
    assert "=" not in info["key"]["k"]
    assert "=" not in info["iv"]
    iv = decode_unpadded(info["iv"])
    assert len(iv) == 16
    assert iv[8:] == bytes(8)
    assert info["hashes"]["sha256"] == encode_unpadded(
        hashlib.sha256(encrypted.ciphertext).digest()
    )
    assert encrypted.ciphertext != b"some file"


def test_fresh_key_and_iv_every_time() -> None:
    first, second = encrypt_attachment(b"x" * 64), encrypt_attachment(b"x" * 64)
    assert first.key != second.key
    assert first.iv != second.iv
    assert first.ciphertext != second.ciphertext


def test_repr_hides_the_key() -> None:
    encrypted = encrypt_attachment(b"secret")
    assert encode_unpadded(encrypted.key) not in repr(encrypted)
    assert "key=" not in repr(encrypted)


@given(st.binary(max_size=5000))
def test_round_trip(data: bytes) -> None:
    encrypted = encrypt_attachment(data)
    assert decrypt_attachment(encrypted.ciphertext, encrypted.file_info("mxc://a/b")) == data


def test_padded_base64_and_missing_ext_are_accepted() -> None:
    info = _info(NIST_KEY, NIST_IV, NIST_CIPHERTEXT)
    info["iv"] = base64.b64encode(NIST_IV).decode()
    key = info["key"]
    assert isinstance(key, dict)
    del key["ext"]
    assert decrypt_attachment(NIST_CIPHERTEXT, info) == NIST_PLAINTEXT


def test_tampered_ciphertext_is_refused() -> None:
    encrypted = encrypt_attachment(b"the real file")
    info = encrypted.file_info("mxc://a/b")
    tampered = bytes([encrypted.ciphertext[0] ^ 1]) + encrypted.ciphertext[1:]
    with pytest.raises(AttachmentHashMismatch):
        decrypt_attachment(tampered, info)
    with pytest.raises(AttachmentHashMismatch):
        decrypt_attachment(encrypted.ciphertext + b"\0", info)


def test_tampered_hash_is_refused() -> None:
    encrypted = encrypt_attachment(b"the real file")
    info = encrypted.file_info("mxc://a/b")
    info["hashes"] = {"sha256": encode_unpadded(hashlib.sha256(b"other").digest())}
    with pytest.raises(AttachmentHashMismatch):
        decrypt_attachment(encrypted.ciphertext, info)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("v", "v1"),
        ("v", None),
        ("hashes", {}),
        ("iv", "AAAA"),
        ("key", {"kty": "oct", "alg": "A128CTR", "key_ops": ["decrypt"], "k": "AAAA"}),
        ("key", {"kty": "oct", "alg": "A256CTR", "key_ops": ["encrypt"], "k": "A" * 43}),
        ("key", {"kty": "oct", "alg": "A256CTR", "key_ops": ["decrypt"], "k": "A" * 20}),
    ],
)
def test_malformed_metadata_is_refused(field: str, value: object) -> None:
    encrypted = encrypt_attachment(b"data")
    info = encrypted.file_info("mxc://a/b")
    if value is None:
        del info[field]
    else:
        info[field] = value
    with pytest.raises(AttachmentError):
        decrypt_attachment(encrypted.ciphertext, info)
