"""People across Tessera and a real Synapse, in room versions 10, 11 and 12: profiles asked of
the other server, typing notifications and read receipts each way, and a guest who leaves,
rejoins and is banned, with each server in turn owning the room.
"""

from __future__ import annotations

from urllib.parse import quote

import aiohttp
import pytest

from tests.homeserver.federation.servers import FederatedServer
from tests.http_client import ApiClient
from tests.interop.synapse import SynapseServer
from tests.interop.test_synapse_rooms import VERSIONS, both_users
from tests.interop.watching import SyncWatcher


async def set_name(client: ApiClient, name: str) -> None:
    """Set the user's display name."""
    await client.ok("PUT", f"/profile/{quote(client.user_id)}/displayname", {"displayname": name})


async def in_public_room(
    owner: ApiClient, server_name: str, guest: ApiClient, version: str
) -> tuple[str, SyncWatcher, SyncWatcher]:
    """A public room of `owner` that `guest` joins through `server_name`, and both watchers."""
    room_id = await owner.create_room(room_version=version, preset="public_chat")
    owner_sees, guest_sees = SyncWatcher(owner), SyncWatcher(guest)
    await guest.ok("POST", f"/join/{quote(room_id, safe='')}", {}, server_name=server_name)
    await guest_sees.until_member(room_id, guest.user_id, "join")
    await owner_sees.until_member(room_id, guest.user_id, "join")
    return room_id, owner_sees, guest_sees


async def typing_and_receipts(
    room_id: str, a: ApiClient, a_sees: SyncWatcher, b: ApiClient, b_sees: SyncWatcher
) -> None:
    """`a` types and stops, `b` reads `a`'s message; each seen by the other."""
    path = f"/rooms/{quote(room_id)}/typing/{quote(a.user_id)}"
    await a.ok("PUT", path, {"typing": True, "timeout": 30_000})
    await b_sees.until(lambda: a.user_id in b_sees.typing.get(room_id, []), "typing")
    await a.ok("PUT", path, {"typing": False})
    await b_sees.until(lambda: a.user_id not in b_sees.typing.get(room_id, []), "typing stopped")

    event_id = await a.send(room_id, f"please read, {b.user_id}")
    await b_sees.until_message(room_id, f"please read, {b.user_id}")
    await b.ok("POST", f"/rooms/{quote(room_id)}/receipt/m.read/{quote(event_id)}", {})
    await a_sees.until(lambda: b.user_id in a_sees.read_by(room_id, event_id), "the receipt")


@pytest.mark.parametrize("version", VERSIONS)
async def test_profiles_typing_and_receipts_cross_both_ways(
    http: aiohttp.ClientSession, tessera: FederatedServer, synapse: SynapseServer, version: str
) -> None:
    alice, bob = await both_users(http, tessera, synapse)
    await set_name(alice, "Alice on Tessera")
    await set_name(bob, "Bob on Synapse")
    assert (await bob.ok("GET", f"/profile/{quote(alice.user_id)}"))["displayname"] == (
        "Alice on Tessera"
    )
    assert (await alice.ok("GET", f"/profile/{quote(bob.user_id)}"))["displayname"] == (
        "Bob on Synapse"
    )

    room_id, alice_sees, bob_sees = await in_public_room(alice, tessera.name, bob, version)
    bob_member = alice_sees.state(room_id, "m.room.member", bob.user_id)
    alice_member = bob_sees.state(room_id, "m.room.member", alice.user_id)
    assert bob_member is not None
    assert bob_member["displayname"] == "Bob on Synapse"
    assert alice_member is not None
    assert alice_member["displayname"] == "Alice on Tessera"

    await typing_and_receipts(room_id, alice, alice_sees, bob, bob_sees)
    await typing_and_receipts(room_id, bob, bob_sees, alice, alice_sees)


async def leave_rejoin_and_ban(
    owner: ApiClient, server_name: str, guest: ApiClient, version: str
) -> None:
    """`guest` joins `owner`'s room through `server_name`, leaves, rejoins, speaks, and is
    banned: both servers see each step, and the banned guest cannot join again."""
    room_id, owner_sees, guest_sees = await in_public_room(owner, server_name, guest, version)
    await guest.leave(room_id)
    await owner_sees.until_member(room_id, guest.user_id, "leave")

    await guest.ok("POST", f"/join/{quote(room_id, safe='')}", {}, via=server_name)
    await owner_sees.until_member(room_id, guest.user_id, "join")
    await guest.send(room_id, "back again")
    await owner_sees.until_message(room_id, "back again")

    await owner.ok("POST", f"/rooms/{quote(room_id)}/ban", {"user_id": guest.user_id})
    await guest_sees.until(lambda: room_id in guest_sees.left, "the ban")
    await owner_sees.until_member(room_id, guest.user_id, "ban")
    status, body = await guest.request(
        "POST", f"/join/{quote(room_id, safe='')}", {}, server_name=server_name
    )
    assert status == 403, body


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_synapse_user_leaves_rejoins_and_is_banned_from_a_tessera_room(
    http: aiohttp.ClientSession, tessera: FederatedServer, synapse: SynapseServer, version: str
) -> None:
    alice, bob = await both_users(http, tessera, synapse)
    await leave_rejoin_and_ban(alice, tessera.name, bob, version)


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_tessera_user_leaves_rejoins_and_is_banned_from_a_synapse_room(
    http: aiohttp.ClientSession, tessera: FederatedServer, synapse: SynapseServer, version: str
) -> None:
    alice, bob = await both_users(http, tessera, synapse)
    await leave_rejoin_and_ban(bob, synapse.server_name, alice, version)
