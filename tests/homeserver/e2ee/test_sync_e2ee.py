"""The end-to-end encryption fields of `/sync` over raw HTTP on both backends:
`device_one_time_keys_count`, `device_unused_fallback_key_types` and `device_lists`."""

from __future__ import annotations

import asyncio

import aiohttp

from homeserver.services.common.stream_token import StreamToken
from tests.conftest import LiveServer
from tests.homeserver.e2ee.helpers import new_client, second_device, shared_room
from tests.waiting import LONG_POLL_MS, PATIENCE_S, long_polls_parked


async def test_key_counts_and_fallback_types(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await new_client(http, server.url, "alice")
    initial = await alice.sync()
    assert initial["device_one_time_keys_count"] == {"signed_curve25519": 0}
    assert initial["device_unused_fallback_key_types"] == []
    assert initial["device_lists"] == {"changed": [], "left": []}
    assert initial["to_device"] == {"events": []}

    await alice.upload_device_keys(one_time=5, fallback=True)
    sync = await alice.sync(since=initial["next_batch"])
    assert sync["device_one_time_keys_count"] == {"signed_curve25519": 5}
    assert sync["device_unused_fallback_key_types"] == ["signed_curve25519"]
    # Counts are per device: a second device has none.
    phone = await second_device(http, alice, "PHONE")
    assert (await phone.sync())["device_one_time_keys_count"] == {"signed_curve25519": 0}


async def test_device_lists_changed_when_a_room_mate_adds_a_device(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await new_client(http, server.url, "alice")
    bob = await new_client(http, server.url, "bob")
    carol = await new_client(http, server.url, "carol")
    await shared_room(alice, bob)
    since = (await alice.sync())["next_batch"]

    waiting = asyncio.create_task(alice.sync(since=since, timeout_ms=LONG_POLL_MS))
    await long_polls_parked(server)
    assert not waiting.done()
    phone = await second_device(http, bob, "BOBPHONE")
    await carol.upload_device_keys()  # no shared room: never reported to Alice
    await phone.upload_device_keys()
    woken = await asyncio.wait_for(waiting, PATIENCE_S)
    assert woken["device_lists"]["changed"] == [bob.user_id]
    assert woken["device_lists"]["left"] == []
    token = StreamToken.parse(woken["next_batch"])
    assert token.device_lists > StreamToken.parse(since).device_lists

    quiet = await alice.sync(since=woken["next_batch"])
    assert quiet["device_lists"] == {"changed": [], "left": []}


async def test_device_lists_changed_when_a_device_is_deleted(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await new_client(http, server.url, "alice")
    bob = await new_client(http, server.url, "bob")
    await shared_room(alice, bob)
    phone = await second_device(http, bob, "BOBPHONE")
    await phone.upload_device_keys()
    since = (await alice.sync())["next_batch"]
    waiting = asyncio.create_task(alice.sync(since=since, timeout_ms=LONG_POLL_MS))
    await long_polls_parked(server)
    await phone.ok("POST", "/logout", {})
    woken = await asyncio.wait_for(waiting, PATIENCE_S)
    assert woken["device_lists"]["changed"] == [bob.user_id]


async def test_own_device_changes_are_reported_to_self(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await new_client(http, server.url, "alice")
    since = (await alice.sync())["next_batch"]
    phone = await second_device(http, alice, "PHONE")
    await phone.upload_device_keys()
    sync = await alice.sync(since=since, timeout_ms=5000)
    assert sync["device_lists"]["changed"] == [alice.user_id]


async def test_joining_and_leaving_reports_changed_and_left(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await new_client(http, server.url, "alice")
    bob = await new_client(http, server.url, "bob")
    room = await alice.ok("POST", "/createRoom", {"invite": [bob.user_id]})
    room_id = room["room_id"]
    since = (await alice.sync())["next_batch"]

    await bob.ok("POST", f"/rooms/{room_id}/join", {})
    joined = await alice.sync(since=since, timeout_ms=5000)
    assert joined["device_lists"]["changed"] == [bob.user_id]

    await bob.ok("POST", f"/rooms/{room_id}/leave", {})
    left = await alice.sync(since=joined["next_batch"], timeout_ms=5000)
    assert left["device_lists"] == {"changed": [], "left": [bob.user_id]}
