"""Device-list changes: whose device or cross-signing keys changed, at which stream position.

Every change is a row at a new position of the `device_lists` stream, written in the same
transaction as the change itself, so `/sync` and `/keys/changes` never miss one. A change is
seen by everyone sharing a room with its user (observer `''`), or by one observer only (a
signature made with that observer's user-signing key, which nobody else may see).
"""

from __future__ import annotations

from core.identifiers import UserId
from homeserver.storage.database import Connection, Database
from homeserver.storage.streams import current_position, next_position

DEVICE_LISTS_STREAM = "device_lists"
EVERYONE = ""

_SHARING = (
    "SELECT m2.user_id FROM memberships m1 JOIN memberships m2 ON m2.room_id = m1.room_id"
    " WHERE m1.user_id = $1 AND m1.membership = 'join' AND m2.membership = 'join'"
)


async def record_change(conn: Connection, user_id: UserId, observer: UserId | None = None) -> int:
    """Record inside the caller's transaction that `user_id`'s keys changed; returns the position.

    `observer` is the one user who may see the change; None (the default) means everyone
    sharing a room with `user_id`.
    """
    position = await next_position(conn, DEVICE_LISTS_STREAM)
    await conn.execute(
        "INSERT INTO device_list_changes (stream_id, user_id, observer) VALUES ($1, $2, $3)",
        position,
        user_id,
        observer or EVERYONE,
    )
    return position


class DeviceListStore:
    """Reads the device-list stream and who shares rooms with whom."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def position(self) -> int:
        """The latest device-list stream position."""
        return await current_position(self._db, DEVICE_LISTS_STREAM)

    async def record_change(self, user_id: UserId, observer: UserId | None = None) -> int:
        """Record a change in a transaction of its own; returns its position."""
        async with self._db.transaction() as conn:
            return await record_change(conn, user_id, observer)

    async def users_sharing_room(self, user_id: UserId) -> set[UserId]:
        """Users joined to some room `user_id` is joined to (including `user_id` if joined)."""
        rows = await self._db.fetch_all(_SHARING, user_id)
        return {UserId(r["user_id"]) for r in rows}

    async def changed_users(self, viewer: UserId, after: int, upto: int) -> set[UserId]:
        """Users whose keys changed in (after, upto] as `viewer` may see: itself, room-mates."""
        rows = await self._db.fetch_all(
            "SELECT DISTINCT c.user_id FROM device_list_changes c"  # noqa: S608
            " WHERE c.stream_id > $2 AND c.stream_id <= $3 AND (c.observer = $1"
            " OR (c.observer = '' AND (c.user_id = $1"
            f" OR c.user_id IN ({_SHARING}))))",
            viewer,
            after,
            upto,
        )
        return {UserId(r["user_id"]) for r in rows}

    async def newly_sharing(self, viewer: UserId, after_event: int) -> set[UserId]:
        """Users now sharing a room with `viewer` whose or whose viewer's join came after
        event stream position `after_event`."""
        rows = await self._db.fetch_all(
            "SELECT DISTINCT m2.user_id FROM memberships m1"
            " JOIN memberships m2 ON m2.room_id = m1.room_id"
            " WHERE m1.user_id = $1 AND m1.membership = 'join' AND m2.membership = 'join'"
            " AND m2.user_id <> $1 AND (m1.stream_ordering > $2 OR m2.stream_ordering > $2)",
            viewer,
            after_event,
        )
        return {UserId(r["user_id"]) for r in rows}

    async def maybe_parted(self, viewer: UserId, after_event: int) -> set[UserId]:
        """Users who may have stopped sharing a room with `viewer` after `after_event`.

        Either they left or were banned from a room `viewer` is in, or `viewer` left a room
        they are in. The caller removes those still sharing another room.
        """
        rows = await self._db.fetch_all(
            "SELECT DISTINCT m2.user_id FROM memberships m1"
            " JOIN memberships m2 ON m2.room_id = m1.room_id"
            " WHERE m1.user_id = $1 AND m2.user_id <> $1 AND ("
            " (m1.membership = 'join' AND m2.membership IN ('leave', 'ban')"
            " AND m2.stream_ordering > $2)"
            " OR (m1.membership IN ('leave', 'ban') AND m1.stream_ordering > $2"
            " AND m2.membership = 'join'))",
            viewer,
            after_event,
        )
        return {UserId(r["user_id"]) for r in rows}
