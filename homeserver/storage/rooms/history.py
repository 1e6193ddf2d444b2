"""Room history from before this server joined: events placed under the timeline, and the
queries that find where our history ends and which event is nearest a time.

Backfilled events take *negative* stream orderings from their own counter (`backfill`): each
batch is placed below every event already stored, its oldest event lowest. So pages of
`/messages` going backwards run on into them, while every consumer that follows the events
stream from a position (`/sync`, the outbound feed, unread counts) never sees them, and room
state, memberships and forward extremities are left alone: history never changes the present.

Invariants: a backfilled event goes in at most once (`ON CONFLICT` on the event ID, for two
processes racing); it leaves `event_outliers` when it joins the timeline, so one ID reads as
one event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from core.errors import JsonDict
from core.events import Pdu
from core.identifiers import EventId, RoomId
from homeserver.storage.database import Connection, Database
from homeserver.storage.json_rows import encode_event
from homeserver.storage.rooms.events import readable_events
from homeserver.storage.rooms.state_groups import StateIds, state_group_after
from homeserver.storage.sealing import EVENTS_JSON, Sealer
from homeserver.storage.streams import next_positions

__all__ = ["BACKFILL_STREAM", "HistoryEvent", "HistoryStore", "NearEvent"]

BACKFILL_STREAM: Final = "backfill"

_INSERT: Final = (
    "INSERT INTO events (event_id, room_id, stream_ordering, depth, event_type, state_key,"
    " sender, origin_server_ts, state_group, json) VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
    " $9, $10) ON CONFLICT (event_id) DO NOTHING"
)


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """A checked event from before our history, with the state before it.

    Attributes:
        pdu: The event.
        before: The full state before it.
        base: An event whose state after is exactly `before` (its single prev event, when
            that is placed), so the state is stored as a delta instead of a snapshot.
    """

    pdu: Pdu
    before: StateIds
    base: EventId | None = None


@dataclass(frozen=True, slots=True)
class NearEvent:
    """An event found by its timestamp."""

    event_id: EventId
    origin_server_ts: int
    stream_ordering: int


class HistoryStore:
    """Reads the edge of a room's history and writes events below it."""

    def __init__(self, db: Database, sealer: Sealer) -> None:
        self._db = db
        self._sealer = sealer

    async def oldest_events(self, room_id: RoomId, limit: int) -> list[JsonDict]:
        """The room's `limit` lowest events in the timeline, lowest first."""
        rows = await self._db.fetch_all(
            "SELECT event_id, json FROM events WHERE room_id = $1"
            " ORDER BY stream_ordering LIMIT $2",
            room_id,
            limit,
        )
        return [raw for _, raw in readable_events(rows, self._sealer)]

    async def place(self, events: Sequence[HistoryEvent]) -> int:
        """Put `events` (oldest first) into the timeline below everything stored, in one
        transaction; returns how many were new."""
        if not events:
            return 0
        placed = 0
        async with self._db.transaction() as conn:
            last = await next_positions(conn, BACKFILL_STREAM, len(events))
            groups: dict[EventId, int] = {}
            for index, item in enumerate(events):
                group = await _group_after(conn, item, groups)
                groups[item.pdu.event_id] = group
                pdu = item.pdu
                placed += await conn.execute(
                    _INSERT,
                    pdu.event_id,
                    pdu.room_id,
                    -(last - index),
                    pdu.depth,
                    pdu.type,
                    pdu.state_key,
                    pdu.sender,
                    pdu.origin_server_ts,
                    group,
                    self._sealer.seal(EVENTS_JSON, (pdu.event_id,), encode_event(pdu.raw)),
                )
                await conn.execute(
                    "DELETE FROM event_outliers WHERE event_id = $1 AND status = 'outlier'",
                    pdu.event_id,
                )
        return placed

    async def nearest(
        self, room_id: RoomId, ts: int, forwards: bool, upto: int | None = None
    ) -> NearEvent | None:
        """The room's timeline event nearest `ts`: the first at or after it (`forwards`) or
        the last at or before it, among events with stream ordering <= `upto` if given."""
        compare, order = (">=", "ASC") if forwards else ("<=", "DESC")
        rows = await self._db.fetch_all(
            "SELECT event_id, origin_server_ts, stream_ordering FROM events"  # noqa: S608
            f" WHERE room_id = $1 AND origin_server_ts {compare} $2 AND stream_ordering <= $3"
            f" ORDER BY origin_server_ts {order}, stream_ordering {order} LIMIT 1",
            room_id,
            ts,
            upto if upto is not None else 2**62,
        )
        if not rows:
            return None
        row = rows[0]
        return NearEvent(
            EventId(str(row["event_id"])),
            int(row["origin_server_ts"]),
            int(row["stream_ordering"]),
        )


async def _group_after(conn: Connection, item: HistoryEvent, groups: dict[EventId, int]) -> int:
    """The state group after a backfilled event: a delta on its base's group when it has one
    stored, else a snapshot."""
    base_group: int | None = None
    if item.base is not None:
        base_group = groups.get(item.base)
        if base_group is None:
            value = await conn.fetch_val(
                "SELECT state_group FROM events WHERE event_id = $1", item.base
            )
            base_group = int(value) if value is not None else None
    if base_group is not None:
        return await state_group_after(conn, item.pdu, base_group)
    return await state_group_after(conn, item.pdu, None, item.before)
