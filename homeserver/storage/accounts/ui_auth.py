"""User-interactive authentication sessions and registration tokens.

A session's `completed` stages and `params` are JSON columns, written through the same
readability check as every JSON column (`json_rows`); a session row that does not read back is
skipped (the client sees an unknown session and starts again) instead of failing the request.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import JsonDict
from core.identifiers import UserId
from homeserver.storage.database import Database
from homeserver.storage.json_rows import dump_json, load_json


@dataclass(frozen=True, slots=True)
class RegistrationToken:
    """A registration token and how much of it is used (`uses_allowed` None: unlimited)."""

    token: str
    uses_allowed: int | None
    completed: int
    expiry_ts: int | None


@dataclass(frozen=True, slots=True)
class UiAuthSession:
    """A UIA session: which request it guards and which stages are done."""

    session_id: str
    user_id: UserId | None
    request_key: str
    completed: list[str]
    params: JsonDict
    created_ts: int


class UiAuthStore:
    """Reads and writes `ui_auth_sessions` and `registration_tokens`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def create_session(self, session: UiAuthSession) -> None:
        """Persist a new session."""
        await self._db.execute(
            "INSERT INTO ui_auth_sessions"
            " (session_id, user_id, request_key, completed, params, created_ts)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            session.session_id,
            session.user_id,
            session.request_key,
            dump_json(session.completed),
            dump_json(session.params),
            session.created_ts,
        )

    async def get_session(self, session_id: str) -> UiAuthSession | None:
        """A session by ID, or None."""
        row = await self._db.fetch_one(
            "SELECT session_id, user_id, request_key, completed, params, created_ts"
            " FROM ui_auth_sessions WHERE session_id = $1",
            session_id,
        )
        if row is None:
            return None
        owner = row["user_id"] or "registration"  # the session ID itself is not logged
        completed = load_json(row["completed"], table="ui_auth_sessions", key=owner)
        params = load_json(row["params"], table="ui_auth_sessions", key=owner)
        if not isinstance(completed, list) or not isinstance(params, dict):
            return None
        return UiAuthSession(
            session_id=row["session_id"],
            user_id=row["user_id"],
            request_key=row["request_key"],
            completed=completed,
            params=params,
            created_ts=row["created_ts"],
        )

    async def mark_completed(self, session_id: str, completed: list[str]) -> None:
        """Record the stages completed so far."""
        await self._db.execute(
            "UPDATE ui_auth_sessions SET completed = $2 WHERE session_id = $1",
            session_id,
            dump_json(completed),
        )

    async def mark_params(self, session_id: str, params: JsonDict) -> None:
        """Record data gathered by a stage (e.g. the registration token used)."""
        await self._db.execute(
            "UPDATE ui_auth_sessions SET params = $2 WHERE session_id = $1",
            session_id,
            dump_json(params),
        )

    async def delete_session(self, session_id: str) -> None:
        """Forget a finished session."""
        await self._db.execute("DELETE FROM ui_auth_sessions WHERE session_id = $1", session_id)

    async def delete_sessions_before(self, cutoff_ms: int) -> int:
        """Expire abandoned sessions; returns how many went."""
        return await self._db.execute(
            "DELETE FROM ui_auth_sessions WHERE created_ts < $1", cutoff_ms
        )

    async def add_registration_token(
        self, token: str, uses_allowed: int | None, expiry_ts: int | None
    ) -> bool:
        """Create a registration token; False (and nothing changed) if it already exists."""
        added = await self._db.execute(
            "INSERT INTO registration_tokens (token, uses_allowed, pending, completed, expiry_ts)"
            " VALUES ($1, $2, 0, 0, $3) ON CONFLICT (token) DO NOTHING",
            token,
            uses_allowed,
            expiry_ts,
        )
        return added > 0

    async def registration_token_valid(self, token: str, now_ms: int) -> bool:
        """Whether `token` exists, has not expired and has uses left."""
        row = await self._db.fetch_one(
            "SELECT uses_allowed, completed, expiry_ts FROM registration_tokens WHERE token = $1",
            token,
        )
        if row is None:
            return False
        if row["expiry_ts"] is not None and row["expiry_ts"] <= now_ms:
            return False
        return row["uses_allowed"] is None or row["completed"] < row["uses_allowed"]

    async def use_registration_token(self, token: str, now_ms: int) -> bool:
        """Consume one use of `token` if it is still valid; False otherwise."""
        changed = await self._db.execute(
            "UPDATE registration_tokens SET completed = completed + 1"
            " WHERE token = $1 AND (expiry_ts IS NULL OR expiry_ts > $2)"
            " AND (uses_allowed IS NULL OR completed < uses_allowed)",
            token,
            now_ms,
        )
        return changed > 0

    async def list_registration_tokens(self) -> list[RegistrationToken]:
        """Every registration token, valid or not, in token order."""
        rows = await self._db.fetch_all(
            "SELECT token, uses_allowed, completed, expiry_ts FROM registration_tokens"
            " ORDER BY token"
        )
        return [
            RegistrationToken(
                token=row["token"],
                uses_allowed=row["uses_allowed"],
                completed=row["completed"],
                expiry_ts=row["expiry_ts"],
            )
            for row in rows
        ]

    async def delete_registration_token(self, token: str) -> bool:
        """Remove a registration token; False if there was none."""
        deleted = await self._db.execute("DELETE FROM registration_tokens WHERE token = $1", token)
        return deleted > 0
