"""`POST /search` on a live server, both backends: ranking, order, filters, pagination, context,
groupings, highlights and state."""

from __future__ import annotations

import aiohttp

from tests.conftest import LiveServer
from tests.homeserver.search.helpers import Searcher, indexed, searcher


async def test_rank_recent_highlights_and_count(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await searcher(http, server, "alice")
        room = await alice.create_room(name="Planning", topic="Quarterly planning")
        await alice.send(room, "The meeting moved to Tuesday")
        await alice.send(room, "Meeting notes: the meeting about meetings")
        await alice.send(room, "lunch at noon")
        await alice.send(room, "Café Meeting, naïve résumé")
        await indexed(server)

        found = await alice.found("meeting")
        bodies = [r["result"]["content"]["body"] for r in found["results"]]
        assert bodies[0] == "Meeting notes: the meeting about meetings"
        assert sorted(bodies) == sorted(
            [
                "The meeting moved to Tuesday",
                "Meeting notes: the meeting about meetings",
                "Café Meeting, naïve résumé",
            ]
        )
        ranks = [r["rank"] for r in found["results"]]
        assert ranks == sorted(ranks, reverse=True)
        assert found["count"] == 3
        assert set(found["highlights"]) == {"meeting", "Meeting", "meetings"}
        assert found["results"][0]["result"]["room_id"] == room
        assert "next_batch" not in found

        recent = await alice.bodies("meet", order_by="recent")
        assert recent == [
            "Café Meeting, naïve résumé",
            "Meeting notes: the meeting about meetings",
            "The meeting moved to Tuesday",
        ]
        # Diacritics and case are folded on both sides; all words must match.
        assert await alice.bodies("CAFE resume") == ["Café Meeting, naïve résumé"]
        assert await alice.bodies("meeting lunch") == []
        assert await alice.bodies("!!!") == []
        # Room names and topics are searched too, under their own keys.
        topic = await alice.found("quarterly", keys=["content.topic"])
        assert [r["result"]["type"] for r in topic["results"]] == ["m.room.topic"]
        name = await alice.found("planning", keys=["content.name"])
        assert [r["result"]["content"]["name"] for r in name["results"]] == ["Planning"]
        assert (await alice.found("planning", keys=["content.body"]))["results"] == []


async def test_filters(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await searcher(http, server, "alice")
        bob = await searcher(http, server, "bob")
        first = await alice.create_room(preset="public_chat")
        second = await alice.create_room(preset="public_chat")
        await bob.join(first)
        await bob.join(second)
        await alice.send(first, "apple from alice in first")
        await bob.send(first, "apple from bob in first")
        await alice.send(second, "apple from alice in second")
        await alice.send(second, "apple with a link", url="mxc://localhost/x")
        await indexed(server)

        def only(**event_filter: object) -> dict[str, object]:
            return {"filter": event_filter, "order_by": "recent"}

        assert await bob.bodies("apple", **only(rooms=[first])) == [
            "apple from bob in first",
            "apple from alice in first",
        ]
        assert await bob.bodies("apple", **only(not_rooms=[first], limit=1)) == [
            "apple with a link"
        ]
        assert await bob.bodies("apple", **only(senders=[bob.user_id])) == [
            "apple from bob in first"
        ]
        assert len(await bob.bodies("apple", **only(not_senders=[bob.user_id]))) == 3
        assert await bob.bodies("apple", **only(types=["m.room.name"])) == []
        assert len(await bob.bodies("apple", **only(types=["m.room.*"]))) == 4
        assert await bob.bodies("apple", **only(not_types=["m.room.*"])) == []
        assert await bob.bodies("apple", **only(contains_url=True)) == ["apple with a link"]
        assert await bob.bodies("apple", **only(limit=0)) == []


async def test_pagination_with_next_batch(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await searcher(http, server, "alice")
        room = await alice.create_room()
        sent = []
        for n in range(23):
            body = f"report {n} " + "report " * (n % 4)
            sent.append(body)
            await alice.send(room, body)
        await alice.send(room, "unrelated")
        await indexed(server)

        for order in ("rank", "recent"):
            pages = await alice.every_page("report", order_by=order, filter={"limit": 5})
            assert sorted(pages) == sorted(sent), order
            single = await alice.bodies("report", order_by=order, filter={"limit": 100})
            assert pages == single, order
        assert (await alice.every_page("report", order_by="recent", filter={"limit": 5}))[
            :3
        ] == sent[::-1][:3]
        first = await alice.found("report", filter={"limit": 5})
        assert first["count"] == 23
        status, body = await alice.search("report", first["next_batch"], order_by="recent")
        assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")


async def test_context_groups_and_state(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await searcher(http, server, "alice")
        bob = await searcher(http, server, "bob")
        await alice.ok("PUT", f"/profile/{alice.user_id}/displayname", {"displayname": "Al"})
        first = await alice.create_room(preset="public_chat", name="First")
        second = await alice.create_room(preset="public_chat")
        await bob.join(first)
        for n in range(4):
            await alice.send(first, f"before {n}")
        target = await bob.send(first, "the needle")
        for n in range(3):
            await alice.send(first, f"after {n}")
        await alice.send(second, "another needle")
        await alice.send(second, "a third needle")
        await indexed(server)

        found = await alice.found(
            "needle",
            order_by="recent",
            event_context={"before_limit": 2, "after_limit": 1, "include_profile": True},
            include_state=True,
            groupings={"group_by": [{"key": "room_id"}, {"key": "sender"}]},
        )
        result = next(r for r in found["results"] if r["result"]["event_id"] == target)
        context = result["context"]
        assert [e["content"]["body"] for e in context["events_before"]] == ["before 3", "before 2"]
        assert [e["content"]["body"] for e in context["events_after"]] == ["after 0"]
        assert context["start"]
        assert context["end"]
        assert context["profile_info"][alice.user_id] == {"displayname": "Al"}
        assert bob.user_id in context["profile_info"]
        assert set(found["state"]) == {first, second}
        assert any(e["type"] == "m.room.name" for e in found["state"][first])
        by_room = found["groups"]["room_id"]
        assert len(by_room[second]["results"]) == 2
        assert by_room[first]["results"] == [target]
        assert sorted(g["order"] for g in by_room.values()) == [1, 2]
        by_sender = found["groups"]["sender"]
        assert by_sender[bob.user_id]["results"] == [target]
        assert len(by_sender[alice.user_id]["results"]) == 2


async def test_group_next_batch_continues_within_the_group(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await searcher(http, server, "alice")
        rooms = [await alice.create_room(), await alice.create_room()]
        for n in range(6):
            for room in rooms:
                await alice.send(room, f"tick {n}")
        await indexed(server)
        criteria = {
            "order_by": "recent",
            "filter": {"limit": 4},
            "groupings": {"group_by": [{"key": "room_id"}]},
        }
        found = await alice.found("tick", **criteria)
        assert "next_batch" in found
        group = found["groups"]["room_id"][rooms[0]]
        seen = list(group["results"])
        token = group.get("next_batch")
        while token is not None:
            status, body = await alice.search("tick", token, **criteria)
            assert status == 200, body
            page = body["search_categories"]["room_events"]
            assert {r["result"]["room_id"] for r in page["results"]} <= {rooms[0]}
            seen += [r["result"]["event_id"] for r in page["results"]]
            token = page.get("next_batch")
        assert len(seen) == len(set(seen)) == 6


async def test_other_categories_alone(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice: Searcher = await searcher(http, server, "alice")
        body = await alice.ok("POST", "/search", {"search_categories": {}})
        assert body == {"search_categories": {}}
