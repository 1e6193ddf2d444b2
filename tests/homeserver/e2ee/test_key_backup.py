"""Server-side key backup over raw HTTP on both backends: the version lifecycle, key storage at
three scopes with etag and count, the spec's replacement rules, and wrong-version refusals."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.conftest import LiveServer
from tests.homeserver.e2ee.helpers import Client, new_client, random_curve25519

ALGORITHM = "m.megolm_backup.v1.curve25519-aes-sha2"
ROOM = "!room:localhost"


def auth_data() -> dict[str, Any]:
    return {"public_key": random_curve25519(), "signatures": {}}


def key_data(
    first: int = 0, forwarded: int = 0, verified: bool = False, tag: str = "x"
) -> dict[str, Any]:
    return {
        "first_message_index": first,
        "forwarded_count": forwarded,
        "is_verified": verified,
        "session_data": {"ephemeral": tag, "ciphertext": tag, "mac": tag},
    }


async def create(client: Client) -> str:
    body = {"algorithm": ALGORITHM, "auth_data": auth_data()}
    version: str = (await client.ok("POST", "/room_keys/version", body))["version"]
    return version


async def test_version_lifecycle(server: LiveServer, http: aiohttp.ClientSession) -> None:
    alice = await new_client(http, server.url, "alice")
    await alice.error("GET", "/room_keys/version", None, 404, "M_NOT_FOUND")
    first = await create(alice)
    current = await alice.ok("GET", "/room_keys/version")
    assert current["version"] == first
    assert current["algorithm"] == ALGORITHM
    assert current["count"] == 0
    assert isinstance(current["etag"], str)
    assert await alice.ok("GET", f"/room_keys/version/{first}") == current

    new_auth = auth_data()
    update = {"algorithm": ALGORITHM, "auth_data": new_auth, "version": first}
    await alice.ok("PUT", f"/room_keys/version/{first}", update)
    assert (await alice.ok("GET", "/room_keys/version"))["auth_data"] == new_auth
    mismatch = {**update, "version": "999"}
    await alice.error("PUT", f"/room_keys/version/{first}", mismatch, 400, "M_INVALID_PARAM")
    other_algorithm = {**update, "algorithm": "m.other"}
    await alice.error("PUT", f"/room_keys/version/{first}", other_algorithm, 400, "M_INVALID_PARAM")
    no_version = {"algorithm": ALGORITHM, "auth_data": new_auth}
    await alice.error("PUT", "/room_keys/version/999", no_version, 404, "M_NOT_FOUND")

    second = await create(alice)
    assert int(second) > int(first)
    assert (await alice.ok("GET", "/room_keys/version"))["version"] == second
    await alice.ok("DELETE", f"/room_keys/version/{second}")
    await alice.ok("DELETE", f"/room_keys/version/{second}")  # already deleted: still fine
    await alice.error("GET", f"/room_keys/version/{second}", None, 404, "M_NOT_FOUND")
    assert (await alice.ok("GET", "/room_keys/version"))["version"] == first
    await alice.error("DELETE", "/room_keys/version/999", None, 404, "M_NOT_FOUND")
    # Numbers are never reused.
    assert int(await create(alice)) > int(second)


async def test_version_validation_and_privacy(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await new_client(http, server.url, "alice")
    bob = await new_client(http, server.url, "bob")
    for body in (
        {"algorithm": "m.unknown", "auth_data": auth_data()},
        {"algorithm": ALGORITHM},
        {"algorithm": ALGORITHM, "auth_data": {"signatures": {}}},
        {"algorithm": ALGORITHM, "auth_data": "nope"},
    ):
        await alice.error("POST", "/room_keys/version", body, 400, "M_INVALID_PARAM")
    version = await create(alice)
    # Backups are per user.
    await bob.error("GET", f"/room_keys/version/{version}", None, 404, "M_NOT_FOUND")
    await bob.error("GET", "/room_keys/keys", None, 404, "M_NOT_FOUND", version=version)


async def test_keys_at_three_scopes_with_etag_and_count(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await new_client(http, server.url, "alice")
    version = await create(alice)
    etag0 = (await alice.ok("GET", "/room_keys/version"))["etag"]

    one = await alice.ok("PUT", f"/room_keys/keys/{ROOM}/s1", key_data(), version=version)
    assert one["count"] == 1
    assert one["etag"] != etag0
    room = {"sessions": {"s2": key_data(), "s3": key_data()}}
    assert (await alice.ok("PUT", f"/room_keys/keys/{ROOM}", room, version=version))["count"] == 3
    rooms = {"rooms": {"!other:localhost": {"sessions": {"s4": key_data()}}}}
    put_all = await alice.ok("PUT", "/room_keys/keys", rooms, version=version)
    assert put_all["count"] == 4

    everything = await alice.ok("GET", "/room_keys/keys", version=version)
    assert set(everything["rooms"]) == {ROOM, "!other:localhost"}
    assert set(everything["rooms"][ROOM]["sessions"]) == {"s1", "s2", "s3"}
    in_room = await alice.ok("GET", f"/room_keys/keys/{ROOM}", version=version)
    assert set(in_room["sessions"]) == {"s1", "s2", "s3"}
    assert await alice.ok("GET", f"/room_keys/keys/{ROOM}/s1", version=version) == key_data()
    await alice.error(
        "GET", f"/room_keys/keys/{ROOM}/nope", None, 404, "M_NOT_FOUND", version=version
    )
    empty = await alice.ok("GET", "/room_keys/keys/!empty:localhost", version=version)
    assert empty == {"sessions": {}}
    info = await alice.ok("GET", "/room_keys/version")
    assert (info["count"], info["etag"]) == (4, put_all["etag"])

    deleted = await alice.ok("DELETE", f"/room_keys/keys/{ROOM}/s1", version=version)
    assert deleted["count"] == 3
    assert deleted["etag"] != put_all["etag"]
    assert (await alice.ok("DELETE", f"/room_keys/keys/{ROOM}", version=version))["count"] == 1
    assert (await alice.ok("DELETE", "/room_keys/keys", version=version))["count"] == 0
    assert await alice.ok("GET", "/room_keys/keys", version=version) == {"rooms": {}}

    await alice.error("GET", "/room_keys/keys", None, 400, "M_MISSING_PARAM")
    bad = {"first_message_index": -1, "forwarded_count": 0, "is_verified": False}
    await alice.error(
        "PUT", f"/room_keys/keys/{ROOM}/s1", bad, 400, "M_INVALID_PARAM", version=version
    )

    # Deleting the version deletes its keys.
    await alice.ok("PUT", f"/room_keys/keys/{ROOM}/s1", key_data(), version=version)
    await alice.ok("DELETE", f"/room_keys/version/{version}")
    await alice.error("GET", "/room_keys/keys", None, 404, "M_NOT_FOUND", version=version)


async def test_replacement_rules(server: LiveServer, http: aiohttp.ClientSession) -> None:
    alice = await new_client(http, server.url, "alice")
    version = await create(alice)
    path = f"/room_keys/keys/{ROOM}/s1"

    async def put(data: dict[str, Any]) -> dict[str, Any]:
        await alice.ok("PUT", path, data, version=version)
        stored: dict[str, Any] = await alice.ok("GET", path, version=version)
        return stored

    assert await put(key_data(first=5, forwarded=2, tag="a")) == key_data(5, 2, tag="a")
    # Higher first_message_index loses; lower wins.
    assert (await put(key_data(first=7, tag="b")))["session_data"]["ciphertext"] == "a"
    assert (await put(key_data(first=3, forwarded=4, tag="c")))["session_data"]["ciphertext"] == "c"
    # Same index: lower forwarded_count wins, higher or equal loses.
    assert (await put(key_data(first=3, forwarded=4, tag="d")))["session_data"]["ciphertext"] == "c"
    assert (await put(key_data(first=3, forwarded=1, tag="e")))["session_data"]["ciphertext"] == "e"
    # A verified key beats an unverified one whatever its index ...
    verified = key_data(first=9, forwarded=9, verified=True, tag="f")
    assert await put(verified) == verified
    # ... and an unverified key never replaces a verified one.
    assert (await put(key_data(first=0, forwarded=0, tag="g")))["session_data"]["ciphertext"] == "f"
    etag = (await alice.ok("GET", "/room_keys/version"))["etag"]
    # A rejected upload leaves the etag alone.
    await put(key_data(first=0, tag="h"))
    assert (await alice.ok("GET", "/room_keys/version"))["etag"] == etag


async def test_wrong_version_is_refused(server: LiveServer, http: aiohttp.ClientSession) -> None:
    alice = await new_client(http, server.url, "alice")
    path = f"/room_keys/keys/{ROOM}/s1"
    await alice.error("PUT", path, key_data(), 404, "M_NOT_FOUND", version="1")
    old = await create(alice)
    current = await create(alice)
    error = await alice.error(
        "PUT", path, key_data(), 403, "M_WRONG_ROOM_KEYS_VERSION", version=old
    )
    assert error["current_version"] == current
    error = await alice.error(
        "PUT", "/room_keys/keys", {"rooms": {}}, 403, "M_WRONG_ROOM_KEYS_VERSION", version="77"
    )
    assert error["current_version"] == current
    # Reading an older live version is allowed.
    assert await alice.ok("GET", "/room_keys/keys", version=old) == {"rooms": {}}
