"""User-interactive authentication (spec: Client-Server API "User-Interactive Authentication API").

A guarded request first gets a 401 listing the flows and a session ID; the client completes
stages one request at a time, naming the session. A session belongs to one request (method and
path) and, when created for a logged-in user, to that user. The stages we offer are
`m.login.dummy`, `m.login.registration_token` and `m.login.password`.

Wrong passwords in an `m.login.password` stage are rate limited per account and per client IP
(`PasswordAttempts`, shared with login): once either is exhausted the stage answers 429
`M_LIMIT_EXCEEDED` before the password is even compared.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Sequence
from typing import Any

from core.errors import (
    M_FORBIDDEN,
    M_INVALID_PARAM,
    M_UNAUTHORIZED,
    M_UNKNOWN,
    JsonDict,
    MatrixError,
)
from core.identifiers import UserId
from homeserver.clock import Clock
from homeserver.services.accounts.password_attempts import PasswordAttempts
from homeserver.services.accounts.passwords import check_password
from homeserver.services.common.requester import Requester
from homeserver.storage.accounts.ui_auth import UiAuthSession, UiAuthStore
from homeserver.storage.accounts.users import UserStore

DUMMY = "m.login.dummy"
PASSWORD = "m.login.password"  # noqa: S105 (a stage name, not a secret)
REGISTRATION_TOKEN = "m.login.registration_token"  # noqa: S105 (a stage name, not a secret)


class UiAuthRequired(MatrixError):
    """The 401 that tells the client which stages remain."""

    def __init__(self, body: JsonDict, errcode: str | None = None, message: str = "") -> None:
        super().__init__(
            errcode or M_UNAUTHORIZED, message or "Authentication required", status=401
        )
        self.body = body
        self.has_error = errcode is not None

    def to_json(self) -> JsonDict:
        if not self.has_error:
            return dict(self.body)
        return {**self.body, "errcode": self.errcode, "error": self.message}


class UiAuthService:
    """Runs UIA sessions stored in the database (so they survive a restart)."""

    def __init__(
        self,
        store: UiAuthStore,
        users: UserStore,
        clock: Clock,
        timeout_ms: int,
        attempts: PasswordAttempts,
    ) -> None:
        self._store = store
        self._users = users
        self._clock = clock
        self._timeout_ms = timeout_ms
        self._attempts = attempts

    async def check(
        self,
        auth: Any,
        *,
        request_key: str,
        flows: Sequence[Sequence[str]],
        requester: Requester | None = None,
    ) -> UiAuthSession:
        """Advance the session named in `auth`; return it once some flow is complete.

        Args:
            auth: The request body's `auth` value (None when absent).
            request_key: Identifies the guarded request, e.g. "POST /register".
            flows: The acceptable flows, each a list of stage types.
            requester: The logged-in user the session is for (None for registration); their
                client IP counts failed password stages.

        Raises:
            UiAuthRequired: While stages remain or a stage failed.
            MatrixError: On a malformed `auth` or a session of another request or user;
                `M_LIMIT_EXCEEDED` after too many wrong passwords.
        """
        if auth is not None and not isinstance(auth, dict):
            raise MatrixError(M_INVALID_PARAM, "auth must be an object")
        user_id = requester.user_id if requester is not None else None
        session = await self._load_or_create(auth, request_key, user_id)
        if not auth or "type" not in auth:
            raise UiAuthRequired(self._body(session, flows))
        stage = auth["type"]
        if not isinstance(stage, str) or not any(stage in flow for flow in flows):
            raise UiAuthRequired(self._body(session, flows), M_UNKNOWN, "Unknown auth stage type")
        client_ip = requester.client_ip if requester is not None else None
        failure = await self._run_stage(stage, auth, session, client_ip)
        if failure is not None:
            raise UiAuthRequired(self._body(session, flows), failure[0], failure[1])
        completed = (
            [*session.completed, stage] if stage not in session.completed else session.completed
        )
        await self._store.mark_completed(session.session_id, completed)
        session = dataclasses.replace(session, completed=completed)
        if any(all(s in completed for s in flow) for flow in flows):
            return session
        raise UiAuthRequired(self._body(session, flows))

    async def finish(self, session: UiAuthSession) -> None:
        """Forget a session once its request has succeeded, so it cannot be replayed."""
        await self._store.delete_session(session.session_id)

    async def _load_or_create(
        self, auth: JsonDict | None, request_key: str, user_id: UserId | None
    ) -> UiAuthSession:
        now = self._clock.time_ms()
        session_id = auth.get("session") if auth else None
        if session_id is not None:
            session = await self._store.get_session(str(session_id))
            if session is None or now - session.created_ts > self._timeout_ms:
                raise MatrixError(M_UNKNOWN, "Unknown or expired session", status=400)
            if session.request_key != request_key or session.user_id != user_id:
                raise MatrixError(M_FORBIDDEN, "Session belongs to another request")
            return session
        session = UiAuthSession(
            session_id=secrets.token_urlsafe(24),
            user_id=user_id,
            request_key=request_key,
            completed=[],
            params={},
            created_ts=now,
        )
        await self._store.create_session(session)
        await self._store.delete_sessions_before(now - self._timeout_ms)
        return session

    async def _run_stage(
        self, stage: str, auth: JsonDict, session: UiAuthSession, client_ip: str | None
    ) -> tuple[str, str] | None:
        if stage == DUMMY:
            return None
        if stage == REGISTRATION_TOKEN:
            token = auth.get("token")
            if not isinstance(token, str) or not await self._store.registration_token_valid(
                token, self._clock.time_ms()
            ):
                return (M_FORBIDDEN, "Invalid registration token")
            session.params["registration_token"] = token
            await self._store.mark_params(session.session_id, session.params)
            return None
        if stage == PASSWORD:
            return await self._check_password_stage(auth, session, client_ip)
        return (M_UNKNOWN, "Unsupported stage")

    async def _check_password_stage(
        self, auth: JsonDict, session: UiAuthSession, client_ip: str | None
    ) -> tuple[str, str] | None:
        claimed = _identified_user(auth)
        password = auth.get("password")
        user_id = session.user_id
        if user_id is None or not isinstance(password, str):
            return (M_FORBIDDEN, "Invalid password")
        if claimed is not None and claimed not in (user_id, _localpart(user_id)):
            return (M_FORBIDDEN, "Invalid password")
        self._attempts.check(user_id, client_ip)
        user = await self._users.get_user(user_id)
        if not await check_password(user.password_hash if user else None, password):
            self._attempts.failed(user_id, client_ip)
            return (M_FORBIDDEN, "Invalid password")
        return None

    def _body(self, session: UiAuthSession, flows: Sequence[Sequence[str]]) -> JsonDict:
        params: JsonDict = {}
        return {
            "flows": [{"stages": list(flow)} for flow in flows],
            "params": params,
            "session": session.session_id,
            "completed": list(session.completed),
        }


def _identified_user(auth: JsonDict) -> str | None:
    identifier = auth.get("identifier")
    if isinstance(identifier, dict) and identifier.get("type") == "m.id.user":
        user = identifier.get("user")
        return user if isinstance(user, str) else None
    user = auth.get("user")  # deprecated top-level form
    return user if isinstance(user, str) else None


def _localpart(user_id: UserId) -> str:
    return user_id[1:].partition(":")[0]
