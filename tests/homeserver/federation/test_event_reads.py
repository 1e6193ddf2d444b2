"""Events and state a server in the room reads over federation (backfill, missing events,
state, state IDs, auth chains, single events), and servers outside the room refused."""

from __future__ import annotations

from urllib.parse import quote

import aiohttp

from core.errors import JsonDict
from tests.homeserver.api.helpers import new_client
from tests.homeserver.federation.servers import FederatedServer, signed_headers
from tests.homeserver.federation.test_joins import invited_and_joined

F1 = "/_matrix/federation/v1"


async def _get(
    http: aiohttp.ClientSession, hs1: FederatedServer, hs2: FederatedServer, uri: str
) -> tuple[int, JsonDict]:
    headers = signed_headers(hs2.signing_key, hs2.name, hs1.name, "GET", uri)
    return await hs1.request(http, "GET", uri, headers=headers)


async def test_a_server_in_the_room_reads_history_and_state(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice, _bob, room_id = await invited_and_joined(http, hs1, hs2, "11", before_join=5)
    last = await alice.send(room_id, "latest")
    room = quote(room_id, safe="")

    status, body = await _get(http, hs1, hs2, f"{F1}/backfill/{room}?v={quote(last)}&limit=20")
    assert status == 200, body
    bodies = [p["content"].get("body") for p in body["pdus"]]
    assert bodies[0] == "latest"
    assert {f"early {n}" for n in range(5)} <= set(bodies)
    assert [p["depth"] for p in body["pdus"]] == sorted(
        (p["depth"] for p in body["pdus"]), reverse=True
    )

    status, body = await _get(http, hs1, hs2, f"{F1}/state_ids/{room}?event_id={quote(last)}")
    assert status == 200, body
    status, state = await _get(http, hs1, hs2, f"{F1}/state/{room}?event_id={quote(last)}")
    assert status == 200, state
    assert len(state["pdus"]) == len(body["pdu_ids"])
    assert {p["type"] for p in state["pdus"]} >= {"m.room.create", "m.room.member"}

    status, auth = await _get(http, hs1, hs2, f"{F1}/event_auth/{room}/{quote(last)}")
    assert status == 200, auth
    assert "m.room.create" in {p["type"] for p in auth["auth_chain"]}

    status, one = await _get(http, hs1, hs2, f"{F1}/event/{quote(last)}")
    assert status == 200, one
    assert one["pdus"][0]["content"]["body"] == "latest"

    uri = f"{F1}/get_missing_events/{room}"
    request = {"earliest_events": [], "latest_events": [last], "limit": 3}
    headers = signed_headers(hs2.signing_key, hs2.name, hs1.name, "POST", uri, request)
    status, missing = await hs1.request(http, "POST", uri, headers=headers, body=request)
    assert status == 200, missing
    assert len(missing["events"]) == 3
    depths = [p["depth"] for p in missing["events"]]
    assert depths == sorted(depths)


async def test_a_server_outside_the_room_is_refused(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice = await new_client(http, hs1.url, "alice")
    room_id = await alice.create_room(room_version="12")
    event_id = await alice.send(room_id, "secret")
    room = quote(room_id, safe="")
    for uri in (
        f"{F1}/event/{quote(event_id)}",
        f"{F1}/backfill/{room}?v={quote(event_id)}",
        f"{F1}/state_ids/{room}?event_id={quote(event_id)}",
        f"{F1}/event_auth/{room}/{quote(event_id)}",
    ):
        status, body = await _get(http, hs1, hs2, uri)
        assert (status, body.get("errcode")) == (403, "M_FORBIDDEN"), (uri, body)
    status, body = await _get(
        http, hs1, hs2, f"{F1}/make_join/{room}/{quote('@bob:hs2.test')}?ver=12"
    )
    assert status == 403, body  # private room: not invited
    status, body = await _get(
        http, hs1, hs2, f"{F1}/make_join/{room}/{quote('@eve:hs3.test')}?ver=12"
    )
    assert status == 403, body  # a user of another server than the asker
    status, body = await _get(
        http, hs1, hs2, f"{F1}/make_join/{room}/{quote('@bob:hs2.test')}?ver=10"
    )
    assert (status, body.get("errcode"), body.get("room_version")) == (
        400,
        "M_INCOMPATIBLE_ROOM_VERSION",
        "12",
    )
