"""Typing, receipts and presence crossing between two live servers, in a room both share.

Joining a room over federation is not what these tests are about: each server is given the
membership rows a completed remote join would leave (`_share_room`), then the EDUs travel
through the real senders, transactions and handlers, and arrive in `/sync`.
"""

from __future__ import annotations

from urllib.parse import quote

import aiohttp

from core.errors import JsonDict
from core.identifiers import ServerName, UserId
from homeserver.api.http import SERVICES
from homeserver.app.app_keys import STORES
from tests.homeserver.api.helpers import new_client
from tests.homeserver.e2ee.helpers import Device
from tests.homeserver.federation.servers import FederatedServer, signed_headers
from tests.http_client import ApiClient
from tests.waiting import sync_until, wait_for

SEND = "/_matrix/federation/v1/send/"


async def _join_row(server: FederatedServer, user_id: str, room_id: str) -> None:
    await server.live.app[STORES].db.execute(
        "INSERT INTO memberships (user_id, room_id, membership, event_id, stream_ordering)"
        " VALUES ($1, $2, 'join', $3, 0)",
        user_id,
        room_id,
        "$joined-over-federation",
    )


async def _setup(
    http: aiohttp.ClientSession, hs1: FederatedServer, hs2: FederatedServer
) -> tuple[ApiClient, ApiClient, str]:
    """alice@hs1 and bob@hs2, both joined (as each server sees it) to bob's room."""
    alice = await new_client(http, hs1.url, "alice")
    bob = await new_client(http, hs2.url, "bob")
    room_id = await bob.create_room()
    await _join_row(hs2, alice.user_id, room_id)
    await _join_row(hs1, alice.user_id, room_id)
    await _join_row(hs1, bob.user_id, room_id)
    return alice, bob, room_id


def _ephemeral(body: JsonDict, room_id: str, event_type: str) -> list[JsonDict]:
    room = body.get("rooms", {}).get("join", {}).get(room_id, {})
    return [e for e in room.get("ephemeral", {}).get("events", []) if e["type"] == event_type]


async def test_typing_and_presence_cross_to_the_other_servers_sync(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice, bob, room_id = await _setup(http, hs1, hs2)

    await alice.ok(
        "PUT", f"/rooms/{quote(room_id)}/typing/{quote(alice.user_id)}", {"typing": True}
    )

    def alice_typing(body: JsonDict) -> bool:
        events = _ephemeral(body, room_id, "m.typing")
        return any(alice.user_id in e["content"]["user_ids"] for e in events)

    await sync_until(bob, alice_typing, "alice typing")

    await alice.ok(
        "PUT",
        f"/presence/{quote(alice.user_id)}/status",
        {"presence": "online", "status_msg": "hi"},
    )

    def alice_online(body: JsonDict) -> bool:
        events = body.get("presence", {}).get("events", [])
        return any(
            e["sender"] == alice.user_id and e["content"].get("status_msg") == "hi" for e in events
        )

    await sync_until(bob, alice_online, "alice's presence")


async def test_receipts_cross_but_private_ones_never_leave(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice, bob, room_id = await _setup(http, hs1, hs2)
    first = await bob.send(room_id, "one")
    second = await bob.send(room_id, "two")
    await hs1.stop()  # keep hs2's queue to hs1 where the test can read it
    receipt = f"/rooms/{quote(room_id)}/receipt"
    await bob.ok("POST", f"{receipt}/m.read.private/{quote(second)}", {})
    await bob.ok("POST", f"{receipt}/m.read/{quote(first)}", {})
    outbox = hs2.live.app[STORES].federation_outbox

    async def receipt_queued() -> bool:
        queued = await outbox.pending(ServerName("hs1.test"), 50, 100)
        return any(i.payload.get("edu_type") == "m.receipt" for i in queued)

    await wait_for(receipt_queued, what="a queued receipt")
    queued = await outbox.pending(ServerName("hs1.test"), 50, 100)
    receipts = [i.payload["content"] for i in queued if i.payload.get("edu_type") == "m.receipt"]
    assert len(receipts) == 1
    assert list(receipts[0]) == [room_id]
    assert list(receipts[0][room_id]) == ["m.read"]
    assert receipts[0][room_id]["m.read"][bob.user_id]["event_ids"] == [first]
    assert "m.read.private" not in str(queued)

    # And a receipt from hs1 reaches bob's sync on hs2 (sent here as hs1 would send it).
    await hs1.restart()
    edu = {
        "edu_type": "m.receipt",
        "content": {
            room_id: {
                "m.read": {alice.user_id: {"event_ids": [second], "data": {"ts": 1}}},
                "m.read.private": {alice.user_id: {"event_ids": [first], "data": {"ts": 1}}},
            }
        },
    }
    assert await _put_edus(http, hs1, hs2, "r1", [edu]) == (200, {"pdus": {}})

    def alice_read(body: JsonDict) -> bool:
        events = _ephemeral(body, room_id, "m.receipt")
        return any(alice.user_id in str(e["content"].get(second, {})) for e in events)

    body = await sync_until(bob, alice_read, "alice's receipt")
    for event in _ephemeral(body, room_id, "m.receipt"):
        for by_type in event["content"].values():
            assert alice.user_id not in by_type.get("m.read.private", {})  # never accepted


async def test_edus_for_users_of_other_servers_or_rooms_are_ignored(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice, bob, room_id = await _setup(http, hs1, hs2)
    edus = [
        # bob belongs to hs2: hs1 cannot make him type
        {
            "edu_type": "m.typing",
            "content": {"room_id": room_id, "user_id": bob.user_id, "typing": True},
        },
        # carol@hs1 is not in the room
        {
            "edu_type": "m.typing",
            "content": {"room_id": room_id, "user_id": "@carol:hs1.test", "typing": True},
        },
        {
            "edu_type": "m.presence",
            "content": {"push": [{"user_id": "@carol:hs1.test", "presence": "online"}]},
        },
        {
            "edu_type": "m.typing",
            "content": {"room_id": room_id, "user_id": alice.user_id, "typing": True},
        },
    ]
    assert await _put_edus(http, hs1, hs2, "t1", edus) == (200, {"pdus": {}})

    def someone_typing(body: JsonDict) -> bool:
        return any(e["content"]["user_ids"] for e in _ephemeral(body, room_id, "m.typing"))

    body = await sync_until(bob, someone_typing, "typing")
    [typing] = _ephemeral(body, room_id, "m.typing")
    assert typing["content"]["user_ids"] == [alice.user_id]
    senders = [e["sender"] for e in body.get("presence", {}).get("events", [])]
    assert "@carol:hs1.test" not in senders


async def _put_edus(
    http: aiohttp.ClientSession,
    origin: FederatedServer,
    target: FederatedServer,
    txn_id: str,
    edus: list[JsonDict],
) -> tuple[int, JsonDict]:
    uri = SEND + txn_id
    body = {"origin": origin.name, "origin_server_ts": 1, "pdus": [], "edus": edus}
    headers = signed_headers(origin.signing_key, origin.name, target.name, "PUT", uri, body)
    return await target.request(http, "PUT", uri, headers=headers, body=body)


async def _queued_messages(server: FederatedServer, destination: str) -> list[str]:
    outbox = server.live.app[STORES].federation_outbox
    queued = await outbox.pending(ServerName(destination), 50, 100)
    return [
        i.payload["content"]["body"]
        for i in queued
        if i.kind == "pdu" and i.payload.get("type") == "m.room.message"
    ]


async def _queued_count(server: FederatedServer, count: int) -> bool:
    return len(await _queued_messages(server, "hs1.test")) == count


async def test_local_events_are_queued_once_for_the_servers_in_the_room(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    _, bob, room_id = await _setup(http, hs1, hs2)
    await hs1.stop()
    for n in range(3):
        await bob.send(room_id, f"m{n}")
    await wait_for(lambda: _queued_count(hs2, 3), what="3 queued messages")
    assert await _queued_messages(hs2, "hs1.test") == ["m0", "m1", "m2"]
    await hs2.restart()  # the feed resumes from its stored position: nothing queued twice
    bob.base = hs2.url
    await bob.send(room_id, "m3")
    await wait_for(lambda: _queued_count(hs2, 4), what="4 queued messages")
    assert await _queued_messages(hs2, "hs1.test") == ["m0", "m1", "m2", "m3"]
    await hs1.restart()
    outbound = hs2.live.app[SERVICES].federation.outbound
    assert outbound is not None
    outbound.retry_now(ServerName("hs1.test"))
    await wait_for(lambda: _queued_count(hs2, 0), what="the queue to drain")
    assert await _queued_messages(hs2, "hs1.test") == []


async def test_device_list_updates_reach_room_mates_on_the_other_server(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice, bob, _ = await _setup(http, hs1, hs2)
    first = await bob.sync()
    device = Device(alice.user_id, alice.device_id)
    await alice.ok("POST", "/keys/upload", {"device_keys": device.device_keys()})

    def alice_changed(body: JsonDict) -> bool:
        return alice.user_id in body.get("device_lists", {}).get("changed", [])

    await sync_until(bob, alice_changed, "alice's device change", since=first["next_batch"])
    inbound = hs2.live.app[STORES].remote_devices
    [stored] = await inbound.devices(UserId(alice.user_id))
    assert stored.device_id == alice.device_id
    assert stored.keys == device.device_keys()
    head = await inbound.device_head(UserId(alice.user_id))
    assert head is not None
    # A second change names the first as its prev_id: no gap beyond the first sight.
    await alice.ok("PUT", f"/devices/{quote(alice.device_id)}", {"display_name": "phone"})

    async def renamed() -> bool:
        [stored] = await inbound.devices(UserId(alice.user_id))
        return stored.display_name == "phone"

    await wait_for(renamed, what="the renamed device")
    [stored] = await inbound.devices(UserId(alice.user_id))
    assert stored.display_name == "phone"
    later = await inbound.device_head(UserId(alice.user_id))
    assert later is not None
    assert later.stream_id == head.stream_id + 1
