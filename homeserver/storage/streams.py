"""Stream positions: monotonically increasing counters kept in the database.

Positions are allocated by the database, inside the transaction that writes the data, so they
are ordered as the commits are. Each `Database` caches the committed head of every stream,
advanced after commit: reading a head (every `/sync` does) costs no query. The cache is this
process's view; a deployment with several writers must share heads over the notification bus.
"""

from __future__ import annotations

from homeserver.storage.database import Connection, Database


async def next_position(conn: Connection, stream: str) -> int:
    """Advance `stream` by one inside the caller's transaction and return the new position."""
    return await next_positions(conn, stream, 1)


async def next_positions(conn: Connection, stream: str, count: int) -> int:
    """Advance `stream` by `count` inside the caller's transaction; returns the last new
    position (the block is `last - count + 1 .. last`)."""
    value = await conn.fetch_val(
        "INSERT INTO stream_counters (stream, position) VALUES ($1, $2)"
        " ON CONFLICT (stream) DO UPDATE SET position = stream_counters.position + $2"
        " RETURNING position",
        stream,
        count,
    )
    conn.note_position(stream, int(value))
    return int(value)


async def current_position(db: Database, stream: str) -> int:
    """The latest committed position of `stream` (0 if none)."""
    cached = db.positions.get(stream)
    if cached is not None:
        return cached
    value = int(
        await db.fetch_val("SELECT position FROM stream_counters WHERE stream = $1", stream) or 0
    )
    # A commit may have advanced the head while we read; keep the larger.
    db.positions[stream] = max(value, db.positions.get(stream, 0))
    return db.positions[stream]
