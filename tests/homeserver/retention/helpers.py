"""Live-server helpers of the retention tests: a server on a fake clock with retention on,
users that read every path, and waiting for the background jobs."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp

from homeserver.api.http import SERVICES
from homeserver.app.app_keys import STORES
from homeserver.config import Config, RetentionConfig
from homeserver.services.container import Services
from tests.conftest import LiveServer, make_config, serving
from tests.homeserver.api.helpers import register
from tests.homeserver.fake_clock import FakeClock, settle
from tests.homeserver.search.helpers import Searcher
from tests.waiting import wait_for

DAY = 86_400_000
HOUR = 3_600_000
MINUTE = 60_000

_txn = itertools.count()


def retention_config(database_url: str, data_dir: Path, **retention: object) -> Config:
    """A test config with retention on, no DM lifetime unless asked, and `retention` settings."""
    settings = replace(RetentionConfig(), dm_room_lifetime_ms=None)
    return make_config(
        database_url,
        data_dir,
        retention=replace(settings, **retention),  # type: ignore[arg-type]
    )


@contextlib.asynccontextmanager
async def on_clock(config: Config, clock: FakeClock) -> AsyncIterator[LiveServer]:
    """A live server on a fake clock."""
    async with serving(config, clock) as live:
        yield live


def services_of(server: LiveServer) -> Services:
    """The live server's services."""
    return server.app[SERVICES]


class Reader(Searcher):
    """A user who reads rooms every way there is."""

    async def event(self, room_id: str, event_id: str) -> tuple[int, Any]:
        """`GET /rooms/{roomId}/event/{eventId}`."""
        return await self.request("GET", f"/rooms/{quote(room_id)}/event/{quote(event_id)}")

    async def context(self, room_id: str, event_id: str) -> tuple[int, Any]:
        """`GET /rooms/{roomId}/context/{eventId}`."""
        return await self.request("GET", f"/rooms/{quote(room_id)}/context/{quote(event_id)}")

    async def timeline_ids(self, room_id: str) -> list[str]:
        """The event IDs of the room's timeline in an initial `/sync`."""
        synced = await self.sync()
        joined = synced["rooms"]["join"].get(room_id, {})
        return [e["event_id"] for e in joined.get("timeline", {}).get("events", [])]

    async def message_ids(self, room_id: str) -> list[str]:
        """The event IDs `/messages` gives, newest first."""
        body = await self.ok("GET", f"/rooms/{quote(room_id)}/messages", dir="b", limit=100)
        return [e["event_id"] for e in body["chunk"]]

    async def send_content(self, room_id: str, event_type: str, content: dict[str, Any]) -> str:
        """Send any message event; returns its event ID."""
        return str(await self.send_raw(room_id, event_type, content))

    async def send_raw(
        self, room_id: str, event_type: str, content: dict[str, Any]
    ) -> str | tuple[int, Any]:
        """Send a message event; the event ID, or `(status, body)` when refused."""
        path = f"/rooms/{quote(room_id)}/send/{event_type}/r{next(_txn)}"
        status, body = await self.request("PUT", path, content)
        return str(body["event_id"]) if status == 200 else (status, body)

    async def receipt(self, room_id: str, event_id: str) -> None:
        """Post an `m.read` receipt."""
        path = f"/rooms/{quote(room_id)}/receipt/m.read/{quote(event_id)}"
        await self.ok("POST", path, {})


async def reader(http: aiohttp.ClientSession, server: LiveServer, name: str) -> Reader:
    """Register `name` and return a client for it."""
    done = await register(http, server.url, name)
    return Reader(http, server.url, done["user_id"], done["access_token"], done["device_id"])


async def caught_up(server: LiveServer) -> None:
    """Wait until the retention tracker and the search indexer have reached every event."""
    head = await server.app[STORES].room_reads.latest_position()
    svc = services_of(server)
    await wait_for(lambda: svc.retention.tracker.position() >= head, what="retention tracking")
    if server.config.search.enabled:
        indexer = svc.search_index
        await wait_for(lambda: indexer.processed_position() >= head, what="search indexing")


async def purged(server: LiveServer, event_id: str) -> bool:
    """Whether the event is listed as purged."""
    found = await server.app[STORES].db.fetch_val(
        "SELECT 1 FROM purged_events WHERE event_id = $1", event_id
    )
    return found is not None


async def wait_purged(server: LiveServer, *event_ids: str) -> None:
    """Wait until every event is purged."""

    async def done() -> bool:
        return all([await purged(server, e) for e in event_ids])

    await wait_for(done, what="purge")


async def tick(clock: FakeClock, ms: int) -> None:
    """Move the fake clock and let woken tasks run."""
    clock.advance(ms)
    await settle()


async def scrubbed(server: LiveServer, clock: FakeClock) -> None:
    """Wait until the purge's deep scrub has run since the last purge (the clock moves on by
    the retry delay while a transaction from before the purge kept it from finishing)."""
    purger = services_of(server).retention.purger

    async def done() -> bool:
        due = purger.deep_scrub_due_in()
        if due:
            clock.advance(int(due * 1000))
        return due is None

    await wait_for(done, what="the deep scrub")


async def media_released(server: LiveServer) -> None:
    """Wait until the media purged events left behind is deleted (after `wait_purged`: the
    queue is written with the purge)."""

    async def empty() -> bool:
        count = await server.app[STORES].db.fetch_val("SELECT COUNT(*) FROM media_purge_queue")
        return int(count) == 0

    await wait_for(empty, what="media release")
