"""What inbound transactions leave behind: the answers of transactions already handled, and
remote users' device lists as their servers announced them.

Invariants: an answered transaction is stored once per (origin, txn_id) and never changed;
answers older than the retention are deleted when new ones are stored. A remote user's device
list head moves only forward; a gap marks the user stale until a resync replaces the list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from core.errors import JsonDict
from core.identifiers import DeviceId, ServerName, UserId
from homeserver.storage.database import Connection, Database
from homeserver.storage.json_rows import dump_json, load_json

__all__ = ["InboundStore", "RemoteDevice", "RemoteDeviceHead"]

TXN_RETENTION_MS: Final = 24 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class RemoteDevice:
    """A device of a remote user."""

    device_id: DeviceId
    display_name: str | None
    keys: JsonDict | None


@dataclass(frozen=True, slots=True)
class RemoteDeviceHead:
    """The last device list update seen for a remote user."""

    stream_id: int
    stale: bool


class InboundStore:
    """Reads and writes `federation_inbound_txns`, `remote_device_list_heads` and
    `remote_devices`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def transaction_response(self, origin: ServerName, txn_id: str) -> JsonDict | None:
        """The answer given to `origin`'s transaction `txn_id`, if it was handled."""
        text = await self._db.fetch_val(
            "SELECT response FROM federation_inbound_txns WHERE origin = $1 AND txn_id = $2",
            origin,
            txn_id,
        )
        value = load_json(text, table="federation_inbound_txns", key=txn_id)
        return value if isinstance(value, dict) else None

    async def put_transaction_response(
        self, origin: ServerName, txn_id: str, response: JsonDict, now_ms: int
    ) -> None:
        """Remember the answer to `origin`'s transaction `txn_id` (the first one stays)."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "DELETE FROM federation_inbound_txns WHERE received_ts < $1",
                now_ms - TXN_RETENTION_MS,
            )
            await conn.execute(
                "INSERT INTO federation_inbound_txns (origin, txn_id, response, received_ts)"
                " VALUES ($1, $2, $3, $4) ON CONFLICT (origin, txn_id) DO NOTHING",
                origin,
                txn_id,
                dump_json(response),
                now_ms,
            )

    async def device_head(self, user_id: UserId) -> RemoteDeviceHead | None:
        """The last device list update seen for `user_id`, if any."""
        row = await self._db.fetch_one(
            "SELECT stream_id, stale FROM remote_device_list_heads WHERE user_id = $1", user_id
        )
        if row is None:
            return None
        return RemoteDeviceHead(int(row["stream_id"]), bool(row["stale"]))

    async def apply_device_update(
        self,
        user_id: UserId,
        stream_id: int,
        device: RemoteDevice,
        *,
        deleted: bool,
        stale: bool,
    ) -> None:
        """Store one `m.device_list_update`: the device (or its deletion) and the new head."""
        async with self._db.transaction() as conn:
            if deleted:
                await conn.execute(
                    "DELETE FROM remote_devices WHERE user_id = $1 AND device_id = $2",
                    user_id,
                    device.device_id,
                )
            else:
                await conn.execute(
                    "INSERT INTO remote_devices (user_id, device_id, display_name, keys)"
                    " VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, device_id) DO UPDATE SET"
                    " display_name = EXCLUDED.display_name, keys = EXCLUDED.keys",
                    user_id,
                    device.device_id,
                    device.display_name,
                    dump_json(device.keys) if device.keys is not None else None,
                )
            await _set_head(conn, user_id, stream_id, stale)

    async def replace_devices(
        self, user_id: UserId, stream_id: int, devices: Sequence[RemoteDevice]
    ) -> None:
        """Replace the user's whole device list (a resync) and clear the stale mark."""
        async with self._db.transaction() as conn:
            await conn.execute("DELETE FROM remote_devices WHERE user_id = $1", user_id)
            await conn.execute_many(
                "INSERT INTO remote_devices (user_id, device_id, display_name, keys)"
                " VALUES ($1, $2, $3, $4)",
                [
                    (
                        user_id,
                        d.device_id,
                        d.display_name,
                        dump_json(d.keys) if d.keys is not None else None,
                    )
                    for d in devices
                ],
            )
            await _set_head(conn, user_id, stream_id, False)

    async def mark_stale(self, user_id: UserId) -> None:
        """Mark the user's device list as needing a resync."""
        await self._db.execute(
            "INSERT INTO remote_device_list_heads (user_id, stream_id, stale) VALUES ($1, 0, 1)"
            " ON CONFLICT (user_id) DO UPDATE SET stale = 1",
            user_id,
        )

    async def devices(self, user_id: UserId) -> list[RemoteDevice]:
        """The stored devices of a remote user, by device ID."""
        rows = await self._db.fetch_all(
            "SELECT device_id, display_name, keys FROM remote_devices WHERE user_id = $1"
            " ORDER BY device_id",
            user_id,
        )
        found: list[RemoteDevice] = []
        for row in rows:
            keys = load_json(row["keys"], table="remote_devices", key=row["device_id"])
            found.append(
                RemoteDevice(
                    DeviceId(row["device_id"]),
                    row["display_name"],
                    keys if isinstance(keys, dict) else None,
                )
            )
        return found


async def _set_head(conn: Connection, user_id: UserId, stream_id: int, stale: bool) -> None:
    await conn.execute(
        "INSERT INTO remote_device_list_heads (user_id, stream_id, stale) VALUES ($1, $2, $3)"
        " ON CONFLICT (user_id) DO UPDATE SET stream_id = EXCLUDED.stream_id,"
        " stale = EXCLUDED.stale",
        user_id,
        stream_id,
        1 if stale else 0,
    )
