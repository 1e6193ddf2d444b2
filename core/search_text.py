"""What full-text search reads of an event, and how text becomes search terms (spec: "Server
Side Search"). Pure functions, shared by the homeserver's index and the SDK's local index.

`searchable_text` picks the one searchable field of an event: `content.body` of
`m.room.message`, `content.name` of `m.room.name`, `content.topic` (and the `text/plain` body of
`m.topic`) of `m.room.topic`. `terms` turns text into search terms, the only thing an index
stores: case-folded, diacritics removed (é → e), split into runs of letters and digits, with
Chinese and Japanese characters one term each (they are written without spaces, so a word
inside a sentence is still found). Terms longer than `MAX_TERM_LENGTH` (hashes, base64) are
dropped. Both indexes receive these terms ready-made, so SQLite and PostgreSQL match exactly
the same words.

A query (`parse_query`) is the terms of the search term, all of which must match; a term of
at least `MIN_PREFIX_LENGTH` characters also matches longer words it starts (`meet` finds
`meeting`). `highlight_words` lists the words of a matched text that a query hit, as written,
and `highlights` those of a page of events (a `/search` response's `highlights`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from core.event_types import M_ROOM_MESSAGE, M_ROOM_NAME, M_ROOM_TOPIC

__all__ = [
    "KEY_BODY",
    "KEY_NAME",
    "KEY_TOPIC",
    "MAX_QUERY_TERMS",
    "MAX_TERM_LENGTH",
    "MIN_PREFIX_LENGTH",
    "SEARCH_KEYS",
    "SearchQuery",
    "highlight_words",
    "highlights",
    "parse_query",
    "searchable_text",
    "terms",
]

KEY_BODY: Final = "content.body"
KEY_NAME: Final = "content.name"
KEY_TOPIC: Final = "content.topic"
SEARCH_KEYS: Final[Mapping[str, str]] = {
    KEY_BODY: M_ROOM_MESSAGE,
    KEY_NAME: M_ROOM_NAME,
    KEY_TOPIC: M_ROOM_TOPIC,
}
"""Each searchable key and the one event type that carries it."""

MAX_TERM_LENGTH: Final = 64
MIN_PREFIX_LENGTH: Final = 3
MAX_QUERY_TERMS: Final = 16

# Han, Hiragana, Katakana (with their extensions and compatibility forms): one term per character.
_CJK: Final = re.compile(
    "[\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f]"
)
_ASCII_RUN: Final = re.compile("[A-Za-z0-9]+")
# Accents of Latin, Greek and Cyrillic letters; other scripts keep their marks.
_DIACRITICS: Final = re.compile("[\u0300-\u036f]")


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """The terms a search must match, all of them.

    Attributes:
        terms: Distinct search terms in the order written (at most `MAX_QUERY_TERMS`).
    """

    terms: tuple[str, ...]

    def is_prefix(self, term: str) -> bool:
        """Whether `term` also matches the longer words it starts."""
        return len(term) >= MIN_PREFIX_LENGTH and not _is_cjk(term)

    def hits(self, word_term: str) -> bool:
        """Whether a term of a text matches one of the query's terms."""
        return any(
            word_term == term or (self.is_prefix(term) and word_term.startswith(term))
            for term in self.terms
        )


def _fold(text: str) -> str:
    folded = text.casefold()
    if folded.isascii():
        return folded
    stripped = _DIACRITICS.sub("", unicodedata.normalize("NFKD", folded))
    return unicodedata.normalize("NFC", stripped)


def _is_cjk(term: str) -> bool:
    return _CJK.fullmatch(term) is not None


def _runs(text: str) -> list[str]:
    """Runs of letters, digits and marks; each Chinese or Japanese character alone."""
    if text.isascii():
        return _ASCII_RUN.findall(text)
    runs: list[str] = []
    current: list[str] = []
    for ch in text:
        if _CJK.match(ch):
            if current:
                runs.append("".join(current))
                current = []
            runs.append(ch)
        elif ch.isalnum() or unicodedata.category(ch)[0] == "M":
            current.append(ch)
        elif current:
            runs.append("".join(current))
            current = []
    if current:
        runs.append("".join(current))
    return runs


def terms(text: str) -> list[str]:
    """The search terms of `text`, in order, repeats kept (they weigh in the ranking)."""
    return [t for t in _runs(_fold(text)) if len(t) <= MAX_TERM_LENGTH]


def parse_query(search_term: str) -> SearchQuery:
    """The query a client's search term asks for (no terms when it has no letter or digit)."""
    found = dict.fromkeys(terms(search_term))
    return SearchQuery(tuple(found)[:MAX_QUERY_TERMS])


def searchable_text(event: Mapping[str, Any]) -> tuple[str, str] | None:
    """`(key, text)` of the event's searchable field, or None if it has none.

    Args:
        event: An event in client or federation format.
    """
    content = event.get("content")
    if not isinstance(content, Mapping):
        return None
    event_type = event.get("type")
    if event_type == M_ROOM_MESSAGE:
        body = content.get("body")
        return (KEY_BODY, body) if isinstance(body, str) and body else None
    if event.get("state_key") != "":
        return None
    if event_type == M_ROOM_NAME:
        name = content.get("name")
        return (KEY_NAME, name) if isinstance(name, str) and name else None
    if event_type == M_ROOM_TOPIC:
        parts = _topic_parts(content)
        return (KEY_TOPIC, "\n".join(parts)) if parts else None
    return None


def _topic_parts(content: Mapping[str, Any]) -> list[str]:
    parts: list[str] = []
    topic = content.get("topic")
    if isinstance(topic, str) and topic:
        parts.append(topic)
    block = content.get("m.topic")
    texts = block.get("m.text") if isinstance(block, Mapping) else None
    for item in texts if isinstance(texts, list) else ():
        if not isinstance(item, Mapping) or item.get("mimetype", "text/plain") != "text/plain":
            continue
        body = item.get("body")
        if isinstance(body, str) and body and body not in parts:
            parts.append(body)
    return parts


def highlight_words(text: str, query: SearchQuery) -> set[str]:
    """The words of `text`, as written, that match a term of `query`."""
    return {run for run in _runs(text) if any(query.hits(term) for term in terms(run))}


def highlights(events: Iterable[Mapping[str, Any]], query: SearchQuery) -> list[str]:
    """The words of the events' searchable text that match `query`, as written, sorted."""
    words: set[str] = set()
    for event in events:
        found = searchable_text(event)
        if found is not None:
            words |= highlight_words(found[1], query)
    return sorted(words)
