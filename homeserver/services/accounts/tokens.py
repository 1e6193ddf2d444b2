"""Sessions: issuing, checking, refreshing and revoking access tokens.

Tokens are 256-bit random strings from `secrets`; the database keeps only their SHA-256, so a
leaked database cannot be replayed. Lookups go by hash (an indexed equality, not a comparison
of secrets), which leaves no timing side channel on the secret itself.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from core.errors import M_MISSING_TOKEN, M_UNKNOWN_TOKEN, MatrixError
from core.identifiers import DeviceId, UserId
from homeserver.clock import Clock
from homeserver.services.common.requester import Requester
from homeserver.services.common.signals import Signal
from homeserver.storage.accounts.tokens import NewSession, TokenStore

_ACCESS_PREFIX = "syt_"
_REFRESH_PREFIX = "syr_"


def hash_token(token: str) -> str:
    """The stored form of a token (one from undecodable header bytes hashes too, matching none)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_device_id() -> DeviceId:
    """A fresh device ID: ten upper-case letters, as clients are used to seeing."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return DeviceId("".join(secrets.choice(alphabet) for _ in range(10)))


@dataclass(frozen=True, slots=True)
class DevicesChanged:
    """Some devices of `user_id` were deleted (logout) or renamed or deleted by the user."""

    user_id: UserId


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    """What a login, registration or refresh hands to the client."""

    user_id: UserId
    device_id: DeviceId
    access_token: str
    refresh_token: str | None
    expires_in_ms: int | None


class TokenService:
    """Creates and validates sessions."""

    def __init__(self, store: TokenStore, clock: Clock, access_token_lifetime_ms: int) -> None:
        self._store = store
        self._clock = clock
        self._lifetime_ms = access_token_lifetime_ms
        # Emitted after a logout deleted devices of a user.
        self.devices_removed: Signal[DevicesChanged] = Signal("tokens.devices_removed")

    async def issue(
        self,
        user_id: UserId,
        device_id: DeviceId | None,
        display_name: str | None,
        *,
        refreshable: bool,
        replace_existing: bool = True,
    ) -> IssuedTokens:
        """Create (or reuse) a device and give it new tokens."""
        device = device_id or new_device_id()
        issued, session = self._new_pair(user_id, device, display_name, refreshable)
        await self._store.create_session(session, self._clock.time_ms(), replace=replace_existing)
        return issued

    def _new_pair(
        self, user_id: UserId, device_id: DeviceId, display_name: str | None, refreshable: bool
    ) -> tuple[IssuedTokens, NewSession]:
        access = _ACCESS_PREFIX + secrets.token_urlsafe(32)
        refresh = _REFRESH_PREFIX + secrets.token_urlsafe(32) if refreshable else None
        expires_ts = self._clock.time_ms() + self._lifetime_ms if refreshable else None
        session = NewSession(
            user_id=user_id,
            device_id=device_id,
            device_display_name=display_name,
            access_hash=hash_token(access),
            refresh_hash=hash_token(refresh) if refresh else None,
            expires_ts=expires_ts,
        )
        issued = IssuedTokens(
            user_id=user_id,
            device_id=device_id,
            access_token=access,
            refresh_token=refresh,
            expires_in_ms=self._lifetime_ms if refreshable else None,
        )
        return issued, session

    async def authenticate(self, token: str | None) -> Requester:
        """The requester behind an access token.

        Raises:
            MatrixError: `M_MISSING_TOKEN` without a token; `M_UNKNOWN_TOKEN` for an unknown,
                expired (with `soft_logout: true`) or deactivated one.
        """
        if not token:
            raise MatrixError(M_MISSING_TOKEN, "Missing access token")
        token_hash = hash_token(token)
        record = await self._store.lookup(token_hash)
        if record is None or record.deactivated:
            raise MatrixError(
                M_UNKNOWN_TOKEN, "Unrecognised access token", extra={"soft_logout": False}
            )
        if record.expires_ts is not None and record.expires_ts <= self._clock.time_ms():
            raise MatrixError(
                M_UNKNOWN_TOKEN, "Access token has expired", extra={"soft_logout": True}
            )
        return Requester(record.user_id, record.device_id, record.is_admin, token_hash)

    async def refresh(self, refresh_token: str) -> IssuedTokens:
        """Exchange a refresh token for a new access/refresh pair; the old pair stops working.

        Raises:
            MatrixError: `M_UNKNOWN_TOKEN` (soft logout) if the refresh token is unknown.
        """
        old_hash = hash_token(refresh_token)
        owner = await self._store.refresh_owner(old_hash)
        if owner is not None:
            issued, session = self._new_pair(owner[0], owner[1], None, refreshable=True)
            if await self._store.refresh(old_hash, session, self._clock.time_ms()):
                return issued
        raise MatrixError(M_UNKNOWN_TOKEN, "Unknown refresh token", extra={"soft_logout": True})

    async def logout(self, requester: Requester) -> None:
        """End the requester's session: its device and tokens go."""
        await self._store.delete_device(requester.user_id, requester.device_id)
        await self.devices_removed.emit(DevicesChanged(requester.user_id))

    async def revoke_devices(self, user_id: UserId, keep_device: DeviceId | None) -> list[DeviceId]:
        """Log out every device of `user_id` except `keep_device`."""
        deleted = await self._store.delete_devices_except(user_id, keep_device)
        if deleted:
            await self.devices_removed.emit(DevicesChanged(user_id))
        return deleted
