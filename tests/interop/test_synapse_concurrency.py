"""Both sides of a room shared by Tessera and a real Synapse writing at once, in room versions
10, 11 and 12: messages sent together from both servers all arrive on both, and state changed
at the same moment on both servers (forks in the room's graph) resolves to the same state on
each of them.
"""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import aiohttp
import pytest

from tests.homeserver.federation.servers import FederatedServer
from tests.http_client import ApiClient
from tests.interop.synapse import SynapseServer
from tests.interop.test_synapse_rooms import VERSIONS, both_users, powers
from tests.interop.watching import SyncWatcher
from tests.waiting import wait_for

BURST = 6


async def state_ids(client: ApiClient, room_id: str) -> dict[tuple[str, str], str]:
    """The room's current state as the client's server has it: `{(type, key): event_id}`."""
    events = await client.ok("GET", f"/rooms/{quote(room_id)}/state")
    return {(e["type"], e["state_key"]): e["event_id"] for e in events}


async def burst(client: ApiClient, room_id: str, label: str) -> None:
    """`BURST` messages sent as fast as the server takes them."""
    for n in range(BURST):
        await client.send(room_id, f"{label} {n}")


def all_of(watcher: SyncWatcher, room_id: str, labels: tuple[str, ...]) -> bool:
    """Whether the watcher has seen every message of the bursts of `labels`."""
    seen = set(watcher.messages(room_id))
    return all(f"{label} {n}" in seen for label in labels for n in range(BURST))


@pytest.mark.parametrize("version", VERSIONS)
async def test_writes_at_once_from_both_servers_converge(
    http: aiohttp.ClientSession, tessera: FederatedServer, synapse: SynapseServer, version: str
) -> None:
    alice, bob = await both_users(http, tessera, synapse)
    room_id = await alice.create_room(
        room_version=version,
        preset="public_chat",
        power_level_content_override=powers(version, alice, bob),
    )
    alice_sees, bob_sees = SyncWatcher(alice), SyncWatcher(bob)
    await bob.ok("POST", f"/join/{quote(room_id, safe='')}", {}, server_name=tessera.name)
    await alice_sees.until_member(room_id, bob.user_id, "join")

    labels = ("tessera", "synapse")
    await asyncio.gather(burst(alice, room_id, "tessera"), burst(bob, room_id, "synapse"))
    await alice_sees.until(lambda: all_of(alice_sees, room_id, labels), "both bursts")
    await bob_sees.until(lambda: all_of(bob_sees, room_id, labels), "both bursts")

    await asyncio.gather(
        alice.set_state(room_id, "m.room.topic", {"topic": "from tessera"}),
        bob.set_state(room_id, "m.room.topic", {"topic": "from synapse"}),
        alice.set_state(room_id, "m.room.name", {"name": "named on tessera"}),
        bob.set_state(room_id, "m.room.name", {"name": "named on synapse"}),
    )
    await alice.send(room_id, "after the race")
    await bob_sees.until_message(room_id, "after the race")
    await bob.send(room_id, "after the race too")
    await alice_sees.until_message(room_id, "after the race too")

    async def same_state() -> bool:
        return await state_ids(alice, room_id) == await state_ids(bob, room_id)

    await wait_for(same_state, what="the same state on both servers")
