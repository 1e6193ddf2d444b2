"""Near-duplicate fingerprints of message text, for spotting mutated spam without keeping it.

A message is normalised the way spammers' mutations are undone: Unicode compatibility forms
folded (NFKC), case folded, zero-width and formatting characters dropped, emoji and other
symbols dropped, common leetspeak digits read as letters, links cut to their host, whitespace
collapsed. Its 64-bit SimHash over character 4-grams then differs in only a few bits between
two mutations of the same text, and in about half of them between unrelated texts.

Invariant: nothing here keeps or returns the text; callers get counts and a fingerprint.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from typing import Final

__all__ = ["TextSignal", "hamming", "link_count", "normalise", "simhash", "text_signal"]

_LINK: Final = re.compile(r"(?:https?://|www\.)([^\s/?#]+)[^\s]*", re.IGNORECASE)
_LEET: Final = str.maketrans(
    {
        "0": "o",
        "1": "i",
        "3": "e",
        "4": "a",
        "5": "s",
        "7": "t",
        "@": "a",
        "$": "s",
        "!": "i",
        "|": "l",
    }
)
_DROPPED_CATEGORIES: Final = frozenset({"Cf", "Cc", "Co", "Cs", "Cn", "So", "Sk", "Mn", "Me"})
_SPACES: Final = re.compile(r"\s+")
_SHINGLE: Final = 4
_MAX_TEXT: Final = 4096  # longer messages are fingerprinted on their first 4 KiB
_LANE: Final = 13  # bits per counter lane: more than the most 4-grams a text can have
_SPREAD: Final = tuple(
    sum(1 << (bit * _LANE) for bit in range(8) if byte >> bit & 1) for byte in range(256)
)


@dataclass(frozen=True, slots=True)
class TextSignal:
    """What telemetry keeps of a message's text.

    Attributes:
        length: Characters in the text.
        links: How many links it holds.
        simhash: The 64-bit SimHash of the normalised text, 16 hex digits.
    """

    length: int
    links: int
    simhash: str


def link_count(text: str) -> int:
    """How many `http(s)://` or `www.` links `text` holds."""
    return len(_LINK.findall(text))


def normalise(text: str) -> str:
    """`text` with the usual spam mutations undone (see the module docstring)."""
    folded = unicodedata.normalize("NFKC", text[:_MAX_TEXT]).casefold()
    folded = _LINK.sub(lambda m: f" {m.group(1).lower()} ", folded)
    kept = "".join(ch for ch in folded if unicodedata.category(ch) not in _DROPPED_CATEGORIES)
    return _SPACES.sub(" ", kept.translate(_LEET)).strip()


def simhash(text: str) -> int:
    """The 64-bit SimHash of `text`'s character 4-grams (of the whole text if shorter)."""
    grams = {text[i : i + _SHINGLE] for i in range(max(1, len(text) - _SHINGLE + 1))}
    # Count set bits per position with one big integer of 64 lanes, each wide enough for
    # every gram: a byte spreads to 8 lanes by table lookup, so a gram costs 8 additions.
    total = 0
    for gram in grams:
        digest = hashlib.blake2b(gram.encode(), digest_size=8).digest()
        for index, byte in enumerate(reversed(digest)):
            total += _SPREAD[byte] << (index * 8 * _LANE)
    half, mask = len(grams) / 2, (1 << _LANE) - 1
    return sum(1 << bit for bit in range(64) if (total >> (bit * _LANE) & mask) > half)


def hamming(a: int, b: int) -> int:
    """How many bits differ between two fingerprints."""
    return (a ^ b).bit_count()


def text_signal(text: str) -> TextSignal:
    """Length, link count and fingerprint of a message's text."""
    return TextSignal(
        length=len(text), links=link_count(text), simhash=f"{simhash(normalise(text)):016x}"
    )
