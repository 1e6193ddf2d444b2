"""Closing the event writer while a batch is being written: no sender is left waiting.

The store here holds each batch until the test releases it, so the test can close the writer
at the moment a batch has left the queue but is not yet committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from core.errors import MatrixError
from core.events import Pdu
from core.room_versions import V11
from homeserver.services.rooms.event_writer import EventWriter
from homeserver.storage.rooms.events import EventStore, PendingEvent
from tests.homeserver.fake_clock import FakeClock, settle
from tests.waiting import wait_for


class _HeldStore(EventStore):
    """Persists nothing: each batch waits until `release` is set, then gets made-up positions."""

    def __init__(self) -> None:  # no database behind it
        self.batches: list[list[str]] = []
        self.release = asyncio.Event()
        self._next = 0

    async def persist_events(
        self, events: Sequence[PendingEvent], now_ms: int
    ) -> list[tuple[int, int]]:
        self.batches.append([e.pdu.event_id for e in events])
        await self.release.wait()
        self._next += len(events)
        first = self._next - len(events) + 1
        return [(first + i, 1) for i in range(len(events))]


async def _reported(stream: int, event: PendingEvent) -> None:
    return None


def _event(n: int) -> PendingEvent:
    return PendingEvent(Pdu({"type": "m.room.message"}, f"$event{n}", V11), None, None)


async def _writes_in_flight(
    store: _HeldStore, writer: EventWriter, *, queued: bool
) -> list[asyncio.Task[tuple[int, int]]]:
    """Three writes taken as one batch (the queue is then empty), and maybe a fourth behind."""
    writes = [asyncio.create_task(writer.write(_event(n))) for n in range(3)]
    await wait_for(lambda: len(store.batches) == 1, what="the batch reaching the store")
    if queued:
        writes.append(asyncio.create_task(writer.write(_event(3))))
    await settle()
    assert store.batches == [["$event0", "$event1", "$event2"]]
    return writes


@pytest.mark.parametrize("queued", [False, True], ids=["queue-empty", "one-queued"])
async def test_close_lets_the_batch_in_flight_finish(queued: bool) -> None:
    store = _HeldStore()
    writer = EventWriter(store, FakeClock(), _reported)
    writes = await _writes_in_flight(store, writer, queued=queued)
    closing = asyncio.create_task(writer.close())
    await settle()
    assert not closing.done()  # waiting for the batch, not cancelling it
    store.release.set()
    await closing
    assert [await write for write in writes] == [(n, 1) for n in range(1, len(writes) + 1)]


@pytest.mark.parametrize("queued", [False, True], ids=["queue-empty", "one-queued"])
async def test_close_answers_every_waiter_when_the_batch_never_finishes(queued: bool) -> None:
    store = _HeldStore()
    writer = EventWriter(store, FakeClock(), _reported)
    writes = await _writes_in_flight(store, writer, queued=queued)
    await writer.close(patience_s=0)
    await settle()
    assert all(write.done() for write in writes)  # nobody is left waiting
    for write in writes:
        with pytest.raises(MatrixError) as caught:
            await write
        assert caught.value.status == 503
