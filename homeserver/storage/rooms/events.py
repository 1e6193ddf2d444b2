"""Events, room state and memberships.

Persisting an event is one transaction: its stream position, the row, the forward extremities,
its state group, the room's current state and the memberships it changes. So a crash leaves
either the whole event or none of it.

State is kept as state groups: the state *after* each event (see `state_groups`).

Events from other servers come through the same writer with a `RemoteState`: the state before
them is given in full (it follows from state resolution, not from our previous event), the
state entries that become current are listed, and while the room's forward extremities fork
the resolved current state is kept as `rooms.state_group`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from core.errors import JsonDict
from core.event_types import M_ROOM_MEMBER
from core.events import Pdu
from core.identifiers import DeviceId, EventId, RoomId, UserId
from homeserver.storage.database import Connection, Database, Row
from homeserver.storage.json_rows import encode_event
from homeserver.storage.rooms.state_groups import (
    StateIds,
    StateKey,
    state_group_after,
    state_of_group,
    write_snapshot,
)
from homeserver.storage.rooms.summary import record_redaction, record_state
from homeserver.storage.sealing import EVENTS_JSON, OUTLIERS_JSON, Sealer
from homeserver.storage.streams import next_positions

__all__ = [
    "EventStore",
    "PendingEvent",
    "RemoteState",
    "RoomHead",
    "StateIds",
    "StateKey",
    "StoredEvent",
    "TxnKey",
]

EVENTS_STREAM = "events"
_EVENT_COLUMNS = "event_id, room_id, stream_ordering, json, redacted_by"


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as persisted."""

    event_id: EventId
    room_id: RoomId
    stream_ordering: int
    raw: JsonDict
    redacted_by: EventId | None


@dataclass(frozen=True, slots=True)
class RoomHead:
    """Where the next event of a room attaches."""

    room_version: str
    prev_event_ids: list[EventId]
    depth: int
    state_group: int | None


@dataclass(frozen=True, slots=True)
class RemoteState:
    """How an accepted event from another server changes its room.

    Attributes:
        before: The full state before the event.
        changed: The state events that become the room's current state (the event itself
            among them when it wins), in any order.
        current: The room's resolved current state when its forward extremities fork after
            the event; None when the event is the only extremity.
        extremity: False for an event that is no forward extremity (an invite to a room we
            are not in).
        before_group: A stored state group holding exactly `before`, when there is one: the
            event's group then builds on it (a message shares it) instead of a new snapshot.
    """

    before: StateIds
    changed: Sequence[Pdu]
    current: StateIds | None = None
    extremity: bool = True
    before_group: int | None = None


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """An accepted event waiting to be written, with the state group it was built on."""

    pdu: Pdu
    prev_state_group: int | None
    txn: TxnKey | None
    remote: RemoteState | None = None


@dataclass(frozen=True, slots=True)
class TxnKey:
    """The client transaction a sent event answers."""

    user_id: UserId
    device_id: DeviceId
    txn_id: str


class EventStore:
    """Reads and writes events and room state (event JSON sealed by `sealer`)."""

    def __init__(self, db: Database, sealer: Sealer) -> None:
        self._db = db
        self._sealer = sealer

    async def create_room(
        self, room_id: RoomId, room_version: str, creator: UserId, is_public: bool, now_ms: int
    ) -> bool:
        """Register a new room; False if the ID exists."""
        inserted = await self._db.execute(
            "INSERT INTO rooms (room_id, room_version, creator, is_public, created_ts)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (room_id) DO NOTHING",
            room_id,
            room_version,
            creator,
            int(is_public),
            now_ms,
        )
        return inserted > 0

    async def room_version(self, room_id: RoomId) -> str | None:
        """The room's version identifier, or None for an unknown room."""
        value = await self._db.fetch_val(
            "SELECT room_version FROM rooms WHERE room_id = $1", room_id
        )
        return str(value) if value is not None else None

    async def room_head(self, room_id: RoomId) -> RoomHead | None:
        """The forward extremities, next depth and current state group of a room."""
        version = await self.room_version(room_id)
        if version is None:
            return None
        rows = await self._db.fetch_all(
            "SELECT e.event_id, e.depth, e.state_group, e.stream_ordering"
            " FROM forward_extremities f JOIN events e ON e.event_id = f.event_id"
            " WHERE f.room_id = $1 ORDER BY e.stream_ordering",
            room_id,
        )
        if not rows:
            return RoomHead(version, [], 1, None)
        group = rows[-1]["state_group"]
        if len(rows) > 1:
            # Forked: the resolved current state, when a remote event stored it.
            forked = await self._db.fetch_val(
                "SELECT state_group FROM rooms WHERE room_id = $1", room_id
            )
            group = forked if forked is not None else group
        return RoomHead(
            room_version=version,
            prev_event_ids=[EventId(r["event_id"]) for r in rows],
            depth=max(r["depth"] for r in rows) + 1,
            state_group=group,
        )

    async def persist_events(
        self, events: Sequence[PendingEvent], now_ms: int
    ) -> list[tuple[int, int]]:
        """Store a batch of accepted events in one transaction (one disk flush for all).

        Events of one room must appear in the batch in the order they were created.

        Returns:
            Per event, its stream position and the state group after it.
        """
        if not events:
            return []
        results: list[tuple[int, int]] = []
        async with self._db.transaction() as conn:
            first = await next_positions(conn, EVENTS_STREAM, len(events)) - len(events) + 1
            for offset, pending in enumerate(events):
                remote = pending.remote
                before = (
                    remote.before if remote is not None and remote.before_group is None else None
                )
                group = await state_group_after(conn, pending.pdu, pending.prev_state_group, before)
                results.append((first + offset, group))
            # Statements run once per batch, not per event: the writer is the bottleneck.
            await _insert_events(conn, self._sealer, events, results)
            await _update_extremities(
                conn, [p.pdu for p in events if p.remote is None or p.remote.extremity]
            )
            for pending, (stream, _) in zip(events, results, strict=True):
                if pending.remote is not None:
                    await _apply_remote_state(
                        conn, self._sealer, pending.pdu.room_id, pending.remote, stream
                    )
                elif pending.pdu.state_key is not None:
                    await _update_current_state(conn, self._sealer, pending.pdu, stream)
            txn_rows = [
                (p.txn.user_id, p.txn.device_id, p.txn.txn_id, p.pdu.event_id, now_ms)
                for p in events
                if p.txn is not None
            ]
            if txn_rows:
                await conn.execute_many(
                    "INSERT INTO event_txn_ids (user_id, device_id, txn_id, event_id, created_ts)"
                    " VALUES ($1, $2, $3, $4, $5)",
                    txn_rows,
                )
        return results

    async def event_for_txn(self, txn: TxnKey) -> EventId | None:
        """The event a client transaction already produced, if any."""
        value = await self._db.fetch_val(
            "SELECT event_id FROM event_txn_ids"
            " WHERE user_id = $1 AND device_id = $2 AND txn_id = $3",
            txn.user_id,
            txn.device_id,
            txn.txn_id,
        )
        return EventId(str(value)) if value is not None else None

    async def get_events(self, event_ids: Iterable[EventId]) -> dict[EventId, StoredEvent]:
        """Events by ID, from the timeline or else the outliers that are not rejected (an
        outlier has stream position 0); missing ones are absent from the result."""
        ids = list(dict.fromkeys(event_ids))
        found: dict[EventId, StoredEvent] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            placeholders = ", ".join(f"${i + 1}" for i in range(len(chunk)))
            sql = f"SELECT {_EVENT_COLUMNS} FROM events WHERE event_id IN ({placeholders})"  # noqa: S608
            rows = await self._db.fetch_all(sql, *chunk)
            for row, raw in readable_events(rows, self._sealer):
                event = stored_event(row, raw)
                found[event.event_id] = event
        rest = [e for e in ids if e not in found]
        for start in range(0, len(rest), 500):
            chunk = rest[start : start + 500]
            placeholders = ", ".join(f"${i + 1}" for i in range(len(chunk)))
            sql = (
                "SELECT event_id, room_id, 0 AS stream_ordering, json, NULL AS redacted_by"  # noqa: S608
                f" FROM event_outliers WHERE status <> 'rejected' AND event_id IN ({placeholders})"
            )
            outliers = await self._db.fetch_all(sql, *chunk)
            for row, raw in self._sealer.readable(outliers, OUTLIERS_JSON):
                event = stored_event(row, raw)
                found[event.event_id] = event
        return found

    async def current_state_ids(self, room_id: RoomId) -> StateIds:
        """The room's current state as event IDs."""
        rows = await self._db.fetch_all(
            "SELECT event_type, state_key, event_id FROM current_state WHERE room_id = $1",
            room_id,
        )
        return {(r["event_type"], r["state_key"]): EventId(r["event_id"]) for r in rows}

    async def state_ids_for_group(self, group: int | None) -> StateIds:
        """The full state of a state group."""
        if group is None:
            return {}
        return await state_of_group(self._db, group)

    async def state_group_of(self, event_id: EventId) -> int | None:
        """The state group (state after) of an event."""
        value = await self._db.fetch_val(
            "SELECT state_group FROM events WHERE event_id = $1", event_id
        )
        return int(value) if value is not None else None

    async def membership(self, user_id: UserId, room_id: RoomId) -> tuple[str, EventId] | None:
        """`(membership, event_id)` of a user in a room, or None."""
        row = await self._db.fetch_one(
            "SELECT membership, event_id FROM memberships WHERE user_id = $1 AND room_id = $2",
            user_id,
            room_id,
        )
        return (row["membership"], EventId(row["event_id"])) if row else None

    async def rooms_for_user(self, user_id: UserId, memberships: Sequence[str]) -> list[RoomId]:
        """Rooms where the user's membership is one of `memberships`."""
        rows = await self._db.fetch_all(
            "SELECT room_id, membership FROM memberships WHERE user_id = $1", user_id
        )
        return [RoomId(r["room_id"]) for r in rows if r["membership"] in memberships]

    async def room_members(self, room_id: RoomId, membership: str) -> list[UserId]:
        """Users of a room with the given membership."""
        rows = await self._db.fetch_all(
            "SELECT user_id FROM memberships WHERE room_id = $1 AND membership = $2",
            room_id,
            membership,
        )
        return [UserId(r["user_id"]) for r in rows]

    async def forget(self, user_id: UserId, room_id: RoomId) -> None:
        """Hide a left room from the user's sync and room lists."""
        await self._db.execute(
            "UPDATE memberships SET forgotten = 1 WHERE user_id = $1 AND room_id = $2",
            user_id,
            room_id,
        )

    async def mark_redacted(
        self, event_id: EventId, redaction_id: EventId, pruned: JsonDict
    ) -> None:
        """Replace a redacted event's stored JSON with its pruned form (and the room
        summary's field, when it is a current state event)."""
        await self.mark_redacted_many([(event_id, redaction_id, pruned)])

    async def mark_redacted_many(self, items: Sequence[tuple[EventId, EventId, JsonDict]]) -> None:
        """`mark_redacted` for `(event_id, redaction_id, pruned)` items, in one transaction
        (the retention purge's batches)."""
        if not items:
            return
        async with self._db.transaction() as conn:
            for event_id, redaction_id, pruned in items:
                await conn.execute(
                    "UPDATE events SET json = $2, redacted_by = $3 WHERE event_id = $1",
                    event_id,
                    self._sealer.seal(EVENTS_JSON, (event_id,), encode_event(pruned)),
                    redaction_id,
                )
                await record_redaction(conn, self._sealer, event_id, pruned)


def stored_event(row: dict[str, object], raw: JsonDict) -> StoredEvent:
    """A `StoredEvent` from a row of `events` (columns of `get_events`) and its decoded JSON."""
    redacted_by = row["redacted_by"]
    return StoredEvent(
        event_id=EventId(str(row["event_id"])),
        room_id=RoomId(str(row["room_id"])),
        stream_ordering=int(str(row["stream_ordering"])),
        raw=raw,
        redacted_by=EventId(redacted_by) if isinstance(redacted_by, str) else None,
    )


def readable_events(rows: Iterable[Row], sealer: Sealer) -> Iterator[tuple[Row, JsonDict]]:
    """`(row, event JSON)` of each row of `events` (or `event_outliers`: they share the
    sealing scope) that opens and reads back; others are skipped and logged."""
    return sealer.readable(rows, EVENTS_JSON)


async def _insert_events(
    conn: Connection,
    sealer: Sealer,
    events: Sequence[PendingEvent],
    placed: Sequence[tuple[int, int]],
) -> None:
    await conn.execute_many(
        "INSERT INTO events (event_id, room_id, stream_ordering, depth, event_type, state_key,"
        " sender, origin_server_ts, state_group, json) VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
        " $9, $10)",
        [
            (
                p.pdu.event_id,
                p.pdu.room_id,
                stream,
                p.pdu.depth,
                p.pdu.type,
                p.pdu.state_key,
                p.pdu.sender,
                p.pdu.origin_server_ts,
                group,
                sealer.seal(EVENTS_JSON, (p.pdu.event_id,), encode_event(p.pdu.raw)),
            )
            for p, (stream, group) in zip(events, placed, strict=True)
        ],
    )


async def _update_extremities(conn: Connection, pdus: Sequence[Pdu]) -> None:
    """Each new event replaces its prev events as a forward extremity of its room."""
    replaced = [(pdu.room_id, prev) for pdu in pdus for prev in pdu.prev_event_ids]
    if replaced:
        await conn.execute_many(
            "DELETE FROM forward_extremities WHERE room_id = $1 AND event_id = $2", replaced
        )
    # An event that a later event of the same batch builds on is no extremity.
    superseded = {prev for _, prev in replaced}
    await conn.execute_many(
        "INSERT INTO forward_extremities (room_id, event_id) VALUES ($1, $2)",
        [(pdu.room_id, pdu.event_id) for pdu in pdus if pdu.event_id not in superseded],
    )


async def _update_current_state(conn: Connection, sealer: Sealer, pdu: Pdu, stream: int) -> None:
    await conn.execute(
        "INSERT INTO current_state (room_id, event_type, state_key, event_id)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (room_id, event_type, state_key)"
        " DO UPDATE SET event_id = excluded.event_id",
        pdu.room_id,
        pdu.type,
        pdu.state_key,
        pdu.event_id,
    )
    await record_state(conn, sealer, pdu.room_id, pdu.type, pdu.state_key, pdu.content)
    if pdu.type == M_ROOM_MEMBER and pdu.membership is not None:
        await conn.execute(
            "INSERT INTO memberships (user_id, room_id, membership, event_id, stream_ordering)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, room_id) DO UPDATE SET"
            " membership = excluded.membership, event_id = excluded.event_id,"
            " stream_ordering = excluded.stream_ordering, forgotten = 0",
            pdu.state_key,
            pdu.room_id,
            pdu.membership,
            pdu.event_id,
            stream,
        )


async def _apply_remote_state(
    conn: Connection, sealer: Sealer, room_id: RoomId, remote: RemoteState, stream: int
) -> None:
    """Make a remote event's state changes current; keep the resolved state of a fork."""
    for changed in remote.changed:
        await _update_current_state(conn, sealer, changed, stream)
    if remote.current is not None:
        group: int | None = await write_snapshot(conn, room_id, remote.current)
    elif remote.extremity:
        group = None
    else:
        return
    await conn.execute("UPDATE rooms SET state_group = $2 WHERE room_id = $1", room_id, group)
