"""Issuing registration tokens (spec: "Token-authenticated registration").

With `registration_requires_token` a new account needs a token an admin issued: this service
creates, lists and deletes them (the `registration-token` command uses it; an admin API can).
Tokens are random unless chosen, and then must use the spec's alphabet
(`[A-Za-z0-9._~-]`, at most 64 characters).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from core.errors import M_INVALID_PARAM, MatrixError
from homeserver.clock import Clock
from homeserver.storage.accounts.ui_auth import RegistrationToken, UiAuthStore

_TOKEN = re.compile(r"[A-Za-z0-9._~-]{1,64}")
_GENERATED_BYTES = 12  # 16 URL-safe characters


@dataclass(frozen=True, slots=True)
class TokenStatus:
    """A registration token and whether it can still be used now."""

    token: RegistrationToken
    usable: bool

    @property
    def uses_left(self) -> int | None:
        """How many more registrations it allows (None: unlimited)."""
        allowed = self.token.uses_allowed
        return None if allowed is None else max(0, allowed - self.token.completed)


class RegistrationTokenService:
    """Creates, lists and deletes registration tokens."""

    def __init__(self, store: UiAuthStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def create(
        self,
        *,
        uses_allowed: int | None = None,
        expires_in_ms: int | None = None,
        token: str | None = None,
    ) -> RegistrationToken:
        """Issue a token, random unless `token` is given.

        Args:
            uses_allowed: How many registrations it allows; None for unlimited.
            expires_in_ms: How long from now it stays valid; None for ever.
            token: A chosen token instead of a random one.

        Raises:
            MatrixError: `M_INVALID_PARAM` for a bad value or a token that already exists.
        """
        if uses_allowed is not None and uses_allowed < 1:
            raise MatrixError(M_INVALID_PARAM, "uses allowed must be at least 1")
        if expires_in_ms is not None and expires_in_ms < 1:
            raise MatrixError(M_INVALID_PARAM, "the expiry must be in the future")
        if token is not None and not _TOKEN.fullmatch(token):
            raise MatrixError(
                M_INVALID_PARAM, "a token is 1-64 characters of A-Z, a-z, 0-9, '.', '_', '~', '-'"
            )
        chosen = token if token is not None else secrets.token_urlsafe(_GENERATED_BYTES)
        expiry_ts = None if expires_in_ms is None else self._clock.time_ms() + expires_in_ms
        if not await self._store.add_registration_token(chosen, uses_allowed, expiry_ts):
            raise MatrixError(M_INVALID_PARAM, f"the token {chosen} already exists")
        return RegistrationToken(chosen, uses_allowed, 0, expiry_ts)

    async def list_tokens(self) -> list[TokenStatus]:
        """Every token, with whether it can be used now."""
        now = self._clock.time_ms()
        return [
            TokenStatus(token, _usable(token, now))
            for token in await self._store.list_registration_tokens()
        ]

    async def delete(self, token: str) -> bool:
        """Remove a token; False if there was none."""
        return await self._store.delete_registration_token(token)


def _usable(token: RegistrationToken, now_ms: int) -> bool:
    if token.expiry_ts is not None and token.expiry_ts <= now_ms:
        return False
    return token.uses_allowed is None or token.completed < token.uses_allowed
