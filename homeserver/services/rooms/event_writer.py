"""Group commit for new events: whatever is waiting when the writer is free goes into one
transaction, so many rooms share one disk flush.

After each commit the writer reports every event, in stream order, to `on_committed` before it
releases the senders: a `/sync` that sees position N has therefore been told about every event
up to N. If a batch fails, its events are retried one by one so that one bad event cannot fail
the others. A report that raises is logged and never keeps the batch's senders waiting: their
events are committed, so they get their positions. `close` lets the writer finish what it holds
(queued or in flight) for a bounded time, then answers every sender still waiting with an
error: no sender waits forever at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from core.errors import M_UNKNOWN, MatrixError
from homeserver.clock import Clock
from homeserver.storage.rooms.events import EventStore, PendingEvent

logger = logging.getLogger(__name__)

MAX_BATCH = 256
CLOSE_PATIENCE_S = 30.0  # how long `close` lets the writer finish what it holds

Committed = Callable[[int, PendingEvent], Awaitable[None]]


@dataclass(slots=True)
class _Waiting:
    event: PendingEvent
    future: asyncio.Future[tuple[int, int]]


class EventWriter:
    """Persists events in batches from one background task."""

    def __init__(self, store: EventStore, clock: Clock, on_committed: Committed) -> None:
        self._store = store
        self._clock = clock
        self._on_committed = on_committed
        self._queue: list[_Waiting] = []
        self._in_flight: list[_Waiting] = []  # the batch being written, sliced off the queue
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def write(self, event: PendingEvent) -> tuple[int, int]:
        """Persist `event`; returns its stream position and the state group after it."""
        future: asyncio.Future[tuple[int, int]] = asyncio.get_running_loop().create_future()
        self._queue.append(_Waiting(event, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="event-writer")
        self._wakeup.set()
        # Shielded: a cancelled sender must not abandon an event the writer already holds.
        return await asyncio.shield(future)

    async def close(self, patience_s: float = CLOSE_PATIENCE_S) -> None:
        """Stop the writer once it has written what it holds, queued or in flight.

        If that takes longer than `patience_s`, the writer is cancelled and every sender still
        waiting is answered with a 503 `MatrixError` (its event may or may not be stored).
        """
        task, self._task = self._task, None
        if task is None:
            return
        if (self._queue or self._in_flight) and not task.done():
            self._idle.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), patience_s)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        abandoned, self._in_flight, self._queue = self._in_flight + self._queue, [], []
        for waiting in abandoned:
            if not waiting.future.done():
                logger.warning("event writer closed event_id=%s", waiting.event.pdu.event_id)
                waiting.future.set_exception(
                    MatrixError(M_UNKNOWN, "The server is shutting down", status=503)
                )

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                self._in_flight = batch
                await self._write_batch(batch)
                self._in_flight = []
            self._idle.set()

    async def _write_batch(self, batch: list[_Waiting]) -> None:
        now = self._clock.time_ms()
        try:
            results = await self._store.persist_events([w.event for w in batch], now)
        except Exception:
            logger.exception("event batch failed size=%s", len(batch))
            if len(batch) == 1:
                self._fail(batch[0])
                return
            for waiting in batch:
                await self._write_batch([waiting])
            return
        for waiting, (stream, group) in zip(batch, results, strict=True):
            try:
                await self._on_committed(stream, waiting.event)
            except Exception:
                logger.exception(
                    "committed event report failed event_id=%s", waiting.event.pdu.event_id
                )
            if not waiting.future.done():
                waiting.future.set_result((stream, group))

    def _fail(self, waiting: _Waiting) -> None:
        logger.error("event not persisted event_id=%s", waiting.event.pdu.event_id)
        if not waiting.future.done():
            waiting.future.set_exception(RuntimeError("event could not be persisted"))
