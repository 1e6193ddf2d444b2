"""Signing keys, key files, verify keys, and signing/verifying JSON objects."""

from __future__ import annotations

import re

import pytest

from core.base64 import encode_unpadded
from core.signing import (
    SignatureError,
    SigningKey,
    decode_signing_key_file,
    decode_verify_key,
    encode_signing_key_file,
    generate_signing_key,
    sign_json,
    signable_bytes,
    signature_of,
    signed_key_ids,
    signing_key_from_seed,
    verify_json_signature,
)

SPEC_SEED = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"
# The spec's seed text has non-zero unused trailing bits; re-encoding yields the canonical form.
SPEC_SEED_CANONICAL = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0"


def test_repr_hides_seed(spec_key: SigningKey) -> None:
    text = repr(spec_key)
    assert SPEC_SEED[:10] not in text
    assert text == "SigningKey(version='1')"
    assert str(spec_key) == text


def test_key_ids(spec_key: SigningKey) -> None:
    assert spec_key.algorithm == "ed25519"
    assert spec_key.key_id == "ed25519:1"
    assert spec_key.verify_key.key_id == "ed25519:1"


def test_generated_version_format() -> None:
    key = generate_signing_key()
    assert re.fullmatch(r"a_[A-Za-z0-9]{4}", key.version)
    assert generate_signing_key("mykey").key_id == "ed25519:mykey"


@pytest.mark.parametrize("version", ["", "a:b", "a b", "ключ"])
def test_bad_versions_are_rejected(version: str) -> None:
    with pytest.raises(ValueError):
        generate_signing_key(version)


def test_key_file_roundtrip(spec_key: SigningKey) -> None:
    text = encode_signing_key_file(spec_key)
    assert text == f"ed25519 1 {SPEC_SEED_CANONICAL}\n"
    decoded = decode_signing_key_file(text)
    assert decoded == spec_key
    assert decoded.verify_key.encode() == spec_key.verify_key.encode()


def test_key_file_accepts_padding_and_surrounding_blank_lines(spec_key: SigningKey) -> None:
    assert decode_signing_key_file(f"\n  ed25519 1 {SPEC_SEED}=  \n\n") == spec_key


@pytest.mark.parametrize(
    "text",
    [
        "",
        f"ed25519 1 {SPEC_SEED}\ned25519 2 {SPEC_SEED}\n",
        f"curve25519 1 {SPEC_SEED}",
        "ed25519 1 c2hvcnQ",
        f"ed25519 {SPEC_SEED}",
        "ed25519 1 not!base64",
    ],
)
def test_bad_key_files_are_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        decode_signing_key_file(text)


def test_verify_key_roundtrip(spec_key: SigningKey) -> None:
    public = spec_key.verify_key
    decoded = decode_verify_key("ed25519:1", public.encode())
    assert decoded == public
    with pytest.raises(ValueError):
        decode_verify_key("curve25519:1", public.encode())
    with pytest.raises(ValueError):
        decode_verify_key("ed25519:1", encode_unpadded(b"short"))


def test_sign_json_does_not_mutate_and_keeps_other_signatures(spec_key: SigningKey) -> None:
    other = generate_signing_key("other")
    original = {
        "a": 1,
        "unsigned": {"age_ts": 5},
        "signatures": {"elsewhere": {"ed25519:x": "c2ln"}},
    }
    snapshot = repr(original)
    once = sign_json(original, "domain", spec_key)
    twice = sign_json(once, "domain", other)
    assert repr(original) == snapshot
    assert twice["unsigned"] == {"age_ts": 5}
    assert set(twice["signatures"]) == {"elsewhere", "domain"}
    assert signed_key_ids(twice, "domain") == ["ed25519:1", "ed25519:other"]
    verify_json_signature(twice, "domain", "ed25519:1", spec_key.verify_key)
    verify_json_signature(twice, "domain", "ed25519:other", other.verify_key)


def test_unsigned_and_signatures_are_not_covered(spec_key: SigningKey) -> None:
    signed = sign_json({"a": 1}, "domain", spec_key)
    signed["unsigned"] = {"age": 10}
    signed["signatures"]["intermediary"] = {"ed25519:z": "eHh4"}
    verify_json_signature(signed, "domain", "ed25519:1", spec_key.verify_key)


def test_wrong_key_fails(spec_key: SigningKey) -> None:
    signed = sign_json({"a": 1}, "domain", spec_key)
    with pytest.raises(SignatureError):
        verify_json_signature(signed, "domain", "ed25519:1", generate_signing_key().verify_key)


@pytest.mark.parametrize(
    "signatures",
    [
        None,
        {},
        {"domain": {}},
        {"domain": {"ed25519:1": 5}},
        {"domain": {"ed25519:1": "!!!"}},
        {"domain": {"ed25519:1": "c2hvcnQ"}},
        {"other": {"ed25519:1": "c2hvcnQ"}},
    ],
)
def test_missing_or_malformed_signature_fails(spec_key: SigningKey, signatures: object) -> None:
    obj: dict[str, object] = {"a": 1}
    if signatures is not None:
        obj["signatures"] = signatures
    with pytest.raises(SignatureError):
        verify_json_signature(obj, "domain", "ed25519:1", spec_key.verify_key)


def test_signature_error_is_value_error() -> None:
    assert issubclass(SignatureError, ValueError)


def test_signature_of(spec_key: SigningKey) -> None:
    signed = sign_json({}, "domain", spec_key)
    assert (
        signature_of(signed, "domain", "ed25519:1") == signed["signatures"]["domain"]["ed25519:1"]
    )
    assert signature_of(signed, "domain", "ed25519:2") is None
    assert signature_of({}, "domain", "ed25519:1") is None
    assert signed_key_ids({"signatures": {"d": {"curve25519:a": "x"}}}, "d") == []


def test_non_canonical_json_cannot_be_signed(spec_key: SigningKey) -> None:
    with pytest.raises(ValueError):
        sign_json({"a": 1.5}, "domain", spec_key)
    with pytest.raises(ValueError):
        sign_json({"a": 2**53}, "domain", spec_key)


def test_signing_key_from_seed_checks_length() -> None:
    with pytest.raises(ValueError):
        signing_key_from_seed(b"\x00" * 31, "1")


def test_signable_bytes_leave_out_signatures_and_unsigned_only() -> None:
    obj = {"b": 1, "a": "x", "signatures": {"s": {}}, "unsigned": {"age": 5}, "hashes": {}}
    assert signable_bytes(obj) == b'{"a":"x","b":1,"hashes":{}}'
    key = signing_key_from_seed(b"\x01" * 32, "1")
    signed = sign_json(obj, "example.org", key)
    assert signable_bytes(signed) == signable_bytes(obj)
