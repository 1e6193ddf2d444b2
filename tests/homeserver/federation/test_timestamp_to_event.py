"""`timestamp_to_event` across servers: served to servers in the room, and a client whose
server joined the room late gets an event from before the join, asked of the other server and
fetched, so it can read it."""

from __future__ import annotations

from urllib.parse import quote

import aiohttp

from tests.homeserver.api.helpers import new_client
from tests.homeserver.federation.servers import FederatedServer, signed_headers
from tests.homeserver.federation.test_joins import invited_and_joined

F1 = "/_matrix/federation/v1"
C1 = "/_matrix/client/v1"


async def test_a_late_joiner_finds_events_from_before_its_join(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice, bob, room_id = await invited_and_joined(http, hs1, hs2, "12", before_join=3)
    room = quote(room_id, safe="")
    history = await alice.ok("GET", f"/rooms/{room}/messages", dir="b", limit=100)
    early = {e["content"]["body"]: e for e in history["chunk"] if e["type"] == "m.room.message"}
    target = early["early 1"]
    ts = target["origin_server_ts"]
    path = f"{bob.base}{C1}/rooms/{room}/timestamp_to_event"

    async def nearest(client_token: str, **query: object) -> tuple[int, dict[str, object]]:
        url = path + "?" + "&".join(f"{k}={v}" for k, v in query.items())
        headers = {"Authorization": f"Bearer {client_token}"}
        async with http.get(url, headers=headers) as resp:
            return resp.status, await resp.json()

    status, found = await nearest(bob.token, ts=ts, dir="f")
    assert status == 200, found
    assert found["origin_server_ts"] == ts
    same_time = {e["event_id"] for e in history["chunk"] if e["origin_server_ts"] == ts}
    assert found["event_id"] in same_time
    event = await bob.ok("GET", f"/rooms/{room}/event/{quote(str(found['event_id']))}")
    assert event["origin_server_ts"] == ts

    status, found = await nearest(bob.token, ts=ts, dir="b")
    assert (status, found["origin_server_ts"]) == (200, ts), found
    status, found = await nearest(bob.token, ts=1, dir="b")
    assert (status, found["errcode"]) == (404, "M_NOT_FOUND")
    status, found = await nearest(bob.token, ts=1, dir="f")
    assert status == 200, found
    assert found["origin_server_ts"] <= ts

    for query in ({"ts": ts}, {"dir": "f"}, {"ts": "soon", "dir": "f"}, {"ts": ts, "dir": "x"}):
        status, found = await nearest(bob.token, **query)
        assert status == 400, (query, found)
    stranger = await new_client(http, hs2.url, "stranger")
    status, found = await nearest(stranger.token, ts=ts, dir="f")
    assert (status, found["errcode"]) == (403, "M_FORBIDDEN")


async def test_timestamp_to_event_is_served_to_servers_in_the_room(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice, _bob, room_id = await invited_and_joined(http, hs1, hs2, "11", before_join=2)
    room = quote(room_id, safe="")
    latest = await alice.send(room_id, "latest")
    event = await alice.ok("GET", f"/rooms/{room}/event/{quote(latest)}")

    async def ask(origin: FederatedServer, query: str) -> tuple[int, dict[str, object]]:
        uri = f"{F1}/timestamp_to_event/{room}?{query}"
        headers = signed_headers(origin.signing_key, origin.name, hs1.name, "GET", uri)
        return await hs1.request(http, "GET", uri, headers=headers)

    status, found = await ask(hs2, f"ts={event['origin_server_ts'] + 10**9}&dir=b")
    assert (status, found) == (
        200,
        {"event_id": latest, "origin_server_ts": event["origin_server_ts"]},
    )
    status, found = await ask(hs2, "ts=0&dir=f")
    assert status == 200, found
    create = await alice.ok("GET", f"/rooms/{room}/state/m.room.create")
    assert create["room_version"] == "11"
    status, found = await ask(hs2, f"ts={event['origin_server_ts'] + 10**9}&dir=f")
    assert (status, found["errcode"]) == (404, "M_NOT_FOUND")
    status, found = await ask(hs2, "ts=0&dir=sideways")
    assert (status, found["errcode"]) == (400, "M_INVALID_PARAM")

    lone = await new_client(http, hs1.url, "lone")
    other = quote(await lone.create_room(), safe="")
    uri = f"{F1}/timestamp_to_event/{other}?ts=0&dir=f"
    headers = signed_headers(hs2.signing_key, hs2.name, hs1.name, "GET", uri)
    status, found = await hs1.request(http, "GET", uri, headers=headers)
    assert (status, found["errcode"]) == (403, "M_FORBIDDEN")
