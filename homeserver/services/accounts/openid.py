"""OpenID tokens (client-server API "OpenID", server-server API "OpenID"): a user asks for a
token to prove their identity to a third party (an integration manager, a widget), and the
third party asks our federation listener (`/openid/userinfo`) whose token it is.

Tokens are random 256-bit secrets, stored only hashed and valid for `TOKEN_LIFETIME_MS`; an
unknown or expired token is `M_UNKNOWN_TOKEN` (401). A user may only ask for their own.
"""

from __future__ import annotations

import secrets
from typing import Final

from core.errors import M_FORBIDDEN, M_UNKNOWN_TOKEN, JsonDict, MatrixError
from homeserver.clock import Clock
from homeserver.services.accounts.tokens import hash_token
from homeserver.services.common.params import checked_user_id
from homeserver.services.common.requester import Requester
from homeserver.storage.accounts.openid import OpenIdTokenStore

__all__ = ["TOKEN_LIFETIME_MS", "OpenIdService"]

TOKEN_LIFETIME_MS: Final = 3600 * 1000


class OpenIdService:
    """Issues OpenID tokens and says whose they are."""

    def __init__(self, *, server_name: str, store: OpenIdTokenStore, clock: Clock) -> None:
        self._server_name = server_name
        self._store = store
        self._clock = clock

    async def request_token(self, requester: Requester, user_id: str) -> JsonDict:
        """A new token of the requester: `access_token`, `token_type`, `matrix_server_name`,
        `expires_in` (seconds).

        Raises:
            MatrixError: `M_INVALID_PARAM` for a malformed user ID, `M_FORBIDDEN` for anyone
                else's.
        """
        if checked_user_id(user_id) != requester.user_id:
            raise MatrixError(M_FORBIDDEN, "You may only request OpenID tokens for yourself")
        token = secrets.token_urlsafe(32)
        now = self._clock.time_ms()
        await self._store.add(hash_token(token), requester.user_id, now + TOKEN_LIFETIME_MS, now)
        return {
            "access_token": token,
            "token_type": "Bearer",
            "matrix_server_name": self._server_name,
            "expires_in": TOKEN_LIFETIME_MS // 1000,
        }

    async def userinfo(self, token: str | None) -> JsonDict:
        """`{"sub": user_id}` of a live token.

        Raises:
            MatrixError: `M_UNKNOWN_TOKEN` (401) for a missing, unknown or expired token.
        """
        owner = None
        if token:
            owner = await self._store.owner(hash_token(token), self._clock.time_ms())
        if owner is None:
            raise MatrixError(M_UNKNOWN_TOKEN, "Access token unknown or expired")
        return {"sub": owner}
