"""Retention on every read path, on both backends with a fake clock: an expired message is
gone from `/sync`, `/messages`, `/context`, `/event` and `/search` the moment it expires (before
any purge), state stays, room policies are clamped into the server's range, and invalid
policies are refused."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import aiohttp

from tests.homeserver.fake_clock import FakeClock
from tests.homeserver.retention.helpers import (
    DAY,
    HOUR,
    MINUTE,
    caught_up,
    on_clock,
    reader,
    retention_config,
    tick,
)


async def test_an_expired_message_is_gone_from_every_read_path_at_once(
    database_url: str, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    # A purge that never runs during the test: only the read paths are at work here.
    config = retention_config(
        database_url, tmp_path / "data", default_max_lifetime_ms=DAY, purge_interval_ms=100 * DAY
    )
    async with on_clock(config, clock) as server:
        alice = await reader(http, server, "alice")
        bob = await reader(http, server, "bob")
        room = await alice.create_room(preset="public_chat", name="kept name")
        await bob.join(room)
        old = await alice.send(room, "ephemeral zebra words")
        await tick(clock, HOUR)
        young = await alice.send(room, "younger zebra words")
        await caught_up(server)
        for user in (alice, bob):
            assert {old, young} <= set(await user.message_ids(room))
            assert (await user.event(room, old))[0] == 200
            assert (await user.context(room, old))[0] == 200
            assert len((await user.found("zebra"))["results"]) == 2
            assert old in await user.timeline_ids(room)

        await tick(clock, DAY - HOUR)  # `old` is exactly a day old: gone now
        for user in (alice, bob):
            ids = await user.message_ids(room)
            assert old not in ids
            assert young in ids
            status, body = await user.event(room, old)
            assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
            assert (await user.context(room, old))[0] == 404
            around = await user.ok("GET", f"/rooms/{quote(room)}/context/{quote(young)}")
            assert old not in [e["event_id"] for e in around["events_before"]]
            assert [r["result"]["event_id"] for r in (await user.found("zebra"))["results"]] == [
                young
            ]
            timeline = await user.timeline_ids(room)
            assert old not in timeline
            assert young in timeline
        state = await alice.ok("GET", f"/rooms/{quote(room)}/state/m.room.name/")
        assert state == {"name": "kept name"}  # state never expires
        status, _ = await alice.request("PUT", f"/rooms/{quote(room)}/redact/{quote(old)}/r1", {})
        assert status == 404  # nothing to redact any more

        await tick(clock, HOUR)
        ids = await alice.message_ids(room)
        assert old not in ids
        assert young not in ids
        assert (await alice.found("zebra"))["results"] == []


async def test_room_policies_are_clamped_into_the_allowed_range(
    database_url: str, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    config = retention_config(
        database_url,
        tmp_path / "data",
        default_max_lifetime_ms=None,
        allowed_lifetime_min_ms=HOUR,
        allowed_lifetime_max_ms=DAY,
        purge_interval_ms=100 * DAY,
    )
    async with on_clock(config, clock) as server:
        alice = await reader(http, server, "alice")
        short = await alice.create_room()
        forever = await alice.create_room()
        long = await alice.create_room()
        await alice.set_state(short, "m.room.retention", {"max_lifetime": MINUTE})
        await alice.set_state(long, "m.room.retention", {"max_lifetime": 30 * DAY})
        sent = {room: await alice.send(room, "m") for room in (short, forever, long)}

        await tick(clock, 2 * MINUTE)  # a minute asked for, an hour at least
        assert sent[short] in await alice.message_ids(short)
        await tick(clock, HOUR)
        assert sent[short] not in await alice.message_ids(short)
        assert sent[forever] in await alice.message_ids(forever)  # no default: kept
        assert sent[long] in await alice.message_ids(long)
        await tick(clock, DAY)  # thirty days asked for, a day at most
        assert sent[long] not in await alice.message_ids(long)
        assert sent[forever] in await alice.message_ids(forever)


async def test_invalid_policies_and_self_destruct_fields_are_refused(
    database_url: str, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    config = retention_config(database_url, tmp_path / "data")
    async with on_clock(config, FakeClock()) as server:
        alice = await reader(http, server, "alice")
        room = await alice.create_room()
        path = f"/rooms/{quote(room)}/state/m.room.retention/"
        for content in (
            {"max_lifetime": -1},
            {"max_lifetime": "604800000"},
            {"max_lifetime": 1.5},
            {"min_lifetime": True},
            {"min_lifetime": 10, "max_lifetime": 5},
            {"max_lifetime": 2**60},
        ):
            status, body = await alice.request("PUT", path, content)
            assert (status, body["errcode"]) == (400, "M_BAD_JSON"), content
        status, body = await alice.request(
            "POST",
            "/createRoom",
            {"initial_state": [{"type": "m.room.retention", "content": {"max_lifetime": -5}}]},
        )
        assert (status, body["errcode"]) == (400, "M_BAD_JSON")
        for fields in (
            {"org.matrix.self_destruct_after": "tomorrow"},
            {"org.matrix.self_destruct_after": -1},
            {"org.matrix.self_destruct": 0},
            {"org.matrix.self_destruct": [1]},
        ):
            refused = await alice.send_raw(room, "m.room.message", {"body": "x", **fields})
            assert isinstance(refused, tuple)
            assert (refused[0], refused[1]["errcode"]) == (400, "M_BAD_JSON"), fields
        status, body = await alice.request(
            "PUT",
            f"/rooms/{quote(room)}/state/m.room.topic/",
            {"topic": "t", "org.matrix.self_destruct": 5},
        )
        assert (status, body["errcode"]) == (400, "M_BAD_JSON")
        assert await alice.set_state(room, "m.room.retention", {"max_lifetime": DAY})


async def test_clients_read_the_servers_policy(
    database_url: str, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    path = "/_matrix/client/unstable/org.matrix.msc1763/retention/configuration"
    config = retention_config(database_url, tmp_path / "data", allowed_lifetime_max_ms=30 * DAY)
    async with on_clock(config, FakeClock()) as server:
        alice = await reader(http, server, "alice")
        async with http.get(server.url + path) as resp:
            assert resp.status == 401
        async with http.get(
            server.url + path, headers={"Authorization": f"Bearer {alice.token}"}
        ) as resp:
            assert await resp.json() == {
                "policies": {"*": {"max_lifetime": 7 * DAY}},
                "limits": {"max_lifetime": {"min": DAY, "max": 30 * DAY}},
            }
