"""A hostile server in the room: PDUs with forged signatures, bad hashes, senders of another
server, failing auth, oversized or for unknown rooms are refused one by one, never a 500,
and the room's state does not change. A valid PDU in the same transaction is accepted."""

from __future__ import annotations

import itertools
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from core.errors import JsonDict
from core.hashes import compute_event_id, sign_event
from core.room_versions import KNOWN_ROOM_VERSIONS
from core.signing import SigningKey, generate_signing_key
from tests.homeserver.federation.servers import FederatedServer, signed_headers
from tests.homeserver.federation.test_joins import (
    VERSIONS,
    invited_and_joined,
    sync_until,
    timeline_bodies,
)
from tests.http_client import ApiClient

_txn = itertools.count()


async def _room_state(client: ApiClient, room_id: str) -> dict[tuple[str, str], str]:
    events = await client.ok("GET", f"/rooms/{quote(room_id)}/state")
    return {(e["type"], e["state_key"]): e["event_id"] for e in events}


async def _pdu(
    alice: ApiClient,
    room_id: str,
    version: str,
    fields: dict[str, Any],
    *,
    server: str = "hs2.test",
    key: SigningKey,
) -> JsonDict:
    """An event as bob's server would build it on hs1's current room head, signed by `key`."""
    state = await _room_state(alice, room_id)
    last = await alice.ok("GET", f"/rooms/{quote(room_id)}/messages", dir="b", limit=1)
    room_version = KNOWN_ROOM_VERSIONS[version]
    auth = [state[("m.room.power_levels", "")], state[("m.room.member", "@bob:hs2.test")]]
    if not room_version.room_id_from_create_event:
        auth.append(state[("m.room.create", "")])
    raw: dict[str, Any] = {
        "room_id": room_id,
        "sender": "@bob:hs2.test",
        "type": "m.room.message",
        "content": {"msgtype": "m.text", "body": "hi"},
        "origin_server_ts": 1_700_000_000_000 + next(_txn),
        "prev_events": [last["chunk"][0]["event_id"]],
        "auth_events": auth,
        "depth": 1000,
        **fields,
    }
    return sign_event(raw, server, key, room_version)


async def _send(
    http: aiohttp.ClientSession, hs1: FederatedServer, hs2: FederatedServer, pdus: list[JsonDict]
) -> JsonDict:
    uri = f"/_matrix/federation/v1/send/hostile{next(_txn)}"
    body = {"origin": "hs2.test", "origin_server_ts": 1, "pdus": pdus, "edus": []}
    headers = signed_headers(hs2.signing_key, "hs2.test", "hs1.test", "PUT", uri, body)
    status, answer = await hs1.request(http, "PUT", uri, headers=headers, body=body)
    assert status == 200, answer
    result: JsonDict = answer["pdus"]
    return result


@pytest.mark.parametrize("version", VERSIONS)
async def test_hostile_pdus_are_refused_and_change_nothing(
    pair: list[FederatedServer], http: aiohttp.ClientSession, version: str
) -> None:
    hs1, hs2 = pair
    alice, _bob, room_id = await invited_and_joined(http, hs1, hs2, version)
    before = await _room_state(alice, room_id)
    key = hs2.signing_key
    forger = generate_signing_key(key.key_id.partition(":")[2])
    room_version = KNOWN_ROOM_VERSIONS[version]

    forged = await _pdu(alice, room_id, version, {}, key=forger)
    tampered = await _pdu(alice, room_id, version, {}, key=key)
    tampered["content"] = {"msgtype": "m.text", "body": "tampered"}
    impostor = await _pdu(alice, room_id, version, {"sender": "@alice:hs1.test"}, key=key)
    power_grab = await _pdu(
        alice,
        room_id,
        version,
        {
            "type": "m.room.power_levels",
            "state_key": "",
            "content": {"users": {"@bob:hs2.test": 100}},
        },
        key=key,
    )
    huge = await _pdu(
        alice, room_id, version, {"content": {"msgtype": "m.text", "body": "x" * 70_000}}, key=key
    )
    elsewhere = await _pdu(alice, room_id, version, {"room_id": "!nowhere:hs1.test"}, key=key)
    valid = await _pdu(
        alice, room_id, version, {"content": {"msgtype": "m.text", "body": "honest"}}, key=key
    )
    pdus = [forged, tampered, impostor, power_grab, huge, elsewhere, valid]
    answer = await _send(http, hs1, hs2, pdus)

    def answered(pdu: JsonDict) -> JsonDict:
        result: JsonDict = answer.get(compute_event_id(pdu, room_version), {"error": "absent"})
        return result

    for refused in (forged, impostor, power_grab, huge, elsewhere):
        assert "error" in answered(refused), (refused.get("type"), answer)
    assert answered(valid) == {}
    await sync_until(alice, lambda b: "honest" in timeline_bodies(b, room_id), "the valid PDU")
    # A bad hash is kept redacted: its body never shows.
    body = await alice.sync(None)
    assert "tampered" not in str(body)
    after = await _room_state(alice, room_id)
    assert after == before
