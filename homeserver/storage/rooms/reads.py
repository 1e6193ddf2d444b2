"""Read-side queries of the room read paths: event pages in stream order, state lookups by
state group, and a user's membership history.

Nothing here writes. State groups are immutable once written (`storage/events.py` keeps the
state *after* each event as a chain of deltas ending in a snapshot), so callers may cache what
`resolve_state` returns for a group forever.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import TypeVar

from core.errors import JsonDict
from core.event_types import M_ROOM_MEMBER, Membership
from core.identifiers import EventId, RoomId, UserId
from homeserver.storage.database import Database, Row
from homeserver.storage.rooms.events import EVENTS_STREAM, StateKey, readable_events
from homeserver.storage.sealing import Sealer
from homeserver.storage.streams import current_position

_COLUMNS = "event_id, room_id, stream_ordering, state_group, json, redacted_by"
_CHUNK = 200
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class RoomEvent:
    """An event row with where it sits in the stream and the state after it."""

    event_id: EventId
    room_id: RoomId
    stream_ordering: int
    state_group: int
    raw: JsonDict
    redacted_by: EventId | None


@dataclass(frozen=True, slots=True)
class EventPosition:
    """Where an event sits: its stream position and the state group after it."""

    stream_ordering: int
    state_group: int


@dataclass(frozen=True, slots=True)
class MembershipRecord:
    """A user's membership in the room's current state."""

    membership: str
    event_id: EventId
    stream_ordering: int
    forgotten: bool


class RoomReadStore:
    """Queries behind `/messages`, `/context`, `/event`, `/state`, `/members` and visibility."""

    def __init__(self, db: Database, sealer: Sealer) -> None:
        self._db = db
        self._sealer = sealer

    async def room_version(self, room_id: RoomId) -> str | None:
        """The room's version identifier, or None for an unknown room."""
        value = await self._db.fetch_val(
            "SELECT room_version FROM rooms WHERE room_id = $1", room_id
        )
        return str(value) if value is not None else None

    async def latest_position(self) -> int:
        """The highest event stream position handed out."""
        return await current_position(self._db, EVENTS_STREAM)

    async def room_events(
        self, room_id: RoomId, after: int, upto: int, limit: int, newest_first: bool
    ) -> list[RoomEvent]:
        """Up to `limit` events of a room with `after < stream_ordering <= upto`.

        Args:
            newest_first: Descending stream order (backwards pagination) if True.
        """
        order = "DESC" if newest_first else "ASC"
        rows = await self._db.fetch_all(
            f"SELECT {_COLUMNS} FROM events WHERE room_id = $1"  # noqa: S608
            " AND stream_ordering > $2 AND stream_ordering <= $3"
            f" ORDER BY stream_ordering {order} LIMIT $4",
            room_id,
            after,
            upto,
            limit,
        )
        return [_room_event(r, raw) for r, raw in readable_events(rows, self._sealer)]

    async def events_by_id(self, event_ids: Iterable[EventId]) -> dict[EventId, RoomEvent]:
        """Events by ID, with positions (missing ones are absent). State that a join over
        federation brought is held outside the timeline: it reads with position 0."""
        found: dict[EventId, RoomEvent] = {}
        for chunk in _chunks(list(dict.fromkeys(event_ids))):
            marks = _marks(len(chunk))
            rows = await self._db.fetch_all(
                f"SELECT {_COLUMNS} FROM events WHERE event_id IN ({marks})"  # noqa: S608
                " UNION ALL SELECT event_id, room_id, 0, COALESCE(state_group, 0), json, NULL"
                f" FROM event_outliers WHERE status = 'outlier' AND event_id IN ({marks})",
                *chunk,
            )
            readable = readable_events(rows, self._sealer)
            found.update((e.event_id, e) for e in (_room_event(r, raw) for r, raw in readable))
        return found

    async def positions(self, event_ids: Iterable[EventId]) -> dict[EventId, EventPosition]:
        """Stream positions and state groups of events (missing ones are absent)."""
        found: dict[EventId, EventPosition] = {}
        for chunk in _chunks(list(dict.fromkeys(event_ids))):
            marks = _marks(len(chunk))
            rows = await self._db.fetch_all(
                "SELECT event_id, stream_ordering, state_group FROM events"  # noqa: S608
                f" WHERE event_id IN ({marks})",
                *chunk,
            )
            for r in rows:
                found[EventId(r["event_id"])] = EventPosition(
                    int(r["stream_ordering"]), int(r["state_group"])
                )
        return found

    async def group_at(self, room_id: RoomId, position: int) -> int | None:
        """The state group after the room's last event at or before `position`."""
        value = await self._db.fetch_val(
            "SELECT state_group FROM events WHERE room_id = $1 AND stream_ordering <= $2"
            " ORDER BY stream_ordering DESC LIMIT 1",
            room_id,
            position,
        )
        return int(value) if value is not None else None

    async def resolve_state(
        self, groups: Collection[int], keys: Collection[StateKey]
    ) -> dict[int, dict[StateKey, EventId]]:
        """The event IDs of some state keys in some state groups.

        One recursive query per chunk of groups walks every chain of deltas at once; the entry
        nearest each starting group wins.

        Returns:
            For every group asked, the keys it holds (absent keys are absent).
        """
        result: dict[int, dict[StateKey, EventId]] = {g: {} for g in groups}
        if not keys:
            return result
        for chunk in _chunks(sorted(result)):
            sql, args = _resolve_sql(chunk, keys)
            best: dict[tuple[int, StateKey], int] = {}
            for r in await self._db.fetch_all(sql, *args):
                start, depth = int(r["start_group"]), int(r["depth"])
                key = (str(r["event_type"]), str(r["state_key"]))
                if best.get((start, key), depth + 1) > depth:
                    best[(start, key)] = depth
                    result[start][key] = EventId(str(r["event_id"]))
        return result

    async def membership(self, user_id: UserId, room_id: RoomId) -> MembershipRecord | None:
        """The user's membership in the room's current state, or None if they never had one."""
        row = await self._db.fetch_one(
            "SELECT membership, event_id, stream_ordering, forgotten FROM memberships"
            " WHERE user_id = $1 AND room_id = $2",
            user_id,
            room_id,
        )
        if row is None:
            return None
        return MembershipRecord(
            membership=str(row["membership"]),
            event_id=EventId(str(row["event_id"])),
            stream_ordering=int(row["stream_ordering"]),
            forgotten=bool(row["forgotten"]),
        )

    async def membership_history(self, room_id: RoomId, user_id: UserId) -> list[tuple[int, str]]:
        """`(stream_ordering, membership)` of every membership event of a user in a room,
        oldest first."""
        rows = await self._db.fetch_all(
            "SELECT event_id, stream_ordering, json FROM events"
            " WHERE state_key = $1 AND event_type = $2 AND room_id = $3"
            " ORDER BY stream_ordering",
            user_id,
            M_ROOM_MEMBER,
            room_id,
        )
        history: list[tuple[int, str]] = []
        for r, raw in readable_events(rows, self._sealer):
            content = raw.get("content")
            membership = content.get("membership") if isinstance(content, dict) else None
            history.append((int(r["stream_ordering"]), str(membership or Membership.LEAVE)))
        return history


def _resolve_sql(groups: list[int], keys: Collection[StateKey]) -> tuple[str, list[object]]:
    args: list[object] = list(groups)
    by_type: dict[str, list[str]] = {}
    for event_type, state_key in keys:
        by_type.setdefault(event_type, []).append(state_key)
    conditions = []
    for event_type, state_keys in by_type.items():
        args.append(event_type)
        type_mark = f"${len(args)}"
        first = len(args) + 1
        args.extend(state_keys)
        key_marks = ", ".join(f"${i}" for i in range(first, len(args) + 1))
        conditions.append(f"(e.event_type = {type_mark} AND e.state_key IN ({key_marks}))")
    sql = (
        "WITH RECURSIVE chain (start_group, group_id, depth) AS ("  # noqa: S608
        f" SELECT group_id, group_id, 0 FROM state_groups WHERE group_id IN ({_marks(len(groups))})"
        " UNION ALL SELECT c.start_group, s.prev_group, c.depth + 1 FROM chain c"
        " JOIN state_groups s ON s.group_id = c.group_id WHERE s.prev_group IS NOT NULL)"
        " SELECT c.start_group, c.depth, e.event_type, e.state_key, e.event_id FROM chain c"
        " JOIN state_group_entries e ON e.group_id = c.group_id"
        f" WHERE {' OR '.join(conditions)}"
    )
    return sql, args


def _room_event(row: Row, raw: JsonDict) -> RoomEvent:
    redacted_by = row["redacted_by"]
    return RoomEvent(
        event_id=EventId(str(row["event_id"])),
        room_id=RoomId(str(row["room_id"])),
        stream_ordering=int(row["stream_ordering"]),
        state_group=int(row["state_group"]),
        raw=raw,
        redacted_by=EventId(redacted_by) if isinstance(redacted_by, str) else None,
    )


def _marks(count: int, first: int = 1) -> str:
    return ", ".join(f"${i}" for i in range(first, first + count))


def _chunks(items: list[_T]) -> Iterable[list[_T]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
