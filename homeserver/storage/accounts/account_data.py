"""Account data, global and per room, with a stream position per change.

Methods name global account data with `GLOBAL` (None) for its room; the table stores it under
`room_id = ''`.
"""

from __future__ import annotations

from typing import Final

from core.errors import JsonDict
from core.identifiers import RoomId, UserId
from homeserver.storage.database import Database
from homeserver.storage.json_rows import dump_json, load_json, readable_rows
from homeserver.storage.streams import next_position

GLOBAL: Final = None
_GLOBAL_ROW = ""


class AccountDataStore:
    """Reads and writes `account_data`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, user_id: UserId, room_id: RoomId | None, data_type: str) -> JsonDict | None:
        """One account data object (global when `room_id` is None), or None."""
        raw = await self._db.fetch_val(
            "SELECT content FROM account_data"
            " WHERE user_id = $1 AND room_id = $2 AND data_type = $3",
            user_id,
            room_id or _GLOBAL_ROW,
            data_type,
        )
        value = load_json(raw, table="account_data", key=data_type)
        return value if isinstance(value, dict) else None

    async def put(
        self, user_id: UserId, room_id: RoomId | None, data_type: str, content: JsonDict
    ) -> int:
        """Store an object (global when `room_id` is None), replacing any earlier one; returns
        its stream position."""
        async with self._db.transaction() as conn:
            position = await next_position(conn, "account_data")
            await conn.execute(
                "INSERT INTO account_data (user_id, room_id, data_type, content, stream_id)"
                " VALUES ($1, $2, $3, $4, $5)"
                " ON CONFLICT (user_id, room_id, data_type) DO UPDATE"
                " SET content = excluded.content, stream_id = excluded.stream_id",
                user_id,
                room_id or _GLOBAL_ROW,
                data_type,
                dump_json(content),
                position,
            )
        return position

    async def get_all(
        self, user_id: UserId, since: int = 0
    ) -> list[tuple[RoomId | None, str, JsonDict]]:
        """`(room_id, type, content)` of everything changed after stream position `since`
        (`room_id` None for global account data)."""
        rows = await self._db.fetch_all(
            "SELECT room_id, data_type, content FROM account_data"
            " WHERE user_id = $1 AND stream_id > $2 ORDER BY stream_id",
            user_id,
            since,
        )
        readable = readable_rows(rows, "content", table="account_data", key="data_type")
        return [
            (
                RoomId(r["room_id"]) if r["room_id"] != _GLOBAL_ROW else GLOBAL,
                r["data_type"],
                content,
            )
            for r, content in readable
        ]
