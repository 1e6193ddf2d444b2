"""History and directories between Tessera and a real Synapse: a user who joined late pages
back through the room's older history, fetched with `/backfill` from the other server (each
side serving and fetching), asks for the event nearest a time from before the join, and each
server lists the other's public room directory.
"""

from __future__ import annotations

import json
import sqlite3
from urllib.parse import quote

import aiohttp
import pytest

from core.errors import JsonDict
from tests.homeserver.federation.servers import FederatedServer
from tests.http_client import ApiClient
from tests.interop.synapse import SynapseServer
from tests.interop.test_synapse_rooms import (
    VERSIONS,
    both_users,
    joined_from_tessera,
    synapse_room,
)
from tests.interop.watching import SyncWatcher

EARLY = 25


async def page_back(client: ApiClient, room_id: str, limit: int) -> list[JsonDict]:
    """Every event `/messages` gives going backwards from the present, until no `end`."""
    events: list[JsonDict] = []
    token: str | None = None
    for _ in range(100):
        body = await client.ok(
            "GET", f"/rooms/{quote(room_id)}/messages", dir="b", limit=limit, **{"from": token}
        )
        events.extend(body["chunk"])
        if "end" not in body or not body["chunk"]:
            return events
        token = body["end"]
    raise AssertionError("paging back never reached the start of the room")


def early_bodies(events: list[JsonDict]) -> list[str]:
    """The bodies of the messages sent before the join, in the order given."""
    bodies = [e["content"].get("body", "") for e in events if e["type"] == "m.room.message"]
    return [b for b in bodies if b.startswith("early ")]


@pytest.mark.parametrize("version", VERSIONS)
async def test_tessera_pages_back_through_a_synapse_rooms_history(
    http: aiohttp.ClientSession, tessera: FederatedServer, synapse: SynapseServer, version: str
) -> None:
    alice, bob = await both_users(http, tessera, synapse)
    room_id, bob_sees = await synapse_room(bob, alice, version, preset="public_chat")
    for n in range(EARLY):
        await bob.send(room_id, f"early {n}")
    await alice.ok("POST", f"/join/{quote(room_id, safe='')}", {}, via=synapse.server_name)
    await joined_from_tessera(room_id, alice, bob, bob_sees, version)

    events = await page_back(alice, room_id, 10)
    assert early_bodies(events) == [f"early {n}" for n in reversed(range(EARLY))]
    assert events[-1]["type"] == "m.room.create"

    early = [e for e in events if e["type"] == "m.room.message"]
    target = early[-3]  # "early 2"
    url = f"/_matrix/client/v1/rooms/{quote(room_id)}/timestamp_to_event"
    async with http.get(
        f"{alice.base}{url}",
        params={"ts": str(target["origin_server_ts"]), "dir": "f"},
        headers={"Authorization": f"Bearer {alice.token}"},
    ) as resp:
        status, found = resp.status, await resp.json()
    assert status == 200, found
    assert found["origin_server_ts"] == target["origin_server_ts"]


@pytest.mark.parametrize("version", VERSIONS)
async def test_synapse_pages_back_through_a_tessera_rooms_history(
    http: aiohttp.ClientSession, tessera: FederatedServer, synapse: SynapseServer, version: str
) -> None:
    alice, bob = await both_users(http, tessera, synapse)
    room_id = await alice.create_room(room_version=version, preset="public_chat")
    for n in range(EARLY):
        await alice.send(room_id, f"early {n}")
    bob_sees = SyncWatcher(bob)
    await bob.ok("POST", f"/join/{quote(room_id, safe='')}", {}, server_name=tessera.name)
    await bob_sees.until_member(room_id, bob.user_id, "join")

    events = await page_back(bob, room_id, 10)
    assert early_bodies(events) == [f"early {n}" for n in reversed(range(EARLY))]
    assert events[-1]["type"] == "m.room.create"


async def test_synapse_pages_back_through_history_it_may_partly_see(
    http: aiohttp.ClientSession, tessera: FederatedServer, synapse: SynapseServer
) -> None:
    """History visibility `invited`: Tessera serves Synapse the messages from before its user
    was invited redacted and those from after the invite whole, in the same `/backfill`
    answers; Synapse takes them in and shows its user the ones from after the invite."""
    alice, bob = await both_users(http, tessera, synapse)
    setting = {"type": "m.room.history_visibility", "content": {"history_visibility": "invited"}}
    room_id = await alice.create_room(
        room_version="12", preset="public_chat", initial_state=[setting]
    )
    for n in range(EARLY):
        await alice.send(room_id, f"early {n}")
    bob_sees = SyncWatcher(bob)
    await alice.invite(room_id, bob.user_id)
    await bob_sees.until(lambda: room_id in bob_sees.invites, "the invite")
    invited = [f"invited {n}" for n in range(EARLY)]
    for body in invited:
        await alice.send(room_id, body)
    await bob.ok("POST", f"/join/{quote(room_id, safe='')}", {}, server_name=tessera.name)
    await bob_sees.until_member(room_id, bob.user_id, "join")

    events = await page_back(bob, room_id, 10)
    bodies = [e["content"].get("body") for e in events if e["type"] == "m.room.message"]
    assert bodies == list(reversed(invited))
    # What Synapse was sent of the early messages is what redaction leaves: no body.
    with sqlite3.connect(synapse.workdir / "homeserver.db") as db:
        stored = [
            json.loads(row[0])
            for row in db.execute(
                "SELECT json FROM event_json WHERE room_id = ?", (room_id,)
            ).fetchall()
        ]
    contents = [e["content"] for e in stored if e["type"] == "m.room.message"]
    assert sorted(c["body"] for c in contents if c) == sorted(invited)
    assert {} in contents, contents


async def test_each_server_lists_the_others_public_rooms(
    http: aiohttp.ClientSession, tessera: FederatedServer, synapse: SynapseServer
) -> None:
    alice, bob = await both_users(http, tessera, synapse)
    on_tessera = await alice.create_room(preset="public_chat", visibility="public", name="T")
    on_synapse = await bob.create_room(preset="public_chat", visibility="public", name="S")

    listed = await alice.ok("GET", "/publicRooms", server=synapse.server_name, limit=500)
    assert on_synapse in {r["room_id"] for r in listed["chunk"]}
    body = {"filter": {"generic_search_term": "S"}, "limit": 500}
    searched = await alice.ok("POST", "/publicRooms", body, server=synapse.server_name)
    assert on_synapse in {r["room_id"] for r in searched["chunk"]}

    listed = await bob.ok("GET", "/publicRooms", server=tessera.name)
    assert [r["room_id"] for r in listed["chunk"]] == [on_tessera]
    body = {"filter": {"generic_search_term": "T"}}
    searched = await bob.ok("POST", "/publicRooms", body, server=tessera.name)
    assert [r["room_id"] for r in searched["chunk"]] == [on_tessera]
