"""Concurrent requests that race for one name or one counter, on both backends.

Twenty requests at once: exactly one may win a room alias and the losers leave nothing behind;
filter uploads all succeed with IDs that read back. Spec: Client-Server API `POST /createRoom`,
`POST /user/{userId}/filter`.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import aiohttp

from tests.conftest import LiveServer
from tests.homeserver.api.helpers import CLIENT, JsonBody, call, register
from tests.homeserver.rooms.directory_helpers import alias_url

RACERS = 20


async def joined_rooms(http: aiohttp.ClientSession, server: LiveServer, token: str) -> list[str]:
    """The rooms the token's user is joined to."""
    status, body = await call(http, "GET", f"{server.url}{CLIENT}/joined_rooms", token=token)
    assert status == 200, body
    rooms: list[str] = body["joined_rooms"]
    return rooms


async def test_racing_create_room_for_one_alias_has_one_winner(server: LiveServer) -> None:
    url = f"{server.url}{CLIENT}/createRoom"
    async with aiohttp.ClientSession() as http:
        alice = await register(http, server.url, "alice")
        token = alice["access_token"]
        body = {"room_alias_name": "contested", "name": "Contested"}
        answers = await asyncio.gather(
            *(call(http, "POST", url, token=token, body=body) for _ in range(RACERS))
        )
        statuses = Counter(status for status, _ in answers)
        assert statuses == {200: 1, 400: RACERS - 1}, answers
        winner = next(created["room_id"] for status, created in answers if status == 200)
        losers = {err["errcode"] for status, err in answers if status == 400}
        assert losers == {"M_ROOM_IN_USE"}
        # Only the winning room exists for alice, and the alias names it.
        assert await joined_rooms(http, server, token) == [winner]
        status, resolved = await call(http, "GET", alias_url(server, "#contested:localhost"))
        assert (status, resolved["room_id"]) == (200, winner)


async def test_create_room_that_cannot_be_built_leaves_the_alias_free(server: LiveServer) -> None:
    url = f"{server.url}{CLIENT}/createRoom"
    async with aiohttp.ClientSession() as http:
        alice = await register(http, server.url, "alice")
        token = alice["access_token"]
        # Power levels that take alice's own power away: the canonical alias event after them
        # would be refused, so the room cannot be built as asked and is refused up front (in
        # room version 11: from version 12 the creator's power does not come from them).
        body: JsonBody = {
            "room_alias_name": "retry",
            "power_level_content_override": {"users": {}, "state_default": 50},
            "room_version": "11",
        }
        status, err = await call(http, "POST", url, token=token, body=body)
        assert (status, err["errcode"]) == (400, "M_INVALID_ROOM_STATE"), err
        assert await joined_rooms(http, server, token) == []
        status, _ = await call(http, "GET", alias_url(server, "#retry:localhost"))
        assert status == 404
        # The alias is free again for a room that can be built.
        status, created = await call(
            http, "POST", url, token=token, body={"room_alias_name": "retry"}
        )
        assert status == 200, created
        assert await joined_rooms(http, server, token) == [created["room_id"]]


async def test_racing_filter_uploads_all_succeed(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await register(http, server.url, "alice")
        token = alice["access_token"]
        url = f"{server.url}{CLIENT}/user/@alice:localhost/filter"
        definitions: list[JsonBody] = [{"room": {"timeline": {"limit": n}}} for n in range(RACERS)]
        answers = await asyncio.gather(
            *(call(http, "POST", url, token=token, body=d) for d in definitions)
        )
        assert [status for status, _ in answers] == [200] * RACERS, answers
        ids = [body["filter_id"] for _, body in answers]
        assert len(set(ids)) == RACERS
        for filter_id, definition in zip(ids, definitions, strict=True):
            status, stored = await call(http, "GET", f"{url}/{filter_id}", token=token)
            assert status == 200, stored
            assert stored["room"]["timeline"]["limit"] == definition["room"]["timeline"]["limit"]
        # The same definition, uploaded by many at once, gets one ID.
        same = {"presence": {"not_types": ["*"]}}
        answers = await asyncio.gather(
            *(call(http, "POST", url, token=token, body=same) for _ in range(RACERS))
        )
        assert {status for status, _ in answers} == {200}
        assert len({body["filter_id"] for _, body in answers}) == 1
