"""The spec's cryptographic key representation (appendix "Cryptographic key representation").

A private key shown to a user (the backup decryption key, a secret storage key) is written as:
the bytes `0x8B 0x01`, the raw key, then a parity byte (the XOR of all preceding bytes), encoded
in Bitcoin's base58 alphabet with a space after every fourth character. Reading ignores all
whitespace and checks prefix, parity and length, so a mistyped key is refused, not misused.
"""

from __future__ import annotations

from functools import reduce
from operator import xor
from typing import Final

from sdk.crypto.errors import InvalidRecoveryKey

__all__ = ["b58decode", "b58encode", "decode_recovery_key", "encode_recovery_key"]

_ALPHABET: Final = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX: Final = {char: i for i, char in enumerate(_ALPHABET)}
_PREFIX: Final = b"\x8b\x01"
_KEY_BYTES: Final = 32


def b58encode(data: bytes) -> str:
    """Base58 (Bitcoin alphabet) encoding; each leading zero byte becomes a leading `1`."""
    number = int.from_bytes(data, "big")
    digits: list[str] = []
    while number:
        number, rem = divmod(number, 58)
        digits.append(_ALPHABET[rem])
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + "".join(reversed(digits))


def b58decode(text: str) -> bytes:
    """Decode Bitcoin-alphabet base58.

    Raises:
        ValueError: A character is outside the alphabet.
    """
    number = 0
    for char in text:
        if char not in _INDEX:
            raise ValueError("invalid base58 character")
        number = number * 58 + _INDEX[char]
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * zeros + body


def encode_recovery_key(key: bytes) -> str:
    """Present a 32-byte private key as a spaced base58 string.

    Raises:
        ValueError: `key` is not 32 bytes.
    """
    if len(key) != _KEY_BYTES:
        raise ValueError("a recovery key encodes exactly 32 bytes")
    raw = _PREFIX + key
    raw += bytes([reduce(xor, raw, 0)])
    encoded = b58encode(raw)
    return " ".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))


def decode_recovery_key(text: str) -> bytes:
    """Read a recovery key string back into its 32 raw bytes.

    Raises:
        InvalidRecoveryKey: Wrong alphabet, prefix, parity or length.
    """
    compact = "".join(text.split())
    try:
        raw = b58decode(compact)
    except ValueError as exc:
        raise InvalidRecoveryKey("recovery key contains a character outside base58") from exc
    if len(raw) != len(_PREFIX) + _KEY_BYTES + 1 or not raw.startswith(_PREFIX):
        raise InvalidRecoveryKey("recovery key has the wrong prefix or length")
    if reduce(xor, raw, 0) != 0:
        raise InvalidRecoveryKey("recovery key parity check failed (a typo?)")
    return raw[len(_PREFIX) : -1]
