"""The outbound PDU feed reads every event of the stream, but only our users' events are
queued: other servers' events cost it no write, and a restart reads them again harmlessly."""

from __future__ import annotations

import aiohttp

from core.identifiers import ServerName
from homeserver.api.http import SERVICES
from homeserver.app.app_keys import STORES
from homeserver.services.federation.outbound import OutboundFederation
from homeserver.storage.federation.outbox import PDU_SENDER
from homeserver.storage.rooms.events import EVENTS_STREAM
from homeserver.storage.streams import current_position
from tests.homeserver.federation.servers import FederatedServer
from tests.homeserver.federation.test_joins import invited_and_joined, sync_until, timeline_bodies
from tests.waiting import wait_for


def _feed(server: FederatedServer) -> OutboundFederation:
    feed = server.live.app[SERVICES].federation.outbound
    assert feed is not None
    return feed


async def test_received_events_are_read_past_without_a_write_and_nothing_is_queued(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice, bob, room_id = await invited_and_joined(http, hs1, hs2, "12")
    outbox = hs2.live.app[STORES].federation_outbox
    head = await current_position(hs2.live.app[STORES].db, EVENTS_STREAM)  # bob's join
    await wait_for(lambda: _feed(hs2).position == head, what="hs2's feed reading bob's join")
    saved = await outbox.position(PDU_SENDER)
    assert saved == head  # a batch with our user's event stores its position
    read = head

    for n in range(3):
        await alice.send(room_id, f"to hs2 {n}")
    await sync_until(bob, lambda b: "to hs2 2" in timeline_bodies(b, room_id), "the messages")
    await wait_for(lambda: (_feed(hs2).position or 0) >= read + 3, what="the feed reading on")
    assert await outbox.position(PDU_SENDER) == saved  # no write for other servers' events
    assert await outbox.pending(ServerName(hs1.name), 50, 100) == []

    await hs2.restart()  # a clean stop stores the position read up to
    bob.base = hs2.url
    assert (await hs2.live.app[STORES].federation_outbox.position(PDU_SENDER) or 0) >= read + 3
    await bob.send(room_id, "from hs2")
    await sync_until(alice, lambda b: "from hs2" in timeline_bodies(b, room_id), "bob's message")
    await wait_for(lambda: _drained(hs2, hs1.name), what="the queue to drain")


async def _drained(server: FederatedServer, destination: str) -> bool:
    outbox = server.live.app[STORES].federation_outbox
    return await outbox.pending(ServerName(destination), 50, 100) == []
