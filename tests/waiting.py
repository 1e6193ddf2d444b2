"""Waiting in tests on a condition rather than for a fixed time.

Live tests wait for what a background task or another client does; `wait_for` polls the
condition itself with a generous deadline (a slow machine only makes it take longer), and
the test's assertions come after it, untimed.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from core.errors import JsonDict
from homeserver.api.http import SERVICES
from tests.conftest import LiveServer

PATIENCE_S = 60.0
# A long poll that outlasts PATIENCE_S: a test waiting on it sees only a wake-up, never its timeout.
LONG_POLL_MS = 120_000
_INTERVAL_S = 0.02


async def wait_for(
    condition: Callable[[], bool | Awaitable[bool]],
    *,
    timeout_s: float = PATIENCE_S,
    what: str = "condition",
) -> None:
    """Poll `condition` (plain or async) until it holds; fail after `timeout_s` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"{what} not reached within {timeout_s} s")
        await asyncio.sleep(_INTERVAL_S)


class Syncing(Protocol):
    """A test client that long-polls `/sync`."""

    user_id: str

    async def sync(self, since: str | None = None, timeout_ms: int = 0) -> Any:
        """One `/sync` request; the response body."""


async def sync_until(
    client: Syncing,
    found: Callable[[JsonDict], Any],
    what: str = "the expected change",
    *,
    since: str | None = None,
    timeout_s: float = PATIENCE_S,
) -> JsonDict:
    """Long-poll `/sync` from `since` until `found` holds for a response, which is returned;
    fail after `timeout_s` seconds however many responses came (a busy room answers often)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        body: JsonDict = await client.sync(since, timeout_ms=1000)
        since = body["next_batch"]
        if found(body):
            return body
        if loop.time() > deadline:
            raise AssertionError(f"{what} never reached {client.user_id}'s sync")


async def long_polls_parked(server: LiveServer, count: int = 1) -> None:
    """Wait until `count` `/sync` long polls are parked on the server, waiting to be woken."""
    notifier = server.app[SERVICES].notifier
    await wait_for(lambda: notifier.waiter_count() >= count, what=f"{count} parked long poll(s)")
