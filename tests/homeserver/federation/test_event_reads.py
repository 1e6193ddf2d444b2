"""Events and state a server in the room reads over federation (backfill, missing events,
state, state IDs, auth chains, single events), the state before the create event (empty),
servers outside the room refused, and any server reading a world-readable room."""

from __future__ import annotations

from urllib.parse import quote

import aiohttp

from core.errors import JsonDict
from core.hashes import compute_event_id
from core.room_versions import get_room_version
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
    await _state_at_the_start(http, hs1, hs2, room_id, state["pdus"])

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


async def _state_at_the_start(
    http: aiohttp.ClientSession,
    hs1: FederatedServer,
    hs2: FederatedServer,
    room_id: str,
    state: list[JsonDict],
) -> None:
    """The state before the create event is empty; before the creator's join, it is the
    create event alone."""
    version = get_room_version("11")
    assert version is not None
    ids = {(p["type"], p["state_key"]): compute_event_id(p, version) for p in state}
    create = ids[("m.room.create", "")]
    creator = next(p["sender"] for p in state if p["type"] == "m.room.create")
    creator_join = ids[("m.room.member", creator)]
    room = quote(room_id, safe="")
    status, body = await _get(http, hs1, hs2, f"{F1}/state_ids/{room}?event_id={quote(create)}")
    assert (status, body) == (200, {"pdu_ids": [], "auth_chain_ids": []})
    status, body = await _get(http, hs1, hs2, f"{F1}/state/{room}?event_id={quote(create)}")
    assert (status, body) == (200, {"pdus": [], "auth_chain": []})
    uri = f"{F1}/state_ids/{room}?event_id={quote(creator_join)}"
    status, body = await _get(http, hs1, hs2, uri)
    assert (status, body) == (200, {"pdu_ids": [create], "auth_chain_ids": []})
    status, body = await _get(http, hs1, hs2, f"{F1}/event_auth/{room}/{quote(create)}")
    assert (status, body) == (200, {"auth_chain": []})
    status, body = await _get(http, hs1, hs2, f"{F1}/state_ids/{room}")
    assert (status, body.get("errcode")) == (400, "M_MISSING_PARAM")


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
        f"{F1}/state/{room}?event_id={quote(event_id)}",
        f"{F1}/event_auth/{room}/{quote(event_id)}",
        f"{F1}/timestamp_to_event/{room}?ts=0&dir=f",
    ):
        status, body = await _get(http, hs1, hs2, uri)
        assert (status, body.get("errcode")) == (403, "M_FORBIDDEN"), (uri, body)
    uri = f"{F1}/get_missing_events/{room}"
    request = {"earliest_events": [], "latest_events": [event_id], "limit": 3}
    headers = signed_headers(hs2.signing_key, hs2.name, hs1.name, "POST", uri, request)
    status, body = await hs1.request(http, "POST", uri, headers=headers, body=request)
    assert (status, body.get("errcode")) == (403, "M_FORBIDDEN"), body
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


async def test_any_server_reads_a_world_readable_room(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice = await new_client(http, hs1.url, "alice")
    setting = {"type": "m.room.history_visibility", "content": {"history_visibility": "joined"}}
    room_id = await alice.create_room(room_version="12", initial_state=[setting])
    hidden = await alice.send(room_id, "while joined-only")
    await alice.set_state(
        room_id, "m.room.history_visibility", {"history_visibility": "world_readable"}
    )
    shown = await alice.send(room_id, "while world-readable")
    room = quote(room_id, safe="")

    status, body = await _get(http, hs1, hs2, f"{F1}/backfill/{room}?v={quote(shown)}&limit=50")
    assert status == 200, body
    messages = [p["content"] for p in body["pdus"] if p["type"] == "m.room.message"]
    # hs2 has no user in the room: what was sent while it was joined-only reaches it redacted.
    assert messages == [{"msgtype": "m.text", "body": "while world-readable"}, {}]
    for uri in (
        f"{F1}/state_ids/{room}?event_id={quote(shown)}",
        f"{F1}/state/{room}?event_id={quote(shown)}",
        f"{F1}/event_auth/{room}/{quote(shown)}",
    ):
        status, body = await _get(http, hs1, hs2, uri)
        assert status == 200, (uri, body)
    status, body = await _get(http, hs1, hs2, f"{F1}/event/{quote(hidden)}")
    assert status == 200, body
    assert body["pdus"][0]["content"] == {}
