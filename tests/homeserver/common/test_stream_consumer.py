"""The stream-following loop: batches until nothing is new, retries a failing batch, wakes up."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from homeserver.services.common.stream_consumer import RETRY_SECONDS, follow_stream
from tests.homeserver.fake_clock import FakeClock
from tests.waiting import wait_for


class Consumer:
    """Processes queued numbers one per batch; the first `failures` batches raise."""

    def __init__(self, failures: int = 0) -> None:
        self.queue: list[int] = []
        self.done: list[int] = []
        self.failures = failures
        self.wake = asyncio.Event()

    async def process_pending(self) -> int:
        self.wake.clear()
        if self.failures:
            self.failures -= 1
            raise RuntimeError("storage unavailable")
        if not self.queue:
            return 0
        self.done.append(self.queue.pop(0))
        return 1


async def _running(consumer: Consumer, clock: FakeClock) -> asyncio.Task[None]:
    return asyncio.create_task(
        follow_stream("test", consumer.process_pending, consumer.wake, clock, lambda: 0)
    )


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_processes_every_batch_then_waits_for_a_wake_up() -> None:
    consumer = Consumer()
    consumer.queue.extend([1, 2, 3])
    task = await _running(consumer, FakeClock())
    try:
        await wait_for(lambda: consumer.done == [1, 2, 3])
        consumer.queue.append(4)
        consumer.wake.set()
        await wait_for(lambda: consumer.done == [1, 2, 3, 4])
    finally:
        await _stop(task)


async def test_a_failing_batch_is_logged_and_retried(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    consumer = Consumer(failures=1)
    consumer.queue.append(7)
    task = await _running(consumer, clock)
    try:
        await wait_for(lambda: clock.sleeping == 1)
        assert consumer.done == []
        assert any(r.levelno == logging.ERROR for r in caplog.records)
        clock.advance(int(RETRY_SECONDS * 1000))
        await wait_for(lambda: consumer.done == [7])
        assert not task.done()
    finally:
        await _stop(task)
