"""Retention's admin API and room lifetimes on both backends with a fake clock: purging a
room's history before a time, deleting a room with its media, rooms listed by expiry, the
counters, bad input; direct-message rooms told ahead and deleted after their lifetime."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp

from homeserver.app.app_keys import STORES
from tests.conftest import LiveServer
from tests.homeserver.fake_clock import FakeClock
from tests.homeserver.media.helpers import download, make_admin, uploaded
from tests.homeserver.retention.helpers import (
    DAY,
    HOUR,
    MINUTE,
    Reader,
    caught_up,
    on_clock,
    purged,
    reader,
    retention_config,
    services_of,
    tick,
    wait_purged,
)
from tests.http_client import call
from tests.waiting import wait_for

ADMIN = "/_tessera/admin/v1"


async def _admin(
    http: aiohttp.ClientSession,
    server: LiveServer,
    user: Reader,
    method: str,
    path: str,
    body: object = None,
) -> tuple[int, Any]:
    return await call(http, method, server.url + ADMIN + path, token=user.token, body=body)


async def test_admins_purge_history_delete_rooms_and_read_the_counters(
    database_url: str, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    config = retention_config(
        database_url, tmp_path / "data", default_max_lifetime_ms=None, purge_interval_ms=100 * DAY
    )
    async with on_clock(config, clock) as server:
        admin = await reader(http, server, "admin")
        await make_admin(server, admin.user_id)
        alice = await reader(http, server, "alice")
        room = await alice.create_room(
            preset="public_chat", room_alias_name="doomed", visibility="public"
        )
        old = await alice.send(room, "old history")
        await tick(clock, HOUR)
        cut = clock.time_ms()
        recent = await alice.send(room, "recent history")
        await caught_up(server)

        path = f"/rooms/{quote(room)}/purge_history"
        for bad in ({}, {"before_ts": "yesterday"}, {"before_ts": -1}, {"before_ts": 1.5}):
            status, body = await _admin(http, server, admin, "POST", path, bad)
            assert (status, body["errcode"]) == (400, "M_INVALID_PARAM"), bad
        status, body = await _admin(http, server, admin, "POST", path, {"before_ts": 2**60})
        assert (status, body["errcode"]) == (400, "M_BAD_JSON")  # beyond JSON's integers
        status, body = await _admin(http, server, alice, "POST", path, {"before_ts": cut})
        assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
        status, body = await _admin(
            http, server, admin, "POST", "/rooms/!nowhere:localhost/purge_history", {"before_ts": 1}
        )
        assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
        status, body = await _admin(
            http, server, admin, "POST", "/rooms/not-a-room/purge_history", {"before_ts": 1}
        )
        assert status == 400

        status, body = await _admin(http, server, admin, "POST", path, {"before_ts": cut})
        assert (status, body) == (200, {"purged": 1})
        assert await purged(server, old)
        assert not await purged(server, recent)
        ids = await alice.message_ids(room)
        assert old not in ids
        assert recent in ids

        status, stats = await _admin(http, server, admin, "GET", "/retention/stats")
        assert status == 200
        assert stats == {"events_purged": 1, "media_bytes_freed": 0, "purge_lag_ms": 0}
        assert (await _admin(http, server, alice, "GET", "/retention/stats"))[0] == 403

        media = await uploaded(http, server.url, alice.token, b"room file")
        await alice.send_content(
            room,
            "m.room.message",
            {"msgtype": "m.file", "body": "f", "url": f"mxc://{media[0]}/{media[1]}"},
        )
        bob = await reader(http, server, "bob")
        await bob.join(room)
        await caught_up(server)
        assert (await _admin(http, server, alice, "DELETE", f"/rooms/{quote(room)}"))[0] == 403
        status, body = await _admin(http, server, admin, "DELETE", f"/rooms/{quote(room)}")
        assert status == 200, body
        assert sorted(body["left"]) == sorted([alice.user_id, bob.user_id])
        assert body["purged"] > 0
        joined = await alice.ok("GET", "/joined_rooms")
        assert room not in joined["joined_rooms"]
        public = await alice.ok("GET", "/publicRooms")
        assert room not in [r["room_id"] for r in public["chunk"]]
        status, _ = await alice.request("GET", f"/directory/room/{quote('#doomed:localhost')}")
        assert status == 404
        assert (await download(http, server.url, alice.token, media)).status == 404
        stored = await server.app[STORES].db.fetch_val(
            "SELECT COUNT(*) FROM events e WHERE e.room_id = $1"
            " AND NOT EXISTS (SELECT 1 FROM purged_events p WHERE p.event_id = e.event_id)",
            room,
        )
        # Only the leaves written by the deletion itself are left unpurged (they carry nothing).
        assert stored == 0

        status, listed = await _admin(http, server, admin, "GET", "/retention/rooms?limit=10")
        assert status == 200
        entry = next(r for r in listed["rooms"] if r["room_id"] == room)
        assert entry["deleted_at"] == clock.time_ms()
        for query in ("?limit=0", "?limit=x", "?from=-1", "?limit=100000"):
            status, body = await _admin(http, server, admin, "GET", "/retention/rooms" + query)
            assert (status, body["errcode"]) == (400, "M_INVALID_PARAM"), query


async def test_the_purge_lag_counts_from_the_oldest_waiting_expiry(
    database_url: str, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    config = retention_config(
        database_url, tmp_path / "data", default_max_lifetime_ms=DAY, purge_interval_ms=100 * DAY
    )
    async with on_clock(config, clock) as server:
        alice = await reader(http, server, "alice")
        room = await alice.create_room()
        await alice.send(room, "waiting")
        await caught_up(server)
        policy = services_of(server).retention.policy
        assert (await policy.stats())["purge_lag_ms"] == 0
        await tick(clock, DAY + 5 * MINUTE)
        assert (await policy.stats())["purge_lag_ms"] == 5 * MINUTE
        await services_of(server).retention.service.run_once()
        stats = await policy.stats()
        assert stats["purge_lag_ms"] == 0
        assert stats["events_purged"] == 1


async def test_direct_message_rooms_are_announced_then_deleted(
    database_url: str, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    config = retention_config(
        database_url,
        tmp_path / "data",
        default_max_lifetime_ms=None,
        dm_room_lifetime_ms=3 * DAY,
        purge_interval_ms=MINUTE,
    )
    async with on_clock(config, clock) as server:
        alice = await reader(http, server, "alice")
        bob = await reader(http, server, "bob")
        created = clock.time_ms()
        dm = await alice.create_room(
            preset="trusted_private_chat", is_direct=True, invite=[bob.user_id]
        )
        await bob.join(dm)
        group = await alice.create_room(preset="public_chat")
        await bob.join(group)
        note = await alice.send(dm, "see you soon")
        await caught_up(server)
        await services_of(server).retention.service.run_once()
        expiry = await alice.ok("GET", f"/rooms/{quote(dm)}/state/org.matrix.room.expiry/")
        assert expiry == {"expires_at": created + 3 * DAY}
        status, _ = await alice.request(
            "GET", f"/rooms/{quote(group)}/state/org.matrix.room.expiry/"
        )
        assert status == 404  # a public room is no direct chat

        await tick(clock, 2 * DAY)  # a day ahead: the notice
        await services_of(server).retention.service.run_once()
        notices = [
            e
            for e in (await bob.ok("GET", f"/rooms/{quote(dm)}/messages", dir="b", limit=50))[
                "chunk"
            ]
            if e["type"] == "m.room.message" and e["content"].get("msgtype") == "m.notice"
        ]
        assert len(notices) == 1
        assert notices[0]["content"]["org.matrix.room.expiry"] == {"expires_at": created + 3 * DAY}
        assert dm in (await bob.ok("GET", "/joined_rooms"))["joined_rooms"]

        await tick(clock, DAY)  # the purge job's next run deletes it
        await wait_purged(server, note)
        await wait_for(lambda: _left(bob, dm), what="bob removed from the direct chat")
        assert dm not in (await alice.ok("GET", "/joined_rooms"))["joined_rooms"]
        assert group in (await bob.ok("GET", "/joined_rooms"))["joined_rooms"]
        await wait_for(lambda: _deleted(server, dm), what="the room's deletion recorded")


async def _deleted(server: LiveServer, room_id: str) -> bool:
    deleted = await server.app[STORES].db.fetch_val(
        "SELECT deleted_ts FROM room_lifetimes WHERE room_id = $1", room_id
    )
    return deleted is not None


async def _left(user: Reader, room_id: str) -> bool:
    return room_id not in (await user.ok("GET", "/joined_rooms"))["joined_rooms"]
