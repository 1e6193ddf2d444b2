"""Devices and the tokens bound to them.

Deleting a device deletes its access and refresh tokens in the same transaction, so a removed
device can never authenticate again even after a crash half-way; its end-to-end keys and
pending to-device messages go in that transaction too, with a device-list change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.identifiers import DeviceId, UserId
from homeserver.caching import CacheInvalidator
from homeserver.storage.accounts.token_cache import ACCESS_TOKENS
from homeserver.storage.database import Connection, Database
from homeserver.storage.e2ee.device_lists import record_change
from homeserver.storage.e2ee.keys import delete_device_e2e_rows


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """One device of a user."""

    user_id: UserId
    device_id: DeviceId
    display_name: str | None
    last_seen_ts: int | None
    last_seen_ip: str | None


_COLUMNS = "user_id, device_id, display_name, last_seen_ts, last_seen_ip"


def _device(row: dict[str, object]) -> DeviceRecord:
    return DeviceRecord(
        user_id=UserId(str(row["user_id"])),
        device_id=DeviceId(str(row["device_id"])),
        display_name=row["display_name"] if isinstance(row["display_name"], str) else None,
        last_seen_ts=row["last_seen_ts"] if isinstance(row["last_seen_ts"], int) else None,
        last_seen_ip=row["last_seen_ip"] if isinstance(row["last_seen_ip"], str) else None,
    )


class DeviceStore:
    """Reads and writes `devices`, and removes tokens together with their device."""

    def __init__(self, db: Database, caches: CacheInvalidator) -> None:
        self._db = db
        self._caches = caches

    async def ensure_device(
        self,
        conn: Connection,
        user_id: UserId,
        device_id: DeviceId,
        display_name: str | None,
        now_ms: int,
    ) -> None:
        """Create the device if new; a given display name replaces the old one."""
        await conn.execute(
            "INSERT INTO devices (user_id, device_id, display_name, created_ts)"
            " VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (user_id, device_id) DO UPDATE SET display_name ="
            " COALESCE(excluded.display_name, devices.display_name)",
            user_id,
            device_id,
            display_name,
            now_ms,
        )

    async def get_device(self, user_id: UserId, device_id: DeviceId) -> DeviceRecord | None:
        """One device, or None."""
        row = await self._db.fetch_one(
            f"SELECT {_COLUMNS} FROM devices WHERE user_id = $1 AND device_id = $2",  # noqa: S608
            user_id,
            device_id,
        )
        return _device(row) if row else None

    async def get_devices(self, user_id: UserId) -> list[DeviceRecord]:
        """All devices of a user, ordered by device ID."""
        rows = await self._db.fetch_all(
            f"SELECT {_COLUMNS} FROM devices WHERE user_id = $1 ORDER BY device_id",  # noqa: S608
            user_id,
        )
        return [_device(row) for row in rows]

    async def set_display_name(
        self, user_id: UserId, device_id: DeviceId, name: str | None
    ) -> bool:
        """Rename a device (a device-list change: keys carry it); False if it does not exist."""
        async with self._db.transaction() as conn:
            changed = await conn.execute(
                "UPDATE devices SET display_name = $3 WHERE user_id = $1 AND device_id = $2",
                user_id,
                device_id,
                name,
            )
            if changed:
                await record_change(conn, user_id)
        return changed > 0

    async def touch(
        self, user_id: UserId, device_id: DeviceId, ip: str | None, now_ms: int
    ) -> None:
        """Record the device's last use."""
        await self._db.execute(
            "UPDATE devices SET last_seen_ts = $3, last_seen_ip = $4"
            " WHERE user_id = $1 AND device_id = $2",
            user_id,
            device_id,
            now_ms,
            ip,
        )

    async def delete_devices(self, user_id: UserId, device_ids: Sequence[DeviceId]) -> None:
        """Delete devices and every token bound to them, atomically."""
        async with self._db.transaction() as conn:
            for device_id in device_ids:
                await delete_device_rows(conn, user_id, device_id)
        self._caches.invalidate(ACCESS_TOKENS, user_id)


async def delete_device_rows(conn: Connection, user_id: UserId, device_id: DeviceId) -> None:
    """Delete one device's row, tokens and end-to-end keys and messages in the caller's
    transaction."""
    await delete_device_e2e_rows(conn, user_id, device_id)
    for table in ("access_tokens", "refresh_tokens", "devices"):
        await conn.execute(
            f"DELETE FROM {table} WHERE user_id = $1 AND device_id = $2",  # noqa: S608
            user_id,
            device_id,
        )
