"""The PostgreSQL backend (asyncpg connection pool) for scale-out deployments.

asyncpg already speaks `$1` placeholders, so SQL runs unchanged. Commits are durable by
PostgreSQL's own guarantees (`synchronous_commit` as the server is configured).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from homeserver.storage.database import (
    Connection,
    Row,
    advance_positions,
    check_args,
    check_rows,
    split_script,
)


def _rowcount(status: str) -> int:
    # asyncpg returns the command tag, e.g. "UPDATE 3" or "INSERT 0 1".
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class _PgConnection:
    """Statement helpers over one asyncpg connection."""

    def __init__(self, conn: Any, positions: dict[str, int] | None) -> None:
        self._conn = conn
        # None: inside a transaction, noted positions wait for COMMIT.
        self._positions = positions
        self.noted: dict[str, int] = {}

    async def execute(self, sql: str, *args: Any) -> int:
        check_args(args)
        return _rowcount(await self._conn.execute(sql, *args))

    async def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        check_rows(rows)
        await self._conn.executemany(sql, rows)

    async def fetch_one(self, sql: str, *args: Any) -> Row | None:
        check_args(args)
        row = await self._conn.fetchrow(sql, *args)
        return dict(row) if row is not None else None

    async def fetch_all(self, sql: str, *args: Any) -> list[Row]:
        check_args(args)
        return [dict(row) for row in await self._conn.fetch(sql, *args)]

    async def fetch_val(self, sql: str, *args: Any) -> Any:
        check_args(args)
        return await self._conn.fetchval(sql, *args)

    def note_position(self, stream: str, position: int) -> None:
        if self._positions is not None:
            advance_positions(self._positions, {stream: position})
        else:
            self.noted[stream] = max(position, self.noted.get(stream, 0))


class PostgresDatabase:
    """A `Database` on a PostgreSQL server through an asyncpg pool."""

    dialect = "postgres"

    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self.positions: dict[str, int] = {}

    @classmethod
    async def open(cls, dsn: str, *, min_size: int = 2, max_size: int = 10) -> PostgresDatabase:
        """Connect a pool to `dsn` (a `postgresql://` URL)."""
        pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size)
        return cls(pool)

    async def execute(self, sql: str, *args: Any) -> int:
        async with self._pool.acquire() as conn:
            return await _PgConnection(conn, self.positions).execute(sql, *args)

    async def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        async with self.transaction() as conn:
            await conn.execute_many(sql, rows)

    async def fetch_one(self, sql: str, *args: Any) -> Row | None:
        async with self._pool.acquire() as conn:
            return await _PgConnection(conn, self.positions).fetch_one(sql, *args)

    async def fetch_all(self, sql: str, *args: Any) -> list[Row]:
        async with self._pool.acquire() as conn:
            return await _PgConnection(conn, self.positions).fetch_all(sql, *args)

    async def fetch_val(self, sql: str, *args: Any) -> Any:
        async with self._pool.acquire() as conn:
            return await _PgConnection(conn, self.positions).fetch_val(sql, *args)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        async with self._pool.acquire() as conn:
            helper = _PgConnection(conn, None)
            async with conn.transaction():
                yield helper
            advance_positions(self.positions, helper.noted)

    async def run_script(self, script: str) -> None:
        async with self.transaction() as conn:
            for statement in split_script(script):
                await conn.execute(statement)

    def note_position(self, stream: str, position: int) -> None:
        advance_positions(self.positions, {stream: position})

    async def close(self) -> None:
        await self._pool.close()
