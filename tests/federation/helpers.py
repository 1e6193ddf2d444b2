"""Test doubles and servers for the federation library tests.

- `TestClock`: wall and monotonic time that move only when told; `sleep` records the delay and
  yields once, so backoff is observable without waiting.
- `MemoryKeyStore`: the `KeyStore` port in a dict.
- `StaticResolver`: an aiohttp resolver mapping `(host, port)` to a loopback address and port,
  so names like `origin.test:443` reach local TLS servers.
- `tls_server`: runs an aiohttp app with TLS on 127.0.0.1 and a free port.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Collection, Mapping
from contextlib import asynccontextmanager

from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from core.errors import JsonDict
from core.identifiers import ServerName
from core.signing import SignatureError, VerifyKey, signed_key_ids, verify_json_signature
from federation.ports import StoredServerKey
from tests.federation.tls import TestCA

START_MS = 1_700_000_000_000


class TestClock:
    """A clock for tests: `advance` moves it; `sleep` only records."""

    __test__ = False

    def __init__(self, start_ms: int = START_MS) -> None:
        self.now_ms = start_ms
        self.slept: list[float] = []

    def time_ms(self) -> int:
        return self.now_ms

    def monotonic(self) -> float:
        return self.now_ms / 1000

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        await asyncio.sleep(0)

    def advance(self, ms: int) -> None:
        self.now_ms += ms


class MemoryKeyStore:
    """The `KeyStore` port in memory; counts writes."""

    def __init__(self) -> None:
        self.keys: dict[tuple[str, str], StoredServerKey] = {}
        self.puts = 0

    async def get_server_keys(
        self, server_name: ServerName, key_ids: Collection[str]
    ) -> Mapping[str, StoredServerKey]:
        return {k: self.keys[(server_name, k)] for k in key_ids if (server_name, k) in self.keys}

    async def put_server_keys(self, keys: Collection[StoredServerKey]) -> None:
        self.puts += 1
        for key in keys:
            old = self.keys.get((key.server_name, key.key_id))
            if old is None or old.valid_until_ts < key.valid_until_ts:
                self.keys[(key.server_name, key.key_id)] = key


class StaticResolver(AbstractResolver):
    """Resolves `(host, port)` pairs from a map; other names do not exist."""

    def __init__(self, targets: Mapping[tuple[str, int], tuple[str, int]]) -> None:
        self.targets = dict(targets)
        self.asked: list[tuple[str, int]] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append((host, port))
        target = self.targets.get((host, port))
        if target is None:
            raise OSError(f"no address for {host}:{port}")
        return [
            ResolveResult(
                hostname=host, host=target[0], port=target[1], family=family, proto=0, flags=0
            )
        ]

    async def close(self) -> None:
        return None


@asynccontextmanager
async def tls_server(app: web.Application, ca: TestCA, *names: str) -> AsyncIterator[int]:
    """Serve `app` over TLS on 127.0.0.1 with a certificate for `names`; yields the port."""
    context = ca.issue(*names).server_context()
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    server = site._server
    assert server is not None
    port: int = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield port
    finally:
        await runner.cleanup()


class KnownKeys:
    """A signature verifier that knows one key per server (no fetching)."""

    def __init__(self, keys: Mapping[str, VerifyKey]) -> None:
        self.keys = dict(keys)

    async def verify_json_for_server(
        self, server_name: ServerName, obj: JsonDict, at_ts: int
    ) -> None:
        key_ids = signed_key_ids(obj, server_name)
        key = self.keys.get(server_name)
        if not key_ids or key is None or key_ids != [key.key_id]:
            raise SignatureError("no known key")
        verify_json_signature(obj, server_name, key.key_id, key)
