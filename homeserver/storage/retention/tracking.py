"""What the retention tracker records of each event: the media it names and its
self-destruct timer (`schema/0015_retention.sql`).

The tracker follows the events stream upwards (`TRACK`) and the backfilled history below it
downwards (`TRACK_HISTORY`); `record` writes a batch's media references and timers together
with the new positions in one transaction, so a restart resumes exactly after the last batch.
Only the events' columns are read here (`TrackedEvent`); their JSON comes from the room read
store, which owns it.

A timer of `org.matrix.self_destruct` starts at the first read receipt of someone other than
the sender that covers the event. Receipts are applied as they are stored
(`start_read_timers`), and a timer recorded after its receipt (or whose receipt's handler
never ran) starts from the receipts table (`reconcile_read_timers`): an unstarted timer never
waits for a receipt that already exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from core.identifiers import EventId, RoomId, UserId
from core.retention import MediaRef
from homeserver.storage.database import Connection, Database

__all__ = ["TRACK", "TRACK_HISTORY", "Timer", "TrackedEvent", "TrackingStore"]

TRACK: Final = "track"
TRACK_HISTORY: Final = "track_history"
_START: Final[dict[str, int]] = {TRACK: 0, TRACK_HISTORY: 1}
_READ_RECEIPTS: Final = "'m.read', 'm.read.private'"


@dataclass(frozen=True, slots=True)
class TrackedEvent:
    """An event of the stream, by its columns."""

    event_id: EventId
    room_id: RoomId
    stream_ordering: int
    sender: UserId
    is_state: bool


@dataclass(frozen=True, slots=True)
class Timer:
    """A message's self-destruct timer.

    Attributes:
        expires_ts: When it goes (None: waiting for a read receipt).
        after_read_ms: For `org.matrix.self_destruct`, its delay after the first read.
    """

    event_id: EventId
    room_id: RoomId
    stream_ordering: int
    sender: UserId
    expires_ts: int | None
    after_read_ms: int | None = None


class TrackingStore:
    """Reads and writes `event_media`, `event_expiries` and the tracker's positions."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def positions(self) -> dict[str, int]:
        """The tracker's positions (`TRACK` upwards, `TRACK_HISTORY` downwards)."""
        rows = await self._db.fetch_all(
            "SELECT name, value FROM retention_progress WHERE name IN ($1, $2)",
            TRACK,
            TRACK_HISTORY,
        )
        found = {str(r["name"]): int(r["value"]) for r in rows}
        return {name: found.get(name, start) for name, start in _START.items()}

    async def events_after(self, position: int, limit: int) -> list[TrackedEvent]:
        """Up to `limit` events after `position`, in stream order."""
        return await self._events("stream_ordering > $1 ORDER BY stream_ordering", position, limit)

    async def events_below(self, position: int, limit: int) -> list[TrackedEvent]:
        """Up to `limit` backfilled events below `position`, downwards."""
        return await self._events(
            "stream_ordering < $1 AND stream_ordering < 0 ORDER BY stream_ordering DESC",
            position,
            limit,
        )

    async def _events(self, where: str, position: int, limit: int) -> list[TrackedEvent]:
        rows = await self._db.fetch_all(
            "SELECT event_id, room_id, stream_ordering, sender, state_key FROM events"  # noqa: S608
            f" WHERE {where} LIMIT $2",
            position,
            limit,
        )
        return [
            TrackedEvent(
                event_id=EventId(r["event_id"]),
                room_id=RoomId(r["room_id"]),
                stream_ordering=int(r["stream_ordering"]),
                sender=UserId(r["sender"]),
                is_state=r["state_key"] is not None,
            )
            for r in rows
        ]

    async def record(
        self,
        refs: Sequence[tuple[EventId, MediaRef]],
        timers: Sequence[Timer],
        positions: dict[str, int],
    ) -> None:
        """Store a batch's media references and timers with the tracker's new positions."""
        async with self._db.transaction() as conn:
            if refs:
                await conn.execute_many(
                    "INSERT INTO event_media (event_id, server_name, media_id) VALUES ($1, $2, $3)"
                    " ON CONFLICT DO NOTHING",
                    [(event_id, r.server_name, r.media_id) for event_id, r in refs],
                )
            if timers:
                await conn.execute_many(
                    "INSERT INTO event_expiries (event_id, room_id, stream_ordering, sender,"
                    " after_read_ms, expires_ts) VALUES ($1, $2, $3, $4, $5, $6)"
                    " ON CONFLICT (event_id) DO NOTHING",
                    [
                        (
                            t.event_id,
                            t.room_id,
                            t.stream_ordering,
                            t.sender,
                            t.after_read_ms,
                            t.expires_ts,
                        )
                        for t in timers
                    ],
                )
                await _reconcile(conn)
            for name, value in positions.items():
                await conn.execute(
                    "INSERT INTO retention_progress (name, value) VALUES ($1, $2)"
                    " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    name,
                    value,
                )

    async def start_read_timers(
        self, room_id: RoomId, reader: UserId, upto: int, read_ts: int
    ) -> int:
        """Start the unstarted read timers of `room_id`'s messages at or before stream
        position `upto` not sent by `reader`; returns how many started."""
        return await self._db.execute(
            "UPDATE event_expiries SET read_ts = $4,"
            " expires_ts = CASE WHEN expires_ts IS NULL OR expires_ts > $4 + after_read_ms"
            " THEN $4 + after_read_ms ELSE expires_ts END"
            " WHERE room_id = $1 AND stream_ordering <= $3 AND sender <> $2"
            " AND after_read_ms IS NOT NULL AND read_ts IS NULL",
            room_id,
            reader,
            upto,
            read_ts,
        )

    async def reconcile_read_timers(self) -> int:
        """Start unstarted read timers whose receipts are already stored; how many started."""
        async with self._db.transaction() as conn:
            return await _reconcile(conn)

    async def timers(self, event_ids: Sequence[EventId]) -> dict[EventId, int]:
        """`expires_ts` of the events (of those with a started or fixed timer)."""
        found: dict[EventId, int] = {}
        for start in range(0, len(event_ids), 200):
            chunk = list(event_ids[start : start + 200])
            marks = ", ".join(f"${i + 1}" for i in range(len(chunk)))
            rows = await self._db.fetch_all(
                "SELECT event_id, expires_ts FROM event_expiries"  # noqa: S608
                f" WHERE event_id IN ({marks}) AND expires_ts IS NOT NULL",
                *chunk,
            )
            found.update((EventId(r["event_id"]), int(r["expires_ts"])) for r in rows)
        return found

    async def due(self, now_ms: int, limit: int) -> list[Timer]:
        """Timers due at `now_ms` whose events are not purged yet, soonest first."""
        rows = await self._db.fetch_all(
            "SELECT x.event_id, x.room_id, x.stream_ordering, x.sender, x.expires_ts"
            " FROM event_expiries x WHERE x.expires_ts <= $1"
            " AND NOT EXISTS (SELECT 1 FROM purged_events p WHERE p.event_id = x.event_id)"
            " ORDER BY x.expires_ts LIMIT $2",
            now_ms,
            limit,
        )
        return [
            Timer(
                event_id=EventId(r["event_id"]),
                room_id=RoomId(r["room_id"]),
                stream_ordering=int(r["stream_ordering"]),
                sender=UserId(r["sender"]),
                expires_ts=int(r["expires_ts"]),
            )
            for r in rows
        ]

    async def next_due(self) -> int | None:
        """The soonest timer of an event not purged yet (None: none is running)."""
        value = await self._db.fetch_val(
            "SELECT MIN(x.expires_ts) FROM event_expiries x WHERE x.expires_ts IS NOT NULL"
            " AND NOT EXISTS (SELECT 1 FROM purged_events p WHERE p.event_id = x.event_id)"
        )
        return int(value) if value is not None else None


async def _reconcile(conn: Connection) -> int:
    """Start every unstarted read timer covered by a stored read receipt of another user (at
    that receipt's time: the earliest one still known)."""
    rows = await conn.fetch_all(
        "SELECT x.event_id, x.after_read_ms, MIN(r.ts) AS read_ts FROM event_expiries x"  # noqa: S608
        " JOIN receipts r ON r.room_id = x.room_id AND r.event_stream_ordering >= x.stream_ordering"
        f" AND r.user_id <> x.sender AND r.receipt_type IN ({_READ_RECEIPTS})"
        " WHERE x.after_read_ms IS NOT NULL AND x.read_ts IS NULL"
        " GROUP BY x.event_id, x.after_read_ms"
    )
    for row in rows:
        read_ts = int(row["read_ts"])
        await conn.execute(
            "UPDATE event_expiries SET read_ts = $2,"
            " expires_ts = CASE WHEN expires_ts IS NULL OR expires_ts > $2 + after_read_ms"
            " THEN $2 + after_read_ms ELSE expires_ts END WHERE event_id = $1",
            row["event_id"],
            read_ts,
        )
    return len(rows)
