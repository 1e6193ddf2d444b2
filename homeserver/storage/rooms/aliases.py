"""Room aliases (`#alias:server` → room ID) and the public room directory flag."""

from __future__ import annotations

from core.identifiers import RoomId, UserId
from homeserver.storage.database import Database


class AliasStore:
    """Reads and writes `room_aliases` and `rooms.is_public`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def create_alias(self, alias: str, room_id: RoomId, creator: UserId) -> bool:
        """Map `alias` to `room_id`; False if the alias is taken."""
        inserted = await self._db.execute(
            "INSERT INTO room_aliases (room_alias, room_id, creator) VALUES ($1, $2, $3)"
            " ON CONFLICT (room_alias) DO NOTHING",
            alias,
            room_id,
            creator,
        )
        return inserted > 0

    async def get_alias(self, alias: str) -> tuple[RoomId, UserId] | None:
        """`(room_id, creator)` of an alias, or None."""
        row = await self._db.fetch_one(
            "SELECT room_id, creator FROM room_aliases WHERE room_alias = $1", alias
        )
        return (RoomId(row["room_id"]), UserId(row["creator"])) if row else None

    async def delete_alias(self, alias: str) -> bool:
        """Remove an alias; False if it did not exist."""
        return await self._db.execute("DELETE FROM room_aliases WHERE room_alias = $1", alias) > 0

    async def aliases_for_room(self, room_id: RoomId) -> list[str]:
        """Every local alias of a room."""
        rows = await self._db.fetch_all(
            "SELECT room_alias FROM room_aliases WHERE room_id = $1 ORDER BY room_alias", room_id
        )
        return [r["room_alias"] for r in rows]

    async def set_public(self, room_id: RoomId, is_public: bool) -> bool:
        """Publish or unpublish a room in the directory; False for an unknown room."""
        changed = await self._db.execute(
            "UPDATE rooms SET is_public = $2 WHERE room_id = $1", room_id, int(is_public)
        )
        return changed > 0

    async def is_public(self, room_id: RoomId) -> bool | None:
        """Whether a room is published; None for an unknown room."""
        value = await self._db.fetch_val("SELECT is_public FROM rooms WHERE room_id = $1", room_id)
        return bool(value) if value is not None else None

    async def public_room_ids(self) -> list[RoomId]:
        """Every published room."""
        rows = await self._db.fetch_all("SELECT room_id FROM rooms WHERE is_public = 1")
        return [RoomId(r["room_id"]) for r in rows]
