"""`/event`, `/state`, `/state/{type}/{key}`, `/members` and `/joined_members` on both backends."""

from __future__ import annotations

from urllib.parse import quote

import aiohttp

from tests.conftest import LiveServer
from tests.homeserver.rooms.reads_helpers import new_user


async def test_get_event(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await new_user(http, server, "alice")
        carol = await new_user(http, server, "carol")
        room = await alice.create_room(name="Room")
        other = await alice.create_room()
        event_id = await alice.send(room, "hello")
        event = await alice.ok("GET", f"/rooms/{quote(room)}/event/{quote(event_id)}")
        assert event["event_id"] == event_id
        assert event["content"] == {"msgtype": "m.text", "body": "hello"}
        assert event["sender"] == alice.user_id
        assert event["room_id"] == room
        assert event["type"] == "m.room.message"
        assert "age" in event["unsigned"]
        assert "hashes" not in event
        assert "signatures" not in event

        for path in (
            f"/rooms/{quote(room)}/event/{quote('$nope')}",  # unknown
            f"/rooms/{quote(other)}/event/{quote(event_id)}",  # another room
        ):
            status, body = await alice.request("GET", path)
            assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
        # Not a member: hidden (history is `shared`, carol never joined).
        status, body = await carol.request("GET", f"/rooms/{quote(room)}/event/{quote(event_id)}")
        assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
        status, body = await alice.request("GET", f"/rooms/not-a-room/event/{quote(event_id)}")
        assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")


async def test_state_and_state_event(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await new_user(http, server, "alice")
        carol = await new_user(http, server, "carol")
        room = await alice.create_room(name="First", topic="things")
        await alice.set_state(room, "m.room.name", {"name": "Second"})
        await alice.set_state(room, "org.example.thing", {"v": 1}, state_key="key/with/slashes")

        state = await alice.ok("GET", f"/rooms/{quote(room)}/state")
        by_key = {(e["type"], e["state_key"]): e for e in state}
        assert by_key[("m.room.name", "")]["content"] == {"name": "Second"}
        assert by_key[("m.room.name", "")]["unsigned"]["prev_content"] == {"name": "First"}
        assert ("m.room.create", "") in by_key
        assert by_key[("m.room.member", alice.user_id)]["content"]["membership"] == "join"

        base = f"/rooms/{quote(room)}/state"
        assert await alice.ok("GET", f"{base}/m.room.name") == {"name": "Second"}
        assert await alice.ok("GET", f"{base}/m.room.name/") == {"name": "Second"}
        assert await alice.ok("GET", f"{base}/m.room.topic/") == {"topic": "things"}
        slashed = f"{base}/org.example.thing/{quote('key/with/slashes', safe='')}"
        assert await alice.ok("GET", slashed) == {"v": 1}
        whole = await alice.ok("GET", f"{base}/m.room.name", format="event")
        assert whole["type"] == "m.room.name"
        assert whole["state_key"] == ""
        assert whole["content"] == {"name": "Second"}
        assert whole["event_id"].startswith("$")
        assert whole["sender"] == alice.user_id

        status, body = await alice.request("GET", f"{base}/m.room.avatar")
        assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
        status, body = await alice.request("GET", f"{base}/m.room.name", format="xml")
        assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
        for path in (base, f"{base}/m.room.name"):
            status, body = await carol.request("GET", path)
            assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
        status, body = await alice.request("GET", f"/rooms/{quote('!unknown:localhost')}/state")
        assert (status, body["errcode"]) == (403, "M_FORBIDDEN")


async def test_left_user_sees_state_at_their_leave(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await new_user(http, server, "alice")
        bob = await new_user(http, server, "bob")
        room = await alice.create_room(preset="public_chat", name="Before")
        await bob.join(room)
        await bob.leave(room)
        await alice.set_state(room, "m.room.name", {"name": "After"})

        base = f"/rooms/{quote(room)}"
        assert await bob.ok("GET", f"{base}/state/m.room.name") == {"name": "Before"}
        state = await bob.ok("GET", f"{base}/state")
        names = [e["content"] for e in state if e["type"] == "m.room.name"]
        assert names == [{"name": "Before"}]
        members = await bob.ok("GET", f"{base}/members")
        mine = [e for e in members["chunk"] if e["state_key"] == bob.user_id]
        assert mine[0]["content"]["membership"] == "leave"
        status, body = await bob.request("GET", f"{base}/joined_members")
        assert (status, body["errcode"]) == (403, "M_FORBIDDEN")

        # Forgetting the room ends even that.
        await bob.ok("POST", f"{base}/forget", {})
        status, body = await bob.request("GET", f"{base}/state")
        assert (status, body["errcode"]) == (403, "M_FORBIDDEN")


async def test_members_filters_and_at(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await new_user(http, server, "alice")
        bob = await new_user(http, server, "bob")
        carol = await new_user(http, server, "carol")
        dave = await new_user(http, server, "dave")
        await alice.ok("PUT", f"/profile/{quote(alice.user_id)}/displayname", {"displayname": "Al"})
        room = await alice.create_room(preset="public_chat")
        await carol.join(room)
        early = await alice.ok("GET", f"/rooms/{quote(room)}/messages", dir="b", limit=1)
        await alice.invite(room, bob.user_id)
        await carol.leave(room)
        base = f"/rooms/{quote(room)}"

        def members(body: dict[str, list[dict[str, object]]]) -> dict[object, object]:
            return {e["state_key"]: e["content"]["membership"] for e in body["chunk"]}  # type: ignore[index]

        everyone = members(await alice.ok("GET", f"{base}/members"))
        assert everyone == {alice.user_id: "join", bob.user_id: "invite", carol.user_id: "leave"}
        assert members(await alice.ok("GET", f"{base}/members", membership="join")) == {
            alice.user_id: "join"
        }
        assert members(await alice.ok("GET", f"{base}/members", not_membership="join")) == {
            bob.user_id: "invite",
            carol.user_id: "leave",
        }
        # Both given: membership is `invite` OR it is not `leave`.
        both = await alice.ok("GET", f"{base}/members", membership="invite", not_membership="leave")
        assert members(both) == {alice.user_id: "join", bob.user_id: "invite"}
        # As of a token from before the invite and the leave.
        at = members(await alice.ok("GET", f"{base}/members", at=early["start"]))
        assert at == {alice.user_id: "join", carol.user_id: "join"}

        joined = await alice.ok("GET", f"{base}/joined_members")
        assert joined == {"joined": {alice.user_id: {"display_name": "Al"}}}

        status, body = await alice.request("GET", f"{base}/members", at="garbage")
        assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
        status, body = await alice.request("GET", f"{base}/members", membership="joined")
        assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
        for path in (f"{base}/members", f"{base}/joined_members"):
            status, body = await dave.request("GET", path)
            assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
