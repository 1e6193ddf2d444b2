"""The search index: which events are indexed, their terms in the full-text index, the
indexer's progress, and the matching query.

The index holds terms only (see `fulltext.py` and `schema/0012_search.sql`); the event JSON in
`events` stays the one copy of the text. A document's key is its event's stream ordering.
`apply` writes a batch of additions and removals together with the indexer's progress in one
transaction, so a restart resumes exactly where the last batch ended and an event is indexed
once. A removal must carry the terms the event was indexed with when the backend needs them
(SQLite's contentless FTS5); when they are not known, or no longer match the stored term
count, the entry is dropped and its document listed as an orphan (`search_orphans`) instead of
risking a wrong delete, and `clear` empties everything for a rebuild.

`search` matches a query among the events a user could have seen: rooms where they are joined,
or have been (up to their departure, unless they forgot the room); history visibility is
applied by the caller on the rows it returns. Filters that are plain lists (rooms, senders,
exact event types) are applied here; the caller applies the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from core.errors import JsonDict
from core.identifiers import EventId, RoomId, UserId
from core.search_text import SearchQuery
from homeserver.storage.database import Connection, Database
from homeserver.storage.rooms.events import readable_events
from homeserver.storage.sealing import Sealer
from homeserver.storage.search.fulltext import FullText, full_text_for

__all__ = [
    "FORWARD",
    "HISTORY",
    "Document",
    "Hit",
    "IndexSource",
    "MatchQuery",
    "Removal",
    "SearchStore",
]

FORWARD: Final = "search"
"""Progress of the indexer up the events stream (the last stream ordering indexed)."""
HISTORY: Final = "search_history"
"""Progress down the history placed below the timeline (the lowest stream ordering indexed)."""

_START: Final[dict[str, int]] = {FORWARD: 0, HISTORY: 1}
# Event types whose JSON the indexer reads; it skips over the others by position alone.
_READ_TYPES: Final = "'m.room.message', 'm.room.name', 'm.room.topic', 'm.room.redaction'"


@dataclass(frozen=True, slots=True)
class IndexSource:
    """An event the indexer reads from the stream (`raw` is None for types it ignores)."""

    stream_ordering: int
    event_id: EventId
    room_id: RoomId
    raw: JsonDict | None


@dataclass(frozen=True, slots=True)
class Document:
    """An event to add to the index with its terms."""

    stream_ordering: int
    event_id: EventId
    terms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Removal:
    """An event to take out of the index, with the terms it was indexed with if known."""

    event_id: EventId
    terms: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class MatchQuery:
    """What to match and among which events.

    Attributes:
        query: The terms, all of which must match.
        user_id: Only rooms this user is or was in.
        event_types: Only these event types (never empty).
        rooms: Only these rooms, if given.
        not_rooms: Never these rooms.
        senders: Only these senders, if given.
        not_senders: Never these senders.
        recent: Newest first if True; best match first (newest first among equals) if False.
        after: Continue after this `(score, stream_ordering)` of the previous page.
        limit: At most this many rows.
    """

    query: SearchQuery
    user_id: UserId
    event_types: tuple[str, ...]
    rooms: tuple[str, ...] | None = None
    not_rooms: tuple[str, ...] = ()
    senders: tuple[str, ...] | None = None
    not_senders: tuple[str, ...] = ()
    recent: bool = False
    after: tuple[float, int] | None = None
    limit: int = 50


@dataclass(frozen=True, slots=True)
class Hit:
    """A matching event: lower `score` is a better match."""

    stream_ordering: int
    event_id: EventId
    room_id: RoomId
    score: float


class SearchStore:
    """Reads and writes the search index (`search_*` tables); event JSON is opened with
    `sealer`."""

    def __init__(self, db: Database, sealer: Sealer) -> None:
        self._db = db
        self._sealer = sealer
        self._text: FullText = full_text_for(db)

    @property
    def needs_terms_to_delete(self) -> bool:
        """Whether a removal must carry the event's terms (else it becomes an orphan)."""
        return self._text.needs_terms_to_delete

    async def progress(self) -> dict[str, int]:
        """`{FORWARD: highest indexed position, HISTORY: lowest}` (defaults before any run)."""
        rows = await self._db.fetch_all("SELECT name, position FROM search_progress")
        found = dict(_START)
        found.update((str(r["name"]), int(r["position"])) for r in rows if r["name"] in _START)
        return found

    async def events_after(self, position: int, limit: int) -> list[IndexSource]:
        """Up to `limit` events after `position`, in stream order."""
        return await self._sources("stream_ordering > $1 ORDER BY stream_ordering", position, limit)

    async def events_below(self, position: int, limit: int) -> list[IndexSource]:
        """Up to `limit` events below `position` (history placed under the timeline),
        highest first."""
        return await self._sources(
            "stream_ordering < $1 ORDER BY stream_ordering DESC", position, limit
        )

    async def _sources(self, where: str, position: int, limit: int) -> list[IndexSource]:
        rows = await self._db.fetch_all(
            "SELECT event_id, room_id, stream_ordering,"  # noqa: S608 (fixed fragments)
            f" CASE WHEN event_type IN ({_READ_TYPES}) THEN json ELSE '{{}}' END AS json,"
            f" event_type IN ({_READ_TYPES}) AS wanted"
            f" FROM events WHERE {where} LIMIT $2",
            position,
            limit,
        )
        readable = {str(r["event_id"]): raw for r, raw in readable_events(rows, self._sealer)}
        return [
            IndexSource(
                stream_ordering=int(r["stream_ordering"]),
                event_id=EventId(r["event_id"]),
                room_id=RoomId(r["room_id"]),
                raw=readable.get(str(r["event_id"])) if r["wanted"] else None,
            )
            for r in rows
        ]

    async def entries(self, event_ids: Sequence[EventId]) -> dict[EventId, tuple[int, int]]:
        """`event_id -> (stream_ordering, term_count)` of the given events that are indexed."""
        found: dict[EventId, tuple[int, int]] = {}
        for chunk in _chunks(list(dict.fromkeys(event_ids))):
            marks = ", ".join(f"${i}" for i in range(1, len(chunk) + 1))
            rows = await self._db.fetch_all(
                "SELECT event_id, stream_ordering, term_count FROM search_entries"  # noqa: S608
                f" WHERE event_id IN ({marks})",
                *chunk,
            )
            for r in rows:
                found[EventId(r["event_id"])] = (int(r["stream_ordering"]), int(r["term_count"]))
        return found

    async def apply(
        self,
        documents: Sequence[Document],
        removals: Sequence[Removal],
        progress: dict[str, int] | None = None,
    ) -> int:
        """Add `documents`, take out `removals` and store `progress`, in one transaction.

        Documents already indexed are skipped; removals of events not indexed do nothing.

        Returns:
            How many documents were removed.
        """
        removed = 0
        async with self._db.transaction() as conn:
            await self._add(conn, documents)
            for removal in removals:
                removed += await self._remove(conn, removal)
            for name, position in (progress or {}).items():
                await conn.execute(
                    "INSERT INTO search_progress (name, position) VALUES ($1, $2)"
                    " ON CONFLICT (name) DO UPDATE SET position = excluded.position",
                    name,
                    position,
                )
        return removed

    async def _add(self, conn: Connection, documents: Sequence[Document]) -> None:
        fresh = {d.stream_ordering: d for d in documents if d.terms}
        for chunk in _chunks(list(fresh)):
            marks = ", ".join(f"${i}" for i in range(1, len(chunk) + 1))
            rows = await conn.fetch_all(
                "SELECT stream_ordering FROM search_entries"  # noqa: S608
                f" WHERE stream_ordering IN ({marks})",
                *chunk,
            )
            for r in rows:
                del fresh[int(r["stream_ordering"])]
        if not fresh:
            return
        await conn.execute_many(
            "INSERT INTO search_entries (stream_ordering, event_id, term_count) VALUES ($1, $2, $3)",
            [(d.stream_ordering, d.event_id, len(d.terms)) for d in fresh.values()],
        )
        await conn.execute_many(
            self._text.insert_sql,
            [(d.stream_ordering, self._text.document(d.terms)) for d in fresh.values()],
        )

    async def _remove(self, conn: Connection, removal: Removal) -> int:
        row = await conn.fetch_one(
            "SELECT stream_ordering, term_count FROM search_entries WHERE event_id = $1",
            removal.event_id,
        )
        if row is None:
            return 0
        position, count = int(row["stream_ordering"]), int(row["term_count"])
        await conn.execute("DELETE FROM search_entries WHERE stream_ordering = $1", position)
        if not self._text.needs_terms_to_delete:
            await conn.execute(self._text.delete_sql, position)
        elif removal.terms is not None and len(removal.terms) == count:
            await conn.execute(self._text.delete_sql, position, self._text.document(removal.terms))
        else:
            await conn.execute(
                "INSERT INTO search_orphans (stream_ordering) VALUES ($1) ON CONFLICT DO NOTHING",
                position,
            )
        return 1

    async def redacted_entries(self) -> list[EventId]:
        """Indexed events that have been redacted since (normally taken out at once)."""
        rows = await self._db.fetch_all(
            "SELECT s.event_id FROM search_entries s"
            " JOIN events e ON e.stream_ordering = s.stream_ordering"
            " WHERE e.redacted_by IS NOT NULL"
        )
        return [EventId(r["event_id"]) for r in rows]

    async def orphan_count(self) -> int:
        """How many documents are in the index without an entry (see the module docstring)."""
        return int(await self._db.fetch_val("SELECT COUNT(*) FROM search_orphans") or 0)

    async def clear(self) -> None:
        """Empty the index and its progress (the indexer then rebuilds it from the events)."""
        async with self._db.transaction() as conn:
            await conn.execute(self._text.clear_sql)
            for table in ("search_entries", "search_orphans", "search_progress"):
                await conn.execute(f"DELETE FROM {table}")  # noqa: S608 (fixed names)

    async def search(self, match: MatchQuery) -> list[Hit]:
        """The matching events in the requested order (see `MatchQuery`)."""
        where, args = self._where(match)
        if match.after is not None:
            score, position = match.after
            mark = len(args) + 1
            if match.recent:
                where += f" AND m.doc < ${mark}"
                args.append(position)
            else:
                where += f" AND (m.score > ${mark} OR (m.score = ${mark} AND m.doc < ${mark + 1}))"
                args += [score, position]
        order = "m.doc DESC" if match.recent else "m.score, m.doc DESC"
        rows = await self._db.fetch_all(
            f"SELECT m.doc, m.score, e.event_id, e.room_id {self._from()}"
            f" WHERE {where} ORDER BY {order} LIMIT ${len(args) + 1}",
            *args,
            match.limit,
        )
        return [
            Hit(int(r["doc"]), EventId(r["event_id"]), RoomId(r["room_id"]), float(r["score"]))
            for r in rows
        ]

    async def count(self, match: MatchQuery) -> int:
        """How many events match, before history visibility (an estimate for clients)."""
        where, args = self._where(match)
        value = await self._db.fetch_val(
            f"SELECT COUNT(*) {self._from()} WHERE {where}",
            *args,
        )
        return int(value or 0)

    def _from(self) -> str:
        return (
            f"FROM ({self._text.match_sql}) AS m"
            " JOIN search_entries s ON s.stream_ordering = m.doc"
            " JOIN events e ON e.stream_ordering = m.doc"
            " JOIN memberships mb ON mb.room_id = e.room_id AND mb.user_id = $2"
        )

    def _where(self, match: MatchQuery) -> tuple[str, list[Any]]:
        args: list[Any] = [self._text.query(match.query), match.user_id]
        clauses = [
            "e.redacted_by IS NULL",
            "(mb.membership = 'join'"
            " OR (mb.forgotten = 0 AND e.stream_ordering <= mb.stream_ordering))",
        ]

        def listed(column: str, values: Sequence[str], negate: bool = False) -> None:
            marks = ", ".join(f"${len(args) + i}" for i in range(1, len(values) + 1))
            args.extend(values)
            clauses.append(f"{column} {'NOT IN' if negate else 'IN'} ({marks})")

        listed("e.event_type", match.event_types)
        if match.rooms is not None:
            listed("e.room_id", match.rooms or ("",))
        if match.not_rooms:
            listed("e.room_id", match.not_rooms, negate=True)
        if match.senders is not None:
            listed("e.sender", match.senders or ("",))
        if match.not_senders:
            listed("e.sender", match.not_senders, negate=True)
        return " AND ".join(clauses), args


def _chunks(items: list[Any], size: int = 200) -> list[list[Any]]:
    return [items[start : start + size] for start in range(0, len(items), size)]
