"""Access and refresh tokens, stored only as SHA-256 hashes of the secret.

A login writes its device and tokens in one transaction. A refresh replaces the old pair
atomically: the old access and refresh tokens stop working the moment the new ones exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.identifiers import DeviceId, UserId
from homeserver.caching import CacheInvalidator
from homeserver.storage.accounts.devices import DeviceStore, delete_device_rows
from homeserver.storage.accounts.token_cache import ACCESS_TOKENS, TokenCache
from homeserver.storage.database import Connection, Database


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """Who an access token belongs to."""

    user_id: UserId
    device_id: DeviceId
    expires_ts: int | None
    deactivated: bool
    is_admin: bool


@dataclass(frozen=True, slots=True)
class NewSession:
    """A session to write: device plus token hashes."""

    user_id: UserId
    device_id: DeviceId
    device_display_name: str | None
    access_hash: str
    refresh_hash: str | None
    expires_ts: int | None


class TokenStore:
    """Reads and writes `access_tokens` and `refresh_tokens`."""

    def __init__(
        self,
        db: Database,
        devices: DeviceStore,
        cache: TokenCache[TokenRecord],
        caches: CacheInvalidator,
    ) -> None:
        self._db = db
        self._devices = devices
        self._cache = cache  # reads and fills; invalidation goes through `caches`
        self._caches = caches

    async def create_session(self, session: NewSession, now_ms: int, *, replace: bool) -> None:
        """Create (or reuse) the device and store its new tokens.

        Args:
            session: The device and hashed tokens.
            now_ms: The current time.
            replace: Log the device's earlier tokens out (a login naming an existing device).
        """
        async with self._db.transaction() as conn:
            await self._devices.ensure_device(
                conn, session.user_id, session.device_id, session.device_display_name, now_ms
            )
            if replace:
                for table in ("access_tokens", "refresh_tokens"):
                    await conn.execute(
                        f"DELETE FROM {table} WHERE user_id = $1 AND device_id = $2",  # noqa: S608
                        session.user_id,
                        session.device_id,
                    )
            await _insert_tokens(conn, session, now_ms)
        if replace:
            self._caches.invalidate(ACCESS_TOKENS, session.user_id)

    async def lookup(self, access_hash: str) -> TokenRecord | None:
        """The owner of an access token hash, or None if unknown."""
        cached = self._cache.get(access_hash)
        if cached is not None:
            return cached
        row = await self._db.fetch_one(
            "SELECT t.user_id, t.device_id, t.expires_ts, u.deactivated, u.is_admin"
            " FROM access_tokens t JOIN users u ON u.user_id = t.user_id"
            " WHERE t.token_hash = $1",
            access_hash,
        )
        if row is None:
            return None
        record = TokenRecord(
            user_id=row["user_id"],
            device_id=row["device_id"],
            expires_ts=row["expires_ts"],
            deactivated=bool(row["deactivated"]),
            is_admin=bool(row["is_admin"]),
        )
        self._cache.put(access_hash, record.user_id, record)
        return record

    async def refresh(self, old_refresh_hash: str, new: NewSession, now_ms: int) -> bool:
        """Swap the pair behind `old_refresh_hash` for `new`; False if the token is unknown."""
        async with self._db.transaction() as conn:
            row = await conn.fetch_one(
                "SELECT user_id, device_id FROM refresh_tokens WHERE token_hash = $1",
                old_refresh_hash,
            )
            if row is None or (row["user_id"], row["device_id"]) != (new.user_id, new.device_id):
                return False
            await conn.execute(
                "DELETE FROM access_tokens WHERE refresh_token_hash = $1", old_refresh_hash
            )
            await conn.execute("DELETE FROM refresh_tokens WHERE token_hash = $1", old_refresh_hash)
            await _insert_tokens(conn, new, now_ms)
        self._caches.invalidate(ACCESS_TOKENS, new.user_id)
        return True

    async def refresh_owner(self, refresh_hash: str) -> tuple[UserId, DeviceId] | None:
        """`(user_id, device_id)` of a refresh token, or None."""
        row = await self._db.fetch_one(
            "SELECT user_id, device_id FROM refresh_tokens WHERE token_hash = $1", refresh_hash
        )
        return (UserId(row["user_id"]), DeviceId(row["device_id"])) if row else None

    async def delete_device(self, user_id: UserId, device_id: DeviceId) -> None:
        """Delete one device and its tokens."""
        async with self._db.transaction() as conn:
            await delete_device_rows(conn, user_id, device_id)
        self._caches.invalidate(ACCESS_TOKENS, user_id)

    async def delete_devices_except(
        self, user_id: UserId, keep_device: DeviceId | None
    ) -> list[DeviceId]:
        """Delete every device (and its tokens) of a user but `keep_device`; returns those deleted."""
        async with self._db.transaction() as conn:
            rows = await conn.fetch_all("SELECT device_id FROM devices WHERE user_id = $1", user_id)
            deleted = [DeviceId(r["device_id"]) for r in rows if r["device_id"] != keep_device]
            for device_id in deleted:
                await delete_device_rows(conn, user_id, device_id)
            # Tokens can outlive a device row only through old data; sweep them too.
            await conn.execute(
                "DELETE FROM access_tokens WHERE user_id = $1 AND device_id <> $2",
                user_id,
                keep_device or "",
            )
        self._caches.invalidate(ACCESS_TOKENS, user_id)
        return deleted


async def _insert_tokens(conn: Connection, session: NewSession, now_ms: int) -> None:
    if session.refresh_hash is not None:
        await conn.execute(
            "INSERT INTO refresh_tokens (token_hash, user_id, device_id, created_ts)"
            " VALUES ($1, $2, $3, $4)",
            session.refresh_hash,
            session.user_id,
            session.device_id,
            now_ms,
        )
    await conn.execute(
        "INSERT INTO access_tokens"
        " (token_hash, user_id, device_id, created_ts, expires_ts, refresh_token_hash)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        session.access_hash,
        session.user_id,
        session.device_id,
        now_ms,
        session.expires_ts,
        session.refresh_hash,
    )
