"""A subscriber that raises, connected to the live app's signals, fails no request and does
not keep `/sync` asleep: sends and receipts still answer 200 and wake the waiting syncs."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from homeserver.api.http import SERVICES
from homeserver.services.common.notifier import Notifier
from tests.conftest import LiveServer
from tests.homeserver.api.helpers import register
from tests.homeserver.push.helpers import Client
from tests.waiting import wait_for


class Broken:
    """A subscriber that records what it got and then raises."""

    def __init__(self) -> None:
        self.calls: list[object] = []

    async def __call__(self, value: object) -> None:
        self.calls.append(value)
        raise RuntimeError("broken subscriber")


async def _client(http: aiohttp.ClientSession, base: str, name: str) -> Client:
    body = await register(http, base, name)
    return Client(http, base, body["user_id"], body["access_token"])


async def _sync_woken(notifier: Notifier, syncer: Client, since: str) -> Any:
    """Start a long-poll and return it once the server holds it waiting."""
    waiting_before = notifier.waiter_count()
    poll = asyncio.create_task(syncer.sync(since, timeout_ms=60_000))
    await wait_for(
        lambda: notifier.waiter_count() > waiting_before or poll.done(), what="a parked sync"
    )
    assert not poll.done(), "the sync answered before anything happened"
    return poll


async def test_raising_subscribers_leave_sends_and_receipts_working(
    server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    services = server.app[SERVICES]
    broken = Broken()
    services.events.persisted.connect(broken)
    services.receipts.stored.connect(broken)
    async with aiohttp.ClientSession() as http:
        alice = await _client(http, server.url, "alice")
        bob = await _client(http, server.url, "bob")
        room_id = (await alice.ok("POST", "/createRoom", {"preset": "public_chat"}))["room_id"]
        await bob.ok("POST", f"/join/{quote(room_id)}", {})
        since = (await bob.sync())["next_batch"]

        poll = await _sync_woken(services.notifier, bob, since)
        event_id = await alice.send(room_id, "hello")  # asserts 200
        woken = await asyncio.wait_for(poll, 30)
        timeline = woken["rooms"]["join"][room_id]["timeline"]["events"]
        assert event_id in [e["event_id"] for e in timeline]

        # The subscribers connected by the wiring still ran: bob's unread count follows.
        await bob.wait_unread(room_id, (1, 0))
        poll = await _sync_woken(services.notifier, bob, (await bob.sync())["next_batch"])
        await alice.read(room_id, event_id)  # asserts 200
        woken = await asyncio.wait_for(poll, 30)
        ephemeral = woken["rooms"]["join"][room_id]["ephemeral"]["events"]
        receipt = next(e for e in ephemeral if e["type"] == "m.receipt")
        assert alice.user_id in receipt["content"][event_id]["m.read"]

        await bob.read(room_id, event_id)
        await bob.wait_unread(room_id, (0, 0))
    assert len(broken.calls) >= 3
    assert any("signal handler failed" in r.getMessage() for r in caplog.records)


async def test_every_cache_of_the_app_is_registered(server: LiveServer) -> None:
    """Stores and services register their caches in one registry, so one invalidator
    reaches all of them."""
    async with aiohttp.ClientSession() as http:
        await _client(http, server.url, "carol")  # the app is up once a request succeeded
    names = set(server.app[SERVICES].caches.names())
    assert {
        "access_tokens",
        "event_pdus",
        "room_heads",
        "room_state",
        "push_rules",
        "e2e_key_counts",
        "state_lookup_entries",
        "sync_memberships",
    } <= names
