"""The loop of a consumer that follows a stream by position.

Consumers of persisted events (unread counts, the federation outbound feed) store the position
they have processed up to and read on from it, so they catch up after a restart and never depend
on having seen every signal. `follow_stream` runs one: it calls `process_pending` until a call
reads nothing, then waits for a wake-up (set by the persisted-event signal) or, as a safety net
for a lost wake-up, `idle_poll_seconds`. A batch that raises is logged and retried after
`retry_seconds`, so one bad run never stops the consumer. It returns only when cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Final

from homeserver.clock import Clock

logger = logging.getLogger(__name__)

IDLE_POLL_SECONDS: Final = 5.0
RETRY_SECONDS: Final = 1.0


async def follow_stream(
    name: str,
    process_pending: Callable[[], Awaitable[int]],
    wake: asyncio.Event,
    clock: Clock,
    position: Callable[[], object],
) -> None:
    """Process batches as they come until cancelled.

    Args:
        name: What the consumer is, for the log.
        process_pending: Handles one batch and returns how many items it read; it clears `wake`
            before reading so a wake-up during the batch is not lost.
        wake: Set when there may be something new.
        clock: Sleeps between retries.
        position: The consumer's current position, for the log.
    """
    while True:
        try:
            if await process_pending():
                continue
        except Exception:
            logger.exception("%s failed position=%s", name, position())
            await clock.sleep(RETRY_SECONDS)
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), IDLE_POLL_SECONDS)
