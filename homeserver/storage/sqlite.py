"""The SQLite backend (aiosqlite): the embedded default.

One writer connection serialised by an asyncio lock (SQLite allows one writer at a time, and a
single connection keeps transactions from interleaving) plus a small pool of read-only
connections: in WAL mode readers see every committed transaction and never wait for the writer.
`synchronous=FULL` makes every acknowledged commit durable against a crash of the process or
the machine. Placeholders `$1..$n` are rewritten to SQLite's numbered `?1..?n` form.
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import aiosqlite

from homeserver.storage.database import (
    Connection,
    Row,
    advance_positions,
    check_args,
    check_rows,
    split_script,
)

_PLACEHOLDER = re.compile(r"\$(\d+)")
READERS = 3


@lru_cache(maxsize=2048)
def _translate(sql: str) -> str:
    return _PLACEHOLDER.sub(r"?\1", sql)


@lru_cache(maxsize=2048)
def _is_read(sql: str) -> bool:
    # `UPDATE … RETURNING` also fetches rows; only plain queries may go to a reader.
    head = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
    return head in ("SELECT", "WITH") and "RETURNING" not in sql.upper()


class _SqliteConnection:
    """Statement helpers over one aiosqlite connection (the caller holds the lock)."""

    def __init__(self, conn: aiosqlite.Connection, positions: dict[str, int] | None) -> None:
        self._conn = conn
        # None: autocommit, a noted position is committed already; else noted until COMMIT.
        self._positions = positions
        self.noted: dict[str, int] = {}

    async def execute(self, sql: str, *args: Any) -> int:
        check_args(args)
        cursor = await self._conn.execute(_translate(sql), args)
        count = cursor.rowcount
        await cursor.close()
        return count

    async def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        check_rows(rows)
        await self._conn.executemany(_translate(sql), rows)

    async def fetch_one(self, sql: str, *args: Any) -> Row | None:
        rows = await self._rows(sql, args)
        return dict(rows[0]) if rows else None

    async def fetch_all(self, sql: str, *args: Any) -> list[Row]:
        return [dict(row) for row in await self._rows(sql, args)]

    async def fetch_val(self, sql: str, *args: Any) -> Any:
        rows = await self._rows(sql, args)
        return rows[0][0] if rows else None

    async def _rows(self, sql: str, args: tuple[Any, ...]) -> list[sqlite3.Row]:
        """Run a query and fetch its rows in one trip to the connection's thread (a trip
        costs more than a small query: a queue hand-off, a wake-up of the event loop and the
        GIL changing hands twice). Single-row reads are keyed or `LIMIT 1`, so fetching all
        rows reads no more than stepping once would."""
        check_args(args)
        return list(await self._conn.execute_fetchall(_translate(sql), args))

    def note_position(self, stream: str, position: int) -> None:
        if self._positions is not None:
            advance_positions(self._positions, {stream: position})
        else:
            self.noted[stream] = max(position, self.noted.get(stream, 0))


async def _to_the_end(statement: Awaitable[object]) -> None:
    """Await `statement` until it has run, even if the caller is cancelled meanwhile.

    aiosqlite runs a statement in its thread whatever happens to the task awaiting it, so a
    cancelled BEGIN, COMMIT or ROLLBACK still takes effect; the transaction must know it did.
    A cancellation that arrives meanwhile is raised once the statement is over.
    """
    task = asyncio.ensure_future(statement)
    cancelled = False
    while not task.done():
        try:
            await asyncio.wait([task])
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        if not task.cancelled():
            task.exception()  # retrieved: the cancellation wins over the statement's error
        raise asyncio.CancelledError
    task.result()


def _make_private(path: Path) -> None:
    """Create the database file with mode 0600 (or take group and other access from one).

    SQLite creates the `-wal` and `-shm` files with the database file's mode, so they follow;
    ones left over from an older, more open file are tightened too.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            mode = name.stat().st_mode
            if mode & 0o077:
                name.chmod(mode & 0o700)
        except FileNotFoundError:
            continue
        except PermissionError:  # another user's file: its owner decides
            continue


async def _connect(path: str, *, read_only: bool) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    pragmas = ["PRAGMA busy_timeout=5000", "PRAGMA foreign_keys=ON"]
    if read_only:
        pragmas.append("PRAGMA query_only=ON")
    else:
        pragmas[:0] = ["PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL"]
    for pragma in pragmas:
        await conn.execute(pragma)
    return conn


class SqliteDatabase:
    """A `Database` on one SQLite file."""

    dialect = "sqlite"

    def __init__(self, writer: aiosqlite.Connection, readers: list[aiosqlite.Connection]) -> None:
        self._conn = writer
        self.positions: dict[str, int] = {}
        self._helpers = _SqliteConnection(writer, self.positions)
        self._lock = asyncio.Lock()
        self._readers = asyncio.Queue[_SqliteConnection]()
        for reader in readers:
            self._readers.put_nowait(_SqliteConnection(reader, self.positions))
        self._all = [writer, *readers]

    @classmethod
    async def open(cls, path: Path | str, readers: int = READERS) -> SqliteDatabase:
        """Open (creating if needed) the database file, a writer and `readers` readers."""
        if str(path) == ":memory:":
            # An in-memory database exists per connection: readers could not see it.
            return cls(await _connect(":memory:", read_only=False), [])
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        _make_private(Path(path))
        writer = await _connect(str(path), read_only=False)
        pool = [await _connect(str(path), read_only=True) for _ in range(readers)]
        return cls(writer, pool)

    async def execute(self, sql: str, *args: Any) -> int:
        async with self._lock:
            return await self._helpers.execute(sql, *args)

    async def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        async with self.transaction() as conn:
            await conn.execute_many(sql, rows)

    @asynccontextmanager
    async def _reader(self, sql: str) -> AsyncIterator[_SqliteConnection]:
        if len(self._all) == 1 or not _is_read(sql):
            async with self._lock:
                yield self._helpers
            return
        reader = await self._readers.get()
        try:
            yield reader
        finally:
            self._readers.put_nowait(reader)

    async def fetch_one(self, sql: str, *args: Any) -> Row | None:
        async with self._reader(sql) as reader:
            return await reader.fetch_one(sql, *args)

    async def fetch_all(self, sql: str, *args: Any) -> list[Row]:
        async with self._reader(sql) as reader:
            return await reader.fetch_all(sql, *args)

    async def fetch_val(self, sql: str, *args: Any) -> Any:
        async with self._reader(sql) as reader:
            return await reader.fetch_val(sql, *args)

    def note_position(self, stream: str, position: int) -> None:
        advance_positions(self.positions, {stream: position})

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        async with self._lock:
            conn = _SqliteConnection(self._conn, None)
            try:
                await _to_the_end(self._conn.execute_fetchall("BEGIN IMMEDIATE"))
                yield conn
            except BaseException:
                # Also when BEGIN ran but its caller was cancelled: never leave a transaction
                # open on the shared writer for the next caller's BEGIN to trip over.
                if self._conn.in_transaction:
                    await _to_the_end(self._conn.execute_fetchall("ROLLBACK"))
                raise
            await _to_the_end(self._conn.execute_fetchall("COMMIT"))
            advance_positions(self.positions, conn.noted)

    async def run_script(self, script: str) -> None:
        async with self.transaction() as conn:
            for statement in split_script(script):
                await conn.execute(statement)

    async def close(self) -> None:
        for conn in self._all:
            await conn.close()
