"""`/sync` over raw HTTP on both backends: initial and incremental sync, long-poll wake-up,
filters, invites, leaves, tokens."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from tests.conftest import LiveServer
from tests.homeserver.api.helpers import new_client as register
from tests.waiting import LONG_POLL_MS, PATIENCE_S, long_polls_parked


def timeline_bodies(sync: dict[str, Any], room_id: str) -> list[str]:
    room = sync["rooms"]["join"].get(room_id)
    if room is None:
        return []
    return [
        e["content"].get("body")
        for e in room["timeline"]["events"]
        if e["type"] == "m.room.message"
    ]


async def test_initial_sync_has_room_state_and_timeline(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await register(http, server.url, "alice")
    room = await alice.ok("POST", "/createRoom", {"name": "Room"})
    room_id = room["room_id"]
    await alice.ok(
        "PUT", f"/rooms/{room_id}/send/m.room.message/1", {"msgtype": "m.text", "body": "hello"}
    )
    sync = await alice.ok("GET", "/sync")
    assert sync["next_batch"].startswith("s")
    joined = sync["rooms"]["join"][room_id]
    assert timeline_bodies(sync, room_id) == ["hello"]
    types = {e["type"] for e in joined["state"]["events"]} | {
        e["type"] for e in joined["timeline"]["events"]
    }
    assert {"m.room.create", "m.room.member", "m.room.power_levels", "m.room.name"} <= types
    assert "room_id" not in joined["timeline"]["events"][0]
    assert joined["timeline"]["prev_batch"]


async def test_incremental_sync_wakes_on_message(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await register(http, server.url, "alice")
    bob = await register(http, server.url, "bob")
    room_id = (await alice.ok("POST", "/createRoom", {"preset": "public_chat"}))["room_id"]
    await bob.ok("POST", f"/join/{room_id}", {})
    since = (await bob.ok("GET", "/sync"))["next_batch"]
    waiter = asyncio.create_task(bob.ok("GET", "/sync", since=since, timeout=str(LONG_POLL_MS)))
    await long_polls_parked(server)
    assert not waiter.done()
    await alice.ok(
        "PUT", f"/rooms/{room_id}/send/m.room.message/1", {"msgtype": "m.text", "body": "ping"}
    )
    sync = await asyncio.wait_for(waiter, PATIENCE_S)
    assert timeline_bodies(sync, room_id) == ["ping"]
    assert sync["next_batch"] != since
    # The unread count may follow on its own (push evaluation runs behind the send path);
    # after that there is nothing new and a zero-timeout sync returns at once and empty.
    token = sync["next_batch"]
    for _ in range(20):
        again = await bob.ok("GET", "/sync", since=token, timeout="1000")
        room = again["rooms"]["join"].get(room_id)
        if room is None:
            break
        assert room["timeline"]["events"] == []
        assert room["unread_notifications"]["notification_count"] == 1
        token = again["next_batch"]
    empty = await bob.ok("GET", "/sync", since=token, timeout="0")
    assert empty["rooms"]["join"] == {}


async def test_invite_then_leave_sections(server: LiveServer, http: aiohttp.ClientSession) -> None:
    alice = await register(http, server.url, "alice")
    bob = await register(http, server.url, "bob")
    since = (await bob.ok("GET", "/sync"))["next_batch"]
    room_id = (await alice.ok("POST", "/createRoom", {"name": "Secret", "invite": [bob.user_id]}))[
        "room_id"
    ]
    sync = await bob.ok("GET", "/sync", since=since, timeout="5000")
    invite = sync["rooms"]["invite"][room_id]["invite_state"]["events"]
    assert any(e["type"] == "m.room.name" for e in invite)
    assert any(e["type"] == "m.room.member" and e["state_key"] == bob.user_id for e in invite)
    await bob.ok("POST", f"/rooms/{room_id}/join", {})
    await bob.ok("POST", f"/rooms/{room_id}/leave", {})
    sync2 = await bob.ok("GET", "/sync", since=sync["next_batch"])
    assert room_id in sync2["rooms"]["leave"]
    assert room_id not in sync2["rooms"]["join"]


async def test_limited_timeline_and_filter(server: LiveServer, http: aiohttp.ClientSession) -> None:
    alice = await register(http, server.url, "alice")
    room_id = (await alice.ok("POST", "/createRoom", {}))["room_id"]
    since = (await alice.ok("GET", "/sync"))["next_batch"]
    for i in range(5):
        await alice.ok(
            "PUT",
            f"/rooms/{room_id}/send/m.room.message/{i}",
            {"msgtype": "m.text", "body": str(i)},
        )
    created = await alice.ok(
        "POST", f"/user/{alice.user_id}/filter", {"room": {"timeline": {"limit": 2}}}
    )
    fetched = await alice.ok("GET", f"/user/{alice.user_id}/filter/{created['filter_id']}")
    assert fetched == {"room": {"timeline": {"limit": 2}}}
    sync = await alice.ok("GET", "/sync", since=since, filter=created["filter_id"])
    room = sync["rooms"]["join"][room_id]
    assert timeline_bodies(sync, room_id) == ["3", "4"]
    assert room["timeline"]["limited"] is True
    inline = await alice.ok(
        "GET", "/sync", since=since, filter='{"room":{"timeline":{"types":["m.room.create"]}}}'
    )
    # Every new event is filtered out, so the room has nothing to report.
    assert room_id not in inline["rooms"]["join"]


async def test_bad_tokens_and_params(server: LiveServer, http: aiohttp.ClientSession) -> None:
    alice = await register(http, server.url, "alice")
    for query in (
        {"since": "garbage"},
        {"timeout": "-1"},
        {"set_presence": "away"},
        {"filter": "{nope"},
    ):
        status, body = await alice.request("GET", "/sync", **query)
        assert status == 400, (query, body)
        assert body["errcode"] == "M_INVALID_PARAM"
    status, body = await alice.request("GET", "/sync", filter="12345")
    assert status == 404
    status, body = await alice.request("POST", "/user/@other:localhost/filter", {})
    assert status == 403


async def test_own_events_carry_transaction_id(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await register(http, server.url, "alice")
    bob = await register(http, server.url, "bob")
    room_id = (await alice.ok("POST", "/createRoom", {"preset": "public_chat"}))["room_id"]
    await bob.ok("POST", f"/join/{room_id}", {})
    since = (await alice.ok("GET", "/sync"))["next_batch"]
    body = {"msgtype": "m.text", "body": "echo"}
    await alice.ok("PUT", f"/rooms/{room_id}/send/m.room.message/my-txn", body)
    mine = await alice.ok("GET", "/sync", since=since)
    event = mine["rooms"]["join"][room_id]["timeline"]["events"][-1]
    assert event["unsigned"]["transaction_id"] == "my-txn"
    theirs = await bob.ok("GET", "/sync", since=since)
    assert (
        "transaction_id"
        not in theirs["rooms"]["join"][room_id]["timeline"]["events"][-1]["unsigned"]
    )


async def test_display_name_change_reaches_member_events(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await register(http, server.url, "alice")
    bob = await register(http, server.url, "bob")
    room_id = (await alice.ok("POST", "/createRoom", {"preset": "public_chat"}))["room_id"]
    await bob.ok("POST", f"/join/{room_id}", {})
    since = (await alice.ok("GET", "/sync"))["next_batch"]
    await bob.ok("PUT", f"/profile/{bob.user_id}/displayname", {"displayname": "Robert"})
    sync = await alice.ok("GET", "/sync", since=since, timeout="5000")
    members = [
        e
        for e in sync["rooms"]["join"][room_id]["timeline"]["events"]
        if e["type"] == "m.room.member" and e["state_key"] == bob.user_id
    ]
    assert members[-1]["content"] == {"membership": "join", "displayname": "Robert"}


async def test_incremental_sync_wakes_on_account_data(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await register(http, server.url, "alice")
    since = (await alice.ok("GET", "/sync"))["next_batch"]
    waiter = asyncio.create_task(alice.ok("GET", "/sync", since=since, timeout=str(LONG_POLL_MS)))
    await long_polls_parked(server)
    await alice.ok("PUT", f"/user/{alice.user_id}/account_data/m.fuzzy", {"x": 1})
    sync = await asyncio.wait_for(waiter, PATIENCE_S)
    events = sync["account_data"]["events"]
    assert {"type": "m.fuzzy", "content": {"x": 1}} in events


async def test_joining_brings_the_presence_of_people_already_there(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await register(http, server.url, "alice")
    bob = await register(http, server.url, "bob")
    await alice.ok("PUT", f"/presence/{alice.user_id}/status", {"presence": "online"})
    room_id = (await alice.ok("POST", "/createRoom", {"preset": "public_chat"}))["room_id"]
    since = (await bob.ok("GET", "/sync"))["next_batch"]
    assert (await bob.ok("GET", "/sync", since=since, timeout="0"))["presence"]["events"] == []
    await bob.ok("POST", f"/join/{room_id}", {})
    sync = await bob.ok("GET", "/sync", since=since, timeout="0")
    presence = {e["sender"]: e["content"]["presence"] for e in sync["presence"]["events"]}
    assert presence == {alice.user_id: "online"}
