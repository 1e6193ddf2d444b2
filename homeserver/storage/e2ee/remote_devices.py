"""Remote users' device lists and cross-signing keys, as their servers told us.

A remote user's list is cached while the user shares a room with one of our users: the last
`m.device_list_update` `stream_id` seen (the head), the devices, and the master and
self-signing keys (kept in `e2e_cross_signing_keys` beside our own users' keys, so
`/keys/query` and cross-signing read both the same way).

Invariants: a head moves only forward; a gap (or a reason to doubt the list) marks it stale
until a resync replaces the whole list. Every change is recorded on the device-list stream in
the transaction that makes it, so local `/sync` and `/keys/changes` report it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.errors import JsonDict
from core.identifiers import DeviceId, RoomId, UserId
from homeserver.storage.database import Connection, Database
from homeserver.storage.e2ee.cross_signing import sealed_key_json
from homeserver.storage.e2ee.device_lists import record_change
from homeserver.storage.json_rows import dump_json, load_json
from homeserver.storage.sealing import Sealer

__all__ = ["RemoteCrossSigningKey", "RemoteDevice", "RemoteDeviceHead", "RemoteDeviceStore"]


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


@dataclass(frozen=True, slots=True)
class RemoteCrossSigningKey:
    """A remote user's master or self-signing key, checked by the caller."""

    key_type: str
    public_key: str
    key_json: JsonDict


class RemoteDeviceStore:
    """Reads and writes `remote_device_list_heads`, `remote_devices` and remote users' rows of
    `e2e_cross_signing_keys`."""

    def __init__(self, db: Database, sealer: Sealer) -> None:
        self._db = db
        self._sealer = sealer

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
            await record_change(conn, user_id)

    async def replace_devices(
        self,
        user_id: UserId,
        stream_id: int,
        devices: Sequence[RemoteDevice],
        cross_signing: Sequence[RemoteCrossSigningKey],
    ) -> bool:
        """Replace the user's whole device list (a resync), store the cross-signing keys that
        came with it and clear the stale mark; returns False (and changes nothing) when an
        update newer than the resync's answer was applied meanwhile."""
        async with self._db.transaction() as conn:
            head = await conn.fetch_one(
                "SELECT stream_id, stale FROM remote_device_list_heads WHERE user_id = $1",
                user_id,
            )
            if head is not None and not head["stale"] and int(head["stream_id"]) > stream_id:
                return False
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
            await _put_cross_signing(conn, self._sealer, user_id, cross_signing)
            await _set_head(conn, user_id, stream_id, False)
            await record_change(conn, user_id)
        return True

    async def put_cross_signing(
        self, user_id: UserId, keys: Sequence[RemoteCrossSigningKey]
    ) -> None:
        """Store a remote user's new cross-signing keys (`m.signing_key_update`)."""
        async with self._db.transaction() as conn:
            await _put_cross_signing(conn, self._sealer, user_id, keys)
            await record_change(conn, user_id)

    async def mark_stale(self, user_id: UserId) -> None:
        """Mark a cached device list as needing a resync (nothing when none is cached)."""
        await self._db.execute(
            "UPDATE remote_device_list_heads SET stale = 1 WHERE user_id = $1", user_id
        )

    async def mark_room_stale(self, room_id: RoomId) -> None:
        """Mark the cached device lists of everyone joined to the room as needing a resync."""
        await self._db.execute(
            "UPDATE remote_device_list_heads SET stale = 1 WHERE user_id IN"
            " (SELECT user_id FROM memberships WHERE room_id = $1 AND membership = 'join')",
            room_id,
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

    async def shares_room_with_local_user(self, user_id: UserId) -> bool:
        """Whether `user_id` is joined to a room one of our users is joined to."""
        found = await self._db.fetch_val(
            "SELECT 1 FROM memberships m1 JOIN memberships m2 ON m2.room_id = m1.room_id"
            " WHERE m1.user_id = $1 AND m1.membership = 'join' AND m2.membership = 'join'"
            " AND m2.user_id IN (SELECT user_id FROM users) LIMIT 1",
            user_id,
        )
        return found is not None


async def _put_cross_signing(
    conn: Connection, sealer: Sealer, user_id: UserId, keys: Sequence[RemoteCrossSigningKey]
) -> None:
    for key in keys:
        await conn.execute(
            "INSERT INTO e2e_cross_signing_keys (user_id, key_type, public_key, key_json)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, key_type) DO UPDATE SET"
            " public_key = excluded.public_key, key_json = excluded.key_json",
            user_id,
            key.key_type,
            key.public_key,
            sealed_key_json(sealer, user_id, key.key_type, key.key_json),
        )


async def _set_head(conn: Connection, user_id: UserId, stream_id: int, stale: bool) -> None:
    await conn.execute(
        "INSERT INTO remote_device_list_heads (user_id, stream_id, stale) VALUES ($1, $2, $3)"
        " ON CONFLICT (user_id) DO UPDATE SET stream_id = EXCLUDED.stream_id,"
        " stale = EXCLUDED.stale",
        user_id,
        stream_id,
        1 if stale else 0,
    )
