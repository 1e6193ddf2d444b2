"""`/messages` and `/context`: both directions, stable tokens, limits, filters, on both backends."""

from __future__ import annotations

from urllib.parse import quote

import aiohttp
import pytest

from tests.conftest import LiveServer
from tests.homeserver.rooms.reads_helpers import User, bodies, new_user


async def _room_with_messages(alice: User, count: int) -> tuple[str, list[str]]:
    room = await alice.create_room(preset="public_chat")
    ids = [await alice.send(room, f"m{i}") for i in range(count)]
    return room, ids


async def test_backwards_and_forwards_cover_everything(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await new_user(http, server, "alice")
        room, _ = await _room_with_messages(alice, 25)
        expected = [f"m{i}" for i in range(25)]

        backwards = await alice.all_messages(room, "b", limit=7)
        assert bodies(backwards) == expected[::-1]
        assert backwards[-1]["type"] == "m.room.create"  # back to the very start
        forwards = await alice.all_messages(room, "f", limit=4)
        assert bodies(forwards) == expected
        assert [e["event_id"] for e in forwards] == [e["event_id"] for e in backwards[::-1]]

        first = await alice.ok("GET", f"/rooms/{quote(room)}/messages", dir="b", limit=3)
        assert bodies(first["chunk"]) == ["m24", "m23", "m22"]
        assert first["start"].startswith("t")
        assert "state" not in first


async def test_tokens_are_stable(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await new_user(http, server, "alice")
        room, _ = await _room_with_messages(alice, 10)
        path = f"/rooms/{quote(room)}/messages"
        page = await alice.ok("GET", path, dir="b", limit=4)
        token = page["end"]
        again = await alice.ok("GET", path, dir="b", limit=4, **{"from": token})
        assert bodies(again["chunk"]) == ["m5", "m4", "m3", "m2"]
        assert again["start"] == token

        for i in range(5):
            await alice.send(room, f"later{i}")
        # The same token names the same point, whatever was sent since.
        still = await alice.ok("GET", path, dir="b", limit=4, **{"from": token})
        assert still == {**again, "chunk": still["chunk"]}
        assert [e["event_id"] for e in still["chunk"]] == [e["event_id"] for e in again["chunk"]]
        # Forwards from the first page's `start` (the present then) yields exactly what came after.
        after = await alice.ok("GET", path, dir="f", limit=10, **{"from": page["start"]})
        assert bodies(after["chunk"]) == [f"later{i}" for i in range(5)]
        assert "end" not in after
        # Forwards from a backwards `end` continues just after the events already returned.
        forwards = await alice.ok("GET", path, dir="f", limit=3, **{"from": token})
        assert bodies(forwards["chunk"]) == ["m6", "m7", "m8"]


async def test_to_bound_and_sync_tokens(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await new_user(http, server, "alice")
        room, _ = await _room_with_messages(alice, 6)
        path = f"/rooms/{quote(room)}/messages"
        newest = await alice.ok("GET", path, dir="b", limit=2)
        middle = await alice.ok("GET", path, dir="b", limit=2, **{"from": newest["end"]})
        # From the present back to a token: only what lies between, then no `end`.
        bounded = await alice.ok("GET", path, dir="b", limit=50, to=middle["end"])
        assert bodies(bounded["chunk"]) == ["m5", "m4", "m3", "m2"]
        assert "end" not in bounded
        forwards = await alice.ok(
            "GET", path, dir="f", limit=50, to=newest["end"], **{"from": middle["end"]}
        )
        assert bodies(forwards["chunk"]) == ["m2", "m3"]
        assert "end" not in forwards
        # A `/sync` next_batch is a valid starting point: s{events}_{...}.
        position = newest["start"][1:]
        synced = await alice.ok(
            "GET", path, dir="b", limit=1, **{"from": f"s{position}_0_0_0_0_0_0"}
        )
        assert bodies(synced["chunk"]) == ["m5"]


@pytest.mark.parametrize(
    "query",
    [
        {"from": "garbage"},
        {"from": "t-"},
        {"from": "t99999999999999999999999"},
        {"to": "x12"},
        {"from": "s"},
        {"limit": "ten"},
        {"limit": "-1"},
        {"dir": "up"},
        {"filter": "{not json"},
        {"filter": "[1]"},
    ],
)
async def test_bad_parameters(server: LiveServer, query: dict[str, str]) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await new_user(http, server, "alice")
        room = await alice.create_room()
        status, body = await alice.request(
            "GET", f"/rooms/{quote(room)}/messages", **{"dir": "b", **query}
        )
        assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")


async def test_non_member_is_forbidden(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await new_user(http, server, "alice")
        carol = await new_user(http, server, "carol")
        room = await alice.create_room(preset="public_chat")
        event_id = await alice.send(room, "hi")
        status, body = await carol.messages(room, dir="b")
        assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
        status, body = await carol.request("GET", f"/rooms/{quote(room)}/context/{quote(event_id)}")
        assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
        status, body = await carol.messages("!nowhere:localhost", dir="b")
        assert (status, body["errcode"]) == (403, "M_FORBIDDEN")


async def test_room_event_filter(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await new_user(http, server, "alice")
        bob = await new_user(http, server, "bob")
        room = await alice.create_room(preset="public_chat")
        await bob.join(room)
        await alice.send(room, "a1")
        await bob.send(room, "b1")
        await alice.send(room, "picture", url="mxc://localhost/abc")
        await alice.set_state(room, "m.room.topic", {"topic": "t"})
        await bob.send(room, "b2")

        async def fetch(event_filter: dict[str, object]) -> list[dict[str, object]]:
            body = await alice.ok(
                "GET", f"/rooms/{quote(room)}/messages", dir="f", limit=50, filter=event_filter
            )
            chunk: list[dict[str, object]] = body["chunk"]
            return chunk

        messages = await fetch({"types": ["m.room.message"]})
        assert bodies(messages) == ["a1", "b1", "picture", "b2"]
        assert {e["type"] for e in await fetch({"types": ["m.room.*"]})} >= {
            "m.room.message",
            "m.room.topic",
            "m.room.create",
        }
        not_messages = await fetch({"not_types": ["m.room.message"]})
        assert not any(e["type"] == "m.room.message" for e in not_messages)
        from_bob = await fetch({"senders": [bob.user_id], "types": ["m.room.message"]})
        assert bodies(from_bob) == ["b1", "b2"]
        not_bob = await fetch({"not_senders": [bob.user_id], "types": ["m.room.message"]})
        assert bodies(not_bob) == ["a1", "picture"]
        assert bodies(await fetch({"contains_url": True})) == ["picture"]
        assert bodies(await fetch({"contains_url": False, "types": ["m.room.message"]})) == [
            "a1",
            "b1",
            "b2",
        ]
        # The filter's limit applies when the query has none.
        body = await alice.ok("GET", f"/rooms/{quote(room)}/messages", dir="b", filter={"limit": 2})
        assert bodies(body["chunk"]) == ["b2"]
        assert len(body["chunk"]) == 2


async def test_lazy_loading_members(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await new_user(http, server, "alice")
        bob = await new_user(http, server, "bob")
        carol = await new_user(http, server, "carol")
        room = await alice.create_room(preset="public_chat")
        await bob.join(room)
        await carol.join(room)
        await carol.send(room, "c1")
        await bob.send(room, "b1")
        await bob.send(room, "b2")
        body = await alice.ok(
            "GET",
            f"/rooms/{quote(room)}/messages",
            dir="b",
            limit=2,
            filter={"lazy_load_members": True},
        )
        assert bodies(body["chunk"]) == ["b2", "b1"]
        assert [(e["type"], e["state_key"]) for e in body["state"]] == [
            ("m.room.member", bob.user_id)
        ]
        assert body["state"][0]["content"]["membership"] == "join"


async def test_context(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await new_user(http, server, "alice")
        room, ids = await _room_with_messages(alice, 10)
        base = f"/rooms/{quote(room)}/context"
        body = await alice.ok("GET", f"{base}/{quote(ids[5])}", limit=4)
        assert body["event"]["event_id"] == ids[5]
        assert bodies(body["events_before"]) == ["m4", "m3"]
        assert bodies(body["events_after"]) == ["m6", "m7"]
        state_types = {e["type"] for e in body["state"]}
        assert {"m.room.create", "m.room.member", "m.room.power_levels"} <= state_types

        # `start` and `end` continue with /messages.
        path = f"/rooms/{quote(room)}/messages"
        older = await alice.ok("GET", path, dir="b", limit=2, **{"from": body["start"]})
        assert bodies(older["chunk"]) == ["m2", "m1"]
        newer = await alice.ok("GET", path, dir="f", limit=2, **{"from": body["end"]})
        assert bodies(newer["chunk"]) == ["m8", "m9"]

        bare = await alice.ok("GET", f"{base}/{quote(ids[9])}", limit=0)
        assert bare["event"]["event_id"] == ids[9]
        assert bare["events_before"] == []
        assert bare["events_after"] == []

        only_messages = await alice.ok(
            "GET",
            f"{base}/{quote(ids[1])}",
            limit=10,
            filter={"types": ["m.room.message"], "lazy_load_members": True},
        )
        assert bodies(only_messages["events_before"]) == ["m0"]
        assert bodies(only_messages["events_after"]) == ["m2", "m3", "m4", "m5", "m6"]
        assert only_messages["state"] == []

        status, err = await alice.request("GET", f"{base}/{quote('$missing')}")
        assert (status, err["errcode"]) == (404, "M_NOT_FOUND")
        status, err = await alice.request("GET", f"{base}/{quote(ids[0])}", limit="x")
        assert (status, err["errcode"]) == (400, "M_INVALID_PARAM")
