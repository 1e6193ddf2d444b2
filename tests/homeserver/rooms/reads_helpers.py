"""The raw-HTTP client of the room read path tests: one registered user per `User`."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aiohttp

from tests.conftest import LiveServer
from tests.homeserver.api.helpers import register
from tests.http_client import ApiClient


class User(ApiClient):
    """A registered user reading rooms: history visibility and pagination."""

    async def visibility(self, room_id: str, value: str) -> str:
        """Set the room's history visibility."""
        return await self.set_state(
            room_id, "m.room.history_visibility", {"history_visibility": value}
        )

    async def messages(self, room_id: str, **query: object) -> tuple[int, Any]:
        """`GET /messages` with query parameters."""
        return await self.request("GET", f"/rooms/{quote(room_id)}/messages", **query)

    async def all_messages(self, room_id: str, direction: str = "b", **query: object) -> list[Any]:
        """Every event `/messages` yields, following `end` until it is left out."""
        events: list[Any] = []
        token = query.pop("start", None)
        for _ in range(1000):
            body = await self.ok(
                "GET",
                f"/rooms/{quote(room_id)}/messages",
                dir=direction,
                **{"from": token},
                **query,
            )
            events.extend(body["chunk"])
            if "end" not in body:
                return events
            token = body["end"]
        raise AssertionError("pagination did not end")


async def new_user(http: aiohttp.ClientSession, server: LiveServer, name: str) -> User:
    """Register `name` and return a client for it."""
    registered = await register(http, server.url, name)
    return User(http, server.url, registered["user_id"], registered["access_token"])


def bodies(events: list[Any]) -> list[str]:
    """The bodies of the `m.room.message` events among `events`, in order."""
    return [
        e["content"]["body"]
        for e in events
        if e["type"] == "m.room.message" and "body" in e["content"]
    ]
