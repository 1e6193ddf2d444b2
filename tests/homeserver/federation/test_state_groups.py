"""Received events build on the state group of the event before them: a message from another
server shares it, a state change adds one entry, and neither copies the room's whole state."""

from __future__ import annotations

from urllib.parse import quote

import aiohttp

from homeserver.app.app_keys import STORES
from tests.homeserver.federation.servers import FederatedServer
from tests.homeserver.federation.test_joins import invited_and_joined, timeline_bodies
from tests.waiting import sync_until, wait_for


async def _entries(server: FederatedServer) -> int:
    count = await server.live.app[STORES].db.fetch_val("SELECT COUNT(*) FROM state_group_entries")
    return int(count)


async def test_received_events_do_not_copy_the_room_state(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice, bob, room_id = await invited_and_joined(http, hs1, hs2, "12")
    await alice.send(room_id, "settle")
    await sync_until(bob, lambda b: "settle" in timeline_bodies(b, room_id), "the first message")
    before = await _entries(hs2)

    for n in range(5):
        await alice.send(room_id, f"message {n}")
    await sync_until(bob, lambda b: "message 4" in timeline_bodies(b, room_id), "the messages")
    assert await _entries(hs2) == before

    await alice.set_state(room_id, "m.room.topic", {"topic": "one more entry"})

    async def topic_on_hs2() -> bool:
        status, body = await bob.request("GET", f"/rooms/{quote(room_id)}/state/m.room.topic")
        return status == 200 and body.get("topic") == "one more entry"

    await wait_for(topic_on_hs2, what="the topic on hs2")
    assert await _entries(hs2) == before + 1
