"""Account management over raw HTTP: devices, password, deactivation, profile, account data.

Spec: Client-Server API "Device management", "Account registration and management",
"Profiles", "Client Config" and "Capabilities negotiation"; also `/versions` and
`/.well-known/matrix/client` ("Server Discovery").
"""

from __future__ import annotations

import aiohttp
import pytest

from tests.conftest import LiveServer
from tests.homeserver.api.helpers import (
    CLIENT,
    PASSWORD,
    call,
    login,
    password_auth,
    register,
    try_login,
    whoami,
    with_password_uia,
)


async def test_list_get_and_rename_devices(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        reg = await register(http, server.url, "alice", initial_device_display_name="Phone")
        token, device_id = reg["access_token"], reg["device_id"]
        other = await login(http, server.url, "alice", initial_device_display_name="Laptop")
        status, listing = await call(http, "GET", f"{server.url}{CLIENT}/devices", token=token)
        assert status == 200
        names = {d["device_id"]: d.get("display_name") for d in listing["devices"]}
        assert names == {device_id: "Phone", other["device_id"]: "Laptop"}

        url = f"{server.url}{CLIENT}/devices/{device_id}"
        status, device = await call(http, "GET", url, token=token)
        assert status == 200
        assert (device["device_id"], device["display_name"]) == (device_id, "Phone")
        assert isinstance(device.get("last_seen_ts", 0), int)

        assert await call(http, "PUT", url, token=token, body={"display_name": "Pocket"}) == (
            200,
            {},
        )
        status, device = await call(http, "GET", url, token=token)
    assert device["display_name"] == "Pocket"


async def test_unknown_and_foreign_devices_are_not_found(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await register(http, server.url, "alice")
        bob = await register(http, server.url, "bob")
        for device_id in ("NOSUCHDEVICE", bob["device_id"]):
            url = f"{server.url}{CLIENT}/devices/{device_id}"
            status, err = await call(http, "GET", url, token=alice["access_token"])
            assert (status, err["errcode"]) == (404, "M_NOT_FOUND")
            body = {"display_name": "hijacked"}
            status, err = await call(http, "PUT", url, token=alice["access_token"], body=body)
            assert (status, err["errcode"]) == (404, "M_NOT_FOUND")
        url = f"{server.url}{CLIENT}/devices/{bob['device_id']}"
        status, device = await call(http, "GET", url, token=bob["access_token"])
    assert status == 200
    assert device.get("display_name") != "hijacked"


async def test_delete_device_needs_password_uia(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await register(http, server.url, "alice")
        doomed = await login(http, server.url, "alice")
        token = alice["access_token"]
        url = f"{server.url}{CLIENT}/devices/{doomed['device_id']}"

        status, challenge = await call(http, "DELETE", url, token=token, body={})
        assert status == 401
        assert challenge["flows"] == [{"stages": ["m.login.password"]}]
        session = challenge["session"]

        wrong = {"auth": password_auth("alice", session, "wrong")}
        status, err = await call(http, "DELETE", url, token=token, body=wrong)
        assert (status, err["errcode"]) == (401, "M_FORBIDDEN")
        assert err["session"] == session
        assert (await whoami(http, server.url, doomed["access_token"]))[0] == 200

        body = {"auth": password_auth("alice", session)}
        assert await call(http, "DELETE", url, token=token, body=body) == (200, {})
        status, err = await whoami(http, server.url, doomed["access_token"])
        assert (status, err["errcode"]) == (401, "M_UNKNOWN_TOKEN")
        status, err = await call(http, "GET", url, token=token)
        assert (status, err["errcode"]) == (404, "M_NOT_FOUND")
        assert (await whoami(http, server.url, token))[0] == 200


async def test_uia_session_is_bound_to_its_user(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await register(http, server.url, "alice")
        bob = await register(http, server.url, "bob")
        url = f"{server.url}{CLIENT}/devices/{bob['device_id']}"
        status, challenge = await call(http, "DELETE", url, token=bob["access_token"], body={})
        assert status == 401
        # Alice answers Bob's session with her own password, on her own token.
        body = {"auth": password_auth("alice", challenge["session"])}
        status, err = await call(http, "DELETE", url, token=alice["access_token"], body=body)
        assert status in (401, 403)
        assert "errcode" in err
        assert (await whoami(http, server.url, bob["access_token"]))[0] == 200


async def test_delete_devices_in_bulk(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await register(http, server.url, "alice")
        doomed = [await login(http, server.url, "alice") for _ in range(2)]
        kept = await login(http, server.url, "alice")
        body = {"devices": [s["device_id"] for s in doomed]}
        status, _ = await with_password_uia(
            http,
            "POST",
            f"{server.url}{CLIENT}/delete_devices",
            alice["access_token"],
            "alice",
            body,
        )
        assert status == 200
        for session in doomed:
            assert (await whoami(http, server.url, session["access_token"]))[0] == 401
        assert (await whoami(http, server.url, kept["access_token"]))[0] == 200
        status, err = await call(
            http,
            "POST",
            f"{server.url}{CLIENT}/delete_devices",
            token=alice["access_token"],
            body={"devices": "ABC"},
        )
    assert (status, err["errcode"]) == (400, "M_INVALID_PARAM")


@pytest.mark.parametrize("logout_devices", [True, False, None])
async def test_change_password(server: LiveServer, logout_devices: bool | None) -> None:
    body: dict[str, object] = {"new_password": "new secret"}
    if logout_devices is not None:
        body["logout_devices"] = logout_devices
    async with aiohttp.ClientSession() as http:
        alice = await register(http, server.url, "alice")
        other = await login(http, server.url, "alice")
        url = f"{server.url}{CLIENT}/account/password"
        status, done = await with_password_uia(
            http, "POST", url, alice["access_token"], "alice", body
        )
        assert (status, done) == (200, {})
        assert (await whoami(http, server.url, alice["access_token"]))[0] == 200
        other_status, _ = await whoami(http, server.url, other["access_token"])
        assert other_status == (200 if logout_devices is False else 401)
        status, err = await try_login(http, server.url, "alice", PASSWORD)
        assert (status, err["errcode"]) == (403, "M_FORBIDDEN")
        assert (await login(http, server.url, "alice", "new secret"))[
            "user_id"
        ] == "@alice:localhost"


async def test_change_password_with_wrong_password_changes_nothing(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await register(http, server.url, "alice")
        url = f"{server.url}{CLIENT}/account/password"
        status, _ = await with_password_uia(
            http, "POST", url, alice["access_token"], "alice", {"new_password": "x"}, "guess"
        )
        assert status == 401
        assert (await login(http, server.url, "alice"))["user_id"] == "@alice:localhost"


async def test_deactivate(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await register(http, server.url, "alice")
        other = await login(http, server.url, "alice")
        url = f"{server.url}{CLIENT}/account/deactivate"
        status, done = await with_password_uia(http, "POST", url, alice["access_token"], "alice")
        assert status == 200
        assert done["id_server_unbind_result"] in ("success", "no-support")
        for session in (alice, other):
            status, err = await whoami(http, server.url, session["access_token"])
            assert (status, err["errcode"]) == (401, "M_UNKNOWN_TOKEN")
        status, err = await try_login(http, server.url, "alice")
        assert (status, err["errcode"]) == (403, "M_USER_DEACTIVATED")
        # The user ID is never handed out again.
        status, err = await call(
            http, "GET", f"{server.url}{CLIENT}/register/available?username=alice"
        )
    assert (status, err["errcode"]) == (400, "M_USER_IN_USE")


async def test_profile_defaults_and_updates(server: LiveServer) -> None:
    base = f"{server.url}{CLIENT}/profile/@alice:localhost"
    async with aiohttp.ClientSession() as http:
        alice = await register(http, server.url, "alice")
        token = alice["access_token"]
        assert await call(http, "GET", base) == (200, {"displayname": "alice"})
        assert await call(http, "GET", f"{base}/displayname") == (200, {"displayname": "alice"})
        status, err = await call(http, "GET", f"{base}/avatar_url")
        assert (status, err["errcode"]) == (404, "M_NOT_FOUND")

        body = {"displayname": "Alice A."}
        assert await call(http, "PUT", f"{base}/displayname", token=token, body=body) == (200, {})
        body = {"avatar_url": "mxc://localhost/abc123"}
        assert await call(http, "PUT", f"{base}/avatar_url", token=token, body=body) == (200, {})
        expected = {"displayname": "Alice A.", "avatar_url": "mxc://localhost/abc123"}
        assert await call(http, "GET", base) == (200, expected)

        body = {"avatar_url": "https://example.org/cat.png"}
        status, err = await call(http, "PUT", f"{base}/avatar_url", token=token, body=body)
        assert status == 400
        assert err["errcode"] in ("M_INVALID_PARAM", "M_BAD_JSON")
        assert (await call(http, "GET", base))[1] == expected


async def test_profile_of_others(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await register(http, server.url, "alice")
        await register(http, server.url, "bob")
        url = f"{server.url}{CLIENT}/profile/@bob:localhost/displayname"
        body = {"displayname": "Not Bob"}
        status, err = await call(http, "PUT", url, token=alice["access_token"], body=body)
        assert (status, err["errcode"]) == (403, "M_FORBIDDEN")
        status, err = await call(http, "PUT", url, body=body)
        assert (status, err["errcode"]) == (401, "M_MISSING_TOKEN")
        assert await call(http, "GET", url) == (200, {"displayname": "bob"})
        status, err = await call(http, "GET", f"{server.url}{CLIENT}/profile/@nobody:localhost")
    assert (status, err["errcode"]) == (404, "M_NOT_FOUND")


async def test_global_account_data(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await register(http, server.url, "alice")
        token = alice["access_token"]
        url = f"{server.url}{CLIENT}/user/@alice:localhost/account_data/org.example.settings"
        status, err = await call(http, "GET", url, token=token)
        assert (status, err["errcode"]) == (404, "M_NOT_FOUND")
        content = {"theme": "dark", "nested": {"list": [1, 2, 3]}, "unicode": "héllo ✓"}
        assert await call(http, "PUT", url, token=token, body=content) == (200, {})
        assert await call(http, "GET", url, token=token) == (200, content)
        assert await call(http, "PUT", url, token=token, body={"theme": "light"}) == (200, {})
        assert await call(http, "GET", url, token=token) == (200, {"theme": "light"})


async def test_room_account_data_is_separate_from_global(server: LiveServer) -> None:
    user = f"{server.url}{CLIENT}/user/@alice:localhost"
    async with aiohttp.ClientSession() as http:
        alice = await register(http, server.url, "alice")
        token = alice["access_token"]
        room_url = f"{user}/rooms/!room:localhost/account_data/m.tag.like"
        other_room = f"{user}/rooms/!other:localhost/account_data/m.tag.like"
        assert await call(http, "PUT", room_url, token=token, body={"a": 1}) == (200, {})
        assert await call(http, "GET", room_url, token=token) == (200, {"a": 1})
        for missing in (other_room, f"{user}/account_data/m.tag.like"):
            status, err = await call(http, "GET", missing, token=token)
            assert (status, err["errcode"]) == (404, "M_NOT_FOUND")
        bad_room = f"{user}/rooms/not-a-room/account_data/m.tag.like"
        status, err = await call(http, "PUT", bad_room, token=token, body={})
    assert status == 400
    assert err["errcode"] in ("M_INVALID_PARAM", "M_BAD_JSON")


async def test_account_data_of_others_and_server_managed_types(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await register(http, server.url, "alice")
        await register(http, server.url, "bob")
        token = alice["access_token"]
        bob = f"{server.url}{CLIENT}/user/@bob:localhost"
        for url in (f"{bob}/account_data/x.y", f"{bob}/rooms/!r:localhost/account_data/x.y"):
            status, err = await call(http, "PUT", url, token=token, body={"evil": True})
            assert (status, err["errcode"]) == (403, "M_FORBIDDEN")
            status, err = await call(http, "GET", url, token=token)
            assert (status, err["errcode"]) == (403, "M_FORBIDDEN")
        own = f"{server.url}{CLIENT}/user/@alice:localhost"
        for url in (
            f"{own}/account_data/m.fully_read",
            f"{own}/rooms/!r:localhost/account_data/m.fully_read",
        ):
            body = {"event_id": "$event"}
            status, err = await call(http, "PUT", url, token=token, body=body)
            assert status == 405
            assert err["errcode"] == "M_BAD_JSON"
        status, err = await call(http, "GET", f"{own}/account_data/x.y")
    assert (status, err["errcode"]) == (401, "M_MISSING_TOKEN")


async def test_capabilities_need_auth(server: LiveServer) -> None:
    url = f"{server.url}{CLIENT}/capabilities"
    async with aiohttp.ClientSession() as http:
        status, err = await call(http, "GET", url)
        assert (status, err["errcode"]) == (401, "M_MISSING_TOKEN")
        alice = await register(http, server.url, "alice")
        status, body = await call(http, "GET", url, token=alice["access_token"])
    assert status == 200
    caps = body["capabilities"]
    assert isinstance(caps["m.change_password"]["enabled"], bool)
    versions = caps["m.room_versions"]
    assert versions["default"] in versions["available"]
    assert set(versions["available"].values()) <= {"stable", "unstable"}


async def test_versions_and_well_known(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        status, body = await call(http, "GET", f"{server.url}/_matrix/client/versions")
        assert status == 200
        assert all(isinstance(v, str) for v in body["versions"])
        assert "v1.1" in body["versions"]
        assert isinstance(body.get("unstable_features", {}), dict)
        status, body = await call(http, "GET", f"{server.url}/.well-known/matrix/client")
    assert status == 200
    base_url = body["m.homeserver"]["base_url"]
    assert base_url.startswith(("http://", "https://"))
