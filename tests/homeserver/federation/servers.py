"""Several live Tessera servers federating on loopback, for federation tests.

`federation_of(...)` starts one app per server name (`hs1.test`, `hs2.test`, ...), each with
its own database on the chosen backend, a plain client listener and a TLS federation listener
whose certificate comes from one `TestCA`. Every server trusts that CA
(`ca_certificates_path`), may reach 127.0.0.0/8 (`ip_range_allowlist`) and finds the others
through `resolve_overrides`; the federation sockets are bound before any config is made, so
each server knows the others' ports without a race. `FederatedServer.restart` stops a server
and starts it again on the same database, data directory and federation port.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import aiohttp
import asyncpg
from aiohttp import web
from yarl import URL

from core.errors import JsonDict
from core.signing import SigningKey
from federation.x_matrix import authorization_header, sign_request
from homeserver.app import SIGNING_KEY
from homeserver.app.federation_listener import federation_site
from homeserver.config import Config
from homeserver.config_federation import FederationConfig
from tests.conftest import POSTGRES_ADMIN_URL, LiveServer, make_config, start_server
from tests.federation.tls import IssuedCert, TestCA


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    return sock


@dataclass
class FederatedServer:
    """One server of a test federation."""

    name: str
    config: Config
    live: LiveServer
    runner: web.AppRunner
    ca: TestCA
    running: bool = True

    @property
    def url(self) -> str:
        """The client API base URL (plain HTTP)."""
        return self.live.url

    @property
    def federation_port(self) -> int:
        """The TLS federation listener's port."""
        return self.config.federation.port

    @property
    def federation_url(self) -> str:
        """The federation listener's base URL (connect with `request`, which sets SNI)."""
        return f"https://127.0.0.1:{self.federation_port}"

    @property
    def signing_key(self) -> SigningKey:
        """The server's current signing key."""
        return self.live.app[SIGNING_KEY]

    async def stop(self) -> None:
        """Stop serving (idempotent)."""
        if self.running:
            self.running = False
            await self.runner.cleanup()

    async def restart(self) -> None:
        """Stop, then start again on the same database, files and federation port."""
        await self.stop()
        self.live, self.runner = await _start(self.config, _bound(self.federation_port))
        self.running = True

    async def request(
        self,
        http: aiohttp.ClientSession,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        body: JsonDict | None = None,
    ) -> tuple[int, JsonDict]:
        """A raw request to the federation listener, with `Host` and SNI naming the server."""
        all_headers = {"Host": self.name, **(headers or {})}
        async with http.request(
            method,
            URL(self.federation_url + path, encoded=True),  # sent exactly as signed
            json=body,
            headers=all_headers,
            ssl=self.ca.client_context(),
            server_hostname=self.name,
        ) as resp:
            return resp.status, await resp.json(content_type=None)


def signed_headers(
    key: SigningKey,
    origin: str,
    destination: str,
    method: str,
    uri: str,
    content: JsonDict | None = None,
) -> dict[str, str]:
    """The `Authorization` header of a request signed by `origin` with `key`."""
    auth = sign_request(key, method, uri, origin, destination, content)
    return {"Authorization": authorization_header(auth)}


def _bound(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


async def _start(config: Config, sock: socket.socket) -> tuple[LiveServer, web.AppRunner]:
    live, runner = await start_server(config)
    try:
        site = federation_site(runner, config, sock)
        assert site is not None
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return live, runner


@asynccontextmanager
async def _databases(backend: str, tmp_path: Path, count: int) -> AsyncIterator[list[str]]:
    if backend == "sqlite":
        yield [f"sqlite:///{tmp_path / f'hs{i + 1}.db'}" for i in range(count)]
        return
    names = [f"tessera_fed_{secrets.token_hex(6)}" for _ in range(count)]
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        for name in names:
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield [f"{base}/{name}" for name in names]
    finally:
        admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
        try:
            for name in names:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def federation_config(
    name: str,
    database_url: str,
    data_dir: Path,
    ca: TestCA,
    port: int,
    peers: dict[str, str],
    cert: IssuedCert | None = None,
) -> Config:
    """The config of one test server: federation on, TLS from `ca` (a certificate for `name`
    unless `cert` is given), loopback allowed."""
    cert = cert or ca.issue(name)
    federation = FederationConfig(
        enabled=True,
        bind="127.0.0.1",
        port=port,
        tls_certificate_path=cert.cert_path,
        tls_private_key_path=cert.key_path,
        ca_certificates_path=ca.ca_path,
        ip_range_allowlist=("127.0.0.0/8",),
        resolve_overrides=peers,
    )
    return replace(make_config(database_url, data_dir), server_name=name, federation=federation)


@asynccontextmanager
async def federation_of(
    backend: str, tmp_path: Path, names: Sequence[str] = ("hs1.test", "hs2.test")
) -> AsyncIterator[list[FederatedServer]]:
    """Live servers named `names` federating with each other on `backend`; stopped on exit."""
    ca = TestCA(tmp_path / "ca")
    sockets = [_listening_socket() for _ in names]
    peers = {n: f"127.0.0.1:{s.getsockname()[1]}" for n, s in zip(names, sockets, strict=True)}
    async with AsyncExitStack() as stack:
        urls = await stack.enter_async_context(_databases(backend, tmp_path, len(names)))
        servers: list[FederatedServer] = []
        for name, url, sock in zip(names, urls, sockets, strict=True):
            port = sock.getsockname()[1]
            config = federation_config(name, url, tmp_path / name, ca, port, peers)
            live, runner = await _start(config, sock)
            server = FederatedServer(name, config, live, runner, ca)
            stack.push_async_callback(server.stop)
            servers.append(server)
        yield servers


@asynccontextmanager
async def localhost_server(
    backend: str, tmp_path: Path, ca: TestCA, cert: IssuedCert
) -> AsyncIterator[FederatedServer]:
    """One live server named `localhost:<its federation port>`, stopped on exit.

    Other servers (Synapse too) reach it by its name alone: an explicit port means a direct
    connection to that port, with `localhost` for SNI, so `cert` must be valid for `localhost`.
    """
    sock = _listening_socket()
    port = sock.getsockname()[1]
    name = f"localhost:{port}"
    async with _databases(backend, tmp_path, 1) as (url,):
        config = federation_config(name, url, tmp_path / "tessera", ca, port, {}, cert)
        live, runner = await _start(config, sock)
        server = FederatedServer(name, config, live, runner, ca)
        try:
            yield server
        finally:
            await server.stop()
