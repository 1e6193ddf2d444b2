"""Self-destruct across two federating servers on each backend (real clocks: federation signs
with real time): the receiving server applies the field to its copy and purges it, the timer of
`org.matrix.self_destruct` starts at a read on the other server, and an expired event is only
ever served redacted over federation."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest

from core.identifiers import EventId
from homeserver.app.app_keys import STORES
from tests.conftest import BACKENDS
from tests.homeserver.federation.servers import FederatedServer, federation_of, signed_headers
from tests.homeserver.federation.test_joins import invited_and_joined
from tests.http_client import ApiClient
from tests.waiting import wait_for


@pytest.fixture(params=BACKENDS)
async def pair(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[list[FederatedServer]]:
    async with federation_of(str(request.param), tmp_path) as servers:
        yield servers


async def _has(user: ApiClient, room_id: str, event_id: str) -> bool:
    body = await user.ok("GET", f"/rooms/{quote(room_id)}/messages", dir="b", limit=50)
    return event_id in [e["event_id"] for e in body["chunk"]]


async def _purged(server: FederatedServer, event_id: str) -> bool:
    found = await server.live.app[STORES].db.fetch_val(
        "SELECT 1 FROM purged_events WHERE event_id = $1", event_id
    )
    return found is not None


async def test_both_servers_apply_the_self_destruct_fields(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice, bob, room_id = await invited_and_joined(http, hs1, hs2, "12")
    soon = int(time.time() * 1000) + 3_000
    timed = await alice.send(
        room_id, "gone in three seconds", **{"org.matrix.self_destruct_after": soon}
    )
    on_read = await alice.send(
        room_id, "gone after bob reads it", **{"org.matrix.self_destruct": 1_000}
    )
    await wait_for(lambda: _has(bob, room_id, on_read), what="the messages on hs2")
    assert await _has(bob, room_id, timed)

    await wait_for(lambda: _purged(hs2, timed), what="hs2 purging its copy")
    await wait_for(lambda: _purged(hs1, timed), what="hs1 purging its own")
    assert not await _has(bob, room_id, timed)
    assert await _has(bob, room_id, on_read)  # nobody has read it yet

    await bob.ok("POST", f"/rooms/{quote(room_id)}/receipt/m.read/{quote(on_read)}", {})
    await wait_for(lambda: _purged(hs2, on_read), what="hs2 purging after the read")
    await wait_for(lambda: _purged(hs1, on_read), what="hs1 purging after the remote read")
    assert not await _has(alice, room_id, on_read)

    # What hs1 serves other servers of an expired event is its redacted form.
    path = f"/_matrix/federation/v1/event/{quote(timed)}"
    headers = signed_headers(hs2.signing_key, hs2.name, hs1.name, "GET", path)
    status, body = await hs1.request(http, "GET", path, headers=headers)
    assert status == 200, body
    assert body["pdus"][0]["content"] == {}


async def test_a_purged_event_queued_for_an_unreachable_server_goes_out_redacted(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice, bob, room_id = await invited_and_joined(http, hs1, hs2, "12")
    await hs2.stop()
    soon = int(time.time() * 1000) + 500
    doomed = await alice.send(
        room_id, "never reaches hs2 whole", **{"org.matrix.self_destruct_after": soon}
    )
    await wait_for(lambda: _purged(hs1, doomed), what="hs1 purging it")
    outbox = hs1.live.app[STORES].federation_outbox
    queued = [pdu for _, pdu in await outbox.queued_pdus(room_id)]
    assert queued  # still waiting for hs2
    assert all("never reaches" not in str(pdu) for pdu in queued)
    await hs2.restart()
    bob = ApiClient(http, hs2.url, bob.user_id, bob.token)
    await bob.send(room_id, "back")  # hs2 reaching hs1 ends hs1's backoff towards it

    async def arrived_redacted() -> bool:
        found = await hs2.live.app[STORES].events.get_events([EventId(doomed)])
        return doomed in found and found[EventId(doomed)].raw.get("content") == {}

    await wait_for(arrived_redacted, what="hs2 receiving it redacted")
    shown = await bob.ok("GET", f"/rooms/{quote(room_id)}/event/{quote(doomed)}")
    assert shown["content"] == {}  # what bob sees: a redacted event, nothing of what was said
