"""Filling gaps: a server that missed events (it was down) and then receives a later one
fetches what it missed from the sender with `get_missing_events` and shows it all in order."""

from __future__ import annotations

from urllib.parse import quote

import aiohttp

from core.errors import JsonDict
from tests.homeserver.federation.servers import FederatedServer, signed_headers
from tests.homeserver.federation.test_joins import invited_and_joined, sync_until, timeline_bodies


async def test_missed_events_are_fetched_when_a_later_one_arrives(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice, bob, room_id = await invited_and_joined(http, hs1, hs2, "12")
    await hs1.stop()
    sent = [await bob.send(room_id, f"while away {n}") for n in range(3)]
    await hs1.restart()
    alice.base = hs1.url  # the client listener moved

    uri = f"/_matrix/federation/v1/event/{quote(sent[-1])}"
    headers = signed_headers(hs1.signing_key, hs1.name, hs2.name, "GET", uri)
    status, fetched = await hs2.request(http, "GET", uri, headers=headers)
    assert status == 200, fetched
    uri = "/_matrix/federation/v1/send/gap1"
    body = {"origin": hs2.name, "origin_server_ts": 1, "pdus": fetched["pdus"], "edus": []}
    headers = signed_headers(hs2.signing_key, hs2.name, hs1.name, "PUT", uri, body)
    status, answer = await hs1.request(http, "PUT", uri, headers=headers, body=body)
    assert (status, answer["pdus"]) == (200, {sent[-1]: {}})

    wanted = [f"while away {n}" for n in range(3)]

    def all_there(sync: JsonDict) -> bool:
        bodies = timeline_bodies(sync, room_id)
        return [b for b in bodies if b in wanted] == wanted

    await sync_until(alice, all_there, "the missed messages")
