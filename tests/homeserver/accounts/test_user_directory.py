"""`POST /user_directory/search` through the live server, on both backends."""

from __future__ import annotations

import aiohttp

from tests.conftest import LiveServer
from tests.homeserver.api.helpers import CLIENT, JsonBody, call, register, with_password_uia
from tests.homeserver.rooms.directory_helpers import create_room


async def _search(
    http: aiohttp.ClientSession, server: LiveServer, token: str | None, body: object
) -> tuple[int, JsonBody]:
    url = f"{server.url}{CLIENT}/user_directory/search"
    return await call(http, "POST", url, token=token, body=body)


async def _found(
    http: aiohttp.ClientSession, server: LiveServer, token: str, term: str
) -> list[str]:
    status, body = await _search(http, server, token, {"search_term": term})
    assert status == 200, body
    assert body["limited"] is False
    return [result["user_id"] for result in body["results"]]


async def _member(
    http: aiohttp.ClientSession, server: LiveServer, token: str, room_id: str, action: str
) -> None:
    url = f"{server.url}{CLIENT}/rooms/{room_id}/{action}"
    status, body = await call(http, "POST", url, token=token, body={})
    assert status == 200, body


async def _set_profile(
    http: aiohttp.ClientSession, server: LiveServer, user: JsonBody, field: str, value: str
) -> None:
    url = f"{server.url}{CLIENT}/profile/{user['user_id']}/{field}"
    status, body = await call(http, "PUT", url, token=user["access_token"], body={field: value})
    assert status == 200, body


async def test_visibility_shared_public_and_strangers(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await register(http, server.url, "alice")
        bob = await register(http, server.url, "bob")
        carol = await register(http, server.url, "carol")
        dave = await register(http, server.url, "dave")
        a, b, c, d = (u["access_token"] for u in (alice, bob, carol, dave))

        # Alice and Bob share a private room; Carol sits alone in a private room.
        shared = await create_room(http, server, a, invite=[bob["user_id"]])
        await _member(http, server, b, shared, "join")
        await create_room(http, server, c)

        assert await _found(http, server, a, "bob") == ["@bob:localhost"]
        assert await _found(http, server, b, "alice") == ["@alice:localhost"]
        assert await _found(http, server, a, "carol") == []
        assert await _found(http, server, d, "bob") == []
        # Sharing a private room with yourself does not make you findable to yourself.
        assert await _found(http, server, a, "alice") == []

        # Carol joins a publicly joinable room: now everybody finds her, herself included.
        lobby = await create_room(http, server, d, preset="public_chat")
        await _member(http, server, c, lobby, "join")
        assert await _found(http, server, a, "carol") == ["@carol:localhost"]
        assert await _found(http, server, c, "carol") == ["@carol:localhost"]
        assert await _found(http, server, b, "dave") == ["@dave:localhost"]

        # Leaving ends both kinds of visibility.
        await _member(http, server, c, lobby, "leave")
        assert await _found(http, server, a, "carol") == []
        await _member(http, server, b, shared, "leave")
        assert await _found(http, server, a, "bob") == []

        # An invitation is not membership.
        await _member(http, server, a, shared, "leave")
        private = await create_room(http, server, a, invite=[bob["user_id"]])
        assert await _found(http, server, a, "bob") == []
        await _member(http, server, b, private, "join")
        assert await _found(http, server, a, "bob") == ["@bob:localhost"]


async def test_world_readable_rooms_count_as_public(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await register(http, server.url, "alice")
        stranger = await register(http, server.url, "stranger")
        await create_room(
            http,
            server,
            alice["access_token"],
            initial_state=[
                {
                    "type": "m.room.history_visibility",
                    "content": {"history_visibility": "world_readable"},
                }
            ],
        )
        found = await _found(http, server, stranger["access_token"], "ali")
        assert found == ["@alice:localhost"]


async def test_display_names_and_matching(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await register(http, server.url, "alice")
        bob = await register(http, server.url, "bob")
        zed = await register(http, server.url, "zed")
        a = alice["access_token"]
        lobby = await create_room(http, server, a, preset="public_chat")
        for user in (bob, zed):
            await _member(http, server, user["access_token"], lobby, "join")
        await _set_profile(http, server, bob, "displayname", "Robert Tables")
        await _set_profile(http, server, bob, "avatar_url", "mxc://localhost/bob")

        status, body = await _search(http, server, a, {"search_term": "ROBERT"})
        assert status == 200, body
        assert body == {
            "results": [
                {
                    "user_id": "@bob:localhost",
                    "display_name": "Robert Tables",
                    "avatar_url": "mxc://localhost/bob",
                }
            ],
            "limited": False,
        }
        assert await _found(http, server, a, "tables rob") == ["@bob:localhost"]
        assert await _found(http, server, a, "@bob:local") == ["@bob:localhost"]
        assert await _found(http, server, a, "%") == []
        assert await _found(http, server, a, "_") == []
        assert await _found(http, server, a, "   ") == []

        # A display name change shows in the next search.
        await _set_profile(http, server, bob, "displayname", "Bobby")
        assert await _found(http, server, a, "robert") == []
        assert await _found(http, server, a, "bobby") == ["@bob:localhost"]

        # Zed's display name starts with "bob": the exact localpart match ranks first.
        await _set_profile(http, server, zed, "displayname", "bobcat")
        assert await _found(http, server, a, "bob") == ["@bob:localhost", "@zed:localhost"]


async def test_limit_and_limited(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        owner = await register(http, server.url, "owner")
        lobby = await create_room(http, server, owner["access_token"], preset="public_chat")
        for i in range(4):
            user = await register(http, server.url, f"member{i}")
            await _member(http, server, user["access_token"], lobby, "join")
        token = owner["access_token"]

        status, body = await _search(http, server, token, {"search_term": "member", "limit": 3})
        assert status == 200, body
        assert [r["user_id"] for r in body["results"]] == [
            f"@member{i}:localhost" for i in range(3)
        ]
        assert body["limited"] is True
        status, body = await _search(http, server, token, {"search_term": "member", "limit": 4})
        assert (len(body["results"]), body["limited"]) == (4, False)
        status, body = await _search(http, server, token, {"search_term": "member"})
        assert (len(body["results"]), body["limited"]) == (4, False)


async def test_deactivated_users_are_not_found(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await register(http, server.url, "alice")
        bob = await register(http, server.url, "bob")
        lobby = await create_room(http, server, alice["access_token"], preset="public_chat")
        await _member(http, server, bob["access_token"], lobby, "join")
        assert await _found(http, server, alice["access_token"], "bob") == ["@bob:localhost"]

        url = f"{server.url}{CLIENT}/account/deactivate"
        status, body = await with_password_uia(
            http, "POST", url, bob["access_token"], bob["user_id"]
        )
        assert status == 200, body
        assert await _found(http, server, alice["access_token"], "bob") == []


async def test_search_errors(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await register(http, server.url, "alice")
        a = alice["access_token"]
        status, body = await _search(http, server, None, {"search_term": "x"})
        assert (status, body["errcode"]) == (401, "M_MISSING_TOKEN")
        status, body = await _search(http, server, a, {})
        assert (status, body["errcode"]) == (400, "M_MISSING_PARAM")
        status, body = await _search(http, server, a, {"search_term": 5})
        assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
        for limit in ("10", True, -1):
            status, body = await _search(http, server, a, {"search_term": "x", "limit": limit})
            assert (status, body["errcode"]) == (400, "M_INVALID_PARAM"), limit
