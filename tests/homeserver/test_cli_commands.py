"""The admin commands of `python -m homeserver`, run as an operator would, on both backends.

`register-user` refuses a user ID of another server; `registration-token create|list|delete`
issues tokens that registration with `registration_requires_token` accepts.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import aiohttp

from tests.conftest import make_config
from tests.e2e.process import REPO_ROOT
from tests.homeserver.api.helpers import CLIENT, PASSWORD, call, serving

COMMAND_TIMEOUT_S = 120.0
TOKEN_STAGE = "m.login.registration_token"


async def _cli(*args: str, database_url: str, data_dir: Path) -> tuple[int, str, str]:
    """Run `python -m homeserver ARGS --database URL --data-dir DIR`: status, stdout, stderr."""
    command = [sys.executable, "-m", "homeserver", *args]
    command += ["--database", database_url, "--data-dir", str(data_dir)]
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=REPO_ROOT,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), COMMAND_TIMEOUT_S)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_register_user_refuses_another_servers_user_id(
    database_url: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    status, out, err = await _cli(
        "register-user",
        "@foo:example.org",
        "--password",
        "pw",
        database_url=database_url,
        data_dir=data,
    )
    assert (status, out) == (1, "")
    assert err.strip().splitlines()[-1].startswith("error: @foo:example.org belongs to another")
    # A full user ID of this server is fine.
    status, out, err = await _cli(
        "register-user",
        "@foo:localhost",
        "--password",
        "pw",
        database_url=database_url,
        data_dir=data,
    )
    assert (status, out) == (0, "@foo:localhost\n"), err


async def test_registration_tokens_from_the_command_line(database_url: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    status, out, err = await _cli(
        "registration-token", "create", "--uses", "1", "--expires-in", "7d",
        database_url=database_url, data_dir=data,
    )  # fmt: skip
    assert status == 0, err
    token = out.strip()
    assert token
    status, out, err = await _cli(
        "registration-token", "create", "--token", "spare", database_url=database_url, data_dir=data
    )
    assert (status, out) == (0, "spare\n"), err

    config = make_config(database_url, data, registration_requires_token=True)
    async with serving(config) as live, aiohttp.ClientSession() as http:
        url = f"{live.url}{CLIENT}/register"
        status, challenge = await call(http, "POST", url, body={"username": "newcomer"})
        assert status == 401
        auth = {"type": TOKEN_STAGE, "token": token, "session": challenge["session"]}
        body = {"username": "newcomer", "password": PASSWORD, "auth": auth}
        status, done = await call(http, "POST", url, body=body)
        assert status == 200, done

    status, out, err = await _cli(
        "registration-token", "list", database_url=database_url, data_dir=data
    )
    assert status == 0, err
    rows = {line.split("\t")[0]: line.split("\t")[1:] for line in out.splitlines()}
    assert rows[token][:2] == ["unusable", "used 1 of 1"]
    assert rows["spare"] == ["valid", "used 0 of unlimited", "expires never"]

    assert (
        await _cli(
            "registration-token", "delete", "spare", database_url=database_url, data_dir=data
        )
    )[0] == 0
    status, _, err = await _cli(
        "registration-token", "delete", "spare", database_url=database_url, data_dir=data
    )
    assert status == 1
    assert err.strip() == "error: no registration token spare"
    status, out, _ = await _cli(
        "registration-token", "list", database_url=database_url, data_dir=data
    )
    assert "spare" not in out
