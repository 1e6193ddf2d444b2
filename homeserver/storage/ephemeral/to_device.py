"""To-device messages: a per-device inbox ordered by the `to_device` stream.

Invariants:

- A send is one transaction: its transaction ID, and one inbox row per recipient device, all at
  one new stream position. A repeated transaction ID of the same device stores nothing.
- Messages stay in the inbox until the device syncs with a token past their position
  (`delete_through`), so a lost response or a restart never loses one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.errors import JsonDict
from core.identifiers import DeviceId, UserId
from homeserver.storage.database import Connection, Database
from homeserver.storage.json_rows import dump_json
from homeserver.storage.sealing import TO_DEVICE, Sealer
from homeserver.storage.streams import current_position, next_position

TO_DEVICE_STREAM = "to_device"
ALL_DEVICES = "*"
# Transaction IDs are remembered this long for idempotency.
TXN_RETENTION_MS = 24 * 60 * 60 * 1000


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to one device of a local user (`device_id` may be `*`, and is only
    matched against the user's devices, never trusted)."""

    user_id: UserId
    device_id: str
    message: JsonDict


@dataclass(frozen=True, slots=True)
class InboxMessage:
    """A stored message and its stream position."""

    stream_id: int
    message: JsonDict


class ToDeviceStore:
    """Reads and writes `to_device_inbox` (messages sealed by `sealer`) and `to_device_txns`."""

    def __init__(self, db: Database, sealer: Sealer) -> None:
        self._db = db
        self._sealer = sealer

    async def position(self) -> int:
        """The latest to-device stream position."""
        return await current_position(self._db, TO_DEVICE_STREAM)

    async def send(
        self,
        sender: tuple[UserId, DeviceId],
        txn_id: str,
        messages: Sequence[Outgoing],
        now_ms: int,
    ) -> set[UserId] | None:
        """Store a send; returns the users with a new message, or None for a repeated txn.

        Args:
            sender: The sending `(user_id, device_id)`.
            txn_id: The client's transaction ID.
            messages: The messages; `*` fans out to every device of the user, and messages to
                devices that do not exist are dropped.
            now_ms: The current time.
        """
        async with self._db.transaction() as conn:
            await conn.execute(
                "DELETE FROM to_device_txns WHERE user_id = $1 AND device_id = $2"
                " AND created_ts < $3",
                sender[0],
                sender[1],
                now_ms - TXN_RETENTION_MS,
            )
            fresh = await conn.execute(
                "INSERT INTO to_device_txns (user_id, device_id, txn_id, created_ts)"
                " VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, device_id, txn_id) DO NOTHING",
                sender[0],
                sender[1],
                txn_id,
                now_ms,
            )
            if not fresh:
                return None
            rows = await _expand(conn, messages)
            if not rows:
                return set()
            position = await next_position(conn, TO_DEVICE_STREAM)
            await conn.execute_many(
                "INSERT INTO to_device_inbox (user_id, device_id, stream_id, message_json)"
                " VALUES ($1, $2, $3, $4)",
                [
                    (user_id, device_id, position, self._seal(user_id, device_id, position, body))
                    for user_id, device_id, body in rows
                ],
            )
        return {user_id for user_id, _, _ in rows}

    def _seal(self, user_id: str, device_id: str, position: int, body: str) -> str:
        return self._sealer.seal(TO_DEVICE, (user_id, device_id, position), body)

    async def messages(
        self, user_id: UserId, device_id: DeviceId, after: int, upto: int, limit: int
    ) -> list[InboxMessage]:
        """Up to `limit` messages of a device in (after, upto], oldest first."""
        rows = await self._db.fetch_all(
            "SELECT user_id, device_id, stream_id, message_json FROM to_device_inbox"
            " WHERE user_id = $1 AND device_id = $2 AND stream_id > $3 AND stream_id <= $4"
            " ORDER BY stream_id LIMIT $5",
            user_id,
            device_id,
            after,
            upto,
            limit,
        )
        readable = self._sealer.readable(rows, TO_DEVICE)
        return [InboxMessage(int(r["stream_id"]), message) for r, message in readable]

    async def delete_through(self, user_id: UserId, device_id: DeviceId, upto: int) -> int:
        """Delete a device's messages at or before `upto` (acknowledged); returns how many."""
        return await self._db.execute(
            "DELETE FROM to_device_inbox WHERE user_id = $1 AND device_id = $2 AND stream_id <= $3",
            user_id,
            device_id,
            upto,
        )


async def _expand(conn: Connection, messages: Sequence[Outgoing]) -> list[tuple[UserId, str, str]]:
    """`(user_id, device_id, json)` per existing recipient device, `*` fanned out."""
    devices: dict[UserId, set[str]] = {}
    for user_id in {m.user_id for m in messages}:
        found = await conn.fetch_all("SELECT device_id FROM devices WHERE user_id = $1", user_id)
        devices[user_id] = {r["device_id"] for r in found}
    rows: dict[tuple[UserId, str], str] = {}
    for m in messages:
        body = dump_json(m.message)
        targets = devices[m.user_id] if m.device_id == ALL_DEVICES else {m.device_id}
        for device_id in sorted(targets & devices[m.user_id]):
            rows[(m.user_id, device_id)] = body
    return [(user_id, device_id, body) for (user_id, device_id), body in rows.items()]


async def delete_device_inbox(conn: Connection, user_id: UserId, device_id: DeviceId) -> None:
    """Delete a device's pending messages and transaction IDs, in the caller's transaction."""
    for table in ("to_device_inbox", "to_device_txns"):
        await conn.execute(
            f"DELETE FROM {table} WHERE user_id = $1 AND device_id = $2",  # noqa: S608
            user_id,
            device_id,
        )
