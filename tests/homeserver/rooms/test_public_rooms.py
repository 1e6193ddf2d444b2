"""`GET`/`POST /publicRooms` through the live server, on both backends."""

from __future__ import annotations

from urllib.parse import quote

import aiohttp

from tests.conftest import LiveServer
from tests.homeserver.api.helpers import CLIENT, JsonBody, call, register
from tests.homeserver.rooms.directory_helpers import create_room, join, public_rooms, search_rooms


async def testpublic_rooms_entries_and_order(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        users = [await register(http, server.url, name) for name in ("ann", "ben", "cat")]
        a, b, c = (u["access_token"] for u in users)
        big = await create_room(
            http,
            server,
            a,
            visibility="public",
            name="Big Room",
            topic="Everyone is here",
            room_alias_name="big",
            initial_state=[
                {"type": "m.room.avatar", "content": {"url": "mxc://localhost/avatar"}},
                {
                    "type": "m.room.history_visibility",
                    "content": {"history_visibility": "world_readable"},
                },
                {"type": "m.room.guest_access", "content": {"guest_access": "can_join"}},
            ],
        )
        medium = await create_room(http, server, b, visibility="public", name="Medium")
        small = await create_room(http, server, c, visibility="public")
        for token in (b, c):
            await join(http, server, token, big)
        await join(http, server, a, medium)
        # Published but invite-only, and unpublished: neither is listed.
        await create_room(http, server, a, visibility="public", preset="private_chat")
        await create_room(http, server, a, preset="public_chat")

        status, body = await public_rooms(http, server)
        assert status == 200, body
        assert body["total_room_count_estimate"] == 3
        assert "next_batch" not in body
        assert "prev_batch" not in body
        assert [room["room_id"] for room in body["chunk"]] == [big, medium, small]
        assert body["chunk"][0] == {
            "room_id": big,
            "name": "Big Room",
            "topic": "Everyone is here",
            "canonical_alias": "#big:localhost",
            "avatar_url": "mxc://localhost/avatar",
            "num_joined_members": 3,
            "world_readable": True,
            "guest_can_join": True,
            "join_rule": "public",
        }
        assert body["chunk"][2] == {
            "room_id": small,
            "num_joined_members": 1,
            "world_readable": False,
            "guest_can_join": False,
            "join_rule": "public",
        }

        # Leaving shrinks the count and so the order follows.
        for token in (b, c):
            leave = f"{server.url}{CLIENT}/rooms/{big}/leave"
            assert (await call(http, "POST", leave, token=token, body={}))[0] == 200
        chunk = (await public_rooms(http, server))[1]["chunk"]
        assert chunk[0]["room_id"] == medium
        assert {room["room_id"] for room in chunk[1:]} == {big, small}


async def testpublic_rooms_pagination(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await register(http, server.url, "alice")
        bob = await register(http, server.url, "bob")
        a = alice["access_token"]
        rooms = [await create_room(http, server, a, visibility="public") for _ in range(5)]
        await join(http, server, bob["access_token"], rooms[2])
        # Ties in member count go by room ID in the database's collation.
        status, everything = await public_rooms(http, server)
        expected = [room["room_id"] for room in everything["chunk"]]
        assert expected[0] == rooms[2]
        assert sorted(expected) == sorted(rooms)

        status, page1 = await public_rooms(http, server, "?limit=2")
        assert status == 200, page1
        assert [r["room_id"] for r in page1["chunk"]] == expected[:2]
        assert "prev_batch" not in page1
        assert page1["total_room_count_estimate"] == 5
        since = quote(page1["next_batch"], safe="")
        status, page2 = await public_rooms(http, server, f"?limit=2&since={since}")
        assert [r["room_id"] for r in page2["chunk"]] == expected[2:4]
        status, page3 = await search_rooms(
            http, server, a, {"limit": 2, "since": page2["next_batch"]}
        )
        assert status == 200, page3
        assert [r["room_id"] for r in page3["chunk"]] == expected[4:]
        assert "next_batch" not in page3

        # And back again: the same pages, with no prev_batch on the first one.
        status, back2 = await search_rooms(
            http, server, a, {"limit": 2, "since": page3["prev_batch"]}
        )
        assert [r["room_id"] for r in back2["chunk"]] == expected[2:4]
        assert back2["next_batch"]
        status, back1 = await search_rooms(
            http, server, a, {"limit": 2, "since": back2["prev_batch"]}
        )
        assert [r["room_id"] for r in back1["chunk"]] == expected[:2]
        assert "prev_batch" not in back1
        status, again2 = await search_rooms(
            http, server, a, {"limit": 2, "since": back1["next_batch"]}
        )
        assert [r["room_id"] for r in again2["chunk"]] == expected[2:4]

        # A room published between pages slots in without shifting the others.
        newcomer = await create_room(http, server, a, visibility="public")
        status, after = await search_rooms(
            http, server, a, {"limit": 10, "since": page1["next_batch"]}
        )
        status, everything = await public_rooms(http, server)
        now = [room["room_id"] for room in everything["chunk"]]
        assert [r["room_id"] for r in after["chunk"]] == now[now.index(expected[1]) + 1 :]
        assert [room for room in now if room != newcomer] == expected

        for query in ("?since=garbage", "?limit=abc", "?limit=-1", "?since=Zm9v"):
            status, body = await public_rooms(http, server, query)
            assert (status, body["errcode"]) == (400, "M_INVALID_PARAM"), query
        status, body = await search_rooms(http, server, a, {"limit": "2"})
        assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")


async def testpublic_rooms_search_filter(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await register(http, server.url, "alice")
        a = alice["access_token"]
        cats = await create_room(
            http, server, a, visibility="public", name="Cat Pictures", topic="Only felines"
        )
        dogs = await create_room(
            http, server, a, visibility="public", name="Dogs", topic="100% good boys"
        )
        aliased = await create_room(http, server, a, visibility="public", room_alias_name="birds")
        space = await create_room(
            http,
            server,
            a,
            visibility="public",
            name="A space",
            creation_content={"type": "m.space"},
        )

        async def found(room_filter: JsonBody) -> list[str]:
            status, body = await search_rooms(http, server, a, {"filter": room_filter})
            assert status == 200, body
            return sorted(room["room_id"] for room in body["chunk"])

        assert await found({"generic_search_term": "cAT pic"}) == [cats]
        assert await found({"generic_search_term": "FELINE"}) == [cats]
        assert await found({"generic_search_term": "#birds"}) == [aliased]
        assert await found({"generic_search_term": "100%"}) == [dogs]
        assert await found({"generic_search_term": "%"}) == [dogs]
        assert await found({"generic_search_term": "_"}) == []
        assert await found({"generic_search_term": "nothing like it"}) == []
        assert await found({"generic_search_term": ""}) == sorted([cats, dogs, aliased, space])
        assert await found({"room_types": ["m.space"]}) == [space]
        assert await found({"room_types": [None]}) == sorted([cats, dogs, aliased])
        assert await found({"room_types": [None, "m.space"]}) == sorted(
            [cats, dogs, aliased, space]
        )
        assert await found({"generic_search_term": "space", "room_types": [None]}) == []
        _, spaces = await search_rooms(http, server, a, {"filter": {"room_types": ["m.space"]}})
        assert spaces["chunk"][0]["room_type"] == "m.space"
        assert spaces["total_room_count_estimate"] == 4

        status, body = await search_rooms(http, server, a, {"filter": {"room_types": "m.space"}})
        assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
        status, body = await search_rooms(http, server, a, {"filter": []})
        assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")


async def testpublic_rooms_server_networks_and_auth(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await register(http, server.url, "alice")
        a = alice["access_token"]
        room_id = await create_room(http, server, a, visibility="public")

        status, body = await public_rooms(http, server, "?server=localhost")
        assert [room["room_id"] for room in body["chunk"]] == [room_id]
        status, body = await public_rooms(http, server, "?server=elsewhere.example")
        assert (status, body["errcode"]) == (401, "M_MISSING_TOKEN")  # no anonymous relay
        url = f"{server.url}{CLIENT}/publicRooms?server=elsewhere.example"
        status, body = await call(http, "GET", url, token=a)
        assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")  # federation is off

        status, body = await search_rooms(http, server, a, {"include_all_networks": True})
        assert [room["room_id"] for room in body["chunk"]] == [room_id]
        status, body = await search_rooms(http, server, a, {"third_party_instance_id": "irc"})
        assert (status, body["chunk"]) == (200, [])
        both = {"include_all_networks": True, "third_party_instance_id": "irc"}
        status, body = await search_rooms(http, server, a, both)
        assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")

        url = f"{server.url}{CLIENT}/publicRooms"
        status, body = await call(http, "POST", url, body={})
        assert (status, body["errcode"]) == (401, "M_MISSING_TOKEN")


async def testpublic_rooms_survive_odd_state(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await register(http, server.url, "alice")
        a = alice["access_token"]
        room_id = await create_room(
            http,
            server,
            a,
            visibility="public",
            name="nul\u0000name",
            initial_state=[{"type": "m.room.topic", "content": {"topic": 42}}],
        )
        status, body = await public_rooms(http, server)
        assert status == 200, body
        (entry,) = body["chunk"]
        assert entry["room_id"] == room_id
        assert "topic" not in entry  # not a string
        # PostgreSQL text cannot hold NUL: both backends leave such a name out alike.
        assert "name" not in entry
