"""Three servers that saw conflicting state changes in a different order end with the same
room state, the one state resolution v2 (v2.1 in room version 12) gives.

The room lives on hs1 (alice, its creator, and erin), hs2 (bob, a moderator) and hs3 (carol).
The servers are split so that two changes are made without either side knowing of the other:

1. hs2 is down: alice demotes bob (power 50 to 0). hs3 gets the demotion; hs2 does not.
2. hs1 goes down and hs2 comes back: bob, a moderator as far as hs2 knows, changes the topic
   and bans erin. hs2 accepts both; hs3, which knows bob's power is gone, soft-fails them.
3. hs1 comes back: each server learns the other side's events and resolves the fork.

Resolution applies power events first, in reverse topological power order: alice's demotion
(her power is above bob's) comes before bob's ban, which then fails its auth check; bob's
topic, checked against the resolved power levels, fails too. So every server must end with
alice's power levels, the original topic and erin still joined; hs2 must undo what it had
accepted.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest

from core.errors import JsonDict
from tests.homeserver.api.helpers import new_client
from tests.homeserver.federation.servers import federation_of
from tests.homeserver.federation.test_joins import until_member
from tests.http_client import ApiClient
from tests.waiting import wait_for

NAMES = ("hs1.test", "hs2.test", "hs3.test")
StateMap = dict[tuple[str, str], str]


async def _state(client: ApiClient, room_id: str) -> StateMap:
    """The room's current state as `client`'s server sees it: `{(type, state_key): event_id}`."""
    events = await client.ok("GET", f"/rooms/{quote(room_id)}/state")
    return {(e["type"], e["state_key"]): e["event_id"] for e in events}


async def _power_levels(client: ApiClient, room_id: str) -> JsonDict:
    body: JsonDict = await client.ok("GET", f"/rooms/{quote(room_id)}/state/m.room.power_levels")
    return body


async def _set_power(alice: ApiClient, room_id: str, user_id: str, level: int) -> str:
    content = await _power_levels(alice, room_id)
    content.setdefault("users", {})[user_id] = level
    return await alice.set_state(room_id, "m.room.power_levels", content)


async def _has_event(client: ApiClient, room_id: str, event_id: str) -> bool:
    return event_id in (await _state(client, room_id)).values()


async def _sees_messages(client: ApiClient, room_id: str, texts: set[str]) -> bool:
    path = f"/rooms/{quote(room_id)}/messages"
    body = await client.ok("GET", path, dir="b", limit=100)
    bodies = {e["content"].get("body") for e in body["chunk"] if e["type"] == "m.room.message"}
    return texts <= bodies


@pytest.mark.parametrize("version", ["10", "12"])
async def test_a_power_change_and_a_ban_made_apart_resolve_alike_everywhere(
    backend: str, tmp_path: Path, http: aiohttp.ClientSession, version: str
) -> None:
    async with federation_of(backend, tmp_path, NAMES) as (hs1, hs2, hs3):
        alice = await new_client(http, hs1.url, "alice")
        erin = await new_client(http, hs1.url, "erin")
        bob = await new_client(http, hs2.url, "bob")
        carol = await new_client(http, hs3.url, "carol")
        room_id = await alice.create_room(
            room_version=version, preset="public_chat", topic="before the split"
        )
        await erin.join(room_id)
        for client in (bob, carol):
            await client.ok("POST", f"/join/{quote(room_id, safe='')}", {}, server_name=hs1.name)
        for client in (alice, bob, carol):
            for member in (alice, erin, bob, carol):
                await until_member(client, room_id, member.user_id, "join")
        promotion = await _set_power(alice, room_id, bob.user_id, 50)
        for client in (bob, carol):
            await wait_for(lambda c=client: _has_event(c, room_id, promotion), what="promotion")
        before = await _state(alice, room_id)
        topic, erin_joined = before[("m.room.topic", "")], before[("m.room.member", erin.user_id)]

        # 1. hs2 is away: alice demotes bob; hs3 hears of it.
        await hs2.stop()
        demotion = await _set_power(alice, room_id, bob.user_id, 0)
        await wait_for(lambda: _has_event(carol, room_id, demotion), what="the demotion on hs3")

        # 2. hs1 is away, hs2 back: bob acts on the power he had.
        await hs1.stop()
        await hs2.restart()
        bob.base = hs2.url  # the client listener moved
        new_topic = await bob.set_state(room_id, "m.room.topic", {"topic": "bob's topic"})
        await bob.ok("POST", f"/rooms/{quote(room_id)}/ban", {"user_id": erin.user_id})
        on_hs2 = await _state(bob, room_id)
        assert on_hs2[("m.room.topic", "")] == new_topic  # hs2 accepted both
        assert on_hs2[("m.room.power_levels", "")] == promotion

        # 3. hs1 is back: hs2 takes the demotion it missed, which resolves the fork at once;
        # then both sides send one more message, so every server has every event.
        await hs1.restart()
        alice.base = erin.base = hs1.url
        await wait_for(lambda: _has_event(bob, room_id, demotion), what="the demotion on hs2")
        on_hs2 = await _state(bob, room_id)
        assert on_hs2[("m.room.topic", "")] == topic
        assert on_hs2[("m.room.member", erin.user_id)] == erin_joined
        await alice.send(room_id, "alice after the split")
        await bob.send(room_id, "bob after the split")
        both = {"alice after the split", "bob after the split"}
        for client in (alice, bob, carol):
            await wait_for(
                lambda c=client: _sees_messages(c, room_id, both),
                what=f"both messages on {client.base}",
            )

        states = [await _state(c, room_id) for c in (alice, bob, carol)]
        assert states[0] == states[1] == states[2]
        resolved = states[0]
        assert resolved[("m.room.power_levels", "")] == demotion
        assert resolved[("m.room.topic", "")] == topic
        assert resolved[("m.room.member", erin.user_id)] == erin_joined  # the ban lost
