"""The search index: which events are indexed, their terms in the full-text index, the
indexer's progress, and the matching query.

The index holds terms only (see `fulltext.py` and `schema/0012_search.sql`); the event JSON in
`events` stays the one copy of the text. A document's key is its event's stream ordering, and
`search_entries` keeps beside it what the query filters on without reading events (the room and
which key the text came from) and how many terms it has. `apply` writes a batch of additions
and removals together with the indexer's progress in one transaction, so a restart resumes
exactly where the last batch ended and an event is indexed once. A removal must carry the
terms the event was indexed with when the backend needs them (SQLite's contentless FTS5); when
they are not known, or do not match the stored term count, the entry is dropped and its
document listed as an orphan (`search_orphans`) instead of risking a wrong delete, and `clear`
empties everything for a rebuild. Events are found by ID through `events`, so take an event out
of the index before deleting its row (`stale_entries` finds any left behind).

`search` matches a query among the events a user could have seen: rooms where they are joined,
or have been (up to their departure, unless they forgot the room); history visibility is
applied by the caller on the rows it returns. Filters that are plain lists (rooms, senders,
keys) are applied here; the caller applies the rest. Newest first walks the full-text index in
stream order and stops at the page. Best match first scores the newest `RANK_WINDOW` matches
(all of them for any term in fewer messages): scoring every one of a very common word's
matches would take seconds, and a page of the best among the newest ten thousand is what a
searcher of such a word is after. For the same reason `count` counts up to `COUNT_CAP`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from core.errors import JsonDict
from core.identifiers import EventId, RoomId, UserId
from core.search_text import KEY_BODY, KEY_NAME, KEY_TOPIC, SearchQuery
from homeserver.storage.database import Connection, Database
from homeserver.storage.rooms.events import readable_events
from homeserver.storage.sealing import Sealer
from homeserver.storage.search.fulltext import FullText, full_text_for

__all__ = [
    "COUNT_CAP",
    "FORWARD",
    "HISTORY",
    "RANK_WINDOW",
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
RANK_WINDOW: Final = 10_000
"""Best match first ranks at most this many of the newest matches."""
COUNT_CAP: Final = 10_000
"""`count` stops counting here."""

_START: Final[dict[str, int]] = {FORWARD: 0, HISTORY: 1}
# Event types whose JSON the indexer reads; it skips over the others by position alone.
_READ_TYPES: Final = "'m.room.message', 'm.room.name', 'm.room.topic', 'm.room.redaction'"
# `search_entries.kind`: which key a document's text came from.
_KINDS: Final[dict[str, int]] = {KEY_BODY: 0, KEY_NAME: 1, KEY_TOPIC: 2}


@dataclass(frozen=True, slots=True)
class IndexSource:
    """An event the indexer reads from the stream (`raw` is None for types it ignores)."""

    stream_ordering: int
    event_id: EventId
    room_id: RoomId
    raw: JsonDict | None


@dataclass(frozen=True, slots=True)
class Document:
    """An event to add to the index: where it is, which key its text came from, its terms."""

    stream_ordering: int
    room_id: RoomId
    key: str
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
        keys: Only text from these keys (never empty).
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
    keys: tuple[str, ...]
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
                "SELECT e.event_id, s.stream_ordering, s.term_count FROM events e"  # noqa: S608
                " JOIN search_entries s ON s.stream_ordering = e.stream_ordering"
                f" WHERE e.event_id IN ({marks})",
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
            "INSERT INTO search_entries (stream_ordering, room_id, kind, term_count)"
            " VALUES ($1, $2, $3, $4)",
            [(d.stream_ordering, d.room_id, _KINDS[d.key], len(d.terms)) for d in fresh.values()],
        )
        await conn.execute_many(
            self._text.insert_sql,
            [(d.stream_ordering, self._text.document(d.terms)) for d in fresh.values()],
        )

    async def _remove(self, conn: Connection, removal: Removal) -> int:
        row = await conn.fetch_one(
            "SELECT s.stream_ordering, s.term_count FROM events e"
            " JOIN search_entries s ON s.stream_ordering = e.stream_ordering"
            " WHERE e.event_id = $1",
            removal.event_id,
        )
        if row is None:
            return 0
        terms = removal.terms
        if terms is not None and len(terms) != int(row["term_count"]):
            terms = None
        await self._drop(conn, int(row["stream_ordering"]), terms)
        return 1

    async def _drop(self, conn: Connection, position: int, terms: Sequence[str] | None) -> None:
        await conn.execute("DELETE FROM search_entries WHERE stream_ordering = $1", position)
        if not self._text.needs_terms_to_delete:
            await conn.execute(self._text.delete_sql, position)
        elif terms is not None:
            await conn.execute(self._text.delete_sql, position, self._text.document(terms))
        else:
            await conn.execute(
                "INSERT INTO search_orphans (stream_ordering) VALUES ($1) ON CONFLICT DO NOTHING",
                position,
            )

    async def drop_stale(self) -> int:
        """Take out entries whose event is gone or redacted (normally taken out at once);
        on SQLite their documents become orphans. Returns how many."""
        rows = await self._db.fetch_all(
            "SELECT s.stream_ordering FROM search_entries s"
            " LEFT JOIN events e ON e.stream_ordering = s.stream_ordering"
            " WHERE e.event_id IS NULL OR e.redacted_by IS NOT NULL"
        )
        if rows:
            async with self._db.transaction() as conn:
                for r in rows:
                    await self._drop(conn, int(r["stream_ordering"]), None)
        return len(rows)

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
        joins, where, args = self._filters(match)
        page, extra = self._page(match, joins, where, len(args))
        rows = await self._db.fetch_all(page, *args, match.limit, *extra)
        # Event IDs by the unique index, in a query of their own: joined to the page, a
        # planner that misjudges its size could read through the events table.
        positions = [int(r["doc"]) for r in rows]
        ids = await self._event_ids(positions)
        return [
            Hit(int(r["doc"]), ids[int(r["doc"])], RoomId(r["room_id"]), float(r["score"]))
            for r in rows
            if int(r["doc"]) in ids
        ]

    async def _event_ids(self, positions: Sequence[int]) -> dict[int, EventId]:
        found: dict[int, EventId] = {}
        for chunk in _chunks(list(positions)):
            marks = ", ".join(f"${i}" for i in range(1, len(chunk) + 1))
            rows = await self._db.fetch_all(
                "SELECT stream_ordering, event_id FROM events"  # noqa: S608
                f" WHERE stream_ordering IN ({marks})",
                *chunk,
            )
            found.update((int(r["stream_ordering"]), EventId(r["event_id"])) for r in rows)
        return found

    def _page(self, match: MatchQuery, joins: str, where: str, used: int) -> tuple[str, list[Any]]:
        """The query of one page `(doc, score, room_id)` and its arguments after the filters'
        `used` ones and the limit."""
        # Fixed fragments only; every value is an argument.
        matched = (
            f"SELECT search_fts.rowid AS doc, {self._text.score_sql} AS score, s.room_id"  # noqa: S608
            f" FROM {self._text.from_sql}{joins} WHERE {where}"
        )
        limit, after = f"${used + 1}", f"${used + 2}"
        if match.recent:
            if match.after is None:
                return f"{matched} ORDER BY search_fts.rowid DESC LIMIT {limit}", []
            newer = f"{matched} AND search_fts.rowid < {after}"
            return f"{newer} ORDER BY search_fts.rowid DESC LIMIT {limit}", [match.after[1]]
        window = f"{matched} ORDER BY search_fts.rowid DESC LIMIT {RANK_WINDOW}"
        keyset, extra = "1 = 1", list[Any]()
        if match.after is not None:
            keyset = f"(w.score > {after} OR (w.score = {after} AND w.doc < ${used + 3}))"
            extra = [match.after[0], match.after[1]]
        page = (
            f"SELECT w.doc, w.score, w.room_id FROM ({window}) AS w WHERE {keyset}"  # noqa: S608
            f" ORDER BY w.score, w.doc DESC LIMIT {limit}"
        )
        return page, extra

    async def count(self, match: MatchQuery) -> int:
        """How many events match, before history visibility, counted up to `COUNT_CAP` (an
        estimate for clients, as the spec allows: counting every match of a very common word
        would cost as much as scoring them all)."""
        joins, where, args = self._filters(match)
        value = await self._db.fetch_val(
            "SELECT COUNT(*) FROM (SELECT search_fts.rowid"  # noqa: S608
            f" FROM {self._text.from_sql}{joins} WHERE {where}"
            f" ORDER BY search_fts.rowid DESC LIMIT {COUNT_CAP}) AS c",
            *args,
        )
        return int(value or 0)

    def _filters(self, match: MatchQuery) -> tuple[str, str, list[Any]]:
        """The joins, conditions and arguments (`$1` the query, `$2` the user) of `match`."""
        args: list[Any] = [self._text.query(match.query), match.user_id]
        joins = ""
        # A match passes if its room is one the user is joined to (the set built once, then
        # probed) or one they left after it was sent (checked per match, rarely reached). Under
        # an OR neither check becomes a join, so the planner cannot drive the query from the
        # user's rooms and scan the matches again for each.
        clauses = [
            self._text.match_sql,
            "(s.room_id IN (SELECT room_id FROM memberships WHERE user_id = $2"
            " AND membership = 'join') OR EXISTS (SELECT 1 FROM memberships mb"
            " WHERE mb.user_id = $2 AND mb.room_id = s.room_id AND mb.membership <> 'join'"
            " AND mb.forgotten = 0 AND search_fts.rowid <= mb.stream_ordering))",
        ]

        def listed(column: str, values: Sequence[object], negate: bool = False) -> None:
            marks = ", ".join(f"${len(args) + i}" for i in range(1, len(values) + 1))
            args.extend(values)
            clauses.append(f"{column} {'NOT IN' if negate else 'IN'} ({marks})")

        if set(match.keys) != set(_KINDS):
            listed("s.kind", [_KINDS[key] for key in match.keys])
        if match.rooms is not None:
            listed("s.room_id", match.rooms or ("",))
        if match.not_rooms:
            listed("s.room_id", match.not_rooms, negate=True)
        if match.senders is not None or match.not_senders:
            joins += " JOIN events se ON se.stream_ordering = search_fts.rowid"
            if match.senders is not None:
                listed("se.sender", match.senders or ("",))
            if match.not_senders:
                listed("se.sender", match.not_senders, negate=True)
        return joins, " AND ".join(clauses), args


def _chunks(items: list[Any], size: int = 200) -> list[list[Any]]:
    return [items[start : start + size] for start in range(0, len(items), size)]
