"""Per-room profiles: a joined member restates their own `m.room.member` through `/state`.

Spec: Client-Server API `PUT /rooms/{roomId}/state/{eventType}/{stateKey}` and the room
version auth rules (a join is allowed when the sender is already joined). Membership changes
themselves stay on the membership endpoints.
"""

from __future__ import annotations

from urllib.parse import quote

import aiohttp
import nio

from tests.conftest import LiveServer
from tests.homeserver.api.helpers import CLIENT, PASSWORD, call, register
from tests.homeserver.rooms.directory_helpers import create_room, join

_CONFIG = nio.AsyncClientConfig(
    max_limit_exceeded=0, max_timeouts=0, encryption_enabled=False, store_sync_tokens=False
)


def member_url(server: LiveServer, room_id: str, user_id: str) -> str:
    """The `m.room.member` state URL of `user_id` in a room."""
    room, user = quote(room_id, safe=""), quote(user_id, safe="")
    return f"{server.url}{CLIENT}/rooms/{room}/state/m.room.member/{user}"


async def test_room_nickname_through_state(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await register(http, server.url, "alice")
        token = alice["access_token"]
        room_id = await create_room(http, server, token, preset="public_chat")
        url = member_url(server, room_id, "@alice:localhost")
        nick = {"membership": "join", "displayname": "Alice in this room"}

        status, sent = await call(http, "PUT", url, token=token, body=nick)
        assert status == 200, sent
        assert sent["event_id"].startswith("$")
        assert await call(http, "GET", url, token=token) == (200, nick)
        members = f"{server.url}{CLIENT}/rooms/{quote(room_id, safe='')}/joined_members"
        status, joined = await call(http, "GET", members, token=token)
        assert joined["joined"]["@alice:localhost"]["display_name"] == "Alice in this room"


async def test_membership_changes_through_state_are_refused(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await register(http, server.url, "alice")
        bob = await register(http, server.url, "bob")
        room_id = await create_room(http, server, alice["access_token"], preset="public_chat")
        cases = [
            (bob, "@bob:localhost", {"membership": "join"}),  # not joined yet: use /join
            (alice, "@bob:localhost", {"membership": "join"}),  # someone else's join
            (alice, "@alice:localhost", {"membership": "leave"}),  # a change: use /leave
            (alice, "@alice:localhost", {"displayname": "no membership"}),
        ]
        for who, target, content in cases:
            url = member_url(server, room_id, target)
            status, err = await call(http, "PUT", url, token=who["access_token"], body=content)
            assert (status, err["errcode"]) == (403, "M_FORBIDDEN"), (target, content)
        # Once joined, bob may set his own nickname too.
        await join(http, server, bob["access_token"], room_id)
        url = member_url(server, room_id, "@bob:localhost")
        body = {"membership": "join", "displayname": "Bobby"}
        status, sent = await call(http, "PUT", url, token=bob["access_token"], body=body)
        assert status == 200, sent


async def test_room_nickname_with_matrix_nio(server: LiveServer) -> None:
    client = nio.AsyncClient(server.url, config=_CONFIG)
    try:
        registered = await client.register("carol", PASSWORD)
        assert isinstance(registered, nio.RegisterResponse), registered
        created = await client.room_create(name="Nicknames")
        assert isinstance(created, nio.RoomCreateResponse), created
        content = {"membership": "join", "displayname": "Caz"}
        put = await client.room_put_state(
            created.room_id, "m.room.member", content, state_key=client.user_id
        )
        assert isinstance(put, nio.RoomPutStateResponse), put
        synced = await client.sync(timeout=0, full_state=True)
        assert isinstance(synced, nio.SyncResponse), synced
        room = client.rooms[created.room_id]
        assert room.user_name(client.user_id) == "Caz"
    finally:
        await client.close()
