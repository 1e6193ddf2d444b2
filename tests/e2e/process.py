"""The homeserver as a real OS process, for tests that kill, restart or launch it like a user.

`start_server_process` launches `python -m homeserver serve ...` (or any given command line) on
a free port, waits a bounded time for `/_matrix/client/versions` to answer and returns a handle.
`running_server` wraps it so the process is always killed when the block exits, however it exits.
The process's stdout and stderr go to a log file; a failed start raises with the log's tail.
`run_to_exit` runs a command that should refuse to start, and `assert_refused_start` checks
how it did: status 2 and one last line saying why, without a traceback.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 60.0
EXIT_TIMEOUT_S = 60.0
_STOP_TIMEOUT_S = 30.0
_POLL_INTERVAL_S = 0.1
_LOG_TAIL_CHARS = 4000


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_command(
    *,
    port: int,
    data_dir: Path,
    database: str | None = None,
    server_name: str = "localhost",
    enable_registration: bool = True,
) -> list[str]:
    """The `python -m homeserver serve` command line for these settings."""
    command = [sys.executable, "-m", "homeserver", "serve", "--server-name", server_name]
    command += ["--bind", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir)]
    if database is not None:
        command += ["--database", database]
    if enable_registration:
        command.append("--enable-registration")
    return command


async def run_to_exit(command: Sequence[str]) -> tuple[int, str]:
    """Run a command that should fail fast; its exit status and stderr."""
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=REPO_ROOT,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), EXIT_TIMEOUT_S)
    assert process.returncode is not None
    return process.returncode, stderr.decode()


def assert_refused_start(
    status: int, stderr: str, expected: str, *, prefix: str = "error: cannot "
) -> None:
    """A server that refused to start: status 2, no traceback, never listening, and a last
    line starting with `prefix` that holds `expected`."""
    assert status == 2, stderr
    assert "Traceback" not in stderr, stderr
    assert "listening" not in stderr, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith(prefix), stderr
    assert expected in last, stderr


class ServerStartError(RuntimeError):
    """The server process exited or did not answer in time; the message ends with its log."""


@dataclass
class ServerProcess:
    """A running homeserver process listening on `url`."""

    url: str
    process: asyncio.subprocess.Process
    log_path: Path

    @property
    def returncode(self) -> int | None:
        """The exit status once the process has ended (negative: killed by that signal)."""
        return self.process.returncode

    async def kill(self) -> int:
        """SIGKILL the process (a crash: no cleanup runs) and reap it."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
        return await self.process.wait()

    async def terminate(self, timeout: float = _STOP_TIMEOUT_S) -> int:  # noqa: ASYNC109
        """SIGTERM the process and wait for it to exit; SIGKILL it if it does not in time."""
        if self.process.returncode is None:
            self.process.terminate()
        try:
            return await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            return await self.kill()

    def log(self) -> str:
        """Everything the process has written to stdout and stderr so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def _open_log(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)


async def start_server_process(
    command: Sequence[str],
    *,
    port: int,
    log_path: Path,
    cwd: Path = REPO_ROOT,
    env: Mapping[str, str] | None = None,
    ready_timeout: float = READY_TIMEOUT_S,
) -> ServerProcess:
    """Launch `command` (a server listening on 127.0.0.1:`port`) and wait until it answers.

    Args:
        command: The full command line, e.g. from `serve_command`.
        port: The port the command makes the server listen on.
        log_path: Where the process's stdout and stderr go (appended).
        cwd: The working directory (the repository root, as for `make run`).
        env: Extra environment variables.
        ready_timeout: Seconds to wait for `/_matrix/client/versions` to answer 200.

    Raises:
        ServerStartError: The process exited, or did not answer within `ready_timeout`; the
            process is killed before this is raised.
    """
    log_fd = _open_log(log_path)
    try:
        process = await asyncio.create_subprocess_exec(
            *command,
            cwd=cwd,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log_fd,
            stderr=log_fd,
        )
    finally:
        os.close(log_fd)
    server = ServerProcess(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
    try:
        await _wait_until_ready(server, ready_timeout)
    except BaseException:
        await server.kill()
        raise
    return server


async def _wait_until_ready(server: ServerProcess, timeout: float) -> None:  # noqa: ASYNC109
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    url = f"{server.url}/_matrix/client/versions"
    attempt = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(timeout=attempt) as http:
        while True:
            if server.returncode is not None:
                raise ServerStartError(_failure(server, f"exited with status {server.returncode}"))
            try:
                async with http.get(url) as response:
                    if response.status == 200:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            if loop.time() >= deadline:
                raise ServerStartError(_failure(server, f"did not answer within {timeout:g} s"))
            await asyncio.sleep(_POLL_INTERVAL_S)


def _failure(server: ServerProcess, what: str) -> str:
    return f"homeserver process {what}; log {server.log_path}:\n{server.log()[-_LOG_TAIL_CHARS:]}"


@asynccontextmanager
async def running_server(
    command: Sequence[str],
    *,
    port: int,
    log_path: Path,
    cwd: Path = REPO_ROOT,
    env: Mapping[str, str] | None = None,
    ready_timeout: float = READY_TIMEOUT_S,
) -> AsyncIterator[ServerProcess]:
    """`start_server_process`, killing the process when the block exits."""
    server = await start_server_process(
        command, port=port, log_path=log_path, cwd=cwd, env=env, ready_timeout=ready_timeout
    )
    try:
        yield server
    finally:
        await server.kill()
