"""An event's commit is reported only once the room's current state includes it: whoever
its commit wakes (a `/sync`, a `persisted` subscriber) reads the state after it, never the
state before, on both backends."""

from __future__ import annotations

from urllib.parse import quote

import aiohttp

from core.event_types import M_ROOM_TOPIC
from homeserver.api.http import SERVICES
from homeserver.services.rooms.events import EventPersisted
from tests.conftest import LiveServer
from tests.homeserver.api.helpers import new_client


async def test_a_state_event_is_current_state_when_its_commit_wakes_anyone(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    events = server.app[SERVICES].events
    topics: dict[str, str | None] = {}

    async def read_state(persisted: EventPersisted) -> None:
        state = await events.current_state(persisted.room_id)
        topics[persisted.event_id] = state.get((M_ROOM_TOPIC, ""))

    events.persisted.connect(read_state)
    alice = await new_client(http, server.url, "alice")
    room_id = await alice.create_room(topic="first")
    for topic in ("second", "third"):
        event_id = await alice.set_state(room_id, M_ROOM_TOPIC, {"topic": topic})
        assert topics[event_id] == event_id
    body = await alice.ok("GET", f"/rooms/{quote(room_id)}/state/{M_ROOM_TOPIC}")
    assert body == {"topic": "third"}
