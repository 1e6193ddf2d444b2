"""Accounts: registration, password changes, deactivation and who-am-I.

Registration validates the requested username before user-interactive auth starts, so a client
learns about a taken name without first completing stages.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from core.errors import (
    M_FORBIDDEN,
    M_INVALID_PARAM,
    M_INVALID_USERNAME,
    M_USER_IN_USE,
    MatrixError,
)
from core.identifiers import DeviceId, ServerName, UserId, make_user_id
from homeserver.clock import Clock
from homeserver.services.accounts.passwords import hash_password
from homeserver.services.accounts.tokens import IssuedTokens, TokenService
from homeserver.services.accounts.ui_auth import DUMMY, PASSWORD, REGISTRATION_TOKEN, UiAuthService
from homeserver.services.common.requester import Requester
from homeserver.storage.accounts.profiles import ProfileStore
from homeserver.storage.accounts.ui_auth import UiAuthStore
from homeserver.storage.accounts.users import UserStore

MAX_PASSWORD_LENGTH = 512


@dataclass(frozen=True, slots=True)
class RegistrationRequest:
    """The parsed body of `POST /register` (kind=user)."""

    username: str | None
    password: str | None
    device_id: DeviceId | None
    initial_device_display_name: str | None
    inhibit_login: bool
    refresh_token: bool
    auth: object


@dataclass(frozen=True, slots=True)
class RegistrationResult:
    """The new account and, unless login was inhibited, its first session."""

    user_id: UserId
    tokens: IssuedTokens | None


class AccountService:
    """Creates accounts and changes their password or status."""

    def __init__(
        self,
        *,
        server_name: ServerName,
        users: UserStore,
        profiles: ProfileStore,
        ui_auth_store: UiAuthStore,
        ui_auth: UiAuthService,
        tokens: TokenService,
        clock: Clock,
        registration_enabled: bool,
        registration_requires_token: bool,
        refresh_tokens_enabled: bool,
    ) -> None:
        self._server_name = server_name
        self._users = users
        self._profiles = profiles
        self._ui_auth_store = ui_auth_store
        self._ui_auth = ui_auth
        self._tokens = tokens
        self._clock = clock
        self._registration_enabled = registration_enabled
        self._requires_token = registration_requires_token
        self._refresh_enabled = refresh_tokens_enabled

    def registration_flows(self) -> list[list[str]]:
        """The UIA flows registration offers."""
        return [[REGISTRATION_TOKEN]] if self._requires_token else [[DUMMY]]

    async def check_username_available(self, username: str) -> UserId:
        """The user ID `username` would get, if it is valid and free.

        Raises:
            MatrixError: `M_INVALID_USERNAME` or `M_USER_IN_USE`.
        """
        try:
            user_id = make_user_id(username, self._server_name)
        except ValueError as exc:
            raise MatrixError(M_INVALID_USERNAME, str(exc)) from exc
        if await self._users.get_user(user_id) is not None:
            raise MatrixError(M_USER_IN_USE, "User ID already taken.")
        return user_id

    async def registration_token_valid(self, token: str) -> bool:
        """Whether a registration token could be used now; `M_FORBIDDEN` if registration is off."""
        if not self._registration_enabled:
            raise MatrixError(M_FORBIDDEN, "Registration is disabled on this server")
        return await self._ui_auth_store.registration_token_valid(token, self._clock.time_ms())

    async def register(self, request: RegistrationRequest) -> RegistrationResult:
        """Run registration: username checks, UIA, account creation and the first login."""
        if not self._registration_enabled:
            raise MatrixError(M_FORBIDDEN, "Registration is disabled on this server")
        _check_password_shape(request.password)
        if request.username is not None:
            user_id = await self.check_username_available(request.username)
        else:
            user_id = await self._generated_user_id()
        session = await self._ui_auth.check(
            request.auth, request_key="POST /register", flows=self.registration_flows()
        )
        token = session.params.get("registration_token")
        now = self._clock.time_ms()
        if isinstance(token, str) and not await self._ui_auth_store.use_registration_token(
            token, now
        ):
            raise MatrixError(M_FORBIDDEN, "Registration token no longer valid")
        password_hash = await hash_password(request.password) if request.password else None
        if not await self._users.create_user(user_id, password_hash, is_admin=False, now_ms=now):
            raise MatrixError(M_USER_IN_USE, "User ID already taken.")
        await self._ui_auth.finish(session)
        if request.inhibit_login:
            return RegistrationResult(user_id, None)
        tokens = await self._tokens.issue(
            user_id,
            request.device_id,
            request.initial_device_display_name,
            refreshable=request.refresh_token and self._refresh_enabled,
        )
        return RegistrationResult(user_id, tokens)

    async def create_user(self, localpart: str, password: str | None, *, admin: bool) -> str:
        """Create an account directly (CLI and admin API), bypassing registration settings."""
        user_id = await self.check_username_available(localpart)
        _check_password_shape(password)
        password_hash = await hash_password(password) if password else None
        if not await self._users.create_user(
            user_id, password_hash, is_admin=admin, now_ms=self._clock.time_ms()
        ):
            raise MatrixError(M_USER_IN_USE, "User ID already taken.")
        return user_id

    async def _generated_user_id(self) -> UserId:
        for _ in range(10):
            candidate = make_user_id(secrets.token_hex(6), self._server_name)
            if await self._users.get_user(candidate) is None:
                return candidate
        raise MatrixError(M_USER_IN_USE, "Could not generate a free user ID")

    async def change_password(
        self, requester: Requester, new_password: str, *, logout_devices: bool, auth: object
    ) -> None:
        """`POST /account/password`: UIA with the current password, then the new hash."""
        _check_password_shape(new_password)
        session = await self._ui_auth.check(
            auth,
            request_key="POST /account/password",
            flows=[[PASSWORD]],
            requester=requester,
        )
        await self._users.set_password_hash(requester.user_id, await hash_password(new_password))
        await self._ui_auth.finish(session)
        if logout_devices:
            await self._tokens.revoke_devices(requester.user_id, keep_device=requester.device_id)

    async def deactivate(self, requester: Requester, *, erase: bool, auth: object) -> None:
        """`POST /account/deactivate`: UIA, then no password, no devices, no tokens."""
        session = await self._ui_auth.check(
            auth,
            request_key="POST /account/deactivate",
            flows=[[PASSWORD]],
            requester=requester,
        )
        await self._users.deactivate(requester.user_id)
        await self._tokens.revoke_devices(requester.user_id, keep_device=None)
        if erase:
            await self._profiles.set_field(requester.user_id, "displayname", None)
            await self._profiles.set_field(requester.user_id, "avatar_url", None)
        await self._ui_auth.finish(session)


def _check_password_shape(password: str | None) -> None:
    if password is not None and len(password) > MAX_PASSWORD_LENGTH:
        raise MatrixError(M_INVALID_PARAM, "Password too long")
