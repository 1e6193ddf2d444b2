"""Accounts: user rows, password hashes, admin and deactivation flags."""

from __future__ import annotations

from dataclasses import dataclass

from core.identifiers import UserId
from homeserver.caching import CacheInvalidator
from homeserver.storage.accounts.token_cache import ACCESS_TOKENS
from homeserver.storage.database import Database


@dataclass(frozen=True, slots=True)
class UserRecord:
    """One account as stored."""

    user_id: UserId
    password_hash: str | None
    is_admin: bool
    deactivated: bool
    created_ts: int


class UserStore:
    """Reads and writes the `users` table."""

    def __init__(self, db: Database, caches: CacheInvalidator) -> None:
        self._db = db
        self._caches = caches

    async def create_user(
        self, user_id: UserId, password_hash: str | None, *, is_admin: bool, now_ms: int
    ) -> bool:
        """Insert a new account with an empty profile; False if the ID is already taken."""
        async with self._db.transaction() as conn:
            # ON CONFLICT makes two concurrent registrations of one name a clean refusal.
            inserted = await conn.execute(
                "INSERT INTO users (user_id, password_hash, is_admin, deactivated, created_ts)"
                " VALUES ($1, $2, $3, 0, $4) ON CONFLICT (user_id) DO NOTHING",
                user_id,
                password_hash,
                int(is_admin),
                now_ms,
            )
            if not inserted:
                return False
            await conn.execute(
                "INSERT INTO profiles (user_id, displayname, avatar_url) VALUES ($1, $2, NULL)",
                user_id,
                user_id[1:].partition(":")[0],
            )
        return True

    async def get_user(self, user_id: UserId) -> UserRecord | None:
        """The account `user_id`, or None."""
        row = await self._db.fetch_one(
            "SELECT user_id, password_hash, is_admin, deactivated, created_ts"
            " FROM users WHERE user_id = $1",
            user_id,
        )
        if row is None:
            return None
        return UserRecord(
            user_id=row["user_id"],
            password_hash=row["password_hash"],
            is_admin=bool(row["is_admin"]),
            deactivated=bool(row["deactivated"]),
            created_ts=row["created_ts"],
        )

    async def set_password_hash(self, user_id: UserId, password_hash: str | None) -> None:
        """Replace the password hash (None removes password login)."""
        await self._db.execute(
            "UPDATE users SET password_hash = $2 WHERE user_id = $1", user_id, password_hash
        )

    async def deactivate(self, user_id: UserId) -> None:
        """Mark an account deactivated and remove its password."""
        await self._db.execute(
            "UPDATE users SET deactivated = 1, password_hash = NULL WHERE user_id = $1", user_id
        )
        self._caches.invalidate(ACCESS_TOKENS, user_id)

    async def set_admin(self, user_id: UserId, is_admin: bool) -> None:
        """Grant or revoke server admin rights."""
        await self._db.execute(
            "UPDATE users SET is_admin = $2 WHERE user_id = $1", user_id, int(is_admin)
        )
        self._caches.invalidate(ACCESS_TOKENS, user_id)

    async def count_users(self) -> int:
        """How many accounts exist (deactivated included)."""
        return int(await self._db.fetch_val("SELECT COUNT(*) FROM users") or 0)
