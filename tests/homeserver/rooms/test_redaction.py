"""`PUT /rooms/{roomId}/redact/{eventId}/{txnId}` on room versions 10 and 11, both backends."""

from __future__ import annotations

from urllib.parse import quote

import aiohttp
import pytest

from homeserver.api.http import SERVICES
from homeserver.app import STORES
from tests.conftest import LiveServer
from tests.homeserver.rooms.reads_helpers import User, new_user


def _redact_path(room: str, event_id: str, txn: str) -> str:
    return f"/rooms/{quote(room)}/redact/{quote(event_id)}/{txn}"


async def _room(alice: User, bob: User, version: str) -> str:
    room = await alice.create_room(preset="public_chat", room_version=version)
    await bob.join(room)
    return room


@pytest.mark.parametrize("version", ["10", "11", "12"])
async def test_redaction_removes_content_from_storage(server: LiveServer, version: str) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await new_user(http, server, "alice")
        bob = await new_user(http, server, "bob")
        room = await _room(alice, bob, version)
        secret = await bob.send(room, "a secret")

        path = _redact_path(room, secret, "r1")
        first = await bob.ok("PUT", path, {"reason": "oops"})
        redaction_id = first["event_id"]
        # Idempotent per device and transaction ID.
        assert (await bob.ok("PUT", path, {"reason": "oops"}))["event_id"] == redaction_id

        stored = (await server.app[STORES].events.get_events([secret]))[secret]
        assert stored.raw["content"] == {}
        assert "a secret" not in str(stored.raw)
        assert stored.redacted_by == redaction_id
        # No cache keeps the old content either.
        cached = await server.app[SERVICES].events.get_pdus([secret])
        assert cached[0].content == {}

        event = await alice.ok("GET", f"/rooms/{quote(room)}/event/{quote(secret)}")
        assert event["content"] == {}
        because = event["unsigned"]["redacted_because"]
        assert because["event_id"] == redaction_id
        assert because["type"] == "m.room.redaction"
        assert because["content"]["reason"] == "oops"

        redaction = await alice.ok("GET", f"/rooms/{quote(room)}/event/{quote(redaction_id)}")
        # Stored where the room version keeps it, served in both places (room version 11).
        assert redaction["redacts"] == redaction["content"]["redacts"] == secret
        redaction_pdu = (await server.app[STORES].events.get_events([redaction_id]))[redaction_id]
        assert ("redacts" in redaction_pdu.raw) == (version == "10")

        # One redaction event in the timeline, whatever the retries.
        timeline = await alice.all_messages(room, "b")
        assert [e["event_id"] for e in timeline if e["type"] == "m.room.redaction"] == [
            redaction_id
        ]
        (shown,) = [e for e in timeline if e["event_id"] == secret]
        assert shown["content"] == {}
        assert shown["unsigned"]["redacted_because"]["event_id"] == redaction_id


async def test_redaction_permissions(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await new_user(http, server, "alice")
        bob = await new_user(http, server, "bob")
        carol = await new_user(http, server, "carol")
        room = await _room(alice, bob, "10")
        by_alice = await alice.send(room, "from alice")
        by_bob = await bob.send(room, "from bob")

        # Power level 0 may not redact someone else's event...
        status, body = await bob.request("PUT", _redact_path(room, by_alice, "x"), {})
        assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
        assert (await alice.ok("GET", f"/rooms/{quote(room)}/event/{quote(by_alice)}"))["content"][
            "body"
        ] == "from alice"
        # ...but the room admin (power 100 >= redact 50) may.
        await alice.ok("PUT", _redact_path(room, by_bob, "y"), {})
        assert (await bob.ok("GET", f"/rooms/{quote(room)}/event/{quote(by_bob)}"))["content"] == {}
        # Someone who is not in the room may not redact at all.
        status, body = await carol.request("PUT", _redact_path(room, by_alice, "z"), {})
        assert (status, body["errcode"]) == (403, "M_FORBIDDEN")


async def test_redaction_errors_and_state_events(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await new_user(http, server, "alice")
        bob = await new_user(http, server, "bob")
        room = await _room(alice, bob, "11")
        other = await alice.create_room()
        elsewhere = await alice.send(other, "elsewhere")

        for event_id in ("$unknown", elsewhere):
            status, body = await alice.request("PUT", _redact_path(room, event_id, event_id), {})
            assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
        status, body = await alice.request("PUT", _redact_path("nonsense", elsewhere, "a"), {})
        assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")

        # Redacting state prunes it to what the algorithm keeps; the room name is gone.
        name_id = await alice.set_state(room, "m.room.name", {"name": "Secret name"})
        await alice.ok("PUT", _redact_path(room, name_id, "n"), {})
        assert await bob.ok("GET", f"/rooms/{quote(room)}/state/m.room.name") == {}
        # Power levels keep their levels (room version 11 keeps `invite` too).
        levels = await alice.ok("GET", f"/rooms/{quote(room)}/state/m.room.power_levels")
        levels_id = (
            await alice.ok("GET", f"/rooms/{quote(room)}/state/m.room.power_levels", format="event")
        )["event_id"]
        await alice.ok("PUT", _redact_path(room, levels_id, "p"), {})
        pruned = await alice.ok("GET", f"/rooms/{quote(room)}/state/m.room.power_levels")
        assert pruned["users"] == levels["users"]
        assert pruned["invite"] == levels["invite"]
        assert "notifications" not in pruned

        # A second redaction is accepted and changes nothing stored.
        first = (await server.app[STORES].events.get_events([name_id]))[name_id].redacted_by
        await alice.ok("PUT", _redact_path(room, name_id, "again"), {})
        again = (await server.app[STORES].events.get_events([name_id]))[name_id]
        assert again.redacted_by == first
