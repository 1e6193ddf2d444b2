"""A local full-text index of the messages this client decrypted, in the SDK store's file.

The server cannot search encrypted rooms, so the client does: each message it decrypts
(`AsyncClient.enable_search`) is indexed here, a redaction takes its target out, and
`search` answers in the shape of the server's `POST /search` (`search_categories.room_events`
with `results`, `count`, `highlights`, `next_batch`). Text becomes terms by the same rules as
the server's index (`core.search_text`): case and accents folded, all terms must match, a term
of three letters or more also finds longer words it starts.

What is on disk: an FTS5 table of terms (contentless: it keeps no text) and each indexed event
as JSON. With an `IndexSealer` (the crypto store's, when it has a passphrase) the events are
sealed with AES-256-GCM, bound to their event ID, and the terms are replaced by keyed hashes,
so the file holds no readable word of a message; a sealed index matches whole terms only (a
hash has no prefixes). An index opened with other sealing than it was built with is emptied,
since what it holds could not be read.

Invariants: an event is indexed once; its terms are always recomputed from the stored event,
so a removal gives FTS5 exactly what it was given (contentless tables need that).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from core.errors import JsonDict
from core.event_types import M_ROOM_REDACTION
from core.search_text import SearchQuery, highlights, parse_query, searchable_text, terms
from sdk.errors import SdkError
from sdk.events import RoomEvent
from sdk.store import Store

__all__ = ["IndexSealer", "LocalSearch", "SearchError"]

logger = logging.getLogger(__name__)

DEFAULT_LIMIT: Final = 10
MAX_LIMIT: Final = 100
_CHECK: Final = b"tessera local search"
_SCHEMA: Final = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5(terms, content='', tokenize='ascii')",
    "CREATE TABLE IF NOT EXISTS search_events (doc INTEGER PRIMARY KEY AUTOINCREMENT,"
    " event_id TEXT NOT NULL UNIQUE, room_id TEXT NOT NULL, event BLOB NOT NULL)",
    "CREATE INDEX IF NOT EXISTS search_events_room ON search_events (room_id)",
    "CREATE TABLE IF NOT EXISTS search_meta (key TEXT PRIMARY KEY, value BLOB NOT NULL)",
)


class SearchError(SdkError):
    """A local search request was malformed (a bad `next_batch` or order)."""


class IndexSealer(Protocol):
    """Seals what the local index stores (implemented by the crypto store)."""

    def seal(self, name: bytes, value: bytes) -> bytes:
        """`value` encrypted and bound to `name`."""
        ...

    def open(self, name: bytes, sealed: bytes) -> bytes:
        """The value `seal` sealed under `name` (raises if it was altered)."""
        ...

    def term(self, term: str) -> str:
        """A keyed hash standing for `term` in the index (letters and digits only)."""
        ...


@dataclass(frozen=True, slots=True)
class _Row:
    doc: int
    score: float
    event: JsonDict


class LocalSearch:
    """The local message index; use `open`."""

    def __init__(self, store: Store, sealer: IndexSealer | None) -> None:
        """Use `open` instead."""
        self._store = store
        self._sealer = sealer

    @classmethod
    async def open(cls, store: Store, sealer: IndexSealer | None = None) -> LocalSearch:
        """The index in `store`'s file, created on first use (emptied if it was built with
        other sealing than `sealer`)."""
        index = cls(store, sealer)
        check = sealer.seal(b"check", _CHECK) if sealer is not None else _CHECK
        async with store.transaction() as db:
            for statement in _SCHEMA:
                await db.execute(statement)
            async with db.execute("SELECT value FROM search_meta WHERE key = 'check'") as cur:
                row = await cur.fetchone()
            if row is not None and not index._same_sealing(bytes(row[0])):
                logger.warning("local search index built with other sealing: emptying it")
                await db.execute("INSERT INTO search_fts (search_fts) VALUES ('delete-all')")
                await db.execute("DELETE FROM search_events")
                row = None
            if row is None:
                await db.execute(
                    "INSERT OR REPLACE INTO search_meta (key, value) VALUES ('check', ?)", (check,)
                )
        return index

    def _same_sealing(self, stored: bytes) -> bool:
        if self._sealer is None:
            return stored == _CHECK
        try:
            return self._sealer.open(b"check", stored) == _CHECK
        except Exception:
            return False

    async def add(self, events: Iterable[RoomEvent]) -> int:
        """Index the searchable events among `events` (and apply the redactions among them);
        returns how many were added."""
        added = 0
        redacted: list[str] = []
        async with self._store.transaction() as db:
            for event in events:
                if event.type == M_ROOM_REDACTION:
                    target = event.redacts or event.content.get("redacts")
                    if isinstance(target, str):
                        redacted.append(target)
                    continue
                document = _document(event)
                found = searchable_text(document)
                if found is None or event.is_redacted:
                    continue
                cursor = await db.execute(
                    "INSERT OR IGNORE INTO search_events (event_id, room_id, event) VALUES (?, ?, ?)",
                    (event.event_id, event.room_id, self._seal(event.event_id, document)),
                )
                if cursor.rowcount:
                    await db.execute(
                        "INSERT INTO search_fts (rowid, terms) VALUES (?, ?)",
                        (cursor.lastrowid, self._terms(found[1])),
                    )
                    added += 1
        if redacted:
            await self.remove(redacted)
        return added

    async def remove(self, event_ids: Sequence[str]) -> int:
        """Take events out of the index (redacted, expired or deleted); returns how many."""
        removed = 0
        async with self._store.transaction() as db:
            for event_id in dict.fromkeys(event_ids):
                async with db.execute(
                    "SELECT doc, event FROM search_events WHERE event_id = ?", (event_id,)
                ) as cursor:
                    row = await cursor.fetchone()
                if row is None:
                    continue
                found = searchable_text(self._open(event_id, bytes(row[1])))
                await db.execute(
                    "INSERT INTO search_fts (search_fts, rowid, terms) VALUES ('delete', ?, ?)",
                    (row[0], self._terms(found[1]) if found else ""),
                )
                await db.execute("DELETE FROM search_events WHERE doc = ?", (row[0],))
                removed += 1
        return removed

    async def search(
        self,
        term: str,
        *,
        rooms: Sequence[str] | None = None,
        limit: int = DEFAULT_LIMIT,
        order_by: str = "rank",
        next_batch: str | None = None,
    ) -> JsonDict:
        """Indexed messages matching every term of `term`, as the server's `/search` answers.

        Args:
            term: What to look for.
            rooms: Only these rooms (all if None).
            limit: Results per page (at most `MAX_LIMIT`).
            order_by: `rank` (best match first) or `recent` (newest first).
            next_batch: The `next_batch` of the previous page.

        Raises:
            SearchError: An unknown order or a `next_batch` this index did not hand out.
        """
        if order_by not in ("rank", "recent"):
            raise SearchError("order_by must be 'rank' or 'recent'")
        recent = order_by == "recent"
        after = _decode(next_batch, recent) if next_batch else None
        query = parse_query(term)
        limit = max(0, min(limit, MAX_LIMIT))
        body: JsonDict = {"results": [], "count": 0, "highlights": []}
        if query.terms and rooms != []:
            match = self._match(query)
            rows = await self._rows(match, rooms, recent, after, limit + 1)
            page = rows[:limit]
            body["results"] = [{"rank": -r.score, "result": r.event} for r in page]
            body["count"] = await self._count(match, rooms)
            body["highlights"] = highlights([r.event for r in page], query)
            if len(rows) > limit and page:
                body["next_batch"] = _encode(recent, page[-1])
        return {"search_categories": {"room_events": body}}

    async def _rows(
        self,
        match: str,
        rooms: Sequence[str] | None,
        recent: bool,
        after: tuple[float, int] | None,
        limit: int,
    ) -> list[_Row]:
        where, args = _rooms_clause(rooms)
        if after is not None:
            if recent:
                where += " AND m.doc < ?"
                args.append(after[1])
            else:
                where += " AND (m.score > ? OR (m.score = ? AND m.doc < ?))"
                args += [after[0], after[0], after[1]]
        order = "m.doc DESC" if recent else "m.score, m.doc DESC"
        rows = await self._store.fetch_all(
            "SELECT m.doc, m.score, e.event_id, e.event FROM"  # noqa: S608 (fixed fragments)
            " (SELECT rowid AS doc, rank AS score FROM search_fts WHERE search_fts MATCH ?) AS m"
            f" JOIN search_events e ON e.doc = m.doc WHERE {where} ORDER BY {order} LIMIT ?",
            (match, *args, limit),
        )
        return [_Row(int(r[0]), float(r[1]), self._open(str(r[2]), bytes(r[3]))) for r in rows]

    async def _count(self, match: str, rooms: Sequence[str] | None) -> int:
        where, args = _rooms_clause(rooms)
        rows = await self._store.fetch_all(
            "SELECT COUNT(*) FROM (SELECT rowid AS doc FROM search_fts"  # noqa: S608
            f" WHERE search_fts MATCH ?) AS m JOIN search_events e ON e.doc = m.doc WHERE {where}",
            (match, *args),
        )
        return int(rows[0][0]) if rows else 0

    def _match(self, query: SearchQuery) -> str:
        if self._sealer is not None:  # hashed terms: whole terms only
            return " AND ".join(f'"{self._sealer.term(t)}"' for t in query.terms)
        return " AND ".join(f'"{t}"*' if query.is_prefix(t) else f'"{t}"' for t in query.terms)

    def _terms(self, text: str) -> str:
        # Sorted, as the server's index does: which words and how often, not their order.
        found = terms(text)
        if self._sealer is not None:
            found = [self._sealer.term(t) for t in found]
        return " ".join(sorted(found))

    def _seal(self, event_id: str, event: JsonDict) -> bytes:
        value = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
        return self._sealer.seal(event_id.encode(), value) if self._sealer else value

    def _open(self, event_id: str, stored: bytes) -> JsonDict:
        value = self._sealer.open(event_id.encode(), stored) if self._sealer else stored
        event: JsonDict = json.loads(value)
        return event


def _document(event: RoomEvent) -> JsonDict:
    """The client event as the server would return it (the cleartext of a decrypted one)."""
    document: JsonDict = {
        "event_id": event.event_id,
        "room_id": event.room_id,
        "sender": event.sender,
        "type": event.type,
        "origin_server_ts": event.origin_server_ts,
        "content": event.content,
    }
    if event.state_key is not None:
        document["state_key"] = event.state_key
    return document


def _rooms_clause(rooms: Sequence[str] | None) -> tuple[str, list[Any]]:
    if rooms is None:
        return "1 = 1", []
    unique = list(dict.fromkeys(rooms))
    return f"e.room_id IN ({', '.join('?' for _ in unique)})", unique


def _encode(recent: bool, row: _Row) -> str:
    text = json.dumps({"o": "recent" if recent else "rank", "s": row.score, "p": row.doc})
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(token: str, recent: bool) -> tuple[float, int]:
    try:
        value = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, RecursionError) as exc:
        raise SearchError("invalid next_batch") from exc
    if not isinstance(value, dict) or value.get("o") != ("recent" if recent else "rank"):
        raise SearchError("invalid next_batch")
    score, doc = value.get("s"), value.get("p")
    if isinstance(score, int) and not isinstance(score, bool) and abs(score) < 2**63:
        score = float(score)
    if not isinstance(score, float) or not math.isfinite(score):
        raise SearchError("invalid next_batch")
    if not isinstance(doc, int) or isinstance(doc, bool) or abs(doc) >= 2**63:
        raise SearchError("invalid next_batch")
    return score, doc
