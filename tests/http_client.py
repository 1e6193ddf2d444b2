"""The one raw-HTTP client of the live tests: a registered user calling the client API.

Tests that need more (device keys, unread counts, pagination) subclass `ApiClient` beside
their package; every request goes through `ApiClient.request`, which speaks plain JSON and
checks that every answer is JSON, so the tests see exactly what a client would.
"""

from __future__ import annotations

import itertools
import json
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp

CLIENT = "/_matrix/client/v3"

JsonBody = dict[str, Any]

_txn = itertools.count()


def auth_header(token: str) -> dict[str, str]:
    """The `Authorization` header for an access token."""
    return {"Authorization": f"Bearer {token}"}


async def call(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    token: str | None = None,
    body: object = None,
) -> tuple[int, JsonBody]:
    """Send one request; returns the status and the JSON body (which every answer must be)."""
    headers = auth_header(token) if token is not None else None
    async with http.request(method, url, json=body, headers=headers) as resp:
        assert resp.content_type == "application/json", await resp.text()
        return resp.status, await resp.json()


def query_string(query: dict[str, object]) -> str:
    """`?a=1&b=…` for the parameters that are not None (dicts become JSON), or ''."""
    params = {
        k: json.dumps(v) if isinstance(v, dict) else str(v)
        for k, v in query.items()
        if v is not None
    }
    return f"?{urlencode(params)}" if params else ""


class ApiClient:
    """A logged-in user (one device) of a live server, speaking raw HTTP.

    Args:
        http: The session every request goes through.
        base: The server's base URL.
        user_id: The user's ID.
        token: The device's access token.
        device_id: The device's ID, when known.
    """

    def __init__(
        self,
        http: aiohttp.ClientSession,
        base: str,
        user_id: str,
        token: str,
        device_id: str = "",
    ) -> None:
        self.http = http
        self.base = base
        self.user_id = user_id
        self.token = token
        self.device_id = device_id

    def url(self, path: str, **query: object) -> str:
        """The full URL of a client API path with query parameters."""
        return f"{self.base}{CLIENT}{path}{query_string(query)}"

    async def request(
        self, method: str, path: str, body: object = None, **query: object
    ) -> tuple[int, Any]:
        """Any client API request; returns the status and the JSON body."""
        return await call(self.http, method, self.url(path, **query), token=self.token, body=body)

    async def ok(self, method: str, path: str, body: object = None, **query: object) -> Any:
        """A request that must succeed; returns its JSON body."""
        status, result = await self.request(method, path, body, **query)
        assert status == 200, (method, path, status, result)
        return result

    async def sync(self, since: str | None = None, timeout_ms: int = 0, **query: object) -> Any:
        """One `/sync` (initial without `since`)."""
        return await self.ok("GET", "/sync", since=since, timeout=timeout_ms, **query)

    async def create_room(self, **body: object) -> str:
        """Create a room with the `/createRoom` body `body`; returns its ID."""
        created = await self.ok("POST", "/createRoom", body)
        return str(created["room_id"])

    async def send(self, room_id: str, body: str, **content: object) -> str:
        """Send an `m.text` message; returns its event ID."""
        path = f"/rooms/{quote(room_id)}/send/m.room.message/t{next(_txn)}"
        sent = await self.ok("PUT", path, {"msgtype": "m.text", "body": body, **content})
        return str(sent["event_id"])

    async def set_state(
        self, room_id: str, event_type: str, content: JsonBody, state_key: str = ""
    ) -> str:
        """Send a state event; returns its event ID."""
        path = f"/rooms/{quote(room_id)}/state/{event_type}/{quote(state_key)}"
        sent = await self.ok("PUT", path, content)
        return str(sent["event_id"])

    async def invite(self, room_id: str, user_id: str) -> None:
        """Invite `user_id` to a room."""
        await self.ok("POST", f"/rooms/{quote(room_id)}/invite", {"user_id": user_id})

    async def join(self, room: str) -> None:
        """Join a room by ID or alias."""
        await self.ok("POST", f"/join/{quote(room, safe='')}", {})

    async def leave(self, room_id: str) -> None:
        """Leave a room."""
        await self.ok("POST", f"/rooms/{quote(room_id)}/leave", {})
