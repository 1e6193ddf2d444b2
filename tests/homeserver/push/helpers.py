"""The raw-HTTP client of the push rule and unread count tests, and their rooms."""

from __future__ import annotations

from urllib.parse import parse_qsl, quote

import aiohttp

from tests.homeserver.api.helpers import register
from tests.http_client import ApiClient
from tests.waiting import wait_for


class Client(ApiClient):
    """A registered user reading unread counts and posting receipts."""

    async def error(
        self, method: str, path: str, body: object = None, query: str = ""
    ) -> tuple[int, str]:
        """A request that must fail (`query` as a query string); returns the status and errcode."""
        status, result = await self.request(method, path, body, **dict(parse_qsl(query)))
        assert status >= 400, (method, path, result)
        return status, result["errcode"]

    async def read(self, room_id: str, event_id: str, receipt: str = "m.read") -> None:
        """Post a read receipt."""
        await self.ok("POST", f"/rooms/{quote(room_id)}/receipt/{receipt}/{quote(event_id)}", {})

    async def unread(self, room_id: str) -> tuple[int, int]:
        """The room's `(notification_count, highlight_count)` in an initial sync."""
        counts = (await self.sync())["rooms"]["join"][room_id]["unread_notifications"]
        return counts["notification_count"], counts["highlight_count"]

    async def wait_unread(self, room_id: str, expected: tuple[int, int]) -> None:
        """Poll initial syncs until the room's counts are `expected`."""

        async def reached() -> bool:
            return await self.unread(room_id) == expected

        await wait_for(reached, what=f"unread counts {expected}")


async def new_client(
    http: aiohttp.ClientSession, base: str, name: str, display_name: str | None = None
) -> Client:
    """Register `name` (and set a display name) and return its client."""
    registered = await register(http, base, name)
    client = Client(http, base, registered["user_id"], registered["access_token"])
    if display_name is not None:
        path = f"/profile/{quote(client.user_id)}/displayname"
        await client.ok("PUT", path, {"displayname": display_name})
    return client


async def direct_room(alice: Client, bob: Client) -> str:
    """A two-member room created by alice with bob joined."""
    created = await alice.ok(
        "POST",
        "/createRoom",
        {"preset": "trusted_private_chat", "is_direct": True, "invite": [bob.user_id]},
    )
    room_id = str(created["room_id"])
    await bob.ok("POST", f"/join/{quote(room_id)}", {})
    return room_id


async def group_room(owner: Client, *members: Client) -> str:
    """A public room created by `owner` and joined by `members`."""
    created = await owner.ok("POST", "/createRoom", {"preset": "public_chat"})
    room_id = str(created["room_id"])
    for member in members:
        await member.ok("POST", f"/join/{quote(room_id)}", {})
    return room_id
