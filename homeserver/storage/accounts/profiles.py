"""Global profiles: display name and avatar URL."""

from __future__ import annotations

from core.identifiers import UserId
from homeserver.storage.database import Database


class ProfileStore:
    """Reads and writes `profiles`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get_profile(self, user_id: UserId) -> tuple[str | None, str | None] | None:
        """`(displayname, avatar_url)` of a user, or None when there is no such profile."""
        row = await self._db.fetch_one(
            "SELECT displayname, avatar_url FROM profiles WHERE user_id = $1", user_id
        )
        return (row["displayname"], row["avatar_url"]) if row else None

    async def set_field(self, user_id: UserId, field: str, value: str | None) -> None:
        """Set `displayname` or `avatar_url`."""
        if field not in ("displayname", "avatar_url"):
            raise ValueError(f"unknown profile field {field}")
        await self._db.execute(
            f"UPDATE profiles SET {field} = $2 WHERE user_id = $1",  # noqa: S608
            user_id,
            value,
        )
