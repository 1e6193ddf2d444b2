"""The purge's bookkeeping: which messages are due, which are purged, the media left without
a reference, the counters (`schema/0015_retention.sql`).

A purge has two writes: the event's JSON becomes its redacted skeleton (through the event
store, which owns that column), then `record_purged` commits, in one transaction, the event's
`purged_events` row, the removal of its media references, timer and notifications (the unread
counts recomputed), the media it left unreferenced queued in `media_purge_queue`, and the
counter. Both writes can be repeated: a purge interrupted between them is redone whole by the
next run, which finds the event not yet listed as purged. Queued media are deleted after the
commit and dequeued with the bytes freed (`media_done`), so a restart finishes the queue.

Media stays while any event not purged references it or a profile uses it as avatar.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from core.identifiers import EventId, RoomId, UserId
from core.retention import MediaRef
from homeserver.storage.database import Connection, Database
from homeserver.storage.retention.scrub import scrubber_for

__all__ = ["EVENTS_PURGED", "MEDIA_BYTES_FREED", "PurgeStore", "PurgedEvent", "RoomWatermark"]

EVENTS_PURGED: Final = "events_purged"
MEDIA_BYTES_FREED: Final = "media_bytes_freed"
_CHUNK: Final = 200


@dataclass(frozen=True, slots=True)
class PurgedEvent:
    """An event whose content was just replaced by its redacted skeleton."""

    event_id: EventId
    room_id: RoomId
    stream_ordering: int


@dataclass(frozen=True, slots=True)
class RoomWatermark:
    """A room, and the time before which all its messages are purged (None: none yet)."""

    room_id: RoomId
    purged_upto_ts: int | None


class PurgeStore:
    """Reads and writes `purged_events`, `retention_rooms`, `media_purge_queue` and the
    purge counters."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def prepare(self) -> None:
        """Before deleting: make deletes overwrite what they free (`scrub.py`)."""
        await scrubber_for(self._db).prepare(self._db)

    async def horizon(self) -> int | None:
        """After deletions committed: what `scrub` compares running transactions with."""
        return await scrubber_for(self._db).horizon(self._db)

    async def scrub(self, *, deep: bool, horizon: int | None) -> bool:
        """After deleting: leave no copy of deleted content in the database files (`deep`:
        rewrite the search index too); False when a transaction from before `horizon` still
        runs (see `scrub.py`), so the scrub must be repeated."""
        return await scrubber_for(self._db).scrub(self._db, deep=deep, horizon=horizon)

    async def rooms(self) -> list[RoomWatermark]:
        """Every room with its watermark."""
        rows = await self._db.fetch_all(
            "SELECT r.room_id, w.purged_upto_ts FROM rooms r"
            " LEFT JOIN retention_rooms w ON w.room_id = r.room_id ORDER BY r.room_id"
        )
        return [
            RoomWatermark(
                RoomId(r["room_id"]),
                int(r["purged_upto_ts"]) if r["purged_upto_ts"] is not None else None,
            )
            for r in rows
        ]

    async def messages_before(
        self, room_id: RoomId, since_ts: int | None, before_ts: int, limit: int
    ) -> list[PurgedEvent]:
        """Up to `limit` messages (not state) of the room sent in `[since_ts, before_ts)`
        and not purged yet, oldest first."""
        rows = await self._db.fetch_all(
            "SELECT e.event_id, e.room_id, e.stream_ordering FROM events e"
            " WHERE e.room_id = $1 AND e.origin_server_ts >= $2 AND e.origin_server_ts < $3"
            " AND e.state_key IS NULL"
            " AND NOT EXISTS (SELECT 1 FROM purged_events p WHERE p.event_id = e.event_id)"
            " ORDER BY e.origin_server_ts, e.stream_ordering LIMIT $4",
            room_id,
            since_ts if since_ts is not None else -(2**62),
            before_ts,
            limit,
        )
        return [_purged(r) for r in rows]

    async def room_events(self, room_id: RoomId, limit: int) -> list[PurgedEvent]:
        """Up to `limit` events of the room, state included, not purged yet (a deleted
        room's)."""
        rows = await self._db.fetch_all(
            "SELECT e.event_id, e.room_id, e.stream_ordering FROM events e WHERE e.room_id = $1"
            " AND NOT EXISTS (SELECT 1 FROM purged_events p WHERE p.event_id = e.event_id)"
            " ORDER BY e.stream_ordering LIMIT $2",
            room_id,
            limit,
        )
        return [_purged(r) for r in rows]

    async def oldest_unpurged(self, room_id: RoomId, since_ts: int | None) -> int | None:
        """The send time of the room's oldest message at or after `since_ts` not purged."""
        value = await self._db.fetch_val(
            "SELECT MIN(e.origin_server_ts) FROM events e WHERE e.room_id = $1"
            " AND e.origin_server_ts >= $2 AND e.state_key IS NULL"
            " AND NOT EXISTS (SELECT 1 FROM purged_events p WHERE p.event_id = e.event_id)",
            room_id,
            since_ts if since_ts is not None else -(2**62),
        )
        return int(value) if value is not None else None

    async def set_watermark(self, room_id: RoomId, purged_upto_ts: int) -> None:
        """Every message of the room sent before `purged_upto_ts` is purged (it only rises)."""
        await self._db.execute(
            "INSERT INTO retention_rooms (room_id, purged_upto_ts) VALUES ($1, $2)"
            " ON CONFLICT (room_id) DO UPDATE SET purged_upto_ts = CASE"
            " WHEN retention_rooms.purged_upto_ts > excluded.purged_upto_ts"
            " THEN retention_rooms.purged_upto_ts ELSE excluded.purged_upto_ts END",
            room_id,
            purged_upto_ts,
        )

    async def purged(self, event_ids: Sequence[EventId]) -> set[EventId]:
        """Which of the events are purged."""
        found: set[EventId] = set()
        for start in range(0, len(event_ids), 200):
            chunk = list(event_ids[start : start + 200])
            marks = ", ".join(f"${i + 1}" for i in range(len(chunk)))
            rows = await self._db.fetch_all(
                f"SELECT event_id FROM purged_events WHERE event_id IN ({marks})",  # noqa: S608
                *chunk,
            )
            found.update(EventId(r["event_id"]) for r in rows)
        return found

    async def record_purged(
        self, events: Sequence[PurgedEvent], now_ms: int
    ) -> set[tuple[UserId, RoomId]]:
        """Commit the purge of `events` (see the module docstring).

        Returns:
            The `(user, room)` pairs whose unread counts changed.
        """
        if not events:
            return set()
        ids = [e.event_id for e in events]
        async with self._db.transaction() as conn:
            fresh = await _not_yet_purged(conn, ids)
            await conn.execute_many(
                "INSERT INTO purged_events (event_id, room_id, purged_ts) VALUES ($1, $2, $3)"
                " ON CONFLICT (event_id) DO NOTHING",
                [(e.event_id, e.room_id, now_ms) for e in events],
            )
            refs = await _media_of(conn, ids)
            await conn.execute_many(
                "DELETE FROM event_media WHERE event_id = $1", [(i,) for i in ids]
            )
            await conn.execute_many(
                "DELETE FROM event_expiries WHERE event_id = $1", [(i,) for i in ids]
            )
            await _queue_unreferenced(conn, refs)
            changed = await _forget_notifications(conn, events)
            await _add(conn, EVENTS_PURGED, len(fresh))
        return changed

    async def queued_media(self, limit: int) -> list[MediaRef]:
        """Media waiting to be deleted."""
        rows = await self._db.fetch_all(
            "SELECT server_name, media_id FROM media_purge_queue"
            " ORDER BY server_name, media_id LIMIT $1",
            limit,
        )
        return [MediaRef(r["server_name"], r["media_id"]) for r in rows]

    async def media_done(self, refs: Sequence[MediaRef], bytes_freed: int) -> None:
        """Dequeue deleted media and count the bytes freed."""
        async with self._db.transaction() as conn:
            await conn.execute_many(
                "DELETE FROM media_purge_queue WHERE server_name = $1 AND media_id = $2",
                [(r.server_name, r.media_id) for r in refs],
            )
            await _add(conn, MEDIA_BYTES_FREED, bytes_freed)

    async def still_referenced(self, refs: Sequence[MediaRef]) -> set[MediaRef]:
        """Which of the media an event not purged, or a profile, references again (a new
        message may name media already queued)."""
        return await _referenced(self._db, refs)

    async def counters(self) -> dict[str, int]:
        """The purge counters (`EVENTS_PURGED`, `MEDIA_BYTES_FREED`)."""
        rows = await self._db.fetch_all(
            "SELECT name, value FROM retention_progress WHERE name IN ($1, $2)",
            EVENTS_PURGED,
            MEDIA_BYTES_FREED,
        )
        found = {str(r["name"]): int(r["value"]) for r in rows}
        return {name: found.get(name, 0) for name in (EVENTS_PURGED, MEDIA_BYTES_FREED)}


def _purged(row: dict[str, object]) -> PurgedEvent:
    return PurgedEvent(
        EventId(str(row["event_id"])), RoomId(str(row["room_id"])), int(str(row["stream_ordering"]))
    )


async def _not_yet_purged(conn: Connection, ids: Sequence[EventId]) -> list[EventId]:
    marks = ", ".join(f"${i + 1}" for i in range(len(ids)))
    rows = await conn.fetch_all(
        f"SELECT event_id FROM purged_events WHERE event_id IN ({marks})",  # noqa: S608
        *ids,
    )
    done = {r["event_id"] for r in rows}
    return [i for i in ids if i not in done]


async def _media_of(conn: Connection, ids: Sequence[EventId]) -> list[MediaRef]:
    marks = ", ".join(f"${i + 1}" for i in range(len(ids)))
    rows = await conn.fetch_all(
        f"SELECT DISTINCT server_name, media_id FROM event_media WHERE event_id IN ({marks})",  # noqa: S608
        *ids,
    )
    return sorted(MediaRef(r["server_name"], r["media_id"]) for r in rows)


async def _referenced(conn: Connection | Database, refs: Sequence[MediaRef]) -> set[MediaRef]:
    """Which of `refs` an event not purged names, or a profile has as its avatar: a few
    queries for the lot (by server, in chunks), not one per media."""
    found: set[MediaRef] = set()
    by_server: dict[str, list[str]] = {}
    for ref in sorted(set(refs)):
        by_server.setdefault(ref.server_name, []).append(ref.media_id)
    for server_name, media_ids in by_server.items():
        for start in range(0, len(media_ids), _CHUNK):
            chunk = media_ids[start : start + _CHUNK]
            marks = ", ".join(f"${i + 2}" for i in range(len(chunk)))
            rows = await conn.fetch_all(
                "SELECT DISTINCT m.media_id FROM event_media m"  # noqa: S608
                f" WHERE m.server_name = $1 AND m.media_id IN ({marks})"
                " AND NOT EXISTS (SELECT 1 FROM purged_events p WHERE p.event_id = m.event_id)",
                server_name,
                *chunk,
            )
            found.update(MediaRef(server_name, r["media_id"]) for r in rows)
    urls = {f"mxc://{r.server_name}/{r.media_id}": r for r in set(refs) - found}
    names = sorted(urls)
    for start in range(0, len(names), _CHUNK):
        chunk = names[start : start + _CHUNK]
        marks = ", ".join(f"${i + 1}" for i in range(len(chunk)))
        rows = await conn.fetch_all(
            f"SELECT DISTINCT avatar_url FROM profiles WHERE avatar_url IN ({marks})",  # noqa: S608
            *chunk,
        )
        found.update(urls[r["avatar_url"]] for r in rows)
    return found


async def _queue_unreferenced(conn: Connection, refs: Sequence[MediaRef]) -> None:
    used = await _referenced(conn, refs)
    unused = [(r.server_name, r.media_id) for r in refs if r not in used]
    if unused:
        await conn.execute_many(
            "INSERT INTO media_purge_queue (server_name, media_id) VALUES ($1, $2)"
            " ON CONFLICT DO NOTHING",
            unused,
        )


async def _forget_notifications(
    conn: Connection, events: Sequence[PurgedEvent]
) -> set[tuple[UserId, RoomId]]:
    """Drop the notifications of purged events and recompute the counts they were in."""
    pairs: set[tuple[UserId, RoomId]] = set()
    by_room: dict[RoomId, list[int]] = {}
    for event in events:
        by_room.setdefault(event.room_id, []).append(event.stream_ordering)
    for room_id, positions in by_room.items():
        marks = ", ".join(f"${i + 2}" for i in range(len(positions)))
        rows = await conn.fetch_all(
            "SELECT DISTINCT user_id FROM notification_actions"  # noqa: S608
            f" WHERE room_id = $1 AND stream_ordering IN ({marks})",
            room_id,
            *positions,
        )
        pairs.update((UserId(r["user_id"]), room_id) for r in rows)
    if not pairs:
        return pairs
    await conn.execute_many(
        "DELETE FROM notification_actions WHERE room_id = $1 AND stream_ordering = $2",
        [(e.room_id, e.stream_ordering) for e in events],
    )
    for user_id, room_id in pairs:
        await conn.execute(
            "UPDATE notification_counts SET"
            " notification_count = (SELECT COUNT(*) FROM notification_actions a"
            " WHERE a.user_id = $1 AND a.room_id = $2),"
            " highlight_count = (SELECT COALESCE(SUM(a.highlight), 0) FROM notification_actions a"
            " WHERE a.user_id = $1 AND a.room_id = $2) WHERE user_id = $1 AND room_id = $2",
            user_id,
            room_id,
        )
    return pairs


async def _add(conn: Connection, name: str, amount: int) -> None:
    if amount <= 0:
        return
    await conn.execute(
        "INSERT INTO retention_progress (name, value) VALUES ($1, $2)"
        " ON CONFLICT (name) DO UPDATE SET value = retention_progress.value + excluded.value",
        name,
        amount,
    )
