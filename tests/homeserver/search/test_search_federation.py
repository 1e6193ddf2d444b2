"""Events from other servers are searchable where they arrive: live messages over `/send`,
history fetched by backfill, and a redaction sent from the other server takes its target out
(two federating servers on each backend)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest

from tests.conftest import BACKENDS
from tests.homeserver.federation.servers import FederatedServer, federation_of
from tests.homeserver.federation.test_backfill import page_back
from tests.homeserver.federation.test_joins import invited_and_joined
from tests.homeserver.search.helpers import Searcher
from tests.waiting import wait_for


@pytest.fixture(params=BACKENDS)
async def pair(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[list[FederatedServer]]:
    async with federation_of(str(request.param), tmp_path) as servers:
        yield servers


async def test_remote_events_are_indexed(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice, bob, room_id = await invited_and_joined(http, hs1, hs2, "12", before_join=3)
    searcher = Searcher(http, hs2.url, bob.user_id, bob.token)
    sent = await alice.send(room_id, "a quokka crossed the road")

    async def bob_finds(term: str, expected: list[str]) -> bool:
        return sorted(await searcher.bodies(term)) == sorted(expected)

    await wait_for(lambda: bob_finds("quokka", ["a quokka crossed the road"]), what="remote event")
    # History from before the join reaches bob's server when he pages back; it is indexed too.
    await page_back(bob, room_id, 10)
    early = [f"early {n}" for n in range(3)]
    await wait_for(lambda: bob_finds("early", early), what="backfilled history")
    path = f"/rooms/{quote(room_id)}/redact/{quote(sent)}/r1"
    await alice.ok("PUT", path, {})
    await wait_for(lambda: bob_finds("quokka", []), what="remote redaction")
