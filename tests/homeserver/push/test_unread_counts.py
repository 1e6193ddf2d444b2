"""Unread notification counts in `/sync` over raw HTTP on both backends: push rules evaluated
in the background, highlights, read receipts, user rules and restarts."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest

from homeserver.storage.factory import open_database
from tests.conftest import LiveServer, make_config
from tests.homeserver.api.helpers import serving
from tests.homeserver.push.helpers import Client, direct_room, group_room, new_client


@pytest.fixture
async def alice(server: LiveServer, http: aiohttp.ClientSession) -> Client:
    return await new_client(http, server.url, "alice", "Alice Cooper")


@pytest.fixture
async def bob(server: LiveServer, http: aiohttp.ClientSession) -> Client:
    return await new_client(http, server.url, "bob", "Bob")


async def test_direct_messages_count_and_a_receipt_clears_them(alice: Client, bob: Client) -> None:
    room_id = await direct_room(alice, bob)
    assert await alice.unread(room_id) == (0, 0)
    for n in range(1, 4):
        await bob.send(room_id, f"message {n}")
        await alice.wait_unread(room_id, (n, 0))
    last = await bob.send(room_id, "are you there, Alice Cooper?")
    await alice.wait_unread(room_id, (4, 1))
    await bob.wait_unread(room_id, (0, 0))

    since = (await alice.sync())["next_batch"]
    await alice.read(room_id, last)
    after = await alice.sync(since=since, timeout_ms=5000)
    counts = after["rooms"]["join"][room_id]["unread_notifications"]
    assert counts == {"notification_count": 0, "highlight_count": 0}
    assert await alice.unread(room_id) == (0, 0)


async def test_a_receipt_keeps_what_came_after_it(alice: Client, bob: Client) -> None:
    room_id = await direct_room(alice, bob)
    first = await bob.send(room_id, "one")
    await bob.send(room_id, "two")
    third = await bob.send(room_id, "three, alice")
    await alice.wait_unread(room_id, (3, 1))
    await alice.read(room_id, first, "m.read.private")
    assert await alice.unread(room_id) == (2, 1)
    await alice.read(room_id, first, "m.read")
    assert await alice.unread(room_id) == (2, 1)
    await alice.read(room_id, third, "m.read.private")
    assert await alice.unread(room_id) == (0, 0)
    await alice.read(room_id, first, "m.read")
    assert await alice.unread(room_id) == (0, 0)


async def test_count_arrives_with_the_event_in_a_long_poll(alice: Client, bob: Client) -> None:
    room_id = await direct_room(alice, bob)
    since = (await alice.sync())["next_batch"]
    await bob.send(room_id, "ping")
    counts = None
    for _ in range(20):
        response = await alice.sync(since=since, timeout_ms=5000)
        since = response["next_batch"]
        room = response["rooms"]["join"].get(room_id)
        if room is not None:
            counts = room["unread_notifications"]
            if counts["notification_count"] == 1:
                break
    assert counts == {"notification_count": 1, "highlight_count": 0}


async def test_group_rooms_notices_mentions_and_own_messages(
    server: LiveServer, http: aiohttp.ClientSession, alice: Client, bob: Client
) -> None:
    carol = await new_client(http, server.url, "carol")
    room_id = await group_room(alice, bob, carol)
    await bob.send(room_id, "hello all")
    await bob.send(room_id, "a notice", msgtype="m.notice")
    await alice.wait_unread(room_id, (1, 0))
    await carol.wait_unread(room_id, (1, 0))
    await bob.send(room_id, "cc", **{"m.mentions": {"user_ids": [carol.user_id]}})
    await carol.wait_unread(room_id, (2, 1))
    await alice.wait_unread(room_id, (2, 0))
    # Own messages never count, and sending one marks the room read.
    await alice.send(room_id, "I'm here")
    await alice.wait_unread(room_id, (0, 0))
    await bob.wait_unread(room_id, (1, 0))
    await carol.wait_unread(room_id, (3, 1))


async def test_room_mentions_need_power(alice: Client, bob: Client) -> None:
    room_id = await group_room(alice, bob)
    await bob.send(room_id, "@room lunch?")
    await alice.wait_unread(room_id, (1, 0))
    await alice.send(room_id, "@room lunch!")
    await bob.wait_unread(room_id, (1, 1))


async def test_user_rules_change_what_counts(alice: Client, bob: Client) -> None:
    room_id = await group_room(bob, alice)
    await alice.ok("PUT", f"/pushrules/global/room/{quote(room_id)}", {"actions": []})
    await bob.send(room_id, "muted")
    await alice.ok(
        "PUT", "/pushrules/global/content/cake", {"pattern": "cake", "actions": ["notify"]}
    )
    await bob.send(room_id, "cake time")
    await alice.wait_unread(room_id, (1, 0))
    await alice.ok("PUT", "/pushrules/global/override/.m.rule.master/enabled", {"enabled": True})
    await bob.send(room_id, "more cake, Alice Cooper")
    await alice.ok("PUT", "/pushrules/global/override/.m.rule.master/enabled", {"enabled": False})
    await alice.ok("DELETE", "/pushrules/global/room/" + quote(room_id))
    await bob.send(room_id, "back")
    await alice.wait_unread(room_id, (2, 0))


async def test_counts_survive_a_restart_and_are_recomputed(
    database_url: str, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    config = make_config(database_url, tmp_path / "data")
    async with serving(config) as live:
        alice = await new_client(http, live.url, "alice", "Alice Cooper")
        bob = await new_client(http, live.url, "bob")
        room_id = await direct_room(alice, bob)
        await bob.send(room_id, "one")
        await bob.send(room_id, "two, Alice Cooper")
        await alice.wait_unread(room_id, (2, 1))
    async with serving(config) as live:
        alice.base = live.url
        assert await alice.unread(room_id) == (2, 1)
    # Lose every derived count: the next start evaluates the whole event stream again.
    db = await open_database(database_url)
    try:
        await db.execute("DELETE FROM notification_actions")
        await db.execute("DELETE FROM notification_counts")
        await db.execute("UPDATE notification_progress SET position = 0")
    finally:
        await db.close()
    async with serving(config) as live:
        alice.base = live.url
        await alice.wait_unread(room_id, (2, 1))
