"""Rooms the server deletes at a set time: direct-message rooms (`room_lifetimes`).

A room enters once, when the job first finds it is a direct-message room; its row then says
whether its members were told (`announced`: the state event carrying the time; `warned`: the
notice ahead of it) and when the deletion finished (`deleted_ts`). Every step is recorded after
it is done and each step can be repeated, so the job resumes after a restart where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.identifiers import RoomId, UserId
from homeserver.storage.database import Database

__all__ = ["LifetimeStore", "RoomLifetime", "SmallRoom"]


@dataclass(frozen=True, slots=True)
class SmallRoom:
    """A room with two members (joined or invited), not yet given a lifetime."""

    room_id: RoomId
    creator: UserId
    created_ts: int


@dataclass(frozen=True, slots=True)
class RoomLifetime:
    """When a room is deleted and how far that has gone."""

    room_id: RoomId
    expires_ts: int
    announced: bool
    warned: bool
    deleted_ts: int | None


class LifetimeStore:
    """Reads and writes `room_lifetimes`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def small_rooms(self, limit: int) -> list[SmallRoom]:
        """Rooms with exactly two joined or invited members and no lifetime yet."""
        rows = await self._db.fetch_all(
            "SELECT r.room_id, r.creator, r.created_ts FROM rooms r"
            " JOIN memberships m ON m.room_id = r.room_id"
            " WHERE m.membership IN ('join', 'invite')"
            " AND NOT EXISTS (SELECT 1 FROM room_lifetimes l WHERE l.room_id = r.room_id)"
            " GROUP BY r.room_id, r.creator, r.created_ts HAVING COUNT(*) = 2"
            " ORDER BY r.created_ts LIMIT $1",
            limit,
        )
        return [
            SmallRoom(RoomId(r["room_id"]), UserId(r["creator"]), int(r["created_ts"]))
            for r in rows
        ]

    async def add(self, room_id: RoomId, expires_ts: int) -> None:
        """Give a room its deletion time (kept if it already has one)."""
        await self._db.execute(
            "INSERT INTO room_lifetimes (room_id, expires_ts) VALUES ($1, $2)"
            " ON CONFLICT (room_id) DO NOTHING",
            room_id,
            expires_ts,
        )

    async def schedule(self, room_id: RoomId, now_ms: int) -> None:
        """Delete the room now (an admin's deletion): due at once, nobody to tell first."""
        await self._db.execute(
            "INSERT INTO room_lifetimes (room_id, expires_ts, announced, warned)"
            " VALUES ($1, $2, 1, 1) ON CONFLICT (room_id) DO UPDATE SET"
            " expires_ts = excluded.expires_ts, announced = 1, warned = 1",
            room_id,
            now_ms,
        )

    async def pending(self, limit: int) -> list[RoomLifetime]:
        """Rooms not deleted yet, soonest first."""
        rows = await self._db.fetch_all(
            "SELECT room_id, expires_ts, announced, warned, deleted_ts FROM room_lifetimes"
            " WHERE deleted_ts IS NULL ORDER BY expires_ts, room_id LIMIT $1",
            limit,
        )
        return [_lifetime(r) for r in rows]

    async def mark(self, room_id: RoomId, *, announced: bool = False, warned: bool = False) -> None:
        """Record that members were told (the state event, the notice)."""
        if announced:
            await self._db.execute(
                "UPDATE room_lifetimes SET announced = 1 WHERE room_id = $1", room_id
            )
        if warned:
            await self._db.execute(
                "UPDATE room_lifetimes SET warned = 1 WHERE room_id = $1", room_id
            )

    async def mark_deleted(self, room_id: RoomId, now_ms: int) -> None:
        """Record that the room is deleted (a room deleted by an admin gets a row now)."""
        await self._db.execute(
            "INSERT INTO room_lifetimes (room_id, expires_ts, announced, warned, deleted_ts)"
            " VALUES ($1, $2, 1, 1, $2) ON CONFLICT (room_id) DO UPDATE SET"
            " deleted_ts = excluded.deleted_ts",
            room_id,
            now_ms,
        )

    async def listing(self, limit: int, offset: int) -> list[tuple[RoomId, RoomLifetime | None]]:
        """Rooms by deletion time (rooms without one last, then by ID), a page of them."""
        rows = await self._db.fetch_all(
            "SELECT r.room_id, l.expires_ts, l.announced, l.warned, l.deleted_ts FROM rooms r"
            " LEFT JOIN room_lifetimes l ON l.room_id = r.room_id"
            " ORDER BY CASE WHEN l.expires_ts IS NULL THEN 1 ELSE 0 END, l.expires_ts, r.room_id"
            " LIMIT $1 OFFSET $2",
            limit,
            offset,
        )
        return [
            (RoomId(r["room_id"]), _lifetime(r) if r["expires_ts"] is not None else None)
            for r in rows
        ]

    async def room_count(self) -> int:
        """How many rooms this server knows."""
        return int(await self._db.fetch_val("SELECT COUNT(*) FROM rooms") or 0)


def _lifetime(row: dict[str, object]) -> RoomLifetime:
    deleted = row["deleted_ts"]
    return RoomLifetime(
        room_id=RoomId(str(row["room_id"])),
        expires_ts=int(str(row["expires_ts"])),
        announced=bool(row["announced"]),
        warned=bool(row["warned"]),
        deleted_ts=int(str(deleted)) if deleted is not None else None,
    )
