"""The `make run` contract, checked without `make`: the Makefile's own `run` command line serves a
homeserver that answers `/versions` within 60 s and lets anyone register.

The command is read from the Makefile's `run` recipe and its `$(VAR)` references expanded from
the Makefile's variables, overriding `PORT` and `DATA_DIR` as `make run PORT=... DATA_DIR=...`
would; so the test follows the Makefile if it changes.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import aiohttp

from tests.e2e.process import REPO_ROOT, free_port, running_server

MAKEFILE = REPO_ROOT / "Makefile"
READY_BOUND_S = 60.0

_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*(?:\?=|:=|=)\s*(.*)$")
_REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def _variables(text: str) -> dict[str, str]:
    variables: dict[str, str] = {}
    for line in text.splitlines():
        match = _ASSIGNMENT.match(line)
        if match:
            variables[match.group(1)] = match.group(2).strip()
    return variables


def _recipe(text: str, target: str) -> list[str]:
    """The recipe lines of `target`, backslash continuations joined."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"^{target}\s*:", line))
    commands: list[str] = []
    pending = ""
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        pending += line.strip()
        if pending.endswith("\\"):
            pending = pending[:-1].rstrip() + " "
            continue
        commands.append(pending)
        pending = ""
    return commands


def _expand(value: str, variables: dict[str, str]) -> str:
    for _ in range(10):  # variables refer to variables ($(PY) -> $(VENV)/bin/python)
        value = _REFERENCE.sub(lambda m: variables[m.group(1)], value)
    assert not _REFERENCE.search(value), value
    return value


def make_run_command(port: int, data_dir: Path) -> list[str]:
    """The server command line of `make run PORT=port DATA_DIR=data_dir`."""
    text = MAKEFILE.read_text(encoding="utf-8")
    variables = {**_variables(text), "PORT": str(port), "DATA_DIR": str(data_dir)}
    servers = [c for c in _recipe(text, "run") if "-m homeserver serve" in c]
    assert len(servers) == 1, f"expected one server command in the run recipe, got {servers}"
    return shlex.split(_expand(servers[0].lstrip("@"), variables))


def test_make_run_command_is_the_documented_one(tmp_path: Path) -> None:
    command = make_run_command(8123, tmp_path / "data")
    assert command[0] == ".venv/bin/python"
    assert command[1:4] == ["-m", "homeserver", "serve"]
    assert {"--enable-registration", "--port", "8123", "--data-dir", str(tmp_path / "data")} <= set(
        command
    )


async def test_make_run_serves_with_open_registration(tmp_path: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "data"
    command = make_run_command(port, data_dir)
    async with (
        running_server(
            command, port=port, log_path=tmp_path / "server.log", ready_timeout=READY_BOUND_S
        ) as server,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http,
    ):
        async with http.get(f"{server.url}/_matrix/client/versions") as response:
            assert response.status == 200
            assert (await response.json())["versions"]

        register = f"{server.url}/_matrix/client/v3/register"
        body = {"username": "newcomer", "password": "a password"}
        async with http.post(register, json=body) as response:
            challenge = await response.json()
            assert response.status == 401, challenge
        stages = [flow["stages"] for flow in challenge["flows"]]
        assert any("m.login.dummy" in flow for flow in stages), stages
        assert isinstance(challenge["session"], str)

        # The default database is SQLite inside DATA_DIR, next to the signing key.
        assert (data_dir / "homeserver.db").is_file()
        assert (data_dir / "signing.key").is_file()


def test_make_setup_says_what_it_installs() -> None:
    # A dry run (-n) of a forced (-B) setup: each step is announced before its command runs.
    make = shutil.which("make")
    assert make is not None, "make is not installed"
    result = subprocess.run(  # noqa: S603 (a fixed command line)
        [make, "-n", "-B", "setup"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    lines = result.stdout.splitlines()

    def announced_before(announcement: str, command: str) -> bool:
        said = next(
            i for i, line in enumerate(lines) if line.startswith("echo") and announcement in line
        )
        ran = next(
            i for i, line in enumerate(lines) if command in line and not line.startswith("echo")
        )
        return said < ran

    assert announced_before("creating .venv", "-m venv")
    assert announced_before("installing Python dependencies", "pip install --quiet -e")
