"""`POST /register` and friends over raw HTTP: UIA, username rules, kinds and registration tokens.

Spec: Client-Server API "Account registration and management" and "User-Interactive
Authentication API"; `registration.yaml` and `registration_tokens.yaml`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import aiohttp
import pytest

from homeserver.app import STORES
from homeserver.config import RateLimit
from tests.conftest import LiveServer, make_config
from tests.homeserver.api.helpers import (
    CLIENT,
    PASSWORD,
    call,
    login,
    password_auth,
    register,
    serving,
    whoami,
)

VALIDITY = "/_matrix/client/v1/register/m.login.registration_token/validity"
TOKEN_STAGE = "m.login.registration_token"


async def test_first_request_gets_uia_challenge_then_dummy_completes(server: LiveServer) -> None:
    url = f"{server.url}{CLIENT}/register"
    body = {"username": "alice", "password": PASSWORD}
    async with aiohttp.ClientSession() as http:
        status, challenge = await call(http, "POST", url, body=body)
        assert status == 401
        assert "errcode" not in challenge
        assert challenge["flows"] == [{"stages": ["m.login.dummy"]}]
        assert isinstance(challenge["params"], dict)
        assert isinstance(challenge["session"], str)
        assert challenge["session"]

        auth = {"type": "m.login.dummy", "session": challenge["session"]}
        status, done = await call(http, "POST", url, body={**body, "auth": auth})
        assert status == 200, done
        assert done["user_id"] == "@alice:localhost"
        assert done["home_server"] == "localhost"
        assert isinstance(done["device_id"], str)
        assert "refresh_token" not in done
        status, me = await whoami(http, server.url, done["access_token"])
    assert status == 200
    assert me["user_id"] == "@alice:localhost"
    assert me["device_id"] == done["device_id"]


async def test_dummy_stage_without_prior_session_registers(server: LiveServer) -> None:
    body = {"username": "bob", "password": PASSWORD, "auth": {"type": "m.login.dummy"}}
    async with aiohttp.ClientSession() as http:
        status, done = await call(http, "POST", f"{server.url}{CLIENT}/register", body=body)
    assert status == 200, done
    assert done["user_id"] == "@bob:localhost"


async def test_chosen_device_id_and_display_name_are_used(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        done = await register(
            http, server.url, "carol", device_id="PHONE", initial_device_display_name="My phone"
        )
        assert done["device_id"] == "PHONE"
        status, device = await call(
            http, "GET", f"{server.url}{CLIENT}/devices/PHONE", token=done["access_token"]
        )
    assert status == 200
    assert device == {**device, "device_id": "PHONE", "display_name": "My phone"}


async def test_without_username_a_valid_user_id_is_generated(server: LiveServer) -> None:
    url = f"{server.url}{CLIENT}/register"
    body = {"password": PASSWORD, "auth": {"type": "m.login.dummy"}}
    async with aiohttp.ClientSession() as http:
        status, done = await call(http, "POST", url, body=body)
        assert status == 200, done
        localpart, _, server_name = done["user_id"][1:].partition(":")
        assert done["user_id"].startswith("@")
        assert server_name == "localhost"
        assert localpart
        status, _ = await call(http, "POST", url, body=body)
    assert status == 200


async def test_taken_username_is_refused_before_uia(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        await register(http, server.url, "dave")
        body = {"username": "dave", "password": "other"}
        status, err = await call(http, "POST", f"{server.url}{CLIENT}/register", body=body)
    assert status == 400
    assert err["errcode"] == "M_USER_IN_USE"
    assert "session" not in err


@pytest.mark.parametrize(
    "username", ["has space", "colon:inside", "émile", "@alice:localhost", "", "x" * 300]
)
async def test_invalid_username_is_refused(server: LiveServer, username: str) -> None:
    body = {"username": username, "password": PASSWORD, "auth": {"type": "m.login.dummy"}}
    async with aiohttp.ClientSession() as http:
        status, err = await call(http, "POST", f"{server.url}{CLIENT}/register", body=body)
    assert status == 400
    assert err["errcode"] == "M_INVALID_USERNAME"


async def test_register_available(server: LiveServer) -> None:
    url = f"{server.url}{CLIENT}/register/available"
    async with aiohttp.ClientSession() as http:
        assert await call(http, "GET", f"{url}?username=erin") == (200, {"available": True})
        await register(http, server.url, "erin")
        status, taken = await call(http, "GET", f"{url}?username=erin")
        assert (status, taken["errcode"]) == (400, "M_USER_IN_USE")
        status, invalid = await call(http, "GET", f"{url}?username=no%20spaces")
        assert (status, invalid["errcode"]) == (400, "M_INVALID_USERNAME")
        status, missing = await call(http, "GET", url)
    assert (status, missing["errcode"]) == (400, "M_MISSING_PARAM")


async def test_registration_disabled_is_forbidden(database_url: str, tmp_path: Path) -> None:
    config = make_config(database_url, tmp_path / "data", enable_registration=False)
    async with serving(config) as live, aiohttp.ClientSession() as http:
        body = {"username": "frank", "password": PASSWORD, "auth": {"type": "m.login.dummy"}}
        status, err = await call(http, "POST", f"{live.url}{CLIENT}/register", body=body)
        assert (status, err["errcode"]) == (403, "M_FORBIDDEN")
        status, err = await call(http, "GET", f"{live.url}{VALIDITY}?token=anything")
    assert (status, err["errcode"]) == (403, "M_FORBIDDEN")


async def test_guest_registration_is_forbidden(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        url = f"{server.url}{CLIENT}/register"
        status, err = await call(http, "POST", f"{url}?kind=guest", body={})
        assert (status, err["errcode"]) == (403, "M_FORBIDDEN")
        status, err = await call(http, "POST", f"{url}?kind=robot", body={})
    assert status == 400
    assert err["errcode"] == "M_INVALID_PARAM"


async def test_inhibit_login_returns_no_session(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        done = await register(http, server.url, "gina", inhibit_login=True)
        assert done["user_id"] == "@gina:localhost"
        for key in ("access_token", "device_id", "refresh_token", "expires_in_ms"):
            assert key not in done
        session = await login(http, server.url, "gina")
    assert session["user_id"] == "@gina:localhost"


async def test_completed_session_cannot_be_replayed(server: LiveServer) -> None:
    url = f"{server.url}{CLIENT}/register"
    async with aiohttp.ClientSession() as http:
        status, challenge = await call(http, "POST", url, body={"username": "hank"})
        auth = {"type": "m.login.dummy", "session": challenge["session"]}
        status, _ = await call(http, "POST", url, body={"username": "hank", "auth": auth})
        assert status == 200
        status, err = await call(http, "POST", url, body={"username": "hank2", "auth": auth})
    assert status in (400, 401, 403)
    assert "access_token" not in err
    assert "errcode" in err


async def test_session_of_another_request_is_refused(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        ivan = await register(http, server.url, "ivan")
        status, challenge = await call(
            http, "POST", f"{server.url}{CLIENT}/register", body={"username": "judy"}
        )
        assert status == 401
        # A registration session must not authorise a password change.
        body = {
            "new_password": "stolen",
            "auth": password_auth("ivan", challenge["session"]),
        }
        status, err = await call(
            http,
            "POST",
            f"{server.url}{CLIENT}/account/password",
            token=ivan["access_token"],
            body=body,
        )
        assert status in (400, 401, 403)
        assert "errcode" in err
        status, _ = await call(
            http,
            "POST",
            f"{server.url}{CLIENT}/login",
            body={"type": "m.login.password", "user": "ivan", "password": "stolen"},
        )
    assert status == 403


async def test_registration_is_rate_limited(database_url: str, tmp_path: Path) -> None:
    config = make_config(database_url, tmp_path / "data")
    limits = dataclasses.replace(config.rate_limits, registration=RateLimit(0.001, 2))
    config = dataclasses.replace(config, rate_limits=limits)
    url = "/register/available?username=kate"
    async with serving(config) as live, aiohttp.ClientSession() as http:
        for _ in range(2):
            assert (await call(http, "GET", f"{live.url}{CLIENT}{url}"))[0] == 200
        status, err = await call(http, "GET", f"{live.url}{CLIENT}{url}")
    assert status == 429
    assert err["errcode"] == "M_LIMIT_EXCEEDED"
    assert isinstance(err["retry_after_ms"], int)


# Registration tokens (spec: "Token-authenticated registration").


async def test_token_registration_flow(database_url: str, tmp_path: Path) -> None:
    config = make_config(database_url, tmp_path / "data", registration_requires_token=True)
    async with serving(config) as live, aiohttp.ClientSession() as http:
        await live.app[STORES].ui_auth.add_registration_token("letmein", 1, None)
        validity = f"{live.url}{VALIDITY}?token=letmein"
        assert await call(http, "GET", validity) == (200, {"valid": True})

        url = f"{live.url}{CLIENT}/register"
        status, challenge = await call(http, "POST", url, body={"username": "liam"})
        assert status == 401
        assert challenge["flows"] == [{"stages": [TOKEN_STAGE]}]

        # The dummy stage is not one of the offered flows.
        dummy = {"type": "m.login.dummy", "session": challenge["session"]}
        status, refused = await call(http, "POST", url, body={"username": "liam", "auth": dummy})
        assert status == 401
        assert "access_token" not in refused

        auth = {"type": TOKEN_STAGE, "token": "letmein", "session": challenge["session"]}
        body = {"username": "liam", "password": PASSWORD, "auth": auth}
        status, done = await call(http, "POST", url, body=body)
        assert status == 200, done
        assert done["user_id"] == "@liam:localhost"

        # uses_allowed=1: the token is spent.
        assert await call(http, "GET", validity) == (200, {"valid": False})
        auth = {"type": TOKEN_STAGE, "token": "letmein"}
        status, err = await call(http, "POST", url, body={"username": "mia", "auth": auth})
    assert status == 401
    assert err["errcode"] in ("M_FORBIDDEN", "M_UNAUTHORIZED")


async def test_invalid_registration_token_keeps_the_session(
    database_url: str, tmp_path: Path
) -> None:
    config = make_config(database_url, tmp_path / "data", registration_requires_token=True)
    async with serving(config) as live, aiohttp.ClientSession() as http:
        await live.app[STORES].ui_auth.add_registration_token("good", None, None)
        url = f"{live.url}{CLIENT}/register"
        status, challenge = await call(http, "POST", url, body={"username": "nina"})
        session = challenge["session"]
        auth = {"type": TOKEN_STAGE, "token": "wrong", "session": session}
        status, err = await call(http, "POST", url, body={"username": "nina", "auth": auth})
        assert status == 401
        assert err["errcode"] in ("M_FORBIDDEN", "M_UNAUTHORIZED")
        assert err["session"] == session
        assert err["flows"] == [{"stages": [TOKEN_STAGE]}]
        assert TOKEN_STAGE not in err.get("completed", [])

        auth = {"type": TOKEN_STAGE, "token": "good", "session": session}
        status, done = await call(http, "POST", url, body={"username": "nina", "auth": auth})
        assert status == 200, done
        # Unlimited tokens stay valid.
        assert await call(http, "GET", f"{live.url}{VALIDITY}?token=good") == (200, {"valid": True})


async def test_registration_token_validity_endpoint(database_url: str, tmp_path: Path) -> None:
    config = make_config(database_url, tmp_path / "data", registration_requires_token=True)
    async with serving(config) as live, aiohttp.ClientSession() as http:
        await live.app[STORES].ui_auth.add_registration_token("expired", None, 1)
        url = f"{live.url}{VALIDITY}"
        assert await call(http, "GET", f"{url}?token=unknown") == (200, {"valid": False})
        assert await call(http, "GET", f"{url}?token=expired") == (200, {"valid": False})
        status, err = await call(http, "GET", url)
    assert (status, err["errcode"]) == (400, "M_MISSING_PARAM")
