"""The transaction sender: batching, order, backoff, persistence and catch-up (on fakes)."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence

import pytest

from core.errors import JsonDict
from core.identifiers import ServerName
from federation.errors import FederationError
from federation.ports import PDU, NewOutbound, QueuedItem
from federation.sender import MAX_EDUS, MAX_PDUS, SenderSettings, TransactionSender
from tests.federation.helpers import TestClock

US = ServerName("us.test")
THEM = ServerName("them.test")


class MemoryQueue:
    """The `OutboundQueue` port in memory (survives a sender, like the database)."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, NewOutbound]] = []
        self.next_id = 1

    async def add(self, items: Sequence[NewOutbound], now_ms: int) -> None:
        for item in items:
            self.rows.append((self.next_id, item))
            self.next_id += 1

    async def pending(
        self, destination: ServerName, pdu_limit: int, edu_limit: int
    ) -> list[QueuedItem]:
        mine = [(i, it) for i, it in self.rows if it.destination == destination]
        pdus = [(i, it) for i, it in mine if it.kind == PDU][:pdu_limit]
        edus = [(i, it) for i, it in mine if it.kind != PDU][:edu_limit]
        return [QueuedItem(i, it.kind, it.payload) for i, it in sorted(pdus + edus)]

    async def remove(self, destination: ServerName, ids: Collection[int]) -> None:
        self.rows = [(i, it) for i, it in self.rows if i not in set(ids)]

    async def destinations(self) -> list[ServerName]:
        return sorted({it.destination for _, it in self.rows})

    async def pdu_count(self, destination: ServerName) -> int:
        return sum(1 for _, it in self.rows if it.destination == destination and it.kind == PDU)

    async def keep_latest_pdus(self, destination: ServerName) -> int:
        latest: dict[str | None, int] = {}
        for i, it in self.rows:
            if it.destination == destination and it.kind == PDU:
                latest[it.room_id] = i
        keep = set(latest.values())
        before = len(self.rows)
        self.rows = [
            (i, it)
            for i, it in self.rows
            if not (it.destination == destination and it.kind == PDU and i not in keep)
        ]
        return before - len(self.rows)


class Remote:
    """A destination that records transactions and can be down."""

    def __init__(self) -> None:
        self.up = True
        self.received: list[tuple[str, JsonDict]] = []
        self.attempts = 0
        self.arrived = asyncio.Event()

    async def put_json(self, destination: str, path: str, content: JsonDict) -> JsonDict:
        self.attempts += 1
        if not self.up:
            raise FederationError(destination, "cannot connect")
        self.received.append((path, content))
        self.arrived.set()
        return {"pdus": {}}

    def pdus(self) -> list[JsonDict]:
        return [pdu for _, txn in self.received for pdu in txn["pdus"]]


def _pdu(n: int, room: str = "!r:us.test") -> JsonDict:
    return {"room_id": room, "n": n}


async def _until(condition: object) -> None:
    for _ in range(2000):
        if callable(condition) and condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition not reached")


async def test_batches_respect_the_limits_and_keep_order() -> None:
    queue, remote, clock = MemoryQueue(), Remote(), TestClock()
    sender = TransactionSender(origin=US, queue=queue, transport=remote, clock=clock)
    remote.up = False  # queue everything first, so the batches are full
    await sender.start()
    for n in range(120):
        await sender.send_pdu([THEM, US], _pdu(n))
    for n in range(150):
        await sender.send_edu([THEM], "m.typing", {"n": n})
    await _until(lambda: remote.attempts >= 1)
    remote.up = True
    sender.retry_now(THEM)
    await _until(lambda: not queue.rows)
    await sender.close()
    assert [p["n"] for p in remote.pdus()] == list(range(120))
    assert all(
        len(t["pdus"]) <= MAX_PDUS and len(t["edus"]) <= MAX_EDUS for _, t in remote.received
    )
    edus = [e["content"]["n"] for _, t in remote.received for e in t["edus"]]
    assert edus == list(range(150))
    assert all(t["origin"] == US for _, t in remote.received)
    paths = [path for path, _ in remote.received]
    assert len(set(paths)) == len(paths)  # one transaction ID per transaction


async def test_failures_back_off_exponentially_up_to_the_cap() -> None:
    queue, remote, clock = MemoryQueue(), Remote(), TestClock()
    settings = SenderSettings(backoff_base_s=1.0, backoff_max_s=8.0)
    sender = TransactionSender(
        origin=US, queue=queue, transport=remote, clock=clock, settings=settings
    )
    remote.up = False
    await sender.start()
    await sender.send_pdu([THEM], _pdu(1))
    await _until(lambda: len(clock.slept) >= 6)
    assert clock.slept[:6] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert sender.failures(THEM) >= 6
    remote.up = True
    await _until(lambda: not queue.rows)
    await sender.close()
    assert remote.pdus() == [_pdu(1)]
    assert sender.failures(THEM) == 0
    # Retries of an unchanged batch reuse its transaction ID.
    assert len({path for path, _ in remote.received}) == 1


async def test_the_queue_survives_a_restart_of_the_sender() -> None:
    queue, remote, clock = MemoryQueue(), Remote(), TestClock()
    remote.up = False
    first = TransactionSender(origin=US, queue=queue, transport=remote, clock=clock)
    await first.start()
    for n in range(3):
        await first.send_pdu([THEM], _pdu(n))
    await _until(lambda: remote.attempts >= 1)
    await first.close()
    assert len(queue.rows) == 3
    remote.up = True
    second = TransactionSender(origin=US, queue=queue, transport=remote, clock=clock)
    await second.start()
    await _until(lambda: not queue.rows)
    await second.close()
    assert [p["n"] for p in remote.pdus()] == [0, 1, 2]


async def test_a_long_backlog_is_cut_to_the_latest_event_per_room() -> None:
    queue, remote, clock = MemoryQueue(), Remote(), TestClock()
    settings = SenderSettings(max_queued_pdus=10)
    sender = TransactionSender(
        origin=US, queue=queue, transport=remote, clock=clock, settings=settings
    )
    remote.up = False
    await sender.start()
    for n in range(30):
        await sender.send_pdu([THEM], _pdu(n, room="!a:us.test" if n % 2 else "!b:us.test"))
    await _until(lambda: remote.attempts >= 2)
    remote.up = True
    sender.retry_now(THEM)
    await _until(lambda: not queue.rows)
    await sender.close()
    # The batch in flight when the destination failed is still delivered, then the latest
    # event of each room; everything else is left for get_missing_events.
    delivered = [p["n"] for p in remote.pdus()]
    assert delivered[-2:] == [28, 29]
    assert len(delivered) < 30


async def test_a_refused_transaction_is_dropped_not_retried() -> None:
    queue, clock = MemoryQueue(), TestClock()

    class Refusing(Remote):
        async def put_json(self, destination: str, path: str, content: JsonDict) -> JsonDict:
            self.attempts += 1
            raise FederationError(destination, "status 400", status=400)

    remote = Refusing()
    sender = TransactionSender(origin=US, queue=queue, transport=remote, clock=clock)
    await sender.start()
    await sender.send_edu([THEM], "m.typing", {})
    await _until(lambda: not queue.rows)
    await sender.close()
    assert remote.attempts == 1


async def test_large_items_are_split_across_transactions() -> None:
    queue, remote, clock = MemoryQueue(), Remote(), TestClock()
    settings = SenderSettings(max_transaction_bytes=100_000)
    sender = TransactionSender(
        origin=US, queue=queue, transport=remote, clock=clock, settings=settings
    )
    remote.up = False
    await sender.start()
    for n in range(5):
        await sender.send_pdu([THEM], {**_pdu(n), "pad": "x" * 40_000})
    await _until(lambda: remote.attempts >= 1)
    remote.up = True
    sender.retry_now(THEM)
    await _until(lambda: not queue.rows)
    await sender.close()
    assert [p["n"] for p in remote.pdus()] == list(range(5))
    assert max(len(t["pdus"]) for _, t in remote.received) <= 2


def _items(*numbers: int) -> list[NewOutbound]:
    return [NewOutbound(THEM, PDU, _pdu(n), "!r:us.test") for n in numbers]


class GatedWrite:
    """The caller's durable write of items into `queue`, held until `release` is set."""

    def __init__(self, queue: MemoryQueue, items: list[NewOutbound]) -> None:
        self.queue = queue
        self.items = items
        self.release = asyncio.Event()
        self.fail = False

    async def __call__(self) -> list[int]:
        await self.release.wait()
        if self.fail:
            raise OSError("disk full")
        first = self.queue.next_id
        await self.queue.add(self.items, 0)
        return list(range(first, self.queue.next_id))


async def test_items_for_an_idle_destination_are_sent_while_they_are_written() -> None:
    queue, remote, clock = MemoryQueue(), Remote(), TestClock()
    sender = TransactionSender(origin=US, queue=queue, transport=remote, clock=clock)
    await sender.start()
    write = GatedWrite(queue, _items(0, 1, 2))
    queuing = asyncio.create_task(sender.enqueue_ahead(write.items, write))
    await _until(lambda: remote.received)
    assert not queue.rows  # sent before the write committed
    write.release.set()
    await queuing
    await _until(lambda: not queue.rows)  # dequeued once written
    await sender.send_pdu([THEM], _pdu(3))
    await _until(lambda: not queue.rows and len(remote.pdus()) == 4)
    await sender.close()
    assert [p["n"] for p in remote.pdus()] == [0, 1, 2, 3]


async def test_a_destination_with_a_backlog_gets_new_items_after_it() -> None:
    queue, remote, clock = MemoryQueue(), Remote(), TestClock()
    remote.up = False
    sender = TransactionSender(origin=US, queue=queue, transport=remote, clock=clock)
    await sender.start()
    await sender.send_pdu([THEM], _pdu(0))
    await _until(lambda: remote.attempts >= 1)
    write = GatedWrite(queue, _items(1))
    queuing = asyncio.create_task(sender.enqueue_ahead(write.items, write))
    await _until(lambda: remote.attempts >= 3)
    remote.up = True
    sender.retry_now(THEM)
    await _until(lambda: remote.received)
    assert [p["n"] for p in remote.pdus()] == [0]  # nothing sent ahead of the backlog
    write.release.set()
    await queuing
    await _until(lambda: not queue.rows)
    await sender.close()
    assert [p["n"] for p in remote.pdus()] == [0, 1]


async def test_items_sent_ahead_whose_write_fails_are_sent_again_once_written() -> None:
    queue, remote, clock = MemoryQueue(), Remote(), TestClock()
    sender = TransactionSender(origin=US, queue=queue, transport=remote, clock=clock)
    await sender.start()
    write = GatedWrite(queue, _items(0))
    write.fail = True
    write.release.set()
    with pytest.raises(OSError, match="disk full"):
        await sender.enqueue_ahead(write.items, write)
    write.fail = False  # the caller writes them again (the feed retries its batch)
    await sender.enqueue_ahead(write.items, write)
    await _until(lambda: not queue.rows and remote.attempts >= 2)
    await sender.close()
    assert [p["n"] for p in remote.pdus()] == [0, 0]  # at least once; the remote dedupes


async def test_items_sent_ahead_to_a_failing_destination_stay_queued_and_are_retried() -> None:
    queue, remote, clock = MemoryQueue(), Remote(), TestClock()
    remote.up = False
    sender = TransactionSender(origin=US, queue=queue, transport=remote, clock=clock)
    await sender.start()
    write = GatedWrite(queue, _items(0, 1))
    write.release.set()
    await sender.enqueue_ahead(write.items, write)
    await _until(lambda: remote.attempts >= 2)
    assert len(queue.rows) == 2
    remote.up = True
    sender.retry_now(THEM)
    await _until(lambda: not queue.rows)
    await sender.close()
    assert [p["n"] for p in remote.pdus()] == [0, 1]


async def test_the_runner_goes_on_while_answered_items_are_removed() -> None:
    class SlowRemoval(MemoryQueue):
        def __init__(self) -> None:
            super().__init__()
            self.release = asyncio.Event()

        async def remove(self, destination: ServerName, ids: Collection[int]) -> None:
            await self.release.wait()
            await super().remove(destination, ids)

    queue, remote, clock = SlowRemoval(), Remote(), TestClock()
    sender = TransactionSender(origin=US, queue=queue, transport=remote, clock=clock)
    await sender.start()
    await sender.send_pdu([THEM], _pdu(0))
    await _until(lambda: len(remote.pdus()) == 1)
    await sender.send_pdu([THEM], _pdu(1))  # item 0 is answered but still queued
    write = GatedWrite(queue, _items(2))
    write.release.set()
    await sender.enqueue_ahead(write.items, write)
    await _until(lambda: len(remote.pdus()) == 3)
    assert len(queue.rows) == 3  # none removed yet, none sent twice
    queue.release.set()
    await _until(lambda: not queue.rows)
    await sender.close()
    assert [p["n"] for p in remote.pdus()] == [0, 1, 2]
