"""Our users' device lists as last announced to other servers.

Invariant: a user's stream IDs only increase (the largest stored one, deleted devices
included, is the user's head), so every `m.device_list_update` can name the previous one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.identifiers import DeviceId, UserId
from homeserver.storage.database import Database

__all__ = ["Announcement", "DeviceAnnouncementStore"]


@dataclass(frozen=True, slots=True)
class Announcement:
    """The last update announced for one device."""

    device_id: DeviceId
    stream_id: int
    fingerprint: str
    deleted: bool


class DeviceAnnouncementStore:
    """Reads and writes `device_list_announcements`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def announced(self, user_id: UserId) -> list[Announcement]:
        """Every device of the user ever announced, by device ID."""
        rows = await self._db.fetch_all(
            "SELECT device_id, stream_id, fingerprint, deleted FROM device_list_announcements"
            " WHERE user_id = $1 ORDER BY device_id",
            user_id,
        )
        return [
            Announcement(
                DeviceId(r["device_id"]), int(r["stream_id"]), r["fingerprint"], bool(r["deleted"])
            )
            for r in rows
        ]

    async def record(self, user_id: UserId, announcements: Sequence[Announcement]) -> None:
        """Store what was just announced."""
        await self._db.execute_many(
            "INSERT INTO device_list_announcements"
            " (user_id, device_id, stream_id, fingerprint, deleted) VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT (user_id, device_id) DO UPDATE SET stream_id = EXCLUDED.stream_id,"
            " fingerprint = EXCLUDED.fingerprint, deleted = EXCLUDED.deleted",
            [
                (user_id, a.device_id, a.stream_id, a.fingerprint, 1 if a.deleted else 0)
                for a in announcements
            ],
        )
