"""Crashes on either side of a federated room lose no message.

The servers are real processes (`processes.py`), so a crash is a real SIGKILL: nothing is
flushed, closed or handed over. Two faults:

- The destination dies while messages are sent to it. The sender keeps failing and backs off
  (1 s, 2 s, 4 s, 8 s, 16 s, ... up to a cap); the test lets it fail five times in a row, so the
  outage lasts at least 15 s and its next attempt is 16 s away, sending more messages after
  each failure. (The issue's 30 s outage is one more doubling of the same backoff.) When the
  destination is back and its user becomes active, the traffic it sends ends the backoff at
  once, and every message reaches its user's `/sync` in order.
- The sender dies with messages acknowledged to its client but not delivered: the destination
  is paused (SIGSTOP) so the transaction in flight hangs and the rest wait in the queue, then the
  sender is killed. After the sender restarts each message arrives exactly once, in order.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest

from core.errors import JsonDict
from tests.homeserver.api.helpers import new_client
from tests.homeserver.federation.processes import ServerNode, federated_processes
from tests.homeserver.federation.test_joins import timeline_bodies, until_member
from tests.http_client import ApiClient
from tests.waiting import wait_for

OUTAGE_FAILURES = 5
"""Consecutive failed attempts to reach the dead destination before it comes back."""
TIMELINE = {"room": {"timeline": {"limit": 200}}}


@pytest.fixture
async def nodes(backend: str, tmp_path: Path) -> AsyncIterator[list[ServerNode]]:
    """`hs1.test` and `hs2.test` as processes."""
    async with federated_processes(backend, tmp_path) as nodes:
        yield nodes


async def _shared_room(
    http: aiohttp.ClientSession, hs1: ServerNode, hs2: ServerNode
) -> tuple[ApiClient, ApiClient, str]:
    """alice@hs1's public room, which bob@hs2 has joined over federation."""
    alice = await new_client(http, hs1.url, "alice")
    bob = await new_client(http, hs2.url, "bob")
    room_id = await alice.create_room(room_version="12", preset="public_chat")
    await bob.ok("POST", f"/join/{quote(room_id, safe='')}", {}, server_name=hs1.name)
    await until_member(alice, room_id, bob.user_id, "join")
    return alice, bob, room_id


class Timeline:
    """The messages of one room, in the order one user's incremental `/sync` gives them."""

    def __init__(self, client: ApiClient, room_id: str) -> None:
        self.client = client
        self.room_id = room_id
        self.bodies: list[str] = []
        self.since: str | None = None

    async def start(self) -> None:
        """Take the sync position now: later messages are collected from here."""
        body: JsonDict = await self.client.sync(None, filter=TIMELINE)
        self.since = body["next_batch"]

    async def has(self, wanted: str) -> bool:
        """Sync once (a short long-poll) and say whether `wanted` has arrived."""
        body: JsonDict = await self.client.sync(self.since, timeout_ms=1000, filter=TIMELINE)
        room = body.get("rooms", {}).get("join", {}).get(self.room_id, {})
        assert not room.get("timeline", {}).get("limited", False), "a gap in the timeline"
        self.since = body["next_batch"]
        self.bodies += timeline_bodies(body, self.room_id)
        return wanted in self.bodies


def _failures(log: str, destination: str) -> int:
    """The sender's latest count of consecutive failures to reach `destination`."""
    pattern = rf"federation transaction failed, retrying destination={re.escape(destination)} "
    counts = re.findall(pattern + r"failures=(\d+)", log)
    return int(counts[-1]) if counts else 0


async def test_a_killed_destination_gets_every_message_in_order_once_back(
    nodes: list[ServerNode], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = nodes
    alice, bob, room_id = await _shared_room(http, hs1, hs2)
    timeline = Timeline(bob, room_id)
    await timeline.start()

    await hs2.kill()
    sent: list[str] = []
    for failures in range(OUTAGE_FAILURES + 1):
        await wait_for(
            lambda n=failures: _failures(hs1.log(), hs2.name) >= n,
            what=f"{failures} failed attempts to reach hs2",
        )
        for n in range(3):
            sent.append(f"outage {failures}.{n}")
            await alice.send(room_id, sent[-1])

    seen_before = len(hs1.log())
    await hs2.start()
    # bob comes back and starts typing: hs2's first transaction to hs1 ends hs1's backoff.
    await bob.ok("PUT", f"/rooms/{quote(room_id)}/typing/{quote(bob.user_id)}", {"typing": True})
    await wait_for(lambda: timeline.has(sent[-1]), what="the last message reaching bob's /sync")
    assert [b for b in timeline.bodies if b.startswith("outage ")] == sent
    woken = f"retrying now destination={hs2.name}"
    assert woken in hs1.log()[seen_before:]


async def test_a_sender_killed_mid_queue_loses_nothing(
    nodes: list[ServerNode], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = nodes
    alice, bob, room_id = await _shared_room(http, hs1, hs2)
    timeline = Timeline(bob, room_id)
    await timeline.start()

    hs2.pause()  # the transaction in flight hangs; later messages wait in hs1's queue
    sent = [f"queued {n}" for n in range(20)]
    for text in sent:
        await alice.send(room_id, text)  # each acknowledged: stored on hs1, owed to hs2
    await hs1.kill()
    hs2.resume()
    await hs1.start()

    await wait_for(lambda: timeline.has(sent[-1]), what="the last message reaching bob's /sync")
    await alice.send(room_id, "after the restart")
    await wait_for(lambda: timeline.has("after the restart"), what="a later message")
    assert timeline.bodies == [*sent, "after the restart"]  # each exactly once, in order
