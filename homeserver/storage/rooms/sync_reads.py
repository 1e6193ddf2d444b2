"""Queries `/sync` needs: events of a room in a stream range, the state group at a position,
membership changes of a user, and stored filters."""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import JsonDict
from core.identifiers import EventId, RoomId, UserId
from homeserver.storage.database import Database
from homeserver.storage.json_rows import dump_json, load_json
from homeserver.storage.rooms.events import StoredEvent, readable_events, stored_event
from homeserver.storage.sealing import EVENTS_JSON, Sealer
from homeserver.storage.streams import current_position

_COLUMNS = "event_id, room_id, stream_ordering, json, redacted_by"
_FIRST_SAME = "SELECT MIN(filter_id) FROM user_filters WHERE user_id = $1 AND filter_json = $2"
# Rounds of a filter upload racing others of the same user; each round one racer wins.
_FILTER_ATTEMPTS = 100


@dataclass(frozen=True, slots=True)
class MembershipRow:
    """A user's latest membership in one room."""

    room_id: RoomId
    membership: str
    event_id: EventId
    stream_ordering: int
    forgotten: bool


class SyncStore:
    """Read-side queries of `/sync`, plus the filter table."""

    def __init__(self, db: Database, sealer: Sealer) -> None:
        self._db = db
        self._sealer = sealer

    async def events_position(self) -> int:
        """The highest committed event stream position."""
        return await current_position(self._db, "events")

    async def account_data_position(self) -> int:
        """The highest account data stream position."""
        return await current_position(self._db, "account_data")

    async def room_events(
        self, room_id: RoomId, after: int, upto: int, limit: int
    ) -> tuple[list[StoredEvent], bool]:
        """The newest `limit` events with `after < stream <= upto`, oldest first.

        Returns:
            The events and whether more events in the range were left out.
        """
        rows = await self._db.fetch_all(
            f"SELECT {_COLUMNS} FROM events WHERE room_id = $1"  # noqa: S608
            " AND stream_ordering > $2 AND stream_ordering <= $3"
            " ORDER BY stream_ordering DESC LIMIT $4",
            room_id,
            after,
            upto,
            limit + 1,
        )
        limited = len(rows) > limit
        readable = readable_events(reversed(rows[:limit]), self._sealer)
        events = [stored_event(r, raw) for r, raw in readable]
        return events, limited

    async def state_group_at(self, room_id: RoomId, position: int) -> int | None:
        """The state group after the room's last event at or before `position`."""
        value = await self._db.fetch_val(
            "SELECT state_group FROM events WHERE room_id = $1 AND stream_ordering <= $2"
            " ORDER BY stream_ordering DESC LIMIT 1",
            room_id,
            position,
        )
        return int(value) if value is not None else None

    async def memberships_of(self, user_id: UserId) -> list[MembershipRow]:
        """Every room the user has a membership in, with the latest one."""
        rows = await self._db.fetch_all(
            "SELECT room_id, membership, event_id, stream_ordering, forgotten"
            " FROM memberships WHERE user_id = $1",
            user_id,
        )
        return [
            MembershipRow(
                room_id=RoomId(r["room_id"]),
                membership=r["membership"],
                event_id=EventId(r["event_id"]),
                stream_ordering=r["stream_ordering"],
                forgotten=bool(r["forgotten"]),
            )
            for r in rows
        ]

    async def membership_at(self, user_id: UserId, room_id: RoomId, position: int) -> str | None:
        """The user's membership in a room as of stream `position`."""
        row = await self._db.fetch_one(
            "SELECT event_id, json FROM events WHERE state_key = $1"
            " AND event_type = 'm.room.member' AND room_id = $2 AND stream_ordering <= $3"
            " ORDER BY stream_ordering DESC LIMIT 1",
            user_id,
            room_id,
            position,
        )
        if row is None:
            return None
        raw = self._sealer.load(EVENTS_JSON, (row["event_id"],), row["json"])
        content = raw.get("content") if isinstance(raw, dict) else None
        membership = content.get("membership") if isinstance(content, dict) else None
        return membership if isinstance(membership, str) else None

    async def add_filter(self, user_id: UserId, definition: JsonDict) -> int:
        """Store a filter; returns its ID (per user, counting from 0).

        A definition the user already stored gets its existing ID back, as clients upload the
        same filter at every start. Concurrent uploads are safe on both backends: an insert that
        loses the race for the next ID inserts nothing and is retried, and each round lets at
        least one of the racers through.
        """
        text = dump_json(definition, sort_keys=True)
        for _ in range(_FILTER_ATTEMPTS):
            async with self._db.transaction() as conn:
                existing = await conn.fetch_val(_FIRST_SAME, user_id, text)
                if existing is not None:
                    return int(existing)
                highest = await conn.fetch_val(
                    "SELECT MAX(filter_id) FROM user_filters WHERE user_id = $1", user_id
                )
                filter_id = 0 if highest is None else int(highest) + 1
                inserted = await conn.execute(
                    "INSERT INTO user_filters (user_id, filter_id, filter_json)"
                    " VALUES ($1, $2, $3) ON CONFLICT (user_id, filter_id) DO NOTHING",
                    user_id,
                    filter_id,
                    text,
                )
                if inserted:
                    # A racer with the same definition may have committed between the look-up
                    # and the ID read above (each statement sees the latest commits): the
                    # lowest ID wins and our copy goes.
                    first = int(await conn.fetch_val(_FIRST_SAME, user_id, text))
                    if first != filter_id:
                        await conn.execute(
                            "DELETE FROM user_filters WHERE user_id = $1 AND filter_id = $2",
                            user_id,
                            filter_id,
                        )
                    return first
        raise RuntimeError(f"no free filter ID after {_FILTER_ATTEMPTS} attempts")

    async def get_filter(self, user_id: UserId, filter_id: int) -> JsonDict | None:
        """A stored filter, or None."""
        value = await self._db.fetch_val(
            "SELECT filter_json FROM user_filters WHERE user_id = $1 AND filter_id = $2",
            user_id,
            filter_id,
        )
        definition = load_json(value, table="user_filters", key=f"{user_id}/{filter_id}")
        return definition if isinstance(definition, dict) else None
