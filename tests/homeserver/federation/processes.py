"""Tessera servers as real OS processes federating on loopback, for tests that crash them.

`federated_processes(backend, tmp_path, names)` writes one YAML config per server name (its own
database on `backend`, data directory, client port, a TLS federation listener whose certificate
comes from one `TestCA`, that CA trusted for outbound requests, 127.0.0.0/8 allowed, the other
servers found through `resolve_overrides`) and runs `python -m homeserver serve --config FILE`
for each. `ServerNode.kill` is a real SIGKILL (no cleanup code runs); `start` runs the same
command again, on the same database, files and ports. Each process logs at INFO to one file,
kept across restarts, that tests may read.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tests.e2e.process import ServerProcess, free_port, start_server_process
from tests.federation.tls import TestCA
from tests.homeserver.federation.servers import _databases
from tests.waiting import wait_for

_GENEROUS = {"per_second": 1000, "burst": 10000}


@dataclass
class ServerNode:
    """One homeserver process of a test federation, which may be killed and started again."""

    name: str
    config_path: Path
    port: int
    federation_port: int
    log_path: Path
    process: ServerProcess | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """The client API base URL (plain HTTP)."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Run the server and wait until both of its listeners accept connections."""
        command = [sys.executable, "-m", "homeserver", "serve", "--config", str(self.config_path)]
        self.process = await start_server_process(command, port=self.port, log_path=self.log_path)
        await wait_for(self._federation_listening, what=f"{self.name}'s federation listener")

    async def kill(self) -> None:
        """SIGKILL the process: a crash, with nothing flushed or closed by the server."""
        if self.process is not None:
            await self.process.kill()

    def pause(self) -> None:
        """SIGSTOP the process: it holds its connections but answers nothing."""
        assert self.process is not None
        self.process.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT a paused process."""
        assert self.process is not None
        self.process.process.send_signal(signal.SIGCONT)

    def log(self) -> str:
        """Everything the server has logged, over all its runs."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    async def _federation_listening(self) -> bool:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", self.federation_port)
        except OSError:
            return False
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True


def _config(
    name: str, database: str, data_dir: Path, ca: TestCA, node: ServerNode, peers: dict[str, str]
) -> dict[str, object]:
    cert = ca.issue(name)
    return {
        "server_name": name,
        "bind": "127.0.0.1",
        "port": node.port,
        "data_dir": str(data_dir),
        "database": database,
        "enable_registration": True,
        "log_level": "INFO",
        "rate_limits": dict.fromkeys(
            ("login", "login_failures", "registration", "message", "join"), _GENEROUS
        ),
        "web_client": {"enabled": False},
        "federation": {
            "enabled": True,
            "bind": "127.0.0.1",
            "port": node.federation_port,
            "tls_certificate_path": str(cert.cert_path),
            "tls_private_key_path": str(cert.key_path),
            "ca_certificates_path": str(ca.ca_path),
            "ip_range_allowlist": ["127.0.0.0/8"],
            "resolve_overrides": peers,
        },
    }


@asynccontextmanager
async def federated_processes(
    backend: str, tmp_path: Path, names: Sequence[str] = ("hs1.test", "hs2.test")
) -> AsyncIterator[list[ServerNode]]:
    """Server processes named `names` federating with each other on `backend`, all running;
    every process is killed on exit."""
    ca = TestCA(tmp_path / "ca")
    nodes = [
        ServerNode(
            name=name,
            config_path=tmp_path / f"{name}.yaml",
            port=free_port(),
            federation_port=free_port(),
            log_path=tmp_path / f"{name}.log",
        )
        for name in names
    ]
    peers = {node.name: f"127.0.0.1:{node.federation_port}" for node in nodes}
    async with _databases(backend, tmp_path, len(nodes)) as urls:
        try:
            for node, url in zip(nodes, urls, strict=True):
                config = _config(node.name, url, tmp_path / node.name, ca, node, peers)
                node.config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
                await node.start()
            yield nodes
        finally:
            for node in nodes:
                await node.kill()  # a paused (SIGSTOP) process dies of SIGKILL too
