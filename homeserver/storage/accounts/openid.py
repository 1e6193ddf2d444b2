"""OpenID tokens (client-server API "OpenID"; server-server API "OpenID"): short-lived tokens
a user hands to a third party, which asks this server whose they are.

Only the SHA-256 of a token is stored, with its expiry. Writing a token deletes the expired
ones and keeps at most `MAX_LIVE_PER_USER` live tokens per user (the oldest go first), so a
client asking again and again cannot fill the table.
"""

from __future__ import annotations

from typing import Final

from core.identifiers import UserId
from homeserver.storage.database import Database

__all__ = ["MAX_LIVE_PER_USER", "OpenIdTokenStore"]

MAX_LIVE_PER_USER: Final = 20


class OpenIdTokenStore:
    """Writes OpenID token hashes and finds their owners."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, token_hash: str, user_id: UserId, expires_ts: int, now_ms: int) -> None:
        """Store a new token of `user_id`, valid until `expires_ts`."""
        async with self._db.transaction() as conn:
            await conn.execute("DELETE FROM openid_tokens WHERE expires_ts <= $1", now_ms)
            await conn.execute(
                "DELETE FROM openid_tokens WHERE user_id = $1 AND token_hash NOT IN"
                " (SELECT token_hash FROM openid_tokens WHERE user_id = $1"
                " ORDER BY expires_ts DESC LIMIT $2)",
                user_id,
                MAX_LIVE_PER_USER - 1,
            )
            await conn.execute(
                "INSERT INTO openid_tokens (token_hash, user_id, expires_ts) VALUES ($1, $2, $3)",
                token_hash,
                user_id,
                expires_ts,
            )

    async def owner(self, token_hash: str, now_ms: int) -> UserId | None:
        """The user a token that has not expired belongs to, or None."""
        value = await self._db.fetch_val(
            "SELECT user_id FROM openid_tokens WHERE token_hash = $1 AND expires_ts > $2",
            token_hash,
            now_ms,
        )
        return UserId(str(value)) if value is not None else None
