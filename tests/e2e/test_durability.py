"""Acknowledged writes survive `kill -9` of the real server process, on SQLite and PostgreSQL.

The server runs as `python -m homeserver serve`; after a write is acknowledged over HTTP the
process is SIGKILLed (no shutdown code runs), started again on the same data directory and
database, and the writes must all be there. The signing key must be reused, not regenerated.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.process import ServerProcess, free_port, serve_command, start_server_process

PASSWORD = "durable password"
ALICE = "@alice:localhost"
SETTINGS = {"theme": "dark", "sizes": [1, 2, 3], "text": "héllo ✓"}
ROOM_ID = "!room:localhost"


class Launcher:
    """Starts server processes on one data directory and database; kills them all at the end."""

    def __init__(self, data_dir: Path, database: str, logs: Path) -> None:
        self.data_dir = data_dir
        self.database = database
        self._logs = logs
        self._started: list[ServerProcess] = []

    async def start(self) -> ServerProcess:
        """A new server process on a free port, answering requests."""
        port = free_port()
        command = serve_command(port=port, data_dir=self.data_dir, database=self.database)
        log_path = self._logs / f"server-{len(self._started)}.log"
        server = await start_server_process(command, port=port, log_path=log_path)
        self._started.append(server)
        return server

    async def kill_all(self) -> None:
        for server in self._started:
            await server.kill()


@pytest.fixture
async def launcher(database_url: str, tmp_path: Path) -> AsyncIterator[Launcher]:
    launch = Launcher(tmp_path / "data", database_url, tmp_path / "logs")
    try:
        yield launch
    finally:
        await launch.kill_all()


async def _call(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    body: Any = None,
    token: str | None = None,
    expect: int = 200,
) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.request(method, url, json=body, headers=headers) as response:
        payload = await response.json()
        assert response.status == expect, payload
        return payload


async def _register(http: aiohttp.ClientSession, base: str) -> str:
    url = f"{base}/_matrix/client/v3/register"
    body: dict[str, Any] = {"username": "alice", "password": PASSWORD}
    challenge = await _call(http, "POST", url, body, expect=401)
    body["auth"] = {"type": "m.login.dummy", "session": challenge["session"]}
    registered = await _call(http, "POST", url, body)
    assert registered["user_id"] == ALICE
    return str(registered["access_token"])


async def _login(http: aiohttp.ClientSession, base: str) -> str:
    body = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": "alice"},
        "password": PASSWORD,
    }
    logged_in = await _call(http, "POST", f"{base}/_matrix/client/v3/login", body)
    assert logged_in["user_id"] == ALICE
    return str(logged_in["access_token"])


async def _write_everything(http: aiohttp.ClientSession, base: str) -> str:
    """Register alice and write her profile and account data; returns her access token."""
    token = await _register(http, base)
    client = f"{base}/_matrix/client/v3"
    await _call(
        http, "PUT", f"{client}/profile/{ALICE}/displayname", {"displayname": "Alice"}, token
    )
    await _call(
        http, "PUT", f"{client}/profile/{ALICE}/avatar_url", {"avatar_url": "mxc://x/y"}, token
    )
    await _call(
        http, "PUT", f"{client}/user/{ALICE}/account_data/org.example.settings", SETTINGS, token
    )
    await _call(
        http,
        "PUT",
        f"{client}/user/{ALICE}/rooms/{ROOM_ID}/account_data/org.example.tag",
        {"pinned": True},
        token,
    )
    return token


async def _check_everything(http: aiohttp.ClientSession, base: str, token: str) -> None:
    client = f"{base}/_matrix/client/v3"
    profile = await _call(http, "GET", f"{client}/profile/{ALICE}")
    assert profile == {"displayname": "Alice", "avatar_url": "mxc://x/y"}
    settings = await _call(
        http, "GET", f"{client}/user/{ALICE}/account_data/org.example.settings", token=token
    )
    assert settings == SETTINGS
    tag = await _call(
        http,
        "GET",
        f"{client}/user/{ALICE}/rooms/{ROOM_ID}/account_data/org.example.tag",
        token=token,
    )
    assert tag == {"pinned": True}


async def test_writes_survive_kill_9(launcher: Launcher, http: aiohttp.ClientSession) -> None:
    first = await launcher.start()
    old_token = await _write_everything(http, first.url)
    assert await first.kill() == -9

    second = await launcher.start()
    new_token = await _login(http, second.url)
    whoami = await _call(
        http, "GET", f"{second.url}/_matrix/client/v3/account/whoami", token=new_token
    )
    assert whoami["user_id"] == ALICE
    await _check_everything(http, second.url, new_token)
    # The session made before the crash is durable too.
    whoami = await _call(
        http, "GET", f"{second.url}/_matrix/client/v3/account/whoami", token=old_token
    )
    assert whoami["user_id"] == ALICE


async def test_registration_survives_kill_9_straight_after(
    launcher: Launcher, http: aiohttp.ClientSession
) -> None:
    first = await launcher.start()
    await _register(http, first.url)
    await first.kill()

    second = await launcher.start()
    await _login(http, second.url)
    # The name is still taken: the account was not lost or half-written.
    body = {"username": "alice", "password": "other", "auth": {"type": "m.login.dummy"}}
    taken = await _call(http, "POST", f"{second.url}/_matrix/client/v3/register", body, expect=400)
    assert taken["errcode"] == "M_USER_IN_USE"


async def test_signing_key_survives_and_is_reused(launcher: Launcher) -> None:
    key_file = launcher.data_dir / "signing.key"
    first = await launcher.start()
    original = key_file.read_bytes()
    assert original.strip()
    await first.kill()

    second = await launcher.start()
    assert key_file.read_bytes() == original
    await second.kill()
    await launcher.start()
    assert key_file.read_bytes() == original
    assert sorted(p.name for p in launcher.data_dir.iterdir() if p.name.startswith("signing")) == [
        "signing.key"
    ]


async def test_graceful_stop_then_restart(launcher: Launcher, http: aiohttp.ClientSession) -> None:
    first = await launcher.start()
    token = await _write_everything(http, first.url)
    assert await first.terminate() == 0, first.log()

    second = await launcher.start()
    await _check_everything(http, second.url, token)
