"""The retention purge on both backends with a fake clock: expired messages are deleted for good
(their content gone from the database files and the search index, their notifications, the media
only they referenced with its thumbnails), the room's DAG stays valid, the counters count, and a
purge interrupted half-way is finished after a restart."""

from __future__ import annotations

import secrets
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest

from homeserver.app.app_keys import STORES
from homeserver.config import MediaConfig
from homeserver.storage.retention.purge import PurgeStore
from tests.homeserver.fake_clock import FakeClock
from tests.homeserver.media.helpers import download, uploaded
from tests.homeserver.media.samples import png
from tests.homeserver.retention.disk import database_holds, files_holding
from tests.homeserver.retention.helpers import (
    DAY,
    HOUR,
    MINUTE,
    caught_up,
    media_released,
    on_clock,
    purged,
    reader,
    retention_config,
    scrubbed,
    services_of,
    tick,
    wait_purged,
)


async def test_expired_messages_are_deleted_from_disk_with_their_media(
    database_url: str, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    config = retention_config(
        database_url,
        tmp_path / "data",
        default_max_lifetime_ms=DAY,
        purge_interval_ms=MINUTE,
    )
    # Media in the clear, so that the test can look for the marker in the files themselves.
    config = replace(config, media=MediaConfig(encrypt_at_rest=False))
    marker = "zq" + secrets.token_hex(8)
    async with on_clock(config, clock) as server:
        alice = await reader(http, server, "alice")
        bob = await reader(http, server, "bob")
        room = await alice.create_room(preset="public_chat")
        await bob.join(room)
        attachment = await uploaded(http, server.url, alice.token, f"file {marker}".encode())
        image = await uploaded(http, server.url, alice.token, png(64, 48), "image/png")
        sealed = await uploaded(http, server.url, alice.token, f"sealed {marker}".encode())
        kept = await uploaded(http, server.url, alice.token, b"kept bytes")
        sent = [
            await alice.send(room, f"the word {marker} in plain text"),
            await alice.send_content(
                room,
                "m.room.message",
                {"msgtype": "m.file", "body": f"{marker}.txt", "url": _mxc(attachment)},
            ),
            await alice.send_content(
                room,
                "m.room.message",
                {"msgtype": "m.image", "body": "img", "url": _mxc(image)},
            ),
            await alice.send_content(
                room,
                "m.room.message",
                {"msgtype": "m.file", "body": "enc", "file": {"url": _mxc(sealed), "v": "v2"}},
            ),
        ]
        await tick(clock, HOUR)
        later = await alice.send_content(
            room, "m.room.message", {"msgtype": "m.file", "body": "k", "url": _mxc(kept)}
        )
        await caught_up(server)
        stores = server.app[STORES]
        media_dir = config.media_store_dir
        assert len(files_holding(media_dir, marker.encode())) == 2
        assert await database_holds(database_url, marker.encode())  # it was on disk
        assert (await bob.found(marker))["count"] == 2  # the text and the file name
        unread = (await bob.sync())["rooms"]["join"][room]["unread_notifications"]
        assert unread["notification_count"] == 5

        await tick(clock, DAY - HOUR + MINUTE)  # the purge job's next run
        await wait_purged(server, *sent)
        await media_released(server)
        await scrubbed(server, clock)
        assert await database_holds(database_url, marker.encode()) == []
        assert files_holding(media_dir, marker.encode()) == []
        assert not await purged(server, later)
        for media in (attachment, image, sealed):
            assert (await download(http, server.url, alice.token, media)).status == 404
            assert await stores.media.get(media[1]) is None
            assert await stores.media.thumbnails(media[1]) == []
        assert (await download(http, server.url, alice.token, kept)).status == 200
        rows = await stores.events.get_events(sent)
        assert all(row.raw["content"] == {} for row in rows.values())  # skeletons stay
        assert len(rows) == len(sent)
        assert (await bob.found(marker))["results"] == []
        unread = (await bob.sync())["rooms"]["join"][room]["unread_notifications"]
        assert unread["notification_count"] == 1  # `later` alone
        # The DAG still authorises and paginates through the skeletons.
        after = await alice.send(room, "after the purge")
        assert after in await alice.message_ids(room)
        stats = await services_of(server).retention.policy.stats()
        assert stats["events_purged"] == len(sent)
        assert stats["media_bytes_freed"] > 0
        assert stats["purge_lag_ms"] == 0


async def test_a_purge_interrupted_half_way_is_finished_after_a_restart(
    database_url: str, tmp_path: Path, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    config = retention_config(
        database_url, tmp_path / "data", default_max_lifetime_ms=DAY, purge_interval_ms=100 * DAY
    )
    async with on_clock(config, clock) as server:
        alice = await reader(http, server, "alice")
        room = await alice.create_room()
        media = await uploaded(http, server.url, alice.token, b"attached bytes")
        sent = [
            await alice.send(room, "first"),
            await alice.send_content(
                room, "m.room.message", {"msgtype": "m.file", "body": "f", "url": _mxc(media)}
            ),
        ]
        await caught_up(server)
        await tick(clock, DAY)

        # The process "dies" after the events' JSON is pruned, before the bookkeeping commits.
        async def crash(*_: object) -> None:
            raise RuntimeError("power cut")

        monkeypatch.setattr(PurgeStore, "record_purged", crash)
        with pytest.raises(RuntimeError):
            await services_of(server).retention.policy.run_once()
        monkeypatch.undo()
        rows = await server.app[STORES].events.get_events(sent)
        assert all(row.raw["content"] == {} for row in rows.values())  # half done
        assert not await purged(server, sent[0])
        assert await server.app[STORES].media.get(media[1]) is not None

    async with on_clock(config, clock) as server:
        await services_of(server).retention.service.run_once()  # the next run, after restart
        await wait_purged(server, *sent)
        assert await server.app[STORES].media.get(media[1]) is None
        stats = await services_of(server).retention.policy.stats()
        assert stats["events_purged"] == 2
        assert stats["purge_lag_ms"] == 0


async def test_media_queued_before_a_restart_is_deleted_after_it(
    database_url: str, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    config = retention_config(
        database_url, tmp_path / "data", default_max_lifetime_ms=DAY, purge_interval_ms=100 * DAY
    )
    async with on_clock(config, clock) as server:
        alice = await reader(http, server, "alice")
        room = await alice.create_room()
        media = await uploaded(http, server.url, alice.token, b"attached bytes")
        event = await alice.send_content(
            room, "m.room.message", {"msgtype": "m.file", "body": "f", "url": _mxc(media)}
        )
        await caught_up(server)
        await tick(clock, DAY)
        # Only the events are purged; the process stops before the media is released.
        store = services_of(server).retention.policy
        room_id = room
        await store.purge_before(room_id, None, clock.time_ms())
        assert await purged(server, event)
        queued = await server.app[STORES].db.fetch_val("SELECT COUNT(*) FROM media_purge_queue")
        assert queued == 1

    async with on_clock(config, clock) as server:
        await services_of(server).retention.service.run_once()
        assert await server.app[STORES].media.get(media[1]) is None
        queued = await server.app[STORES].db.fetch_val("SELECT COUNT(*) FROM media_purge_queue")
        assert queued == 0


async def test_media_another_message_still_names_is_kept(
    database_url: str, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    config = retention_config(
        database_url, tmp_path / "data", default_max_lifetime_ms=DAY, purge_interval_ms=100 * DAY
    )
    async with on_clock(config, clock) as server:
        alice = await reader(http, server, "alice")
        short = await alice.create_room()
        forever = await alice.create_room()
        await alice.set_state(forever, "m.room.retention", {"max_lifetime": 1000 * DAY})
        shared = await uploaded(http, server.url, alice.token, b"shared bytes")
        avatar = await uploaded(http, server.url, alice.token, b"avatar bytes")
        content = {"msgtype": "m.file", "body": "f", "url": _mxc(shared)}
        await alice.send_content(short, "m.room.message", content)
        await alice.send_content(forever, "m.room.message", content)
        await alice.send_content(
            short, "m.room.message", {"msgtype": "m.image", "body": "a", "url": _mxc(avatar)}
        )
        await alice.ok(
            "PUT", f"/profile/{quote(alice.user_id)}/avatar_url", {"avatar_url": _mxc(avatar)}
        )
        await caught_up(server)
        await tick(clock, DAY)
        await services_of(server).retention.service.run_once()
        assert await server.app[STORES].media.get(shared[1]) is not None
        assert await server.app[STORES].media.get(avatar[1]) is not None


def _mxc(media: tuple[str, str]) -> str:
    return f"mxc://{media[0]}/{media[1]}"
