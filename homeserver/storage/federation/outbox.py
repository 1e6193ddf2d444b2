"""The outbound transaction queue (the `federation.ports.OutboundQueue` port) and the position
of the PDU sender on the events stream.

Invariants: queue ids come from the `federation_outbox` stream counter, allocated in the
transaction that writes the rows, so each destination's items are read back in the order they
were queued; the PDUs queued for a batch of events and the sender's new position commit
together (`add_with_position`), so after a crash the batch is either fully queued with the
position past it, or not at all.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from core.errors import JsonDict
from core.identifiers import EventId, RoomId, ServerName, UserId
from federation.ports import EDU, PDU, NewOutbound, QueuedItem
from homeserver.storage.database import Connection, Database
from homeserver.storage.rooms.events import readable_events
from homeserver.storage.sealing import OUTBOX_JSON, Sealer
from homeserver.storage.streams import next_positions

__all__ = ["LocalEvent", "OutboxStore"]

_STREAM = "federation_outbox"
PDU_SENDER = "pdu_sender"


@dataclass(frozen=True, slots=True)
class LocalEvent:
    """An event of the events stream, for the PDU sender."""

    stream_ordering: int
    event_id: EventId
    room_id: RoomId
    sender: UserId
    raw: JsonDict


class OutboxStore:
    """Reads and writes `federation_outbox` and `federation_positions` (queued items sealed
    by `sealer`: they hold events and to-device messages)."""

    def __init__(self, db: Database, sealer: Sealer) -> None:
        self._db = db
        self._sealer = sealer

    async def add(self, items: Sequence[NewOutbound], now_ms: int) -> None:
        """Append `items` to their destinations' queues, in order."""
        if not items:
            return
        async with self._db.transaction() as conn:
            await _insert(conn, self._sealer, items, now_ms)

    async def add_with_position(
        self, items: Sequence[NewOutbound], now_ms: int, name: str, position: int
    ) -> list[int]:
        """Append `items` and set the consumer `name`'s position, in one transaction;
        returns the items' queue ids, in order."""
        async with self._db.transaction() as conn:
            ids = await _insert(conn, self._sealer, items, now_ms)
            await conn.execute(
                "INSERT INTO federation_positions (name, position) VALUES ($1, $2)"
                " ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position",
                name,
                position,
            )
        return ids

    async def position(self, name: str) -> int | None:
        """The stored position of consumer `name`, or None if it never stored one."""
        value = await self._db.fetch_val(
            "SELECT position FROM federation_positions WHERE name = $1", name
        )
        return int(value) if value is not None else None

    async def events_after(self, position: int, limit: int) -> list[LocalEvent]:
        """Up to `limit` events after stream `position`, in stream order."""
        rows = await self._db.fetch_all(
            "SELECT stream_ordering, event_id, room_id, sender, json FROM events"
            " WHERE stream_ordering > $1 ORDER BY stream_ordering LIMIT $2",
            position,
            limit,
        )
        events: list[LocalEvent] = []
        for row, raw in readable_events(rows, self._sealer):
            if not isinstance(raw, dict):
                continue
            events.append(
                LocalEvent(
                    stream_ordering=int(row["stream_ordering"]),
                    event_id=EventId(row["event_id"]),
                    room_id=RoomId(row["room_id"]),
                    sender=UserId(row["sender"]),
                    raw=raw,
                )
            )
        return events

    async def pending(
        self, destination: ServerName, pdu_limit: int, edu_limit: int
    ) -> list[QueuedItem]:
        """The oldest PDUs and EDUs queued for `destination`, in queue order (one read: the
        oldest of each kind, each from the index on `(destination, kind, id)`)."""
        rows = await self._db.fetch_all(
            "SELECT id, kind, json FROM (SELECT id, kind, json FROM federation_outbox"
            " WHERE destination = $1 AND kind = $2 ORDER BY id LIMIT $3) AS pdus"
            " UNION ALL SELECT id, kind, json FROM (SELECT id, kind, json FROM federation_outbox"
            " WHERE destination = $1 AND kind = $4 ORDER BY id LIMIT $5) AS edus"
            " ORDER BY id",
            destination,
            PDU,
            pdu_limit,
            EDU,
            edu_limit,
        )
        return [
            QueuedItem(int(row["id"]), str(row["kind"]), payload)
            for row, payload in self._sealer.readable(rows, OUTBOX_JSON)
            if isinstance(payload, dict)
        ]

    async def queued_pdus(self, room_id: RoomId) -> list[tuple[int, JsonDict]]:
        """`(queue id, PDU)` of every PDU of `room_id` still queued for some destination."""
        rows = await self._db.fetch_all(
            "SELECT id, json FROM federation_outbox WHERE room_id = $1 AND kind = $2 ORDER BY id",
            room_id,
            PDU,
        )
        return [
            (int(row["id"]), payload)
            for row, payload in self._sealer.readable(rows, OUTBOX_JSON)
            if isinstance(payload, dict)
        ]

    async def replace_pdus(self, items: Sequence[tuple[int, JsonDict]]) -> None:
        """Put new JSON in queued PDUs (the redacted form of an event purged meanwhile)."""
        if not items:
            return
        await self._db.execute_many(
            "UPDATE federation_outbox SET json = $2 WHERE id = $1",
            [(item_id, self._sealer.dump(OUTBOX_JSON, (item_id,), pdu)) for item_id, pdu in items],
        )

    async def remove(self, destination: ServerName, ids: Collection[int]) -> None:
        """Delete the items `ids` of `destination`."""
        if not ids:
            return
        await self._db.execute_many(
            "DELETE FROM federation_outbox WHERE destination = $1 AND id = $2",
            [(destination, item_id) for item_id in sorted(ids)],
        )

    async def destinations(self) -> list[ServerName]:
        """Every destination with something queued."""
        rows = await self._db.fetch_all(
            "SELECT DISTINCT destination FROM federation_outbox ORDER BY destination"
        )
        return [ServerName(row["destination"]) for row in rows]

    async def pdu_count(self, destination: ServerName) -> int:
        """How many PDUs are queued for `destination`."""
        value = await self._db.fetch_val(
            "SELECT COUNT(*) FROM federation_outbox WHERE destination = $1 AND kind = $2",
            destination,
            PDU,
        )
        return int(value or 0)

    async def keep_latest_pdus(self, destination: ServerName) -> int:
        """Drop every queued PDU of `destination` but the latest of each room."""
        return await self._db.execute(
            "DELETE FROM federation_outbox WHERE destination = $1 AND kind = $2"
            " AND id NOT IN (SELECT MAX(id) FROM federation_outbox"
            " WHERE destination = $1 AND kind = $2 GROUP BY room_id)",
            destination,
            PDU,
        )


async def _insert(
    conn: Connection, sealer: Sealer, items: Sequence[NewOutbound], now_ms: int
) -> list[int]:
    if not items:
        return []
    last = await next_positions(conn, _STREAM, len(items))
    first = last - len(items) + 1
    await conn.execute_many(
        "INSERT INTO federation_outbox (id, destination, kind, room_id, json, queued_ts)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        [
            (
                first + i,
                item.destination,
                item.kind,
                item.room_id,
                sealer.dump(OUTBOX_JSON, (first + i,), item.payload),
                now_ms,
            )
            for i, item in enumerate(items)
        ],
    )
    return list(range(first, last + 1))
