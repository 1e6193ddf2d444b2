"""Transactions between two live servers: to-device messages crossing, a destination that is
down and comes back, a sender restarted mid-queue, and the inbound `/send` envelope checks."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson

from core.errors import JsonDict
from tests.homeserver.api.helpers import new_client
from tests.homeserver.federation.servers import FederatedServer, signed_headers
from tests.http_client import ApiClient

SEND = "/_matrix/federation/v1/send/"


async def _send_to_device(sender: ApiClient, user_id: str, device_id: str, n: int) -> None:
    body = {"messages": {user_id: {device_id: {"n": n}}}}
    await sender.ok("PUT", f"/sendToDevice/m.test/txn{n}", body)


async def _to_device_until(client: ApiClient, count: int) -> list[JsonDict]:
    """The to-device events `client` receives, syncing until there are `count`."""
    events: list[JsonDict] = []
    since: str | None = None
    for _ in range(60):
        body = await client.sync(since, timeout_ms=1000)
        since = body["next_batch"]
        events.extend(body.get("to_device", {}).get("events", []))
        if len(events) >= count:
            return events
    raise AssertionError(f"only {len(events)} of {count} to-device messages arrived")


async def _put_txn(
    http: aiohttp.ClientSession,
    origin: FederatedServer,
    target: FederatedServer,
    txn_id: str,
    body: JsonDict,
    *,
    claimed_origin: str | None = None,
) -> tuple[int, JsonDict]:
    uri = SEND + txn_id
    headers = signed_headers(origin.signing_key, origin.name, target.name, "PUT", uri, body)
    return await target.request(http, "PUT", uri, headers=headers, body=body)


def _txn(origin: str, pdus: list[Any] | None = None, edus: list[Any] | None = None) -> JsonDict:
    return {"origin": origin, "origin_server_ts": 1, "pdus": pdus or [], "edus": edus or []}


def _to_device_edu(sender: str, user_id: str, device_id: str, message_id: str, n: int) -> JsonDict:
    return {
        "edu_type": "m.direct_to_device",
        "content": {
            "sender": sender,
            "type": "m.test",
            "message_id": message_id,
            "messages": {user_id: {device_id: {"n": n}}},
        },
    }


async def test_to_device_messages_cross_servers(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice = await new_client(http, hs1.url, "alice")
    bob = await new_client(http, hs2.url, "bob")
    await _send_to_device(alice, bob.user_id, bob.device_id, 1)
    await alice.ok("PUT", "/sendToDevice/m.test/all", {"messages": {bob.user_id: {"*": {"n": 2}}}})
    events = await _to_device_until(bob, 2)
    assert [(e["sender"], e["type"], e["content"]) for e in events] == [
        (alice.user_id, "m.test", {"n": 1}),
        (alice.user_id, "m.test", {"n": 2}),
    ]


async def test_a_destination_that_was_down_receives_everything_in_order(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice = await new_client(http, hs1.url, "alice")
    bob = await new_client(http, hs2.url, "bob")
    await hs2.stop()
    for n in range(5):
        await _send_to_device(alice, bob.user_id, bob.device_id, n)
    await hs2.restart()
    bob.base = hs2.url  # the client listener moved
    events = await _to_device_until(bob, 5)
    assert [e["content"]["n"] for e in events] == list(range(5))


async def test_the_queue_survives_a_restart_of_the_sender(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice = await new_client(http, hs1.url, "alice")
    bob = await new_client(http, hs2.url, "bob")
    await hs2.stop()
    for n in range(3):
        await _send_to_device(alice, bob.user_id, bob.device_id, n)
    await hs1.restart()  # the queue to hs2 is only in hs1's database now
    await hs2.restart()
    bob.base = hs2.url
    events = await _to_device_until(bob, 3)
    assert [e["content"]["n"] for e in events] == [0, 1, 2]


async def test_bad_envelopes_are_refused_whole(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    too_many_pdus = _txn(hs1.name, pdus=[{"n": n} for n in range(51)])
    too_many_edus = _txn(hs1.name, edus=[{"edu_type": "m.x", "content": {}}] * 101)
    cases = [
        (_txn(hs2.name), 403),  # claims to come from someone else
        (too_many_pdus, 400),
        (too_many_edus, 400),
        ({"origin": hs1.name, "origin_server_ts": 1, "pdus": {}, "edus": []}, 400),
    ]
    for n, (body, expected) in enumerate(cases):
        status, answer = await _put_txn(http, hs1, hs2, f"bad{n}", body)
        assert status == expected, (n, answer)


async def test_hostile_edus_are_dropped_without_failing_the_transaction(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    bob = await new_client(http, hs2.url, "bob")
    edus: list[Any] = [
        "not an object",
        {"edu_type": "m.typing", "content": "nope"},
        {"edu_type": "m.presence", "content": {"push": [{"user_id": bob.user_id}]}},
        # a user of another server: hs1 may not speak for hs2's (or anyone else's) users
        _to_device_edu("@mallory:hs3.test", bob.user_id, bob.device_id, "m1", 0),
        _to_device_edu(bob.user_id, bob.user_id, bob.device_id, "m2", 0),
        {"edu_type": "m.direct_to_device", "content": {"sender": "@a:hs1.test"}},
        {"edu_type": "m.receipt", "content": {"!r:hs2.test": {"m.read": {"@a:hs1.test": 1}}}},
        {"edu_type": "m.device_list_update", "content": {"user_id": 7}},
        _to_device_edu("@alice:hs1.test", bob.user_id, bob.device_id, "good", 1),
    ]
    status, answer = await _put_txn(http, hs1, hs2, "hostile", _txn(hs1.name, edus=edus))
    assert (status, answer) == (200, {"pdus": {}})
    events = await _to_device_until(bob, 1)
    assert [(e["sender"], e["content"]) for e in events] == [("@alice:hs1.test", {"n": 1})]


async def test_a_transaction_is_applied_once(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    bob = await new_client(http, hs2.url, "bob")
    first = _txn(hs1.name, edus=[_to_device_edu("@a:hs1.test", bob.user_id, "*", "x1", 1)])
    again = _txn(hs1.name, edus=[_to_device_edu("@a:hs1.test", bob.user_id, "*", "x2", 2)])
    assert await _put_txn(http, hs1, hs2, "once", first) == (200, {"pdus": {}})
    assert await _put_txn(http, hs1, hs2, "once", again) == (200, {"pdus": {}})
    # A new transaction repeating a message ID is delivered once too.
    assert await _put_txn(http, hs1, hs2, "twice", first) == (200, {"pdus": {}})
    marker = _txn(hs1.name, edus=[_to_device_edu("@a:hs1.test", bob.user_id, "*", "x3", 3)])
    assert await _put_txn(http, hs1, hs2, "marker", marker) == (200, {"pdus": {}})
    events = await _to_device_until(bob, 2)
    assert [e["content"]["n"] for e in events] == [1, 3]


async def test_pdus_get_a_result_each(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    small = {
        "type": "m.room.message",
        "room_id": "!nowhere:hs1.test",
        "sender": "@a:hs1.test",
        "content": {"body": "hi"},
        "depth": 1,
        "prev_events": [],
        "auth_events": [],
        "origin_server_ts": 1,
        "hashes": {"sha256": "x"},
        "signatures": {},
    }
    # (another timestamp: redaction drops the content, so it would have the same event ID)
    large = {**small, "origin_server_ts": 2, "content": {"body": "x" * 70_000}}
    status, answer = await _put_txn(http, hs1, hs2, "pdus", _txn(hs1.name, pdus=[small, large]))
    assert status == 200, answer
    results = answer["pdus"]
    assert len(results) == 2
    assert all("error" in result for result in results.values())
    assert {"error": "PDU is larger than 65536 bytes"} in results.values()


async def test_a_full_transaction_may_exceed_the_client_body_limit(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    """50 PDUs near 64 KiB each make a transaction larger than a client request may be: it is
    read (each PDU gets its result), while a body past the transaction limit is refused."""
    hs1, hs2 = pair
    limit = hs2.config.max_request_body_bytes
    pdus = [
        {
            "type": "m.room.message",
            "room_id": "!r:hs1.test",
            "origin_server_ts": n,  # redaction keeps it: distinct event IDs
            "content": {"body": f"{n}" * 60_000},
        }
        for n in range(50)
    ]
    body = _txn(hs1.name, pdus=pdus)
    assert len(orjson.dumps(body)) > limit
    status, answer = await _put_txn(http, hs1, hs2, "full", body)
    assert status == 200, answer
    assert len(answer["pdus"]) == 50
    huge = _txn(hs1.name, edus=[{"edu_type": "m.x", "content": {"pad": "x" * 11_000_000}}])
    status, answer = await _put_txn(http, hs1, hs2, "huge", huge)
    assert (status, answer.get("errcode")) == (413, "M_TOO_LARGE")


async def test_hs1_is_told_hs2_is_back_when_hs2_sends_to_it(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    """A destination that sends us a transaction ends our backoff towards it."""
    hs1, hs2 = pair
    alice = await new_client(http, hs1.url, "alice")
    bob = await new_client(http, hs2.url, "bob")
    await hs2.stop()
    await _send_to_device(alice, bob.user_id, bob.device_id, 0)
    await asyncio.sleep(0)
    await hs2.restart()
    bob.base = hs2.url
    await _send_to_device(bob, alice.user_id, alice.device_id, 9)
    assert [e["content"]["n"] for e in await _to_device_until(bob, 1)] == [0]
    assert [e["content"]["n"] for e in await _to_device_until(alice, 1)] == [9]
