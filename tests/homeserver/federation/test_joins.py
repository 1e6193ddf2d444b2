"""Rooms across two live servers: invites, joins over federation, messages both ways,
state changes, leaving, rejoining and bans, in room versions 10, 11 and 12."""

from __future__ import annotations

from collections.abc import Awaitable
from urllib.parse import quote

import aiohttp
import pytest

from core.errors import JsonDict
from tests.homeserver.api.helpers import new_client
from tests.homeserver.federation.servers import FederatedServer
from tests.http_client import ApiClient
from tests.waiting import sync_until, wait_for

VERSIONS = ["10", "11", "12"]


async def _is(value: Awaitable[object], expected: object) -> bool:
    return await value == expected


def joined(body: JsonDict, room_id: str) -> JsonDict:
    """The room's `rooms.join` entry of a sync response ({} if absent)."""
    room: JsonDict = body.get("rooms", {}).get("join", {}).get(room_id, {})
    return room


def timeline_bodies(body: JsonDict, room_id: str) -> list[str]:
    """The message bodies of the room's timeline in a sync response."""
    events = joined(body, room_id).get("timeline", {}).get("events", [])
    return [e["content"].get("body", "") for e in events if e["type"] == "m.room.message"]


async def members(client: ApiClient, room_id: str) -> dict[str, str]:
    """`{user_id: membership}` of a room as the client's server sees it."""
    body = await client.ok("GET", f"/rooms/{quote(room_id)}/members")
    return {e["state_key"]: e["content"]["membership"] for e in body["chunk"]}


async def invited_and_joined(
    http: aiohttp.ClientSession,
    hs1: FederatedServer,
    hs2: FederatedServer,
    version: str,
    preset: str = "private_chat",
    before_join: int = 0,
) -> tuple[ApiClient, ApiClient, str]:
    """alice@hs1 makes a room (and sends `before_join` messages), invites bob@hs2, who joins
    it over federation."""
    alice = await new_client(http, hs1.url, "alice")
    bob = await new_client(http, hs2.url, "bob")
    room_id = await alice.create_room(room_version=version, name="Lounge", preset=preset)
    for n in range(before_join):
        await alice.send(room_id, f"early {n}")
    await alice.invite(room_id, bob.user_id)

    def invited(body: JsonDict) -> bool:
        return room_id in body.get("rooms", {}).get("invite", {})

    body = await sync_until(bob, invited, "the invite")
    state = body["rooms"]["invite"][room_id]["invite_state"]["events"]
    assert {"m.room.create", "m.room.name", "m.room.member"} <= {e["type"] for e in state}

    await bob.ok("POST", f"/join/{quote(room_id, safe='')}", {}, server_name="hs1.test")
    body = await sync_until(bob, lambda b: bool(joined(b, room_id)), "the join")
    state_types = {e["type"] for e in joined(body, room_id)["state"]["events"]}
    timeline_types = {e["type"] for e in joined(body, room_id)["timeline"]["events"]}
    assert "m.room.create" in state_types | timeline_types
    assert (await members(alice, room_id))[bob.user_id] == "join"
    return alice, bob, room_id


@pytest.mark.parametrize("version", VERSIONS)
async def test_invite_join_and_messages_both_ways(
    pair: list[FederatedServer], http: aiohttp.ClientSession, version: str
) -> None:
    hs1, hs2 = pair
    alice, bob, room_id = await invited_and_joined(http, hs1, hs2, version)
    assert (await members(bob, room_id)) == {alice.user_id: "join", bob.user_id: "join"}

    await alice.send(room_id, "hello from hs1")
    await sync_until(
        bob, lambda b: "hello from hs1" in timeline_bodies(b, room_id), "alice's message"
    )
    await bob.send(room_id, "hello from hs2")
    await sync_until(
        alice, lambda b: "hello from hs2" in timeline_bodies(b, room_id), "bob's message"
    )

    await alice.set_state(room_id, "m.room.topic", {"topic": "federated"})

    async def topic_on_hs2() -> str | None:
        status, body = await bob.request("GET", f"/rooms/{quote(room_id)}/state/m.room.topic")
        return body.get("topic") if status == 200 else None

    await wait_for(lambda: _is(topic_on_hs2(), "federated"), what="the topic on hs2")


async def until_member(client: ApiClient, room_id: str, user_id: str, membership: str) -> None:
    """Wait until the client's server sees `user_id` with `membership` in the room."""

    async def has_it() -> bool:
        return (await members(client, room_id)).get(user_id) == membership

    await wait_for(has_it, what=f"{user_id} as {membership} on {client.base}")


@pytest.mark.parametrize("version", ["10", "12"])
async def test_leave_rejoin_and_ban(
    pair: list[FederatedServer], http: aiohttp.ClientSession, version: str
) -> None:
    hs1, hs2 = pair
    alice, bob, room_id = await invited_and_joined(http, hs1, hs2, version, "public_chat")

    await bob.leave(room_id)
    await until_member(alice, room_id, bob.user_id, "leave")

    await bob.ok("POST", f"/join/{quote(room_id, safe='')}", {}, via="hs1.test")
    await until_member(alice, room_id, bob.user_id, "join")
    await bob.send(room_id, "back again")
    await sync_until(alice, lambda b: "back again" in timeline_bodies(b, room_id), "bob's return")

    await alice.ok("POST", f"/rooms/{quote(room_id)}/ban", {"user_id": bob.user_id})

    def banned(body: JsonDict) -> bool:
        return room_id in body.get("rooms", {}).get("leave", {})

    await sync_until(bob, banned, "the ban")
    status, body = await bob.request(
        "POST", f"/join/{quote(room_id, safe='')}", {}, server_name="hs1.test"
    )
    assert status == 403, body
    assert (await members(alice, room_id))[bob.user_id] == "ban"


async def test_a_remote_invite_is_rejected_through_the_inviting_server(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice = await new_client(http, hs1.url, "alice")
    bob = await new_client(http, hs2.url, "bob")
    room_id = await alice.create_room(room_version="12")
    await alice.invite(room_id, bob.user_id)
    body = await sync_until(
        bob, lambda b: room_id in b.get("rooms", {}).get("invite", {}), "invite"
    )

    await bob.leave(room_id)
    await until_member(alice, room_id, bob.user_id, "leave")
    after = await bob.sync(body["next_batch"], timeout_ms=1000)
    assert room_id in after["rooms"]["leave"]


async def test_a_remote_alias_is_joined_through_its_server(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    bob = await new_client(http, hs2.url, "bob")
    room_id = await bob.create_room(room_alias_name="plaza", preset="public_chat")
    alice = await new_client(http, hs1.url, "alice")

    joined_id = await alice.ok("POST", f"/join/{quote('#plaza:hs2.test', safe='')}", {})
    assert joined_id == {"room_id": room_id}
    await until_member(bob, room_id, alice.user_id, "join")
    await bob.send(room_id, "welcome")
    await sync_until(alice, lambda b: "welcome" in timeline_bodies(b, room_id), "bob's welcome")
