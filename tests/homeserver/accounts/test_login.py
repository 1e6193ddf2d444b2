"""`/login`, `/logout`, `/refresh` and `/account/whoami` over raw HTTP.

Spec: Client-Server API "Login", "Soft logout", "Refreshing access tokens"; `login.yaml`,
`logout.yaml`, `refresh.yaml`. JWT login is `org.matrix.login.jwt` (Synapse's extension).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import aiohttp
import jwt
import pytest

from homeserver.config import JwtConfig, RateLimit
from tests.conftest import LiveServer, make_config
from tests.homeserver.api.helpers import (
    CLIENT,
    PASSWORD,
    call,
    login,
    register,
    serving,
    try_login,
    whoami,
    with_password_uia,
)
from tests.homeserver.fake_clock import FakeClock

JWT_SECRET = "a-shared-secret-of-at-least-32-bytes!"
JWT_TYPE = "org.matrix.login.jwt"


async def test_login_flows(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        status, body = await call(http, "GET", f"{server.url}{CLIENT}/login")
    assert status == 200
    types = [flow["type"] for flow in body["flows"]]
    assert "m.login.password" in types
    assert JWT_TYPE not in types


@pytest.mark.parametrize(
    "credentials",
    [
        {"identifier": {"type": "m.id.user", "user": "alice"}},
        {"identifier": {"type": "m.id.user", "user": "@alice:localhost"}},
        {"user": "alice"},
        {"user": "@alice:localhost"},
    ],
    ids=["localpart", "user-id", "deprecated-user", "deprecated-user-id"],
)
async def test_password_login(server: LiveServer, credentials: dict[str, object]) -> None:
    body = {"type": "m.login.password", "password": PASSWORD, **credentials}
    async with aiohttp.ClientSession() as http:
        await register(http, server.url, "alice")
        status, session = await call(http, "POST", f"{server.url}{CLIENT}/login", body=body)
        assert status == 200, session
        assert session["user_id"] == "@alice:localhost"
        assert session["well_known"]["m.homeserver"]["base_url"].startswith("http")
        assert "refresh_token" not in session
        assert "expires_in_ms" not in session
        status, me = await whoami(http, server.url, session["access_token"])
    assert status == 200
    assert me["user_id"] == "@alice:localhost"
    assert me["device_id"] == session["device_id"]


@pytest.mark.parametrize(
    ("user", "password"),
    [("alice", "wrong"), ("nobody", PASSWORD), ("@alice:elsewhere.example", PASSWORD)],
    ids=["wrong-password", "unknown-user", "foreign-user"],
)
async def test_bad_credentials_are_forbidden(server: LiveServer, user: str, password: str) -> None:
    async with aiohttp.ClientSession() as http:
        await register(http, server.url, "alice")
        status, err = await try_login(http, server.url, user, password)
    assert status == 403
    assert err["errcode"] == "M_FORBIDDEN"
    assert "access_token" not in err


async def test_unknown_login_type(server: LiveServer) -> None:
    body = {"type": "m.login.bogus", "user": "alice", "password": PASSWORD}
    async with aiohttp.ClientSession() as http:
        status, err = await call(http, "POST", f"{server.url}{CLIENT}/login", body=body)
    assert (status, err["errcode"]) == (400, "M_UNKNOWN")


async def test_deactivated_user_cannot_log_in(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await register(http, server.url, "alice")
        url = f"{server.url}{CLIENT}/account/deactivate"
        status, _ = await with_password_uia(http, "POST", url, alice["access_token"], "alice")
        assert status == 200
        status, err = await try_login(http, server.url, "alice")
    assert (status, err["errcode"]) == (403, "M_USER_DEACTIVATED")


async def test_login_with_existing_device_id_replaces_its_token(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        await register(http, server.url, "alice")
        first = await login(
            http, server.url, "alice", device_id="LAPTOP", initial_device_display_name="Laptop"
        )
        second = await login(http, server.url, "alice", device_id="LAPTOP")
        assert first["device_id"] == second["device_id"] == "LAPTOP"
        status, err = await whoami(http, server.url, first["access_token"])
        assert (status, err["errcode"]) == (401, "M_UNKNOWN_TOKEN")
        assert (await whoami(http, server.url, second["access_token"]))[0] == 200
        status, listing = await call(
            http, "GET", f"{server.url}{CLIENT}/devices", token=second["access_token"]
        )
    laptops = [d for d in listing["devices"] if d["device_id"] == "LAPTOP"]
    assert len(laptops) == 1
    assert laptops[0]["display_name"] == "Laptop"


async def test_logout_invalidates_only_that_token(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        await register(http, server.url, "alice")
        one = await login(http, server.url, "alice")
        two = await login(http, server.url, "alice")
        url = f"{server.url}{CLIENT}/logout"
        assert await call(http, "POST", url, token=one["access_token"]) == (200, {})
        status, err = await whoami(http, server.url, one["access_token"])
        assert (status, err["errcode"]) == (401, "M_UNKNOWN_TOKEN")
        assert (await whoami(http, server.url, two["access_token"]))[0] == 200
        status, listing = await call(
            http, "GET", f"{server.url}{CLIENT}/devices", token=two["access_token"]
        )
    assert one["device_id"] not in {d["device_id"] for d in listing["devices"]}


async def test_logout_all(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        reg = await register(http, server.url, "alice")
        other = await login(http, server.url, "alice")
        url = f"{server.url}{CLIENT}/logout/all"
        assert await call(http, "POST", url, token=other["access_token"]) == (200, {})
        for token in (reg["access_token"], other["access_token"]):
            status, err = await whoami(http, server.url, token)
            assert (status, err["errcode"]) == (401, "M_UNKNOWN_TOKEN")
        assert (await login(http, server.url, "alice"))["user_id"] == "@alice:localhost"


async def test_refresh_rotates_both_tokens(server: LiveServer) -> None:
    url = f"{server.url}{CLIENT}/refresh"
    async with aiohttp.ClientSession() as http:
        await register(http, server.url, "alice")
        first = await login(http, server.url, "alice", refresh_token=True)
        assert isinstance(first["refresh_token"], str)
        assert isinstance(first["expires_in_ms"], int)
        assert first["expires_in_ms"] > 0

        status, second = await call(
            http, "POST", url, body={"refresh_token": first["refresh_token"]}
        )
        assert status == 200, second
        assert isinstance(second["expires_in_ms"], int)
        assert second["access_token"] != first["access_token"]
        assert second["refresh_token"] != first["refresh_token"]

        status, me = await whoami(http, server.url, second["access_token"])
        assert status == 200
        assert me["device_id"] == first["device_id"]
        status, err = await whoami(http, server.url, first["access_token"])
        assert (status, err["errcode"]) == (401, "M_UNKNOWN_TOKEN")
        status, err = await call(http, "POST", url, body={"refresh_token": first["refresh_token"]})
        assert (status, err["errcode"]) == (401, "M_UNKNOWN_TOKEN")
        status, err = await call(http, "POST", url, body={"refresh_token": "syr_made_up"})
        assert (status, err["errcode"]) == (401, "M_UNKNOWN_TOKEN")
        status, err = await call(http, "POST", url, body={})
    assert status == 400


async def test_expired_access_token_is_a_soft_logout(database_url: str, tmp_path: Path) -> None:
    config = make_config(database_url, tmp_path / "data", access_token_lifetime_ms=1)
    clock = FakeClock()
    async with serving(config, clock) as live, aiohttp.ClientSession() as http:
        await register(http, live.url, "alice")
        refreshable = await login(http, live.url, "alice", refresh_token=True)
        plain = await login(http, live.url, "alice")
        clock.advance(10)
        status, err = await whoami(http, live.url, refreshable["access_token"])
        assert (status, err["errcode"]) == (401, "M_UNKNOWN_TOKEN")
        assert err["soft_logout"] is True
        # Tokens issued without a refresh token do not expire.
        assert (await whoami(http, live.url, plain["access_token"]))[0] == 200
        body = {"refresh_token": refreshable["refresh_token"]}
        status, renewed = await call(http, "POST", f"{live.url}{CLIENT}/refresh", body=body)
    assert status == 200, renewed
    assert renewed["access_token"] != refreshable["access_token"]


async def test_unknown_token_is_not_a_soft_logout(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        status, err = await whoami(http, server.url, "syt_not_a_token")
    assert (status, err["errcode"]) == (401, "M_UNKNOWN_TOKEN")
    assert err.get("soft_logout", False) is False


# JWT login.


def _jwt(claims: dict[str, object], secret: str = JWT_SECRET) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")


async def test_jwt_login(database_url: str, tmp_path: Path) -> None:
    config = make_config(
        database_url, tmp_path / "data", jwt=JwtConfig(enabled=True, secret=JWT_SECRET)
    )
    url_login = f"{CLIENT}/login"
    async with serving(config) as live, aiohttp.ClientSession() as http:
        status, flows = await call(http, "GET", f"{live.url}{url_login}")
        assert {"type": JWT_TYPE} in flows["flows"]

        token = _jwt({"sub": "jwtuser", "exp": int(time.time()) + 60})
        body = {"type": JWT_TYPE, "token": token}
        status, session = await call(http, "POST", f"{live.url}{url_login}", body=body)
        assert status == 200, session
        assert session["user_id"] == "@jwtuser:localhost"
        assert (await whoami(http, live.url, session["access_token"]))[0] == 200
        # The account now exists: the name is taken and a second JWT login reuses it.
        status, err = await call(
            http, "GET", f"{live.url}{CLIENT}/register/available?username=jwtuser"
        )
        assert (status, err["errcode"]) == (400, "M_USER_IN_USE")
        status, again = await call(http, "POST", f"{live.url}{url_login}", body=body)
        assert (status, again["user_id"]) == (200, "@jwtuser:localhost")
        # It has no password.
        status, _ = await try_login(http, live.url, "jwtuser", "")
    assert status == 403


@pytest.mark.parametrize(
    "token",
    [
        _jwt(
            {"sub": "mallory", "exp": int(time.time()) + 600}, "another-secret-of-at-least-32-bytes"
        ),
        _jwt({"sub": "mallory", "exp": int(time.time()) - 60}),
        _jwt({"exp": int(time.time()) + 600}),
        "not.a.jwt",
        None,
    ],
    ids=["bad-signature", "expired", "no-subject", "garbage", "missing"],
)
async def test_bad_jwt_is_forbidden(database_url: str, tmp_path: Path, token: str | None) -> None:
    config = make_config(
        database_url, tmp_path / "data", jwt=JwtConfig(enabled=True, secret=JWT_SECRET)
    )
    body: dict[str, object] = {"type": JWT_TYPE}
    if token is not None:
        body["token"] = token
    async with serving(config) as live, aiohttp.ClientSession() as http:
        status, err = await call(http, "POST", f"{live.url}{CLIENT}/login", body=body)
        assert (status, err["errcode"]) == (403, "M_FORBIDDEN")
        status, _ = await call(
            http, "GET", f"{live.url}{CLIENT}/register/available?username=mallory"
        )
    assert status == 200


async def test_jwt_login_is_refused_when_not_configured(server: LiveServer) -> None:
    body = {"type": JWT_TYPE, "token": _jwt({"sub": "mallory"})}
    async with aiohttp.ClientSession() as http:
        status, err = await call(http, "POST", f"{server.url}{CLIENT}/login", body=body)
    assert (status, err["errcode"]) == (400, "M_UNKNOWN")


# Rate limiting.


async def test_login_is_rate_limited_per_client(database_url: str, tmp_path: Path) -> None:
    config = make_config(database_url, tmp_path / "data")
    config = dataclasses.replace(
        config, rate_limits=dataclasses.replace(config.rate_limits, login=RateLimit(0.001, 2))
    )
    async with serving(config) as live, aiohttp.ClientSession() as http:
        await register(http, live.url, "alice")
        for _ in range(2):
            await login(http, live.url, "alice")
        status, err = await try_login(http, live.url, "alice")
    assert status == 429
    assert err["errcode"] == "M_LIMIT_EXCEEDED"
    assert isinstance(err["retry_after_ms"], int)
    assert err["retry_after_ms"] > 0


async def test_failed_logins_are_limited_per_user(database_url: str, tmp_path: Path) -> None:
    config = make_config(database_url, tmp_path / "data")
    config = dataclasses.replace(
        config,
        rate_limits=dataclasses.replace(config.rate_limits, login_failures=RateLimit(0.001, 2)),
    )
    async with serving(config) as live, aiohttp.ClientSession() as http:
        await register(http, live.url, "alice")
        await register(http, live.url, "bob")
        # Successes do not count.
        for _ in range(3):
            await login(http, live.url, "alice")
        for _ in range(2):
            assert (await try_login(http, live.url, "alice", "wrong"))[0] == 403
        # Now even the right password is refused for alice, but not for bob.
        status, err = await try_login(http, live.url, "@alice:localhost")
        assert status == 429
        assert err["errcode"] == "M_LIMIT_EXCEEDED"
        assert isinstance(err["retry_after_ms"], int)
        assert (await try_login(http, live.url, "bob"))[0] == 200
