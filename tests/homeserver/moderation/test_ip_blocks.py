"""The IP blocklist: 403 on every endpoint from a blocked address or network, nothing for the
others, lifted by DELETE or by expiry (on a fake clock), stored across restarts, and bad input
or non-admins refused cleanly."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from tests.conftest import LiveServer, make_config, serving
from tests.homeserver.api.helpers import new_client, try_login
from tests.homeserver.fake_clock import FakeClock
from tests.homeserver.moderation.helpers import (
    admin_call,
    admin_client,
    block,
    from_address,
    status_from,
    unblock,
)
from tests.http_client import call


async def test_blocked_address_gets_403_everywhere_until_unblocked(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    admin = await admin_client(server, http, "mod")
    made = await block(admin, "127.0.7.1", reason="credential stuffing", source="test")
    assert made["ip"] == "127.0.7.1"
    assert made["reason"] == "credential stuffing"
    assert made["source"] == "test"
    assert made["expires_at"] is None

    async with from_address("127.0.7.1") as blocked:
        for method, path in [
            ("GET", "/_matrix/client/versions"),
            ("GET", "/_matrix/client/v3/login"),
            ("POST", "/_matrix/client/v3/login"),
            ("GET", "/no/such/path"),
            ("GET", "/_matrix/key/v2/server"),
        ]:
            status, body = await call(blocked, method, f"{server.url}{path}", body={})
            assert status == 403, (path, body)
            assert body["errcode"] == "M_FORBIDDEN"
            assert "blocked" in body["error"]
            assert "credential stuffing" in body["error"]
    assert (await status_from(server, "127.0.7.2"))[0] == 200

    status, listed = await admin_call(admin, "GET", "/ip_blocks")
    assert status == 200
    assert [b["ip"] for b in listed["ip_blocks"]] == ["127.0.7.1"]

    status, _ = await unblock(admin, "127.0.7.1")
    assert status == 200
    assert (await status_from(server, "127.0.7.1"))[0] == 200
    status, body = await unblock(admin, "127.0.7.1")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")


async def test_cidr_block_covers_the_network(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    admin = await admin_client(server, http, "mod")
    await block(admin, "127.0.8.0/24", reason="botnet")
    assert (await status_from(server, "127.0.8.9"))[0] == 403
    assert (await status_from(server, "127.0.8.200"))[0] == 403
    assert (await status_from(server, "127.0.9.1"))[0] == 200
    # A user with a valid token is refused too: the address decides, not the account.
    async with from_address("127.0.8.10") as blocked:
        status, body = await call(
            blocked, "GET", f"{server.url}/_matrix/client/v3/account/whoami", token=admin.token
        )
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")


async def test_bad_input_and_non_admins_are_refused(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    admin = await admin_client(server, http, "mod")
    for bad in ["", "not-an-ip", "10.0.0.1/8", "300.1.1.1", "10.0.0.0/33", " 10.0.0.1", 7, None]:
        status, body = await admin_call(admin, "POST", "/ip_blocks", {"ip": bad})
        assert (status, body["errcode"]) == (400, "M_INVALID_PARAM"), bad
    for fields in [
        {"reason": 5},
        {"expires_at": "soon"},
        {"expires_at": 1},
        {"duration_ms": -5},
        {"duration_ms": True},
        {"duration_ms": 5, "expires_at": 2**40},
        {"source": "policy:!room:x"},
    ]:
        status, body = await admin_call(admin, "POST", "/ip_blocks", {"ip": "10.1.1.1", **fields})
        assert (status, body["errcode"]) == (400, "M_INVALID_PARAM"), fields
    status, body = await admin_call(admin, "DELETE", "/ip_blocks?ip=nope")
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    status, body = await admin_call(admin, "DELETE", "/ip_blocks")
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")

    user = await new_client(http, server.url, "someone")
    base = f"{server.url}/_tessera/admin/v1/moderation"
    for method, path, body in [
        ("GET", "/ip_blocks", None),
        ("POST", "/ip_blocks", {"ip": "10.0.0.1"}),
        ("DELETE", "/ip_blocks?ip=10.0.0.1", None),
        ("GET", "/events", None),
        ("GET", "/ips/127.0.0.1", None),
        ("GET", f"/users/{user.user_id}", None),
    ]:
        status, answer = await call(http, method, f"{base}{path}", token=user.token, body=body)
        assert (status, answer["errcode"]) == (403, "M_FORBIDDEN"), path
        status, answer = await call(http, method, f"{base}{path}", body=body)
        assert (status, answer["errcode"]) == (401, "M_MISSING_TOKEN"), path


async def test_blocks_expire_on_the_clock_and_survive_a_restart(
    database_url: str, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    config = make_config(database_url, tmp_path / "data")
    async with serving(config, clock) as server:
        admin = await admin_client(server, http, "mod")
        await block(admin, "127.0.10.1", duration_ms=60_000, reason="cool down")
        await block(admin, "127.0.10.2", reason="for good")
        assert (await status_from(server, "127.0.10.1"))[0] == 403
        clock.advance(59_000)
        assert (await status_from(server, "127.0.10.1"))[0] == 403
        clock.advance(1_000)
        assert (await status_from(server, "127.0.10.1"))[0] == 200
        status, listed = await admin_call(admin, "GET", "/ip_blocks")
        assert [b["ip"] for b in listed["ip_blocks"]] == ["127.0.10.2"]
        token = admin.token
    async with serving(config, clock) as server:
        assert (await status_from(server, "127.0.10.2"))[0] == 403
        assert (await status_from(server, "127.0.10.1"))[0] == 200
        status, listed = await call(
            http,
            "GET",
            f"{server.url}/_tessera/admin/v1/moderation/ip_blocks",
            token=token,
        )
        assert status == 200
        assert [(b["ip"], b["reason"]) for b in listed["ip_blocks"]] == [("127.0.10.2", "for good")]


async def test_login_from_a_blocked_address_never_reaches_the_password_check(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    admin = await admin_client(server, http, "mod")
    await block(admin, "127.0.11.1")
    async with from_address("127.0.11.1") as blocked:
        status, body = await try_login(blocked, server.url, "mod")
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    assert "blocked" in body["error"]
