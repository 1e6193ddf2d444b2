"""An event from another server is in the room's current state by the time its commit wakes
anyone here: a client woken by it and asking for the state at once reads the new state."""

from __future__ import annotations

import aiohttp

from core.event_types import M_ROOM_TOPIC
from homeserver.api.http import SERVICES
from homeserver.services.rooms.events import EventPersisted
from tests.homeserver.federation.servers import FederatedServer
from tests.homeserver.federation.test_joins import invited_and_joined
from tests.waiting import wait_for


async def test_a_remote_state_event_is_current_state_when_its_commit_wakes_anyone(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice, _bob, room_id = await invited_and_joined(http, hs1, hs2, "12")
    events = hs2.live.app[SERVICES].events
    topics: dict[str, str | None] = {}

    async def read_state(persisted: EventPersisted) -> None:
        if persisted.room_id == room_id:
            state = await events.current_state(persisted.room_id)
            topics[persisted.event_id] = state.get((M_ROOM_TOPIC, ""))

    events.persisted.connect(read_state)
    event_id = await alice.set_state(room_id, M_ROOM_TOPIC, {"topic": "from hs1"})
    await wait_for(lambda: event_id in topics, what="the topic reaching hs2")
    assert topics[event_id] == event_id
