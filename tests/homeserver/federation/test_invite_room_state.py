"""The room state that comes with an invite from another server (`invite_room_state`, sent as
full PDUs since MSC4311): each PDU must be a validly signed state event of the invite's room,
the invitee's client sees only the stripped form, and bare stripped events from older servers
are still kept. Invites between two live servers carry the room's create event, name and topic.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from core.errors import JsonDict
from core.hashes import compute_event_id, sign_event
from core.room_versions import KNOWN_ROOM_VERSIONS
from core.signing import generate_signing_key
from homeserver.api.http import SERVICES
from tests.homeserver.api.helpers import new_client
from tests.homeserver.federation.servers import FederatedServer, signed_headers
from tests.homeserver.federation.test_joins import VERSIONS, sync_until
from tests.http_client import ApiClient

STRIPPED_KEYS = {"type", "state_key", "content", "sender"}


async def _pdus(server: FederatedServer, room_id: str, *types: str) -> list[JsonDict]:
    """Full PDUs of a room's current state of `types`, as `server` holds them."""
    events = server.live.app[SERVICES].events
    state = await events.current_state(room_id)  # type: ignore[arg-type]
    found = await events.get_pdus([state[(t, "")] for t in types])
    return [dict(p.raw) for p in found]


async def _invite_state(alice: ApiClient, room_id: str) -> list[JsonDict]:
    body = await sync_until(
        alice, lambda b: room_id in b.get("rooms", {}).get("invite", {}), "the invite"
    )
    events: list[JsonDict] = body["rooms"]["invite"][room_id]["invite_state"]["events"]
    return events


@pytest.mark.parametrize("version", VERSIONS)
async def test_invite_room_state_entries_are_checked_and_stripped(
    pair: list[FederatedServer], http: aiohttp.ClientSession, version: str
) -> None:
    hs1, hs2 = pair
    alice = await new_client(http, hs1.url, "alice")
    bob = await new_client(http, hs2.url, "bob")
    room_id = await bob.create_room(room_version=version, name="Den")
    other_room = await bob.create_room(room_version=version)
    room_version = KNOWN_ROOM_VERSIONS[version]
    create, name, power = await _pdus(
        hs2, room_id, "m.room.create", "m.room.name", "m.room.power_levels"
    )
    (elsewhere,) = await _pdus(hs2, other_room, "m.room.create")
    forged = sign_event(
        {**name, "content": {"name": "Forged"}, "signatures": {}, "hashes": {}},
        "hs2.test",
        generate_signing_key(),
        room_version,
    )
    invite: dict[str, Any] = {
        "room_id": room_id,
        "sender": bob.user_id,
        "type": "m.room.member",
        "state_key": alice.user_id,
        "content": {"membership": "invite"},
        "origin_server_ts": 1_700_000_000_000,
        "prev_events": [compute_event_id(name, room_version)],
        "auth_events": [],
        "depth": 10,
    }
    invite = sign_event(invite, "hs2.test", hs2.signing_key, room_version)
    event_id = compute_event_id(invite, room_version)
    topic = {
        "type": "m.room.topic",
        "state_key": "",
        "content": {"topic": "t"},
        "sender": bob.user_id,
    }
    body = {
        "event": invite,
        "room_version": version,
        "invite_room_state": [create, forged, elsewhere, topic, "junk", {"type": 5}, power],
    }
    uri = f"/_matrix/federation/v2/invite/{quote(room_id)}/{quote(event_id)}"
    headers = signed_headers(hs2.signing_key, "hs2.test", "hs1.test", "PUT", uri, body)
    status, answer = await hs1.request(http, "PUT", uri, headers=headers, body=body)
    assert status == 200, answer

    seen = await _invite_state(alice, room_id)
    assert all(set(e) == STRIPPED_KEYS for e in seen), seen
    assert [(e["type"], e["content"]) for e in seen] == [
        ("m.room.create", create["content"]),
        ("m.room.topic", {"topic": "t"}),
        ("m.room.power_levels", power["content"]),
        ("m.room.member", {"membership": "invite"}),
    ]


async def test_an_invite_between_servers_shows_the_room_before_joining(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice = await new_client(http, hs1.url, "alice")
    bob = await new_client(http, hs2.url, "bob")
    room_id = await bob.create_room(room_version="12", name="Den", topic="plans")
    await bob.invite(room_id, alice.user_id)

    seen = await _invite_state(alice, room_id)
    assert all(set(e) == STRIPPED_KEYS for e in seen), seen
    by_type = {e["type"]: e["content"] for e in seen}
    assert by_type["m.room.name"] == {"name": "Den"}
    assert by_type["m.room.topic"] == {"topic": "plans"}
    assert by_type["m.room.create"]["room_version"] == "12"
    assert by_type["m.room.member"] == {"membership": "invite"} | by_type["m.room.member"]
