"""Presence: one row per user with their state, status message and activity timestamps.

A change others can see (state, status message, `currently_active`) takes the next position of
the `presence` stream in the same transaction as the row. Activity timestamps alone are written
without a new position: they do not make a presence event, they only keep restarts accurate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.identifiers import UserId
from homeserver.storage.database import Database, Row
from homeserver.storage.streams import current_position, next_position

PRESENCE_STREAM = "presence"
OFFLINE = "offline"
_COLUMNS = "user_id, state, status_msg, last_active_ts, last_sync_ts, currently_active, stream_id"
# The users who share a joined room with $1, and $1 itself.
_VISIBLE_TO = (
    "(p.user_id = $1 OR p.user_id IN (SELECT b.user_id FROM memberships a"
    " JOIN memberships b ON b.room_id = a.room_id"
    " WHERE a.user_id = $1 AND a.membership = 'join' AND b.membership = 'join'))"
)


@dataclass(frozen=True, slots=True)
class PresenceRecord:
    """A user's presence; timestamps are milliseconds since the epoch (0 for never)."""

    user_id: UserId
    state: str
    status_msg: str | None
    last_active_ts: int
    last_sync_ts: int
    currently_active: bool
    stream_id: int = 0


def offline_record(user_id: UserId) -> PresenceRecord:
    """The presence of a user with no stored row."""
    return PresenceRecord(user_id, OFFLINE, None, 0, 0, False)


class PresenceStore:
    """Reads and writes `presence`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, user_id: UserId) -> PresenceRecord | None:
        """The stored presence of a user, or None."""
        row = await self._db.fetch_one(
            f"SELECT {_COLUMNS} FROM presence WHERE user_id = $1",  # noqa: S608
            user_id,
        )
        return _record(row) if row is not None else None

    async def put_visible(self, record: PresenceRecord) -> int:
        """Store a change others can see; returns its new stream position."""
        async with self._db.transaction() as conn:
            position = await next_position(conn, PRESENCE_STREAM)
            await conn.execute(
                f"INSERT INTO presence ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"  # noqa: S608
                " ON CONFLICT (user_id) DO UPDATE SET state = excluded.state,"
                " status_msg = excluded.status_msg, last_active_ts = excluded.last_active_ts,"
                " last_sync_ts = excluded.last_sync_ts,"
                " currently_active = excluded.currently_active, stream_id = excluded.stream_id",
                record.user_id,
                record.state,
                record.status_msg,
                record.last_active_ts,
                record.last_sync_ts,
                int(record.currently_active),
                position,
            )
        return position

    async def put_timestamps_many(self, rows: Sequence[tuple[UserId, int, int]]) -> None:
        """Record `(user_id, last_active_ts, last_sync_ts)` of users who already have a row,
        in one transaction and without a new stream position."""
        await self._db.execute_many(
            "UPDATE presence SET last_active_ts = $2, last_sync_ts = $3 WHERE user_id = $1",
            rows,
        )

    async def not_offline(self) -> list[PresenceRecord]:
        """Everyone whose stored state is not offline (what the timeout job must watch)."""
        rows = await self._db.fetch_all(
            f"SELECT {_COLUMNS} FROM presence WHERE state <> $1",  # noqa: S608
            OFFLINE,
        )
        return [_record(r) for r in rows]

    async def visible_changes(
        self, viewer: UserId, since: int, until: int, include_offline: bool
    ) -> list[PresenceRecord]:
        """Presence of `viewer` and of users sharing a joined room with them, changed in
        `(since, until]`; offline users are left out unless `include_offline`."""
        sql = (
            f"SELECT {_COLUMNS} FROM presence p WHERE p.stream_id > $2"  # noqa: S608
            f" AND p.stream_id <= $3 AND {_VISIBLE_TO}"
        )
        if not include_offline:
            sql += " AND p.state <> 'offline'"
        rows = await self._db.fetch_all(sql + " ORDER BY p.stream_id", viewer, since, until)
        return [_record(r) for r in rows]

    async def current_position(self) -> int:
        """The latest position of the presence stream."""
        return await current_position(self._db, PRESENCE_STREAM)


def _record(row: Row) -> PresenceRecord:
    status = row["status_msg"]
    return PresenceRecord(
        user_id=UserId(str(row["user_id"])),
        state=str(row["state"]),
        status_msg=str(status) if status is not None else None,
        last_active_ts=int(row["last_active_ts"]),
        last_sync_ts=int(row["last_sync_ts"]),
        currently_active=bool(row["currently_active"]),
        stream_id=int(row["stream_id"]),
    )
