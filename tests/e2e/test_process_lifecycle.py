"""`python -m homeserver serve` as an operator meets it: start-up failures and stopping.

A server that cannot start (port taken, data directory unusable, PostgreSQL unreachable) says
why in one line and exits with status 2, without a traceback and without logging "listening".
A server stopped (SIGTERM or SIGINT) while a client long-polls `/sync` answers that poll at
once and exits cleanly.
"""

from __future__ import annotations

import asyncio
import signal
import socket
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.process import (
    EXIT_TIMEOUT_S,
    assert_refused_start,
    free_port,
    run_to_exit,
    serve_command,
    start_server_process,
)

POLL_TIMEOUT_MS = 30_000


async def test_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = serve_command(port=port, data_dir=tmp_path / "data")
        status, stderr = await run_to_exit(command)
    assert_refused_start(status, stderr, f"cannot listen on 127.0.0.1:{port}: ")
    assert "in use" in stderr


async def test_data_dir_unusable(tmp_path: Path) -> None:
    # A data directory that cannot be created (its parent is a file); permission bits would not
    # stop a test running as root.
    (tmp_path / "a-file").write_text("not a directory\n")
    command = serve_command(port=free_port(), data_dir=tmp_path / "a-file" / "data")
    status, stderr = await run_to_exit(command)
    assert_refused_start(status, stderr, "signing key")


async def test_postgres_unreachable(tmp_path: Path) -> None:
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    database = f"postgresql://tessera:hunter2@127.0.0.1:{port}/tessera"
    command = serve_command(port=free_port(), data_dir=tmp_path / "data", database=database)
    status, stderr = await run_to_exit(command)
    assert_refused_start(status, stderr, "cannot open the database postgresql://")
    assert "hunter2" not in stderr


async def _register(http: aiohttp.ClientSession, url: str) -> tuple[str, str]:
    """A new account's user ID and access token."""
    register = f"{url}/_matrix/client/v3/register"
    body: dict[str, object] = {"username": "poller", "password": "a password"}
    async with http.post(register, json=body) as response:
        body["auth"] = {"type": "m.login.dummy", "session": (await response.json())["session"]}
    async with http.post(register, json=body) as response:
        assert response.status == 200
        session = await response.json()
    return session["user_id"], session["access_token"]


async def _long_poll(
    http: aiohttp.ClientSession, url: str, headers: dict[str, str], since: str
) -> tuple[int, dict[str, object]]:
    # `set_presence=unavailable` marks the moment the server has taken the request (below).
    params = {"since": since, "timeout": str(POLL_TIMEOUT_MS), "set_presence": "unavailable"}
    async with http.get(url, headers=headers, params=params) as response:
        return response.status, await response.json()


async def _wait_until_unavailable(
    http: aiohttp.ClientSession, url: str, user_id: str, headers: dict[str, str]
) -> None:
    """Wait (bounded) until the server handles the long-poll: it set the user unavailable."""
    status_url = f"{url}/_matrix/client/v3/presence/{user_id}/status"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + EXIT_TIMEOUT_S
    while loop.time() < deadline:
        async with http.get(status_url, headers=headers) as response:
            if (await response.json()).get("presence") == "unavailable":
                return
        await asyncio.sleep(0.05)
    raise AssertionError("the long-poll never reached the server")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_stop_answers_long_polls_and_exits(tmp_path: Path, signum: signal.Signals) -> None:
    port = free_port()
    command = serve_command(port=port, data_dir=tmp_path / "data")
    server = await start_server_process(command, port=port, log_path=tmp_path / "server.log")
    try:
        timeout = aiohttp.ClientTimeout(total=EXIT_TIMEOUT_S)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            user_id, token = await _register(http, server.url)
            headers = {"Authorization": f"Bearer {token}"}
            sync = f"{server.url}/_matrix/client/v3/sync"
            async with http.get(sync, headers=headers) as response:
                since = (await response.json())["next_batch"]
            poll = asyncio.create_task(_long_poll(http, sync, headers, since))
            await _wait_until_unavailable(http, server.url, user_id, headers)
            server.process.send_signal(signum)
            status, body = await poll
            exit_status = await asyncio.wait_for(server.process.wait(), EXIT_TIMEOUT_S)
    finally:
        await server.kill()
    log = server.log()
    assert status == 200, body
    assert body["next_batch"]
    assert exit_status == 0, log
    assert f"stopping signal={signum.name}" in log
    assert "/sync long-polls, waiting up to" in log
    assert "Traceback" not in log
    # "listening" comes only once the migrations have run.
    lines = log.splitlines()
    listening = next(i for i, line in enumerate(lines) if "listening url=" in line)
    migrated = max(i for i, line in enumerate(lines) if "storage ready" in line)
    assert migrated < listening
