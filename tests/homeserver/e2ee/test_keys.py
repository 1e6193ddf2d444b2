"""`/keys/upload`, `/keys/query`, `/keys/claim`, `/keys/changes` over raw HTTP on both backends."""

from __future__ import annotations

import asyncio

import aiohttp

from core.signing import sign_json
from tests.conftest import LiveServer
from tests.homeserver.e2ee.helpers import (
    new_client,
    new_key,
    second_device,
    shared_room,
)


async def test_upload_query_and_claim_one_time_then_fallback(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await new_client(http, server.url, "alice")
    bob = await new_client(http, server.url, "bob")
    uploaded = await alice.upload_device_keys(one_time=2, fallback=True)
    assert uploaded["one_time_key_counts"] == {"signed_curve25519": 2}

    queried = await bob.query(alice.user_id)
    device = queried["device_keys"][alice.user_id][alice.device_id]
    assert device["keys"] == alice.device.device_keys()["keys"]
    assert device["signatures"] == alice.device.device_keys()["signatures"]
    assert "device_display_name" in device["unsigned"]
    assert queried["failures"] == {}

    claim = {"one_time_keys": {alice.user_id: {alice.device_id: "signed_curve25519"}}}
    first = await bob.ok("POST", "/keys/claim", claim)
    second = await bob.ok("POST", "/keys/claim", claim)
    ((name1, key1),) = first["one_time_keys"][alice.user_id][alice.device_id].items()
    ((name2, key2),) = second["one_time_keys"][alice.user_id][alice.device_id].items()
    assert name1 != name2
    assert "fallback" not in key1
    assert "fallback" not in key2
    assert (await alice.upload())["one_time_key_counts"] == {"signed_curve25519": 0}

    # One-time keys exhausted: the fallback key, again and again, and it is now "used".
    sync = await alice.sync()
    assert sync["device_unused_fallback_key_types"] == ["signed_curve25519"]
    for _ in range(2):
        third = await bob.ok("POST", "/keys/claim", claim)
        ((_, fallback),) = third["one_time_keys"][alice.user_id][alice.device_id].items()
        assert fallback["fallback"] is True
    sync = await alice.sync()
    assert sync["device_unused_fallback_key_types"] == []
    assert sync["device_one_time_keys_count"] == {"signed_curve25519": 0}

    # A new fallback key is unused again.
    await alice.upload(fallback_keys=alice.device.fallback_key())
    assert (await alice.sync())["device_unused_fallback_key_types"] == ["signed_curve25519"]


async def test_claim_unknown_device_and_remote_user(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await new_client(http, server.url, "alice")
    claimed = await alice.ok(
        "POST",
        "/keys/claim",
        {
            "one_time_keys": {
                alice.user_id: {"NOPE": "signed_curve25519"},
                "@carol:elsewhere.example": {"X": "signed_curve25519"},
            }
        },
    )
    assert claimed["one_time_keys"] == {}
    assert "elsewhere.example" in claimed["failures"]


async def test_bad_device_key_signature_stores_nothing(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await new_client(http, server.url, "alice")
    forged = alice.device.device_keys()
    forged["keys"][f"curve25519:{alice.device_id}"] = "c29tZXRoaW5nIGVsc2UgZW50aXJlbHkgMzIgYnl0ZXM"
    body = {"device_keys": forged, "one_time_keys": alice.device.one_time_keys(3)}
    await alice.error("POST", "/keys/upload", body, 400, "M_INVALID_PARAM")

    # Signed by another key than the one it publishes.
    impostor = sign_json(
        {k: v for k, v in alice.device.device_keys().items() if k != "signatures"},
        alice.user_id,
        new_key(alice.device_id),
    )
    await alice.error("POST", "/keys/upload", {"device_keys": impostor}, 400, "M_INVALID_PARAM")

    # Unsigned.
    unsigned = {k: v for k, v in alice.device.device_keys().items() if k != "signatures"}
    unsigned["signatures"] = {}
    await alice.error("POST", "/keys/upload", {"device_keys": unsigned}, 400, "M_INVALID_PARAM")

    queried = await alice.query(alice.user_id)
    assert queried["device_keys"][alice.user_id] == {}
    assert (await alice.upload())["one_time_key_counts"] == {"signed_curve25519": 0}


async def test_mismatched_user_or_device_is_refused(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await new_client(http, server.url, "alice")
    bob = await new_client(http, server.url, "bob")
    # Bob uploads keys (validly self-signed) claiming to be Alice's device.
    body = {"device_keys": alice.device.device_keys()}
    await bob.error("POST", "/keys/upload", body, 400, "M_INVALID_PARAM")
    # Alice uploads keys for another device ID of hers.
    other = alice.device.device_keys(device_id="OTHERDEVICE")
    await alice.error("POST", "/keys/upload", {"device_keys": other}, 400, "M_INVALID_PARAM")
    queried = await alice.query(alice.user_id, bob.user_id)
    assert queried["device_keys"] == {alice.user_id: {}, bob.user_id: {}}


async def test_one_time_keys_must_be_signed_by_the_device(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await new_client(http, server.url, "alice")
    # Before device keys exist there is nothing to check a signature against.
    otks = alice.device.one_time_keys(1)
    await alice.error("POST", "/keys/upload", {"one_time_keys": otks}, 400, "M_INVALID_PARAM")
    await alice.upload_device_keys()
    forged = {"signed_curve25519:BAD": sign_json({"key": "a"}, alice.user_id, new_key("X"))}
    forged["signed_curve25519:BAD"]["signatures"][alice.user_id] = {
        f"ed25519:{alice.device_id}": next(
            iter(forged["signed_curve25519:BAD"]["signatures"][alice.user_id].values())
        )
    }
    await alice.error("POST", "/keys/upload", {"one_time_keys": forged}, 400, "M_INVALID_PARAM")
    unsigned = {"signed_curve25519:PLAIN": "a2V5"}
    await alice.error("POST", "/keys/upload", {"one_time_keys": unsigned}, 400, "M_INVALID_PARAM")
    fallbacks = {**alice.device.fallback_key(), **alice.device.fallback_key()}
    await alice.error("POST", "/keys/upload", {"fallback_keys": fallbacks}, 400, "M_INVALID_PARAM")
    # Uploaded with the device keys already stored: accepted.
    counts = await alice.upload(one_time_keys=alice.device.one_time_keys(2))
    assert counts["one_time_key_counts"] == {"signed_curve25519": 2}


async def test_same_key_id_with_other_content_and_changed_identity_keys_refused(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await new_client(http, server.url, "alice")
    otks = alice.device.one_time_keys(1)
    await alice.upload(device_keys=alice.device.device_keys(), one_time_keys=otks)
    # The same upload again is fine (idempotent).
    assert (await alice.upload(one_time_keys=otks))["one_time_key_counts"] == {
        "signed_curve25519": 1
    }
    (name,) = otks
    other = {name: sign_json({"key": "b3RoZXI"}, alice.user_id, alice.device.key)}
    await alice.error("POST", "/keys/upload", {"one_time_keys": other}, 400, "M_INVALID_PARAM")

    # New identity keys for an existing device are refused; the stored ones stay.
    original = alice.device.device_keys()
    alice.device.key = new_key(alice.device_id)
    body = {"device_keys": alice.device.device_keys()}
    await alice.error("POST", "/keys/upload", body, 400, "M_INVALID_PARAM")
    stored = (await alice.query(alice.user_id))["device_keys"][alice.user_id][alice.device_id]
    assert stored["keys"] == original["keys"]


async def test_concurrent_claims_never_hand_out_a_key_twice(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await new_client(http, server.url, "alice")
    await alice.upload_device_keys(one_time=10)
    claimers = [await new_client(http, server.url, f"claimer{i}") for i in range(4)]
    claim = {"one_time_keys": {alice.user_id: {alice.device_id: "signed_curve25519"}}}

    results = await asyncio.gather(
        *(c.ok("POST", "/keys/claim", claim) for c in claimers for _ in range(4))
    )
    names = [
        name
        for r in results
        for name in r["one_time_keys"].get(alice.user_id, {}).get(alice.device_id, {})
    ]
    assert len(names) == 10
    assert len(set(names)) == 10
    assert (await alice.upload())["one_time_key_counts"] == {"signed_curve25519": 0}


async def test_query_specific_devices_and_display_name(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await new_client(http, server.url, "alice")
    phone = await second_device(http, alice, "PHONE")
    await alice.upload_device_keys()
    await phone.upload_device_keys()
    await phone.ok("PUT", "/devices/PHONE", {"display_name": "Alice's phone"})
    only_phone = await alice.ok(
        "POST", "/keys/query", {"device_keys": {alice.user_id: ["PHONE", "UNKNOWN"]}}
    )
    devices = only_phone["device_keys"][alice.user_id]
    assert list(devices) == ["PHONE"]
    assert devices["PHONE"]["unsigned"] == {"device_display_name": "Alice's phone"}
    everything = await alice.query(alice.user_id)
    assert set(everything["device_keys"][alice.user_id]) == {alice.device_id, "PHONE"}


async def test_deleting_a_device_removes_its_keys(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await new_client(http, server.url, "alice")
    phone = await second_device(http, alice, "PHONE")
    await phone.upload_device_keys(one_time=3, fallback=True)
    bob = await new_client(http, server.url, "bob")
    assert "PHONE" in (await bob.query(alice.user_id))["device_keys"][alice.user_id]

    status, _ = await alice.uia("DELETE", "/devices/PHONE", {})
    assert status == 200
    assert (await bob.query(alice.user_id))["device_keys"][alice.user_id] == {}
    claim = {"one_time_keys": {alice.user_id: {"PHONE": "signed_curve25519"}}}
    assert (await bob.ok("POST", "/keys/claim", claim))["one_time_keys"] == {}

    # Logging out removes the device's keys too.
    await alice.upload_device_keys(one_time=1)
    await alice.ok("POST", "/logout", {})
    assert (await bob.query(alice.user_id))["device_keys"][alice.user_id] == {}


async def test_keys_changes_between_tokens(server: LiveServer, http: aiohttp.ClientSession) -> None:
    alice = await new_client(http, server.url, "alice")
    bob = await new_client(http, server.url, "bob")
    carol = await new_client(http, server.url, "carol")
    await shared_room(alice, bob)
    start = (await alice.sync())["next_batch"]

    await bob.upload_device_keys()
    await carol.upload_device_keys()  # shares no room with Alice: not reported
    end = (await alice.sync(since=start))["next_batch"]
    changes = await alice.ok("GET", "/keys/changes", **{"from": start, "to": end})
    assert changes == {"changed": [bob.user_id], "left": []}
    later = await alice.ok("GET", "/keys/changes", **{"from": end, "to": end})
    assert later == {"changed": [], "left": []}
    await alice.error("GET", "/keys/changes", None, 400, "M_MISSING_PARAM", **{"from": start})
    await alice.error(
        "GET", "/keys/changes", None, 400, "M_INVALID_PARAM", **{"from": "x", "to": end}
    )


async def test_keys_changes_reports_left(server: LiveServer, http: aiohttp.ClientSession) -> None:
    alice = await new_client(http, server.url, "alice")
    bob = await new_client(http, server.url, "bob")
    room_id = await shared_room(alice, bob)
    start = (await alice.sync())["next_batch"]
    await bob.ok("POST", f"/rooms/{room_id}/leave", {})
    end = (await alice.sync(since=start))["next_batch"]
    changes = await alice.ok("GET", "/keys/changes", **{"from": start, "to": end})
    assert changes == {"changed": [], "left": [bob.user_id]}


async def test_upload_needs_authentication(server: LiveServer, http: aiohttp.ClientSession) -> None:
    async with http.post(f"{server.url}/_matrix/client/v3/keys/upload", json={}) as resp:
        assert resp.status == 401
        assert (await resp.json())["errcode"] == "M_MISSING_TOKEN"
