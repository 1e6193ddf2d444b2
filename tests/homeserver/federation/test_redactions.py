"""Redactions across servers, in room versions 10, 11 and 12 (version 11 moved `redacts` into
the content): a redaction made on one server prunes the event on the other, and a redaction
from another server by someone who may not redact the event stays in the room without
touching it."""

from __future__ import annotations

from urllib.parse import quote

import aiohttp
import pytest

from core.errors import JsonDict
from core.hashes import compute_event_id
from core.room_versions import KNOWN_ROOM_VERSIONS
from tests.homeserver.federation.servers import FederatedServer
from tests.homeserver.federation.test_hostile_pdus import _pdu, _send
from tests.homeserver.federation.test_joins import (
    VERSIONS,
    invited_and_joined,
    sync_until,
    timeline_bodies,
)
from tests.http_client import ApiClient
from tests.waiting import wait_for


async def event(client: ApiClient, room_id: str, event_id: str) -> JsonDict:
    """An event as the client's server serves it."""
    found: JsonDict = await client.ok("GET", f"/rooms/{quote(room_id)}/event/{quote(event_id)}")
    return found


async def redact(client: ApiClient, room_id: str, event_id: str, txn: str) -> str:
    """Redact an event; returns the redaction's ID."""
    path = f"/rooms/{quote(room_id)}/redact/{quote(event_id)}/{txn}"
    sent = await client.ok("PUT", path, {"reason": "oops"})
    return str(sent["event_id"])


async def pruned_on(client: ApiClient, room_id: str, event_id: str, redaction_id: str) -> None:
    """Wait until the client's server serves the event pruned by `redaction_id`."""

    async def pruned() -> bool:
        return not (await event(client, room_id, event_id))["content"]

    await wait_for(pruned, what=f"{event_id} pruned on {client.base}")
    served = await event(client, room_id, event_id)
    assert served["unsigned"]["redacted_because"]["event_id"] == redaction_id


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_redaction_prunes_the_event_on_the_other_server(
    pair: list[FederatedServer], http: aiohttp.ClientSession, version: str
) -> None:
    hs1, hs2 = pair
    alice, bob, room_id = await invited_and_joined(http, hs1, hs2, version)
    mine = await bob.send(room_id, "regrettable")
    await sync_until(alice, lambda b: "regrettable" in timeline_bodies(b, room_id), "the message")
    await pruned_on(alice, room_id, mine, await redact(bob, room_id, mine, "r1"))

    theirs = await alice.send(room_id, "also regrettable")
    await sync_until(
        bob, lambda b: "also regrettable" in timeline_bodies(b, room_id), "the message"
    )
    await pruned_on(bob, room_id, theirs, await redact(alice, room_id, theirs, "r2"))


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_remote_redaction_without_the_power_to_redact_is_not_applied(
    pair: list[FederatedServer], http: aiohttp.ClientSession, version: str
) -> None:
    hs1, hs2 = pair
    alice, _bob, room_id = await invited_and_joined(http, hs1, hs2, version)
    target = await alice.send(room_id, "keep me")
    room_version = KNOWN_ROOM_VERSIONS[version]
    fields: JsonDict = {"type": "m.room.redaction", "content": {}}
    if room_version.redacts_in_content:
        fields["content"] = {"redacts": target}
    else:
        fields["redacts"] = target
    redaction = await _pdu(alice, room_id, version, fields, key=hs2.signing_key)

    answer = await _send(http, hs1, hs2, [redaction])
    assert answer == {compute_event_id(redaction, room_version): {}}
    served = await event(alice, room_id, target)
    assert served["content"]["body"] == "keep me"
    assert "redacted_because" not in served.get("unsigned", {})
