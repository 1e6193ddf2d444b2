"""History visibility on every read path (`/messages`, `/event`, `/context`, `/state`), and the
service API `/sync` reuses, on both backends."""

from __future__ import annotations

from urllib.parse import quote

import aiohttp
import pytest

from homeserver.api.http import SERVICES
from homeserver.services.rooms.visibility import Placed
from tests.conftest import LiveServer
from tests.homeserver.rooms.reads_helpers import User, bodies, new_user

# For each setting: which of "before-invite", "invited", "joined" bob sees once he has joined.
MATRIX = {
    "joined": ["joined"],
    "invited": ["invited", "joined"],
    "shared": ["before-invite", "invited", "joined"],
    "world_readable": ["before-invite", "invited", "joined"],
}


async def _scenario(alice: User, bob: User, visibility: str) -> tuple[str, dict[str, str]]:
    room = await alice.create_room(preset="private_chat")
    await alice.visibility(room, visibility)
    ids = {"before-invite": await alice.send(room, "before-invite")}
    await alice.invite(room, bob.user_id)
    ids["invited"] = await alice.send(room, "invited")
    await bob.join(room)
    ids["joined"] = await alice.send(room, "joined")
    return room, ids


@pytest.mark.parametrize("visibility", list(MATRIX))
async def test_visibility_matrix(server: LiveServer, visibility: str) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await new_user(http, server, "alice")
        bob = await new_user(http, server, "bob")
        room, ids = await _scenario(alice, bob, visibility)
        expected = MATRIX[visibility]

        assert bodies(await bob.all_messages(room, "f")) == expected
        assert bodies(await bob.all_messages(room, "b", limit=2)) == expected[::-1]
        assert bodies(await alice.all_messages(room, "f")) == list(MATRIX["shared"])
        for name, event_id in ids.items():
            status, _ = await bob.request("GET", f"/rooms/{quote(room)}/event/{quote(event_id)}")
            assert status == (200 if name in expected else 404), name
            status, _ = await bob.request("GET", f"/rooms/{quote(room)}/context/{quote(event_id)}")
            assert status == (200 if name in expected else 404), name
        context = await bob.ok("GET", f"/rooms/{quote(room)}/context/{quote(ids['joined'])}")
        assert bodies(context["events_before"]) == expected[:-1][::-1]
        # His own join is always his to see; his invite only where invited members see.
        own = [
            e["content"]["membership"]
            for e in await bob.all_messages(room, "f")
            if e["type"] == "m.room.member" and e["state_key"] == bob.user_id
        ]
        assert own == (["join"] if visibility == "joined" else ["invite", "join"])


async def test_world_readable_lets_non_members_read(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await new_user(http, server, "alice")
        carol = await new_user(http, server, "carol")
        room = await alice.create_room(preset="private_chat")
        hidden = await alice.send(room, "shared-era")
        await alice.visibility(room, "world_readable")
        public = await alice.send(room, "public")

        assert bodies(await carol.all_messages(room, "b")) == ["public"]
        assert (await carol.ok("GET", f"/rooms/{quote(room)}/event/{quote(public)}"))["content"][
            "body"
        ] == "public"
        status, _ = await carol.request("GET", f"/rooms/{quote(room)}/event/{quote(hidden)}")
        assert status == 404
        state = await carol.ok("GET", f"/rooms/{quote(room)}/state")
        assert any(e["type"] == "m.room.create" for e in state)
        await carol.ok("GET", f"/rooms/{quote(room)}/members")

        # Back to `joined`: the change itself is visible (the setting before it allowed it),
        # nothing after it is, and the room-level endpoints close.
        change = await alice.visibility(room, "joined")
        await alice.send(room, "private")
        status, _ = await carol.request("GET", f"/rooms/{quote(room)}/event/{quote(change)}")
        assert status == 200
        status, body = await carol.messages(room, dir="b")
        assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
        status, body = await carol.request("GET", f"/rooms/{quote(room)}/state")
        assert (status, body["errcode"]) == (403, "M_FORBIDDEN")


async def test_left_user_sees_up_to_their_leave(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await new_user(http, server, "alice")
        bob = await new_user(http, server, "bob")
        room = await alice.create_room(preset="public_chat")
        await bob.join(room)
        await alice.send(room, "while-joined")
        await bob.leave(room)
        after = await alice.send(room, "after-leave")

        forwards = await bob.all_messages(room, "f")
        assert bodies(forwards) == ["while-joined"]
        assert forwards[-1]["type"] == "m.room.member"
        assert forwards[-1]["content"]["membership"] == "leave"
        assert bodies(await bob.all_messages(room, "b")) == ["while-joined"]
        status, _ = await bob.request("GET", f"/rooms/{quote(room)}/event/{quote(after)}")
        assert status == 404
        status, _ = await bob.request("GET", f"/rooms/{quote(room)}/context/{quote(after)}")
        assert status == 404

        # Rejoining in a `shared` room opens the gap again.
        await bob.join(room)
        assert bodies(await bob.all_messages(room, "f")) == ["while-joined", "after-leave"]


async def test_kicked_user_in_joined_room(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await new_user(http, server, "alice")
        bob = await new_user(http, server, "bob")
        room = await alice.create_room(preset="public_chat")
        await alice.visibility(room, "joined")
        await alice.send(room, "before")
        await bob.join(room)
        await alice.send(room, "during")
        await alice.ok("POST", f"/rooms/{quote(room)}/kick", {"user_id": bob.user_id})
        await alice.send(room, "after")
        events = await bob.all_messages(room, "f")
        assert bodies(events) == ["during"]
        assert events[-1]["content"]["membership"] == "leave"  # the kick itself


async def test_service_filter_for_sync(server: LiveServer) -> None:
    """`VisibilityService.filter_pdus`, as `/sync` uses it for timelines."""
    async with aiohttp.ClientSession() as http:
        alice = await new_user(http, server, "alice")
        bob = await new_user(http, server, "bob")
        room = await alice.create_room(preset="public_chat")
        await alice.visibility(room, "joined")
        early = await alice.send(room, "early")
        await bob.join(room)
        late = await alice.send(room, "late")
        services = server.app[SERVICES]
        pdus = {p.event_id: p for p in await services.events.get_pdus([early, late])}
        positions = {
            e: (await alice.ok("GET", f"/rooms/{quote(room)}/context/{quote(e)}", limit=0))["start"]
            for e in (early, late)
        }
        pairs = [(int(positions[e][1:]) + 1, pdus[e]) for e in (early, late)]
        visible = await services.visibility.filter_pdus(bob.user_id, room, pairs)
        assert [p.event_id for _, p in visible] == [late]
        assert [
            p.event_id for _, p in await services.visibility.filter_pdus(alice.user_id, room, pairs)
        ] == [early, late]
        assert await services.visibility.is_visible(bob.user_id, Placed(pdus[late], pairs[1][0]))
