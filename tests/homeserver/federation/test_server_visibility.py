"""History visibility for servers: what `/backfill`, `/get_missing_events` and `/event` serve
to a server in the room, whole or redacted, by the room's history visibility at each event
and the membership of that server's users then (asked as hs2, with raw signed requests)."""

from __future__ import annotations

from urllib.parse import quote

import aiohttp
import pytest

from core.errors import JsonDict
from core.hashes import compute_event_id
from core.room_versions import get_room_version
from tests.homeserver.api.helpers import new_client
from tests.homeserver.federation.servers import FederatedServer, signed_headers
from tests.homeserver.federation.test_joins import members, sync_until
from tests.http_client import ApiClient
from tests.waiting import wait_for

F1 = "/_matrix/federation/v1"
VERSION = "12"
LABELS = ("before invite", "after invite", "after join")


async def _as_hs2(
    http: aiohttp.ClientSession,
    hs1: FederatedServer,
    hs2: FederatedServer,
    method: str,
    uri: str,
    body: JsonDict | None = None,
) -> tuple[int, JsonDict]:
    headers = signed_headers(hs2.signing_key, hs2.name, hs1.name, method, uri, body)
    return await hs1.request(http, method, uri, headers=headers, body=body)


async def _history(
    http: aiohttp.ClientSession, hs1: FederatedServer, hs2: FederatedServer, visibility: str
) -> tuple[ApiClient, ApiClient, str, dict[str, str]]:
    """alice@hs1's room with `visibility`: a message before bob@hs2 is invited, one after
    the invite, and one after bob joined; returns alice, bob, the room ID and the messages'
    IDs."""
    alice = await new_client(http, hs1.url, "alice")
    bob = await new_client(http, hs2.url, "bob")
    setting = {"type": "m.room.history_visibility", "content": {"history_visibility": visibility}}
    room_id = await alice.create_room(room_version=VERSION, initial_state=[setting])
    ids = {"before invite": await alice.send(room_id, "before invite")}
    await alice.invite(room_id, bob.user_id)
    ids["after invite"] = await alice.send(room_id, "after invite")
    await sync_until(bob, lambda b: room_id in b.get("rooms", {}).get("invite", {}), "invite")
    await bob.ok("POST", f"/join/{quote(room_id, safe='')}", {}, server_name=hs1.name)
    assert (await members(alice, room_id))[bob.user_id] == "join"
    ids["after join"] = await alice.send(room_id, "after join")
    return alice, bob, room_id, ids


def _by_id(pdus: list[JsonDict]) -> dict[str, JsonDict]:
    """The PDUs by event ID, computed from what was served (redacted or not, a PDU keeps
    its ID: the reference hash covers only what redaction keeps)."""
    version = get_room_version(VERSION)
    assert version is not None
    return {compute_event_id(p, version): p for p in pdus}


def _redacted(served: dict[str, JsonDict], ids: dict[str, str]) -> set[str]:
    """The labels of the messages served redacted; the others must be served whole."""
    redacted = set()
    for label, event_id in ids.items():
        pdu = served[event_id]
        if pdu["content"] == {}:
            redacted.add(label)
        else:
            assert pdu["content"]["body"] == label, pdu
    return redacted


@pytest.mark.parametrize(
    ("visibility", "hidden"),
    [
        ("joined", {"before invite", "after invite"}),
        ("invited", {"before invite"}),
        ("shared", set()),
    ],
)
async def test_history_a_server_may_not_see_is_served_redacted(
    pair: list[FederatedServer],
    http: aiohttp.ClientSession,
    visibility: str,
    hidden: set[str],
) -> None:
    hs1, hs2 = pair
    _, _, room_id, ids = await _history(http, hs1, hs2, visibility)
    room = quote(room_id, safe="")
    last = ids["after join"]

    status, body = await _as_hs2(http, hs1, hs2, "GET", f"{F1}/backfill/{room}?v={last}&limit=50")
    assert status == 200, body
    served = _by_id(body["pdus"])
    assert _redacted(served, ids) == hidden
    # Redacted events keep what the event graph and the auth rules need.
    for label in hidden:
        pdu = served[ids[label]]
        assert {"signatures", "hashes", "prev_events", "auth_events"} <= pdu.keys(), pdu
        assert (pdu["type"], pdu["room_id"]) == ("m.room.message", room_id)
    settings = [p for p in body["pdus"] if p["type"] == "m.room.history_visibility"]
    assert [p["content"] for p in settings] == [{"history_visibility": visibility}]

    uri = f"{F1}/get_missing_events/{room}"
    request = {"earliest_events": [], "latest_events": [last], "limit": 50}
    status, body = await _as_hs2(http, hs1, hs2, "POST", uri, request)
    assert status == 200, body
    earlier = {label: ids[label] for label in ("before invite", "after invite")}
    assert _redacted(_by_id(body["events"]), earlier) == hidden

    for label, event_id in ids.items():
        status, body = await _as_hs2(http, hs1, hs2, "GET", f"{F1}/event/{event_id}")
        assert status == 200, body
        (pdu,) = body["pdus"]
        assert _redacted(_by_id([pdu]), {label: event_id}) == hidden & {label}


async def test_a_server_whose_users_all_left_reads_nothing_more(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice, bob, room_id, ids = await _history(http, hs1, hs2, "shared")
    await bob.leave(room_id)

    async def left() -> bool:
        return (await members(alice, room_id)).get(bob.user_id) == "leave"

    await wait_for(left, what="bob's leave on hs1")
    later = await alice.send(room_id, "after leave")
    room = quote(room_id, safe="")
    request = {"earliest_events": [], "latest_events": [later], "limit": 5}
    for method, uri, body in (
        ("GET", f"{F1}/backfill/{room}?v={later}&limit=5", None),
        ("POST", f"{F1}/get_missing_events/{room}", request),
        ("GET", f"{F1}/event/{ids['after join']}", None),
        ("GET", f"{F1}/state_ids/{room}?event_id={later}", None),
        ("GET", f"{F1}/state/{room}?event_id={later}", None),
        ("GET", f"{F1}/event_auth/{room}/{later}", None),
    ):
        status, answer = await _as_hs2(http, hs1, hs2, method, uri, body)
        assert (status, answer.get("errcode")) == (403, "M_FORBIDDEN"), (uri, answer)
