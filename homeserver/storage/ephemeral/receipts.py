"""Read receipts: the latest receipt of each user per room, receipt type and thread.

Every stored change takes the next position on the `receipts` stream in the same transaction,
so a reader that asks for `(since, until]` with `until` read from the counter sees every change
exactly once. A receipt only moves forward: one for an event earlier in the room's stream than
the stored one is ignored (as Synapse does), so a slow client cannot drag a marker back.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from core.identifiers import EventId, RoomId, UserId
from homeserver.storage.database import Database, Row
from homeserver.storage.streams import current_position, next_position

RECEIPTS_STREAM = "receipts"
UNTHREADED = ""
_COLUMNS = "room_id, receipt_type, user_id, thread_id, event_id, ts, stream_id"
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Receipt:
    """One stored receipt; `thread_id` is None for an unthreaded one."""

    room_id: RoomId
    receipt_type: str
    user_id: UserId
    thread_id: str | None
    event_id: EventId
    ts: int
    stream_id: int


@dataclass(frozen=True, slots=True)
class NewReceipt:
    """A receipt to store, with the stream ordering of the event it points at."""

    room_id: RoomId
    receipt_type: str
    user_id: UserId
    thread_id: str | None
    event_id: EventId
    event_stream_ordering: int
    ts: int


class ReceiptStore:
    """Reads and writes `receipts`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def put(self, receipt: NewReceipt) -> int | None:
        """Store a receipt unless an equal or later one exists; returns its stream position."""
        thread = receipt.thread_id if receipt.thread_id is not None else UNTHREADED
        key = (receipt.room_id, receipt.receipt_type, receipt.user_id, thread)
        async with self._db.transaction() as conn:
            existing = await conn.fetch_val(
                "SELECT event_stream_ordering FROM receipts WHERE room_id = $1"
                " AND receipt_type = $2 AND user_id = $3 AND thread_id = $4",
                *key,
            )
            if existing is not None and int(existing) >= receipt.event_stream_ordering:
                return None
            position = await next_position(conn, RECEIPTS_STREAM)
            await conn.execute(
                "INSERT INTO receipts (room_id, receipt_type, user_id, thread_id, event_id,"
                " event_stream_ordering, ts, stream_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                " ON CONFLICT (room_id, receipt_type, user_id, thread_id) DO UPDATE SET"
                " event_id = excluded.event_id,"
                " event_stream_ordering = excluded.event_stream_ordering,"
                " ts = excluded.ts, stream_id = excluded.stream_id",
                *key,
                receipt.event_id,
                receipt.event_stream_ordering,
                receipt.ts,
                position,
            )
        return position

    async def current_position(self) -> int:
        """The latest position of the receipts stream."""
        return await current_position(self._db, RECEIPTS_STREAM)

    async def changed_between(
        self, room_ids: Collection[RoomId], since: int, until: int
    ) -> list[Receipt]:
        """Receipts in `room_ids` whose stream position is in `(since, until]`.

        With `since == 0` this is every stored receipt of those rooms up to `until`.
        """
        rooms = set(room_ids)
        if not rooms:
            return []
        if since > 0:
            # Incremental: the stream range is small; filter the rooms here.
            rows = await self._db.fetch_all(
                f"SELECT {_COLUMNS} FROM receipts WHERE stream_id > $1 AND stream_id <= $2"  # noqa: S608
                " ORDER BY stream_id",
                since,
                until,
            )
            return [_receipt(r) for r in rows if r["room_id"] in rooms]
        found: list[Receipt] = []
        ordered = sorted(rooms)
        for start in range(0, len(ordered), _CHUNK):
            chunk = ordered[start : start + _CHUNK]
            placeholders = ", ".join(f"${i + 2}" for i in range(len(chunk)))
            rows = await self._db.fetch_all(
                f"SELECT {_COLUMNS} FROM receipts WHERE stream_id <= $1"  # noqa: S608
                f" AND room_id IN ({placeholders}) ORDER BY stream_id",
                until,
                *chunk,
            )
            found.extend(_receipt(r) for r in rows)
        return found


def _receipt(row: Row) -> Receipt:
    thread = str(row["thread_id"])
    return Receipt(
        room_id=RoomId(str(row["room_id"])),
        receipt_type=str(row["receipt_type"]),
        user_id=UserId(str(row["user_id"])),
        thread_id=thread if thread != UNTHREADED else None,
        event_id=EventId(str(row["event_id"])),
        ts=int(row["ts"]),
        stream_id=int(row["stream_id"]),
    )
