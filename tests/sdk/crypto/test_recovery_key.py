"""The spec's cryptographic key representation (0x8B 0x01 prefix, parity byte, base58)."""

from __future__ import annotations

from functools import reduce
from operator import xor

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sdk.crypto.errors import InvalidRecoveryKey
from sdk.crypto.protocol.recovery_key import (
    b58decode,
    b58encode,
    decode_recovery_key,
    encode_recovery_key,
)

BITCOIN_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def test_base58_known_values() -> None:
    # Bitcoin base58 vectors: "Hello World!" and leading zero bytes.
    assert b58encode(b"Hello World!") == "2NEpo7TZRRrLZSi2U"
    assert b58encode(b"\0\0\x01") == "112"
    assert b58decode("2NEpo7TZRRrLZSi2U") == b"Hello World!"
    assert b58decode("112") == b"\0\0\x01"


def test_layout_of_an_encoded_key() -> None:
    key = bytes(range(32))
    text = encode_recovery_key(key)
    groups = text.split(" ")
    assert all(len(g) == 4 for g in groups[:-1])
    assert 1 <= len(groups[-1]) <= 4
    assert set("".join(groups)) <= set(BITCOIN_ALPHABET)
    raw = b58decode("".join(groups))
    assert raw[:2] == b"\x8b\x01"
    assert raw[2:34] == key
    assert raw[34] == reduce(xor, raw[:34], 0)
    assert text.startswith("Es")  # as every Element security key does


@given(st.binary(min_size=32, max_size=32))
def test_round_trip(key: bytes) -> None:
    assert decode_recovery_key(encode_recovery_key(key)) == key


def test_whitespace_is_ignored() -> None:
    key = bytes(range(1, 33))
    text = encode_recovery_key(key)
    assert decode_recovery_key("  " + text.replace(" ", "\n") + " ") == key
    assert decode_recovery_key(text.replace(" ", "")) == key


def test_a_typo_is_caught_by_the_parity_byte() -> None:
    text = encode_recovery_key(bytes(range(32))).replace(" ", "")
    position = 10
    swapped = "2" if text[position] != "2" else "3"
    with pytest.raises(InvalidRecoveryKey):
        decode_recovery_key(text[:position] + swapped + text[position + 1 :])


@pytest.mark.parametrize(
    "raw",
    [
        b"\x8b\x02" + bytes(32),  # wrong prefix
        b"\x8b\x01" + bytes(31),  # too short
        b"\x8b\x01" + bytes(33),  # too long
    ],
)
def test_wrong_prefix_or_length_is_refused(raw: bytes) -> None:
    text = b58encode(raw + bytes([reduce(xor, raw, 0)]))
    with pytest.raises(InvalidRecoveryKey):
        decode_recovery_key(text)


def test_characters_outside_base58_are_refused() -> None:
    with pytest.raises(InvalidRecoveryKey):
        decode_recovery_key("EsT0 OIl0")
    with pytest.raises(ValueError, match="32 bytes"):
        encode_recovery_key(b"short")
