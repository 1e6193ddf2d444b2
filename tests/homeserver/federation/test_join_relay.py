"""A third server joining a room through the resident one: every server hears of the join
and of what follows (the resident server also passes the join it served on to the room's
other servers)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import aiohttp

from tests.homeserver.api.helpers import new_client
from tests.homeserver.federation.servers import federation_of
from tests.homeserver.federation.test_joins import sync_until, timeline_bodies, until_member


async def test_a_join_through_one_server_reaches_the_others(
    backend: str, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    names = ("hs1.test", "hs2.test", "hs3.test")
    async with federation_of(backend, tmp_path, names) as (hs1, hs2, hs3):
        alice = await new_client(http, hs1.url, "alice")
        bob = await new_client(http, hs2.url, "bob")
        carol = await new_client(http, hs3.url, "carol")
        room_id = await alice.create_room(preset="public_chat")
        path = f"/join/{quote(room_id, safe='')}"
        await bob.ok("POST", path, {}, server_name="hs1.test")
        await until_member(alice, room_id, bob.user_id, "join")

        await carol.ok("POST", path, {}, server_name="hs1.test")
        await until_member(bob, room_id, carol.user_id, "join")

        await carol.send(room_id, "hello from hs3")
        await sync_until(
            bob, lambda b: "hello from hs3" in timeline_bodies(b, room_id), "carol's message"
        )
        await carol.ok("POST", f"/rooms/{quote(room_id)}/leave", {})
        await until_member(bob, room_id, carol.user_id, "leave")
