"""Rooms of every supported version (10, 11, 12) through the live server, on both backends.

Version 12 changes what a client can see: the room ID is the create event's hash (no server
name), the create event names no room and is never an auth event, and the creators outrank every
power level without being listed in `m.room.power_levels` (spec: "Room Version 12").
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from core.identifiers import EventId
from homeserver.app import STORES
from tests.conftest import LiveServer, make_config, serving
from tests.homeserver.api.helpers import new_client
from tests.homeserver.fake_clock import FakeClock
from tests.http_client import ApiClient

VERSIONS = ("10", "11", "12")
HASHED_ROOM_ID = re.compile(r"^![A-Za-z0-9_-]{43}$")


def room_path(room_id: str, rest: str = "") -> str:
    return f"/rooms/{quote(room_id)}{rest}"


async def state_content(client: ApiClient, room_id: str, event_type: str) -> Any:
    return await client.ok("GET", room_path(room_id, f"/state/{event_type}/"))


async def power_levels(client: ApiClient, room_id: str) -> dict[str, Any]:
    levels: dict[str, Any] = await state_content(client, room_id, "m.room.power_levels")
    return levels


async def set_levels(client: ApiClient, room_id: str, users: dict[str, int]) -> int:
    """Replace the `users` of the room's power levels; returns the HTTP status."""
    levels = {**await power_levels(client, room_id), "users": users}
    status, _ = await client.request(
        "PUT", room_path(room_id, "/state/m.room.power_levels/"), levels
    )
    return status


@pytest.mark.parametrize("version", VERSIONS)
async def test_create_send_sync(
    server: LiveServer, http: aiohttp.ClientSession, version: str
) -> None:
    alice = await new_client(http, server.url, "alice")
    bob = await new_client(http, server.url, "bob")
    room_id = await alice.create_room(
        room_version=version, name="Chat", room_alias_name=f"chat{version}", invite=[bob.user_id]
    )
    if version == "12":
        assert HASHED_ROOM_ID.match(room_id), room_id
    else:
        assert room_id.endswith(":localhost")
    create = await state_content(alice, room_id, "m.room.create")
    assert create["room_version"] == version
    assert ("creator" in create) == (version == "10")
    levels = await power_levels(alice, room_id)
    if version == "12":
        assert levels["users"] == {}
        assert levels["events"]["m.room.tombstone"] == 150
    else:
        assert levels["users"] == {alice.user_id: 100}

    await bob.join(f"#chat{version}:localhost")
    sent = await bob.send(room_id, "hello")
    synced = await alice.sync()
    timeline = synced["rooms"]["join"][room_id]["timeline"]["events"]
    assert sent in [event["event_id"] for event in timeline]
    assert all("room_id" not in event for event in timeline)
    messages = await alice.ok("GET", room_path(room_id, "/messages"), dir="b", limit=50)
    chunk = messages["chunk"]
    assert [e["body"] for e in (ev["content"] for ev in chunk) if "body" in e] == ["hello"]
    # Every event, the create event included, names the room in the client format.
    assert {event["room_id"] for event in chunk} == {room_id}
    created = next(event for event in chunk if event["type"] == "m.room.create")

    stored = await server.app[STORES].events.get_events([EventId(sent), created["event_id"]])
    message_pdu, create_pdu = stored[EventId(sent)].raw, stored[created["event_id"]].raw
    if version == "12":
        assert "room_id" not in create_pdu
        assert room_id == "!" + created["event_id"][1:]
        assert created["event_id"] not in message_pdu["auth_events"]
    else:
        assert create_pdu["room_id"] == room_id
        assert created["event_id"] in message_pdu["auth_events"]


@pytest.mark.parametrize("version", VERSIONS)
async def test_membership_and_creators(
    server: LiveServer, http: aiohttp.ClientSession, version: str
) -> None:
    alice = await new_client(http, server.url, "alice")
    bob = await new_client(http, server.url, "bob")
    carol = await new_client(http, server.url, "carol")
    room_id = await alice.create_room(room_version=version, preset="public_chat")
    for user in (bob, carol):
        await user.join(room_id)
    users = {bob.user_id: 100} if version == "12" else {alice.user_id: 100, bob.user_id: 100}
    assert await set_levels(alice, room_id, users) == 200
    # Bob, an admin, may kick and ban carol but not the creator.
    kick = {"user_id": carol.user_id}
    await bob.ok("POST", room_path(room_id, "/kick"), kick)
    await bob.ok("POST", room_path(room_id, "/ban"), kick)
    for action in ("kick", "ban"):
        status, err = await bob.request(
            "POST", room_path(room_id, f"/{action}"), {"user_id": alice.user_id}
        )
        assert (status, err["errcode"]) == (403, "M_FORBIDDEN"), (action, err)
    # The creator may kick an admin in version 12 (above every level), not at equal level before.
    status, _ = await alice.request("POST", room_path(room_id, "/kick"), {"user_id": bob.user_id})
    assert status == (200 if version == "12" else 403)
    # Leaving and rejoining a public room works in every version, for the creator too.
    await alice.leave(room_id)
    await alice.join(room_id)
    members = await alice.ok("GET", room_path(room_id, "/joined_members"))
    assert alice.user_id in members["joined"]


async def test_v12_additional_creators(server: LiveServer, http: aiohttp.ClientSession) -> None:
    alice = await new_client(http, server.url, "alice")
    bob = await new_client(http, server.url, "bob")
    room_id = await alice.create_room(
        room_version="12",
        preset="public_chat",
        creation_content={"additional_creators": [bob.user_id]},
    )
    create = await state_content(alice, room_id, "m.room.create")
    assert create["additional_creators"] == [bob.user_id]
    await bob.join(room_id)
    # Two creators: neither can kick the other, and power levels may name neither.
    for kicker, target in ((alice, bob), (bob, alice)):
        status, _ = await kicker.request(
            "POST", room_path(room_id, "/kick"), {"user_id": target.user_id}
        )
        assert status == 403
    assert await set_levels(alice, room_id, {bob.user_id: 50}) == 403
    assert await set_levels(bob, room_id, {alice.user_id: 0}) == 403
    # Bob, as a creator, may change the power levels although they do not list him.
    assert await set_levels(bob, room_id, {"@dave:localhost": 50}) == 200


async def test_v12_trusted_private_chat_makes_invitees_creators(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await new_client(http, server.url, "alice")
    bob = await new_client(http, server.url, "bob")
    room_id = await alice.create_room(
        room_version="12",
        preset="trusted_private_chat",
        invite=[bob.user_id],
        creation_content={"additional_creators": [bob.user_id, "@carol:localhost"]},
    )
    create = await state_content(alice, room_id, "m.room.create")
    assert create["additional_creators"] == [bob.user_id, "@carol:localhost"]
    assert (await power_levels(alice, room_id))["users"] == {}
    await bob.join(room_id)
    await bob.set_state(room_id, "m.room.name", {"name": "Bob's too"})


@pytest.mark.parametrize(
    "creation_content",
    [
        {"additional_creators": "@bob:localhost"},
        {"additional_creators": ["not a user"]},
        {"additional_creators": [7]},
    ],
)
async def test_v12_bad_additional_creators_are_refused(
    server: LiveServer, http: aiohttp.ClientSession, creation_content: dict[str, Any]
) -> None:
    alice = await new_client(http, server.url, "alice")
    body = {"room_version": "12", "creation_content": creation_content}
    status, err = await alice.request("POST", "/createRoom", body)
    assert (status, err["errcode"]) == (400, "M_INVALID_PARAM"), err
    assert (await alice.ok("GET", "/joined_rooms"))["joined_rooms"] == []


@pytest.mark.parametrize("version", VERSIONS)
async def test_power_level_changes(
    server: LiveServer, http: aiohttp.ClientSession, version: str
) -> None:
    alice = await new_client(http, server.url, "alice")
    bob = await new_client(http, server.url, "bob")
    room_id = await alice.create_room(room_version=version, preset="public_chat")
    await bob.join(room_id)
    mine = {} if version == "12" else {alice.user_id: 100}
    assert await set_levels(alice, room_id, {**mine, bob.user_id: 50}) == 200
    status, _ = await bob.request("PUT", room_path(room_id, "/state/m.room.topic/"), {"topic": "t"})
    assert status == 200  # 50 reaches state_default
    assert await set_levels(bob, room_id, {**mine, bob.user_id: 100}) == 403
    # Listing the creator: refused in version 12 (rule 10.4), a self-demotion before.
    status = await set_levels(alice, room_id, {alice.user_id: 10, bob.user_id: 50})
    assert status == (403 if version == "12" else 200)
    status, _ = await alice.request("PUT", room_path(room_id, "/state/m.room.name/"), {"name": "n"})
    assert status == (200 if version == "12" else 403)


@pytest.mark.parametrize("version", VERSIONS)
async def test_redaction(server: LiveServer, http: aiohttp.ClientSession, version: str) -> None:
    alice = await new_client(http, server.url, "alice")
    bob = await new_client(http, server.url, "bob")
    room_id = await alice.create_room(room_version=version, preset="public_chat")
    await bob.join(room_id)
    bobs = await bob.send(room_id, "bob's words")
    alices = await alice.send(room_id, "alice's words")
    status, _ = await bob.request("PUT", room_path(room_id, f"/redact/{quote(alices)}/r1"), {})
    assert status == 403
    await alice.ok("PUT", room_path(room_id, f"/redact/{quote(bobs)}/r2"), {"reason": "tidy"})
    redacted = await alice.ok("GET", room_path(room_id, f"/event/{quote(bobs)}"))
    assert redacted["content"] == {}
    assert "redacted_because" in redacted["unsigned"]


async def test_default_room_version_is_configurable(
    database_url: str, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    config = make_config(database_url, tmp_path / "data", default_room_version="11")
    async with serving(config) as live:
        alice = await new_client(http, live.url, "alice")
        caps = (await alice.ok("GET", "/capabilities"))["capabilities"]["m.room_versions"]
        assert caps == {
            "default": "11",
            "available": {"10": "stable", "11": "stable", "12": "stable"},
        }
        room_id = await alice.create_room()
        assert room_id.endswith(":localhost")
        create = await state_content(alice, room_id, "m.room.create")
        assert create["room_version"] == "11"


async def test_v12_identical_rooms_on_a_stopped_clock_get_distinct_ids(
    database_url: str, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    # Same creator, same content, same millisecond: the create events would hash alike.
    async with serving(make_config(database_url, tmp_path / "data"), FakeClock()) as live:
        alice = await new_client(http, live.url, "alice")
        first = await alice.create_room(room_version="12")
        second = await alice.create_room(room_version="12")
        assert first != second
        assert HASHED_ROOM_ID.match(second)
        await alice.send(second, "in the second room")
        joined = (await alice.ok("GET", "/joined_rooms"))["joined_rooms"]
        assert sorted(joined) == sorted([first, second])


async def test_default_is_version_12(server: LiveServer, http: aiohttp.ClientSession) -> None:
    alice = await new_client(http, server.url, "alice")
    caps = (await alice.ok("GET", "/capabilities"))["capabilities"]["m.room_versions"]
    assert caps["default"] == "12"
    room_id = await alice.create_room()
    assert HASHED_ROOM_ID.match(room_id)
    assert (await state_content(alice, room_id, "m.room.create"))["room_version"] == "12"


@pytest.mark.parametrize("version", ["1", "9", "13", "", "org.example.custom"])
async def test_unsupported_room_versions_are_refused(
    server: LiveServer, http: aiohttp.ClientSession, version: str
) -> None:
    alice = await new_client(http, server.url, "alice")
    status, err = await alice.request("POST", "/createRoom", {"room_version": version})
    assert (status, err["errcode"]) == (400, "M_UNSUPPORTED_ROOM_VERSION"), err
    assert (await alice.ok("GET", "/joined_rooms"))["joined_rooms"] == []
