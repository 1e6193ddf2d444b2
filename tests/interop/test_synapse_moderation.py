"""Redactions, kicks and declined invites between Tessera and a real Synapse, in room versions
10, 11 and 12 (version 11 moved `redacts` into the content): each is made on one server and
seen on the other.
"""

from __future__ import annotations

from urllib.parse import quote

import aiohttp
import pytest

from core.errors import JsonDict
from tests.homeserver.api.helpers import new_client
from tests.homeserver.federation.servers import FederatedServer
from tests.http_client import ApiClient
from tests.interop.synapse import SynapseServer
from tests.interop.test_synapse_members import in_public_room
from tests.interop.test_synapse_rooms import VERSIONS, both_users
from tests.interop.watching import SyncWatcher
from tests.waiting import wait_for

_txn = iter(range(1_000_000))


async def redact(client: ApiClient, room_id: str, event_id: str) -> None:
    """Redact an event with a reason."""
    path = f"/rooms/{quote(room_id)}/redact/{quote(event_id)}/r{next(_txn)}"
    await client.ok("PUT", path, {"reason": "oops"})


async def fetched(client: ApiClient, room_id: str, event_id: str) -> JsonDict:
    """An event as the client's server serves it."""
    event: JsonDict = await client.ok("GET", f"/rooms/{quote(room_id)}/event/{quote(event_id)}")
    return event


async def pruned_on(client: ApiClient, room_id: str, event_id: str) -> None:
    """Wait until the client's server serves the event pruned, with its redaction."""

    async def pruned() -> bool:
        content = (await fetched(client, room_id, event_id))["content"]
        return not content

    # Servers prune the target just after they take the redaction in.
    await wait_for(pruned, what=f"{event_id} pruned on {client.base}")
    event = await fetched(client, room_id, event_id)
    assert "redacted_because" in event.get("unsigned", {}), event


async def redacted_across(room_id: str, a: ApiClient, b: ApiClient, b_sees: SyncWatcher) -> None:
    """`a` sends a message and redacts it; `b`'s server ends up serving it pruned."""
    event_id = await a.send(room_id, f"regrettable, from {a.user_id}")
    await b_sees.until_message(room_id, f"regrettable, from {a.user_id}")
    await redact(a, room_id, event_id)

    def redaction_seen() -> bool:
        events = b_sees.events.get(room_id, [])
        return any(
            e["type"] == "m.room.redaction"
            and event_id in (e.get("redacts"), e.get("content", {}).get("redacts"))
            for e in events
        )

    await b_sees.until(redaction_seen, "the redaction")
    await pruned_on(b, room_id, event_id)


@pytest.mark.parametrize("version", VERSIONS)
async def test_redactions_and_kicks_cross_both_ways(
    http: aiohttp.ClientSession, tessera: FederatedServer, synapse: SynapseServer, version: str
) -> None:
    alice, bob = await both_users(http, tessera, synapse)
    room_id, alice_sees, bob_sees = await in_public_room(alice, tessera.name, bob, version)
    await redacted_across(room_id, alice, bob, bob_sees)
    await alice.ok(
        "PUT",
        f"/rooms/{quote(room_id)}/state/m.room.power_levels/",
        await _with_moderator(alice, room_id, bob),
    )
    await bob_sees.until(
        lambda: (
            (bob_sees.state(room_id, "m.room.power_levels") or {}).get("users", {}).get(bob.user_id)
            == 50
        ),
        "bob's new power",
    )
    await redacted_across(room_id, bob, alice, alice_sees)
    # A moderator on Synapse redacts a Tessera user's message: Tessera applies it by power.
    moderated = await alice.send(room_id, "moderated")
    await bob_sees.until_message(room_id, "moderated")
    await redact(bob, room_id, moderated)
    await pruned_on(alice, room_id, moderated)

    carol = await new_client(http, tessera.url, "carol")
    await carol.ok("POST", f"/join/{quote(room_id, safe='')}", {})
    await bob_sees.until_member(room_id, carol.user_id, "join")
    await bob.ok("POST", f"/rooms/{quote(room_id)}/kick", {"user_id": carol.user_id})
    await alice_sees.until_member(room_id, carol.user_id, "leave")


async def _with_moderator(alice: ApiClient, room_id: str, bob: ApiClient) -> JsonDict:
    levels: JsonDict = await alice.ok("GET", f"/rooms/{quote(room_id)}/state/m.room.power_levels/")
    return {**levels, "users": {**levels.get("users", {}), bob.user_id: 50}}


@pytest.mark.parametrize("version", VERSIONS)
async def test_invites_are_declined_across_servers(
    http: aiohttp.ClientSession, tessera: FederatedServer, synapse: SynapseServer, version: str
) -> None:
    alice, bob = await both_users(http, tessera, synapse)
    alice_sees, bob_sees = SyncWatcher(alice), SyncWatcher(bob)

    on_tessera = await alice.create_room(room_version=version, preset="private_chat")
    await alice.invite(on_tessera, bob.user_id)
    await bob_sees.until(lambda: on_tessera in bob_sees.invites, "the invite")
    await bob.leave(on_tessera)
    await alice_sees.until_member(on_tessera, bob.user_id, "leave")
    await bob_sees.until(lambda: on_tessera in bob_sees.left, "the declined invite")

    on_synapse = await bob.create_room(room_version=version, preset="private_chat")
    await bob.invite(on_synapse, alice.user_id)
    await alice_sees.until(lambda: on_synapse in alice_sees.invites, "the invite")
    await alice.leave(on_synapse)
    await bob_sees.until_member(on_synapse, alice.user_id, "leave")
    await alice_sees.until(lambda: on_synapse in alice_sees.left, "the declined invite")
