"""Restricted rooms across servers: a user of hs2 joins a `restricted` or `knock_restricted`
room of hs1 because they are in a room the join rules allow, with hs1 naming and signing for
one of its users in `join_authorised_via_users_server`; users in no allowed room are refused
with the spec's error, and a server that cannot vouch says so, letting another one do it."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from core.errors import JsonDict
from core.hashes import compute_event_id, sign_event
from core.room_versions import KNOWN_ROOM_VERSIONS
from tests.homeserver.api.helpers import new_client
from tests.homeserver.federation.servers import FederatedServer, signed_headers
from tests.homeserver.federation.test_joins import (
    sync_until,
    timeline_bodies,
    until_member,
)
from tests.http_client import ApiClient

F1 = "/_matrix/federation/v1"
AUTHORISED_VIA = "join_authorised_via_users_server"


def restricted_to(room_id: str, rule: str = "restricted", invite: int = 0) -> JsonDict:
    """`/createRoom` fields of a room whose join rules allow the members of `room_id`."""
    allow = [{"type": "m.room_membership", "room_id": room_id}]
    return {
        "preset": "private_chat",
        "initial_state": [
            {
                "type": "m.room.join_rules",
                "state_key": "",
                "content": {"join_rule": rule, "allow": allow},
            }
        ],
        "power_level_content_override": {"invite": invite},
    }


async def join(client: ApiClient, room_id: str, via: str) -> tuple[int, JsonDict]:
    status, body = await client.request("POST", f"/join/{quote(room_id, safe='')}", {}, via=via)
    return status, body


async def member_content(client: ApiClient, room_id: str, user_id: str) -> JsonDict:
    path = f"/rooms/{quote(room_id)}/state/m.room.member/{quote(user_id)}"
    content: JsonDict = await client.ok("GET", path)
    return content


async def make_join(
    http: aiohttp.ClientSession,
    asker: FederatedServer,
    resident: FederatedServer,
    room: str,
    user: str,
) -> tuple[int, JsonDict]:
    uri = f"{F1}/make_join/{quote(room, safe='')}/{quote(user)}?ver=10&ver=11&ver=12"
    headers = signed_headers(asker.signing_key, asker.name, resident.name, "GET", uri)
    return await resident.request(http, "GET", uri, headers=headers)


async def forged_join(
    resident: ApiClient, server: FederatedServer, room_id: str, version: str, user_id: str
) -> JsonDict:
    """A join of `user_id` naming the resident's user as authoriser, signed by `server`."""
    events = await resident.ok("GET", f"/rooms/{quote(room_id)}/state")
    state = {(e["type"], e["state_key"]): e["event_id"] for e in events}
    last = await resident.ok("GET", f"/rooms/{quote(room_id)}/messages", dir="b", limit=1)
    room_version = KNOWN_ROOM_VERSIONS[version]
    auth = [state[("m.room.power_levels", "")], state[("m.room.join_rules", "")]]
    auth.append(state[("m.room.member", resident.user_id)])
    if not room_version.room_id_from_create_event:
        auth.append(state[("m.room.create", "")])
    raw: dict[str, Any] = {
        "room_id": room_id,
        "sender": user_id,
        "type": "m.room.member",
        "state_key": user_id,
        "content": {"membership": "join", AUTHORISED_VIA: resident.user_id},
        "origin_server_ts": 1_700_000_000_000,
        "prev_events": [last["chunk"][0]["event_id"]],
        "auth_events": auth,
        "depth": 1000,
    }
    return sign_event(raw, server.name, server.signing_key, room_version)


async def send_join(
    http: aiohttp.ClientSession,
    asker: FederatedServer,
    resident: FederatedServer,
    room_id: str,
    event: JsonDict,
    version: str,
) -> tuple[int, JsonDict]:
    event_id = compute_event_id(event, KNOWN_ROOM_VERSIONS[version])
    uri = f"/_matrix/federation/v2/send_join/{quote(room_id, safe='')}/{quote(event_id, safe='')}"
    headers = signed_headers(asker.signing_key, asker.name, resident.name, "PUT", uri, event)
    return await resident.request(http, "PUT", uri, headers=headers, body=event)


async def members(client: ApiClient, room_id: str) -> dict[str, str]:
    body = await client.ok("GET", f"/rooms/{quote(room_id)}/members")
    return {e["state_key"]: e["content"]["membership"] for e in body["chunk"]}


@pytest.mark.parametrize(
    ("version", "rule"),
    [
        ("10", "restricted"),
        ("11", "knock_restricted"),
        ("12", "restricted"),
        ("12", "knock_restricted"),
    ],
)
async def test_a_member_of_an_allowed_room_joins_through_the_resident_server(
    pair: list[FederatedServer], http: aiohttp.ClientSession, version: str, rule: str
) -> None:
    hs1, hs2 = pair
    alice = await new_client(http, hs1.url, "alice")
    bob = await new_client(http, hs2.url, "bob")
    carol = await new_client(http, hs2.url, "carol")
    space = await alice.create_room(preset="public_chat", room_version=version)
    assert (await join(bob, space, "hs1.test"))[0] == 200
    await until_member(alice, space, bob.user_id, "join")
    room_id = await alice.create_room(room_version=version, **restricted_to(space, rule))

    status, body = await join(bob, room_id, "hs1.test")
    assert status == 200, body
    await until_member(alice, room_id, bob.user_id, "join")
    assert (await member_content(alice, room_id, bob.user_id))[AUTHORISED_VIA] == alice.user_id
    assert (await member_content(bob, room_id, bob.user_id))[AUTHORISED_VIA] == alice.user_id
    # The copy hs2 kept, and serves, carries hs1's signature.
    event_id = await bob.ok("GET", f"/rooms/{quote(room_id)}/state")
    join_id = next(
        e["event_id"]
        for e in event_id
        if e["type"] == "m.room.member" and e["state_key"] == bob.user_id
    )
    uri = f"{F1}/event/{quote(join_id, safe='')}"
    headers = signed_headers(hs1.signing_key, hs1.name, hs2.name, "GET", uri)
    status, served = await hs2.request(http, "GET", uri, headers=headers)
    assert status == 200, served
    assert {"hs1.test", "hs2.test"} <= served["pdus"][0]["signatures"].keys()
    await bob.send(room_id, "in through the space")
    await sync_until(
        alice, lambda b: "in through the space" in timeline_bodies(b, room_id), "bob's message"
    )

    # carol is in no allowed room.
    status, body = await join(carol, room_id, "hs1.test")
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN"), body
    status, body = await make_join(http, hs2, hs1, room_id, carol.user_id)
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN"), body
    # A join hs2 makes up for carol, naming alice as its authoriser, is neither signed nor
    # taken in by hs1.
    forged = await forged_join(alice, hs2, room_id, version, carol.user_id)
    status, body = await send_join(http, hs2, hs1, room_id, forged, version)
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN"), body
    assert carol.user_id not in await members(alice, room_id)
    if rule == "knock_restricted":
        status, body = await carol.request(
            "POST", f"/knock/{quote(room_id, safe='')}", {}, via="hs1.test"
        )
        assert status == 200, body
        await until_member(alice, room_id, carol.user_id, "knock")


async def test_a_server_in_no_allowed_room_cannot_authorise(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice = await new_client(http, hs1.url, "alice")
    bob = await new_client(http, hs2.url, "bob")
    elsewhere = await bob.create_room(preset="public_chat")  # hs1 is not in it
    room_id = await alice.create_room(room_version="11", **restricted_to(elsewhere))

    status, body = await make_join(http, hs2, hs1, room_id, bob.user_id)
    assert (status, body["errcode"]) == (400, "M_UNABLE_TO_AUTHORISE_JOIN"), body
    status, body = await join(bob, room_id, "hs1.test")
    assert (status, body["errcode"]) == (400, "M_UNABLE_TO_AUTHORISE_JOIN"), body


async def test_a_server_without_a_user_able_to_invite_lets_another_vouch(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice = await new_client(http, hs1.url, "alice")
    bob = await new_client(http, hs2.url, "bob")
    dave = await new_client(http, hs2.url, "dave")
    space = await alice.create_room(preset="public_chat", room_version="12")
    for client in (bob, dave):
        assert (await join(client, space, "hs1.test"))[0] == 200
        await until_member(alice, space, client.user_id, "join")
    # bob's room: only bob (hs2) may invite; alice joins it, vouched for by bob.
    room_id = await bob.create_room(room_version="12", **restricted_to(space, invite=50))
    status, body = await join(alice, room_id, "hs2.test")
    assert status == 200, body
    assert (await member_content(bob, room_id, alice.user_id))[AUTHORISED_VIA] == bob.user_id

    # hs1 is in the room and sees dave in the space, but nobody of hs1 may invite.
    await until_member(alice, room_id, alice.user_id, "join")
    status, body = await make_join(http, hs2, hs1, room_id, dave.user_id)
    assert (status, body["errcode"]) == (400, "M_UNABLE_TO_GRANT_JOIN"), body

    # dave's own server is in the room and vouches for him itself.
    status, body = await join(dave, room_id, "hs1.test")
    assert status == 200, body
    assert (await member_content(bob, room_id, dave.user_id))[AUTHORISED_VIA] == bob.user_id
    await until_member(alice, room_id, dave.user_id, "join")
