"""Server ACLs between live servers: a server the room's `m.room.server_acl` denies has its
PDUs refused one by one (nothing stored), its typing and receipts dropped, and every
protected federation endpoint answers it 403 `M_FORBIDDEN`; allowed servers go on as before,
and the denied server still receives the room's events."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp

from core.errors import JsonDict
from core.hashes import compute_event_id, sign_event
from core.room_versions import KNOWN_ROOM_VERSIONS
from tests.homeserver.api.helpers import new_client
from tests.homeserver.federation.servers import FederatedServer, federation_of, signed_headers
from tests.homeserver.federation.test_joins import (
    invited_and_joined,
    sync_until,
    timeline_bodies,
    until_member,
)
from tests.http_client import ApiClient

F1 = "/_matrix/federation/v1"
F2 = "/_matrix/federation/v2"
_n = itertools.count()


async def _remote_pdu(
    resident: ApiClient, room_id: str, version: str, server: FederatedServer, sender: str
) -> JsonDict:
    """A message of `sender` built on the resident's view of the room, signed by `server`."""
    events = await resident.ok("GET", f"/rooms/{quote(room_id)}/state")
    state = {(e["type"], e["state_key"]): e["event_id"] for e in events}
    last = await resident.ok("GET", f"/rooms/{quote(room_id)}/messages", dir="b", limit=1)
    room_version = KNOWN_ROOM_VERSIONS[version]
    auth = [state[("m.room.power_levels", "")], state[("m.room.member", sender)]]
    if not room_version.room_id_from_create_event:
        auth.append(state[("m.room.create", "")])
    raw: dict[str, Any] = {
        "room_id": room_id,
        "sender": sender,
        "type": "m.room.message",
        "content": {"msgtype": "m.text", "body": f"raw {next(_n)}"},
        "origin_server_ts": 1_700_000_000_000 + next(_n),
        "prev_events": [last["chunk"][0]["event_id"]],
        "auth_events": auth,
        "depth": 1000,
    }
    return sign_event(raw, server.name, server.signing_key, room_version)


async def _transaction(
    http: aiohttp.ClientSession,
    origin: FederatedServer,
    destination: FederatedServer,
    pdus: list[JsonDict],
    edus: list[JsonDict],
) -> JsonDict:
    uri = f"{F1}/send/acl{next(_n)}"
    body = {"origin": origin.name, "origin_server_ts": 1, "pdus": pdus, "edus": edus}
    headers = signed_headers(origin.signing_key, origin.name, destination.name, "PUT", uri, body)
    status, answer = await destination.request(http, "PUT", uri, headers=headers, body=body)
    assert status == 200, answer
    result: JsonDict = answer["pdus"]
    return result


async def _call(
    http: aiohttp.ClientSession,
    origin: FederatedServer,
    destination: FederatedServer,
    method: str,
    uri: str,
    body: JsonDict | None = None,
) -> tuple[int, JsonDict]:
    headers = signed_headers(origin.signing_key, origin.name, destination.name, method, uri, body)
    return await destination.request(http, method, uri, headers=headers, body=body)


def _protected(room_id: str, event_id: str, user_id: str) -> list[tuple[str, str]]:
    room, event, user = quote(room_id, safe=""), quote(event_id, safe=""), quote(user_id)
    return [
        ("GET", f"{F1}/make_join/{room}/{user}?ver={'&ver='.join(KNOWN_ROOM_VERSIONS)}"),
        ("PUT", f"{F2}/send_join/{room}/{event}"),
        ("GET", f"{F1}/make_leave/{room}/{user}"),
        ("PUT", f"{F2}/send_leave/{room}/{event}"),
        ("GET", f"{F1}/make_knock/{room}/{user}?ver=11"),
        ("PUT", f"{F1}/send_knock/{room}/{event}"),
        ("PUT", f"{F2}/invite/{room}/{event}"),
        ("GET", f"{F1}/state/{room}?event_id={event}"),
        ("GET", f"{F1}/state_ids/{room}?event_id={event}"),
        ("GET", f"{F1}/backfill/{room}?v={event}&limit=5"),
        ("GET", f"{F1}/event_auth/{room}/{event}"),
        ("POST", f"{F1}/get_missing_events/{room}"),
        ("GET", f"{F1}/event/{event}"),
    ]


def _typing(room_id: str, user_id: str) -> JsonDict:
    return {
        "edu_type": "m.typing",
        "content": {"room_id": room_id, "user_id": user_id, "typing": True},
    }


def _receipt(room_id: str, user_id: str, event_id: str) -> JsonDict:
    receipt = {"event_ids": [event_id], "data": {"ts": 1}}
    return {"edu_type": "m.receipt", "content": {room_id: {"m.read": {user_id: receipt}}}}


def _ephemeral(body: JsonDict, room_id: str) -> list[JsonDict]:
    room = body.get("rooms", {}).get("join", {}).get(room_id, {})
    events: list[JsonDict] = room.get("ephemeral", {}).get("events", [])
    return events


def _saw(body: JsonDict, room_id: str, user_id: str) -> bool:
    """Whether the sync shows `user_id` typing or with a read receipt in the room."""
    for event in _ephemeral(body, room_id):
        if event["type"] == "m.typing" and user_id in event["content"]["user_ids"]:
            return True
        if event["type"] == "m.receipt" and user_id in str(event["content"]):
            return True
    return False


async def test_a_denied_server_is_shut_out_until_the_acl_allows_it(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice, bob, room_id = await invited_and_joined(http, hs1, hs2, "11", "public_chat")
    seen = await alice.send(room_id, "before the ACL")
    await alice.set_state(room_id, "m.room.server_acl", {"allow": ["*"], "deny": ["HS2.test"]})
    version = KNOWN_ROOM_VERSIONS["11"]

    pdu = await _remote_pdu(alice, room_id, "11", hs2, bob.user_id)
    edus = [_typing(room_id, bob.user_id), _receipt(room_id, bob.user_id, seen)]
    answer = await _transaction(http, hs2, hs1, [pdu], edus)
    event_id = compute_event_id(pdu, version)
    assert "ACL" in answer[event_id]["error"], answer
    status, body = await alice.request("GET", f"/rooms/{quote(room_id)}/event/{quote(event_id)}")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    assert not _saw(await alice.sync(), room_id, bob.user_id)

    for method, uri in _protected(room_id, seen, bob.user_id):
        body_sent = (
            {"latest_events": [seen]} if method == "POST" else ({} if method == "PUT" else None)
        )
        status, body = await _call(http, hs2, hs1, method, uri, body_sent)
        assert (status, body.get("errcode")) == (403, "M_FORBIDDEN"), (uri, body)

    # The denied server still receives the room's events.
    await alice.send(room_id, "still told")
    await sync_until(bob, lambda b: "still told" in timeline_bodies(b, room_id), "the message")

    await alice.set_state(room_id, "m.room.server_acl", {"allow": ["*"]})
    pdu = await _remote_pdu(alice, room_id, "11", hs2, bob.user_id)
    answer = await _transaction(http, hs2, hs1, [pdu], edus)
    assert answer[compute_event_id(pdu, version)] == {}, answer
    assert _saw(await alice.sync(), room_id, bob.user_id)
    status, body = await _call(http, hs2, hs1, "GET", f"{F1}/event/{quote(seen, safe='')}")
    assert status == 200, body


async def test_three_servers_only_the_denied_one_is_refused(
    backend: str, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    names = ("hs1.test", "hs2.test", "hs3.test")
    async with federation_of(backend, tmp_path, names) as (hs1, hs2, hs3):
        alice = await new_client(http, hs1.url, "alice")
        bob = await new_client(http, hs2.url, "bob")
        carol = await new_client(http, hs3.url, "carol")
        room_id = await alice.create_room(preset="public_chat", room_version="12")
        path = f"/join/{quote(room_id, safe='')}"
        for client in (bob, carol):
            await client.ok("POST", path, {}, via="hs1.test")
            await until_member(alice, room_id, client.user_id, "join")
        await until_member(bob, room_id, carol.user_id, "join")
        acl = {"allow": ["hs?.test"], "deny": ["*3.test"], "allow_ip_literals": False}
        await alice.set_state(room_id, "m.room.server_acl", acl)

        def has_acl(server_view: JsonDict) -> bool:
            state = joined_state(server_view, room_id)
            return "m.room.server_acl" in state

        await sync_until(bob, has_acl, "the ACL")
        await sync_until(carol, has_acl, "the ACL")

        for resident in (hs1, hs2):
            viewer = alice if resident is hs1 else bob
            refused = await _remote_pdu(viewer, room_id, "12", hs3, carol.user_id)
            answer = await _transaction(http, hs3, resident, [refused], [])
            assert "error" in answer[compute_event_id(refused, KNOWN_ROOM_VERSIONS["12"])]
            status, body = await _call(
                http, hs3, resident, "GET", f"{F1}/state_ids/{quote(room_id, safe='')}"
            )
            assert (status, body.get("errcode")) == (403, "M_FORBIDDEN")

        await bob.send(room_id, "from hs2")
        await sync_until(
            alice, lambda b: "from hs2" in timeline_bodies(b, room_id), "hs2's message"
        )
        await alice.send(room_id, "from hs1")
        await sync_until(
            carol, lambda b: "from hs1" in timeline_bodies(b, room_id), "hs1's message"
        )


def joined_state(body: JsonDict, room_id: str) -> set[str]:
    """The event types in the room's state and timeline of a sync response."""
    room = body.get("rooms", {}).get("join", {}).get(room_id, {})
    events = [*room.get("state", {}).get("events", []), *room.get("timeline", {}).get("events", [])]
    return {e["type"] for e in events}
