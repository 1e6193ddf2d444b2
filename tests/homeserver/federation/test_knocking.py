"""Knocking across servers: a user of hs2 knocks on a room of hs1 (make_knock/send_knock),
sees it under `knock` in /sync with the room's state, is let in by an invite and joins; a
knock is withdrawn by leaving; rooms that do not take knocks refuse them."""

from __future__ import annotations

from urllib.parse import quote

import aiohttp
import pytest

from core.errors import JsonDict
from tests.homeserver.api.helpers import new_client
from tests.homeserver.federation.servers import FederatedServer, signed_headers
from tests.homeserver.federation.test_joins import (
    VERSIONS,
    sync_until,
    timeline_bodies,
    until_member,
)
from tests.http_client import ApiClient

F1 = "/_matrix/federation/v1"


def knock_rule(rule: str = "knock") -> list[JsonDict]:
    return [{"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": rule}}]


def knocked(body: JsonDict, room_id: str) -> list[JsonDict]:
    """The room's `knock_state` events in a sync response ([] if absent)."""
    room = body.get("rooms", {}).get("knock", {}).get(room_id, {})
    events: list[JsonDict] = room.get("knock_state", {}).get("events", [])
    return events


async def knock(client: ApiClient, room: str, **query: object) -> tuple[int, JsonDict]:
    path = f"/knock/{quote(room, safe='')}"
    status, body = await client.request("POST", path, {"reason": "let me in"}, **query)
    return status, body


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_remote_knock_is_answered_by_an_invite_and_a_join(
    pair: list[FederatedServer], http: aiohttp.ClientSession, version: str
) -> None:
    hs1, hs2 = pair
    alice = await new_client(http, hs1.url, "alice")
    bob = await new_client(http, hs2.url, "bob")
    room_id = await alice.create_room(
        room_version=version, name="Knock knock", initial_state=knock_rule()
    )

    status, body = await knock(bob, room_id, via="hs1.test")
    assert (status, body) == (200, {"room_id": room_id})
    synced = await sync_until(bob, lambda b: bool(knocked(b, room_id)), "the knock")
    state = knocked(synced, room_id)
    assert {"m.room.create", "m.room.join_rules", "m.room.name", "m.room.member"} <= {
        e["type"] for e in state
    }
    mine = next(e for e in state if e["type"] == "m.room.member")
    assert (mine["state_key"], mine["content"]["membership"]) == (bob.user_id, "knock")
    assert next(e for e in state if e["type"] == "m.room.name")["content"]["name"] == (
        "Knock knock"
    )
    await until_member(alice, room_id, bob.user_id, "knock")
    member = await alice.ok("GET", f"/rooms/{quote(room_id)}/state/m.room.member/{bob.user_id}")
    assert (member["membership"], member["reason"]) == ("knock", "let me in")

    await alice.invite(room_id, bob.user_id)
    await sync_until(bob, lambda b: room_id in b["rooms"]["invite"], "the invite")
    await bob.ok("POST", f"/join/{quote(room_id, safe='')}", {})
    await until_member(alice, room_id, bob.user_id, "join")
    await alice.send(room_id, "come in")
    await sync_until(bob, lambda b: "come in" in timeline_bodies(b, room_id), "alice's welcome")


async def test_a_knock_by_alias_is_withdrawn_by_leaving(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice = await new_client(http, hs1.url, "alice")
    bob = await new_client(http, hs2.url, "bob")
    room_id = await alice.create_room(room_alias_name="porch", initial_state=knock_rule())

    status, body = await knock(bob, "#porch:hs1.test")
    assert (status, body) == (200, {"room_id": room_id})
    await until_member(alice, room_id, bob.user_id, "knock")
    body = await sync_until(bob, lambda b: bool(knocked(b, room_id)), "the knock")

    await bob.leave(room_id)
    await until_member(alice, room_id, bob.user_id, "leave")
    after = await bob.sync(body["next_batch"], timeout_ms=1000)
    assert room_id in after["rooms"]["leave"]
    assert room_id not in after["rooms"]["knock"]


async def test_knocks_the_room_does_not_take_are_refused(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice = await new_client(http, hs1.url, "alice")
    bob = await new_client(http, hs2.url, "bob")
    private = await alice.create_room(room_version="11", preset="private_chat")
    status, body = await knock(bob, private, via="hs1.test")
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN"), body
    status, body = await knock(bob, "!nowhere:hs1.test", via="hs1.test")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND"), body
    assert (await alice.ok("GET", f"/rooms/{quote(private)}/joined_members"))["joined"].keys() == {
        alice.user_id
    }

    room_id = await alice.create_room(room_version="11", initial_state=knock_rule())
    room, user = quote(room_id, safe=""), quote(bob.user_id)
    for uri, errcode in (
        (f"{F1}/make_knock/{room}/{user}?ver=10", "M_INCOMPATIBLE_ROOM_VERSION"),
        (f"{F1}/make_knock/{room}/{user}", "M_INCOMPATIBLE_ROOM_VERSION"),
        (f"{F1}/make_knock/{room}/{quote('@eve:hs3.test')}?ver=11", "M_FORBIDDEN"),
    ):
        headers = signed_headers(hs2.signing_key, hs2.name, hs1.name, "GET", uri)
        status, body = await hs1.request(http, "GET", uri, headers=headers)
        assert body.get("errcode") == errcode, (uri, status, body)
    uri = f"{F1}/make_knock/{room}/{user}?ver=10&ver=11"
    headers = signed_headers(hs2.signing_key, hs2.name, hs1.name, "GET", uri)
    status, body = await hs1.request(http, "GET", uri, headers=headers)
    assert status == 200, body
    assert body["room_version"] == "11"
    assert body["event"]["content"] == {"membership": "knock"}
    assert body["event"]["sender"] == body["event"]["state_key"] == bob.user_id

    # A join presented to send_knock is not a knock.
    uri = f"{F1}/send_knock/{room}/{quote('$x', safe='')}"
    event = {**body["event"], "content": {"membership": "join"}}
    headers = signed_headers(hs2.signing_key, hs2.name, hs1.name, "PUT", uri, event)
    status, answer = await hs1.request(http, "PUT", uri, headers=headers, body=event)
    assert status == 400, answer
