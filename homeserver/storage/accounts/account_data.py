"""Account data, global and per room, with a stream position per change.

Methods name global account data with `GLOBAL` (None) for its room; the table stores it under
`room_id = ''`.
"""

from __future__ import annotations

from typing import Final

from core.errors import JsonDict
from core.identifiers import RoomId, UserId
from homeserver.storage.database import Database
from homeserver.storage.sealing import ACCOUNT_DATA, Sealer
from homeserver.storage.streams import next_position

GLOBAL: Final = None
_GLOBAL_ROW = ""


class AccountDataStore:
    """Reads and writes `account_data` (contents sealed by `sealer`)."""

    def __init__(self, db: Database, sealer: Sealer) -> None:
        self._db = db
        self._sealer = sealer

    async def get(self, user_id: UserId, room_id: RoomId | None, data_type: str) -> JsonDict | None:
        """One account data object (global when `room_id` is None), or None."""
        key = (user_id, room_id or _GLOBAL_ROW, data_type)
        raw = await self._db.fetch_val(
            "SELECT content FROM account_data"
            " WHERE user_id = $1 AND room_id = $2 AND data_type = $3",
            *key,
        )
        value = self._sealer.load(ACCOUNT_DATA, key, raw)
        return value if isinstance(value, dict) else None

    async def put(
        self, user_id: UserId, room_id: RoomId | None, data_type: str, content: JsonDict
    ) -> int:
        """Store an object (global when `room_id` is None), replacing any earlier one; returns
        its stream position."""
        key = (user_id, room_id or _GLOBAL_ROW, data_type)
        stored = self._sealer.dump(ACCOUNT_DATA, key, content)
        async with self._db.transaction() as conn:
            position = await next_position(conn, "account_data")
            await conn.execute(
                "INSERT INTO account_data (user_id, room_id, data_type, content, stream_id)"
                " VALUES ($1, $2, $3, $4, $5)"
                " ON CONFLICT (user_id, room_id, data_type) DO UPDATE"
                " SET content = excluded.content, stream_id = excluded.stream_id",
                *key,
                stored,
                position,
            )
        return position

    async def get_all(
        self, user_id: UserId, since: int = 0
    ) -> list[tuple[RoomId | None, str, JsonDict]]:
        """`(room_id, type, content)` of everything changed after stream position `since`
        (`room_id` None for global account data)."""
        rows = await self._db.fetch_all(
            "SELECT user_id, room_id, data_type, content FROM account_data"
            " WHERE user_id = $1 AND stream_id > $2 ORDER BY stream_id",
            user_id,
            since,
        )
        readable = self._sealer.readable(rows, ACCOUNT_DATA)
        return [
            (
                RoomId(r["room_id"]) if r["room_id"] != _GLOBAL_ROW else GLOBAL,
                r["data_type"],
                content,
            )
            for r, content in readable
        ]
