"""The room summary: one row per room with the string fields of its current state that the
room directory and the user directory read (`room_summary`, migration 0014).

Invariant: a field is the value in the room's current state event of its type (state key
`""`), NULL when that event is absent, redacted away, not a string, or holds NUL (which
PostgreSQL text cannot store). It is written in the same transaction as `current_state`, by
`record_state` (every current-state change goes through it) and `record_redaction`, so it
never disagrees with the current state. The free-text fields are sealed
(`sealing.ROOM_SUMMARY_FIELDS`); the identifiers the directory filters on in SQL are not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from core.identifiers import EventId, RoomId
from core.text import is_unicode_text
from homeserver.storage.database import Connection
from homeserver.storage.sealing import ROOM_SUMMARY_FIELDS, Sealer

__all__ = ["record_redaction", "record_state"]

# event type -> (column, content key)
_FIELDS: Final = {
    "m.room.name": ("name", "name"),
    "m.room.topic": ("topic", "topic"),
    "m.room.canonical_alias": ("canonical_alias", "alias"),
    "m.room.avatar": ("avatar_url", "url"),
    "m.room.join_rules": ("join_rule", "join_rule"),
    "m.room.history_visibility": ("history_visibility", "history_visibility"),
    "m.room.guest_access": ("guest_access", "guest_access"),
    "m.room.create": ("room_type", "type"),
}


async def record_state(
    conn: Connection,
    sealer: Sealer,
    room_id: RoomId,
    event_type: str,
    state_key: str | None,
    content: Any,
) -> None:
    """Update the summary for a state event that became current (others are ignored)."""
    field = _FIELDS.get(event_type)
    if field is None or state_key != "":
        return
    column, content_key = field
    value = content.get(content_key) if isinstance(content, Mapping) else None
    text = value if isinstance(value, str) and _storable(value) else None
    sealed = ROOM_SUMMARY_FIELDS.get(column)
    if sealed is not None and text is not None:
        text = sealer.seal(sealed, (room_id,), text)
    await conn.execute(
        f"INSERT INTO room_summary (room_id, {column}) VALUES ($1, $2)"  # noqa: S608 (fixed names)
        f" ON CONFLICT (room_id) DO UPDATE SET {column} = excluded.{column}",
        room_id,
        text,
    )


async def record_redaction(
    conn: Connection, sealer: Sealer, event_id: EventId, pruned: Mapping[str, Any]
) -> None:
    """Update the summary when a current state event is redacted to `pruned`."""
    row = await conn.fetch_one(
        "SELECT room_id, event_type, state_key FROM current_state WHERE event_id = $1", event_id
    )
    if row is not None:
        await record_state(
            conn,
            sealer,
            RoomId(str(row["room_id"])),
            str(row["event_type"]),
            str(row["state_key"]),
            pruned.get("content"),
        )


def _storable(text: str) -> bool:
    return "\x00" not in text and is_unicode_text(text)
