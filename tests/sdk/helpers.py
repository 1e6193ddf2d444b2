"""Helpers for the SDK's live tests: registered clients and waiting on sync-driven conditions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from sdk.client import AsyncClient
from sdk.store import Store
from tests.waiting import PATIENCE_S
from tests.waiting import wait_for as wait_for  # re-exported for the live tests

PASSWORD = "correct horse battery staple"

MakeClient = Callable[..., Awaitable[AsyncClient]]


@asynccontextmanager
async def client_factory(url: str) -> AsyncIterator[MakeClient]:
    """Yields `make(name, store=None)`: a client registered as `name`; all closed on exit."""
    clients: list[AsyncClient] = []

    async def make(name: str, *, store: Store | None = None) -> AsyncClient:
        client = AsyncClient(url, store=store)
        clients.append(client)
        await client.register(name, PASSWORD, device_name=f"{name}'s test device")
        return client

    try:
        yield make
    finally:
        for client in clients:
            await client.close()


async def sync_until(
    client: AsyncClient,
    done: Callable[[], bool],
    *,
    timeout_ms: int = 2000,
    patience_s: float = PATIENCE_S,
) -> None:
    """Sync (long-polling `timeout_ms` each time) until `done()` holds; fail after `patience_s`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience_s
    while not done():
        assert loop.time() < deadline, "condition never met in sync"
        await client.sync(timeout_ms=timeout_ms)
