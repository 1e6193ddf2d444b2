"""How a server finds a remote room to join: by room ID through the `via` (or legacy
`server_name`) servers, skipping those that fail, and by alias through the servers the alias's
server names in its directory answer, even when that server has left the room."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import aiohttp

from tests.homeserver.api.helpers import new_client
from tests.homeserver.federation.servers import FederatedServer, federation_of
from tests.homeserver.federation.test_joins import sync_until, timeline_bodies, until_member

UNREACHABLE = "127.0.0.1:1"  # nothing listens there: the connection is refused at once


async def test_a_room_id_is_joined_through_the_via_servers(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice = await new_client(http, hs1.url, "alice")
    bob = await new_client(http, hs2.url, "bob")
    room_id = await alice.create_room(preset="public_chat", room_version="12")
    path = f"/join/{quote(room_id, safe='')}"

    # A version 12 room ID names no server: without one to ask, the room is unknown.
    status, body = await bob.request("POST", path, {})
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND"), body
    # Only servers that cannot be reached: a gateway error, and nothing joined.
    status, body = await bob.request("POST", path, {}, via=UNREACHABLE)
    assert status == 502, body

    both = f"{path}?via={quote(UNREACHABLE)}&via=hs1.test"
    status, body = await bob.request("POST", both, {})
    assert (status, body) == (200, {"room_id": room_id})
    await until_member(alice, room_id, bob.user_id, "join")
    await bob.leave(room_id)
    await until_member(alice, room_id, bob.user_id, "leave")

    status, body = await bob.request("POST", path, {}, server_name="hs1.test")
    assert (status, body) == (200, {"room_id": room_id})
    await until_member(alice, room_id, bob.user_id, "join")
    await alice.send(room_id, "found you")
    await sync_until(bob, lambda b: "found you" in timeline_bodies(b, room_id), "the message")


async def test_an_alias_is_joined_through_the_servers_its_directory_names(
    backend: str, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    names = ("hs1.test", "hs2.test", "hs3.test")
    async with federation_of(backend, tmp_path, names) as (hs1, hs2, hs3):
        alice = await new_client(http, hs1.url, "alice")
        bob = await new_client(http, hs2.url, "bob")
        carol = await new_client(http, hs3.url, "carol")
        room_id = await alice.create_room(preset="public_chat", room_version="12")
        await bob.ok("POST", f"/join/{quote(room_id, safe='')}", {}, via="hs1.test")
        await until_member(alice, room_id, bob.user_id, "join")
        alias = "#lobby:hs2.test"
        await bob.ok("PUT", f"/directory/room/{quote(alias, safe='')}", {"room_id": room_id})
        # hs2 keeps the alias but leaves: its directory answer still names hs1.
        await bob.leave(room_id)
        await until_member(alice, room_id, bob.user_id, "leave")
        resolved = await carol.ok("GET", f"/directory/room/{quote(alias, safe='')}")
        assert resolved["room_id"] == room_id
        assert resolved["servers"][0] == "hs2.test"
        assert "hs1.test" in resolved["servers"]

        status, body = await carol.request("POST", f"/join/{quote(alias, safe='')}", {})
        assert (status, body) == (200, {"room_id": room_id})
        await until_member(alice, room_id, carol.user_id, "join")
        await carol.send(room_id, "via the lobby")
        await sync_until(alice, lambda b: "via the lobby" in timeline_bodies(b, room_id), "carol")
