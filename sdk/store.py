"""The SDK's local store: one aiosqlite file per account and device.

It keeps the account it belongs to (user and device ID, never the access token), the sync token,
each room's record and current state events, global account data, and a namespaced key-value
table for other SDK layers (the crypto layer keeps its Olm/Megolm state there). Layers that need
tables of their own (the local search index, `sdk.search`) use `transaction` and `fetch_all`.

Invariants: `save_sync` writes the token together with the room changes of the same sync in one
transaction, so a restart resumes from a token whose state is on disk. Deleted content is
overwritten (`secure_delete`), and `scrub` empties the WAL, so a dropped message leaves no copy. Every write holds one lock,
so a key-value write can never land inside (or commit) another writer's transaction. The file is
created with mode 0600 (it may hold key material).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import aiosqlite

from core.errors import JsonDict
from sdk.errors import StoreMismatchError
from sdk.state import ClientState, SyncChanges

__all__ = ["Store"]

_VERSION: Final = 1
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rooms (room_id TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS room_state (
    room_id TEXT NOT NULL, type TEXT NOT NULL, state_key TEXT NOT NULL, event TEXT NOT NULL,
    PRIMARY KEY (room_id, type, state_key)
);
CREATE TABLE IF NOT EXISTS account_data (type TEXT PRIMARY KEY, content TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS kv (
    namespace TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,
    PRIMARY KEY (namespace, key)
);
"""


class Store:
    """A local store in an SQLite file (or `:memory:`). Use `Store.open`."""

    def __init__(self, db: aiosqlite.Connection, path: str) -> None:
        """Use `open` instead."""
        self._db = db
        self._lock = asyncio.Lock()
        self.path = path

    def __repr__(self) -> str:
        return f"Store({self.path!r})"

    @classmethod
    async def open(cls, path: str | Path) -> Store:
        """Open or create the store at `path` (`":memory:"` for a throwaway one)."""
        name = str(path)
        if name != ":memory:":
            await asyncio.to_thread(_create_private, name)
        db = await aiosqlite.connect(name)
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=FULL")
        # What is deleted or rewritten (an expired message) is overwritten, not left in the file.
        await db.execute("PRAGMA secure_delete=ON")
        await db.executescript(_SCHEMA)
        await db.execute(f"PRAGMA user_version={_VERSION}")
        await db.commit()
        return cls(db, name)

    async def close(self) -> None:
        """Close the file."""
        async with self._lock:
            await self._db.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def transaction(self) -> AbstractAsyncContextManager[aiosqlite.Connection]:
        """The store's connection, for other SDK layers (the local search index): what is
        done through it commits together, under the store's write lock."""
        return self._transaction()

    async def fetch_all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of a read-only query (for other SDK layers)."""
        async with self._db.execute(sql, params) as cursor:
            return [tuple(row) for row in await cursor.fetchall()]

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            try:
                yield self._db
            except BaseException:
                await self._db.rollback()
                raise
            await self._db.commit()

    async def scrub(self) -> None:
        """Copy the WAL into the file and empty it, so that no old page (a deleted message)
        stays in the WAL; deleted content in the file itself is zeroed (`secure_delete`)."""
        async with self._lock:
            await self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    async def _meta(self, key: str) -> str | None:
        async with self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)) as cursor:
            row = await cursor.fetchone()
        return str(row[0]) if row is not None else None

    # Account -------------------------------------------------------------------------------

    async def account(self) -> tuple[str, str] | None:
        """The (user ID, device ID) this store belongs to, or None if it is new."""
        user_id, device_id = await self._meta("user_id"), await self._meta("device_id")
        if user_id is None or device_id is None:
            return None
        return user_id, device_id

    async def bind_account(self, user_id: str, device_id: str) -> None:
        """Claim a new store for this account, or check it is this account's.

        Raises:
            StoreMismatchError: The store belongs to another user or device.
        """
        current = await self.account()
        if current == (user_id, device_id):
            return
        if current is not None:
            raise StoreMismatchError(
                f"store {self.path} belongs to user_id={current[0]} device_id={current[1]}"
            )
        async with self._transaction() as db:
            await db.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [("user_id", user_id), ("device_id", device_id)],
            )

    # Sync state ----------------------------------------------------------------------------

    async def load_state(self, state: ClientState) -> None:
        """Fill `state` with the stored token, rooms and account data."""
        state.next_batch = await self._meta("next_batch")
        async with self._db.execute("SELECT type, content FROM account_data") as cursor:
            state.account_data = {str(t): json.loads(c) async for t, c in cursor}
        events: dict[str, list[JsonDict]] = {}
        async with self._db.execute("SELECT room_id, event FROM room_state") as cursor:
            async for room_id, event in cursor:
                events.setdefault(str(room_id), []).append(json.loads(event))
        async with self._db.execute("SELECT room_id, record FROM rooms") as cursor:
            rows = [(str(r), json.loads(rec)) async for r, rec in cursor]
        for room_id, record in rows:
            state.load_room(room_id, record, events.get(room_id, []))

    async def save_sync(self, state: ClientState, changes: SyncChanges) -> None:
        """Persist one applied sync: changed rooms and state events, account data, the token."""
        async with self._transaction() as db:
            for room_id in changes.rooms:
                record = json.dumps(state.room_record(room_id))
                await db.execute(
                    "INSERT OR REPLACE INTO rooms (room_id, record) VALUES (?, ?)",
                    (room_id, record),
                )
            rows = []
            for room_id, keys in changes.state.items():
                room = state.rooms[room_id]
                for key in keys:
                    rows.append((room_id, key[0], key[1], json.dumps(room.state[key].raw)))
            await db.executemany(
                "INSERT OR REPLACE INTO room_state (room_id, type, state_key, event) "
                "VALUES (?, ?, ?, ?)",
                rows,
            )
            await db.executemany(
                "INSERT OR REPLACE INTO account_data (type, content) VALUES (?, ?)",
                [(t, json.dumps(state.account_data[t])) for t in changes.account_data],
            )
            if state.next_batch is not None:
                await db.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('next_batch', ?)",
                    (state.next_batch,),
                )

    async def next_batch(self) -> str | None:
        """The stored sync token."""
        return await self._meta("next_batch")

    async def clear_sync_state(self) -> None:
        """Forget the token, rooms and account data (the next sync starts afresh)."""
        async with self._transaction() as db:
            for table in ("rooms", "room_state", "account_data"):
                await db.execute(f"DELETE FROM {table}")  # noqa: S608 (fixed table names)
            await db.execute("DELETE FROM meta WHERE key = 'next_batch'")

    # Key-value -----------------------------------------------------------------------------

    async def kv_get(self, namespace: str, key: str) -> bytes | None:
        """The value at (namespace, key), if any."""
        async with self._db.execute(
            "SELECT value FROM kv WHERE namespace = ? AND key = ?", (namespace, key)
        ) as cursor:
            row = await cursor.fetchone()
        return bytes(row[0]) if row is not None else None

    async def kv_items(self, namespace: str) -> dict[str, bytes]:
        """Every key and value of a namespace."""
        async with self._db.execute(
            "SELECT key, value FROM kv WHERE namespace = ?", (namespace,)
        ) as cursor:
            return {str(k): bytes(v) async for k, v in cursor}

    async def kv_put(self, namespace: str, key: str, value: bytes) -> None:
        """Store one value."""
        await self.kv_save({(namespace, key): value})

    async def kv_delete(self, namespace: str, key: str) -> None:
        """Delete one value (no error if absent)."""
        await self.kv_save({(namespace, key): None})

    async def kv_save(self, changes: Mapping[tuple[str, str], bytes | None]) -> None:
        """Write a batch atomically: (namespace, key) → value, or None to delete."""
        async with self._transaction() as db:
            for (namespace, key), value in changes.items():
                if value is None:
                    await db.execute(
                        "DELETE FROM kv WHERE namespace = ? AND key = ?", (namespace, key)
                    )
                else:
                    await db.execute(
                        "INSERT OR REPLACE INTO kv (namespace, key, value) VALUES (?, ?, ?)",
                        (namespace, key, value),
                    )

    async def kv_get_json(self, namespace: str, key: str) -> JsonDict | None:
        """A JSON object stored with `kv_put_json`."""
        raw = await self.kv_get(namespace, key)
        return json.loads(raw) if raw is not None else None

    async def kv_put_json(self, namespace: str, key: str, value: JsonDict) -> None:
        """Store a JSON object."""
        await self.kv_put(namespace, key, json.dumps(value).encode())


def _create_private(path: str) -> None:
    """Create the file readable by its owner only, unless it exists."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
