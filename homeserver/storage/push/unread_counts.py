"""Unread notification counts: the events that notified each user, per room, until read.

A batch of push rule results and the progress marker that says which events it covers commit
in one transaction, so after a crash the work resumes exactly where it stopped. A read (a
receipt, or the user's own event) sets `read_upto` and deletes the notifications at or before
it; notifications for events at or before `read_upto` are never stored, so a receipt that
overtakes the evaluation of older events still wins. The counters are always the count of the
user's stored notifications in the room.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.errors import JsonDict
from core.identifiers import RoomId, UserId
from homeserver.storage.database import Connection, Database
from homeserver.storage.rooms.events import readable_events
from homeserver.storage.sealing import Sealer

_PROGRESS = "push"
Pair = tuple[UserId, RoomId]


@dataclass(frozen=True, slots=True)
class PushEvent:
    """An event to evaluate push rules for."""

    stream_ordering: int
    room_id: RoomId
    sender: UserId
    state_group: int
    raw: JsonDict


@dataclass(frozen=True, slots=True)
class Notification:
    """An event that notified a user."""

    user_id: UserId
    room_id: RoomId
    stream_ordering: int
    highlight: bool


@dataclass(frozen=True, slots=True)
class ReadMark:
    """A user has read a room up to and including a stream ordering."""

    user_id: UserId
    room_id: RoomId
    stream_ordering: int


class NotificationStore:
    """Reads and writes `notification_actions`, `notification_counts` and the progress."""

    def __init__(self, db: Database, sealer: Sealer) -> None:
        self._db = db
        self._sealer = sealer

    async def progress(self) -> int:
        """The events stream position up to which push rules have been evaluated."""
        value = await self._db.fetch_val(
            "SELECT position FROM notification_progress WHERE name = $1", _PROGRESS
        )
        return int(value or 0)

    async def events_after(self, position: int, limit: int) -> list[PushEvent]:
        """Up to `limit` events after stream `position`, in stream order."""
        rows = await self._db.fetch_all(
            "SELECT event_id, stream_ordering, room_id, sender, state_group, json FROM events"
            " WHERE stream_ordering > $1 ORDER BY stream_ordering LIMIT $2",
            position,
            limit,
        )
        return [
            PushEvent(
                stream_ordering=int(r["stream_ordering"]),
                room_id=RoomId(r["room_id"]),
                sender=UserId(r["sender"]),
                state_group=int(r["state_group"]),
                raw=raw,
            )
            for r, raw in readable_events(rows, self._sealer)
        ]

    async def apply_batch(
        self, notifications: Sequence[Notification], reads: Sequence[ReadMark], upto: int
    ) -> set[Pair]:
        """Store a batch's reads and notifications and move the progress to `upto`.

        Reads apply first, so a user's own later event clears what came before it.

        Returns:
            The `(user_id, room_id)` pairs whose counts changed.
        """
        changed: set[Pair] = set()
        async with self._db.transaction() as conn:
            for read in _latest(reads):
                if await _mark_read(conn, read):
                    changed.add((read.user_id, read.room_id))
            changed |= await _add_notifications(conn, notifications)
            await conn.execute(
                "INSERT INTO notification_progress (name, position) VALUES ($1, $2)"
                " ON CONFLICT (name) DO UPDATE SET position = excluded.position",
                _PROGRESS,
                upto,
            )
        return changed

    async def mark_read(self, read: ReadMark) -> bool:
        """Clear the user's notifications in the room up to the mark; True if counts changed."""
        async with self._db.transaction() as conn:
            return await _mark_read(conn, read)

    async def rooms_notified_between(self, user_id: UserId, after: int, upto: int) -> set[RoomId]:
        """Rooms where events in (after, upto] notified the user (still unread)."""
        rows = await self._db.fetch_all(
            "SELECT DISTINCT room_id FROM notification_actions"
            " WHERE user_id = $1 AND stream_ordering > $2 AND stream_ordering <= $3",
            user_id,
            after,
            upto,
        )
        return {RoomId(r["room_id"]) for r in rows}

    async def counts(self, user_id: UserId) -> dict[RoomId, tuple[int, int]]:
        """`room_id -> (notification_count, highlight_count)` of rooms with unread ones."""
        rows = await self._db.fetch_all(
            "SELECT room_id, notification_count, highlight_count FROM notification_counts"
            " WHERE user_id = $1 AND notification_count > 0",
            user_id,
        )
        return {
            RoomId(r["room_id"]): (int(r["notification_count"]), int(r["highlight_count"]))
            for r in rows
        }


def _latest(reads: Iterable[ReadMark]) -> list[ReadMark]:
    latest: dict[Pair, ReadMark] = {}
    for read in reads:
        pair = (read.user_id, read.room_id)
        if pair not in latest or latest[pair].stream_ordering < read.stream_ordering:
            latest[pair] = read
    return list(latest.values())


async def _mark_read(conn: Connection, read: ReadMark) -> bool:
    row = await conn.fetch_one(
        "SELECT notification_count, highlight_count, read_upto FROM notification_counts"
        " WHERE user_id = $1 AND room_id = $2",
        read.user_id,
        read.room_id,
    )
    if row is None:
        await conn.execute(
            "INSERT INTO notification_counts"
            " (user_id, room_id, notification_count, highlight_count, read_upto)"
            " VALUES ($1, $2, 0, 0, $3)",
            read.user_id,
            read.room_id,
            read.stream_ordering,
        )
        return False
    if int(row["read_upto"]) >= read.stream_ordering:
        return False
    if int(row["notification_count"]) == 0:
        # Nothing unread (the common case of a user's own message): only move the mark.
        await conn.execute(
            "UPDATE notification_counts SET read_upto = $3 WHERE user_id = $1 AND room_id = $2",
            read.user_id,
            read.room_id,
            read.stream_ordering,
        )
        return False
    await conn.execute(
        "DELETE FROM notification_actions"
        " WHERE user_id = $1 AND room_id = $2 AND stream_ordering <= $3",
        read.user_id,
        read.room_id,
        read.stream_ordering,
    )
    totals = await conn.fetch_one(
        "SELECT COUNT(*) AS notifications, COALESCE(SUM(highlight), 0) AS highlights"
        " FROM notification_actions WHERE user_id = $1 AND room_id = $2",
        read.user_id,
        read.room_id,
    )
    notifications = int(totals["notifications"]) if totals else 0
    highlights = int(totals["highlights"]) if totals else 0
    await conn.execute(
        "UPDATE notification_counts SET notification_count = $3, highlight_count = $4,"
        " read_upto = $5 WHERE user_id = $1 AND room_id = $2",
        read.user_id,
        read.room_id,
        notifications,
        highlights,
        read.stream_ordering,
    )
    return (notifications, highlights) != (
        int(row["notification_count"]),
        int(row["highlight_count"]),
    )


async def _add_notifications(conn: Connection, notifications: Sequence[Notification]) -> set[Pair]:
    read_upto: dict[Pair, int] = {}
    for room_id in {n.room_id for n in notifications}:
        rows = await conn.fetch_all(
            "SELECT user_id, read_upto FROM notification_counts WHERE room_id = $1", room_id
        )
        read_upto.update({(UserId(r["user_id"]), room_id): int(r["read_upto"]) for r in rows})
    fresh = [
        n for n in notifications if n.stream_ordering > read_upto.get((n.user_id, n.room_id), 0)
    ]
    if not fresh:
        return set()
    await conn.execute_many(
        "INSERT INTO notification_actions (user_id, room_id, stream_ordering, highlight)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, room_id, stream_ordering) DO NOTHING",
        [(n.user_id, n.room_id, n.stream_ordering, int(n.highlight)) for n in fresh],
    )
    deltas: dict[Pair, list[int]] = {}
    for n in fresh:
        delta = deltas.setdefault((n.user_id, n.room_id), [0, 0])
        delta[0] += 1
        delta[1] += int(n.highlight)
    await conn.execute_many(
        "INSERT INTO notification_counts"
        " (user_id, room_id, notification_count, highlight_count, read_upto)"
        " VALUES ($1, $2, $3, $4, 0) ON CONFLICT (user_id, room_id) DO UPDATE SET"
        " notification_count = notification_counts.notification_count"
        " + excluded.notification_count,"
        " highlight_count = notification_counts.highlight_count + excluded.highlight_count",
        [(user, room, n, h) for (user, room), (n, h) in deltas.items()],
    )
    return set(deltas)
