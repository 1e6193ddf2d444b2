"""Login (spec: "Login"): `m.login.password` with `m.id.user`, and JWT when configured.

Every attempt draws on the client IP's `login` bucket; failed password attempts also drain the
account's bucket (`PasswordAttempts`), so one account cannot be brute-forced from many
addresses. Both are checked in one go, so a 429 reports the longer of the two waits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt

from core.errors import (
    M_FORBIDDEN,
    M_INVALID_PARAM,
    M_UNKNOWN,
    M_USER_DEACTIVATED,
    JsonDict,
    MatrixError,
)
from core.identifiers import (
    DeviceId,
    ServerName,
    UserId,
    make_user_id,
    parse_user_id,
    server_name_of,
)
from homeserver.clock import Clock
from homeserver.services.accounts.password_attempts import PasswordAttempts
from homeserver.services.accounts.passwords import check_password
from homeserver.services.accounts.tokens import IssuedTokens, TokenService
from homeserver.services.accounts.ui_auth import PASSWORD
from homeserver.services.common.ratelimit import Draw, Limit, RateLimiter
from homeserver.storage.accounts.users import UserStore

JWT_TYPE = "org.matrix.login.jwt"


@dataclass(frozen=True, slots=True)
class JwtSettings:
    """How JWT login tokens are checked."""

    key: str
    algorithm: str
    subject_claim: str
    issuer: str | None
    audiences: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LoginRequest:
    """The parsed body of `POST /login`."""

    type: str
    body: JsonDict
    device_id: DeviceId | None
    initial_device_display_name: str | None
    refresh_token: bool
    client_ip: str


class LoginService:
    """Checks credentials and opens sessions."""

    def __init__(
        self,
        *,
        server_name: ServerName,
        users: UserStore,
        tokens: TokenService,
        limiter: RateLimiter,
        login_limit: Limit,
        failure_limit: Limit,
        clock: Clock,
        password_login: bool,
        jwt_settings: JwtSettings | None,
        refresh_tokens_enabled: bool,
    ) -> None:
        self._server_name = server_name
        self._users = users
        self._tokens = tokens
        self._limiter = limiter
        self._login_limit = login_limit
        self._attempts = PasswordAttempts(limiter, failure_limit)
        self._clock = clock
        self._password_login = password_login
        self._jwt = jwt_settings
        self._refresh_enabled = refresh_tokens_enabled

    def flows(self) -> list[JsonDict]:
        """The login types offered by `GET /login`."""
        flows: list[JsonDict] = []
        if self._password_login:
            flows.append({"type": PASSWORD})
        if self._jwt is not None:
            flows.append({"type": JWT_TYPE})
        return flows

    async def login(self, request: LoginRequest) -> IssuedTokens:
        """Authenticate and issue tokens for a new or named device.

        Raises:
            MatrixError: `M_LIMIT_EXCEEDED` (429) when the client IP, or for passwords the
                account, has made too many attempts; `M_FORBIDDEN` on bad credentials.
        """
        per_ip = Draw("login", request.client_ip, self._login_limit)
        if request.type == PASSWORD and self._password_login:
            user_id = await self._password_user(request.body, per_ip)
        elif request.type == JWT_TYPE and self._jwt is not None:
            self._limiter.check_all(per_ip)
            user_id = await self._jwt_user(request.body, self._jwt)
        else:
            self._limiter.check_all(per_ip)
            raise MatrixError(M_UNKNOWN, "Unknown login type", status=400)
        return await self._tokens.issue(
            user_id,
            request.device_id,
            request.initial_device_display_name,
            refreshable=request.refresh_token and self._refresh_enabled,
        )

    async def _password_user(self, body: JsonDict, per_ip: Draw) -> UserId:
        user_id = self._identified_user(body)
        password = body.get("password")
        if not isinstance(password, str):
            raise MatrixError(M_INVALID_PARAM, "password must be a string")
        self._attempts.check(user_id, None, per_ip)
        user = await self._users.get_user(user_id)
        matched = await check_password(user.password_hash if user else None, password)
        if user is not None and user.deactivated:
            # Deactivation removes the password, so this must come before the mismatch check.
            raise MatrixError(M_USER_DEACTIVATED, "This account has been deactivated")
        if user is None or not matched:
            # Only failures drain the per-user bucket.
            self._attempts.failed(user_id, None)
            raise MatrixError(M_FORBIDDEN, "Invalid username or password")
        return user.user_id

    def _identified_user(self, body: JsonDict) -> UserId:
        identifier = body.get("identifier")
        if identifier is None and isinstance(body.get("user"), str):
            identifier = {"type": "m.id.user", "user": body["user"]}
        if not isinstance(identifier, dict):
            raise MatrixError(M_INVALID_PARAM, "identifier is required")
        if identifier.get("type") != "m.id.user":
            raise MatrixError(M_UNKNOWN, "Only m.id.user identifiers are supported", status=400)
        user = identifier.get("user")
        if not isinstance(user, str) or not user:
            raise MatrixError(M_INVALID_PARAM, "identifier.user must be a string")
        return self._qualify(user.lower() if not user.startswith("@") else user)

    def _qualify(self, user: str) -> UserId:
        """A full user ID on this server from a localpart or a user ID."""
        try:
            if user.startswith("@"):
                user_id = parse_user_id(user)
                if server_name_of(user_id) != self._server_name:
                    raise MatrixError(M_FORBIDDEN, "Invalid username or password")
                return user_id
            return make_user_id(user, self._server_name)
        except ValueError as exc:
            raise MatrixError(M_FORBIDDEN, "Invalid username or password") from exc

    async def _jwt_user(self, body: JsonDict, settings: JwtSettings) -> UserId:
        token = body.get("token")
        if not isinstance(token, str):
            raise MatrixError(M_FORBIDDEN, "JWT login requires a token")
        claims = _decode_jwt(token, settings)
        subject = claims.get(settings.subject_claim)
        if not isinstance(subject, str) or not subject:
            raise MatrixError(M_FORBIDDEN, "JWT has no usable subject")
        user_id = self._qualify(subject)
        user = await self._users.get_user(user_id)
        if user is None:
            await self._users.create_user(
                user_id, None, is_admin=False, now_ms=self._clock.time_ms()
            )
        elif user.deactivated:
            raise MatrixError(M_USER_DEACTIVATED, "This account has been deactivated")
        return user_id


def _decode_jwt(token: str, settings: JwtSettings) -> dict[str, Any]:
    try:
        claims = jwt.decode(
            token,
            settings.key,
            algorithms=[settings.algorithm],
            issuer=settings.issuer,
            audience=list(settings.audiences) or None,
            options={"verify_aud": bool(settings.audiences)},
        )
    except jwt.PyJWTError as exc:
        raise MatrixError(M_FORBIDDEN, f"Invalid JWT: {exc}") from exc
    return claims
