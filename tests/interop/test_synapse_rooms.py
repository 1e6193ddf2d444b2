"""Rooms shared between Tessera and a real Synapse over TLS, in room versions 10, 11 and 12.

Each test registers alice on Tessera and bob on Synapse, puts both in one room (made on one
server, joined over federation from the other: after an invite, by room ID with `via`, or by
alias), then checks that messages and state changes made on each side reach the other side's
`/sync`, and that a leave is seen by the server that stays.
"""

from __future__ import annotations

import secrets
from urllib.parse import quote

import aiohttp
import pytest

from tests.homeserver.api.helpers import new_client
from tests.homeserver.federation.servers import FederatedServer
from tests.http_client import ApiClient
from tests.interop.synapse import SynapseServer
from tests.interop.watching import SyncWatcher

VERSIONS = ["10", "11", "12"]


def unique(name: str) -> str:
    """A localpart not yet taken on the shared Synapse."""
    return f"{name}-{secrets.token_hex(4)}"


async def both_users(
    http: aiohttp.ClientSession, tessera: FederatedServer, synapse: SynapseServer
) -> tuple[ApiClient, ApiClient]:
    """alice on Tessera and bob on Synapse."""
    alice = await new_client(http, tessera.url, "alice")
    bob = await new_client(http, synapse.url, unique("bob"))
    return alice, bob


def powers(version: str, creator: ApiClient, *others: ApiClient) -> dict[str, object]:
    """A `power_level_content_override` giving the others 50 and the creator 100 (implied by
    being the creator in room version 12, where listing it is refused)."""
    users = {u.user_id: 50 for u in others}
    if version != "12":
        users[creator.user_id] = 100
    return {"users": users}


async def converse(
    room_id: str, a: ApiClient, a_sees: SyncWatcher, b: ApiClient, b_sees: SyncWatcher
) -> None:
    """Messages and state changes each way between `a` and `b`, seen on the other side."""
    await a.send(room_id, f"hello from {a.user_id}")
    await b_sees.until_message(room_id, f"hello from {a.user_id}")
    await b.send(room_id, f"hello from {b.user_id}")
    await a_sees.until_message(room_id, f"hello from {b.user_id}")

    await a.set_state(room_id, "m.room.topic", {"topic": "set by a"})
    await b_sees.until_state(room_id, "m.room.topic", {"topic": "set by a"})
    await b.set_state(room_id, "m.room.name", {"name": "named by b"})
    await a_sees.until_state(room_id, "m.room.name", {"name": "named by b"})

    await a.send(room_id, "after the changes")
    await b_sees.until_message(room_id, "after the changes")


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_tessera_room_invites_and_is_joined_from_synapse(
    http: aiohttp.ClientSession, tessera: FederatedServer, synapse: SynapseServer, version: str
) -> None:
    alice, bob = await both_users(http, tessera, synapse)
    alice_sees, bob_sees = SyncWatcher(alice), SyncWatcher(bob)
    room_id = await alice.create_room(
        room_version=version,
        name="Lounge",
        preset="private_chat",
        power_level_content_override=powers(version, alice, bob),
    )
    await alice.invite(room_id, bob.user_id)
    await bob_sees.until(lambda: room_id in bob_sees.invites, "the invite")
    assert synapse.warnings_about(bob.user_id) == []  # e.g. on the invite's room state

    await bob.ok("POST", f"/join/{quote(room_id, safe='')}", {}, server_name=tessera.name)
    await bob_sees.until_member(room_id, bob.user_id, "join")
    assert bob_sees.state(room_id, "m.room.name") == {"name": "Lounge"}
    create = bob_sees.state(room_id, "m.room.create")
    assert create is not None
    assert create.get("room_version") == version
    await alice_sees.until_member(room_id, bob.user_id, "join")

    await converse(room_id, alice, alice_sees, bob, bob_sees)

    await bob.leave(room_id)
    await alice_sees.until_member(room_id, bob.user_id, "leave")
    await bob_sees.until(lambda: room_id in bob_sees.left, "the leave")


async def synapse_room(
    bob: ApiClient, alice: ApiClient, version: str, **body: object
) -> tuple[str, SyncWatcher]:
    """A room bob makes on Synapse (alice gets power 50 in it) and bob's watcher of it."""
    room_id = await bob.create_room(
        room_version=version, power_level_content_override=powers(version, bob, alice), **body
    )
    return room_id, SyncWatcher(bob)


async def joined_from_tessera(
    room_id: str,
    alice: ApiClient,
    bob: ApiClient,
    bob_sees: SyncWatcher,
    version: str,
) -> SyncWatcher:
    """Once alice's join went through: both sides see it; returns alice's watcher."""
    alice_sees = SyncWatcher(alice)
    await alice_sees.until_member(room_id, alice.user_id, "join")
    create = alice_sees.state(room_id, "m.room.create")
    assert create is not None
    assert create.get("room_version") == version
    assert alice_sees.membership(room_id, bob.user_id) == "join"
    await bob_sees.until_member(room_id, alice.user_id, "join")
    return alice_sees


async def leave_from_tessera(
    room_id: str, alice: ApiClient, alice_sees: SyncWatcher, bob_sees: SyncWatcher
) -> None:
    """alice leaves; Synapse sees it and alice's sync moves the room to `leave`."""
    await alice.leave(room_id)
    await bob_sees.until_member(room_id, alice.user_id, "leave")
    await alice_sees.until(lambda: room_id in alice_sees.left, "the leave")


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_synapse_room_is_joined_from_tessera_by_id_with_via(
    http: aiohttp.ClientSession, tessera: FederatedServer, synapse: SynapseServer, version: str
) -> None:
    alice, bob = await both_users(http, tessera, synapse)
    room_id, bob_sees = await synapse_room(bob, alice, version, preset="public_chat")

    await alice.ok("POST", f"/join/{quote(room_id, safe='')}", {}, via=synapse.server_name)
    alice_sees = await joined_from_tessera(room_id, alice, bob, bob_sees, version)

    await converse(room_id, bob, bob_sees, alice, alice_sees)
    await leave_from_tessera(room_id, alice, alice_sees, bob_sees)


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_synapse_room_is_joined_from_tessera_by_alias(
    http: aiohttp.ClientSession, tessera: FederatedServer, synapse: SynapseServer, version: str
) -> None:
    alice, bob = await both_users(http, tessera, synapse)
    alias = unique("plaza")
    room_id, bob_sees = await synapse_room(
        bob, alice, version, preset="public_chat", room_alias_name=alias
    )

    answer = await alice.ok(
        "POST", f"/join/{quote(f'#{alias}:{synapse.server_name}', safe='')}", {}
    )
    assert answer == {"room_id": room_id}
    alice_sees = await joined_from_tessera(room_id, alice, bob, bob_sees, version)

    await converse(room_id, alice, alice_sees, bob, bob_sees)
    await leave_from_tessera(room_id, alice, alice_sees, bob_sees)


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_synapse_invite_is_accepted_on_tessera(
    http: aiohttp.ClientSession, tessera: FederatedServer, synapse: SynapseServer, version: str
) -> None:
    alice, bob = await both_users(http, tessera, synapse)
    room_id, bob_sees = await synapse_room(bob, alice, version, preset="private_chat", name="Den")
    await bob.invite(room_id, alice.user_id)
    alice_invited = SyncWatcher(alice)
    await alice_invited.until(lambda: room_id in alice_invited.invites, "the invite")
    invite_state = alice_invited.invites[room_id]
    assert all(set(e) == {"type", "state_key", "content", "sender"} for e in invite_state)
    assert {"m.room.create", "m.room.name"} <= {e["type"] for e in invite_state}

    await alice.join(room_id)
    alice_sees = await joined_from_tessera(room_id, alice, bob, bob_sees, version)
    assert alice_sees.state(room_id, "m.room.name") == {"name": "Den"}

    await converse(room_id, bob, bob_sees, alice, alice_sees)
    await leave_from_tessera(room_id, alice, alice_sees, bob_sees)
