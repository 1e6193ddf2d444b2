"""Whether a Python string is Unicode text: what can be stored, hashed and sent.

A Python `str` may hold lone surrogates (from a `\\ud800` JSON escape, or bytes decoded with
`surrogateescape`). They are not Unicode scalar values and have no UTF-8 encoding, so no
database column, canonical JSON or response can carry them. The JSON ingress, the identifier
parsers and the storage layer all ask this one question.
"""

from __future__ import annotations

__all__ = ["is_unicode_text"]


def is_unicode_text(value: str) -> bool:
    """Whether `value` has a UTF-8 encoding (it holds no lone surrogate)."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
