"""End-to-end encryption keys across two live servers: other servers read our users' device
lists and keys (`user/devices`, `user/keys/query`, `user/keys/claim`), clients query and claim
keys of remote users through their own server, an unreachable server is reported under
`failures` within the request's timeout, and device-list and cross-signing changes reach the
room-mates on the other server (`/sync` `device_lists.changed`, `/keys/changes`, `/keys/query`).
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any
from urllib.parse import quote

import aiohttp

from core.errors import JsonDict
from core.identifiers import UserId
from homeserver.app.app_keys import STORES
from tests.homeserver.e2ee.helpers import Client, Device, new_client, second_device
from tests.homeserver.e2ee.test_cross_signing import CrossSigning
from tests.homeserver.federation.servers import FederatedServer, signed_headers
from tests.homeserver.federation.test_joins import joined
from tests.waiting import sync_until, wait_for

F1 = "/_matrix/federation/v1"
UPLOAD_CROSS_SIGNING = "/keys/device_signing/upload"


async def _ask(
    http: aiohttp.ClientSession,
    origin: FederatedServer,
    target: FederatedServer,
    method: str,
    uri: str,
    body: JsonDict | None = None,
) -> tuple[int, JsonDict]:
    """A request signed by `origin` to `target`'s federation listener."""
    headers = signed_headers(origin.signing_key, origin.name, target.name, method, uri, body)
    return await target.request(http, method, uri, headers=headers, body=body)


async def _room(alice: Client, bob: Client) -> str:
    """A room made by alice (hs1) that bob (hs2) joins over federation."""
    room_id = await alice.create_room(preset="private_chat")
    await alice.invite(room_id, bob.user_id)
    await sync_until(bob, lambda b: room_id in b.get("rooms", {}).get("invite", {}), "the invite")
    await bob.ok("POST", f"/join/{quote(room_id, safe='')}", {}, server_name="hs1.test")
    await sync_until(bob, lambda b: bool(joined(b, room_id)), "the join")
    return room_id


def _changed(body: JsonDict) -> list[str]:
    changed: list[str] = body.get("device_lists", {}).get("changed", [])
    return changed


async def test_other_servers_read_our_users_devices_and_keys(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice = await new_client(http, hs1.url, "alice")
    await alice.upload_device_keys(one_time=2)
    cross = CrossSigning.generate(alice.user_id)
    await alice.ok("POST", UPLOAD_CROSS_SIGNING, cross.upload_body())
    await alice.ok("PUT", f"/devices/{quote(alice.device_id)}", {"display_name": "laptop"})

    status, devices = await _ask(http, hs2, hs1, "GET", f"{F1}/user/devices/{quote(alice.user_id)}")
    assert status == 200, devices
    assert devices["user_id"] == alice.user_id
    assert isinstance(devices["stream_id"], int)
    [device] = devices["devices"]
    assert device["device_id"] == alice.device_id
    assert device["keys"] == alice.device.device_keys()
    assert device["device_display_name"] == "laptop"
    assert devices["master_key"] == cross.upload_body()["master_key"]
    assert devices["self_signing_key"] == cross.upload_body()["self_signing_key"]
    assert "user_signing_key" not in devices

    query: JsonDict = {"device_keys": {alice.user_id: []}}
    status, keys = await _ask(http, hs2, hs1, "POST", f"{F1}/user/keys/query", query)
    assert status == 200, keys
    got = keys["device_keys"][alice.user_id][alice.device_id]
    assert got["keys"] == alice.device.device_keys()["keys"]
    assert got["unsigned"]["device_display_name"] == "laptop"
    assert keys["master_keys"][alice.user_id] == cross.upload_body()["master_key"]
    assert "user_signing_keys" not in keys or keys["user_signing_keys"] == {}

    claim = {"one_time_keys": {alice.user_id: {alice.device_id: "signed_curve25519"}}}
    claimed = []
    for _ in range(2):
        status, body = await _ask(http, hs2, hs1, "POST", f"{F1}/user/keys/claim", claim)
        assert status == 200, body
        claimed.append(body["one_time_keys"][alice.user_id][alice.device_id])
    assert claimed[0] != claimed[1]  # each one-time key is handed out once

    # Only hs1's own users are answered, and only to a server that signs its request.
    foreign = "@bob:hs2.test"
    cases: list[tuple[str, str, JsonDict | None]] = [
        ("GET", f"{F1}/user/devices/{quote(foreign)}", None),
        ("POST", f"{F1}/user/keys/query", {"device_keys": {foreign: []}}),
        ("POST", f"{F1}/user/keys/claim", {"one_time_keys": {foreign: {"X": "signed_curve25519"}}}),
        ("POST", f"{F1}/user/keys/query", {"device_keys": {"not a user": []}}),
        ("POST", f"{F1}/user/keys/query", {"device_keys": []}),
    ]
    for method, uri, request_body in cases:
        status, answer = await _ask(http, hs2, hs1, method, uri, request_body)
        assert (status, answer.get("errcode")) == (400, "M_INVALID_PARAM"), (uri, answer)
    status, answer = await _ask(http, hs2, hs1, "GET", f"{F1}/user/devices/@nobody:hs1.test")
    assert (status, answer.get("errcode")) == (404, "M_NOT_FOUND")
    status, answer = await hs1.request(http, "POST", f"{F1}/user/keys/query", body=query)
    assert status == 401


async def test_clients_query_and_claim_keys_of_remote_users(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice = await new_client(http, hs1.url, "alice")
    bob = await new_client(http, hs2.url, "bob")
    await alice.upload_device_keys(one_time=1, fallback=True)
    cross = CrossSigning.generate(alice.user_id)
    await alice.ok("POST", UPLOAD_CROSS_SIGNING, cross.upload_body())

    async def check_query(queried: JsonDict) -> None:
        assert queried["failures"] == {}
        device = queried["device_keys"][alice.user_id][alice.device_id]
        assert device["keys"] == alice.device.device_keys()["keys"]
        assert device["signatures"] == alice.device.device_keys()["signatures"]
        assert queried["master_keys"][alice.user_id] == cross.upload_body()["master_key"]
        assert (
            queried["self_signing_keys"][alice.user_id] == cross.upload_body()["self_signing_key"]
        )
        assert queried["user_signing_keys"] == {}

    # No shared room: hs2 asks hs1 each time.
    await check_query(await bob.query(alice.user_id))
    # A shared room: hs2 caches alice's list (a resync through user/devices) and answers.
    await _room(alice, bob)
    await check_query(await bob.query(alice.user_id))
    head = await hs2.live.app[STORES].remote_devices.device_head(UserId(alice.user_id))
    assert head is not None
    assert not head.stale
    await check_query(await bob.query(alice.user_id))
    only = await bob.ok(
        "POST", "/keys/query", {"device_keys": {alice.user_id: ["NOSUCHDEVICE"]}, "timeout": 5000}
    )
    assert only["device_keys"][alice.user_id] == {}

    claim: JsonDict = {"one_time_keys": {alice.user_id: {alice.device_id: "signed_curve25519"}}}
    first = await bob.ok("POST", "/keys/claim", claim)
    second = await bob.ok("POST", "/keys/claim", claim)
    assert first["failures"] == {}
    assert second["failures"] == {}
    [(name1, _)] = first["one_time_keys"][alice.user_id][alice.device_id].items()
    [(name2, key2)] = second["one_time_keys"][alice.user_id][alice.device_id].items()
    assert name1.startswith("signed_curve25519:AAAA")  # the one-time key first...
    assert name2.startswith("signed_curve25519:FB")
    assert key2["fallback"] is True
    # A local and a remote user in one request: both answered.
    carol = await new_client(http, hs2.url, "carol")
    await carol.upload_device_keys()
    both = await bob.query(alice.user_id, carol.user_id)
    assert set(both["device_keys"]) == {alice.user_id, carol.user_id}
    assert both["failures"] == {}


class _Silent:
    """A TCP listener on a port that accepts connections and never answers."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)

    def close(self) -> None:
        self.sock.close()


async def test_unreachable_servers_are_failures_within_the_timeout(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice = await new_client(http, hs1.url, "alice")
    bob = await new_client(http, hs2.url, "bob")
    await bob.upload_device_keys(one_time=1)
    await alice.upload_device_keys()
    await hs2.stop()

    # Refused connections: the answer names hs2 under failures, alice's own keys still come.
    queried = await alice.ok(
        "POST", "/keys/query", {"device_keys": {bob.user_id: [], alice.user_id: []}}
    )
    assert set(queried["failures"]) == {"hs2.test"}
    assert bob.user_id not in queried["device_keys"]
    assert alice.device_id in queried["device_keys"][alice.user_id]
    claim: JsonDict = {"one_time_keys": {bob.user_id: {bob.device_id: "signed_curve25519"}}}
    claimed = await alice.ok("POST", "/keys/claim", claim)
    assert claimed["one_time_keys"] == {}
    assert set(claimed["failures"]) == {"hs2.test"}

    # A server that accepts the connection and never answers: the request's timeout ends the
    # wait (the federation client alone would wait a minute).
    silent = _Silent(hs2.federation_port)
    try:
        for path, body in (
            ("/keys/query", {"device_keys": {bob.user_id: []}, "timeout": 500}),
            ("/keys/claim", {**claim, "timeout": 500}),
        ):
            answer: Any = await asyncio.wait_for(alice.ok("POST", path, body), 30)
            assert answer["failures"]["hs2.test"]["status"] == 504, answer
    finally:
        silent.close()
    status, refused = await alice.request(
        "POST", "/keys/query", {"device_keys": {bob.user_id: []}, "timeout": "soon"}
    )
    assert (status, refused.get("errcode")) == (400, "M_INVALID_PARAM")


async def test_device_list_and_cross_signing_changes_reach_the_other_server(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice = await new_client(http, hs1.url, "alice")
    bob = await new_client(http, hs2.url, "bob")
    await bob.upload_device_keys()
    room_id = await _room(alice, bob)
    before = await alice.query(bob.user_id)
    assert list(before["device_keys"][bob.user_id]) == [bob.device_id]
    since = (await alice.sync())["next_batch"]

    # bob signs in on a new device on hs2: alice (hs1) hears of it and sees its keys.
    phone = await second_device(http, bob, "PHONE")
    await phone.upload_device_keys()
    body = await sync_until(
        alice, lambda b: bob.user_id in _changed(b), "bob's device", since=since
    )
    changes = await alice.ok(
        "GET", "/keys/changes", None, **{"from": since, "to": body["next_batch"]}
    )
    assert bob.user_id in changes["changed"]
    after = await alice.query(bob.user_id)
    assert set(after["device_keys"][bob.user_id]) == {bob.device_id, "PHONE"}
    assert after["device_keys"][bob.user_id]["PHONE"]["keys"] == phone.device.device_keys()["keys"]

    # bob sets up cross-signing: alice receives his master and self-signing keys.
    since = body["next_batch"]
    cross = CrossSigning.generate(bob.user_id)
    await bob.ok("POST", UPLOAD_CROSS_SIGNING, cross.upload_body())
    body = await sync_until(alice, lambda b: bob.user_id in _changed(b), "bob's keys", since=since)
    keys = await alice.query(bob.user_id)
    assert keys["master_keys"][bob.user_id] == cross.upload_body()["master_key"]
    assert keys["self_signing_keys"][bob.user_id] == cross.upload_body()["self_signing_key"]
    assert keys["user_signing_keys"] == {}

    # bob logs the phone out: alice's next query no longer lists it.
    since = body["next_batch"]
    await phone.ok("POST", "/logout", {})
    body = await sync_until(alice, lambda b: bob.user_id in _changed(b), "the logout", since=since)
    gone = await alice.query(bob.user_id)
    assert set(gone["device_keys"][bob.user_id]) == {bob.device_id}

    # bob leaves the only room they shared: alice's sync and /keys/changes say so.
    since = body["next_batch"]
    await bob.leave(room_id)

    def left(b: JsonDict) -> bool:
        return bob.user_id in b.get("device_lists", {}).get("left", [])

    body = await sync_until(alice, left, "bob's leaving", since=since)
    changes = await alice.ok(
        "GET", "/keys/changes", None, **{"from": since, "to": body["next_batch"]}
    )
    assert bob.user_id in changes["left"]
    assert bob.user_id not in changes["changed"]


async def _edus(
    http: aiohttp.ClientSession,
    origin: FederatedServer,
    target: FederatedServer,
    txn_id: str,
    edus: list[JsonDict],
) -> None:
    body: JsonDict = {"origin": origin.name, "origin_server_ts": 1, "pdus": [], "edus": edus}
    status, answer = await _ask(http, origin, target, "PUT", f"{F1}/send/{txn_id}", body)
    assert (status, answer) == (200, {"pdus": {}})


async def test_bad_device_and_signing_key_updates_are_dropped(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice = await new_client(http, hs1.url, "alice")
    bob = await new_client(http, hs2.url, "bob")
    await alice.upload_device_keys()
    await _room(alice, bob)
    await bob.query(alice.user_id)  # hs2 now tracks alice's list
    store = hs2.live.app[STORES].remote_devices
    head = await store.device_head(UserId(alice.user_id))
    assert head is not None

    forged = Device("@mallory:hs1.test", "EVIL").device_keys()
    update = {
        "user_id": alice.user_id,
        "device_id": "EVIL",
        "stream_id": head.stream_id + 1,
        "prev_id": [head.stream_id],
        "keys": forged,  # keys of another user
    }
    await _edus(
        http,
        hs1,
        hs2,
        "d1",
        [
            {"edu_type": "m.device_list_update", "content": {**update, "stream_id": "x"}},
            {"edu_type": "m.device_list_update", "content": {**update, "user_id": bob.user_id}},
            {"edu_type": "m.device_list_update", "content": update},
        ],
    )
    stored = {d.device_id: d for d in await store.devices(UserId(alice.user_id))}
    assert stored["EVIL"].keys is None  # listed, but the keys that name someone else are not kept
    assert set((await bob.query(alice.user_id))["device_keys"][alice.user_id]) == {alice.device_id}
    assert await store.devices(UserId(bob.user_id)) == []  # hs1 speaks only for its users

    cross = CrossSigning.generate(alice.user_id)
    wrong = CrossSigning.generate(alice.user_id)
    body = cross.upload_body()
    unsigned_ssk = {**body["self_signing_key"], "signatures": {}}
    for n, content in enumerate(
        (
            {"user_id": alice.user_id, "master_key": body["master_key"]}
            | {"self_signing_key": wrong.upload_body()["self_signing_key"]},
            {"user_id": alice.user_id, "master_key": body["master_key"]}
            | {"self_signing_key": unsigned_ssk},
            {"user_id": alice.user_id, "master_key": {**body["master_key"], "usage": ["self"]}},
        )
    ):
        await _edus(
            http, hs1, hs2, f"s{n}", [{"edu_type": "m.signing_key_update", "content": content}]
        )
    assert (await bob.query(alice.user_id))["master_keys"] == {}
    good = {
        "user_id": alice.user_id,
        "master_key": body["master_key"],
        "self_signing_key": body["self_signing_key"],
    }
    await _edus(http, hs1, hs2, "s9", [{"edu_type": "m.signing_key_update", "content": good}])
    keys = await bob.query(alice.user_id)
    assert keys["master_keys"][alice.user_id] == body["master_key"]
    assert keys["self_signing_keys"][alice.user_id] == body["self_signing_key"]


async def test_a_new_shared_room_has_a_cached_list_fetched_again(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice = await new_client(http, hs1.url, "alice")
    bob = await new_client(http, hs2.url, "bob")
    await alice.upload_device_keys()
    await _room(alice, bob)
    await bob.query(alice.user_id)
    store = hs2.live.app[STORES].remote_devices

    async def alice_stale() -> bool:
        head = await store.device_head(UserId(alice.user_id))
        assert head is not None
        return head.stale

    assert not await alice_stale()
    # Updates sent while hs2 shared no room with alice would have been missed: a join into a
    # room with her marks her cached list for a resync, which the next query makes.
    await _room(alice, bob)
    await wait_for(alice_stale, what="alice's list marked stale")
    queried = await bob.query(alice.user_id)
    assert list(queried["device_keys"][alice.user_id]) == [alice.device_id]
    assert not await alice_stale()
