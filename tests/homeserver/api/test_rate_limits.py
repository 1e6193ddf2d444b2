"""Rate limits seen by a client: one combined wait, `Retry-After`, and password guessing in UIA.

Spec: Client-Server API "Rate limiting" (429 `M_LIMIT_EXCEEDED` with `retry_after_ms`) and
"User-Interactive Authentication API". Failed password checks count per account (login and UIA
together) and, in UIA, per client IP; the client IP is set through `X-Forwarded-For` from a
trusted proxy (the test client itself) so one test can speak from several addresses.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import aiohttp

from homeserver.config import Config, RateLimit
from tests.conftest import make_config
from tests.homeserver.api.helpers import (
    CLIENT,
    PASSWORD,
    JsonBody,
    auth_header,
    login,
    password_auth,
    register,
    serving,
)
from tests.homeserver.fake_clock import FakeClock

NEVER_REFILLS = RateLimit(per_second=0.001, burst=2)


def _config(database_url: str, data_dir: Path, **limits: RateLimit) -> Config:
    config = make_config(database_url, data_dir, trusted_proxies=("127.0.0.1/32", "::1/128"))
    return dataclasses.replace(
        config, rate_limits=dataclasses.replace(config.rate_limits, **limits)
    )


async def _post(
    http: aiohttp.ClientSession,
    url: str,
    body: JsonBody,
    *,
    token: str | None = None,
    ip: str = "192.0.2.1",
) -> tuple[int, JsonBody, str | None]:
    headers = {"X-Forwarded-For": ip, **(auth_header(token) if token else {})}
    async with http.post(url, json=body, headers=headers) as response:
        return response.status, await response.json(), response.headers.get("Retry-After")


async def _login(
    http: aiohttp.ClientSession, base: str, user: str, password: str
) -> tuple[int, JsonBody, str | None]:
    body = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": user},
        "password": password,
    }
    return await _post(http, f"{base}{CLIENT}/login", body)


async def _change_password(
    http: aiohttp.ClientSession, base: str, user: str, token: str, password: str, ip: str
) -> tuple[int, JsonBody, str | None]:
    """One `POST /account/password` answering its own fresh UIA challenge with `password`."""
    url = f"{base}{CLIENT}/account/password"
    body: JsonBody = {"new_password": PASSWORD, "logout_devices": False}
    status, challenge, _ = await _post(http, url, body, token=token, ip=ip)
    assert status == 401, challenge
    body["auth"] = password_auth(user, challenge["session"], password)
    return await _post(http, url, body, token=token, ip=ip)


def _assert_limited(status: int, body: JsonBody, retry_after: str | None) -> int:
    assert status == 429, body
    assert body["errcode"] == "M_LIMIT_EXCEEDED"
    retry_ms = body["retry_after_ms"]
    assert isinstance(retry_ms, int)
    assert retry_ms > 0
    assert retry_after == str(math.ceil(retry_ms / 1000))
    return retry_ms


async def test_a_client_that_waits_retry_after_ms_is_let_in(
    database_url: str, tmp_path: Path
) -> None:
    # Per-IP (0.5 s a token) and per-account (1 s a token) buckets both run dry; the 429 must
    # report the longer wait, or the client waiting it is refused again by the other bucket.
    config = _config(
        database_url,
        tmp_path / "data",
        login=RateLimit(per_second=2.0, burst=2),
        login_failures=RateLimit(per_second=1.0, burst=2),
    )
    # On a fake clock no time passes between requests, however slowly they run.
    clock = FakeClock()
    async with serving(config, clock) as live, aiohttp.ClientSession() as http:
        await register(http, live.url, "alice")
        for _ in range(2):
            assert (await _login(http, live.url, "alice", "wrong"))[0] == 403
        retry_ms = _assert_limited(*await _login(http, live.url, "alice", PASSWORD))
        clock.advance(retry_ms)  # what a client is told to do
        status, body, _ = await _login(http, live.url, "alice", PASSWORD)
    assert status == 200, body


async def test_wrong_uia_passwords_are_limited_per_account(
    database_url: str, tmp_path: Path
) -> None:
    config = _config(database_url, tmp_path / "data", login_failures=NEVER_REFILLS)
    async with serving(config, FakeClock()) as live, aiohttp.ClientSession() as http:
        alice = await register(http, live.url, "alice")
        token, user = alice["access_token"], alice["user_id"]
        # Two wrong guesses from two addresses use up the account's failures...
        for ip in ("192.0.2.1", "192.0.2.2"):
            status, body, _ = await _change_password(http, live.url, user, token, "wrong", ip)
            assert (status, body.get("errcode")) == (401, "M_FORBIDDEN"), body
        # ...so even the right password from a third address is refused, on every UIA route
        # and at login.
        _assert_limited(*await _change_password(http, live.url, user, token, PASSWORD, "192.0.2.3"))
        url = f"{live.url}{CLIENT}/delete_devices"
        body = {"devices": [alice["device_id"]]}
        status, challenge, _ = await _post(http, url, body, token=token, ip="192.0.2.4")
        assert status == 401, challenge
        body["auth"] = password_auth(user, challenge["session"], PASSWORD)
        _assert_limited(*await _post(http, url, body, token=token, ip="192.0.2.4"))
        _assert_limited(*await _login(http, live.url, "alice", PASSWORD))


async def test_wrong_uia_passwords_are_limited_per_client_ip(
    database_url: str, tmp_path: Path
) -> None:
    config = _config(database_url, tmp_path / "data", login_failures=NEVER_REFILLS)
    async with serving(config, FakeClock()) as live, aiohttp.ClientSession() as http:
        sessions = [await register(http, live.url, name) for name in ("alice", "bob", "carol")]
        (alice, bob, carol) = [(s["user_id"], s["access_token"]) for s in sessions]
        attacker, other = "198.51.100.7", "198.51.100.8"
        # One wrong guess each for two accounts from one address uses up that address...
        for user, token in (alice, bob):
            status, body, _ = await _change_password(http, live.url, user, token, "x", attacker)
            assert status == 401, body
        # ...so a third account is refused from it, but not from elsewhere.
        _assert_limited(*await _change_password(http, live.url, *carol, PASSWORD, attacker))
        status, body, _ = await _change_password(http, live.url, *carol, PASSWORD, other)
        assert status == 200, body
        await login(http, live.url, "carol")


async def test_every_429_has_retry_after(database_url: str, tmp_path: Path) -> None:
    config = _config(database_url, tmp_path / "data", registration=NEVER_REFILLS)
    async with serving(config, FakeClock()) as live, aiohttp.ClientSession() as http:
        url = f"{live.url}{CLIENT}/register"
        answers = [await _post(http, url, {"username": f"u{i}"}) for i in range(3)]
    assert [status for status, _, _ in answers[:2]] == [401, 401]
    _assert_limited(*answers[2])
